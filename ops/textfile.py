"""Reading an operator's input file: its UTF-8 text, or one line that says what is wrong with it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ops.errors import OpsError


def read_text(source: str, expected: str, read: Callable[[], str] | None = None) -> str:
    """The text of the file `source` (or what `read` returns, named `source`); `expected` says what the file
    should be, for the message when it is a directory."""
    try:
        return read() if read else Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OpsError(f"{source}: file not found") from None
    except IsADirectoryError:
        raise OpsError(f"{source}: is a directory, expected {expected}") from None
    except UnicodeDecodeError:
        raise OpsError(f"{source}: not UTF-8 text") from None
