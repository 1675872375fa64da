"""The envelope schema: what ingest writes is what the consumer, archiver and replay tools read."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.common.envelope import Envelope, derived_event_id, events_fingerprint, new_event_id, parse_envelope
from functions.common.errors import EnvelopeError

VALID = {"v": 1, "event_id": "e-1", "raw": '{"a": 1}', "received_at": "2026-11-25T19:20:03.123Z"}


def test_round_trip_keeps_the_raw_text_and_is_ascii() -> None:
    # GIVEN an envelope whose event has non-ASCII and astral characters, quotes and control escapes
    envelope = Envelope(event_id="e-1", raw='{"s": "Zoë 😀 \\"q\\"\\n"}', received_at="2026-11-25T19:20:03.123Z")

    # WHEN it is written and read back
    text = envelope.to_json()

    # THEN the message is pure ASCII (valid for SQS whatever the event holds) and nothing changed
    assert text.isascii()
    assert parse_envelope(text) == envelope
    assert json.loads(text)["v"] == 1


def test_optional_fields_may_be_missing_and_unknown_fields_are_ignored() -> None:
    # GIVEN / WHEN a minimal envelope with a field a later version might add
    envelope = parse_envelope(json.dumps(VALID | {"future": True}))
    # THEN it parses, optional fields null
    assert envelope.source_ip is None and envelope.trace_id is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (None, "not a string"),
        ("Test message.", "not JSON"),
        ("[1]", "not a JSON object"),
        (json.dumps(VALID | {"v": 2}), "version"),
        (json.dumps({k: v for k, v in VALID.items() if k != "raw"}), "raw"),
        (json.dumps(VALID | {"event_id": ""}), "event_id"),
        (json.dumps(VALID | {"event_id": "x" * 129}), "event_id"),
        (json.dumps(VALID | {"raw": 5}), "raw"),
        (json.dumps(VALID | {"source_ip": 5}), "source_ip"),
        (json.dumps(VALID | {"received_at": "yesterday"}), "received_at"),
    ],
)
def test_invalid_bodies_are_refused_with_a_reason(body: object, reason: str) -> None:
    # GIVEN / WHEN a body that is not a valid envelope / THEN EnvelopeError says why
    with pytest.raises(EnvelopeError, match=reason):
        parse_envelope(body)


def test_derived_ids_are_stable_and_distinct() -> None:
    # GIVEN / WHEN ids derived from (API key id, Idempotency-Key, the request's events, index)
    events = events_fingerprint(['{"n": 1}', '{"n": 2}'])
    first = derived_event_id("key-1", "order-42", events, 0)
    # THEN the same inputs give the same id, any other input another one
    assert first == derived_event_id("key-1", "order-42", events, 0)
    others = {derived_event_id("key-2", "order-42", events, 0), derived_event_id("key-1", "order-43", events, 0)}
    others.add(derived_event_id("key-1", "order-42", events, 1))
    others.add(derived_event_id("key-1", "order-42", events_fingerprint(['{"n": 1}']), 0))  # other events
    assert first not in others and len(others) == 4


def test_the_events_fingerprint_tells_apart_every_split_of_the_same_text() -> None:
    # GIVEN event lists that join to the same text in different ways, and one list in two orders
    lists = [
        ['{"a": "x"}', '{"b": 1}'],
        ['{"a": "x"}{"b": 1}'],
        ['{"b": 1}', '{"a": "x"}'],
        ['{"a": "x"}', "", '{"b": 1}'],
    ]
    # WHEN fingerprinted
    # THEN each has its own fingerprint, and the same list always the same one
    assert len({events_fingerprint(events) for events in lists}) == len(lists)
    assert events_fingerprint(list(lists[0])) == events_fingerprint(lists[0])


def key_ids(key: str, events: list[str]) -> list[str]:
    fingerprint = events_fingerprint(events)
    return [derived_event_id("key-1", key, fingerprint, index) for index in range(len(events))]


@given(
    key=st.text(min_size=1, max_size=10),
    first=st.lists(st.text(max_size=8), min_size=1, max_size=4),
    second=st.lists(st.text(max_size=8), min_size=1, max_size=4),
)
def test_other_events_under_one_key_never_share_an_id(key: str, first: list[str], second: list[str]) -> None:
    # GIVEN two requests under one Idempotency-Key
    # WHEN their ids are derived
    # THEN they are the same ids when the events are the same, and no id is shared when they are not: an id never
    # names two event texts (the consumer keeps only the first write of an id)
    if first == second:
        assert key_ids(key, first) == key_ids(key, second)
    else:
        assert set(key_ids(key, first)).isdisjoint(key_ids(key, second))


def test_new_ids_are_unique_ulids() -> None:
    ids = [new_event_id() for _ in range(1000)]
    assert len(set(ids)) == 1000 and all(len(event_id) == 26 for event_id in ids)
