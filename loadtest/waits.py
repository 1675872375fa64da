"""Bounded waits with progress: for faults to clear, for the queues to drain, for alarms to fire."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from loadtest.stack import QueueDepth
from ops.progress import ProgressLine
from ops.waiting import WaitTimedOut, wait_until

POLL_SECONDS = 1.0
SETTLE_POLLS = 3  # an empty queue must stay empty this many polls: a message may be between hands


@dataclass(frozen=True)
class WaitResult:
    done: bool
    seconds: float
    note: str


def wait_with_progress(
    check: Callable[[], tuple[bool, str]],
    label: str,
    timeout: float,
    progress: ProgressLine,
    settle: int = 1,
    poll: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitResult:
    """ops.waiting.wait_until for a load run: poll `check` (→ done, note) until it holds `settle` times in a row
    or `timeout` passes, showing each poll on `progress`, and report the outcome instead of raising."""
    started = clock()
    streak = 0

    def look() -> tuple[bool, str]:
        nonlocal streak
        try:
            done, note = check()
        except Exception as error:  # the stack may hiccup under load; the timeout still bounds us
            done, note = False, f"check failed: {error}"
        streak = streak + 1 if done else 0
        if streak < settle:
            progress.show(f"{label}: {clock() - started:.0f}/{timeout:.0f} s {note}")
        return streak >= settle, note

    try:
        _, note = wait_until(
            look, lambda seen: seen[0], timeout=timeout, interval=poll, what=label, clock=clock, sleep=sleep
        )
    except WaitTimedOut as timed_out:
        note = timed_out.last[1]
        progress.done(f"{label}: gave up after {timeout:.0f} s ({note})")
        return WaitResult(False, clock() - started, note)
    elapsed = clock() - started
    progress.done(f"{label}: done in {elapsed:.0f} s ({note})")
    return WaitResult(True, elapsed, note)


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
