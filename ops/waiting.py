"""Poll until something holds, bounded by a deadline: the one wait every package uses.

A wait observes (a status, a count), stops as soon as the observation is what it waits for, and after
`timeout` seconds gives up with `WaitTimedOut`, which carries the last observation so that the caller can
say what it saw. An observation that raises ends the wait at once (a failed stack need not time out).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

from ops.errors import OpsError

Observed = TypeVar("Observed")


class WaitTimedOut(OpsError, Generic[Observed]):
    """The awaited thing did not happen within the timeout; `last` is what the final poll observed."""

    def __init__(self, what: str, timeout: float, last: Observed) -> None:
        super().__init__(f"timed out after {timeout:.0f} s waiting for {what}; last seen: {last}")
        self.what = what
        self.timeout = timeout
        self.last = last


def wait_until(
    observe: Callable[[], Observed],
    done: Callable[[Observed], object] = bool,
    *,
    timeout: float,
    interval: float,
    what: str,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Observed:
    """Call `observe` every `interval` s until `done(observation)` holds; return that observation.

    It observes at least once, and once more after the deadline has passed, so a wait never gives up on
    a stale look. Raises WaitTimedOut (naming `what`) when `timeout` s pass first.
    """
    # Looked up at call time, so a test that replaces time.sleep or time.monotonic replaces them here too.
    now = clock or time.monotonic
    pause = sleep or time.sleep
    deadline = now() + timeout
    while True:
        observed = observe()
        if done(observed):
            return observed
        if now() >= deadline:
            raise WaitTimedOut(what, timeout, observed)
        pause(interval)
