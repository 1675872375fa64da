"""The events table's item codec: compact, lossless, compressed only when that saves a write unit."""

import json
import random
import string
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.common.contract import EXPIRES_AT_ATTRIBUTE
from functions.common.envelope import Envelope
from functions.common.item import decode, encode, item_bytes, write_units

TRACE = "Root=1-6745a3b1-5f2c8e0d9a1b3c4d5e6f7081;Parent=53995c3f42cd8ad8;Sampled=1"
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def realistic(raw: str, **fields: str | None) -> Envelope:
    """An envelope with what ingest records behind API Gateway: ULID, ms UTC time, IPv4, SDK agent, key id,
    a UUID request id and an X-Ray header."""
    values: dict[str, str | None] = {
        "event_id": "01JDQ8Z4R2M5X7W9Y3B6C8D0EF",
        "raw": raw,
        "received_at": "2026-11-25T19:20:03.123Z",
        "source_ip": "203.0.113.42",
        "user_agent": "python-requests/2.32.3",
        "api_key_id": "a1b2c3d4e5",
        "request_id": REQUEST_ID,
        "trace_id": TRACE,
    }
    return Envelope(**(values | fields))  # type: ignore[arg-type]


def fields_of(envelope: Envelope) -> dict[str, str]:
    return {name: value for name, value in json.loads(envelope.to_json()).items() if name != "v" and value}


def incompressible(size: int, seed: int = 7) -> str:
    filler = "".join(random.Random(seed).choices(string.ascii_letters + string.digits, k=size - 12))
    return json.dumps({"notes": filler}, separators=(",", ":"))


text = st.text(min_size=1, max_size=60)
optional_text = st.none() | text


@given(
    raw=st.text(min_size=1, max_size=3000),
    received_at=st.sampled_from(["2026-11-25T19:20:03.123Z", "2026-11-25T19:20:03Z", "2026-11-25T19:20:03.123+01:00"]),
    source_ip=optional_text,
    user_agent=optional_text,
    api_key_id=optional_text,
    request_id=st.none() | st.just(REQUEST_ID) | st.just(REQUEST_ID.upper()) | text,
    trace_id=st.none() | st.just(TRACE) | st.just(TRACE.replace("Sampled=1", "Sampled=0")) | text,
)
def test_every_envelope_survives_the_item_unchanged(**fields: str | None) -> None:
    # GIVEN any envelope (odd timestamps, ids and headers are kept as text, not packed)
    envelope = Envelope(event_id="e-1", **fields)  # type: ignore[arg-type]
    # WHEN it is encoded as an item and decoded again
    # THEN every field comes back exactly
    assert decode(encode(envelope)) == fields_of(envelope)


@pytest.mark.parametrize("size", [300, 850, 900])
def test_a_typical_event_up_to_900_bytes_takes_one_write_unit_and_the_first_layout_took_two(size: int) -> None:
    # GIVEN an event that barely compresses (random filler) with full ingest metadata
    envelope = realistic(incompressible(size))
    first_layout = {name: {"S": value} for name, value in fields_of(envelope).items()}
    # WHEN it is encoded
    item = encode(envelope)
    # THEN it fits one write unit (up to ~880 bytes as text, beyond that compressed);
    # the long-named all-string layout needed two from ~750 bytes
    assert write_units(item) == 1
    assert ("r" in item) == (size <= 850)
    assert write_units(first_layout) == (1 if size == 300 else 2)


def test_raw_is_compressed_only_when_that_saves_a_write_unit() -> None:
    # GIVEN a repetitive 3 KB event, a small one, and a 1.5 KB one that barely compresses
    repetitive = json.dumps([{"type": "page_view", "page": "/pricing", "n": n} for n in range(60)])
    compressed = encode(realistic(repetitive))
    small = encode(realistic('{"kind": "click"}'))
    random_item = encode(realistic(incompressible(1500)))
    # THEN the repetitive one is stored compressed in one unit, and read back exactly
    assert set(compressed) & {"r", "z"} == {"z"} and write_units(compressed) == 1
    assert zlib.decompress(compressed["z"]["B"]).decode() == repetitive
    # AND the others keep their text: compressing would not save a unit
    assert "r" in small and "r" in random_item


def test_item_size_follows_the_documented_rules() -> None:
    # GIVEN one attribute of each type we write (AWS: "DynamoDB item sizes and formats")
    item = {"event_id": {"S": "é1"}, "z": {"B": b"\x00\x01\x02"}, "t": {"N": "1795634403123"}, "n": {"N": "0.0100"}}
    # THEN names and UTF-8 strings count their bytes, binary its raw bytes, numbers 1 per 2 significant digits + 1
    assert item_bytes(item) == (8 + 3) + (1 + 3) + (1 + 7 + 1) + (1 + 1 + 1)
    assert write_units({"event_id": {"S": "x" * (1024 - 8)}}) == 1
    assert write_units({"event_id": {"S": "x" * (1025 - 8)}}) == 2


def test_item_size_counts_documents_sets_and_request_binary_as_documented() -> None:
    # GIVEN the other types, as the local stack sees them in a request body (binary as base64 text)
    item = {
        "b": {"B": "AAEC"},  # 3 raw bytes
        "f": {"BOOL": True},
        "u": {"NULL": True},
        "s": {"SS": ["ab", "c"]},
        "l": {"L": [{"S": "ab"}, {"N": "7"}]},
        "m": {"M": {"k": {"S": "v"}}},
    }
    # THEN binary counts its raw bytes, null and Boolean 1, a set the sum of its elements, and a list or map
    # 3 bytes plus 1 per element (and a map's element its name too)
    assert item_bytes(item) == (1 + 3) + (1 + 1) + (1 + 1) + (1 + 3) + (1 + 3 + 1 + 2 + 1 + 2) + (1 + 3 + 1 + 1 + 1)


@pytest.mark.parametrize("ttl_days", [None, 30])
def test_the_ttl_attribute_is_epoch_seconds_after_the_event_was_received(ttl_days: int | None) -> None:
    # GIVEN an event received at 2026-11-25T19:20:03.123Z
    item = encode(realistic("{}"), ttl_days=ttl_days)
    # THEN with table.ttl_days it expires that many days after it was received (a pure function of the
    # envelope, so a redelivery writes the same item); without it, never
    if ttl_days is None:
        assert EXPIRES_AT_ATTRIBUTE not in item
    else:
        assert item[EXPIRES_AT_ATTRIBUTE] == {"N": str(1795634403 + 30 * 86_400)}
        assert decode(item)[EXPIRES_AT_ATTRIBUTE] == 1795634403 + 30 * 86_400
