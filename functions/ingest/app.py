"""ingest: API Gateway REST `POST /events` (proxy integration, payload 1.0) → SQS ingest queue."""

import json
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from functions.common import aws, env, metric_names, powertools
from functions.common.clock import iso_millis, utc_now
from functions.common.contract import (
    CANARY_ID_PREFIX,
    NO_KEY,
    PRODUCER_ACCEPTED_FIELD,
    PRODUCER_FIELD,
    PRODUCER_REJECTED_FIELD,
)
from functions.common.envelope import Envelope, derived_event_id, events_fingerprint, new_event_id
from functions.ingest.config import load_settings
from functions.ingest.request import RequestInfo, RequestRejected, lower_headers, parse_events, request_info
from functions.ingest.sender import QueueSender

if TYPE_CHECKING:
    from functions.ingest.keyed import KeyedRequests

SERVICE = env.service_name()  # POWERTOOLS_SERVICE_NAME, set by the template
settings = load_settings()
logger, tracer, metrics = powertools.handler_tools()
# API Gateway gives up after 29 s: keep SQS calls short so a broken queue becomes a quick 503.
sqs = aws.client(
    "sqs", config=Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
)
sender = QueueSender(sqs, settings.queue_url)
# The idempotency table's client: an unreachable table must cost a keyed request seconds, not botocore's
# default 60-second timeouts (the request is then accepted without the reuse check, functions/ingest/keyed.py).
IDEMPOTENCY_CLIENT_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 2}
)


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def _count(accepted: list[str], key_id: str | None, rejected: int = 0, reason: str = "") -> None:
    """EventsAccepted and BytesAccepted on every request (zero included, so the series has no gaps);
    EventsRejected with its `reason` dimension in a metric set of its own.

    The producer (the request's API key id) goes into each EMF record as metadata, not as a dimension: a
    property of the log line, which the "Who is sending?" Logs Insights widget sums per key, and no new metric
    (a dimension would be one custom metric per key, each billed monthly, however many producers come and go)."""
    producer = key_id or NO_KEY
    metrics.add_metric(name=metric_names.EVENTS_ACCEPTED, unit=MetricUnit.Count, value=len(accepted))
    metrics.add_metric(
        name=metric_names.BYTES_ACCEPTED, unit=MetricUnit.Bytes, value=sum(len(raw.encode()) for raw in accepted)
    )
    metrics.add_metadata(key=PRODUCER_FIELD, value=producer)
    metrics.add_metadata(key=PRODUCER_ACCEPTED_FIELD, value=len(accepted))
    if rejected:
        with single_metric(
            name=metric_names.EVENTS_REJECTED, unit=MetricUnit.Count, value=rejected, namespace=metrics.namespace
        ) as metric:
            metric.add_dimension(name=metric_names.SERVICE_DIMENSION, value=SERVICE)
            metric.add_dimension(name=metric_names.REASON_DIMENSION, value=reason)
            metric.add_metadata(key=PRODUCER_FIELD, value=producer)
            metric.add_metadata(key=PRODUCER_REJECTED_FIELD, value=rejected)


def _event_ids(raws: list[str], info: RequestInfo) -> list[str]:
    if settings.canary_api_key_id and info.api_key_id == settings.canary_api_key_id:
        return [CANARY_ID_PREFIX + new_event_id() for _ in raws]
    if info.idempotency_key is None:
        return [new_event_id() for _ in raws]
    fingerprint = events_fingerprint(raws)
    return [derived_event_id(info.api_key_id, info.idempotency_key, fingerprint, index) for index in range(len(raws))]


def _retry_later(body: dict[str, Any]) -> dict[str, Any]:
    return _response(503, body, {"Retry-After": str(settings.retry_after_seconds)})


@cache
def keyed_requests() -> "KeyedRequests":
    """The keyed-request handling, made on first use (the local stack makes it at once, to hook its client)."""
    # Imported on the first keyed request: Powertools' DynamoDB layer imports boto3 (~30 ms of a cold start).
    from functions.ingest.keyed import KeyedRequests

    client = aws.client("dynamodb", config=IDEMPOTENCY_CLIENT_CONFIG)
    return KeyedRequests(settings.idempotency_table, client, settings.idempotency_seconds, _accept)


def _remembered_answer(body: str) -> dict[str, Any]:
    _count([], None)  # nothing new is queued by a retry
    return _response(202, json.loads(body))


