"""What several e2e modules drive the local stack with: a paced background loop, and a client trickling events."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable

from tests.local_stack_harness import HarnessStack


def drained(status: dict, queues: tuple[str, ...] = ("ingest", "dead_letter")) -> bool:
    """The `queues` empty (nothing visible, nothing in flight) and nothing parked: whatever the stack accepted is
    stored or archived by now (events the store did not take wait in S3, not in the queue)."""
    depths = status["queues"]
    idle = all(depths[name]["visible"] == 0 and depths[name]["in_flight"] == 0 for name in queues)
    return idle and status["parked_objects"] == 0


class Background(threading.Thread):
    """Calls `step` every `interval` seconds until stopped or `limit` seconds have passed; `stop` re-raises
    what a step raised."""

    def __init__(self, step: Callable[[], None], interval: float, limit: float) -> None:
        super().__init__(daemon=True)
        self._step = step
        self._interval = interval
        self._deadline = time.monotonic() + limit
        self._stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        next_at = time.monotonic()
        try:
            while not self._stop_event.is_set() and time.monotonic() < self._deadline:
                self._step()
                # a steady pace; a late step delays the next one rather than crowding them
                next_at = max(next_at + self._interval, time.monotonic())
                self._stop_event.wait(next_at - time.monotonic())
        except BaseException as error:  # reported by stop()
            self.error = error

    def stop(self) -> None:
        self._stop_event.set()
        if self.ident is not None:  # started
            self.join(timeout=30)
        if self.error is not None:
            raise AssertionError(f"background step failed: {self.error!r}") from self.error


def stop_all(*threads: Background) -> None:
    """Stop every thread, then re-raise the first failure of a step."""
    failures = []
    for thread in threads:
        try:
            thread.stop()
        except AssertionError as failure:
            failures.append(failure)
    if failures:
        raise failures[0]


class Trickle:
    """Posts one small valid event per step and keeps what the API answered."""

    def __init__(self, stack: HarnessStack) -> None:
        self._stack = stack
        self.accepted: list[tuple[float, str]] = []  # (time posted, id)
        self.statuses: Counter[int] = Counter()

    def step(self) -> None:
        posted = time.time()
        response = self._stack.post_events({"kind": "alarms-e2e", "n": len(self.statuses)})
        self.statuses[response.status_code] += 1
        if response.status_code == 202:
            self.accepted += [(posted, event_id) for event_id in response.json()["ids"]]

    def ids(self, before: float = math.inf) -> list[str]:
        return [event_id for posted, event_id in self.accepted if posted < before]
