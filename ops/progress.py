"""A counter line on stderr for anything long: `replay: 120/400 messages`, rewritten in place."""

from __future__ import annotations

import sys
import time
from typing import TextIO

# Rewriting the line more often than this only costs terminal time.
MIN_INTERVAL_SECONDS = 0.2


def counted(count: int, noun: str) -> str:
    """`1 request`, `2 requests`: a count with its noun in the right number (nouns that take an s)."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class Progress:
    """`update()` as work advances, `finish()` at the end.

    On a terminal the line is rewritten in place; into a file or a pipe only the final count is written,
    so logs do not fill with carriage returns. Quiet when `stream` is None.
    """

    def __init__(self, label: str, total: int | None = None, stream: TextIO | None = sys.stderr) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream
        self._live = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self._last_draw = 0.0

    def update(self, advance: int = 1, note: str = "") -> None:
        self.done += advance
        now = time.monotonic()
        if self._live and self._stream is not None and now - self._last_draw >= MIN_INTERVAL_SECONDS:
            self._stream.write(f"\r{self._line(note)}\033[K")
            self._stream.flush()
            self._last_draw = now

    def finish(self, note: str = "") -> None:
        if self._stream is None:
            return
        prefix = "\r" if self._live else ""
        self._stream.write(f"{prefix}{self._line(note)}{chr(27) + '[K' if self._live else ''}\n")
        self._stream.flush()

    def _line(self, note: str) -> str:
        count = f"{self.done}/{self.total}" if self.total is not None else str(self.done)
        return f"{self.label}: {count}{f' {note}' if note else ''}"
