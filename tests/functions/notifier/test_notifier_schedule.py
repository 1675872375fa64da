"""The notifier's schedule events, in the shapes AWS delivers them (tests/data/aws-events)."""

import copy
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from functions.common.contract import NOTIFIER_FLUSH_ACTION, NOTIFIER_SCHEDULE_KEY, NOTIFIER_SCHEDULED_TIME_KEY
from functions.common.errors import InvalidEventError
from tests.functions.support import FakeContext, alarm_event, load_event

BERLIN = ZoneInfo("Europe/Berlin")
CONTEXT = FakeContext()
MONDAY_0900_UTC = "2026-11-30T08:00:00Z"  # 09:00 in Berlin, the start of business hours


def explicit_input(scheduled_time: str) -> dict[str, Any]:
    """What Scheduler delivers from the template's input once it replaced <aws.scheduler.scheduled-time>."""
    return {NOTIFIER_SCHEDULE_KEY: NOTIFIER_FLUSH_ACTION, NOTIFIER_SCHEDULED_TIME_KEY: scheduled_time}


def hold_one_on_sunday(notifier: Any) -> None:
    notifier.at(datetime(2026, 11, 29, 22, 0, tzinfo=BERLIN))
    notifier.app.handler(
        alarm_event("sluice-prod-events-archived-low", "ALARM", "1 event", "2026-11-29T21:00:00.000+0000", "m-1"),
        CONTEXT,
    )
    assert notifier.held() == ["m-1"]


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(explicit_input(MONDAY_0900_UTC), id="the template's explicit input"),
        pytest.param(load_event("eventbridge-scheduler-default.json"), id="Scheduler's default envelope"),
        pytest.param(load_event("eventbridge-rule-scheduled.json"), id="an EventBridge rule"),
    ],
)
def test_each_documented_schedule_event_delivers_the_held_digest(notifier: Any, event: dict[str, Any]) -> None:
    # GIVEN a notification held overnight
    hold_one_on_sunday(notifier)
    # WHEN the schedule's event for Monday 09:00 arrives
    notifier.at(datetime(2026, 11, 30, 9, 0, 2, tzinfo=BERLIN))
    outcome = notifier.app.handler(event, CONTEXT)
    # THEN the held notification goes out as one digest
    assert outcome == {"digested": 1, "forwarded": 0, "held": 0}
    [digest] = notifier.published()
    assert digest["Subject"] == "Sluice: 1 low-tier alarm notification held overnight"
    assert notifier.held() == []


def test_a_late_retry_of_the_schedule_still_counts_for_the_time_it_was_due(notifier: Any) -> None:
    # GIVEN a held notification, and Scheduler's retry of Monday 09:00's schedule arriving a minute early
    # by the function's clock (its clocks and ours need not agree)
    hold_one_on_sunday(notifier)
    notifier.at(datetime(2026, 11, 30, 8, 59, tzinfo=BERLIN))
    # WHEN it arrives THEN the time it was due decides: the digest goes out
    assert notifier.app.handler(explicit_input(MONDAY_0900_UTC), CONTEXT)["digested"] == 1


def test_a_schedule_due_outside_business_hours_sends_nothing(notifier: Any) -> None:
    # GIVEN a held notification WHEN a schedule due on Sunday arrives
    hold_one_on_sunday(notifier)
    sunday = copy.deepcopy(load_event("eventbridge-scheduler-default.json"))
    sunday["time"] = "2026-11-29T22:00:00Z"
    outcome = notifier.app.handler(sunday, CONTEXT)
    # THEN nothing is sent and the notification stays held
    assert outcome == {"digested": 0, "forwarded": 0, "held": 0}
    assert notifier.published() == [] and notifier.held() == ["m-1"]


@pytest.mark.parametrize(
    "event",
    [
        {NOTIFIER_SCHEDULE_KEY: "something-else", NOTIFIER_SCHEDULED_TIME_KEY: MONDAY_0900_UTC},
        {"source": "aws.scheduler", "detail-type": "Object Created", "detail": "{}"},
        {"detail": json.dumps(explicit_input(MONDAY_0900_UTC))},
    ],
)
def test_anything_else_is_not_a_schedule(notifier: Any, event: dict[str, Any]) -> None:
    notifier.at(datetime(2026, 11, 30, 10, 0, tzinfo=BERLIN))
    with pytest.raises(InvalidEventError):
        notifier.app.handler(event, CONTEXT)
