"""Robustness of the consumer on mutated real SQS events: a partial response or a clear refusal,
and never a record acknowledged whose event is not in the table."""

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from moto import mock_aws

from functions.common.envelope import parse_envelope
from functions.common.errors import EnvelopeError, InvalidEventError
from functions.common.item import decode
from tests.functions.support import (
    FakeContext,
    create_table,
    envelope_body,
    load_module,
    mutated,
    plain_client,
    scan,
    sqs_event,
)

TABLE = "sluice-events-properties"
BASE = sqs_event([envelope_body("p-1"), envelope_body("p-2", raw='{"k": "v"}'), "Test message."])

# Refused events publish no metric, and Powertools warns about that; expected here.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


@pytest.fixture(scope="module")
def app() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        create_table(TABLE, "event_id")
        sqs = plain_client("sqs")
        patch.setenv("TABLE_NAME", TABLE)
        patch.setenv("QUEUE_URL", sqs.create_queue(QueueName="properties-ingest")["QueueUrl"])
        patch.setenv("DEAD_LETTER_QUEUE_URL", sqs.create_queue(QueueName="properties-dead-letter")["QueueUrl"])
        plain_client("s3").create_bucket(Bucket="properties-archive")
        patch.setenv("PARKING_BUCKET", "properties-archive")
        yield load_module("functions.consumer.app")


@settings(max_examples=60, deadline=None)
@given(event=mutated(BASE))
def test_mutated_sqs_events(app: Any, event: dict[str, Any]) -> None:
    # GIVEN an empty table and the real SQS event shape with fields removed or mistyped
    for key in ("p-1", "p-2"):
        plain_client("dynamodb").delete_item(TableName=TABLE, Key={"event_id": {"S": key}})

    # WHEN the consumer handles it
    try:
        response = app.handler(event, FakeContext())
    except InvalidEventError:
        return  # refused whole: Lambda retries the batch, nothing is acknowledged

    # THEN only records of the event are reported, and every record not reported is stored, or (not an
    # envelope) in the DLQ
    failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
    assert failed <= {record["messageId"] for record in event["Records"]}
    stored = {item["event_id"]["S"]: decode(item)["raw"] for item in scan(TABLE)}
    dead = dead_lettered(app.SETTINGS.dead_letter_queue_url)
    for record in event["Records"]:
        if record["messageId"] not in failed:
            try:
                envelope = parse_envelope(record.get("body"))
            except EnvelopeError:
                assert record["messageId"] in dead
                continue
            assert stored[envelope.event_id] == envelope.raw


def dead_lettered(queue_url: str) -> set[str]:
    """The source message ids in the DLQ, which is emptied."""
    sqs, ids = plain_client("sqs"), set()
    while messages := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        for message in messages:
            ids.add(message["MessageAttributes"]["source_message_id"]["StringValue"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return ids
