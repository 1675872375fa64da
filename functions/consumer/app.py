"""consumer: SQS ingest queue → DynamoDB events table and/or the S3 analytics store (SINKS), with partial
batch responses.

With both sinks an event goes to S3 only once it is in the table, so a record that comes back for a
DynamoDB failure has not been written to S3 yet; an S3 failure sends the record back too (its item is
rewritten identically). S3 objects are keyed by their events (functions/common/analytics.py): a redelivered
batch overwrites its object; a regrouped redelivery or a replay adds a copy of identical lines in the same hour's
partition, which the Glue view `events` reads once; a same-key resend of an event the table holds is not written
again (first_write.py). With S3 alone there is no table (no TABLE_NAME): a canary event, kept out of the
analytics objects, is written as its own small object under `canary/`, where the canary reads it back.

Each record ends one of three ways, and none waits in flight (SQS holds ~120,000 in-flight messages per
queue; a retry parked there stalls the queue at any real rate):
- stored: its event is in the store (Lambda deletes the message);
- parked: not stored for a reason that may pass (the store fails, throttles or ran out of time): the batch's
  unstored events are written to S3 as one object (functions/common/parked.py) and the records are done. The
  circuit breaker (breaker.py) then spares the failing store: until its probe interval passes, batches are
  parked without a store call. The retrier (functions/retrier/) sends a pointer to each parked object once the
  store answers (or once its window is spent); the consumer reads the object and handles its events as records
  of the batch (unparking.py): what it does not store stays in that object, the object goes once it is empty;
- dead-lettered at once, with its reason as a message attribute: poison (not an envelope, an item DynamoDB
  rejects as invalid) and events whose retry window — counted from acceptance, not from a first receive —
  is spent and that still could not be stored.
A record that could be neither parked nor dead-lettered (S3 or SQS failing too) returns to the queue
(batchItemFailures) and comes back after the queue's visibility timeout; the redrive policy dead-letters it after
maxReceiveCount receives.
"""

import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from functions.common import aws, metric_names, powertools
from functions.common.analytics import analytics_objects, canary_key, canary_marker
from functions.common.canary import expires_at, is_canary
from functions.common.clock import parse_iso, utc_now
from functions.common.contract import CANARY_ATTRIBUTE, EXPIRES_AT_ATTRIBUTE
from functions.common.dead_letter import RETRY_WINDOW_SPENT, dead_letter_entry, safe_entry_id
from functions.common.envelope import Envelope, parse_envelope
from functions.common.errors import EnvelopeError, SluiceError
from functions.common.item import KEY, Item, encode
from functions.common.parked import RETRY_SINCE_ATTRIBUTE, ParkedEvent
from functions.common.sqs import attribute, partial_batch_response, sqs_records
from functions.common.sqs_send import send_entries
from functions.consumer.breaker import Breaker, Transition
from functions.consumer.config import load_settings
from functions.consumer.first_write import already_stored, is_resend
from functions.consumer.parking import park, publish_breaker
from functions.consumer.unparking import (
    read_parked_object,
    settle_objects,
    source_message_id,
    unpark,
    unparked_record_ids,
)
from functions.consumer.writer import BatchWriter

# Time kept back from the invocation's remaining time to answer before Lambda's timeout: a timeout
# returns no partial response and the whole batch comes back. A share of the time left, capped, so a
# short timeout (the local stack's 2 s) still leaves most of the invocation for writing.
SAFETY_MARGIN_SECONDS = 2.0
SAFETY_MARGIN_SHARE = 0.25


