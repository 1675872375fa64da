"""API Gateway's REST proxy semantics, without sockets: a parsed request in, API Gateway's answer out.

`ApiGateway` routes a request, enforces what API Gateway enforces before the integration runs (payload size,
API key and usage plan, throttling, request validation), builds the proxy event (payload format 1.0) and maps
the Lambda answer to HTTP. local/services/gateway/server.py serves it over HTTP/1.1.

Status codes, as a REST API answers:
- unknown resource or method: 403 Missing Authentication Token;
- missing, unknown or disabled API key, or a key in no usage plan of the stage: 403 Forbidden; usage plan or stage
  throttling: 429 Too Many Requests; the key's quota spent: 429 Limit Exceeded (local/services/gateway/usage_plans.py);
- body over 10 MB: 413; body rejected by the request validator: 400 Invalid request body;
- the function raised, timed out or returned a malformed proxy response: 502 Internal server error;
- the function was throttled (reserved concurrency): 500 Internal server error — API Gateway maps
  Lambda's 429 to 500, so a throttled backend shows up in 5XXError exactly as on AWS;
- the integration ran past 29 s: 504 Endpoint request timed out.

A body that is not UTF-8 reaches the function base64-encoded with isBase64Encoded true, as the REST proxy
integration passes a payload it cannot hand over as text (ingest then answers its own 400 "not UTF-8").
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from local.services.lambdas import FunctionTimeoutError, Invoker, TooManyRequestsException
from local.services.metrics import MetricSink

log = logging.getLogger(__name__)

API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's hard payload limit
# REST API quota "Total combined size of request line and header values" (not adjustable).
API_GATEWAY_MAX_HEADER_BYTES = 10_240
READ_TIMEOUT_SECONDS = 60.0
INTEGRATION_TIMEOUT_SECONDS = 29.0
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

RequestValidator = Callable[[str | None], bool]
"""Gets the request body (None if empty); False means API Gateway answers 400 Invalid request body."""


class KeyPlans(Protocol):
    """Keys and their usage plans as they change at run time (local/services/gateway/usage_plans.py)."""

    def key_id(self, value: str | None) -> str | None: ...  # None: 403

    def admit(self, key_id: str) -> str | None: ...  # None: pass; else the 429's message


@dataclass(frozen=True)
class ThrottleLimits:
    rate_per_second: float
    burst: int


class TokenBucket:
    """API Gateway's throttling algorithm: `burst` tokens, refilled at `rate_per_second`."""

    def __init__(self, limits: ThrottleLimits, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._monotonic = monotonic  # seconds; a test passes a fake one
        self._tokens = float(limits.burst)
        self._updated = monotonic()
        self._lock = threading.Lock()

    def try_take(self) -> bool:
        with self._lock:
            now = self._monotonic()
            self._tokens = min(
                float(self._limits.burst), self._tokens + (now - self._updated) * self._limits.rate_per_second
            )
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


@dataclass(frozen=True)
class GatewaySettings:
    stage: str = "v1"
    api_name: str = "sluice"
    api_id: str = "local"
    account_id: str = "123456789012"
    region: str = "us-east-1"
    max_body_bytes: int = API_GATEWAY_MAX_BODY_BYTES
    integration_timeout_seconds: float = INTEGRATION_TIMEOUT_SECONDS
    key_limits: ThrottleLimits | None = None  # the usage plan's per-key throttle
    stage_limits: ThrottleLimits | None = None  # method throttling on the stage (all keys together)
    resource_ids: Mapping[str, str] = field(default_factory=dict)  # resource path → id, e.g. from moto
    max_header_bytes: int = API_GATEWAY_MAX_HEADER_BYTES
    read_timeout_seconds: float = READ_TIMEOUT_SECONDS  # per socket read: slow or silent clients let go


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str  # path and query string as sent
    headers: Sequence[tuple[str, str]]
    body: bytes | None
    body_size: int  # declared or counted; the body is not read when it exceeds the limit
    source_ip: str
    protocol: str = "HTTP/1.1"
    received_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes


class _Rejected(Exception):
    def __init__(self, status: int, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.error_type = status, message, error_type


class ApiGateway:
    """Routes `POST /{stage}/events` (and `/events`) to `ingest`; `GET /{stage}/health` is a mock.
    Both require an API key, like the template's methods."""

    def __init__(
        self,
        settings: GatewaySettings,
        ingest: Invoker,
        api_keys: Mapping[str, str],
        validator: RequestValidator | None = None,
        sink: MetricSink | None = None,
        plans: KeyPlans | None = None,  # when given, it decides keys and per-key limits instead of api_keys/key_limits
    ) -> None:
        self.settings = settings
        self._plans = plans
        self._ingest = ingest
        self._api_keys = dict(api_keys)  # key value → key id
        self._validator = validator
        self._sink = sink
        self._stage_bucket = TokenBucket(settings.stage_limits) if settings.stage_limits else None
        self._key_buckets: dict[str, TokenBucket] = {}
        self._buckets_lock = threading.Lock()

    def handle(self, request: HttpRequest) -> GatewayResponse:
        """Answer one request as API Gateway would; never raises, never leaks a traceback."""
        integration_ms: float | None = None
        try:
            response, integration_ms = self._route(request)
        except _Rejected as rejected:
            response = gateway_response(rejected.status, rejected.message, rejected.error_type)
        except Exception:
            log.exception("local gateway: unexpected error on %s %s", request.method, request.target)
            response = gateway_response(500, "Internal server error", "InternalServerErrorException")
        self._record_metrics(request, response.status, integration_ms)
        return response

    def _route(self, request: HttpRequest) -> tuple[GatewayResponse, float | None]:
        if request.body_size > self.settings.max_body_bytes:
            raise _Rejected(413, "Request Entity Too Large")
        resource = self._resource_of(request)
        if resource is None or (request.method, resource) not in (("GET", "/health"), ("POST", "/events")):
            raise _Rejected(403, "Missing Authentication Token", "MissingAuthenticationTokenException")
        # Both methods require the API key, as the template's methods do (ApiKeyRequired).
        api_key, key_id = self._authorize(request)
        self._throttle_stage()
        self._throttle_key(key_id)
        if resource == "/health":
            return _json_response(200, {"status": "ok"}), None
        text = None if not request.body else request.body.decode("utf-8", errors="replace")
        if self._validator is not None and not self._validator(text):
            raise _Rejected(400, "Invalid request body", "BadRequestException")
        event = self.build_event(request, resource, text, api_key, key_id)
        if request.body and not _is_utf8(request.body):
            event |= {"body": base64.b64encode(request.body).decode(), "isBase64Encoded": True}
        return self._integrate(event)

    def _resource_of(self, request: HttpRequest) -> str | None:
        path = urlsplit(request.target).path.rstrip("/")
        stage_prefix = f"/{self.settings.stage}"
        if path.startswith(stage_prefix + "/"):
            path = path[len(stage_prefix) :]
        return path if path in ("/events", "/health") else None

    def _authorize(self, request: HttpRequest) -> tuple[str, str]:
        api_key = _last_header(request.headers, "x-api-key")
        key_id = self._plans.key_id(api_key) if self._plans else self._api_keys.get(api_key or "")
        if api_key is None or key_id is None:
            raise _Rejected(403, "Forbidden", "ForbiddenException")
        return api_key, key_id

    def _throttle_stage(self) -> None:
        if self._stage_bucket is not None and not self._stage_bucket.try_take():
            raise _Rejected(429, "Too Many Requests", "TooManyRequestsException")

    def _throttle_key(self, key_id: str) -> None:
        if self._plans is not None:
            refused = self._plans.admit(key_id)
            if refused is not None:
                raise _Rejected(429, refused, "TooManyRequestsException")
            return
        limits = self.settings.key_limits
        if limits is None:
            return
        with self._buckets_lock:
            bucket = self._key_buckets.setdefault(key_id, TokenBucket(limits))
        if not bucket.try_take():
            raise _Rejected(429, "Too Many Requests", "TooManyRequestsException")

    def _integrate(self, event: dict[str, Any]) -> tuple[GatewayResponse, float]:
        started = time.monotonic()
        try:
            result = self._ingest.invoke(event)
        except TooManyRequestsException:
            return gateway_response(500, "Internal server error", "InternalServerErrorException"), _ms(started)
        except FunctionTimeoutError:
            elapsed = _ms(started)
            if elapsed > self.settings.integration_timeout_seconds * 1000:
                return gateway_response(504, "Endpoint request timed out"), elapsed
            return gateway_response(502, "Internal server error", "InternalServerErrorException"), elapsed
        except Exception:
            # The LocalFunction logged the traceback; the client gets API Gateway's opaque answer.
            return gateway_response(502, "Internal server error", "InternalServerErrorException"), _ms(started)
        elapsed = _ms(started)
        if elapsed > self.settings.integration_timeout_seconds * 1000:
            return gateway_response(504, "Endpoint request timed out"), elapsed
        response = _proxy_response(result)
        if response is None:
            log.error("%s returned a malformed Lambda proxy response: %.200r", self._ingest.name, result)
            return gateway_response(502, "Internal server error", "InternalServerErrorException"), elapsed
        return response, elapsed

    def build_event(
        self, request: HttpRequest, resource: str, body: str | None, api_key: str | None, key_id: str | None
    ) -> dict[str, Any]:
        """The REST API proxy event (payload format 1.0) for a routed request."""
        settings = self.settings
        now = datetime.now(UTC)
        split = urlsplit(request.target)
        headers, multi_headers = _header_maps(self._forwarded_headers(request))
        query, multi_query = _query_maps(split.query)
        request_id = str(uuid.uuid4())
        return {
            "version": "1.0",
            "resource": resource,
            "path": resource,
            "httpMethod": request.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "requestContext": {
                "accountId": settings.account_id,
                "apiId": settings.api_id,
                "domainName": f"{settings.api_id}.execute-api.{settings.region}.amazonaws.com",
                "domainPrefix": settings.api_id,
                "extendedRequestId": _extended_request_id(request_id),
                "httpMethod": request.method,
                "identity": {
                    "accessKey": None,
                    "accountId": None,
                    "apiKey": api_key,
                    "apiKeyId": key_id,
                    "caller": None,
                    "clientCert": None,
                    "cognitoAuthenticationProvider": None,
                    "cognitoAuthenticationType": None,
                    "cognitoIdentityId": None,
                    "cognitoIdentityPoolId": None,
                    "principalOrgId": None,
                    "sourceIp": request.source_ip,
                    "user": None,
                    "userAgent": _last_header(request.headers, "user-agent"),
                    "userArn": None,
                },
                "path": f"/{settings.stage}{resource}",
                "protocol": request.protocol,
                "requestId": request_id,
                "requestTime": _request_time(now),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "resourceId": settings.resource_ids.get(resource) or _resource_id(resource),
                "resourcePath": resource,
                "stage": settings.stage,
            },
            "pathParameters": None,
            "stageVariables": None,
            "body": body,
            "isBase64Encoded": False,
        }

    @staticmethod
    def _forwarded_headers(request: HttpRequest) -> list[tuple[str, str]]:
        """The client's headers plus those API Gateway's front end adds."""
        headers = list(request.headers)
        present = {name.lower() for name, _ in headers}
        added = {
            "X-Amzn-Trace-Id": f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}",
            "X-Forwarded-For": request.source_ip,
            "X-Forwarded-Proto": "http",
        }
        headers.extend((name, value) for name, value in added.items() if name.lower() not in present)
        return headers

    def _record_metrics(self, request: HttpRequest, status: int, integration_ms: float | None) -> None:
        if self._sink is None:
            return
        dims = {"ApiName": self.settings.api_name, "Stage": self.settings.stage}
        record = self._sink.record
        record("AWS/ApiGateway", "Count", 1, "Count", dims)
        record("AWS/ApiGateway", "4XXError", int(400 <= status < 500), "Count", dims)
        record("AWS/ApiGateway", "5XXError", int(status >= 500), "Count", dims)
        record("AWS/ApiGateway", "Latency", _ms(request.received_at), "Milliseconds", dims)
        if integration_ms is not None:
            record("AWS/ApiGateway", "IntegrationLatency", integration_ms, "Milliseconds", dims)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000


def _last_header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    values = [value for key, value in headers if key.lower() == name]
    return values[-1] if values else None


def _header_maps(headers: Sequence[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value  # the last value wins, as in API Gateway's `headers`
        multi.setdefault(name, []).append(value)
    return single or None, multi or None


def _query_maps(query: str) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    return _header_maps(parse_qsl(query, keep_blank_values=True))


def _request_time(now: datetime) -> str:
    # Built by hand: strftime's %b follows the locale, API Gateway's month names do not.
    return f"{now:%d}/{MONTHS[now.month - 1]}/{now:%Y:%H:%M:%S} +0000"


def _extended_request_id(request_id: str) -> str:
    return base64.b64encode(hashlib.sha256(request_id.encode()).digest()[:10]).decode()


def _resource_id(resource: str) -> str:
    return hashlib.sha256(resource.encode()).hexdigest()[:6]


def _json_response(status: int, payload: Any, extra: Sequence[tuple[str, str]] = ()) -> GatewayResponse:
    headers = [("Content-Type", "application/json"), *extra]
    return GatewayResponse(status, headers, json.dumps(payload).encode())


def gateway_response(status: int, message: str, error_type: str | None = None) -> GatewayResponse:
    extra = [("x-amzn-ErrorType", error_type)] if error_type else []
    return _json_response(status, {"message": message}, extra)


def _proxy_response(result: Any) -> GatewayResponse | None:
    """A Lambda proxy response as HTTP, or None when API Gateway would call it malformed."""
    if not isinstance(result, dict):
        return None
    status = result.get("statusCode")
    headers = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    body = result.get("body")
    encoded = result.get("isBase64Encoded", False)
    well_formed = (
        isinstance(status, int)
        and not isinstance(status, bool)
        and 100 <= status <= 599
        and isinstance(headers, dict)
        and isinstance(multi, dict)
        and all(isinstance(values, list) for values in multi.values())
        and (body is None or isinstance(body, str))
        and isinstance(encoded, bool)
    )
    if not well_formed or not isinstance(status, int):  # (the second test only tells the type checker)
        return None
    try:
        payload = base64.b64decode(body or "", validate=True) if encoded else (body or "").encode()
    except ValueError:
        return None
    # API Gateway merges both maps; for a name present in both, multiValueHeaders wins.
    pairs = [(str(name), str(value)) for name, values in multi.items() for value in values]
    multi_names = {name.lower() for name in multi}
    pairs += [(str(name), str(value)) for name, value in headers.items() if name.lower() not in multi_names]
    if not any(name.lower() == "content-type" for name, _ in pairs):
        pairs.append(("Content-Type", "application/json"))
    return GatewayResponse(status, pairs, payload)
