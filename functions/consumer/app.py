"""consumer: SQS ingest queue → DynamoDB events table and/or the S3 analytics store (SINKS), with partial
batch responses.

With both sinks an event goes to S3 only once it is in the table, so a record that comes back for a
DynamoDB failure has not been written to S3 yet; an S3 failure sends the record back too (its item is
rewritten identically). S3 objects are keyed by their events (functions/common/analytics.py): a redelivered
batch overwrites its object. With S3 alone there is no table (no TABLE_NAME): a canary event, kept out of the
analytics objects, is written as its own small object under `canary/`, where the canary reads it back.

Each record ends one of three ways:
- stored: its event is in the table (Lambda deletes the message);
- retried: not stored for a reason that may pass (DynamoDB errors, throttling, unprocessed items, out of
  time): the message's visibility is set to the retry schedule's delay for its receive count
  (ChangeMessageVisibilityBatch), then it is reported in `batchItemFailures`; redrive dead-letters it
  after the retry window;
- poison: it can never be stored (not an envelope, an item DynamoDB rejects as invalid): it is sent to the
  dead-letter queue at once with its reason as a message attribute, and counts as done (Lambda deletes it
  from the ingest queue). When that send fails it is retried like any transient failure: nothing is lost.
"""

import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from functions.common import aws, env
from functions.common.analytics import analytics_objects, canary_key, canary_marker
from functions.common.canary import CANARY_ATTRIBUTE, EXPIRES_AT_ATTRIBUTE, expires_at, is_canary
from functions.common.clock import parse_iso, utc_now
from functions.common.envelope import Envelope, parse_envelope
from functions.common.errors import EnvelopeError, SluiceError
from functions.common.item import KEY, Item, encode
from functions.common.sqs import attribute, partial_batch_response, sqs_records
from functions.consumer.config import load_settings
from functions.consumer.first_write import already_stored
from functions.consumer.writer import BatchWriter

SERVICE = "consumer"
# Time kept back from the invocation's remaining time to answer before Lambda's timeout: a timeout
# returns no partial response and the whole batch comes back. A share of the time left, capped, so a
# short timeout (the local stack's 2 s) still leaves most of the invocation for writing.
SAFETY_MARGIN_SECONDS = 2.0
SAFETY_MARGIN_SHARE = 0.25

SQS_MAX_ENTRIES_PER_BATCH = 10
# A message attribute value counts towards the message's size: keep the reason short.
MAX_REASON_CHARS = 256
REASON_ATTRIBUTE = "dead_letter_reason"
SOURCE_ATTRIBUTE = "source_message_id"

