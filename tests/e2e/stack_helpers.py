"""What e2e tests read from a shared local stack about THEIR OWN events (by id or by a marker in the event), never
stack-wide counts the canary or a neighbouring test moves; and the stack's alarm names, as the alarm table
builds them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from alarms.table import Tier, alarm_name
from cloudformation.config import load_config
from functions.common.archive import ARCHIVE_PREFIX, read_archive_lines
from functions.common.item import decode
from local.background import BackgroundStack
from tests.e2e.clients import drained

LOCAL = load_config("local")
DRAIN_TIMEOUT_SECONDS = 60


def alarm(row: str, tier: Tier) -> str:
    """The local stack's name of the alarm `row` at `tier` (alarms/table.py's own function)."""
    return alarm_name(LOCAL, row, tier)


def stored_items(stack: BackgroundStack, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The table items of `ids` that exist, by event id (raw DynamoDB items: `decode` reads them)."""
    dynamodb, table = stack.client("dynamodb"), stack.outputs["TableName"]
    found: dict[str, dict[str, Any]] = {}
    wanted = list(dict.fromkeys(ids))
    for start in range(0, len(wanted), 100):  # BatchGetItem takes at most 100 keys
        request = {
            table: {"Keys": [{"event_id": {"S": i}} for i in wanted[start : start + 100]], "ConsistentRead": True}
        }
        for _ in range(10):
            response = dynamodb.batch_get_item(RequestItems=request)
            found.update({item["event_id"]["S"]: item for item in response["Responses"].get(table, [])})
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        assert not request, "DynamoDB kept returning unprocessed keys"
    return found


def stored_events_holding(stack: BackgroundStack, marker: str) -> dict[str, str]:
    """Event id → raw text of every stored event whose text contains `marker` (a scan: for events whose ids the
    test never learnt, or to count how many times its events were stored)."""
    pages = (
        stack.client("dynamodb")
        .get_paginator("scan")
        .paginate(TableName=stack.outputs["TableName"], ConsistentRead=True)
    )
    events = (decode(item) for page in pages for item in page["Items"])
    return {event["event_id"]: event["raw"] for event in events if marker in event["raw"]}


def assert_never_stored(stack: BackgroundStack, marker: str) -> None:
    """No event holding `marker` is stored, judged once an event posted after it is stored and the ingest
    queue has drained: an event accepted before then would be in the table, or still queued, by that time."""
    later = stack.post_events({"posted_after": "a refused request"})
    assert later.status_code == 202, later.text
    stack.wait_stored(later.json()["ids"], DRAIN_TIMEOUT_SECONDS)
    stack.wait_until(drained, DRAIN_TIMEOUT_SECONDS, "the ingest queue to drain")
    assert stored_events_holding(stack, marker) == {}


def all_archived_lines(stack: BackgroundStack) -> Iterator[dict[str, Any]]:
    """Every line of every archive object (the archiver's gzip JSON lines under dlq/)."""
    s3, bucket = stack.client("s3"), stack.outputs["ArchiveBucket"]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{ARCHIVE_PREFIX}/"):
        for item in page.get("Contents", []):
            yield from read_archive_lines(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())


def archived_lines(stack: BackgroundStack, ids: set[str]) -> dict[str, dict[str, Any]]:
    """The archive's lines of the events `ids`, by event id."""
    return {line["event_id"]: line for line in all_archived_lines(stack) if line["event_id"] in ids}


def archived_bodies(stack: BackgroundStack, bodies: set[str]) -> dict[str, dict[str, Any]]:
    """The archive's lines whose message body is one of `bodies` (poison has no event id), by body."""
    return {line["body"]: line for line in all_archived_lines(stack) if line["body"] in bodies}
