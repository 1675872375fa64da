"""The consumer handler: SQS batches of envelopes → DynamoDB, with exact partial batch responses."""

import base64
import json
import random
import time
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from functions.common.contract import DEAD_LETTER_REASON_ATTRIBUTE
from functions.common.errors import ConfigError, InvalidEventError
from functions.common.parked import ParkedEvent, parked_key, write_parked
from tests.functions.consumer.conftest import PARKING_BUCKET
from tests.functions.support import (
    FakeContext,
    count_calls,
    emf_blobs,
    envelope_body,
    fail_calls,
    leave_unprocessed,
    load_event,
    load_module,
    metric_values,
    plain_client,
    sqs_event,
)

TABLE = "sluice-events"


def failed_ids(response: dict[str, Any]) -> list[str]:
    return sorted(failure["itemIdentifier"] for failure in response["batchItemFailures"])


def fresh(bodies: list[str]) -> dict[str, Any]:
    """A batch sent just now: its retry window (120 s, the local environment's) has just begun."""
    return sqs_event(bodies, sent_ms=int(time.time() * 1000))


def test_envelopes_become_identical_items(consumer: Any, context: FakeContext) -> None:
    # GIVEN a batch of three envelopes, one of them without optional fields
    bodies = [envelope_body(f"evt-{index}", raw=f'{{"n": {index}}}') for index in range(2)]
    bodies.append('{"v":1,"event_id":"evt-2","raw":"{}","received_at":"2026-11-25T19:20:03.123Z"}')

    # WHEN the consumer handles it
    response = consumer.app.handler(sqs_event(bodies), context)

    # THEN nothing failed and each item holds the envelope's fields in the compact layout, without nulls
    assert response == {"batchItemFailures": []}
    items = consumer.items()
    assert items["evt-1"] == {
        "event_id": {"S": "evt-1"},
        "r": {"S": '{"n": 1}'},
        "t": {"N": "1795634403123"},
        "ip": {"S": "198.51.100.7"},
        "ua": {"S": "sluice-tests/1.0"},
        "k": {"S": "key-id-1"},
        "q": {"S": "7f6a1c1e-request-id"},
    }
    assert set(items["evt-2"]) == {"event_id", "r", "t"}


def test_poison_goes_to_the_dlq_at_once_with_its_reason(consumer: Any, context: FakeContext) -> None:
    # GIVEN the real sample's two non-envelope bodies between two envelopes, on their first receive
    sample_bodies = [record["body"] for record in load_event("sqs-receive.json")["Records"]]
    bodies = [envelope_body("evt-a"), *sample_bodies, envelope_body("evt-b")]

    # WHEN the consumer handles the batch
    response = consumer.app.handler(sqs_event(bodies), context)

    # THEN no record returns to the queue: the envelopes are stored, the two malformed ones are in the DLQ
    assert response == {"batchItemFailures": []}
    assert set(consumer.items()) == {"evt-a", "evt-b"}
    dead = {message["Body"]: message["MessageAttributes"] for message in consumer.dead_letters()}
    assert set(dead) == set(sample_bodies)
    reasons = {body: attributes[DEAD_LETTER_REASON_ATTRIBUTE]["StringValue"] for body, attributes in dead.items()}
    assert reasons[sample_bodies[0]] == "not a Sluice envelope: body is not JSON"
    assert reasons[sample_bodies[1]].startswith("not a Sluice envelope: ")
    assert {attributes["source_message_id"]["StringValue"] for attributes in dead.values()} == {"msg-0001", "msg-0002"}


def test_poison_returns_to_the_queue_when_the_move_to_the_dlq_fails(consumer: Any, context: FakeContext) -> None:
    # GIVEN the DLQ cannot be reached
    fail_calls(consumer.app.sqs, "SendMessageBatch", "ServiceUnavailable")
    visibility = count_calls(consumer.app.sqs, "ChangeMessageVisibilityBatch")

    # WHEN a batch with one non-envelope is consumed
    response = consumer.app.handler(fresh([envelope_body("evt-a"), "not an envelope"]), context)

    # THEN the poison returns to the queue as it is (tried again after the queue's visibility timeout, dead-lettered
    # by the redrive policy after maxReceiveCount), nothing is parked in flight, and its neighbour is stored
    assert failed_ids(response) == ["msg-0001"]
    assert visibility == []
    assert set(consumer.items()) == {"evt-a"}


