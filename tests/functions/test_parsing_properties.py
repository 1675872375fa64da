"""Parsing properties the per-function suites do not cover yet (ingest, consumer and archiver mutations are in
tests/functions/<name>/test_*_properties.py):

- the notifier on mutated SNS notifications, alarm messages and scheduled events: an outcome in which every
  notification is forwarded or held, or a clear InvalidEventError — never another exception;
- ingest's Idempotency-Key: 1-255 characters as openapi.json documents it, anything else a 400 before any event
  is queued (an empty key used to give every request that sent one the same event ids).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from functions.common.contract import NOTIFIER_FLUSH_ACTION, NOTIFIER_SCHEDULE_KEY, NOTIFIER_SCHEDULED_TIME_KEY
from functions.common.envelope import derived_event_id, events_fingerprint
from functions.common.errors import InvalidEventError
from functions.notifier.schedule import schedule_moment
from tests.functions.support import (
    API_KEY_ID,
    BUSINESS_HOURS_ENVIRONMENT,
    FakeContext,
    alarm_event,
    api_request,
    create_table,
    drain,
    forget_keys,
    load_event,
    load_module,
    mutated,
    plain_client,
    scan,
    scheduled_event,
    sns_event,
)

HELD_TABLE = "sluice-held-properties"
IDEMPOTENCY_TABLE = "sluice-idempotency-parsing-properties"
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Wednesday 2026-11-25, Berlin: 12:00 is in business hours, 23:00 is not.
IN_HOURS = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
OUT_OF_HOURS = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)

ALARM_MESSAGE = {
    "AlarmName": "sluice-dev-consumer-errors-low",
    "AlarmDescription": "low tier",
    "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed: 1 datapoint [3.0] was greater than the threshold (1.0).",
    "StateChangeTime": "2026-11-25T11:00:00.000+0000",
    "OldStateValue": "OK",
    "Trigger": {"MetricName": "Errors", "Namespace": "AWS/Lambda", "Statistic": "SUM"},
}
ALARM = alarm_event(
    ALARM_MESSAGE["AlarmName"], "ALARM", ALARM_MESSAGE["NewStateReason"], "2026-11-25T11:00:00.000+0000", "msg-1"
)
BUDGET = sns_event(
    "AWS Budget Notification: the ACTUAL Cost of sluice-dev is greater than $8.00.",
    subject="AWS Budgets: sluice-dev has exceeded your alert threshold",
    message_id="msg-2",
    timestamp="2026-11-25T11:00:00.000Z",
)
SCHEDULE = scheduled_event("2026-11-25T11:00:00Z")
SCHEDULER_DEFAULT = {**load_event("eventbridge-scheduler-default.json"), "time": "2026-11-25T22:00:00Z"}
SCHEDULE_INPUT = {NOTIFIER_SCHEDULE_KEY: NOTIFIER_FLUSH_ACTION, NOTIFIER_SCHEDULED_TIME_KEY: "2026-11-25T08:00:00Z"}

# Refused events publish no metric, and Powertools warns about that; expected here.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


@dataclass
class Stack:
    notifier: ModuleType
    inbox_url: str
    ingest: ModuleType
    queue_url: str
    clock: list[datetime]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        create_table(HELD_TABLE, "notification_id")
        sns, sqs = plain_client("sns"), plain_client("sqs")
        topic = sns.create_topic(Name="sluice-people-low-properties")["TopicArn"]
        inbox = sqs.create_queue(QueueName="people-inbox-properties")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
        queue = sqs.create_queue(QueueName="sluice-ingest-parsing-properties")["QueueUrl"]
        create_table(IDEMPOTENCY_TABLE, "id")
        for name, value in {
            "HELD_TABLE_NAME": HELD_TABLE,
            "DESTINATION_TOPIC_ARN": topic,
            **BUSINESS_HOURS_ENVIRONMENT,
            "QUEUE_URL": queue,
            "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
            "RETRY_AFTER_SECONDS": "5",
        }.items():
            patch.setenv(name, value)
        notifier = load_module("functions.notifier.app")
        clock = [IN_HOURS]
        patch.setattr(notifier, "now", lambda: clock[0])
        yield Stack(notifier, inbox, load_module("functions.ingest.app"), queue, clock)


def held_ids() -> set[str]:
    return {item["notification_id"]["S"] for item in scan(HELD_TABLE)}


def reset(stack: Stack, moment: datetime) -> None:
    for notification_id in held_ids():
        plain_client("dynamodb").delete_item(TableName=HELD_TABLE, Key={"notification_id": {"S": notification_id}})
    drain(stack.inbox_url)
    stack.clock[0] = moment


def with_message(event: dict[str, Any], message: Any) -> dict[str, Any]:
    event = json.loads(json.dumps(event))
    event["Records"][0]["Sns"]["Message"] = message
    return event


notifier_events = (
    mutated(ALARM)
    | mutated(BUDGET)
    | mutated(SCHEDULE)
    | mutated(SCHEDULER_DEFAULT)
    | mutated(SCHEDULE_INPUT)
    | mutated(ALARM_MESSAGE).map(lambda message: with_message(ALARM, json.dumps(message)))
    | st.text(max_size=60).map(lambda message: with_message(ALARM, message))
)


@PROPERTY
@given(event=notifier_events, in_hours=st.booleans(), already_held=st.booleans())
def test_mutated_notifier_events_are_delivered_held_or_refused(
    stack: Stack, event: dict[str, Any], in_hours: bool, already_held: bool
) -> None:
    # GIVEN in or out of business hours, maybe one notification held from the night before
    reset(stack, IN_HOURS if in_hours else OUT_OF_HOURS)
    if already_held:
        plain_client("dynamodb").put_item(
            TableName=HELD_TABLE,
            Item={"notification_id": {"S": "held-0"}, "message": {"S": "{}"}, "timestamp": {"S": "2026-11-24"}},
        )
    # WHEN the notifier gets a real SNS, alarm or schedule shape with fields removed or mistyped
    try:
        outcome = stack.notifier.handler(event, FakeContext())
    except InvalidEventError:
        # THEN either it is refused as a whole (Lambda retries it, then it goes to the failures queue) ...
        return
    # ... or each notification went out now or is held, and in business hours the held ones were digested
    published = drain(stack.inbox_url)
    # a schedule event stands for the time it was due (functions/notifier/schedule.py), anything else for now
    due = schedule_moment(event, stack.clock[0])
    if due is not None:
        assert outcome["forwarded"] == outcome["held"] == 0
        in_hours = stack.notifier.SETTINGS.business_hours.contains(due)
    else:
        assert outcome["forwarded"] + outcome["held"] == len(event["Records"])
    assert outcome["digested"] == (int(already_held) if in_hours else 0)
    assert len(published) == outcome["forwarded"] + (1 if outcome["digested"] else 0)
    assert len(held_ids()) == outcome["held"] + (int(already_held) if not in_hours else 0)


def idempotency_keys() -> st.SearchStrategy[str]:
    return st.text(max_size=12) | st.integers(250, 300).flatmap(lambda size: st.text(min_size=size, max_size=size))


@PROPERTY
@given(key=idempotency_keys())
def test_an_idempotency_key_is_1_to_255_characters_or_the_request_is_refused(stack: Stack, key: str) -> None:
    # GIVEN a valid batch of two events sent with this Idempotency-Key
    event = api_request('[{"a": 1}, {"b": 2}]', headers={"Idempotency-Key": key})
    forget_keys(IDEMPOTENCY_TABLE)  # a key drawn twice is a new request here, not a retry
    # WHEN ingest handles it
    response = stack.ingest.handler(event, FakeContext())
    body = json.loads(response["body"])
    queued = [json.loads(envelope)["event_id"] for envelope in drain(stack.queue_url)]
    if 1 <= len(key) <= 255:
        # THEN a key of 1-255 characters gives the ids derived from it, and they are queued
        fingerprint = events_fingerprint(['{"a": 1}', '{"b": 2}'])
        expected = [derived_event_id(API_KEY_ID, key, fingerprint, index) for index in range(2)]
        assert (response["statusCode"], body["ids"]) == (202, expected)
        assert sorted(queued) == sorted(expected)
    else:
        # AND any other key is a 400 naming it, before anything is queued
        assert (response["statusCode"], body["error"]) == (400, "invalid_idempotency_key")
        assert queued == []
