"""Robustness of the consumer on mutated real SQS events: a partial response or a clear refusal,
and never a record acknowledged whose event is not in the table."""

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from moto import mock_aws

from functions.common.envelope import parse_envelope
from functions.common.errors import InvalidEventError
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
        patch.setenv("TABLE_NAME", TABLE)
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

    # THEN only records of the event are reported, and every record not reported is stored
    failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
    assert failed <= {record["messageId"] for record in event["Records"]}
    stored = {item["event_id"]["S"]: item["raw"]["S"] for item in scan(TABLE)}
    for record in event["Records"]:
        if record["messageId"] not in failed:
            envelope = parse_envelope(record.get("body"))
            assert stored[envelope.event_id] == envelope.raw
