"""Reading an API Gateway REST proxy request (payload 1.0): headers, body, the events in it."""

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

from functions.common.errors import SluiceError
from functions.common.jsontext import DECODER, JsonTooDeep, check_depth
from functions.ingest.config import IngestSettings

JSON_WHITESPACE = " \t\n\r"
UTF8_CHARSETS = ("utf-8", "utf8")
# As documented in openapi.json. An empty key would give every request that sends one the same event ids.
MAX_IDEMPOTENCY_KEY_CHARS = 255


class RequestRejected(SluiceError):
    """The request cannot be accepted; carries the HTTP status and the error code for the client."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class RequestInfo:
    source_ip: str | None
    user_agent: str | None
    api_key_id: str | None
    request_id: str | None
    trace_id: str | None
    idempotency_key: str | None


def lower_headers(headers: Any) -> dict[str, str]:
    """Header names are case-insensitive: index them lower-cased."""
    if not isinstance(headers, dict):
        return {}
    return {name.lower(): value for name, value in headers.items() if isinstance(name, str) and isinstance(value, str)}


def _field(mapping: Any, name: str) -> Any:
    return mapping.get(name) if isinstance(mapping, dict) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def request_info(event: dict[str, Any], headers: dict[str, str]) -> RequestInfo:
    context = _field(event, "requestContext")
    identity = _field(context, "identity")
    return RequestInfo(
        source_ip=_text(_field(identity, "sourceIp")),
        user_agent=_text(_field(identity, "userAgent")) or headers.get("user-agent"),
        api_key_id=_text(_field(identity, "apiKeyId")),
        request_id=_text(_field(context, "requestId")),
        # The runtime sets _X_AMZN_TRACE_ID per invocation, so it is read here, not at import.
        trace_id=headers.get("x-amzn-trace-id") or os.environ.get("_X_AMZN_TRACE_ID") or None,
        idempotency_key=headers.get("idempotency-key"),
    )


def check_media_type(headers: dict[str, str]) -> None:
    """Accept `application/json`, optionally with `charset=utf-8`."""
    media_type, *parameters = (part.strip().lower() for part in headers.get("content-type", "").split(";"))
    pairs = (parameter.partition("=") for parameter in parameters)
    charsets = [value.strip().strip('"') for name, _, value in pairs if name.strip() == "charset"]
    if media_type != "application/json" or any(charset not in UTF8_CHARSETS for charset in charsets):
        raise RequestRejected(415, "unsupported_media_type", "Content-Type must be application/json (UTF-8)")


def check_idempotency_key(headers: dict[str, str]) -> None:
    """An Idempotency-Key, when sent, is 1 to 255 characters."""
    key = headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_CHARS:
        raise RequestRejected(
            400, "invalid_idempotency_key", f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters"
        )


def body_bytes(event: dict[str, Any], max_body_bytes: int) -> bytes:
    """The request body as bytes, refused when larger than `max_body_bytes` (before any parsing)."""
    body = event.get("body")
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise RequestRejected(400, "malformed_json", "body is not text")
    try:
        data = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") is True else body.encode()
    except ValueError:  # binascii.Error and UnicodeEncodeError are both ValueErrors
        raise RequestRejected(400, "malformed_json", "body is not valid base64 or UTF-8") from None
    if len(data) > max_body_bytes:
        raise RequestRejected(413, "body_too_large", f"body is larger than {max_body_bytes} bytes")
    return data


def _skip_whitespace(text: str, position: int) -> int:
    while position < len(text) and text[position] in JSON_WHITESPACE:
        position += 1
    return position


def _malformed(detail: str) -> RequestRejected:
    return RequestRejected(400, "malformed_json", f"body is not valid JSON: {detail}")


def _decode_at(text: str, position: int) -> tuple[Any, int]:
    try:
        return DECODER.raw_decode(text, position)
    except json.JSONDecodeError as error:
        raise _malformed(f"{error.msg} at position {error.pos}") from None
    except ValueError as error:
        raise _malformed(str(error)) from None


def _array_spans(text: str, position: int) -> tuple[list[tuple[int, int, Any]], int]:
    """(start, end, value) of each element of the array whose `[` is at `position`, and its end."""
    spans: list[tuple[int, int, Any]] = []
    position = _skip_whitespace(text, position + 1)
    if text[position : position + 1] == "]":
        return spans, position + 1
    while True:
        value, end = _decode_at(text, position)
        spans.append((position, end, value))
        position = _skip_whitespace(text, end)
        separator = text[position : position + 1]
        if separator == "]":
            return spans, position + 1
        if separator != ",":
            raise _malformed(f"expected ',' or ']' at position {position}")
        position = _skip_whitespace(text, position + 1)


def _top_level_spans(text: str) -> list[tuple[int, int, Any]]:
    """The spans of the body's events: its one value, or the elements of its array."""
    start = _skip_whitespace(text, 0)
    if start == len(text):
        raise _malformed("body is empty")
    if text[start] == "[":
        spans, end = _array_spans(text, start)
        if not spans and _skip_whitespace(text, end) == len(text):
            raise RequestRejected(400, "empty_batch", "the array holds no events")
    else:
        value, end = _decode_at(text, start)
        spans = [(start, end, value)]
    trailing = _skip_whitespace(text, end)
    if trailing != len(text):
        raise _malformed(f"unexpected data at position {trailing}")
    return spans


def split_events(data: bytes, settings: IngestSettings) -> list[str]:
    """The raw JSON text of each event: the body's one object, or each object of its array.

    Array elements are sliced out of the body, not re-serialized, so each event is kept byte for byte.
    """
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise _malformed("not UTF-8") from None
    try:
        check_depth(text)
    except JsonTooDeep as error:
        raise _malformed(str(error)) from None
    spans = _top_level_spans(text)
    if len(spans) > settings.max_batch_events:
        raise RequestRejected(400, "batch_too_long", f"a batch holds at most {settings.max_batch_events} events")
    raws = []
    for index, (first, last, value) in enumerate(spans):
        if not isinstance(value, dict):
            raise RequestRejected(400, "not_an_object", f"event {index} is not a JSON object")
        raw = text[first:last]
        if len(raw.encode()) > settings.max_event_bytes:
            raise RequestRejected(
                413, "event_too_large", f"event {index} is larger than {settings.max_event_bytes} bytes"
            )
        raws.append(raw)
    return raws


def parse_events(event: dict[str, Any], headers: dict[str, str], settings: IngestSettings) -> list[str]:
    """Validate the request and return the raw text of its events, or raise RequestRejected."""
    check_media_type(headers)
    check_idempotency_key(headers)
    return split_events(body_bytes(event, settings.max_body_bytes), settings)
