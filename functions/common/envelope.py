"""The envelope: the SQS message body that carries one event from ingest to the consumer, the DLQ
archive and the replay tools.

Schema (a JSON object, ASCII only so that any event text is a valid SQS message):

    v            1, the schema version
    event_id     str, the table key: a ULID, or a UUID derived from the client's Idempotency-Key and the
                 request's events (derived_event_id)
    raw          str, the event's JSON text exactly as the client sent it
    received_at  str, UTC millisecond ISO 8601, e.g. "2026-11-25T19:20:03.123Z"
    source_ip    str | null
    user_agent   str | null
    api_key_id   str | null, the API key's id, never its value
    request_id   str | null, API Gateway's requestContext.requestId
    trace_id     str | null, the X-Ray trace header at ingest
"""

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from ulid import ULID

from functions.common.clock import parse_iso
from functions.common.errors import EnvelopeError
from functions.common.jsontext import loads

ENVELOPE_VERSION = 1
MAX_EVENT_ID_CHARS = 128
# Fixed forever: changing it would give a client's retried Idempotency-Key a new event id.
EVENT_ID_NAMESPACE = uuid.UUID("e90cb2c3-9da2-4069-a46e-ff1887c5f170")


@dataclass(frozen=True, slots=True)
class Envelope:
    event_id: str
    raw: str
    received_at: str
    source_ip: str | None = None
    user_agent: str | None = None
    api_key_id: str | None = None
    request_id: str | None = None
    trace_id: str | None = None

    def to_json(self) -> str:
        return json.dumps({"v": ENVELOPE_VERSION, **asdict(self)}, separators=(",", ":"))


_REQUIRED = ("event_id", "raw", "received_at")
_OPTIONAL = tuple(f.name for f in fields(Envelope) if f.name not in _REQUIRED)


def new_event_id() -> str:
    return str(ULID())


def events_fingerprint(raws: Sequence[str]) -> str:
    """SHA-256 of a request's events (their texts, in order): what the ids derived from its key are bound to."""
    return hashlib.sha256(json.dumps(list(raws)).encode("ascii")).hexdigest()


def derived_event_id(api_key_id: str | None, idempotency_key: str, fingerprint: str, index: int) -> str:
    """The same (API key, Idempotency-Key, events' fingerprint, position in the batch) always gives the same id.

    The fingerprint is part of it so that an id only ever names one event text: the consumer keeps the first
    write of a derived id, and other events sent under a key already used (a resend of only the failed part of
    a partial 503, a key reused once forgotten or while the idempotency table is down) must not share an id
    with a stored event, or they would be dropped as copies of it. The key goes last: it may hold colons."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{api_key_id or ''}:{fingerprint}:{index}:{idempotency_key}"))


def is_derived_event_id(event_id: str) -> bool:
    """True for an id made by derived_event_id (a UUID version 5), False for ingest's ULIDs."""
    try:
        return uuid.UUID(event_id).version == 5
    except ValueError:
        return False


def parse_envelope(body: Any) -> Envelope:
    """Parse and validate a message body. Raises EnvelopeError with a one-line reason."""
    if not isinstance(body, str):
        raise EnvelopeError("body is not a string")
    try:
        data = loads(body)
    except ValueError:
        raise EnvelopeError("body is not JSON") from None
    if not isinstance(data, dict):
        raise EnvelopeError("body is not a JSON object")
    if data.get("v") != ENVELOPE_VERSION:
        raise EnvelopeError(f"unsupported envelope version {data.get('v')!r}")
    for name in _REQUIRED:
        if not isinstance(data.get(name), str) or not data[name]:
            raise EnvelopeError(f"{name} is missing or not a non-empty string")
    for name in _OPTIONAL:
        if data.get(name) is not None and not isinstance(data[name], str):
            raise EnvelopeError(f"{name} is not a string")
    if len(data["event_id"]) > MAX_EVENT_ID_CHARS:
        raise EnvelopeError(f"event_id is longer than {MAX_EVENT_ID_CHARS} characters")
    try:
        parse_iso(data["received_at"])
    except ValueError:
        raise EnvelopeError("received_at is not an ISO 8601 timestamp") from None
    optional = {name: data.get(name) for name in _OPTIONAL}
    return Envelope(event_id=data["event_id"], raw=data["raw"], received_at=data["received_at"], **optional)