SETTINGS = load_settings()
logger = Logger(service=env.service_name())
tracer = Tracer(service=env.service_name(), patch_modules=("botocore",))
metrics = EphemeralMetrics(service=env.service_name(), namespace=env.metrics_namespace())
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# No botocore retry: the queue's backoff is the retry. A retry inside the invocation would double the requests
# to a failing database and spend the invocation's time in its sleep: a timeout sets no backoff and burns a
# receive. (UnprocessedItems are still retried within the deadline by the writer.)
dynamodb = aws.client("dynamodb", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
sqs = aws.client("sqs")
s3 = aws.client("s3", config=Config(retries={"mode": "standard", "total_max_attempts": 2}))
writer = BatchWriter(dynamodb, SETTINGS.table_name, KEY) if SETTINGS.table_name else None


class RecordNotStored(SluiceError):
    """The record's event is not in the table; the record returns to the queue after its backoff."""


@dataclass(slots=True)
class Outcome:
    """What became of a batch's records, by message id."""

    retry: dict[str, str] = field(default_factory=dict)  # transient reason
    poison: dict[str, str] = field(default_factory=dict)  # why it can never be stored
    stored: list[Envelope] = field(default_factory=list)
    write_retries: int = 0
    objects_written: int = 0
    sink_errors: int = 0  # events the S3 sink failed to write (they come back)


def to_item(envelope: Envelope) -> Item:
    """The table item (functions/common/item.py): a pure function of the envelope, so a redelivery or a replay
    writes an identical item. A canary's is marked and expires SETTINGS.canary_ttl_seconds after it was received."""
    item = encode(envelope, SETTINGS.ttl_days)
    if is_canary(envelope.event_id):
        item[CANARY_ATTRIBUTE] = {"BOOL": True}
        item[EXPIRES_AT_ATTRIBUTE] = {"N": str(expires_at(envelope.received_at, SETTINGS.canary_ttl_seconds))}
    return item


@tracer.capture_method
def store_records(records: list[dict[str, Any]], deadline: float) -> Outcome:
    """Write the events of a batch and sort the records by outcome.

    Records carrying the same event id (redeliveries) collapse into one item and share its fate.
    """
    outcome = Outcome()
    envelopes: dict[str, Envelope] = {}
    records_of: defaultdict[str, list[str]] = defaultdict(list)
    for record in records:
        message_id = record["messageId"]
        try:
            envelope = parse_envelope(record.get("body"))
        except EnvelopeError as error:
            logger.warning("record is not a Sluice envelope", extra={"message_id": message_id, "reason": str(error)})
            outcome.poison[message_id] = f"not a Sluice envelope: {error}"
            continue
        envelopes.setdefault(envelope.event_id, envelope)  # the first delivery's metadata wins
        records_of[envelope.event_id].append(message_id)

    outcome.stored = list(envelopes.values())
    if writer is not None:
        # First write wins: an event already in the table (a retried Idempotency-Key) keeps its first metadata.
        stored_before = set(already_stored(dynamodb, SETTINGS.table_name, KEY, list(envelopes)))
        items = {
            event_id: to_item(envelope) for event_id, envelope in envelopes.items() if event_id not in stored_before
        }
        result = writer.write(items, deadline)
        for event_id, message_ids in records_of.items():
            for message_id in message_ids:
                if event_id in result.invalid:
                    outcome.poison[message_id] = f"DynamoDB rejects the item: {result.invalid[event_id]}"
                elif event_id in result.unwritten:
                    outcome.retry[message_id] = "event not written to DynamoDB"
        outcome.stored = [
            envelope
            for event_id, envelope in envelopes.items()
            if event_id not in result.unwritten and event_id not in result.invalid
        ]
        outcome.write_retries = result.retried
    # Events stored before go to the analytics store again: their first delivery may have failed there.
    if "s3" in SETTINGS.sinks and outcome.stored:
        unwritten = write_analytics(outcome)
        for event_id in unwritten:
            for message_id in records_of[event_id]:
                outcome.retry[message_id] = "event not written to the S3 analytics store"
        outcome.stored = [envelope for envelope in outcome.stored if envelope.event_id not in unwritten]
    return outcome


@tracer.capture_method
def write_analytics(outcome: Outcome) -> set[str]:
    """Put the stored events into the analytics store, one object per hour; returns the ids not written."""
    unwritten: set[str] = set()
    # The canary proves the pipeline; its events are not the clients' data to analyse.
    clients = [envelope for envelope in outcome.stored if not is_canary(envelope.event_id)]
    objects = {
        key: (body, ids, "application/x-ndjson")
        for key, (body, ids) in analytics_objects(SETTINGS.analytics_prefix, clients).items()
    }
    if writer is None:  # no table: the canary reads its event back from its own object
        canaries = (envelope for envelope in outcome.stored if is_canary(envelope.event_id))
        objects |= {canary_key(e.event_id): (canary_marker(e), [e.event_id], "application/json") for e in canaries}
    for key, (body, event_ids, content_type) in objects.items():
        try:
            s3.put_object(Bucket=SETTINGS.analytics_bucket, Key=key, Body=body, ContentType=content_type)
        except (BotoCoreError, ClientError):
            logger.exception("analytics object not written", extra={"key": key, "events": len(event_ids)})
            unwritten.update(event_ids)
            continue
        outcome.objects_written += 1
    outcome.sink_errors = len(unwritten)
    return unwritten


def _chunks(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [
        entries[start : start + SQS_MAX_ENTRIES_PER_BATCH]
        for start in range(0, len(entries), SQS_MAX_ENTRIES_PER_BATCH)
    ]


def _batch_call(call: Any, queue_url: str, entries: list[dict[str, Any]]) -> set[str]:
    """Send `entries` (whose Id is the message id) in batches of 10; returns the ids that failed."""
    failed: set[str] = set()
    for chunk in _chunks(entries):
        try:
            response = call(QueueUrl=queue_url, Entries=chunk)
        except (BotoCoreError, ClientError):
            logger.exception("SQS batch call failed", extra={"entries": len(chunk)})
            failed |= {entry["Id"] for entry in chunk}
            continue
        failed |= {entry["Id"] for entry in response.get("Failed", [])}
    return failed


def _safe_id(message_id: str) -> str:
    """A batch entry Id (alphanumerics, hyphens, underscores, ≤ 80): SQS message ids are UUIDs already."""
    return "".join(char if char.isalnum() or char in "-_" else "_" for char in message_id)[:80]


@tracer.capture_method
def dead_letter(records: dict[str, dict[str, Any]], reasons: Mapping[str, str]) -> set[str]:
    """Send poison records to the DLQ with their reason; returns the message ids that were not sent."""
    entries = [
        {
            "Id": _safe_id(message_id),
            "MessageBody": str(records[message_id].get("body") or ""),
            "MessageAttributes": {
                REASON_ATTRIBUTE: {"DataType": "String", "StringValue": reason[:MAX_REASON_CHARS]},
                SOURCE_ATTRIBUTE: {"DataType": "String", "StringValue": message_id},
            },
        }
        for message_id, reason in reasons.items()
    ]
    by_entry = {_safe_id(message_id): message_id for message_id in reasons}
    return {
        by_entry[entry_id] for entry_id in _batch_call(sqs.send_message_batch, SETTINGS.dead_letter_queue_url, entries)
    }


@tracer.capture_method
def back_off(records: dict[str, dict[str, Any]], message_ids: set[str]) -> None:
    """Keep each failed record invisible for its backoff; on its last receive redrive takes over."""
    entries = []
    for message_id in message_ids:
        visibility = SETTINGS.backoff.visibility(_receive_count(records[message_id]))
        receipt = records[message_id].get("receiptHandle")
        if visibility is not None and isinstance(receipt, str) and receipt:
            entries.append({"Id": _safe_id(message_id), "ReceiptHandle": receipt, "VisibilityTimeout": visibility})
    failed = _batch_call(sqs.change_message_visibility_batch, SETTINGS.queue_url, entries)
    if failed:  # harmless: those come back after the queue's visibility timeout instead
        logger.warning("backoff not set", extra={"messages": len(failed)})


def _receive_count(record: dict[str, Any]) -> int:
    text = attribute(record, "ApproximateReceiveCount")
    return int(text) if text is not None and text.isascii() and text.isdigit() else 1


def _sent_at_seconds(record: dict[str, Any]) -> float | None:
    text = attribute(record, "SentTimestamp")
    return int(text) / 1000 if text is not None and text.isascii() and text.isdigit() else None


def _record_metrics(outcome: Outcome, received: int, waiting: list[dict[str, Any]], dead_lettered: int) -> None:
    now = utc_now()
    for envelope in outcome.stored:
        lag = (now - parse_iso(envelope.received_at)).total_seconds() * 1000
        metrics.add_metric(name="IngestLag", unit=MetricUnit.Milliseconds, value=max(lag, 0.0))
    sent = [at for at in map(_sent_at_seconds, waiting) if at is not None]
    if sent:
        # how long the oldest event put back to wait has been in the queue: the retry window's clock
        metrics.add_metric(name="OldestRetryAge", unit=MetricUnit.Seconds, value=max(now.timestamp() - min(sent), 0.0))
    # Powertools flushes by itself at 100 values of a metric: adding the counts last keeps the set
    # it flushes at the end of the invocation non-empty.
    metrics.add_metric(name="EventsStored", unit=MetricUnit.Count, value=len(outcome.stored))
    metrics.add_metric(name="WriteRetries", unit=MetricUnit.Count, value=outcome.write_retries)
    if "s3" in SETTINGS.sinks:
        metrics.add_metric(name="AnalyticsObjectsWritten", unit=MetricUnit.Count, value=outcome.objects_written)
        metrics.add_metric(name="AnalyticsSinkErrors", unit=MetricUnit.Count, value=outcome.sink_errors)
    # The batch's records, and those put back (EventsWaitingOnRetry): Lambda's Errors never counts a record reported
    # in batchItemFailures, so the share of records failed is ours to publish.
    metrics.add_metric(name="RecordsReceived", unit=MetricUnit.Count, value=received)
    metrics.add_metric(name="EventsWaitingOnRetry", unit=MetricUnit.Count, value=len(waiting))
    metrics.add_metric(name="EventsDeadLettered", unit=MetricUnit.Count, value=dead_lettered)


def settle(records: list[dict[str, Any]], outcome: Outcome) -> dict[str, str]:
    """Dead-letter the poison, back off the rest of the failures; returns {messageId: reason} of the records
    that return to the queue."""
    by_id = {record["messageId"]: record for record in records}
    failures = dict(outcome.retry)
    not_moved = dead_letter(by_id, outcome.poison) if outcome.poison else set()
    failures |= {message_id: "poison not moved to the DLQ yet" for message_id in not_moved}
    back_off(by_id, set(failures))
    _record_metrics(
        outcome, len(records), [by_id[message_id] for message_id in failures], len(outcome.poison) - len(not_moved)
    )
    return failures


def _confirm_stored(record: SQSRecord, failures: Mapping[str, str]) -> None:
    reason = failures.get(record.message_id)
    if reason is not None:
        raise RecordNotStored(reason)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Store a batch of envelopes; `batchItemFailures` lists exactly the records not stored and not
    dead-lettered, each kept invisible for its backoff."""
    records = sqs_records(event)
    remaining = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + remaining - min(SAFETY_MARGIN_SECONDS, SAFETY_MARGIN_SHARE * remaining)
    failures = settle(records, store_records(records, deadline))
    return partial_batch_response(event, records, partial(_confirm_stored, failures=failures), processor, context)
