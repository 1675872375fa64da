"""Parked objects coming back: the retrier sends one small message per parked object (its key, in the
`parked_key` attribute), and the consumer reads the object and handles its events as records of the batch.

So a drain after an outage runs at the consumer's own throughput: the retrier sends one message per object of up to
a batch of events, and the events never travel through the queue again. Each event becomes a record of its own
(`<pointer message id>/<position>`), carrying its retry clock and the message id it first came as.

An object is the home of its events until they are stored or dead-lettered: what the consumer does not store now
(the store fails, the breaker is open, the invocation runs out of time) stays in the same object under the same
key — rewritten without what left it, or untouched — never merged into another. So objects never grow, and an
object's key keeps naming its newest event, which the retrier's window test reads. A pointer itself is always done:
the object is the truth, and the retrier points at whatever is still parked on its next run.
"""

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from functions.common.parked import POINTER_ATTRIBUTE, RETRY_SINCE_ATTRIBUTE, ParkedEvent, read_parked, write_parked

logger = Logger(child=True)  # named after POWERTOOLS_SERVICE_NAME

SOURCE_MESSAGE_ID = "sourceMessageId"  # on an unparked event's record: the message id it first came as
# The most events one invocation takes from parked objects: prod's full batch of pointers to full objects (100 × 100),
# which it writes well within its timeout, but not an S3-only environment's (1,000 × 1,000). Pointers past it are
# done without reading: their objects stay parked for the retrier's next run.
MAX_UNPARKED_EVENTS = 10_000
READERS = 8  # objects read side by side: each read mostly waits on S3


@dataclass(slots=True)
class PointedObject:
    key: str
    events: list[ParkedEvent]
    record_ids: list[str]  # the records its events became, in the same order


@dataclass(slots=True)
class Unparked:
    records: list[dict[str, Any]]
    """The batch's own records, without the pointers, plus one record per event of each pointed object."""
    objects: list[PointedObject] = field(default_factory=list)
    skipped: int = 0
    """Pointers not read (past MAX_UNPARKED_EVENTS, unreadable now, or not parked events): their objects stay."""

    @property
    def events(self) -> int:
        return sum(len(pointed.events) for pointed in self.objects)

    @property
    def pointers(self) -> int:
        return len(self.objects) + self.skipped


def pointer_key(record: Mapping[str, Any]) -> str | None:
    attributes = record.get("messageAttributes")
    value = attributes.get(POINTER_ATTRIBUTE) if isinstance(attributes, dict) else None
    key = value.get("stringValue") if isinstance(value, dict) else None
    return key if isinstance(key, str) and key else None


def unpark(records: list[dict[str, Any]], read: Callable[[str], list[ParkedEvent] | None]) -> Unparked:
    """Replace each pointer with its object's events (up to MAX_UNPARKED_EVENTS in all). `read` returns the events,
    [] when the object is gone (an earlier delivery of the pointer handled it), and None when it cannot be read now
    or is not a parked-events object."""
    unparked = Unparked(records=[record for record in records if pointer_key(record) is None])
    pointers = [(record["messageId"], key) for record in records if (key := pointer_key(record)) is not None]
    taken = 0
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        for start in range(0, len(pointers), READERS):  # read a round side by side; stop reading at the cap
            if taken >= MAX_UNPARKED_EVENTS:
                unparked.skipped += len(pointers) - start
                break
            round_ = pointers[start : start + READERS]
            for (pointer, key), events in zip(round_, pool.map(lambda p: read(p[1]), round_), strict=True):
                if events is None or taken + len(events) > MAX_UNPARKED_EVENTS:
                    unparked.skipped += 1
                    continue
                taken += len(events)
                record_ids = [f"{pointer}/{position}" for position in range(len(events))]
                unparked.objects.append(PointedObject(key, events, record_ids))
                unparked.records += [_record(rid, event) for rid, event in zip(record_ids, events, strict=True)]
    return unparked


def _record(record_id: str, event: ParkedEvent) -> dict[str, Any]:
    return {
        "messageId": record_id,
        "body": event.body,
        "attributes": {},
        "messageAttributes": {RETRY_SINCE_ATTRIBUTE: {"stringValue": str(event.retry_since_ms), "dataType": "Number"}},
        SOURCE_MESSAGE_ID: event.message_id,
    }


def unparked_record_ids(unparked: Unparked) -> set[str]:
    return {record_id for pointed in unparked.objects for record_id in pointed.record_ids}


def source_message_id(record: Mapping[str, Any]) -> str:
    """The message id a record's event first came as (an unparked event keeps its own)."""
    source = record.get(SOURCE_MESSAGE_ID)
    return source if isinstance(source, str) else str(record["messageId"])


def read_parked_object(s3: Any, bucket: str, key: str) -> list[ParkedEvent] | None:
    try:
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return []
    except (BotoCoreError, ClientError):
        logger.exception("parked object not readable now: left for the retrier's next run", extra={"key": key})
        return None
    try:
        return read_parked(data)
    except (ValueError, OSError, EOFError):
        # Not ours to drop: left in place for a person (the retrier keeps listing it; the runbook says what to do).
        logger.error("parked object is not a parked-events object: left in place", extra={"key": key})
        return None


def settle_objects(s3: Any, bucket: str, unparked: Unparked, still_parked: set[str]) -> None:
    """Each pointed object keeps exactly its events whose records are in `still_parked`: deleted when none is,
    rewritten under its own key when some left it, untouched when all stay. Best effort: an object left as it was
    is pointed at again, and its events already stored are rewritten identically."""
    for pointed in unparked.objects:
        pairs = zip(pointed.events, pointed.record_ids, strict=True)
        remaining = [event for event, record_id in pairs if record_id in still_parked]
        if len(remaining) == len(pointed.events):
            continue
        try:
            if remaining:
                s3.put_object(Bucket=bucket, Key=pointed.key, Body=write_parked(remaining))
            else:
                s3.delete_object(Bucket=bucket, Key=pointed.key)
        except (BotoCoreError, ClientError):
            logger.exception("handled parked object not updated", extra={"key": pointed.key})