def test_poison_goes_to_the_dlq_in_calls_within_one_mebibyte(consumer: Any, context: FakeContext) -> None:
    # GIVEN three poison records of 400 KB each: one SendMessageBatch of all three (1.2 MB) would be refused
    calls = count_calls(consumer.app.sqs, "SendMessageBatch")
    bodies = ["x" * 400_000 + str(index) for index in range(3)]

    # WHEN the batch is consumed
    response = consumer.app.handler(fresh(bodies), context)

    # THEN every one reached the DLQ with its reason, in calls that each stay within 1 MiB
    assert response == {"batchItemFailures": []}
    assert len(calls) == 2
    assert all(sum(len(entry["MessageBody"]) for entry in call["Entries"]) <= 1024 * 1024 for call in calls)
    reasons = {
        dead["MessageAttributes"][DEAD_LETTER_REASON_ATTRIBUTE]["StringValue"] for dead in consumer.dead_letters()
    }
    assert reasons == {"not a Sluice envelope: body is not JSON"}


def test_an_item_dynamodb_rejects_is_dead_lettered_alone(consumer: Any, context: FakeContext) -> None:
    # GIVEN 30 events, one of them too large for a DynamoDB item even compressed (BatchWriteItem then rejects
    # its whole call)
    calls = count_calls(consumer.app.dynamodb, "BatchWriteItem")
    bodies = [envelope_body(f"evt-{index:02d}") for index in range(30)]
    blob = base64.b64encode(random.Random(0).randbytes(420_000)).decode()
    bodies[7] = envelope_body("evt-huge", raw=json.dumps({"blob": blob}))

    # WHEN they are consumed in one batch
    response = consumer.app.handler(sqs_event(bodies), context)

    # THEN the other 29 are stored, only the huge one went to the DLQ with DynamoDB's reason
    assert response == {"batchItemFailures": []}
    assert set(consumer.items()) == {f"evt-{index:02d}" for index in range(30) if index != 7}
    [dead] = consumer.dead_letters()
    assert dead["MessageAttributes"]["source_message_id"]["StringValue"] == "msg-0007"
    assert dead["MessageAttributes"][DEAD_LETTER_REASON_ATTRIBUTE]["StringValue"].startswith(
        "DynamoDB rejects the item: "
    )
    # AND splitting took a handful of calls, not one per item
    assert len(calls) <= 2 + 2 * 5


def test_events_the_store_does_not_take_are_parked_not_left_in_flight(consumer: Any, context: FakeContext) -> None:
    # GIVEN DynamoDB is unreachable, and four records sent 30 s ago
    fail_calls(consumer.app.dynamodb, "BatchWriteItem", "InternalServerError")
    visibility = count_calls(consumer.app.sqs, "ChangeMessageVisibilityBatch")
    sent_ms = int(time.time() * 1000) - 30_000
    bodies = [envelope_body(f"evt-{n}") for n in range(4)]

    # WHEN the batch is consumed
    response = consumer.app.handler(sqs_event(bodies, sent_ms=sent_ms), context)

    # THEN no record returns to the queue and none is kept in flight: the four events are parked in S3 with
    # their retry clock (when ingest sent them) and the message ids they came as
    assert response == {"batchItemFailures": []}
    assert visibility == []
    parked = consumer.parked()
    assert sorted(event.message_id for event in parked) == [f"msg-000{n}" for n in range(4)]
    assert {event.retry_since_ms for event in parked} == {sent_ms}
    assert sorted(event.body for event in parked) == sorted(bodies)
    # AND the breaker tells the retrier that the store fails
    assert json.loads(consumer.breaker_state() or b"{}")["open"] is True


