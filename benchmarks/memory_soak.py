"""moto server's memory over a long run at a steady rate: once its windows are full it must stay flat.

Starts a local stack of its own (`python -m local.stack.runtime` on free ports, a temporary state folder), sends
RATE events/s through the local API for MINUTES (EVENTS_PER_REQUEST per POST), prints the resident memory of
the moto server and of the runtime every SAMPLE_SECONDS, then waits for the queue to drain, stops the stack and
prints the slopes of moto's RSS — bytes per accepted event and per minute — over the samples after the first
(the first minute loads code and fills caches) and over their first and second halves. What legitimately grows
is the stored data (one DynamoDB item per event, one S3 analytics object per consumer batch): the run removes
it a sample after the events were accepted, unless --keep-stored; anything else that grows per event is a leak.
moto's windows (metric data, deleted receipt handles) fill first: --metrics-window sets the metric one.

    python -m benchmarks.memory_soak --minutes 30 --rate 50 --metrics-window 900

Not a test (it takes as long as it is told); bounded in requests and time, it stops by itself.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from cloudformation import output_keys
from local.emulation.metrics_retention import DEFAULT_RETENTION_SECONDS, MINIMUM_RETENTION_SECONDS, RETENTION_ENV
from local.stack.background import BackgroundStack, start_background_stack
from ops import local_output_keys
from ops.waiting import WaitTimedOut, wait_until

MAX_MINUTES = 240
MAX_RATE = 500  # events/s: the local stack's pipeline tops out well below this on 2 cores
DRAIN_TIMEOUT_SECONDS = 300
BATCH_WRITE_MAX_ITEMS = 25  # BatchWriteItem's limit
BATCH_WRITE_ATTEMPTS = 5
SENDERS = 4
MIB = 1024 * 1024


class UsageError(ValueError):
    """An option out of range; the message is one line."""


@dataclass(frozen=True)
class Sample:
    elapsed_seconds: float
    events_accepted: int
    moto_rss_bytes: int
    runtime_rss_bytes: int  # the runtime's process: gateway, handlers, pollers, metrics, evaluator
    table_items: int


def slope(points: Sequence[tuple[float, float]]) -> float:
    """The least-squares slope of y over x; 0 when x does not vary."""
    count = len(points)
    mean_x = sum(x for x, _ in points) / count
    mean_y = sum(y for _, y in points) / count
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def growth(samples: Sequence[Sample]) -> tuple[float, float]:
    """(moto RSS bytes per accepted event, per minute): the least-squares slopes over `samples`."""
    per_event = slope([(sample.events_accepted, sample.moto_rss_bytes) for sample in samples])
    per_minute = slope([(sample.elapsed_seconds / 60, sample.moto_rss_bytes) for sample in samples])
    return per_event, per_minute


class Sender:
    """POSTs batches of events at a fixed rate from SENDERS threads (so one slow answer does not slow the rate);
    a thread behind its schedule sends at once, so the rate holds while the API keeps up. Counts what the API
    accepted."""

    def __init__(self, stack: BackgroundStack, rate: float, events_per_request: int) -> None:
        self._url = f"{stack.api_url}/events"
        self._headers = {"x-api-key": stack.outputs[local_output_keys.API_KEY], "Content-Type": "application/json"}
        self._interval = events_per_request / rate
        self._events_per_request = events_per_request
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.accepted = 0
        self.refused = 0
        self._ids: list[str] = []

    def take_ids(self) -> list[str]:
        """The ids accepted since the last call."""
        with self._lock:
            taken, self._ids = self._ids, []
        return taken

    def start(self, start: float, end: float) -> None:
        """Send every request due from `start` to `end` (monotonic seconds), in the background."""
        for offset in range(SENDERS):
            thread = threading.Thread(target=self._send, args=(offset, start, end), daemon=True)
            thread.start()
            self._threads.append(thread)

    def join(self) -> None:
        for thread in self._threads:
            thread.join()

    def _send(self, offset: int, start: float, end: float) -> None:
        session = requests.Session()
        number = offset
        while (due := start + number * self._interval) < end:
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            first = number * self._events_per_request
            body = [{"soak": True, "n": first + i} for i in range(self._events_per_request)]
            number += SENDERS
            ids: list[str] = []
            try:
                response = session.post(self._url, data=json.dumps(body), headers=self._headers, timeout=30)
                if response.status_code == 202:
                    ids = response.json()["ids"]
            except requests.RequestException:
                pass  # counted as refused: the run reports it
            with self._lock:
                self._ids.extend(ids)
                self.accepted += len(ids)
                self.refused += self._events_per_request - len(ids)


class StoredData:
    """Removes what the pipeline stored for the soak's events — their items in the events table, every object
    version in the S3 analytics store — so that what moto keeps besides is all that is left to grow."""

    def __init__(self, stack: BackgroundStack) -> None:
        self._dynamodb = stack.client("dynamodb")
        self._s3 = stack.client("s3")
        self._table = stack.outputs[output_keys.TABLE_NAME]
        self._bucket = stack.outputs.get(output_keys.ANALYTICS_BUCKET, "")

    def remove(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), BATCH_WRITE_MAX_ITEMS):
            requests_ = [
                {"DeleteRequest": {"Key": {"event_id": {"S": event_id}}}}
                for event_id in ids[start : start + BATCH_WRITE_MAX_ITEMS]
            ]
            pending: dict = {self._table: requests_}
            for _ in range(BATCH_WRITE_ATTEMPTS):  # moto processes every item; AWS may return some unprocessed
                pending = self._dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if not pending:
                    break
        if self._bucket:
            self._remove_analytics_objects()

    def _remove_analytics_objects(self) -> None:
        """Every version and delete marker of the store (the bucket is versioned): deleting a key only hides it."""
        for page in self._s3.get_paginator("list_object_versions").paginate(Bucket=self._bucket):
            versions = [
                {"Key": version["Key"], "VersionId": version["VersionId"]}
                for version in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if versions:  # a page holds at most 1,000, DeleteObjects' limit
                self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": versions, "Quiet": True})


def sample(stack: BackgroundStack, started: float, accepted: int) -> Sample:
    status = stack.status()
    return Sample(
        elapsed_seconds=time.monotonic() - started,
        events_accepted=accepted,
        moto_rss_bytes=int(status["memory"]["moto_rss_bytes"]),
        runtime_rss_bytes=int(status["memory"]["runtime_rss_bytes"]),
        table_items=int(status["table_items"]),
    )


def print_sample(row: Sample) -> None:
    print(
        f"  {row.elapsed_seconds / 60:6.1f} min  {row.events_accepted:9,d} events accepted  "
        f"{row.table_items:9,d} items  moto RSS {row.moto_rss_bytes / MIB:8.1f} MiB  "
        f"runtime RSS {row.runtime_rss_bytes / MIB:7.1f} MiB",
        flush=True,
    )


def wait_drained(stack: BackgroundStack, timeout: float) -> None:
    """Until the ingest queue holds nothing, visible or in flight (or `timeout` s)."""

    def drained() -> bool:
        ingest = stack.status()["queues"]["ingest"]
        return ingest["visible"] == 0 and ingest["in_flight"] == 0

    try:
        wait_until(drained, timeout=timeout, interval=2, what="the ingest queue to drain")
    except WaitTimedOut:
        print(f"  (the queue had not drained after {timeout:.0f} s)", flush=True)


def soak(
    stack: BackgroundStack, minutes: float, rate: float, events_per_request: int, every: float, keep_stored: bool
) -> list[Sample]:
    """Send for `minutes`, sampling every `every` s; unless `keep_stored`, each sample first removes the items
    and objects of the events accepted before the previous sample (stored by now: the pipeline takes seconds)."""
    sender = Sender(stack, rate, events_per_request)
    stored = StoredData(stack)
    started = time.monotonic()
    end = started + minutes * 60
    samples = [sample(stack, started, 0)]
    print_sample(samples[0])
    sender.start(started, end)
    settled: list[str] = []
    for number in range(1, math.ceil(minutes * 60 / every) + 1):  # one sample every `every` s, the last at the end
        time.sleep(max(0.0, min(end, started + number * every) - time.monotonic()))
        if not keep_stored:
            stored.remove(settled)
            settled = sender.take_ids()
        samples.append(sample(stack, started, sender.accepted))
        print_sample(samples[-1])
    sender.join()
    wait_drained(stack, DRAIN_TIMEOUT_SECONDS)
    if not keep_stored:
        stored.remove(settled + sender.take_ids())
    samples.append(sample(stack, started, sender.accepted))
    print("  drained" + ("" if keep_stored else ", every stored event removed") + ":", flush=True)
    print_sample(samples[-1])
    if sender.refused:
        print(f"  {sender.refused:,d} events refused or unanswered", flush=True)
    return samples


def report(samples: Sequence[Sample]) -> str:
    """The start and end, and the slopes over the samples after the first (warm-up), over their first and their
    second half: memory that stops growing once every window (metrics, deleted handles) is full shows a second
    half near zero."""
    steady = samples[1:] if len(samples) > 2 else samples
    middle = len(steady) // 2
    lines = [
        f"moto RSS {samples[0].moto_rss_bytes / MIB:.1f} MiB at the start, {steady[0].moto_rss_bytes / MIB:.1f} MiB "
        f"after the first sample, {samples[-1].moto_rss_bytes / MIB:.1f} MiB at the end "
        f"(runtime {samples[0].runtime_rss_bytes / MIB:.1f} -> {samples[-1].runtime_rss_bytes / MIB:.1f} MiB)"
    ]
    for label, part in (
        ("after the first sample", steady),
        ("first half", steady[: middle + 1]),
        ("second half", steady[middle:]),
    ):
        if len(part) < 2:
            continue
        per_event, per_minute = growth(part)
        events = part[-1].events_accepted - part[0].events_accepted
        lines.append(
            f"slope {label}: {per_event:,.0f} bytes per event ({events:,d} events), "
            f"{per_minute / 1024:,.1f} KiB per minute"
        )
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory_soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help=f"how long to send (at most {MAX_MINUTES})")
    parser.add_argument("--rate", type=float, default=50.0, help=f"events per second (at most {MAX_RATE})")
    parser.add_argument("--events-per-request", type=int, default=10, help="events in each POST (1 to 10)")
    parser.add_argument("--sample-seconds", type=float, default=60.0, help="seconds between memory samples")
    parser.add_argument("--env", default="local", help="the configuration the stack runs")
    parser.add_argument(
        "--metrics-window",
        type=int,
        default=DEFAULT_RETENTION_SECONDS,
        help=f"seconds of metric data moto keeps ({RETENTION_ENV}; at least {MINIMUM_RETENTION_SECONDS})",
    )
    parser.add_argument(
        "--keep-stored",
        action="store_true",
        help="keep the events' items and analytics objects (moto then grows by what they take)",
    )
    options = parser.parse_args(argv)
    if not 0 < options.minutes <= MAX_MINUTES:
        raise UsageError(f"--minutes: expected more than 0 and at most {MAX_MINUTES}, got {options.minutes}")
    if not 0 < options.rate <= MAX_RATE:
        raise UsageError(f"--rate: expected more than 0 and at most {MAX_RATE}, got {options.rate}")
    if not 1 <= options.events_per_request <= 10:
        raise UsageError(f"--events-per-request: expected 1 to 10, got {options.events_per_request}")
    if options.metrics_window < MINIMUM_RETENTION_SECONDS:
        raise UsageError(
            f"--metrics-window: expected at least {MINIMUM_RETENTION_SECONDS}, got {options.metrics_window}"
        )
    if not 1 <= options.sample_seconds <= options.minutes * 60:
        raise UsageError(f"--sample-seconds: expected 1 to the run's length, got {options.sample_seconds}")
    return options


def main(argv: list[str] | None = None) -> int:
    try:
        options = parse(argv)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="sluice-soak-") as folder:
        print(
            f"starting a local stack ({options.env}) in {folder}, keeping {options.metrics_window} s of metrics ...",
            flush=True,
        )
        os.environ[RETENTION_ENV] = str(options.metrics_window)  # the stack's moto server reads it
        stack = start_background_stack(Path(folder) / "state", env=options.env)
        try:
            print(
                f"sending {options.rate:g} events/s for {options.minutes:g} min, "
                f"{options.events_per_request} per request; moto server's memory every {options.sample_seconds:g} s:",
                flush=True,
            )
            samples = soak(
                stack,
                options.minutes,
                options.rate,
                options.events_per_request,
                options.sample_seconds,
                options.keep_stored,
            )
        finally:
            stack.stop()
    print(report(samples), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
