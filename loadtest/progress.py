"""One progress line on stderr for long waits, rewritten in place on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

# Into a log (not a terminal) a changing line is written at most this often.
LOG_INTERVAL_SECONDS = 10.0


class ProgressLine:
    def __init__(self, stream: TextIO | None = sys.stderr) -> None:
        self._stream = stream
        self._live = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self._last = ""
        self._logged_at = float("-inf")

    def show(self, text: str) -> None:
        """On a terminal: rewrite the line. Elsewhere (CI logs): a line every LOG_INTERVAL_SECONDS."""
        if self._stream is None or text == self._last:
            return
        self._last = text
        if self._live:
            self._stream.write(f"\r{text}\033[K")
        else:
            now = time.monotonic()
            if now - self._logged_at < LOG_INTERVAL_SECONDS:
                return
            self._logged_at = now
            self._stream.write(text + "\n")
        self._stream.flush()

    def done(self, text: str) -> None:
        if self._stream is None:
            return
        self._stream.write((f"\r{text}\033[K\n") if self._live else text + "\n")
        self._stream.flush()
        self._last = ""
