"""`invoke events get|list`: stored events, as JSON."""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import Any

from functions.common.item import KEY, decode
from ops.aws import aws_errors
from ops.progress import Progress
from ops.timeparse import iso

MAX_SCANNED_ITEMS = 200_000  # a list is a look, not an export: stop reading a big table at this point


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as the event's fields (functions/common/item.py decodes either layout)."""
    return decode(item)


def received_between(since: datetime, until: datetime | None) -> dict[str, Any]:
    """Scan arguments keeping the items received in [since, until): `t` holds epoch milliseconds; items of
    the first layout hold the ISO text in `received_at`."""
    names = {"#t": "t", "#received": "received_at"}
    values: dict[str, Any] = {":since_ms": {"N": str(_millis(since))}, ":since": {"S": iso(since)}}
    compact, first = "#t >= :since_ms", "#received >= :since"
    if until is not None:
        compact += " AND #t < :until_ms"
        first += " AND #received < :until"
        values |= {":until_ms": {"N": str(_millis(until))}, ":until": {"S": iso(until)}}
    return {
        "FilterExpression": f"({compact}) OR ({first})",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def get_event(dynamodb: Any, table: str, event_id: str) -> dict[str, Any] | None:
    with aws_errors(f"reading {event_id} from {table}"):
        item = dynamodb.get_item(TableName=table, Key={KEY: {"S": event_id}}, ConsistentRead=True).get("Item")
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
    newest: list[tuple[str, str, dict[str, Any]]] = []  # a min-heap of (received_at, event_id, event)
    scanned = 0
    truncated = False
    progress = Progress("events: scanned", stream=progress_stream)
    with aws_errors(f"scanning {table}"):
        pages = dynamodb.get_paginator("scan").paginate(TableName=table, **received_between(since, until))
        for page in pages:
            for item in page.get("Items", []):
                event = plain(item)
                entry = (event["received_at"], event["event_id"], event)
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
    return [event for _, _, event in ordered], truncated
