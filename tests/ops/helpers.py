"""Builders for the real shapes: envelopes, archive objects, queues and the events table."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from functions.common.archive import archive_key, write_archive_lines
from functions.common.envelope import Envelope, new_event_id, parse_envelope
from functions.common.item import encode
from tests.aws_helpers import create_hash_table, unique


def envelope(event_id: str | None = None, received_at: str = "2026-11-25T10:15:00.000Z", **raw: Any) -> str:
    return Envelope(
        event_id=event_id or new_event_id(),
        raw=json.dumps(raw or {"kind": "click"}),
        received_at=received_at,
        source_ip="203.0.113.7",
        user_agent="pytest",
        api_key_id="key123",
        request_id=str(uuid.uuid4()),
        trace_id=None,
    ).to_json()


def archive_line(body: str, message_id: str | None = None) -> dict[str, Any]:
    try:
        event_id = json.loads(body).get("event_id")
    except ValueError:
        event_id = None
    return {
        "message_id": message_id or str(uuid.uuid4()),
        "body": body,
        "receive_count": 5,
        "sent_timestamp": 1_764_065_700_000,
        "first_receive_timestamp": 1_764_065_701_000,
        "archived_at": "2026-11-25T10:20:00.000Z",
        "event_id": event_id,
    }


def put_archive(s3: Any, bucket: str, moment: datetime, lines: list[dict[str, Any]]) -> str:
    key = archive_key("dlq", moment.astimezone(UTC), uuid.uuid4().hex)
    s3.put_object(Bucket=bucket, Key=key, Body=write_archive_lines(lines))
    return key


def create_table(dynamodb: Any) -> str:
    return create_hash_table(dynamodb, unique("events"), "event_id")


def item_of(body: str) -> dict[str, dict[str, Any]]:
    """What the consumer writes for an envelope (the shared item codec)."""
    return encode(parse_envelope(body))


def first_layout_item_of(body: str) -> dict[str, dict[str, str]]:
    """An item as the consumer wrote it before the compact layout: every envelope field, long names."""
    data = json.loads(body)
    return {name: {"S": value} for name, value in data.items() if name != "v" and isinstance(value, str)}


def drain_into_table(sqs: Any, queue_url: str, dynamodb: Any, table: str) -> int:
    """Play the consumer: receive every message, write its item (PutItem: the key makes it idempotent),
    delete it. Returns the number of messages consumed."""
    consumed = empty = 0
    while empty < 2:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            empty += 1
            continue
        empty = 0
        for message in messages:
            dynamodb.put_item(TableName=table, Item=item_of(message["Body"]))
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        consumed += len(messages)
    return consumed


def table_ids(dynamodb: Any, table: str) -> list[str]:
    ids = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="event_id"):
        ids += [item["event_id"]["S"] for item in page["Items"]]
    return ids


class Console:
    """What a deploy prints, line by line (the `say` callback ops/deploy.py and ops/recovery.py take)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def yes(_: object) -> bool:
    """A confirmation prompt that always agrees."""
    return True


def no_sleep(_: float) -> None:
    return None
