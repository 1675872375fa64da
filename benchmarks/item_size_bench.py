"""Write units per event over the load profile's event size mix: the first item layout vs the compact one.

Run: .venv/bin/python -m benchmarks.item_size_bench [--env prod] [--samples 200]

Each event is what the load test sends (loadtest/payloads.py: realistic fields padded with random filler, so
it compresses worse than most real JSON) inside the metadata ingest records behind API Gateway (a ULID, a
millisecond UTC time, an IPv4 address, an SDK user agent, an API key id, a UUID request id and an X-Ray
header). The baseline is the first layout (every envelope field as a string attribute under its long name),
computed in the same run; both are sized by functions/common/item.py's item_bytes (AWS's documented rules).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass

from functions.common.envelope import Envelope
from functions.common.item import encode, write_units
from loadtest.payloads import event_json
from loadtest.profiles import load_profile


def envelope_of(raw: str, rng: random.Random) -> Envelope:
    return Envelope(
        event_id="01JDQ8Z4R2M5X7W9Y3B6C8D0EF",
        raw=raw,
        received_at="2026-11-25T19:20:03.123Z",
        source_ip=f"203.0.113.{rng.randrange(256)}",
        user_agent="python-requests/2.32.3",
        api_key_id="a1b2c3d4e5",
        request_id="c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        trace_id=f"Root=1-6745a3b1-{rng.getrandbits(96):024x};Parent={rng.getrandbits(64):016x};Sampled=1",
    )


def first_layout(envelope: Envelope) -> dict[str, dict[str, str]]:
    """The item the consumer wrote before the compact layout: every field a string, under its long name."""
    fields = {
        "event_id": envelope.event_id,
        "raw": envelope.raw,
        "received_at": envelope.received_at,
        "source_ip": envelope.source_ip,
        "user_agent": envelope.user_agent,
        "api_key_id": envelope.api_key_id,
        "request_id": envelope.request_id,
        "trace_id": envelope.trace_id,
    }
    return {name: {"S": value} for name, value in fields.items() if value is not None}


@dataclass
class SizeRow:
    event_bytes: int
    weight: float
    before: float  # mean write units
    after: float
    compressed_share: float
    encode_us: float
    baseline_us: float


def measure(size: int, weight: float, samples: int, rng: random.Random) -> SizeRow:
    envelopes = [envelope_of(event_json(rng, size), rng) for _ in range(samples)]
    started = time.perf_counter()
    baseline = [first_layout(envelope) for envelope in envelopes]
    baseline_us = (time.perf_counter() - started) / samples * 1e6
    started = time.perf_counter()
    compact = [encode(envelope) for envelope in envelopes]
    encode_us = (time.perf_counter() - started) / samples * 1e6
    return SizeRow(
        event_bytes=size,
        weight=weight,
        before=sum(map(write_units, baseline)) / samples,
        after=sum(map(write_units, compact)) / samples,
        compressed_share=sum("z" in item for item in compact) / samples,
        encode_us=encode_us,
        baseline_us=baseline_us,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="prod", help="the load profile's environment (loadtest/profiles.toml)")
    parser.add_argument("--samples", type=int, default=200, help="events per size")
    args = parser.parse_args(argv or [])  # `invoke bench` calls main() with its own argv in sys.argv
    rng = random.Random(17)
    profile = load_profile(args.env)
    rows = [measure(entry.value, entry.weight, args.samples, rng) for entry in profile.event_sizes]
    total = sum(row.weight for row in rows)
    print(f"event size mix of profile {args.env!r}, {args.samples} events per size")
    print(f"{'bytes':>7} {'weight':>6} {'WRU before':>10} {'WRU after':>9} {'compressed':>10}  encode µs (baseline µs)")
    for row in rows:
        print(
            f"{row.event_bytes:>7} {row.weight:>6g} {row.before:>10.2f} {row.after:>9.2f} "
            f"{row.compressed_share:>10.0%}  {row.encode_us:>9.1f} ({row.baseline_us:.1f})"
        )
    before = sum(row.before * row.weight for row in rows) / total
    after = sum(row.after * row.weight for row in rows) / total
    print(f"mix average: {before:.2f} WRU per event before, {after:.2f} after ({after / before:.2f}×)")


if __name__ == "__main__":
    main(sys.argv[1:])
