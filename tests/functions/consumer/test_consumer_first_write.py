"""First write wins: an event whose id was derived from an Idempotency-Key keeps the metadata of its first
delivery when a resend of the same key brings it again with a new received_at and request id."""

from typing import Any

from botocore.exceptions import EndpointConnectionError

from functions.common.envelope import Envelope, derived_event_id, events_fingerprint, new_event_id
from functions.common.item import decode
from tests.functions.support import API_KEY_ID, FakeContext, count_calls, fail_calls, sqs_event

DERIVED = derived_event_id(API_KEY_ID, "order-7f3a", events_fingerprint(['{"n": 1}']), 0)


def envelope(event_id: str, received_at: str, request_id: str) -> str:
    return Envelope(event_id, '{"n": 1}', received_at, request_id=request_id, api_key_id=API_KEY_ID).to_json()


FIRST = envelope(DERIVED, "2026-11-25T10:00:00.000Z", "request-1")
RESENT = envelope(DERIVED, "2026-11-25T10:05:00.000Z", "request-2")


def test_a_resent_event_keeps_its_first_metadata(consumer: Any) -> None:
    # GIVEN an event stored from its first request
    consumer.app.handler(sqs_event([FIRST]), FakeContext())
    # WHEN a resend of the same key brings it again with another received_at and request id
    result = consumer.app.handler(sqs_event([RESENT]), FakeContext())
    # THEN the record counts as stored, and the item keeps the first request's metadata
    assert result == {"batchItemFailures": []}
    item = consumer.items()[DERIVED]
    stored = decode(item)
    assert (stored["received_at"], stored["request_id"]) == ("2026-11-25T10:00:00.000Z", "request-1")


def test_within_one_batch_the_first_delivery_wins(consumer: Any) -> None:
    # GIVEN both deliveries in one batch, the first request's first
    result = consumer.app.handler(sqs_event([FIRST, RESENT]), FakeContext())
    # THEN both records are done and the first one's metadata is stored
    assert result == {"batchItemFailures": []}
    assert decode(consumer.items()[DERIVED])["request_id"] == "request-1"


def test_ingest_assigned_ids_are_not_looked_up(consumer: Any) -> None:
    # GIVEN a batch of events with ULIDs (only ever redelivered as the identical envelope)
    lookups = count_calls(consumer.app.dynamodb, "BatchGetItem")
    bodies = [envelope(new_event_id(), "2026-11-25T10:00:00.000Z", f"r-{index}") for index in range(3)]
    # WHEN the consumer stores them
    consumer.app.handler(sqs_event(bodies), FakeContext())
    # THEN no lookup was made
    assert lookups == [] and len(consumer.items()) == 3


def test_a_failed_lookup_still_stores_the_event(consumer: Any) -> None:
    # GIVEN lookups fail
    fail_calls(consumer.app.dynamodb, "BatchGetItem", lambda: EndpointConnectionError(endpoint_url="http://ddb"))
    # WHEN a derived-id event arrives
    result = consumer.app.handler(sqs_event([FIRST]), FakeContext())
    # THEN it is written anyway: a lookup can only spare a rewrite, never lose an event
    assert result == {"batchItemFailures": []} and DERIVED in consumer.items()
