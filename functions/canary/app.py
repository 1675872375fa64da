"""canary: proves every interval that an event goes in through the public API and comes out in the store.

One run (an EventBridge Scheduler invocation): read the canary's own API key value from API Gateway (once
per execution environment, never logged), POST one event with it, then read the store until the event is
there or DEADLINE_SECONDS pass. Ingest gives events posted with this key ids starting `canary-`, which the
consumer stores marked and expiring (functions/common/canary.py). The store is the table (TABLE_NAME); an
environment whose only sink is S3 has none (ANALYTICS_BUCKET instead): the consumer writes a canary event
there as its own object (functions/common/analytics.py canary_key), read back with HeadObject.

Metrics (EMF, timestamped at the request so they fall in the same period as API Gateway's count of it):
  CanaryRequests 1 per request made, CanaryAccepted 0/1 (202 with a canary id), CanarySuccess 0/1,
  CanaryApiLatency ms (a response came), CanaryEndToEnd ms (202 received → item readable; successes only).
A broken pipeline is a result (success 0), not an error; only a canary that cannot run raises.
"""

import json
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from functions.common import aws, env, env_names, metric_names, powertools
from functions.common.analytics import canary_key
from functions.common.canary import is_canary
from functions.common.clock import iso_millis, utc_now
from functions.common.errors import ConfigError, SluiceError

# The POST's own bound: API Gateway ends a request at 29 s, the canary's deadline is for the table.
REQUEST_TIMEOUT_SECONDS = 10.0
# Reads back off from 100 ms to 1 s: a healthy pipeline stores within a second or two.
FIRST_READ_DELAY_SECONDS = 0.1
MAX_READ_DELAY_SECONDS = 1.0


class CanaryKeyError(SluiceError):
    """The canary's API key cannot be read: the canary cannot run (its own error, which pages)."""


@dataclass(frozen=True, slots=True)
class CanarySettings:
    api_url: str
    api_key_id: str
    table_name: str  # "" without the table: the canary reads analytics_bucket
    analytics_bucket: str
    deadline_seconds: int


def load_settings() -> CanarySettings:
    return CanarySettings(
        api_url=env.require(env_names.API_URL).rstrip("/"),
        api_key_id=env.require(env_names.CANARY_API_KEY_ID),
        table_name=env.optional(env_names.TABLE_NAME, ""),
        analytics_bucket=env.optional(env_names.ANALYTICS_BUCKET, ""),
        deadline_seconds=env.integer(env_names.DEADLINE_SECONDS, 20, minimum=1, maximum=600),
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    success: bool
    reason: str  # "stored", or why not
    event_id: str | None = None
    status: int | None = None
    api_ms: float | None = None
    end_to_end_ms: float | None = None


settings = load_settings()
if not (settings.table_name or settings.analytics_bucket):
    raise ConfigError("set TABLE_NAME (the events table) or ANALYTICS_BUCKET (S3 alone): the canary reads one")
logger, tracer, metrics = powertools.handler_tools()
apigateway = aws.client("apigateway")
READ_CONFIG = Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 1})
dynamodb = aws.client("dynamodb", config=READ_CONFIG)
s3 = aws.client("s3", config=READ_CONFIG)
_api_key: list[str] = []  # the key value, read once per execution environment


def api_key() -> str:
    if not _api_key:
        try:
            response = apigateway.get_api_key(apiKey=settings.api_key_id, includeValue=True)
        except (BotoCoreError, ClientError) as error:
            raise CanaryKeyError(f"cannot read API key {settings.api_key_id}: {type(error).__name__}") from None
        if not response.get("value"):
            raise CanaryKeyError(f"API key {settings.api_key_id} has no value")
        _api_key.append(response["value"])
    return _api_key[0]


