"""The consumer's S3 analytics store: one object per batch and hour, idempotent, never ahead of the table."""

import json
import time
from typing import Any

import pytest

from functions.common.analytics import read_lines
from functions.common.envelope import Envelope, derived_event_id, events_fingerprint
from tests.functions.support import (
    API_KEY_ID,
    FakeContext,
    envelope_body,
    fail_calls,
    leave_unprocessed,
    load_module,
    sqs_event,
)

TABLE = "sluice-events"


def test_a_batch_lands_in_the_table_and_as_one_object_per_received_hour(both_sinks: Any) -> None:
    # GIVEN a batch of three events, two received at 19:xx and one at 20:00
    bodies = [
        envelope_body("evt-b", received_at="2026-11-25T19:20:03.123Z"),
        envelope_body("evt-a", received_at="2026-11-25T19:59:59.999Z"),
        envelope_body("evt-c", received_at="2026-11-25T20:00:00.000Z"),
    ]
    # WHEN the consumer handles it
    assert both_sinks.app.handler(sqs_event(bodies), FakeContext()) == {"batchItemFailures": []}
    # THEN every event is in the table, and in one object of its hour's partition, sorted by event id
    assert set(both_sinks.items()) == {"evt-a", "evt-b", "evt-c"}
    objects = both_sinks.analytics_objects()
    by_partition = {
        key.rsplit("/", 1)[0]: [line["event_id"] for line in read_lines(data)] for key, data in objects.items()
    }
    assert by_partition == {
        "events/dt=2026-11-25/hour=19": ["evt-a", "evt-b"],
        "events/dt=2026-11-25/hour=20": ["evt-c"],
    }
    [line] = [line for data in objects.values() for line in read_lines(data) if line["event_id"] == "evt-c"]
    assert line["raw"] == '{"n": 1}' and line["received_at"] == "2026-11-25T20:00:00.000Z"


def test_a_redelivered_batch_overwrites_its_object_instead_of_adding_one(both_sinks: Any) -> None:
    # GIVEN a batch already consumed
    bodies = [envelope_body(f"evt-{n}") for n in range(5)]
    both_sinks.app.handler(sqs_event(bodies), FakeContext())
    first = both_sinks.analytics_objects()
    # WHEN the same messages come again, in another order (a redelivery after a timeout)
    both_sinks.app.handler(sqs_event(list(reversed(bodies))), FakeContext())
    # THEN the store holds the same single object, byte for byte
    assert both_sinks.analytics_objects() == first and len(first) == 1


def now_ms() -> int:
    return int(time.time() * 1000)


def test_an_event_not_in_the_table_is_not_in_the_store_and_is_parked(both_sinks: Any) -> None:
    # GIVEN DynamoDB leaves one item unprocessed every time
    leave_unprocessed(both_sinks.app.dynamodb, TABLE, lambda _call, key: key == "evt-1")
    # WHEN a batch of three, sent just now, is handled (a short invocation: the writer stops retrying at its deadline)
    bodies = [envelope_body(f"evt-{n}") for n in range(3)]
    response = both_sinks.app.handler(sqs_event(bodies, sent_ms=now_ms()), FakeContext(remaining_ms=1000))
    # THEN the unwritten one is parked and is not in the analytics store yet (no copy ahead of time)
    assert response == {"batchItemFailures": []}
    assert [event.message_id for event in both_sinks.parked()] == ["msg-0001"]
    [data] = both_sinks.analytics_objects().values()
    assert [line["event_id"] for line in read_lines(data)] == ["evt-0", "evt-2"]


