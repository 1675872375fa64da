"""The analytics store's file format: gzip JSON Lines (what the consumer writes) vs Parquet, on what they cost the
consumer — cold start (a fresh interpreter importing the writer), the time to write one batch, the object's
bytes, and the package size a Lambda would carry. Same run, same events.

Run: .venv/bin/python -m benchmarks.sink_format_bench [--batch 100] [--runs 5]

Parquet needs pyarrow (`pip install pyarrow`, not a dependency of the functions); without it only the
JSON Lines side is measured.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.item_size_bench import envelope_of
from functions.common.analytics import write_lines
from loadtest.payloads import event_json
from loadtest.profiles import load_profile

IMPORTS = {
    "jsonl.gz": "import gzip, json",
    "parquet": "import pyarrow, pyarrow.parquet",
}


def cold_import_ms(statement: str, runs: int) -> float:
    """Median wall time of a fresh interpreter that runs `statement`, minus one that runs `pass`."""

    def median(code: str) -> float:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    # Below the noise of starting an interpreter a difference is no cost at all, not a negative one.
    return max(median(statement) - median("pass"), 0.0) * 1000


def batch_lines(size: int, rng: random.Random) -> list[dict[str, object]]:
    profile = load_profile("prod")
    return [asdict(envelope_of(event_json(rng, profile.event_size(rng)), rng)) for _ in range(size)]


def write_parquet(lines: list[dict[str, object]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(lines), sink, compression="zstd")
    return sink.getvalue()


def timed(write: Callable[[Any], bytes], lines: Any, runs: int) -> tuple[float, int]:
    times: list[float] = []
    size = 0
    for _ in range(runs):
        started = time.perf_counter()
        size = len(write(lines))
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, size


def package_mb(module: str) -> float:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return 0.0
    root = Path(spec.origin).parent
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file()) / 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=100, help="events per object (the consumer's batch)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv or [])
    lines = batch_lines(args.batch, random.Random(17))
    formats = {"jsonl.gz": (write_lines, 0.0)}
    if importlib.util.find_spec("pyarrow"):
        formats["parquet"] = (write_parquet, package_mb("pyarrow"))
    print(f"one object of {args.batch} events (prod's size mix), median of {args.runs} runs")
    print(f"{'format':<9} {'cold import ms':>14} {'write ms':>9} {'bytes':>9} {'package MB':>10}")
    baseline = None
    for name, (write, package) in formats.items():
        cold = cold_import_ms(IMPORTS[name], args.runs)
        write_ms, size = timed(write, lines, args.runs)
        baseline = baseline or (cold, write_ms, size)
        print(
            f"{name:<9} {cold:>14.1f} {write_ms:>9.2f} {size:>9,} {package:>10.1f}"
            # a cold import near 0 ms makes a meaningless ratio: the import is compared by its difference
            f"   (vs jsonl: import {cold - baseline[0]:+.0f} ms, write × {write_ms / baseline[1]:.2f}, "
            f"bytes × {size / baseline[2]:.2f})"
        )
    if "parquet" not in formats:
        print("parquet: pyarrow is not installed (pip install pyarrow) — not measured")


if __name__ == "__main__":
    main(sys.argv[1:])
