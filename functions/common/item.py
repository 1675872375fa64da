"""The events table's item layout, written by the consumer and read by the operator tools.

DynamoDB bills one write unit per started 1 KB of item, and an item's size counts every attribute
NAME as well as its value (strings: UTF-8 bytes, binary: raw bytes, numbers: ~1 byte per two
significant digits + 1). So the layout is compact, and lossless:

    event_id  S  the table key (unchanged: renaming a key attribute replaces the table)
    r         S  raw, the event's JSON text as sent — or
    z         B  raw compressed with zlib, written only when that saves at least one write unit
    t         N  received_at as epoch milliseconds (ingest writes millisecond UTC ISO 8601)
    ip, ua, k S  source_ip, user_agent, api_key_id
    q         B  request_id as 16 bytes when it is a canonical UUID, else S
    x         B  trace_id packed to 25 bytes when it is a plain X-Ray header, else S
    expires_at N the TTL attribute (epoch seconds), only when table.ttl_days is set

`decode` also reads the first layout (long names, all strings), so items written before this one
stay readable.
"""

import base64
import re
import uuid
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from functions.common.clock import iso_millis
from functions.common.contract import EXPIRES_AT_ATTRIBUTE
from functions.common.envelope import Envelope

KEY = "event_id"
RAW = "r"
RAW_COMPRESSED = "z"
RECEIVED_AT = "t"
API_KEY_ID = "k"  # the producer's key id (operator tools filter on it)
_TEXT = {"source_ip": "ip", "user_agent": "ua", "api_key_id": API_KEY_ID}
REQUEST_ID = "q"
TRACE_ID = "x"
WRITE_UNIT_BYTES = 1024
SECONDS_PER_DAY = 86_400

# X-Ray's trace header as Lambda and API Gateway pass it on: packed as 4 + 12 + 8 + 1 bytes.
_TRACE = re.compile(r"Root=1-([0-9a-f]{8})-([0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=([01])")

Item = dict[str, dict[str, Any]]


def _millis(received_at: str) -> int | None:
    """Epoch milliseconds when the text is exactly what they give back, else None (stored as text)."""
    try:
        moment = datetime.fromisoformat(received_at)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    millis = round(moment.timestamp() * 1000)
    return millis if _iso_of(millis) == received_at else None


def _iso_of(millis: int) -> str:
    return iso_millis(datetime.fromtimestamp(millis / 1000, UTC))


def _pack_request_id(request_id: str) -> dict[str, Any]:
    try:
        packed = uuid.UUID(request_id)
    except ValueError:
        return {"S": request_id}
    return {"B": packed.bytes} if str(packed) == request_id else {"S": request_id}


def _pack_trace(trace_id: str) -> dict[str, Any]:
    match = _TRACE.fullmatch(trace_id)
    if not match:
        return {"S": trace_id}
    epoch, root, parent, sampled = match.groups()
    return {"B": bytes.fromhex(epoch + root + parent) + bytes([int(sampled)])}


def _unpack_trace(packed: bytes) -> str:
    text = packed[:24].hex()
    return f"Root=1-{text[:8]}-{text[8:32]};Parent={text[32:48]};Sampled={packed[24]}"


def _binary(value: Any) -> bytes:
    """boto3 hands binary back as a Binary wrapper (resource layer) or bytes (client layer)."""
    return bytes(getattr(value, "value", value))


def encode(envelope: Envelope, ttl_days: int | None = None) -> Item:
    """The item of an envelope: a pure function of it, so a redelivery overwrites an identical item."""
    item: Item = {KEY: {"S": envelope.event_id}}
    millis = _millis(envelope.received_at)
    item[RECEIVED_AT] = {"N": str(millis)} if millis is not None else {"S": envelope.received_at}
    for field, name in _TEXT.items():
        value = getattr(envelope, field)
        if value is not None:
            item[name] = {"S": value}
    if envelope.request_id is not None:
        item[REQUEST_ID] = _pack_request_id(envelope.request_id)
    if envelope.trace_id is not None:
        item[TRACE_ID] = _pack_trace(envelope.trace_id)
    if ttl_days is not None and millis is not None:
        item[EXPIRES_AT_ATTRIBUTE] = {"N": str(millis // 1000 + ttl_days * SECONDS_PER_DAY)}
    plain = {**item, RAW: {"S": envelope.raw}}
    if write_units(plain) == 1:  # nothing to save: skip the compression's CPU
        return plain
    compressed = {**item, RAW_COMPRESSED: {"B": zlib.compress(envelope.raw.encode("utf-8"))}}
    return compressed if write_units(compressed) < write_units(plain) else plain


def decode(item: Item) -> dict[str, Any]:
    """The envelope's fields of an item (either layout), plus `expires_at` when the item has one."""
    if "raw" in item:  # the first layout: long names, every value a string
        return {name: value["S"] for name, value in sorted(item.items())}
    fields: dict[str, Any] = {"event_id": item[KEY]["S"]}
    if RAW_COMPRESSED in item:
        fields["raw"] = zlib.decompress(_binary(item[RAW_COMPRESSED]["B"])).decode("utf-8")
    else:
        fields["raw"] = item[RAW]["S"]
    received = item[RECEIVED_AT]
    fields["received_at"] = _iso_of(int(Decimal(received["N"]))) if "N" in received else received["S"]
    for field, name in _TEXT.items():
        if name in item:
            fields[field] = item[name]["S"]
    if REQUEST_ID in item:
        value = item[REQUEST_ID]
        fields["request_id"] = str(uuid.UUID(bytes=_binary(value["B"]))) if "B" in value else value["S"]
    if TRACE_ID in item:
        value = item[TRACE_ID]
        fields["trace_id"] = _unpack_trace(_binary(value["B"])) if "B" in value else value["S"]
    if EXPIRES_AT_ATTRIBUTE in item:
        fields[EXPIRES_AT_ATTRIBUTE] = int(Decimal(item[EXPIRES_AT_ATTRIBUTE]["N"]))
    return dict(sorted(fields.items()))


def _number_bytes(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def item_bytes(item: Mapping[str, Mapping[str, Any]]) -> int:
    """The item's size as DynamoDB bills it: every attribute's name plus its value (AWS: "DynamoDB item sizes
    and formats"). The one sizer: the consumer's layout and the local stack's write-unit metric use it."""
    return sum(len(name.encode("utf-8")) + _value_bytes(value) for name, value in item.items())


def _value_bytes(value: Mapping[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        return _number_bytes(inner)
    if kind == "B":
        # raw bytes; a request body (what the local stack sees) carries them as base64 text
        return len(base64.b64decode(inner)) if isinstance(inner, str) else len(_binary(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_bytes({kind[0]: element}) for element in inner)
    if kind == "L":
        return 3 + sum(1 + _value_bytes(element) for element in inner)
    if kind == "M":
        return 3 + sum(1 + len(name.encode("utf-8")) + _value_bytes(element) for name, element in inner.items())
    raise ValueError(f"not a DynamoDB attribute type: {kind!r}")


def write_units(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Write request units of one PutItem (or one BatchWriteItem entry) of this item."""
    return max(1, -(-item_bytes(item) // WRITE_UNIT_BYTES))
