"""The SQS batch event Lambda receives, checked before Powertools' batch processor reads it."""

from typing import Any

from functions.common.errors import InvalidEventError


def sqs_records(event: Any) -> list[dict[str, Any]]:
    """The event's records, each a dict with a non-empty string messageId.

    A record without a usable messageId cannot be reported as a batch item failure, so such an event
    is refused as a whole (Lambda then retries the entire batch) instead of being half processed.
    """
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise InvalidEventError("event has no Records list: not an SQS batch")
    for position, record in enumerate(records):
        message_id = record.get("messageId") if isinstance(record, dict) else None
        if not isinstance(message_id, str) or not message_id:
            raise InvalidEventError(f"SQS record {position} has no messageId")
    return records


def attribute(record: dict[str, Any], name: str) -> str | None:
    """A system attribute of a record (e.g. ApproximateReceiveCount), or None when absent."""
    attributes = record.get("attributes")
    value = attributes.get(name) if isinstance(attributes, dict) else None
    return value if isinstance(value, str) else None