def test_an_open_breaker_spares_the_store_until_its_probe(consumer: Any, context: FakeContext) -> None:
    # GIVEN a store that failed once (the breaker opened), on a clock the test moves
    now = [1000.0]
    consumer.app.breaker = consumer.app.Breaker(30, clock=lambda: now[0])
    fail_calls(consumer.app.dynamodb, "BatchWriteItem", "InternalServerError", when=lambda n: n == 1)
    calls = count_calls(consumer.app.dynamodb, "BatchWriteItem")
    consumer.app.handler(fresh([envelope_body("a")]), context)

    # WHEN more batches arrive within the probe interval
    for name in ("b", "c", "d"):
        now[0] += 5
        assert consumer.app.handler(fresh([envelope_body(name)]), context) == {"batchItemFailures": []}

    # THEN the store was not called again: those are parked too
    assert len(calls) == 1
    assert sorted(json.loads(event.body)["event_id"] for event in consumer.parked()) == ["a", "b", "c", "d"]

    # WHEN the probe interval has passed and the store answers again
    now[0] += 30
    consumer.app.handler(fresh([envelope_body("e")]), context)

    # THEN one batch probed it, was stored, and the breaker closed (and says so to the retrier)
    assert len(calls) == 2
    assert set(consumer.items()) == {"e"}
    assert json.loads(consumer.breaker_state() or b"{}")["open"] is False


def test_an_event_whose_window_is_spent_goes_to_the_dlq_with_the_reason(consumer: Any, context: FakeContext) -> None:
    # GIVEN DynamoDB is down, one event accepted 121 s ago (past the 120 s window) and one just now
    fail_calls(consumer.app.dynamodb, "BatchWriteItem", "InternalServerError")
    event = fresh([envelope_body("old"), envelope_body("new")])
    event["Records"][0]["attributes"]["SentTimestamp"] = str(int(time.time() * 1000) - 121_000)

    # WHEN the batch is consumed
    assert consumer.app.handler(event, context) == {"batchItemFailures": []}

    # THEN the old one is in the DLQ with "retry window spent", the new one is parked
    [dead] = consumer.dead_letters()
    assert dead["MessageAttributes"][DEAD_LETTER_REASON_ATTRIBUTE]["StringValue"] == "retry window spent"
    assert json.loads(dead["Body"])["event_id"] == "old"
    assert [json.loads(parked.body)["event_id"] for parked in consumer.parked()] == ["new"]


def test_an_unparked_event_keeps_its_retry_clock(consumer: Any, context: FakeContext) -> None:
    # GIVEN DynamoDB is down, and a record sent just now that carries the clock of an event accepted 200 s ago
    # (the retrier sends parked events back with it)
    fail_calls(consumer.app.dynamodb, "BatchWriteItem", "InternalServerError")
    event = fresh([envelope_body("unparked")])
    since = int(time.time() * 1000) - 200_000
    event["Records"][0]["messageAttributes"] = {"retry_since": {"stringValue": str(since), "dataType": "Number"}}

    # WHEN it is consumed THEN its window counts from acceptance: spent, dead-lettered
    assert consumer.app.handler(event, context) == {"batchItemFailures": []}
    [dead] = consumer.dead_letters()
    assert dead["MessageAttributes"][DEAD_LETTER_REASON_ATTRIBUTE]["StringValue"] == "retry window spent"


def test_records_return_to_the_queue_when_they_can_be_neither_stored_nor_parked(
    consumer: Any, context: FakeContext
) -> None:
    # GIVEN DynamoDB and S3 both fail
    fail_calls(consumer.app.dynamodb, "BatchWriteItem", "InternalServerError")
    fail_calls(consumer.app.s3, "PutObject", "ServiceUnavailable")

    # WHEN a batch is consumed
    response = consumer.app.handler(fresh([envelope_body("a"), envelope_body("b")]), context)

    # THEN both records return to the queue: nothing is acknowledged that is not kept somewhere
    assert failed_ids(response) == ["msg-0000", "msg-0001"]


def test_redeliveries_in_one_batch_collapse_into_one_write(consumer: Any, context: FakeContext) -> None:
    # GIVEN the same event delivered three times in one batch, next to another event
    calls = count_calls(consumer.app.dynamodb, "BatchWriteItem")
    bodies = [envelope_body("evt-dup"), envelope_body("evt-x"), envelope_body("evt-dup"), envelope_body("evt-dup")]

    # WHEN the consumer handles it
    response = consumer.app.handler(sqs_event(bodies), context)

    # THEN one call wrote two distinct keys, and every record succeeded
    assert response == {"batchItemFailures": []}
    [call] = calls
    keys = [request["PutRequest"]["Item"]["event_id"]["S"] for request in call["RequestItems"][TABLE]]
    assert sorted(keys) == ["evt-dup", "evt-x"]


