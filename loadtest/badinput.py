"""The bad-input cases as data: what is sent, and the documented answer each must get.

A 400 may come from the function (`{"error": code}`) or from API Gateway's request validator, which
checks the body against the EventsRequest model before the function runs (`{"message": "Invalid
request body"}`); both are the documented 400, so both count as the expected answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

VALIDATOR_MESSAGE = "Invalid request body"
FORBIDDEN_MESSAGE = "Forbidden"

ApiKeyMode = Literal["valid", "missing", "wrong"]


@dataclass(frozen=True)
class ApiLimits:
    """The API's size limits (sluice.toml `api.*` of the target environment)."""

    max_event_bytes: int
    max_body_bytes: int
    max_batch_events: int


@dataclass(frozen=True)
class BadCase:
    name: str
    status: int
    codes: frozenset[str]  # `error` codes of the function's answer that are right for this case
    gateway_messages: frozenset[str]  # API Gateway `message` answers that are right for this case
    body: Callable[[ApiLimits], bytes]
    content_type: str = "application/json"
    api_key: ApiKeyMode = "valid"


def _event(size: int) -> str:
    """An object of exactly `size` bytes of JSON text."""
    skeleton = '{"type":"bad-input","pad":""}'
    return skeleton[:-2] + "x" * max(0, size - len(skeleton)) + '"}'


def _too_many_events(limits: ApiLimits) -> bytes:
    return json.dumps([{"n": index} for index in range(limits.max_batch_events + 1)]).encode()


def _too_large_body(limits: ApiLimits) -> bytes:
    # Every event is within the event limit; only the body as a whole is too large.
    size = min(limits.max_event_bytes, 64 * 1024)
    count = limits.max_body_bytes // size + 1
    return ("[" + ",".join(_event(size) for _ in range(count)) + "]").encode()


_VALID = b'{"type":"bad-input","note":"a valid event sent the wrong way"}'

CASES: tuple[BadCase, ...] = (
    BadCase("malformed_json", 400, frozenset({"malformed_json"}), frozenset({VALIDATOR_MESSAGE}),
            lambda limits: b'{"type": "click", "user_id": '),
    BadCase("not_an_object", 400, frozenset({"not_an_object"}), frozenset({VALIDATOR_MESSAGE}),
            lambda limits: b'[{"type":"click"}, 42, "text"]'),
    BadCase("empty_batch", 400, frozenset({"empty_batch"}), frozenset({VALIDATOR_MESSAGE}),
            lambda limits: b"[]"),
    BadCase("batch_too_long", 400, frozenset({"batch_too_long"}), frozenset({VALIDATOR_MESSAGE}),
            _too_many_events),
    BadCase("event_too_large", 413, frozenset({"event_too_large"}), frozenset(),
            lambda limits: _event(limits.max_event_bytes + 1).encode()),
    BadCase("body_too_large", 413, frozenset({"body_too_large"}), frozenset(), _too_large_body),
    BadCase("unsupported_media_type", 415, frozenset({"unsupported_media_type"}), frozenset(),
            lambda limits: _VALID, content_type="text/plain"),
    BadCase("missing_api_key", 403, frozenset(), frozenset({FORBIDDEN_MESSAGE}),
            lambda limits: _VALID, api_key="missing"),
    BadCase("wrong_api_key", 403, frozenset(), frozenset({FORBIDDEN_MESSAGE}),
            lambda limits: _VALID, api_key="wrong"),
)  # fmt: skip
