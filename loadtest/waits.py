"""Bounded waits with progress: for faults to clear, for the queues to drain, for alarms to fire."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from loadtest.progress import ProgressLine
from loadtest.stack import QueueDepth

POLL_SECONDS = 1.0
SETTLE_POLLS = 3  # an empty queue must stay empty this many polls: a message may be between hands


@dataclass(frozen=True)
class WaitResult:
    done: bool
    seconds: float
    note: str


def wait_until(
    check: Callable[[], tuple[bool, str]],
    label: str,
    timeout: float,
    progress: ProgressLine,
    settle: int = 1,
    poll: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitResult:
    """Poll `check` (→ done, note) until it holds `settle` times in a row or `timeout` passes."""
    started = clock()
    streak = 0
    note = ""
    while True:
        try:
            done, note = check()
        except Exception as error:  # the stack may hiccup under load; the timeout still bounds us
            done, note = False, f"check failed: {error}"
        streak = streak + 1 if done else 0
        elapsed = clock() - started
        if streak >= settle:
            progress.done(f"{label}: done in {elapsed:.0f} s ({note})")
            return WaitResult(True, elapsed, note)
        if elapsed >= timeout:
            progress.done(f"{label}: gave up after {timeout:.0f} s ({note})")
            return WaitResult(False, elapsed, note)
        progress.show(f"{label}: {elapsed:.0f}/{timeout:.0f} s {note}")
        sleep(poll)


def drained(depth: Callable[[], QueueDepth]) -> Callable[[], tuple[bool, str]]:
    def check() -> tuple[bool, str]:
        current = depth()
        return current.empty, current.describe()

    return check


def faults_cleared(faults: Callable[[], dict[str, float]]) -> Callable[[], tuple[bool, str]]:
    def check() -> tuple[bool, str]:
        active = faults()
        note = ", ".join(f"{name} {left:.0f} s left" for name, left in active.items()) or "no fault active"
        return not active, note

    return check
