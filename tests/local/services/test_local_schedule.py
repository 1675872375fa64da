"""The local notifier schedule sends what EventBridge Scheduler sends for the template's schedule."""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cloudformation.functions import NOTIFIER_SCHEDULE_INPUT
from core.config import load_config
from functions.notifier.schedule import schedule_moment
from local.services.clock import LocalClock
from local.services.schedule import BusinessHoursSchedule, scheduled_event

BERLIN = ZoneInfo("Europe/Berlin")


def test_the_local_schedule_event_is_the_templates_input_which_the_notifier_recognises() -> None:
    # GIVEN the local schedule's event for Monday 09:00 in Berlin
    due = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    event = scheduled_event(due)
    # THEN it is the schedule's explicit input, as Scheduler fills it in
    assert event == {**NOTIFIER_SCHEDULE_INPUT, "scheduled_time": "2026-11-30T08:00:00Z"}
    # WHEN the notifier reads it, a while later
    moment = schedule_moment(event, received=datetime(2026, 11, 30, 8, 0, 5, tzinfo=UTC))
    # THEN it is due at that time
    assert moment == due


class Recorder:
    """Stands in for the notifier: records each event it is invoked with."""

    name = "notifier"

    def __init__(self) -> None:
        self.events: list[dict] = []

    def invoke(self, event: dict) -> dict:
        self.events.append(event)
        return {}


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_the_schedule_fires_once_when_the_local_clock_passes_the_start_of_business_hours() -> None:
    # GIVEN the local business hours (Mon–Fri from 09:00 in Berlin) and a local clock set to Sunday night
    settings = load_config("local").notifications
    clock = LocalClock()
    clock.set(datetime(2026, 11, 29, 22, 0, tzinfo=BERLIN))
    notifier = Recorder()
    looks = [0]  # how often the schedule read the clock: what the test waits for, never a fixed sleep

    def read_clock() -> datetime:
        looks[0] += 1
        return clock.now()

    def looked_again() -> Callable[[], bool]:
        seen = looks[0]
        return lambda: looks[0] > seen + 2

    schedule = BusinessHoursSchedule(settings, notifier, read_clock, poll_seconds=0.01)
    schedule.start()
    try:
        wait_for(looked_again(), "the schedule to look at the clock")
        assert notifier.events == []
        # WHEN the clock is set to Monday 09:00:05
        clock.set(datetime(2026, 11, 30, 9, 0, 5, tzinfo=BERLIN))
        # THEN the schedule fires once, for Monday 09:00 (08:00 UTC)
        wait_for(lambda: len(notifier.events) == 1, "the schedule to fire")
        wait_for(looked_again(), "more looks at the clock")
        assert [event["scheduled_time"] for event in notifier.events] == ["2026-11-30T08:00:00Z"]
        # WHEN the clock is set back to Sunday, and once the schedule saw that, to Monday 09:00:01 again
        clock.set(datetime(2026, 11, 29, 23, 0, tzinfo=BERLIN))
        wait_for(looked_again(), "the schedule to see Sunday")
        clock.set(datetime(2026, 11, 30, 9, 0, 1, tzinfo=BERLIN))
        # THEN Monday's start fires again, reckoned from the Sunday it saw
        wait_for(lambda: len(notifier.events) == 2, "the schedule to fire again")
        assert notifier.events[1]["scheduled_time"] == "2026-11-30T08:00:00Z"
    finally:
        schedule.stop()


def test_the_local_clock_runs_on_from_the_moment_it_was_set_and_goes_back_to_real_time() -> None:
    real = [datetime(2026, 12, 2, 15, 0, tzinfo=UTC)]
    clock = LocalClock(lambda: real[0])
    clock.set(datetime(2026, 11, 29, 22, 0, tzinfo=UTC))
    real[0] = datetime(2026, 12, 2, 15, 0, 30, tzinfo=UTC)
    assert clock.now() == datetime(2026, 11, 29, 22, 0, 30, tzinfo=UTC) and clock.shifted
    clock.set(None)
    assert clock.now() == real[0] and not clock.shifted
