"""Issue 32: the S3 analytics store counts each event once on the documented paths — a replay, twice, and a
same-key whole-body resend after a partial 503 — as the table does. Each test asserts on its own events only
(the canary and the other tests share the stack): their ids, through `reconcile --sink s3` and `events.query`.

The messages are sent to the ingest queue as the paths send them: a replay sends the archived envelopes again,
unchanged (ops/replay.py); a whole-body resend with the same Idempotency-Key queues every event of the body
again under the ids derived from the key and the body, with the resend's own received_at and request id.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from cloudformation import output_keys
from functions.common.clock import iso_millis, utc_now
from functions.common.envelope import Envelope, derived_event_id, events_fingerprint, new_event_id
from functions.common.item import decode
from ops.query import query_local
from ops.reconcile import reconcile_ids_s3
from tests.e2e.clients import drained

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

RUN = uuid.uuid4().hex[:8]  # marks this run's events
STORE_TIMEOUT_SECONDS = 90


def send(stack: Any, envelopes: list[Envelope]) -> None:
    """Queue the envelopes as ingest (or replay) does, 10 per SendMessageBatch."""
    sqs, queue = stack.client("sqs"), stack.outputs[output_keys.QUEUE_URL]
    for start in range(0, len(envelopes), 10):
        entries = [
            {"Id": str(index), "MessageBody": envelope.to_json()}
            for index, envelope in enumerate(envelopes[start : start + 10])
        ]
        response = sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        assert not response.get("Failed"), response


def consumed(stack: Any, ids: list[str]) -> None:
    """Until every id is in the table and the queue has nothing left (the batch that wrote an item has also
    written its analytics object before its messages are deleted)."""
    stack.wait_stored(ids, STORE_TIMEOUT_SECONDS)
    stack.wait_until(drained, STORE_TIMEOUT_SECONDS, "the ingest queue to drain")


def rows_of(stack: Any, ids: list[str], columns: str = "event_id") -> list[list[Any]]:
    """The rows of the view `events` holding these ids, as `invoke events.query` answers locally."""
    listed = ", ".join(f"'{event_id}'" for event_id in ids)
    s3, bucket = stack.client("s3"), stack.outputs[output_keys.ANALYTICS_BUCKET]
    return query_local(s3, bucket, f"SELECT {columns} FROM events WHERE event_id IN ({listed}) ORDER BY 1").rows


def test_replaying_events_twice_leaves_one_row_each_in_the_analytics_store(local_stack):
    # GIVEN 37 events stored in the table and the analytics store
    now = iso_millis(utc_now())
    events = [
        Envelope(new_event_id(), json.dumps({"run": RUN, "replayed": n}), now, api_key_id="e2e", request_id=f"r-{n}")
        for n in range(37)
    ]
    ids = [envelope.event_id for envelope in events]
    send(local_stack, events)
    consumed(local_stack, ids)
    # WHEN two overlapping windows of them are replayed (the archived envelopes, unchanged), in other groupings
    send(local_stack, events[3:26])
    consumed(local_stack, ids)
    send(local_stack, list(reversed(events[11:])))
    consumed(local_stack, ids)
    # THEN the replays did write copies into the objects (events_raw): the path under test ran
    copy = reconcile_ids_s3(local_stack.client("s3"), local_stack.outputs[output_keys.ANALYTICS_BUCKET], ids)
    assert copy.copies, "no replayed copy reached the store: the groupings matched the first delivery's"
    # AND through the view every event is one row, and reconcile --sink s3 finds each once
    assert (copy.found, copy.missing, copy.duplicated) == (37, [], {})
    assert rows_of(local_stack, ids) == [[event_id] for event_id in sorted(ids)]


def test_a_same_key_whole_body_resend_after_a_partial_503_adds_no_row(local_stack):
    # GIVEN a keyed request of 5 events of which 3 were queued (a partial 503), stored in both sinks
    key, api_key_id = f"{RUN}-partial-503", local_stack.outputs[output_keys.API_KEY_ID]
    raws = [json.dumps({"run": RUN, "keyed": n}) for n in range(5)]
    fingerprint = events_fingerprint(raws)
    ids = [derived_event_id(api_key_id, key, fingerprint, index) for index in range(5)]
    first_at = utc_now()

    def request(received_at: str, request_id: str, indexes: range) -> list[Envelope]:
        return [Envelope(ids[i], raws[i], received_at, api_key_id=api_key_id, request_id=request_id) for i in indexes]

    send(local_stack, request(iso_millis(first_at), "request-1", range(3)))
    consumed(local_stack, ids[:3])
    # WHEN the client resends the whole body with the same key, received in the next hour (so its copies would fall
    # in another partition than the first request's: the case a per-hour view alone cannot merge)
    send(local_stack, request(iso_millis(first_at + timedelta(hours=1)), "request-2", range(5)))
    consumed(local_stack, ids)
    # THEN the table holds each event once, the first three with the first request's metadata
    table, dynamodb = local_stack.outputs[output_keys.TABLE_NAME], local_stack.client("dynamodb")
    stored = [decode(dynamodb.get_item(TableName=table, Key={"event_id": {"S": i}})["Item"]) for i in ids]
    assert [item["request_id"] for item in stored] == ["request-1"] * 3 + ["request-2"] * 2
    # AND so does the analytics store: no copy in the objects, one row each through the view, the same metadata
    copy = reconcile_ids_s3(local_stack.client("s3"), local_stack.outputs[output_keys.ANALYTICS_BUCKET], ids)
    assert (copy.found, copy.missing, copy.copies, copy.duplicated) == (5, [], {}, {})
    by_id = {item["event_id"]: item["request_id"] for item in stored}
    assert rows_of(local_stack, ids, "event_id, request_id") == [[i, by_id[i]] for i in sorted(ids)]