SETTINGS = load_settings()
logger, tracer, metrics = powertools.handler_tools()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# No botocore retry: parking and the breaker's probe are the retry. A retry inside the invocation would multiply
# the requests to a failing database and spend the invocation's time in its sleep. (UnprocessedItems are still
# retried within the deadline by the writer.)
dynamodb = aws.client("dynamodb", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
sqs = aws.client("sqs")
s3 = aws.client("s3", config=Config(retries={"mode": "standard", "total_max_attempts": 2}))
writer = BatchWriter(dynamodb, SETTINGS.table_name, KEY) if SETTINGS.table_name else None
breaker = Breaker(SETTINGS.probe_interval_seconds)


class RecordNotStored(SluiceError):
    """The record's event is neither stored, parked nor dead-lettered; it returns to the queue."""


@dataclass(slots=True)
class Outcome:
    """What became of a batch's records, by message id."""

    unstored: dict[str, str] = field(default_factory=dict)  # not stored, for a reason that may pass
    poison: dict[str, str] = field(default_factory=dict)  # why it can never be stored
    stored: list[Envelope] = field(default_factory=list)
    write_retries: int = 0
    objects_written: int = 0
    sink_errors: int = 0  # events the analytics store failed to write (they are parked)
    store_failed: bool = False  # a store call failed (running out of time is not a failure: the breaker stays)


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

    if not envelopes:  # all poison: nothing to tell the breaker about the store
        return outcome
    if not breaker.allows_store():
        for message_ids in records_of.values():
            outcome.unstored |= dict.fromkeys(message_ids, "the store is failing (breaker open): parked without a call")
        return outcome
    probing = breaker.is_open
    _write(outcome, envelopes, records_of, deadline)
    transition = breaker.record(stored_all=not outcome.store_failed)
    if transition is not Transition.NONE:
        logger.warning("breaker " + transition.value, extra={"unstored": len(outcome.unstored)})
    if transition is not Transition.NONE or probing:  # a failed probe keeps "failing" fresh for the retrier
        publish_breaker(s3, SETTINGS.parking_bucket, is_open=breaker.is_open)
    return outcome


def _write(
    outcome: Outcome, envelopes: dict[str, Envelope], records_of: Mapping[str, list[str]], deadline: float
) -> None:
    """Write to the sinks; fills `outcome`'s stored, unstored and poison."""
    outcome.stored = list(envelopes.values())
    resent: set[str] = set()
    if writer is not None:
        # First write wins: an event already in the table (a retried Idempotency-Key) keeps its first metadata.
        stored_before = already_stored(dynamodb, SETTINGS.table_name, KEY, list(envelopes))
        # A resend's event reaches the analytics store with the delivery the table holds (that one goes there
        # until it is written): a copy of the resend would be a second line, in another hour's partition maybe.
        resent = {event_id for event_id, item in stored_before.items() if is_resend(item, envelopes[event_id])}
        items = {
            event_id: to_item(envelope) for event_id, envelope in envelopes.items() if event_id not in stored_before
        }
        result = writer.write(items, deadline)
        for event_id, message_ids in records_of.items():
            for message_id in message_ids:
                if event_id in result.invalid:
                    outcome.poison[message_id] = f"DynamoDB rejects the item: {result.invalid[event_id]}"
                elif event_id in result.unwritten:
                    outcome.unstored[message_id] = "event not written to DynamoDB"
        outcome.stored = [
            envelope
            for event_id, envelope in envelopes.items()
            if event_id not in result.unwritten and event_id not in result.invalid
        ]
        outcome.write_retries = result.retried
        outcome.store_failed = result.failed
    # Events stored before go to the analytics store again when this is the delivery the table holds: its
    # analytics write may have failed. (A copy written twice is one row of the `events` view: same hour, same id.)
    if "s3" in SETTINGS.sinks and outcome.stored:
        unwritten = write_analytics(outcome, skip=resent)
        for event_id in unwritten:
            for message_id in records_of[event_id]:
                outcome.unstored[message_id] = "event not written to the S3 analytics store"
        outcome.stored = [envelope for envelope in outcome.stored if envelope.event_id not in unwritten]
        outcome.store_failed = outcome.store_failed or bool(unwritten)


@tracer.capture_method
def write_analytics(outcome: Outcome, skip: set[str]) -> set[str]:
    """Put the stored events but `skip` (resends: another delivery carries them) into the analytics store, one
    object per hour; returns the ids not written."""
    unwritten: set[str] = set()
    # The canary proves the pipeline; its events are not the clients' data to analyse.
    clients = [e for e in outcome.stored if not is_canary(e.event_id) and e.event_id not in skip]
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


@tracer.capture_method
def dead_letter(records: dict[str, dict[str, Any]], reasons: Mapping[str, str]) -> set[str]:
    """Send records to the DLQ with their reason; returns the message ids that were not sent."""
    entries = [
        dead_letter_entry(safe_entry_id(mid), source_message_id(records[mid]), str(records[mid].get("body") or ""), why)
        for mid, why in reasons.items()
    ]
    by_entry = {safe_entry_id(message_id): message_id for message_id in reasons}
    failed = send_entries(sqs, SETTINGS.dead_letter_queue_url, entries, _log_send_error)
    return {by_entry[failed_id] for failed_id in failed}


def _log_send_error(error: Exception) -> None:
    logger.exception("SendMessageBatch to the DLQ failed", extra={"error": str(error)})


def retry_since_ms(record: dict[str, Any], now_ms: int) -> int:
    """When the record's retry window started: the clock an unparked message carries, else when ingest sent it
    (a replay starts a new window), else now."""
    attributes = record.get("messageAttributes")
    carried = attributes.get(RETRY_SINCE_ATTRIBUTE) if isinstance(attributes, dict) else None
    for text in (carried.get("stringValue") if isinstance(carried, dict) else None, attribute(record, "SentTimestamp")):
        if isinstance(text, str) and text.isascii() and text.isdigit():
            return int(text)
    return now_ms


def _record_metrics(outcome: Outcome, received: int, waiting: int, dead_lettered: int, window_spent: int) -> None:
    now = utc_now()
    for envelope in outcome.stored:
        lag = (now - parse_iso(envelope.received_at)).total_seconds() * 1000
        metrics.add_metric(name=metric_names.INGEST_LAG, unit=MetricUnit.Milliseconds, value=max(lag, 0.0))
    # Powertools flushes by itself at 100 values of a metric: adding the counts last keeps the set
    # it flushes at the end of the invocation non-empty.
    metrics.add_metric(name=metric_names.EVENTS_STORED, unit=MetricUnit.Count, value=len(outcome.stored))
    metrics.add_metric(name=metric_names.WRITE_RETRIES, unit=MetricUnit.Count, value=outcome.write_retries)
    if "s3" in SETTINGS.sinks:
        metrics.add_metric(
            name=metric_names.ANALYTICS_OBJECTS_WRITTEN, unit=MetricUnit.Count, value=outcome.objects_written
        )
        metrics.add_metric(name=metric_names.ANALYTICS_SINK_ERRORS, unit=MetricUnit.Count, value=outcome.sink_errors)
    # The batch's records, and those parked to retry (EventsWaitingOnRetry): Lambda's Errors never counts them, so
    # the share of records not stored is ours to publish.
    metrics.add_metric(name=metric_names.RECORDS_RECEIVED, unit=MetricUnit.Count, value=received)
    metrics.add_metric(name=metric_names.EVENTS_WAITING_ON_RETRY, unit=MetricUnit.Count, value=waiting)
    metrics.add_metric(name=metric_names.BREAKER_OPEN, unit=MetricUnit.Count, value=1 if breaker.is_open else 0)
    metrics.add_metric(name=metric_names.EVENTS_DEAD_LETTERED, unit=MetricUnit.Count, value=dead_lettered)
    metrics.add_metric(name=metric_names.EVENTS_WINDOW_SPENT, unit=MetricUnit.Count, value=window_spent)


def settle(records: list[dict[str, Any]], outcome: Outcome, in_place: set[str]) -> dict[str, str]:
    """Dead-letter the poison and the events whose window is spent, park the rest of the unstored — except the
    records in `in_place` (events of pointed objects: they stay in their object); returns {messageId: reason} of the
    records neither stored, moved nor parked (for `in_place` ones: still in their object)."""
    by_id = {record["messageId"]: record for record in records}
    now_ms = int(utc_now().timestamp() * 1000)
    window_end = now_ms - SETTINGS.retry_window_seconds * 1000
    clocks = {message_id: retry_since_ms(by_id[message_id], now_ms) for message_id in outcome.unstored}
    spent = {message_id: RETRY_WINDOW_SPENT for message_id, since in clocks.items() if since <= window_end}
    to_dead_letter = outcome.poison | spent
    not_moved = dead_letter(by_id, to_dead_letter) if to_dead_letter else set()
    failures = {message_id: "not moved to the DLQ yet" for message_id in not_moved}
    waiting = [message_id for message_id in outcome.unstored if message_id not in spent]
    failures |= {message_id: "still in its parked object" for message_id in waiting if message_id in in_place}
    to_park = {
        message_id: ParkedEvent(
            str(by_id[message_id].get("body") or ""), clocks[message_id], source_message_id(by_id[message_id])
        )
        for message_id in waiting
        if message_id not in in_place
    }
    parked = list(to_park.values())
    if not park(s3, SETTINGS.parking_bucket, parked):
        failures |= dict.fromkeys(to_park, "not parked")
        parked = []
    # Every unstored event not dead-lettered waits on a retry: parked, still in its object, or back in the queue
    # (when it could not be parked: S3 failing too).
    _record_metrics(
        outcome, len(records), len(waiting), len(to_dead_letter) - len(not_moved), len(set(spent) - not_moved)
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
    """Store a batch of envelopes (a pointer's parked object counts as its events); `batchItemFailures` lists
    exactly the records neither stored, parked nor dead-lettered (never a pointer: its object stays parked)."""
    records = sqs_records(event)
    remaining = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + remaining - min(SAFETY_MARGIN_SECONDS, SAFETY_MARGIN_SHARE * remaining)
    unparked = unpark(records, partial(read_parked_object, s3, SETTINGS.parking_bucket))
    in_place = unparked_record_ids(unparked)
    failures = settle(unparked.records, store_records(unparked.records, deadline), in_place)
    settle_objects(s3, SETTINGS.parking_bucket, unparked, in_place & set(failures))
    if unparked.pointers:
        metrics.add_metric(name=metric_names.EVENTS_UNPARKED, unit=MetricUnit.Count, value=unparked.events)
    return partial_batch_response(event, records, partial(_confirm_stored, failures=failures), processor, context)
