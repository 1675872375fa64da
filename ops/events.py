"""`invoke events get|list`: stored events, as JSON."""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from ops.aws import aws_errors
from ops.progress import Progress
from ops.timeparse import iso

MAX_SCANNED_ITEMS = 200_000  # a list is a look, not an export: stop reading a big table at this point

_deserializer = TypeDeserializer()


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain JSON values (every attribute we store is a string)."""
    return {name: _deserializer.deserialize(value) for name, value in sorted(item.items())}


def get_event(dynamodb: Any, table: str, event_id: str) -> dict[str, Any] | None:
    with aws_errors(f"reading {event_id} from {table}"):
        item = dynamodb.get_item(TableName=table, Key={"event_id": {"S": event_id}}, ConsistentRead=True).get("Item")
    return plain(item) if item else None


def list_events(
    dynamodb: Any,
    table: str,
    since: datetime,
    until: datetime | None = None,
    *,
    limit: int = 20,
    max_scanned: int = MAX_SCANNED_ITEMS,
    progress_stream: Any = None,
) -> tuple[list[dict[str, Any]], bool]:
    """The newest `limit` events with received_at in [since, until), newest first, and whether the scan
    stopped at `max_scanned` items (then older matches may be missing from the answer).

    The table is keyed by event id only, so "newest" needs a scan; received_at strings sort as times.
    """
    condition = "received_at >= :since"
    values = {":since": {"S": iso(since)}}
    if until is not None:
        condition += " AND received_at < :until"
        values[":until"] = {"S": iso(until)}
    newest: list[tuple[str, str, dict[str, Any]]] = []  # a min-heap of (received_at, event_id, item)
    scanned = 0
    truncated = False
    progress = Progress("events: scanned", stream=progress_stream)
    with aws_errors(f"scanning {table}"):
        pages = dynamodb.get_paginator("scan").paginate(
            TableName=table, FilterExpression=condition, ExpressionAttributeValues=values
        )
        for page in pages:
            for item in page.get("Items", []):
                entry = (item["received_at"]["S"], item["event_id"]["S"], item)
                if len(newest) < limit:
                    heapq.heappush(newest, entry)
                elif entry[:2] > newest[0][:2]:
                    heapq.heapreplace(newest, entry)
            scanned += page.get("ScannedCount", 0)
            progress.update(page.get("ScannedCount", 0))
            if scanned >= max_scanned:
                truncated = True
                break
    progress.finish()
    ordered = sorted(newest, key=lambda entry: entry[:2], reverse=True)
    return [plain(item) for _, _, item in ordered], truncated
