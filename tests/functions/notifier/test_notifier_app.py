"""The notifier: low-tier notifications go out in business hours, are held and digested otherwise."""

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from botocore.exceptions import ClientError

from functions.common.errors import ConfigError, InvalidEventError
from tests.functions.support import (
    FakeContext,
    alarm_event,
    count_calls,
    fail_calls,
    load_module,
    scheduled_event,
    sns_event,
)

BERLIN = ZoneInfo("Europe/Berlin")
CONTEXT = FakeContext()
BUDGET_TEXT = (
    "AWS Budget Notification November 28, 2026\nAWS Account 123456789012\n\nDear AWS Customer,\n\n"
    "You requested that we alert you when the ACTUAL Cost associated with your sluice-dev budget is "
    "greater than $8.00 for the current month. The ACTUAL Cost associated with this budget is $8.41."
)


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in November 2026: the 27th is a Friday, the 30th a Monday."""
    return datetime(2026, 11, day, hour, minute, tzinfo=BERLIN)


def friday_alarm() -> dict[str, Any]:
    return alarm_event(
        "sluice-dev-consumer-errors-low",
        "ALARM",
        "Threshold Crossed: 1 datapoint [3.0] was greater than the threshold (1.0).",
        "2026-11-27T17:00:00.000+0000",
        "msg-friday",
    )


def saturday_budget() -> dict[str, Any]:
    return sns_event(
        BUDGET_TEXT,
        subject="AWS Budgets: sluice-dev has exceeded your alert threshold",
        message_id="msg-saturday",
        timestamp="2026-11-28T10:00:00.000Z",
    )


def test_weekend_notifications_are_held_then_sent_as_one_digest_on_monday(notifier: Any) -> None:
    # GIVEN an alarm on Friday 18:00 and a budget notification on Saturday, outside business hours
    notifier.at(berlin(27, 18))
    notifier.app.handler(friday_alarm(), CONTEXT)
    notifier.at(berlin(28, 11))
    notifier.app.handler(saturday_budget(), CONTEXT)
    # ... and Saturday's hourly schedule, which must not send anything
    notifier.at(berlin(28, 12))
    notifier.app.handler(scheduled_event("2026-11-28T11:00:00Z"), CONTEXT)
    assert notifier.published() == []
    assert notifier.held() == ["msg-friday", "msg-saturday"]

    # WHEN Monday 09:00's schedule fires
    notifier.at(berlin(30, 9))
    outcome = notifier.app.handler(scheduled_event("2026-11-30T08:00:00Z"), CONTEXT)

    # THEN one digest lists both, oldest first, and the held table is empty
    assert outcome == {"digested": 2, "forwarded": 0, "held": 0}
    [digest] = notifier.published()
    assert digest["Subject"] == "Sluice: 2 low-tier alarm notifications held overnight"
    text = digest["Message"]
    assert text.index("sluice-dev-consumer-errors-low") < text.index("AWS Budgets: sluice-dev")
    assert "-> ALARM" in text and "was greater than the threshold (1.0)" in text
    assert "2026-11-27T17:00:00.000+0000" in text and "The ACTUAL Cost associated with this budget is $8.41" in text
    assert notifier.held() == []

    # WHEN a notification arrives on Monday 10:00
    notifier.at(berlin(30, 10))
    outcome = notifier.app.handler(
        alarm_event("sluice-dev-dlq-low", "ALARM", "1 message", "2026-11-30T09:00:00.000+0000", "msg-monday"), CONTEXT
    )

    # THEN it is forwarded at once, as it came
    assert outcome == {"digested": 0, "forwarded": 1, "held": 0}
    [forwarded] = notifier.published()
    assert forwarded["Subject"] == 'ALARM: "sluice-dev-dlq-low" in EU (Frankfurt)'
    assert json.loads(forwarded["Message"])["AlarmName"] == "sluice-dev-dlq-low"
    assert notifier.held() == []


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_publish_failure_keeps_the_held_notifications(notifier: Any) -> None:
    # GIVEN two held notifications and an SNS that fails the first publish
    notifier.at(berlin(28, 11))
    notifier.app.handler(friday_alarm(), CONTEXT)
    notifier.app.handler(saturday_budget(), CONTEXT)
    fail_calls(notifier.app.sns, "Publish", "InternalError", when=lambda call: call == 1)

    # WHEN Monday's schedule fires
    notifier.at(berlin(30, 9))
    with pytest.raises(ClientError):
        notifier.app.handler(scheduled_event("2026-11-30T08:00:00Z"), CONTEXT)

    # THEN nothing was sent and nothing was deleted
    assert notifier.published() == []
    assert notifier.held() == ["msg-friday", "msg-saturday"]

    # WHEN the next hourly schedule fires and SNS works again
    notifier.at(berlin(30, 10))
    notifier.app.handler(scheduled_event("2026-11-30T09:00:00Z"), CONTEXT)

    # THEN the digest goes out with both
    assert [message["Subject"] for message in notifier.published()] == [
        "Sluice: 2 low-tier alarm notifications held overnight"
    ]
    assert notifier.held() == []


def test_arrival_in_business_hours_sends_the_digest_first(notifier: Any) -> None:
    # GIVEN one notification held from Sunday
    notifier.at(berlin(29, 20))
    notifier.app.handler(saturday_budget(), CONTEXT)

    # WHEN an alarm arrives on Monday 11:00, before the hourly schedule ran
    notifier.at(berlin(30, 11))
    outcome = notifier.app.handler(friday_alarm(), CONTEXT)

    # THEN the digest of the held one goes out first, then the new one
    assert outcome == {"digested": 1, "forwarded": 1, "held": 0}
    subjects = [message["Subject"] for message in notifier.published()]
    assert subjects == [
        "Sluice: 1 low-tier alarm notification held overnight",
        'ALARM: "sluice-dev-consumer-errors-low" in EU (Frankfurt)',
    ]
    assert notifier.held() == []


def test_failed_forward_is_held_for_the_next_digest(notifier: Any) -> None:
    # GIVEN SNS refuses the publish during business hours
    fail_calls(notifier.app.sns, "Publish", "InternalError")
    notifier.at(berlin(30, 14))

    # WHEN a notification arrives
    outcome = notifier.app.handler(friday_alarm(), CONTEXT)

    # THEN it is held instead of lost
    assert outcome == {"digested": 0, "forwarded": 0, "held": 1}
    assert notifier.held() == ["msg-friday"]


def test_redelivered_notification_is_held_once(notifier: Any) -> None:
    # GIVEN / WHEN SNS delivers the same notification twice at night
    notifier.at(berlin(30, 23))
    notifier.app.handler(friday_alarm(), CONTEXT)
    notifier.app.handler(friday_alarm(), CONTEXT)

    # THEN it is held once
    assert notifier.held() == ["msg-friday"]


def test_business_hours_end_is_exclusive_and_days_count(notifier: Any) -> None:
    # GIVEN / WHEN notifications at Monday 17:00 and Saturday noon
    notifier.at(berlin(30, 17))
    notifier.app.handler(friday_alarm(), CONTEXT)
    notifier.at(berlin(28, 12))
    notifier.app.handler(saturday_budget(), CONTEXT)

    # THEN both are held
    assert notifier.published() == []
    assert notifier.held() == ["msg-friday", "msg-saturday"]


def test_forwarded_subject_is_one_line_of_under_100_characters(notifier: Any) -> None:
    # GIVEN a notification whose subject is long and has a line break
    publishes = count_calls(notifier.app.sns, "Publish")
    notifier.at(berlin(30, 10))
    event = sns_event("text", subject="Budget\nalert " + "x" * 200, message_id="m", timestamp="2026-11-30T09:00:00Z")

    # WHEN it is forwarded
    notifier.app.handler(event, CONTEXT)

    # THEN SNS got a clean subject within its limit ("less than 100 characters", botocore's sns model)
    subject = publishes[0]["Subject"]
    assert len(subject) == 99 and "\n" not in subject and subject.startswith("Budget alert xxx")


def test_many_held_notifications_go_out_in_digests_of_at_most_100(notifier: Any) -> None:
    # GIVEN 101 held notifications
    notifier.at(berlin(28, 3))
    for index in range(101):
        event = sns_event("m", subject=f"s{index}", message_id=f"id-{index:03d}", timestamp=f"T{index:03d}")
        notifier.app.handler(event, CONTEXT)

    # WHEN Monday's schedule fires
    notifier.at(berlin(30, 9, 30))
    outcome = notifier.app.handler(scheduled_event("2026-11-30T08:30:00Z"), CONTEXT)

    # THEN two digests carry them all and nothing stays held
    assert outcome["digested"] == 101
    assert [message["Subject"].split(" ")[1] for message in notifier.published()] == ["100", "1"]
    assert notifier.held() == []


@pytest.mark.filterwarnings("ignore:No application metrics")
@pytest.mark.parametrize("event", [{}, {"Records": []}, {"Records": [{"Sns": {"Message": "no id"}}]}, {"source": "x"}])
def test_unknown_event_is_refused(notifier: Any, event: dict[str, Any]) -> None:
    # GIVEN / WHEN an event that is neither SNS nor the schedule
    # THEN it is refused with a clear error
    with pytest.raises(InvalidEventError):
        notifier.app.handler(event, CONTEXT)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BUSINESS_DAYS", "Mon,Funday"),
        ("BUSINESS_HOURS", "9-5"),
        ("BUSINESS_HOURS", "17:00-09:00"),
        ("BUSINESS_TIMEZONE", "Mars/Olympus_Mons"),
        ("HELD_TABLE_NAME", ""),
        ("DESTINATION_TOPIC_ARN", ""),
    ],
)
def test_configuration_fails_fast(notifier: Any, monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    # GIVEN an invalid or missing variable
    monkeypatch.setenv(variable, value)
    # WHEN / THEN importing the handler names it
    with pytest.raises(ConfigError, match=variable):
        load_module("functions.notifier.app")
