"""The SQS batch event Lambda receives, checked before Powertools' batch processor reads it."""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

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


def partial_batch_response(
    event: dict[str, Any],
    records: list[dict[str, Any]],
    record_handler: Callable[[SQSRecord], None],
    processor: BatchProcessor,
    context: LambdaContext,
) -> PartialItemFailureResponse:
    """Powertools' partial batch response: `record_handler` raises for each record that goes back to the queue.
    Lambda never sends an empty batch, and Powertools would refuse one: an empty one fails nothing."""
    if not records:
        return {"batchItemFailures": []}
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
