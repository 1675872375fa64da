"""The progress line on stderr for anything long, rewritten in place on a terminal: a counter
(`replay: 120/400 messages`) or a wait's free text (`draining: 12/300 s 40 waiting`)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

# Rewriting the line more often than this only costs terminal time.
MIN_INTERVAL_SECONDS = 0.2
# Into a log (not a terminal) a changing line is written at most this often.
LOG_INTERVAL_SECONDS = 10.0


def counted(count: int, noun: str) -> str:
    """`1 request`, `2 requests`: a count with its noun in the right number (nouns that take an s)."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class ProgressLine:
    """One line that says how far something long has come: `show()` as it moves, `done()` at the end.

    On a terminal the line is rewritten in place (at most every MIN_INTERVAL_SECONDS). Into a file or a pipe
    (CI logs) a changing line is written at most every `log_every` seconds — or never, with None, so that only
    `done()`'s line is logged. Quiet when `stream` is None.
    """

    def __init__(
        self,
        stream: TextIO | None = sys.stderr,
        log_every: float | None = LOG_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._live = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self._log_every = log_every
        self._clock = clock
        self._last = ""
        self._drawn_at = float("-inf")

    def show(self, text: str) -> None:
        if self._stream is None or text == self._last:
            return
        every = MIN_INTERVAL_SECONDS if self._live else self._log_every
        now = self._clock()
        if every is None or now - self._drawn_at < every:
            return
        self._last, self._drawn_at = text, now
        self._stream.write(f"\r{text}\033[K" if self._live else text + "\n")
        self._stream.flush()

    def done(self, text: str) -> None:
        if self._stream is None:
            return
        self._stream.write(f"\r{text}\033[K\n" if self._live else text + "\n")
        self._stream.flush()
        self._last, self._drawn_at = "", float("-inf")


class Progress:
    """A count of work done, shown on a ProgressLine as `label: done/total note`: `update()` as work advances,
    `finish()` at the end. Into a log only the final count is written, so logs do not fill with counts."""

    def __init__(self, label: str, total: int | None = None, stream: TextIO | None = sys.stderr) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._line = ProgressLine(stream, log_every=None)

    def update(self, advance: int = 1, note: str = "") -> None:
        self.done += advance
        self._line.show(self._text(note))

    def finish(self, note: str = "") -> None:
        self._line.done(self._text(note))

    def _text(self, note: str) -> str:
        count = f"{self.done}/{self.total}" if self.total is not None else str(self.done)
        return f"{self.label}: {count}{f' {note}' if note else ''}"
