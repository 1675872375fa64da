"""Parked objects coming back: the retrier sends one small message per parked object (its key, in the
`parked_key` attribute), and the consumer reads the object and handles its events as records of the batch.

So a drain after an outage runs at the consumer's own throughput: the retrier sends one message per object of up to
a batch of events, and the events never travel through the queue again. Each event becomes a record of its own
(`<pointer message id>/<position>`), carrying its retry clock and the message id it first came as; the pointer is
done when every one of its events is stored, parked anew or dead-lettered, and then its object is deleted.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from functions.common.parked import POINTER_ATTRIBUTE, RETRY_SINCE_ATTRIBUTE, ParkedEvent, read_parked

logger = Logger(child=True)  # named after POWERTOOLS_SERVICE_NAME

SOURCE_MESSAGE_ID = "sourceMessageId"  # on an unparked event's record: the message id it first came as


@dataclass(slots=True)
class Unparked:
    records: list[dict[str, Any]]
    """The batch's own records, without the pointers, plus one record per event of each pointed object."""
    events_of: dict[str, list[str]] = field(default_factory=dict)
    """Pointer message id → the message ids of its events' records."""
    keys: dict[str, str] = field(default_factory=dict)
    """Pointer message id → its object's key."""
    unreadable: set[str] = field(default_factory=set)
    """Pointers whose object could not be read now: they return to the queue."""
    corrupt: set[str] = field(default_factory=set)
    """Pointers whose object is not a parked-events object: done, and the object left for a person."""

    @property
    def events(self) -> int:
        return sum(len(ids) for ids in self.events_of.values())


def pointer_key(record: Mapping[str, Any]) -> str | None:
    attributes = record.get("messageAttributes")
    value = attributes.get(POINTER_ATTRIBUTE) if isinstance(attributes, dict) else None
    key = value.get("stringValue") if isinstance(value, dict) else None
    return key if isinstance(key, str) and key else None


def unpark(records: list[dict[str, Any]], read: Callable[[str], list[ParkedEvent] | None]) -> Unparked:
    """Replace each pointer with its object's events. `read` returns the events, [] when the object is gone
    (an earlier delivery of the pointer handled it), None when it cannot be read now, and raises ValueError
    when the object is not a parked-events object."""
    unparked = Unparked(records=[])
    for record in records:
        key = pointer_key(record)
        if key is None:
            unparked.records.append(record)
            continue
        pointer = record["messageId"]
        try:
            events = read(key)
        except ValueError:
            logger.error("parked object is not a parked-events object: left in place", extra={"key": key})
            unparked.corrupt.add(pointer)
            continue
        if events is None:
            unparked.unreadable.add(pointer)
            continue
        unparked.keys[pointer] = key
        unparked.events_of[pointer] = []
        for position, event in enumerate(events):
            message_id = f"{pointer}/{position}"
            unparked.events_of[pointer].append(message_id)
            unparked.records.append(
                {
                    "messageId": message_id,
                    "body": event.body,
                    "attributes": {},
                    "messageAttributes": {
                        RETRY_SINCE_ATTRIBUTE: {"stringValue": str(event.retry_since_ms), "dataType": "Number"}
                    },
                    SOURCE_MESSAGE_ID: event.message_id,
                }
            )
    return unparked


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
        logger.exception("parked object not readable now: its pointer returns to the queue", extra={"key": key})
        return None
    try:
        return read_parked(data)
    except (OSError, EOFError) as error:  # not gzip: not ours to drop (the retrier lists it; a person looks)
        raise ValueError(str(error)) from error


def delete_parked_object(s3: Any, bucket: str, key: str) -> None:
    """Best effort: an object left behind is pointed at again and its events, already stored, are rewritten
    identically."""
    try:
        s3.delete_object(Bucket=bucket, Key=key)
    except (BotoCoreError, ClientError):
        logger.exception("handled parked object not deleted", extra={"key": key})
