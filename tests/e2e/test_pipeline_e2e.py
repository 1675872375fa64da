"""The whole pipeline on the local stack, driven over real HTTP: nothing accepted is lost."""

from __future__ import annotations

import base64
import json
import random
import time
import uuid

import pytest

from cloudformation import output_keys
from core.config import load_config
from functions.common.clock import iso_millis, utc_now
from functions.common.envelope import Envelope, new_event_id
from functions.common.item import decode
from ops.query import query_local
from ops.reconcile import reconcile_ids_s3
from tests.e2e.clients import drained
from tests.e2e.stack_helpers import archived_bodies

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]


def test_posted_events_are_stored_exactly_once(local_stack):
    # GIVEN single events, a batch, and a client retry with the same Idempotency-Key
    ids: list[str] = []
    for index in range(5):
        response = local_stack.post_events({"kind": "view", "n": index})
        assert response.status_code == 202
        ids += response.json()["ids"]
    batch = local_stack.post_events([{"kind": "click", "n": n} for n in range(30)])
    assert batch.status_code == 202 and batch.json()["accepted"] == 30
    ids += batch.json()["ids"]
    first = local_stack.post_events({"kind": "order"}, headers={"Idempotency-Key": "e2e-order-7"})
    retry = local_stack.post_events({"kind": "order"}, headers={"Idempotency-Key": "e2e-order-7"})
    assert first.json()["ids"] == retry.json()["ids"]
    ids += first.json()["ids"]
    # WHEN the queue drains
    local_stack.wait_until(lambda status: drained(status), 60, "the ingest queue to drain")
    # THEN every accepted id is in the table, and the table holds one item per id
    assert local_stack.stored_ids(ids) == set(ids)
    table = local_stack.client("dynamodb")
    item = table.get_item(TableName=local_stack.outputs[output_keys.TABLE_NAME], Key={"event_id": {"S": ids[0]}})[
        "Item"
    ]
    assert json.loads(decode(item)["raw"]) == {"kind": "view", "n": 0}
    assert decode(item)["api_key_id"] == local_stack.outputs[output_keys.API_KEY_ID]
    # AND the local stack's S3 analytics store holds each of them exactly once, and answers SQL on them
    s3, bucket = local_stack.client("s3"), local_stack.outputs[output_keys.ANALYTICS_BUCKET]
    copy = reconcile_ids_s3(s3, bucket, ids)
    assert (copy.missing, copy.duplicated) == ([], {})
    listed = ", ".join(f"'{event_id}'" for event_id in set(ids))
    counted = query_local(s3, bucket, f"SELECT count(*) FROM events WHERE event_id IN ({listed})")
    assert counted.rows == [[len(set(ids))]]


def test_gateway_refuses_what_api_gateway_refuses(local_stack):
    # GIVEN no key, a wrong key, a body that fails the model
    # THEN 403, 403, 400 — and the ingest function never ran for them
    assert local_stack.post_events({"a": 1}, key=None).status_code == 403
    assert local_stack.post_events({"a": 1}, key="not-a-key").status_code == 403
    assert local_stack.post_events([]).status_code == 400
    assert local_stack.post_events({"a": "x" * 300_000}).status_code == 413


def test_poison_is_dead_lettered_on_its_first_receive_with_its_reason_while_its_batch_is_stored(local_stack):
    # GIVEN a message that is not our envelope and an envelope too large for a DynamoDB item, in the queue
    # beside good events
    sqs = local_stack.client("sqs")
    marker = f"not an envelope {uuid.uuid4()}"
    # random bytes as base64: over DynamoDB's 400 KB even compressed, under SQS's 1 MiB
    blob = base64.b64encode(random.Random(0).randbytes(420_000)).decode()
    huge = Envelope(new_event_id(), json.dumps({"blob": blob}), iso_millis(utc_now()))
    sqs.send_message(QueueUrl=local_stack.outputs[output_keys.QUEUE_URL], MessageBody=marker)
    sqs.send_message(QueueUrl=local_stack.outputs[output_keys.QUEUE_URL], MessageBody=huge.to_json())
    good = local_stack.post_events([{"kind": "good", "n": n} for n in range(10)]).json()["ids"]
    # WHEN the consumer has received them (redrive would take the whole retry window: twice this bound)
    began = time.monotonic()
    poison = {marker, huge.to_json()}
    local_stack.wait_until(
        lambda status: drained(status) and set(archived_bodies(local_stack, poison)) == poison,
        load_config("local").queue.retry_window_seconds / 2,
        "the poison to be archived",
    )
    # THEN the good events are stored, and both poison messages are in the archive with the consumer's reason
    # (a message redrive moves has none), received once from the dead-letter queue
    assert local_stack.stored_ids(good) == set(good)
    reasons = {body: line["reason"] for body, line in archived_bodies(local_stack, poison).items()}
    assert reasons[marker] == "not a Sluice envelope: body is not JSON"
    assert reasons[huge.to_json()].startswith("DynamoDB rejects the item: ")
    assert local_stack.stored_ids([huge.event_id]) == set()
    print(f"\npoison: archived with its reason {time.monotonic() - began:.1f} s after the good events were sent")
