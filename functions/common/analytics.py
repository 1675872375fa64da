"""The S3 analytics store's format: one gzip JSON Lines object per consumer batch and hour.

Key: `{prefix}/dt=YYYY-MM-DD/hour=HH/{digest}.jsonl.gz`, partitioned by the events' UTC received hour
(the Glue table projects `dt` and `hour`, so new partitions need no crawler). `digest` is a hash of the
event ids in the object and the lines are sorted by event id, so the same events always make the same key
and the same bytes: a redelivered batch overwrites its object instead of adding a copy.

Each line: event_id, received_at (millisecond UTC ISO 8601), raw (the event's JSON text as sent),
source_ip, user_agent, api_key_id, request_id, trace_id (null when unknown).
"""

import gzip
import hashlib
import json
from collections import defaultdict
from datetime import UTC
from typing import Any

from functions.common.clock import parse_iso
from functions.common.contract import ANALYTICS_CANARY_PREFIX, ANALYTICS_COLUMNS
from functions.common.envelope import Envelope

SUFFIX = ".jsonl.gz"


def canary_key(event_id: str) -> str:
    return f"{ANALYTICS_CANARY_PREFIX}/{event_id}.json"


def canary_marker(envelope: Envelope) -> bytes:
    return json.dumps({"event_id": envelope.event_id, "received_at": envelope.received_at}).encode("utf-8")


def line_of(envelope: Envelope) -> dict[str, Any]:
    """The event's line: its fields named by the store's columns, in their order."""
    return {column: getattr(envelope, column) for column in ANALYTICS_COLUMNS}


def partition_of(envelope: Envelope) -> str:
    """`dt=YYYY-MM-DD/hour=HH` of the event's UTC received time."""
    return parse_iso(envelope.received_at).astimezone(UTC).strftime("dt=%Y-%m-%d/hour=%H")


def analytics_objects(prefix: str, envelopes: list[Envelope]) -> dict[str, tuple[bytes, list[str]]]:
    """{key: (object bytes, its event ids)} for a batch: one object per received hour."""
    by_hour: defaultdict[str, dict[str, Envelope]] = defaultdict(dict)
    for envelope in envelopes:
        by_hour[partition_of(envelope)][envelope.event_id] = envelope
    objects = {}
    for partition, events in by_hour.items():
        ids = sorted(events)
        digest = hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()[:32]
        key = "/".join(part for part in (prefix.strip("/"), partition, digest + SUFFIX) if part)
        objects[key] = (write_lines([line_of(events[event_id]) for event_id in ids]), ids)
    return objects


def write_lines(lines: list[dict[str, Any]]) -> bytes:
    text = "".join(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n" for line in lines)
    return gzip.compress(text.encode("utf-8"), mtime=0)  # mtime=0: bytes are a pure function of the lines


def read_lines(data: bytes) -> list[dict[str, Any]]:
    """The lines of a store object. A line ends at "\n" only: str.splitlines() also ends one at NEL, U+2028 and
    U+2029, which JSON leaves unescaped inside strings (write_lines keeps them as sent)."""
    return [json.loads(line) for line in gzip.decompress(data).decode("utf-8").split("\n") if line]
