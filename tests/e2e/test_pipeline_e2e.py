"""The whole pipeline on the local stack, driven over real HTTP: nothing accepted is lost."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from cloudformation.config import load_config
from ops.replay import replay

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]


def drained(status: dict) -> bool:
    ingest = status["queues"]["ingest"]
    return ingest["visible"] == 0 and ingest["in_flight"] == 0


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
    item = table.get_item(TableName=local_stack.outputs["TableName"], Key={"event_id": {"S": ids[0]}})["Item"]
    assert json.loads(item["raw"]["S"]) == {"kind": "view", "n": 0}
    assert item["api_key_id"]["S"] == local_stack.outputs["ApiKeyId"]


def test_gateway_refuses_what_api_gateway_refuses(local_stack):
    # GIVEN no key, a wrong key, a body that fails the model
    # THEN 403, 403, 400 — and the ingest function never ran for them
    assert local_stack.post_events({"a": 1}, key=None).status_code == 403
    assert local_stack.post_events({"a": 1}, key="not-a-key").status_code == 403
    assert local_stack.post_events([]).status_code == 400
    assert local_stack.post_events({"a": "x" * 300_000}).status_code == 413


def test_a_poison_message_is_archived_and_does_not_block_its_batch(local_stack):
    # GIVEN a message that is not our envelope, in the queue beside good events
    sqs = local_stack.client("sqs")
    archived_before = local_stack.status()["archive_objects"]  # the stack is shared: earlier tests archive too
    sqs.send_message(QueueUrl=local_stack.outputs["QueueUrl"], MessageBody="this is not an envelope")
    good = local_stack.post_events([{"kind": "good", "n": n} for n in range(10)]).json()["ids"]
    # WHEN the consumer has retried it maxReceiveCount times (one local retry budget)
    budget = load_config("local").retry_budget_seconds
    local_stack.wait_until(
        lambda status: drained(status) and status["archive_objects"] > archived_before,
        budget + 60,
        "the poison to be archived",
    )
    # THEN the good events are stored, and the poison's body is in the archive
    assert local_stack.stored_ids(good) == set(good)
    s3 = local_stack.client("s3")
    bucket = local_stack.outputs["ArchiveBucket"]
    bodies = []
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix="dlq/")["Contents"]:
        import gzip

        lines = gzip.decompress(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()).splitlines()
        bodies += [json.loads(line)["body"] for line in lines]
    assert "this is not an envelope" in bodies


def test_db_outage_longer_than_the_retry_budget_loses_nothing(local_stack):
    # GIVEN the table is unreachable for longer than the queue's retry budget
    started = datetime.now(UTC) - timedelta(minutes=1)
    budget = load_config("local").retry_budget_seconds
    archived_before = local_stack.status()["archive_objects"]
    local_stack.inject("db-down", budget + 40)
    accepted: list[str] = []
    try:
        # WHEN clients keep sending during the outage (the API still answers 202: the queue is up)
        for n in range(20):
            response = local_stack.post_events([{"kind": "during-outage", "n": n, "i": i} for i in range(5)])
            assert response.status_code == 202
            accepted += response.json()["ids"]
            time.sleep(0.2)

        # THEN the events exhaust their receives, go to the DLQ and are archived
        def all_archived(status: dict) -> bool:
            dead_letter = status["queues"]["dead_letter"]
            idle = dead_letter["visible"] == 0 and dead_letter["in_flight"] == 0
            return drained(status) and idle and status["archive_objects"] > archived_before

        local_stack.wait_until(all_archived, budget + 90, "the dead-lettered events to be archived")
        # AND the alarms that watch the path fired: the backlog aged, events were dead-lettered
        expected = {"sluice-local-queue-age-low", "sluice-local-events-archived-low"}
        fired = local_stack.wait_for_alarms(expected, started.timestamp(), timeout=45)
        assert not any("notifier" in name for name in fired), fired
    finally:
        local_stack.lift("db-down")
    # AND after recovery, replaying the archive stores every accepted event exactly once
    outputs = local_stack.outputs
    result = replay(
        local_stack.client("s3"),
        local_stack.client("sqs"),
        outputs["ArchiveBucket"],
        outputs["QueueUrl"],
        started,
        datetime.now(UTC) + timedelta(minutes=1),
    )
    # (the archive's hour partitions may also hold other tests' dead letters: they are replayed too)
    assert not result.failed and result.sent >= len(set(accepted))
    local_stack.wait_until(drained, 60, "the replayed events to be stored")
    assert local_stack.stored_ids(accepted) == set(accepted)
