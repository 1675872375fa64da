"""The local notifier schedule sends what EventBridge Scheduler sends for the template's schedule."""

from datetime import UTC, datetime

from cloudformation.functions import NOTIFIER_SCHEDULE_INPUT
from functions.notifier.schedule import schedule_moment
from local.schedule import scheduled_event


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