def test_same_event_twice_leaves_one_identical_item(consumer: Any, context: FakeContext) -> None:
    # GIVEN an event stored once
    body = envelope_body("evt-once", raw='{"z": [1, 2]}')
    consumer.app.handler(sqs_event([body]), context)
    first = consumer.items()

    # WHEN it is delivered again later (redelivery or replay)
    consumer.app.handler(sqs_event([body], ["another-message-id"]), context)

    # THEN the table holds one item, identical to the first
    assert consumer.items() == first and len(first) == 1


def test_writes_go_25_items_per_call(consumer: Any, context: FakeContext) -> None:
    # GIVEN 60 distinct events
    calls = count_calls(consumer.app.dynamodb, "BatchWriteItem")

    # WHEN they are consumed in one batch
    consumer.app.handler(sqs_event([envelope_body(f"evt-{index:02d}") for index in range(60)]), context)

    # THEN three calls carried them
    assert [len(call["RequestItems"][TABLE]) for call in calls] == [25, 25, 10]
    assert len(consumer.items()) == 60


def test_unprocessed_items_are_retried(consumer: Any, context: FakeContext, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN DynamoDB leaves three items unprocessed on the first call
    leave_unprocessed(consumer.app.dynamodb, TABLE, lambda call, key: call == 1 and key in {"e1", "e5", "e9"})
    calls = count_calls(consumer.app.dynamodb, "BatchWriteItem")

    # WHEN a batch of ten is consumed
    response = consumer.app.handler(sqs_event([envelope_body(f"e{index}") for index in range(10)]), context)

    # THEN a second call wrote exactly those three, every record succeeded, and the retries are counted
    assert response == {"batchItemFailures": []}
    assert sorted(request["PutRequest"]["Item"]["event_id"]["S"] for request in calls[1]["RequestItems"][TABLE]) == [
        "e1",
        "e5",
        "e9",
    ]
    assert len(consumer.items()) == 10
    assert metric_values(capsys.readouterr().out, "WriteRetries") == [3.0]


def test_items_still_unprocessed_at_the_deadline_are_parked_exactly(consumer: Any) -> None:
    # GIVEN two events DynamoDB never takes, one of them delivered twice, and 0.4 s left
    leave_unprocessed(consumer.app.dynamodb, TABLE, lambda _, key: key in {"e2", "e4"})
    bodies = [envelope_body(f"e{index}") for index in range(6)] + [envelope_body("e4")]

    # WHEN the batch is consumed
    response = consumer.app.handler(fresh(bodies), FakeContext(remaining_ms=400))

    # THEN exactly the records of those two events are parked, the rest is stored
    assert response == {"batchItemFailures": []}
    assert sorted(event.message_id for event in consumer.parked()) == ["msg-0002", "msg-0004", "msg-0006"]
    assert set(consumer.items()) == {"e0", "e1", "e3", "e5"}


def test_short_timeout_still_leaves_time_to_write(consumer: Any) -> None:
    # GIVEN an invocation with 2 s left in all (the local stack's timeout), no more than the margin
    # WHEN a batch is consumed
    response = consumer.app.handler(sqs_event([envelope_body("a"), envelope_body("b")]), FakeContext(remaining_ms=2000))

    # THEN it is written: the margin is a share of a short budget, not all of it
    assert response == {"batchItemFailures": []}
    assert set(consumer.items()) == {"a", "b"}


def test_a_failing_database_is_not_called_again_for_the_rest_of_the_batch(consumer: Any, context: FakeContext) -> None:
    # GIVEN the second BatchWriteItem call is throttled
    fail_calls(consumer.app.dynamodb, "BatchWriteItem", "ProvisionedThroughputExceededException", when=lambda n: n == 2)
    calls = count_calls(consumer.app.dynamodb, "BatchWriteItem")

    # WHEN 60 events are consumed
    response = consumer.app.handler(fresh([envelope_body(f"evt-{index:02d}") for index in range(60)]), context)

    # THEN the first chunk is stored, and the throttled chunk and the one after it are parked:
    # the third chunk was not sent to a database that just failed
    assert response == {"batchItemFailures": []}
    assert sorted(event.message_id for event in consumer.parked()) == [f"msg-{index:04d}" for index in range(25, 60)]
    assert len(consumer.items()) == 25
    assert len(calls) == 2


def test_an_unreachable_database_gets_one_request_per_batch(consumer: Any, context: FakeContext) -> None:
    # GIVEN DynamoDB cannot be reached at all (every HTTP attempt fails to connect, as in an outage)
    attempts: list[str] = []

    def unreachable(request: Any, **_: Any) -> None:
        attempts.append(request.url)
        raise EndpointConnectionError(endpoint_url=request.url)

    consumer.app.dynamodb.meta.events.register("before-send.dynamodb.BatchWriteItem", unreachable)

    # WHEN a batch of 60 events (three BatchWriteItem calls' worth) is consumed
    response = consumer.app.handler(fresh([envelope_body(f"evt-{index:02d}") for index in range(60)]), context)

    # THEN one request reached for the database, no retry and no further chunk; every event is parked
    assert len(attempts) == 1
    assert response == {"batchItemFailures": []}
    assert len(consumer.parked()) == 60


def test_missing_table_parks_every_event_without_raising(
    consumer: Any, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the table does not exist
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    consumer.app = load_module("functions.consumer.app")

    # WHEN a batch is consumed
    response = consumer.app.handler(fresh([envelope_body("a"), envelope_body("b")]), context)

    # THEN every event is parked until the table answers
    assert response == {"batchItemFailures": []}
    assert len(consumer.parked()) == 2


def test_metrics(consumer: Any, context: FakeContext, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN / WHEN three events, one of them redelivered, are consumed
    bodies = [envelope_body("a"), envelope_body("b"), envelope_body("c"), envelope_body("a")]
    consumer.app.handler(sqs_event(bodies), context)

    # THEN three events are counted as stored, with one ingest lag each, and none waits on retry
    output = capsys.readouterr().out
    assert metric_values(output, "EventsStored") == [3.0]
    assert metric_values(output, "EventsWaitingOnRetry") == [0.0]
    assert metric_values(output, "BreakerOpen") == [0.0]
    lags = metric_values(output, "IngestLag")
    assert len(lags) == 3 and all(lag > 0 for lag in lags)
    [blob] = emf_blobs(output)
    assert blob["service"] == "consumer"
    assert {"Name": "IngestLag", "Unit": "Milliseconds"} in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]


def test_retry_metrics_count_the_parked_events_and_the_breaker(
    consumer: Any, context: FakeContext, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN DynamoDB is down, and two records first sent 100 s and 40 s ago, plus one poison
    fail_calls(consumer.app.dynamodb, "BatchWriteItem", "InternalServerError")
    event = sqs_event([envelope_body("a"), envelope_body("b"), "poison"])
    now_ms = int(time.time() * 1000)
    for record, age in zip(event["Records"], (100, 40, 1), strict=True):
        record["attributes"]["SentTimestamp"] = str(now_ms - age * 1000)

    # WHEN the batch is consumed
    consumer.app.handler(event, context)

    # THEN two events wait on retry (parked), the breaker is open, and one was dead-lettered
    output = capsys.readouterr().out
    assert metric_values(output, "EventsWaitingOnRetry") == [2.0]
    assert metric_values(output, "BreakerOpen") == [1.0]
    # AND the batch's three records are counted, so the share of records not stored (2 of 3) is known
    assert metric_values(output, "RecordsReceived") == [3.0]
    assert metric_values(output, "EventsDeadLettered") == [1.0]


@pytest.mark.filterwarnings("ignore:No application metrics")
@pytest.mark.parametrize(
    "event",
    [{}, {"Records": "nope"}, {"Records": [{"body": "x"}]}, {"Records": [{"messageId": 7, "body": "x"}]}],
)
def test_event_that_is_not_an_sqs_batch_is_refused(consumer: Any, context: FakeContext, event: dict[str, Any]) -> None:
    # GIVEN / WHEN an event whose records cannot be identified
    # THEN the invocation fails as a whole, with a clear error (Lambda retries the batch)
    with pytest.raises(InvalidEventError):
        consumer.app.handler(event, context)


def test_missing_table_name_fails_fast(consumer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no TABLE_NAME
    monkeypatch.delenv("TABLE_NAME")
    # WHEN / THEN importing the handler names the variable
    with pytest.raises(ConfigError, match="TABLE_NAME"):
        load_module("functions.consumer.app")


def test_canary_events_are_marked_and_expire_from_their_acceptance(consumer: Any, context: FakeContext) -> None:
    # GIVEN a canary event (its id as ingest gives it) and a client event, both accepted at the same moment
    accepted = "2026-11-25T19:20:03.123Z"  # 1795634403 epoch seconds
    bodies = [envelope_body("canary-01ABC", received_at=accepted), envelope_body("01CLIENT", received_at=accepted)]
    # WHEN the consumer stores them (a day's TTL by default)
    response = consumer.app.handler(sqs_event(bodies), context)
    # THEN the canary's item is marked and carries its expiry (accepted + TTL) in the table's TTL attribute
    assert response == {"batchItemFailures": []}
    items = consumer.items()
    assert items["canary-01ABC"]["canary"] == {"BOOL": True}
    assert items["canary-01ABC"]["expires_at"] == {"N": str(1795634403 + 86_400)}
    # AND the client's item is neither marked nor expiring
    assert not {"canary", "expires_at"} & set(items["01CLIENT"])


def test_items_expire_ttl_days_after_they_were_received(consumer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN table.ttl_days = 30 (the template sets TABLE_TTL_DAYS)
    monkeypatch.setenv("TABLE_TTL_DAYS", "30")
    app = load_module("functions.consumer.app")
    # WHEN an event received at 2026-11-25T19:20:03.123Z is consumed
    assert app.handler(sqs_event([envelope_body("evt-ttl")]), FakeContext()) == {"batchItemFailures": []}
    # THEN its item carries the TTL attribute, epoch seconds 30 days later
    assert consumer.items()["evt-ttl"]["expires_at"] == {"N": str(1795634403 + 30 * 86_400)}


def test_a_wrong_ttl_fails_fast(consumer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_TTL_DAYS", "ninety")
    with pytest.raises(ConfigError, match="TABLE_TTL_DAYS"):
        load_module("functions.consumer.app")


def park_object(name: str, bodies: list[str], since_ms: int, more: list[tuple[str, int]] = ()) -> str:
    """A parked object as the consumer writes it (functions/common/parked.py), its events accepted at `since_ms` (and
    `more` with their own clocks); returns its key (named after the newest clock)."""
    parked = [ParkedEvent(body, since_ms, f"orig-{index}") for index, body in enumerate(bodies)]
    parked += [ParkedEvent(body, clock, f"orig-more-{index}") for index, (body, clock) in enumerate(more)]
    key = parked_key(max(event.retry_since_ms for event in parked), name)
    plain_client("s3").put_object(Bucket=PARKING_BUCKET, Key=key, Body=write_parked(parked))
    return key


def pointer(key: str) -> dict[str, Any]:
    """What the retrier sends for a parked object: its key as body and `parked_key` attribute."""
    event = fresh([key])
    event["Records"][0]["messageAttributes"] = {"parked_key": {"stringValue": key, "dataType": "String"}}
    return event


def test_a_pointer_brings_its_parked_events_back_and_deletes_the_object(consumer: Any, context: FakeContext) -> None:
    # GIVEN an object of three events parked 30 s ago, and the retrier's pointer to it
    key = park_object("p1", [envelope_body(f"u{n}") for n in range(3)], int(time.time() * 1000) - 30_000)

    # WHEN the consumer receives the pointer
    response = consumer.app.handler(pointer(key), context)

    # THEN the three events are stored, the pointer is done and the object is gone
    assert response == {"batchItemFailures": []}
    assert set(consumer.items()) == {"u0", "u1", "u2"}
    assert consumer.parked() == []


def test_a_pointer_while_the_store_fails_leaves_its_events_in_their_object_or_dead_letters_the_spent(
    consumer: Any, context: FakeContext
) -> None:
    # GIVEN DynamoDB down, an object of events accepted 200 s ago (past the window), one of an event 20 s old, and an
    # object mixing both
    fail_calls(consumer.app.dynamodb, "BatchWriteItem", "InternalServerError")
    now_ms = int(time.time() * 1000)
    spent = park_object("spent", [envelope_body("s0"), envelope_body("s1")], now_ms - 200_000)
    young = park_object("young", [envelope_body("y0")], now_ms - 20_000)
    mixed = park_object("mixed", [envelope_body("m0")], now_ms - 200_000, more=[(envelope_body("m1"), now_ms)])

    # WHEN the consumer receives a pointer to each
    for key in (spent, young, mixed):
        assert consumer.app.handler(pointer(key), context) == {"batchItemFailures": []}

    # THEN the spent events are in the DLQ with the reason and the message ids they first came as
    dead = consumer.dead_letters() + consumer.dead_letters()
    assert {json.loads(m["Body"])["event_id"] for m in dead} == {"s0", "s1", "m0"}
    assert {m["MessageAttributes"][DEAD_LETTER_REASON_ATTRIBUTE]["StringValue"] for m in dead} == {"retry window spent"}
    assert {m["MessageAttributes"]["source_message_id"]["StringValue"] for m in dead} == {"orig-0", "orig-1"}
    # AND the young events stay in their own objects, under the same keys (never merged into another): the spent
    # object is gone, the young one untouched, the mixed one holds just its young event
    assert sorted(consumer.parked_keys()) == sorted([young, mixed])
    assert sorted(json.loads(event.body)["event_id"] for event in consumer.parked()) == ["m1", "y0"]


def test_a_pointer_to_an_object_already_handled_is_done(consumer: Any, context: FakeContext) -> None:
    # GIVEN a pointer whose object an earlier delivery handled and deleted
    # WHEN the consumer receives it THEN it is done, and nothing is stored or parked
    assert consumer.app.handler(pointer("parked/events/20261206T000000.000Z-gone.jsonl.gz"), context) == {
        "batchItemFailures": []
    }
    assert consumer.items() == {} and consumer.parked() == []


def test_a_pointer_whose_object_cannot_be_read_now_is_done_and_the_object_stays(
    consumer: Any, context: FakeContext
) -> None:
    # GIVEN S3 refusing reads, and a pointer beside an ordinary event
    key = park_object("p2", [envelope_body("kept")], int(time.time() * 1000))
    fail_calls(consumer.app.s3, "GetObject", "ServiceUnavailable")
    event = pointer(key)
    event["Records"].append(fresh([envelope_body("plain")])["Records"][0] | {"messageId": "msg-plain"})

    # WHEN the batch is consumed THEN the pointer is done (the retrier points at the object again on its next run),
    # the object stays as it was, and the ordinary event is stored
    assert consumer.app.handler(event, context) == {"batchItemFailures": []}
    assert [p.message_id for p in consumer.parked()] == ["orig-0"]
    assert set(consumer.items()) == {"plain"}


def test_a_batch_takes_at_most_its_share_of_parked_events_and_leaves_the_rest_parked(
    consumer: Any, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN three parked objects of two events and a limit of four events an invocation takes from parked objects
    monkeypatch.setattr("functions.consumer.unparking.MAX_UNPARKED_EVENTS", 4)
    now_ms = int(time.time() * 1000)
    keys = [park_object(f"o{n}", [envelope_body(f"e{n}a"), envelope_body(f"e{n}b")], now_ms - n) for n in range(3)]
    event = pointer(keys[0])
    for key in keys[1:]:
        event["Records"].append(pointer(key)["Records"][0] | {"messageId": f"msg-{key[-20:]}"})

    # WHEN one batch of the three pointers is consumed
    assert consumer.app.handler(event, context) == {"batchItemFailures": []}

    # THEN two objects' events are stored and gone from S3; the third object stays parked, whole, for the next run
    assert len(consumer.items()) == 4
    assert len(consumer.parked_keys()) == 1 and len(consumer.parked()) == 2


def test_a_pointer_to_an_object_that_is_not_parked_events_leaves_it_for_a_person(
    consumer: Any, context: FakeContext
) -> None:
    # GIVEN an object under the parked prefix that is not gzip JSON lines
    key = parked_key(int(time.time() * 1000), "garbage")
    plain_client("s3").put_object(Bucket=PARKING_BUCKET, Key=key, Body=b"not gzip")

    # WHEN a pointer to it is consumed THEN the pointer is done (it would only fail again) and the object stays
    assert consumer.app.handler(pointer(key), context) == {"batchItemFailures": []}
    assert key in consumer.parked_keys()
