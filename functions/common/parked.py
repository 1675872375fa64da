"""Parked events: what the consumer could not store while the store fails, kept in S3 until it answers.

The consumer writes one object per batch under `parked/events/` (functions/consumer/parking.py); the retrier
(functions/retrier/) sends each object back to the ingest queue once the store answers, or to the dead-letter
queue once its events' retry window is spent. An object's key starts with the newest retry clock among its
events, so a listing (ListObjectsV2 returns general purpose buckets' keys in lexicographical order) yields
objects in the order their windows end.

Each line of an object (gzip JSON Lines, the archive's format): the message body (the envelope as the queue
carried it), the event's retry clock (epoch milliseconds: when its retry window started) and the SQS message id
it arrived as.

The breaker's state (`parked/breaker.json`) tells the retrier whether the consumers' last word on the store was
"answering" (unpark) or "failing" (hold). A consumer writes it on every transition and on every failed probe, so
"failing" stays fresh while the store fails and anyone probes it; a "failing" older than a few probe intervals is
an environment that opened and then went idle, and no longer holds the parked events back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from functions.common.archive import read_archive_lines, write_archive_lines

PARKING_ROOT = "parked/"  # everything of parking lives under it (the template scopes the functions' access to it)
PARKED_PREFIX = f"{PARKING_ROOT}events/"
BREAKER_KEY = f"{PARKING_ROOT}breaker.json"
# The message attribute an unparked event carries its retry clock in (epoch ms, a Number): its window keeps
# counting from acceptance, not from the new send.
RETRY_SINCE_ATTRIBUTE = "retry_since"
# The message attribute of a pointer: the key of a parked object the consumer is to handle (the message's body
# is the key too, for a person reading the queue)
POINTER_ATTRIBUTE = "parked_key"
# A "failing" the consumers have not refreshed for this many probe intervals is stale: an environment that opened
# and went idle must not hold the parked events back (the environments still probing refresh it every interval).
BREAKER_FRESH_PROBES = 3
_KEY_TIME_FORMAT = "%Y%m%dT%H%M%S"


@dataclass(frozen=True, slots=True)
class ParkedEvent:
    body: str
    retry_since_ms: int
    message_id: str


def parked_key(newest_retry_since_ms: int, object_id: str) -> str:
    """`parked/events/20261206T201500.123Z-<object id>.jsonl.gz`: fixed width, so listing order is time order."""
    moment = datetime.fromtimestamp(newest_retry_since_ms / 1000, UTC)
    millis = newest_retry_since_ms % 1000
    return f"{PARKED_PREFIX}{moment.strftime(_KEY_TIME_FORMAT)}.{millis:03d}Z-{object_id}.jsonl.gz"


def key_retry_since_ms(key: str) -> int | None:
    """The newest retry clock in a parked object, read from its key; None for a key that is not one."""
    if not key.startswith(PARKED_PREFIX):
        return None
    stamp = key[len(PARKED_PREFIX) :].split("Z-", 1)[0]
    try:
        seconds, millis = stamp.split(".")
        moment = datetime.strptime(seconds, _KEY_TIME_FORMAT).replace(tzinfo=UTC)
        return int(moment.timestamp()) * 1000 + int(millis)
    except ValueError:
        return None


def write_parked(events: list[ParkedEvent]) -> bytes:
    return write_archive_lines(
        [{"body": e.body, "retry_since": e.retry_since_ms, "message_id": e.message_id} for e in events]
    )


def read_parked(data: bytes) -> list[ParkedEvent]:
    """The events of a parked object; ValueError when it is not one."""
    events = []
    for line in read_archive_lines(data):
        body, since, message_id = line.get("body"), line.get("retry_since"), line.get("message_id")
        if not (isinstance(body, str) and isinstance(since, int) and isinstance(message_id, str)):
            raise ValueError("not a parked-events line")
        events.append(ParkedEvent(body, since, message_id))
    return events


def breaker_document(is_open: bool, written_at_ms: int) -> bytes:
    return json.dumps({"open": is_open, "written_at_ms": written_at_ms}, sort_keys=True).encode()


def breaker_is_open(document: Any, now_ms: int | None = None, fresh_ms: int | None = None) -> bool:
    """What the breaker object says: open, and (given `now_ms` and `fresh_ms`) written within `fresh_ms`. Anything
    unreadable counts as closed (the retrier then points, and a consumer whose store still fails leaves the events
    where they are: nothing is lost either way)."""
    try:
        state = json.loads(document)
        is_open, written = state.get("open") is True, state.get("written_at_ms")
    except (ValueError, AttributeError, TypeError):
        return False
    if now_ms is None or fresh_ms is None:
        return is_open
    return is_open and isinstance(written, int) and now_ms - written < fresh_ms
