"""The analytics store's object format: partitioned by received hour, keyed and ordered by its events."""

import json
from dataclasses import fields

from functions.common.analytics import analytics_objects, read_lines
from functions.common.contract import ANALYTICS_COLUMNS
from functions.common.envelope import Envelope


def envelope(event_id: str, received_at: str) -> Envelope:
    return Envelope(event_id=event_id, raw=json.dumps({"id": event_id}), received_at=received_at, source_ip="ip")


def test_the_same_events_make_the_same_keys_and_bytes_whatever_their_order() -> None:
    # GIVEN events of two UTC hours, one of them given with an offset
    events = [
        envelope("b", "2026-11-25T23:59:00.000Z"),
        envelope("a", "2026-11-26T01:30:00.000+01:00"),  # 00:30 UTC
        envelope("c", "2026-11-25T23:00:00.000Z"),
    ]
    # WHEN objects are made from them in two orders
    first, second = analytics_objects("events", events), analytics_objects("events/", list(reversed(events)))
    # THEN keys, bytes and ids agree; each hour has one object with its events sorted by id
    assert first == second
    assert sorted(key.rsplit("/", 1)[0] for key in first) == [
        "events/dt=2026-11-25/hour=23",
        "events/dt=2026-11-26/hour=00",
    ]
    for key, (data, ids) in first.items():
        assert key.endswith(".jsonl.gz")
        assert [line["event_id"] for line in read_lines(data)] == ids == sorted(ids)


def test_a_line_holds_every_envelope_field_under_the_store_columns_in_their_order() -> None:
    # GIVEN the envelope's fields: everything ingest knows about an event
    assert set(ANALYTICS_COLUMNS) == {field.name for field in fields(Envelope)}
    # WHEN an event's object is written
    [(data, _)] = analytics_objects("events", [envelope("x", "2026-11-25T10:00:00.000Z")]).values()
    # THEN its line holds each of them, named and ordered as the Glue table's columns
    assert list(read_lines(data)[0]) == list(ANALYTICS_COLUMNS)
    assert read_lines(data) == [
        {
            "event_id": "x",
            "raw": '{"id": "x"}',
            "received_at": "2026-11-25T10:00:00.000Z",
            "source_ip": "ip",
            "user_agent": None,
            "api_key_id": None,
            "request_id": None,
            "trace_id": None,
        }
    ]


# Characters JSON leaves unescaped (with ensure_ascii off, as the store is written) that str.splitlines() takes
# for line ends: NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR.
UNICODE_LINE_BREAKS = "a\x85b\u2028c\u2029d"


def test_an_event_holding_unicode_line_breaks_reads_back_as_one_line() -> None:
    # GIVEN an event whose text holds NEL, U+2028 and U+2029, beside an ordinary one
    odd = Envelope("odd", json.dumps({"text": UNICODE_LINE_BREAKS}, ensure_ascii=False), "2026-11-25T10:00:00.000Z")
    plain = Envelope("plain", "{}", "2026-11-25T10:00:00.000Z")
    [(data, ids)] = analytics_objects("events", [odd, plain]).values()
    # WHEN its object is read back
    lines = read_lines(data)
    # THEN one line per event (NDJSON ends a line at "\n" only), the text unchanged
    assert [line["event_id"] for line in lines] == ids == ["odd", "plain"]
    assert json.loads(lines[0]["raw"]) == {"text": UNICODE_LINE_BREAKS}
