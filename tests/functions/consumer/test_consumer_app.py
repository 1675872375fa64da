"""The consumer handler: SQS batches of envelopes → DynamoDB, with exact partial batch responses."""

import base64
import json
import random
import time
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from functions.common.errors import ConfigError, InvalidEventError
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
    sqs_event,
)

TABLE = "sluice-events"


def failed_ids(response: dict[str, Any]) -> list[str]:
    return sorted(failure["itemIdentifier"] for failure in response["batchItemFailures"])


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
    reasons = {body: attributes["dead_letter_reason"]["StringValue"] for body, attributes in dead.items()}
    assert reasons[sample_bodies[0]] == "not a Sluice envelope: body is not JSON"
    assert reasons[sample_bodies[1]].startswith("not a Sluice envelope: ")
    assert {attributes["source_message_id"]["StringValue"] for attributes in dead.values()} == {"msg-0001", "msg-0002"}


def test_poison_stays_in_the_queue_when_the_move_to_the_dlq_fails(consumer: Any, context: FakeContext) -> None:
    # GIVEN the DLQ cannot be reached
    fail_calls(consumer.app.sqs, "SendMessageBatch", "ServiceUnavailable")
    visibility = count_calls(consumer.app.sqs, "ChangeMessageVisibilityBatch")

    # WHEN a batch with one non-envelope is consumed
    response = consumer.app.handler(sqs_event([envelope_body("evt-a"), "not an envelope"]), context)

    # THEN the poison returns to the queue with a backoff (tried again later), and its neighbour is stored
    assert failed_ids(response) == ["msg-0001"]
    assert [entry["Id"] for call in visibility for entry in call["Entries"]] == ["msg-0001"]
    assert set(consumer.items()) == {"evt-a"}


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
    assert dead["MessageAttributes"]["dead_letter_reason"]["StringValue"].startswith("DynamoDB rejects the item: ")
    # AND splitting took a handful of calls, not one per item
    assert len(calls) <= 2 + 2 * 5


def test_failed_records_wait_for_the_backoff_of_their_receive_count(consumer: Any, context: FakeContext) -> None:
    # GIVEN DynamoDB is unreachable and four records on their 1st, 2nd, 4th and 5th (last) receive
    fail_calls(consumer.app.dynamodb, "BatchWriteItem", "InternalServerError")
    visibility = count_calls(consumer.app.sqs, "ChangeMessageVisibilityBatch")
    event = sqs_event([envelope_body(f"evt-{n}") for n in range(4)])
    for record, receives in zip(event["Records"], ("1", "2", "4", "5"), strict=True):
        record["attributes"]["ApproximateReceiveCount"] = receives

    # WHEN the batch is consumed
    response = consumer.app.handler(event, context)

    # THEN every record returns to the queue, each kept invisible for its schedule's delay (jittered down by
    # at most 10 %); the last receive is left to the queue's visibility timeout and then to redrive
    assert failed_ids(response) == ["msg-0000", "msg-0001", "msg-0002", "msg-0003"]
    entries = {entry["Id"]: entry["VisibilityTimeout"] for call in visibility for entry in call["Entries"]}
    assert set(entries) == {"msg-0000", "msg-0001", "msg-0002"}
    assert 11 <= entries["msg-0000"] <= 12 and 22 <= entries["msg-0001"] <= 24 and 43 <= entries["msg-0002"] <= 47


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


def test_items_still_unprocessed_at_the_deadline_fail_exactly(consumer: Any) -> None:
    # GIVEN two events DynamoDB never takes, one of them delivered twice, and 0.4 s left
    leave_unprocessed(consumer.app.dynamodb, TABLE, lambda _, key: key in {"e2", "e4"})
    bodies = [envelope_body(f"e{index}") for index in range(6)] + [envelope_body("e4")]

    # WHEN the batch is consumed
    response = consumer.app.handler(sqs_event(bodies), FakeContext(remaining_ms=400))

    # THEN exactly the records of those two events are reported, the rest is stored
    assert failed_ids(response) == ["msg-0002", "msg-0004", "msg-0006"]
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
    response = consumer.app.handler(sqs_event([envelope_body(f"evt-{index:02d}") for index in range(60)]), context)

    # THEN the first chunk is stored, and the throttled chunk and the one after it wait on their backoff:
    # the third chunk was not sent to a database that just failed
    assert failed_ids(response) == [f"msg-{index:04d}" for index in range(25, 60)]
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
    response = consumer.app.handler(sqs_event([envelope_body(f"evt-{index:02d}") for index in range(60)]), context)

    # THEN one request reached for the database, no retry and no further chunk; every record waits on its backoff
    assert len(attempts) == 1
    assert len(response["batchItemFailures"]) == 60


def test_missing_table_fails_every_record_without_raising(
    consumer: Any, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the table does not exist
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    app = load_module("functions.consumer.app")

    # WHEN a batch is consumed
    response = app.handler(sqs_event([envelope_body("a"), envelope_body("b")]), context)

    # THEN every record is reported, so all come back to the queue
    assert failed_ids(response) == ["msg-0000", "msg-0001"]


def test_metrics(consumer: Any, context: FakeContext, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN / WHEN three events, one of them redelivered, are consumed
    bodies = [envelope_body("a"), envelope_body("b"), envelope_body("c"), envelope_body("a")]
    consumer.app.handler(sqs_event(bodies), context)

    # THEN three events are counted as stored, with one ingest lag each, and none waits on retry
    output = capsys.readouterr().out
    assert metric_values(output, "EventsStored") == [3.0]
    assert metric_values(output, "EventsWaitingOnRetry") == [0.0]
    assert metric_values(output, "OldestRetryAge") == []
    lags = metric_values(output, "IngestLag")
    assert len(lags) == 3 and all(lag > 0 for lag in lags)
    [blob] = emf_blobs(output)
    assert blob["service"] == "consumer"
    assert {"Name": "IngestLag", "Unit": "Milliseconds"} in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]


def test_retry_metrics_count_the_waiting_events_and_the_oldest_age(
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

    # THEN two events wait on retry, the oldest for about 100 s, and one was dead-lettered
    output = capsys.readouterr().out
    assert metric_values(output, "EventsWaitingOnRetry") == [2.0]
    # AND the batch's three records are counted, so the share of records failed (2 of 3) is known
    assert metric_values(output, "RecordsReceived") == [3.0]
    [oldest] = metric_values(output, "OldestRetryAge")
    assert 100 <= oldest < 160
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
