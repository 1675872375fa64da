"""archiver: SQS dead-letter queue → one gzip JSON Lines object in S3 per batch."""

from datetime import datetime
from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from ulid import ULID

from functions.archiver.config import load_settings
from functions.common import aws, metric_names, powertools
from functions.common.archive import archive_key, write_archive_lines
from functions.common.clock import iso_millis, utc_now
from functions.common.contract import DEAD_LETTER_REASON_ATTRIBUTE
from functions.common.envelope import parse_envelope
from functions.common.errors import EnvelopeError, SluiceError
from functions.common.sqs import attribute, partial_batch_response, sqs_records

SETTINGS = load_settings()
logger, tracer, metrics = powertools.handler_tools()
# A batch is one object: when it is not written, no record is, and the invocation fails (BatchProcessingError)
# so that Lambda counts an error and archiver-errors pages; a batch of item failures alone would be silent.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=True)
s3 = aws.client("s3")


class RecordNotArchived(SluiceError):
    """The batch's archive object was not written; the record stays in the DLQ."""


def _integer(text: str | None) -> int | None:
    return int(text) if text is not None and text.isascii() and text.isdigit() else None


def _event_id(body: Any) -> str | None:
    try:
        return parse_envelope(body).event_id
    except EnvelopeError:
        return None


def _reason(record: dict[str, Any]) -> str | None:
    """Why the consumer or the retrier dead-lettered the message (its `dead_letter_reason` attribute); None when
    the redrive policy moved it (after maxReceiveCount failed receives)."""
    attributes = record.get("messageAttributes")
    value = attributes.get(DEAD_LETTER_REASON_ATTRIBUTE) if isinstance(attributes, dict) else None
    reason = value.get("stringValue") if isinstance(value, dict) else None
    return reason if isinstance(reason, str) else None


def archive_line(record: dict[str, Any], archived_at: str) -> dict[str, Any]:
    body = record.get("body")
    return {
        "message_id": record["messageId"],
        "body": body if isinstance(body, str) else None,
        "receive_count": _integer(attribute(record, "ApproximateReceiveCount")),
        "sent_timestamp": _integer(attribute(record, "SentTimestamp")),
        "first_receive_timestamp": _integer(attribute(record, "ApproximateFirstReceiveTimestamp")),
        "archived_at": archived_at,
        "event_id": _event_id(body),
        "reason": _reason(record),
    }


@tracer.capture_method
def archive_records(records: list[dict[str, Any]], now: datetime) -> bool:
    """Put the batch as one object; True when it is stored (or there was nothing to store)."""
    if not records:
        return True
    key = archive_key(SETTINGS.prefix, now, str(ULID.from_datetime(now)))
    body = write_archive_lines([archive_line(record, iso_millis(now)) for record in records])
    try:
        # Encryption comes from the bucket's default; no KMS arguments here.
        s3.put_object(Bucket=SETTINGS.bucket, Key=key, Body=body, ContentType="application/gzip")
    except (BotoCoreError, ClientError):
        logger.exception("PutObject failed: the batch stays in the DLQ", extra={"records": len(records)})
        return False
    logger.info("batch archived", extra={"records": len(records), "key": key})
    return True


def _confirm_archived(record: SQSRecord, archived: bool) -> None:
    if not archived:
        raise RecordNotArchived(f"archive object for message {record.message_id} was not written")


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Archive a DLQ batch as one object; when that fails the invocation fails and the batch stays in the DLQ."""
    records = sqs_records(event)
    archived = archive_records(records, utc_now())
    metrics.add_metric(name=metric_names.EVENTS_ARCHIVED, unit=MetricUnit.Count, value=len(records) if archived else 0)
    return partial_batch_response(event, records, partial(_confirm_archived, archived=archived), processor, context)
