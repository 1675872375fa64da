"""The consumer's circuit breaker: once the store fails, stop calling it except for one probe per interval.

Each execution environment keeps its own breaker, so the requests a failing store receives are bounded by the
mapping's maximum concurrency × one probe per interval, however many events arrive or wait. Closed: every
batch is written. Open: batches are parked without a store call until the probe interval has passed; the next
batch is then tried for real (half-open) and its result closes or re-opens the breaker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import Enum


class Transition(Enum):
    NONE = "none"
    OPENED = "opened"
    CLOSED = "closed"


class Breaker:
    def __init__(self, probe_interval_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._probe_interval = probe_interval_seconds
        self._clock = clock
        self._open = False
        self._next_probe = 0.0
        # The local stack runs several execution environments as threads of one process: one lock keeps
        # a transition whole.
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self._open

    def allows_store(self) -> bool:
        """True when this batch may call the store: the breaker is closed, or a probe is due (which then
        takes the interval's one probe)."""
        with self._lock:
            if not self._open:
                return True
            now = self._clock()
            if now < self._next_probe:
                return False
            self._next_probe = now + self._probe_interval
            return True

    def record(self, *, stored_all: bool) -> Transition:
        """The outcome of a batch that called the store."""
        with self._lock:
            if stored_all:
                was_open, self._open = self._open, False
                return Transition.CLOSED if was_open else Transition.NONE
            was_open, self._open = self._open, True
            self._next_probe = self._clock() + self._probe_interval
            return Transition.NONE if was_open else Transition.OPENED
