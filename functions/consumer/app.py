"""consumer: SQS ingest queue → DynamoDB events table, with partial batch responses."""

import time
from collections import defaultdict
from collections.abc import Mapping
from functools import partial
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from functions.common import aws, env
from functions.common.canary import CANARY_ATTRIBUTE, EXPIRES_AT_ATTRIBUTE, expires_at, is_canary
from functions.common.clock import parse_iso, utc_now
from functions.common.envelope import Envelope, parse_envelope
from functions.common.errors import EnvelopeError, SluiceError
from functions.common.sqs import sqs_records
from functions.consumer.first_write import already_stored
from functions.consumer.writer import BatchWriter

SERVICE = "consumer"
# Time kept back from the invocation's remaining time to answer before Lambda's timeout: a timeout
# returns no partial response and the whole batch comes back. A share of the time left, capped, so a
# short timeout (the local stack's 2 s) still leaves most of the invocation for writing.
SAFETY_MARGIN_SECONDS = 2.0
SAFETY_MARGIN_SHARE = 0.25

TABLE_NAME = env.require("TABLE_NAME")
CANARY_TTL_SECONDS = env.integer("CANARY_TTL_SECONDS", 86_400, minimum=3600, maximum=366 * 86_400)
logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE, patch_modules=("botocore",))
metrics = EphemeralMetrics(service=SERVICE, namespace=env.metrics_namespace())
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
dynamodb = aws.client("dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 5}))
writer = BatchWriter(dynamodb, TABLE_NAME, "event_id")


class RecordNotStored(SluiceError):
    """The record's event is not in the table; the record returns to the queue."""


def to_item(envelope: Envelope) -> dict[str, dict[str, Any]]:
    """The table item: the envelope's fields, nulls omitted. Nothing differs between deliveries of
    the same event, so a redelivery or a replay overwrites an identical item (a canary's expiry derives from
    its received_at, not from the time of writing)."""
    fields = {
        "event_id": envelope.event_id,
        "raw": envelope.raw,
        "received_at": envelope.received_at,
        "source_ip": envelope.source_ip,
        "user_agent": envelope.user_agent,
        "api_key_id": envelope.api_key_id,
        "request_id": envelope.request_id,
        "trace_id": envelope.trace_id,
    }
    item: dict[str, dict[str, Any]] = {name: {"S": value} for name, value in fields.items() if value is not None}
    if is_canary(envelope.event_id):  # marked, and expiring from the table (its TTL attribute)
        item[CANARY_ATTRIBUTE] = {"BOOL": True}
        item[EXPIRES_AT_ATTRIBUTE] = {"N": str(expires_at(envelope.received_at, CANARY_TTL_SECONDS))}
    return item


def _record_metrics(stored: list[Envelope], retried: int) -> None:
    now = utc_now()
    for envelope in stored:
        lag = (now - parse_iso(envelope.received_at)).total_seconds() * 1000
        metrics.add_metric(name="IngestLag", unit=MetricUnit.Milliseconds, value=max(lag, 0.0))
    # Powertools flushes by itself at 100 values of a metric: adding the counts last keeps the set
    # it flushes at the end of the invocation non-empty.
    metrics.add_metric(name="EventsStored", unit=MetricUnit.Count, value=len(stored))
    metrics.add_metric(name="WriteRetries", unit=MetricUnit.Count, value=retried)


@tracer.capture_method
def store_records(records: list[dict[str, Any]], deadline: float) -> dict[str, str]:
    """Write the events of a batch; return {messageId: reason} for the records that are not stored.

    Records carrying the same event id (redeliveries) collapse into one item and share its fate.
    """
    failures: dict[str, str] = {}
    envelopes: dict[str, Envelope] = {}
    records_of: defaultdict[str, list[str]] = defaultdict(list)
    for record in records:
        message_id = record["messageId"]
        try:
            envelope = parse_envelope(record.get("body"))
        except EnvelopeError as error:
            logger.warning("record is not a Sluice envelope", extra={"message_id": message_id, "reason": str(error)})
            failures[message_id] = f"not a Sluice envelope: {error}"
            continue
        envelopes.setdefault(envelope.event_id, envelope)  # the first delivery's metadata wins
        records_of[envelope.event_id].append(message_id)

    stored_before = already_stored(dynamodb, TABLE_NAME, "event_id", list(envelopes))  # first write wins
    for event_id in stored_before:
        del envelopes[event_id]
    result = writer.write({event_id: to_item(envelope) for event_id, envelope in envelopes.items()}, deadline)
    for event_id in result.unwritten:
        for message_id in records_of[event_id]:
            failures[message_id] = "event not written to DynamoDB"
    stored = [envelope for event_id, envelope in envelopes.items() if event_id not in result.unwritten]
    _record_metrics(stored, result.retried)
    return failures


def _confirm_stored(record: SQSRecord, failures: Mapping[str, str]) -> None:
    reason = failures.get(record.message_id)
    if reason is not None:
        raise RecordNotStored(reason)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Store a batch of envelopes; `batchItemFailures` lists exactly the records not stored.

    A record that is not an envelope fails on its own (redrive takes it to the DLQ); records whose
    item DynamoDB did not take (unprocessed in time, or a failed call) fail with their item.
    """
    records = sqs_records(event)
    remaining = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + remaining - min(SAFETY_MARGIN_SECONDS, SAFETY_MARGIN_SHARE * remaining)
    failures = store_records(records, deadline)
    if not records:  # Lambda never sends an empty batch; Powertools would refuse one
        return {"batchItemFailures": []}
    return process_partial_response(
        event=event, record_handler=partial(_confirm_stored, failures=failures), processor=processor, context=context
    )