def post_event(key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST /events; (status, JSON body). Status 0: no HTTP answer at all (connection failed, timed out)."""
    request = urllib.request.Request(
        f"{settings.api_url}/events",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "x-api-key": key, "User-Agent": "sluice-canary"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            return response.status, _json(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _json(error.read())
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        logger.warning("the API did not answer", extra={"error": type(error).__name__})
        return 0, {}


def _json(data: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(data or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def is_stored(event_id: str) -> bool:
    """One consistent read of the item's key (or its S3 object); a failed read is "not yet" (the deadline decides)."""
    if not settings.table_name:
        return _in_bucket(event_id)
    try:
        response = dynamodb.get_item(
            TableName=settings.table_name,
            Key={"event_id": {"S": event_id}},
            ConsistentRead=True,
            ProjectionExpression="event_id",
        )
    except (BotoCoreError, ClientError) as error:
        logger.warning("table read failed", extra={"error": type(error).__name__})
        return False
    return "Item" in response


def _in_bucket(event_id: str) -> bool:
    """S3 reads are strongly consistent: the object is there once the consumer's PUT returned."""
    try:
        s3.head_object(Bucket=settings.analytics_bucket, Key=canary_key(event_id))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            logger.warning("analytics store read failed", extra={"error": error.response.get("Error", {}).get("Code")})
        return False
    except BotoCoreError as error:
        logger.warning("analytics store read failed", extra={"error": type(error).__name__})
        return False
    return True


def wait_stored(event_id: str, deadline: float) -> bool:
    delay = FIRST_READ_DELAY_SECONDS
    while True:
        if is_stored(event_id):
            return True
        if time.monotonic() + delay >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, MAX_READ_DELAY_SECONDS)


@tracer.capture_method
def probe() -> Outcome:
    """One canary run: in through the API, out of the table."""
    key = api_key()
    started = time.monotonic()
    status, body = post_event(key, {"canary": True, "sent_at": iso_millis(utc_now())})
    accepted = time.monotonic()
    api_ms = (accepted - started) * 1000 if status else None
    ids = body.get("ids") if status == 202 else None
    if not (isinstance(ids, list) and len(ids) == 1 and isinstance(ids[0], str)):
        return Outcome(False, f"not accepted (HTTP {status or 'no answer'})", status=status, api_ms=api_ms)
    event_id = ids[0]
    if not is_canary(event_id):
        # Ingest did not recognise the canary's key: the item would neither be readable nor expire.
        return Outcome(False, "accepted without a canary id", event_id, status, api_ms)
    if not wait_stored(event_id, started + settings.deadline_seconds):
        return Outcome(False, f"not stored within {settings.deadline_seconds} s", event_id, status, api_ms)
    return Outcome(True, "stored", event_id, status, api_ms, (time.monotonic() - accepted) * 1000)


def _record(outcome: Outcome) -> None:
    metrics.add_metric(name=metric_names.CANARY_REQUESTS, unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name=metric_names.CANARY_ACCEPTED, unit=MetricUnit.Count, value=int(outcome.event_id is not None)
    )
    metrics.add_metric(name=metric_names.CANARY_SUCCESS, unit=MetricUnit.Count, value=int(outcome.success))
    if outcome.api_ms is not None:
        metrics.add_metric(name=metric_names.CANARY_API_LATENCY, unit=MetricUnit.Milliseconds, value=outcome.api_ms)
    if outcome.end_to_end_ms is not None:
        metrics.add_metric(
            name=metric_names.CANARY_END_TO_END, unit=MetricUnit.Milliseconds, value=outcome.end_to_end_ms
        )


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Run one probe (the schedule's Input is informational). Returns the outcome; raises only when the
    canary itself cannot run (CanaryKeyError), which Lambda counts as an error."""
    metrics.set_timestamp(utc_now())
    outcome = probe()
    _record(outcome)
    log = logger.info if outcome.success else logger.warning
    result = asdict(outcome)
    log("canary run", extra={key: value for key, value in result.items() if value is not None})
    return result
