"""The API key's value is a secret: after real traffic (accepted events, refusals, a queue outage that makes
ingest log exceptions, dead letters archived) it appears in no log, no metric, no archive object and no stored
event of the local stack. Its id, which is not a secret, is where it should be — so the search does read them."""

from __future__ import annotations

import gzip
import json
import time
import uuid

import pytest

from cloudformation import output_keys
from functions.common.item import decode
from ops import local_output_keys
from tests.e2e.clients import drained
from tests.e2e.stack_helpers import archived_bodies, archived_lines, envelope_of

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack-c")]

MARKER = f"no-secret-{uuid.uuid4().hex[:8]}"
LOGS = (
    "logs/functions.log",
    "logs/metrics.log",
    "logs/runtime.log",
    "logs/notifications.log",
    "logs/moto.log",
    "console.log",
)


def send_traffic(stack) -> list[str]:
    """Accepted events, every kind of refusal, and 503s while the queue is down; returns the accepted ids."""
    key = stack.outputs[local_output_keys.API_KEY]
    ids = []
    for n in range(5):
        answer = stack.post_events([{"marker": MARKER, "n": n}], headers={"Idempotency-Key": f"{MARKER}-{n}"})
        assert answer.status_code == 202
        ids += answer.json()["ids"]
    refusals = [
        stack.post_events("{not json", headers={"Content-Type": "application/json"}),
        stack.post_events({"marker": MARKER}, headers={"Content-Type": "text/plain"}),
        stack.post_events([{"marker": MARKER, "big": "x" * 300_000}]),
        stack.post_events({"marker": MARKER}, key=key[::-1]),
        stack.post_events({"marker": MARKER}, headers={"Idempotency-Key": ""}),
    ]
    assert [answer.status_code for answer in refusals] == [400, 415, 413, 403, 400]
    stack.inject("queue-down", 5)
    try:
        assert stack.post_events([{"marker": MARKER, "during": "queue-down"}] * 3).status_code == 503
    finally:
        stack.lift("queue-down")
    return ids


def dead_letters(stack) -> tuple[str, str]:
    """A dead-lettered envelope, as ingest writes it, and a poison message, into the DLQ: they get archived.
    Returns the envelope's event id and the poison's body."""
    event_id, body = envelope_of(stack, {"marker": MARKER, "dead": True})
    sqs, dlq = stack.client("sqs"), stack.outputs[output_keys.DEAD_LETTER_QUEUE_URL]
    sqs.send_message(QueueUrl=dlq, MessageBody=body)
    poison = f"poison {MARKER}"
    sqs.send_message(QueueUrl=dlq, MessageBody=poison)
    return event_id, poison


def archive_text(stack) -> str:
    s3, bucket = stack.client("s3"), stack.outputs[output_keys.ARCHIVE_BUCKET]
    texts = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            data = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            # the archive and the parked events are gzip JSON lines; the breaker's state (parked/breaker.json) is JSON
            texts.append((gzip.decompress(data) if item["Key"].endswith(".gz") else data).decode())
    return "\n".join(texts)


def metrics_text(stack) -> str:
    metrics = []
    for page in stack.client("cloudwatch").get_paginator("list_metrics").paginate():
        metrics += page["Metrics"]
    return json.dumps(metrics)


def table_text(stack) -> str:
    """Every stored event's fields, decoded (a compressed raw is searched as the text it holds)."""
    items = []
    for page in (
        stack.client("dynamodb").get_paginator("scan").paginate(TableName=stack.outputs[output_keys.TABLE_NAME])
    ):
        items += [decode(item) for item in page["Items"]]
    return json.dumps(items)


def test_the_api_key_value_is_in_no_log_metric_archive_or_table(local_stack):
    # GIVEN real traffic through the stack, and dead letters archived
    key, key_id = local_stack.outputs[local_output_keys.API_KEY], local_stack.outputs[output_keys.API_KEY_ID]
    accepted = send_traffic(local_stack)
    dead_id, poison = dead_letters(local_stack)
    local_stack.wait_until(
        lambda status: (
            drained(status)
            and set(archived_lines(local_stack, {dead_id})) == {dead_id}
            and set(archived_bodies(local_stack, {poison})) == {poison}
        ),
        90,
        "the events to be stored and the dead letters archived",
    )
    assert local_stack.stored_ids(accepted) == set(accepted)
    time.sleep(3)  # one more metrics publication and alarm evaluation, so those reach their logs
    # WHEN every place the stack writes to is read
    files = [local_stack.state_dir / name for name in LOGS]
    places = {path.name: path.read_text(encoding="utf-8", errors="replace") for path in files if path.exists()}
    places |= {
        "metrics": metrics_text(local_stack),
        "archive": archive_text(local_stack),
        "table": table_text(local_stack),
    }
    # THEN the search really read them: our traffic is there, and so is the key's id
    assert MARKER in places["archive"] and MARKER in places["table"]
    assert key_id in places["archive"] and key_id in places["table"] and '"exception"' in places["functions.log"]
    assert all(places.get(name) for name in ("functions.log", "moto.log", "console.log", "metrics"))
    assert "runtime.log" in places  # read, though a quiet run writes nothing there (botocore's chatter is dropped)
    # AND the key's value is nowhere
    assert [name for name, text in places.items() if key in text] == []
    # AND neither is the canary's key's value (the canary reads it from API Gateway at run time), though it ran
    keys = local_stack.client("apigateway").get_api_keys(includeValues=True)["items"]
    (canary_key,) = [item["value"] for item in keys if item["name"] == "sluice-local-canary-key"]
    assert '"canary run"' in places["functions.log"]
    assert [name for name, text in places.items() if canary_key in text] == []