def test_an_s3_failure_sends_the_records_back(both_sinks: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN S3 refuses every PutObject
    fail_calls(both_sinks.app.s3, "PutObject", "InternalError")
    # WHEN a batch is handled
    response = both_sinks.app.handler(
        sqs_event([envelope_body(f"evt-{n}") for n in range(3)], sent_ms=now_ms()), FakeContext()
    )
    # THEN every record comes back, as they cannot be parked in S3 either (each item is rewritten identically next
    # time), and the sink error is counted
    assert len(response["batchItemFailures"]) == 3
    assert set(both_sinks.items()) == {"evt-0", "evt-1", "evt-2"}
    assert both_sinks.analytics_objects() == {}
    assert '"AnalyticsSinkErrors":[3.0]' in capsys.readouterr().out


def test_with_the_analytics_store_alone_no_table_is_written(both_sinks: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINKS", "s3")
    app = load_module("functions.consumer.app")
    assert app.handler(sqs_event([envelope_body("evt-only-s3")]), FakeContext()) == {"batchItemFailures": []}
    assert both_sinks.items() == {}
    assert len(both_sinks.analytics_objects()) == 1


def test_an_unknown_sink_fails_fast(both_sinks: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.common.errors import ConfigError

    monkeypatch.setenv("SINKS", "dynamodb,kafka")
    with pytest.raises(ConfigError, match="SINKS"):
        load_module("functions.consumer.app")


def test_with_s3_alone_the_consumer_needs_no_table_and_writes_the_canary_its_own_object(s3_only: Any) -> None:
    # GIVEN the consumer of an S3-only environment (no TABLE_NAME) and a batch with a client's event and a canary's
    bodies = [envelope_body("evt-1"), envelope_body("canary-01ABC")]
    # WHEN it handles the batch
    assert s3_only.app.handler(sqs_event(bodies), FakeContext()) == {"batchItemFailures": []}
    # THEN the client's event is in the analytics objects and the canary's only in its own object, read back as-is
    objects = s3_only.analytics_objects()
    analytics = [
        line["event_id"] for key, data in objects.items() if key.startswith("events/") for line in read_lines(data)
    ]
    assert analytics == ["evt-1"]
    assert json.loads(objects["canary/canary-01ABC.json"]) == {
        "event_id": "canary-01ABC",
        "received_at": "2026-11-25T19:20:03.123Z",
    }
    # AND nothing was written to DynamoDB
    assert s3_only.items() == {}


# Issue 32: with both sinks the analytics store holds each event once, also on a same-key resend.

RESEND_KEY_EVENT = '{"n": 1}'


def keyed_envelope(received_at: str, request_id: str) -> str:
    """A key-derived event as ingest queues it; a whole-body resend brings the same id with new metadata."""
    event_id = derived_event_id(API_KEY_ID, "order-7f3a", events_fingerprint([RESEND_KEY_EVENT]), 0)
    return Envelope(event_id, RESEND_KEY_EVENT, received_at, request_id=request_id, api_key_id=API_KEY_ID).to_json()


FIRST = keyed_envelope("2026-11-25T19:59:58.000Z", "request-1")
RESENT_NEXT_HOUR = keyed_envelope("2026-11-25T20:00:03.000Z", "request-2")


def store_lines(consumer: Any) -> list[tuple[str, str, str]]:
    """(partition, event id, request id) of every line of the store."""
    return sorted(
        (key.rsplit("/", 1)[0], line["event_id"], line["request_id"])
        for key, data in consumer.analytics_objects().items()
        for line in read_lines(data)
    )


def test_a_same_key_resend_in_the_next_hour_adds_no_copy_to_the_store(both_sinks: Any) -> None:
    # GIVEN a key-derived event stored in the table and the store from its first request (received at 19:59:58)
    assert both_sinks.app.handler(sqs_event([FIRST]), FakeContext()) == {"batchItemFailures": []}
    # WHEN a whole-body resend with the same key brings it again, received in the next hour (another partition)
    assert both_sinks.app.handler(sqs_event([RESENT_NEXT_HOUR]), FakeContext()) == {"batchItemFailures": []}
    # THEN the store holds it once, as the table does: the first request's copy, in its hour
    assert store_lines(both_sinks) == [("events/dt=2026-11-25/hour=19", json.loads(FIRST)["event_id"], "request-1")]


def test_a_first_delivery_the_store_refused_reaches_it_once_after_a_resend_was_skipped(both_sinks: Any) -> None:
    # GIVEN a key-derived event written to the table whose analytics object S3 refused once (the event is parked,
    # the breaker opened), on a clock the test moves
    clock = [0.0]
    both_sinks.app.breaker = both_sinks.app.Breaker(30, clock=lambda: clock[0])
    fail_calls(both_sinks.app.s3, "PutObject", "InternalError", when=lambda call: call == 1)
    both_sinks.app.handler(sqs_event([FIRST], sent_ms=now_ms()), FakeContext())
    assert json.loads(FIRST)["event_id"] in both_sinks.items() and both_sinks.analytics_objects() == {}
    assert [json.loads(event.body)["request_id"] for event in both_sinks.parked()] == ["request-1"]
    clock[0] += 31  # the probe interval passed: the next batches are stored
    # WHEN the resend arrives first (skipped: the table holds the first request's copy), then the first delivery
    # comes back identical
    both_sinks.app.handler(sqs_event([RESENT_NEXT_HOUR]), FakeContext())
    both_sinks.app.handler(sqs_event([FIRST]), FakeContext())
    # THEN the store holds the event exactly once, the first request's copy
    assert store_lines(both_sinks) == [("events/dt=2026-11-25/hour=19", json.loads(FIRST)["event_id"], "request-1")]
