"""ops.waiting.wait_until: poll until true, bounded by a deadline, on a fake clock (no real sleeps)."""

from __future__ import annotations

import pytest

from ops.errors import OpsError
from ops.waiting import WaitTimedOut, wait_until


class FakeClock:
    """Time that moves only when the wait sleeps; records every pause."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def test_it_returns_the_first_observation_that_is_done() -> None:
    # GIVEN a status that settles on the third look
    statuses = iter(["CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE", "never read"])
    clock = FakeClock()
    # WHEN waited on until it stops being in progress
    final = wait_until(
        lambda: next(statuses),
        lambda status: not status.endswith("IN_PROGRESS"),
        timeout=60,
        interval=5,
        what="the stack",
        clock=clock,
        sleep=clock.sleep,
    )
    # THEN the settled status comes back, after one pause of `interval` between each look
    assert final == "CREATE_COMPLETE"
    assert clock.pauses == [5, 5]


def test_without_a_done_test_it_waits_for_a_truthy_observation() -> None:
    # GIVEN a count that reaches something on the second look
    counts = iter([0, 3])
    clock = FakeClock()
    # WHEN waited on with no `done`
    found = wait_until(lambda: next(counts), timeout=10, interval=1, what="items", clock=clock, sleep=clock.sleep)
    # THEN the truthy observation is the answer
    assert found == 3


def test_something_already_true_is_not_slept_on() -> None:
    # GIVEN a condition that holds at once
    clock = FakeClock()
    # WHEN waited on
    wait_until(lambda: True, timeout=10, interval=1, what="nothing", clock=clock, sleep=clock.sleep)
    # THEN the wait never pauses
    assert clock.pauses == []


def test_it_gives_up_at_the_timeout_naming_what_it_awaited_and_what_it_saw() -> None:
    # GIVEN a table that never goes
    looks: list[float] = []
    clock = FakeClock()

    def status() -> str:
        looks.append(clock.now)
        return "DELETING"

    # WHEN waited on for 10 s, polling every 3 s
    with pytest.raises(WaitTimedOut) as raised:
        wait_until(
            status, lambda s: s == "GONE", timeout=10, interval=3, what="table t", clock=clock, sleep=clock.sleep
        )
    # THEN it stops at the first look past the deadline (one last look, never a stale one) ...
    assert looks == [0, 3, 6, 9, 12]
    # ... with one user-facing error that names the wait and carries the last observation
    assert isinstance(raised.value, OpsError)
    assert str(raised.value) == "timed out after 10 s waiting for table t; last seen: DELETING"
    assert raised.value.last == "DELETING" and raised.value.what == "table t"


def test_a_zero_timeout_still_looks_once() -> None:
    # GIVEN a condition that holds on the first look
    clock = FakeClock()
    # WHEN waited on with no time at all
    found = wait_until(lambda: "up", timeout=0, interval=1, what="x", clock=clock, sleep=clock.sleep)
    # THEN the one look answers
    assert found == "up"


def test_an_observation_that_raises_ends_the_wait_at_once() -> None:
    # GIVEN a process that has died: the look raises
    clock = FakeClock()

    def answers() -> bool:
        raise RuntimeError("moto server exited with code 1")

    # WHEN waited on
    with pytest.raises(RuntimeError, match="exited"):
        wait_until(answers, timeout=60, interval=1, what="moto", clock=clock, sleep=clock.sleep)
    # THEN the error comes through unchanged, without waiting out the timeout
    assert clock.pauses == []


def test_by_default_it_uses_the_time_module_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN time.monotonic and time.sleep replaced after import (as tests of callers do)
    clock = FakeClock()
    monkeypatch.setattr("time.monotonic", clock)
    monkeypatch.setattr("time.sleep", clock.sleep)
    looks = iter([False, False, True])
    # WHEN waited on with no clock nor sleep given
    wait_until(lambda: next(looks), timeout=10, interval=2, what="x")
    # THEN the replaced ones ran: no real sleep
    assert clock.pauses == [2, 2]