def _ingest(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = lower_headers(event.get("headers"))
    info = request_info(event, headers)
    try:
        raws = parse_events(event, headers, settings)
        if info.idempotency_key is None:
            return _accept(raws, info)
        return keyed_requests().handle(raws, info, context, _remembered_answer)
    except RequestRejected as rejected:
        logger.info("request rejected", extra={"code": rejected.code, "reason": rejected.message})
        _count([], info.api_key_id, rejected=1, reason=rejected.code)
        return _response(rejected.status, {"error": rejected.code, "message": rejected.message})


def _accept(raws: list[str], info: RequestInfo) -> dict[str, Any]:
    """Queue the events; 202 when every one is in the queue, else a 503 that says which are."""
    ids = _event_ids(raws, info)
    received_at = iso_millis(utc_now())
    bodies = [
        Envelope(
            event_id=event_id,
            raw=raw,
            received_at=received_at,
            source_ip=info.source_ip,
            user_agent=info.user_agent,
            api_key_id=info.api_key_id,
            request_id=info.request_id,
            trace_id=info.trace_id,
        ).to_json()
        for event_id, raw in zip(ids, raws, strict=True)
    ]
    failed = sender.send(bodies)
    accepted = [index for index in range(len(raws)) if index not in failed]
    if not failed:
        _count(raws, info.api_key_id)
        return _response(202, {"accepted": len(ids), "ids": ids})
    if not accepted:
        _count([], info.api_key_id, rejected=len(raws), reason="queue_unavailable")
        return _retry_later({"error": "queue_unavailable", "message": "the queue cannot be reached; retry later"})
    _count([raws[index] for index in accepted], info.api_key_id, rejected=len(failed), reason="partially_accepted")
    return _retry_later(
        {
            "error": "partially_accepted",
            "message": "some events were not accepted; resend only those listed in 'failed'",
            "accepted": len(accepted),
            "ids": [ids[index] for index in accepted],
            "failed": [{"index": index, "error": "queue_unavailable"} for index in sorted(failed)],
        }
    )


def _key_id(event: Any) -> str | None:
    return request_info(event if isinstance(event, dict) else {}, {}).api_key_id


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Accept one JSON object, or a JSON array of 1..MAX_BATCH_EVENTS objects, onto the queue.

    Request: `Content-Type: application/json` (charset utf-8 allowed); optional `Idempotency-Key`:
    event ids are then derived from (API key id, key, the events' fingerprint, index in the batch), and
    the key is remembered with the request's fingerprint for IDEMPOTENCY_SECONDS once it got a 202
    (functions/ingest/keyed.py): resending the same events with the same key answers the first 202 again
    and queues nothing; other events under a key never get the ids of stored ones.

    Responses (JSON):
      202 {"accepted": n, "ids": [...]}: every event is in the queue; ids in body order.
      400 {"error": malformed_json | not_an_object | empty_batch | batch_too_long | invalid_idempotency_key,
           "message": ...}; malformed_json includes a body that is not UTF-8 and one nested deeper than
          512 levels (functions/common/jsontext.py). Integers of any length are valid JSON and accepted.
      413 {"error": event_too_large | body_too_large, "message": ...}
      409 {"error": "request_in_progress", "message": ...}: the key's first request is still running.
      415 {"error": unsupported_media_type, "message": ...}
      422 {"error": "idempotency_key_reused", "message": ...}: the key was used with other events.
      503 {"error": "queue_unavailable", "message": ...} + Retry-After: no event is in the queue.
      503 {"error": "partially_accepted", "message": ..., "accepted": k, "ids": [ids of the events
          that ARE in the queue], "failed": [{"index": i, "error": "queue_unavailable"}, ...]}
          + Retry-After: resend only the failed events (by index in the original body). With an
          Idempotency-Key, either is safe with the same key: only the failed events (they get new ids,
          bound to the resent body) or the whole body (the same ids: the accepted part is stored once).
      500 {"error": "internal_error"}: an unexpected fault; details are only in the logs.
    """
    try:
        return _ingest(event if isinstance(event, dict) else {}, context)
    except Exception:
        logger.exception("unexpected error")
        _count([], _key_id(event), rejected=1, reason="internal_error")
        return _response(500, {"error": "internal_error"})
