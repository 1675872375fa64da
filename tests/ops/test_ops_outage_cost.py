"""What a database outage adds with issue 26's design: parking in S3 behind the breakers, probes bounded by the
environments, pointers to the parked objects drained at the consumer's throughput, dead letters only past the
retry window (ops/outage_model.py, ops/outage_cost.py)."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from core.config import load_config
from core.paths import PROJECT_ROOT
from ops.cost import Assumptions, Prices, Workload
from ops.cost_report import format_outage
from ops.outage_cost import outage_estimate, parking_lines
from ops.outage_model import (
    DEPTH_POLL_SECONDS,
    POINTERS_PER_ROUND,
    ParkingCounts,
    drain_throughput,
    entries_per_send,
    events_per_batch,
    expected_parking_counts,
    full_throughput,
    objects_taken,
    parking_design,
    pointer_batch_seconds,
)
from tests.ops.cost_helpers import FLAT, TINY_PRICES, WORKLOAD

PROD = load_config("prod")
RETRIER_APP = PROJECT_ROOT / "functions/retrier/app.py"


def test_the_design_is_read_from_the_configuration() -> None:
    # GIVEN prod: a probe per 30 s, a retrier run a minute within its 60 s timeout, 10 environments × 100 per batch
    design = parking_design(PROD)
    # THEN the run is 10 s shorter than the interval and the depth two rounds of the consumer's batches
    assert (design.probe_interval_seconds, design.retrier_interval_seconds) == (30, 60)
    assert design.retrier_run_seconds == 50
    assert design.unpark_queue_depth == 2 * 10 * 100
    assert design.retrier_memory_mb == PROD.functions["retrier"].memory_mb
    # AND another configuration's values are its own
    slower = dataclasses.replace(PROD, queue=dataclasses.replace(PROD.queue, probe_interval_seconds=90))
    assert parking_design(slower).probe_interval_seconds == 90


def test_the_retriers_pace_is_the_one_functions_retrier_app_py_has() -> None:
    # GIVEN the retrier's module, read as text (importing it reads the function's environment)
    constants = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(RETRIER_APP.read_text(encoding="utf-8")).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id.isupper()
        and isinstance(node.value, ast.Constant)
    }  # fmt: skip
    # THEN the model's copies are its values
    assert constants["POINTERS_PER_ROUND"] == POINTERS_PER_ROUND
    assert constants["DEPTH_POLL_SECONDS"] == DEPTH_POLL_SECONDS


def test_a_batch_of_pointers_reads_its_objects_side_by_side_and_takes_at_most_10000_events() -> None:
    # GIVEN prod's batches of 100 and ops/cost.py's call times: 10 ms + 0.1 ms per record, 12 ms per BatchWriteItem
    # of 25, 30 ms per S3 request; the consumer takes at most 10,000 parked events a batch and reads 8 objects at once
    assume = Assumptions()
    # WHEN the consumer handles a batch of 100 pointers to objects of 100 events
    seconds = pointer_batch_seconds(PROD, assume, 100)
    # THEN it takes the events of all 100 objects: 10 ms + 0.1 ms × 10,100 records + 400 × 12 ms, 13 rounds of 8
    # GETs and 100 DELETEs (each emptied object) of 30 ms
    assert objects_taken(100, 100) == 100
    assert seconds == pytest.approx((10 + 0.1 * 10_100 + 400 * 12 + (13 + 100) * 30) / 1000)
    # AND with every environment busy the drain stores 10 × 10,000 events per such batch: less than ordinary batches
    assert drain_throughput(PROD, assume, 100) == pytest.approx(100_000 / seconds)
    assert drain_throughput(PROD, assume, 100) < full_throughput(PROD, assume)
    # AND smaller objects fit whole (100 × 10 events) but drain slower: more GETs and DELETEs per event
    assert objects_taken(100, 10) == 100
    assert drain_throughput(PROD, assume, 10) < drain_throughput(PROD, assume, 100)


def test_an_hour_parks_every_event_and_the_store_sees_only_probes() -> None:
    # GIVEN prod: 10 environments, batches of 100, a probe per 30 s, a retrier run a minute
    # WHEN an hour at 1,000 events/s is counted
    counts = expected_parking_counts(PROD, 1000, 1.0)
    # THEN every event is parked once, one object per batch: a run's trickled object is read and left as it is
    runs = 60
    assert counts.accepted == 3_600_000
    assert counts.parked_objects == 36_000
    assert counts.parked_events == 3_600_000
    assert counts.rewritten_objects == 0
    # AND the store gets each environment's first failure and a probe every 30 s after it: 10 × 120
    assert counts.store_requests == 10 * 3600 / 30
    # AND nothing outlasts the 24 h window: every object is emptied once; a batch of 100 pointers takes the events of
    # all 100 (within the 10,000 cap), so each object is pointed at once, besides each run's trickle
    assert counts.dead_lettered_events == 0
    assert counts.emptied_objects == counts.parked_objects
    assert counts.pointers == counts.parked_objects + runs
    assert counts.pointer_batches == counts.pointers / 100
    # AND while the consumer drains, the retrier waits on the depth for 50 s of every 60
    draining = 3_600_000 / drain_throughput(PROD, Assumptions(), 100)
    assert counts.retrier_wait_seconds == pytest.approx(draining * 50 / 60)
    assert counts.depth_checks == pytest.approx(counts.pointers / 50 + counts.retrier_wait_seconds)


def test_store_requests_do_not_depend_on_the_rate() -> None:
    # GIVEN a 2 h outage at 10 and at 1,000 events/s WHEN counted
    slow, fast = expected_parking_counts(PROD, 10, 2.0), expected_parking_counts(PROD, 1000, 2.0)
    # THEN the store gets the same requests, while the parked objects grow with the rate
    assert slow.store_requests == fast.store_requests == 10 * 2 * 3600 / 30
    assert fast.parked_objects > slow.parked_objects


def test_an_outage_beyond_the_window_dead_letters_what_was_accepted_before_its_last_24_hours() -> None:
    # GIVEN 30 h at 100 events/s WHEN counted
    counts = expected_parking_counts(PROD, 100, 30.0)
    # THEN the first 6 h of events are dead-lettered by the consumer (their window is spent), the rest stored
    assert counts.dead_lettered_events == 100 * 6 * 3600
    # AND every object, spent or not, is emptied once: one per batch of 100 (batches take all 100 objects of 100
    # events: pointed at once), besides one trickled pointer per retrier run
    assert counts.emptied_objects == counts.parked_objects == 100 * 30 * 3600 / 100
    assert counts.pointers == counts.parked_objects + 30 * 60


def test_batches_are_as_full_as_the_rate_fills_them_within_the_window() -> None:
    # GIVEN prod's 1 s batching window and batches of up to 100
    # THEN 10 events/s make batches of 10, 1,000 events/s full ones
    assert events_per_batch(PROD, 10) == 10
    assert events_per_batch(PROD, 1000) == 100
    # AND a SendMessageBatch takes 10 envelopes, fewer when 10 would pass its 1 MiB
    assert entries_per_send(1_500) == 10
    assert entries_per_send(300_000) == 3


def checkable_prices(folder: Path) -> Prices:
    """The tiny table with S3 requests priced too: PUT and LIST $1, GET $0.1, DELETE $0.01 per 1,000."""
    text = TINY_PRICES.replace("put_requests_per_thousand = 0.0", "put_requests_per_thousand = 1.0")
    text = text.replace("get_requests_per_thousand = 0.0", "get_requests_per_thousand = 0.1")
    text = text.replace("delete_requests_per_thousand = 0.0", "delete_requests_per_thousand = 0.01")
    path = folder / "prices.toml"
    path.write_text(text)
    return Prices.load(path)


def test_each_count_is_priced_on_its_own_line(tmp_path: Path) -> None:
    # GIVEN counts where every line can be checked by hand, $1 per million SQS requests, $1 per GB-s, $2 per
    # million invocations, and invocations of 1 s whatever they do (S3 requests 30 ms, SQS calls free)
    prices = checkable_prices(tmp_path)
    counts = ParkingCounts(
        accepted=1000, parked_events=1000, parked_objects=10, rewritten_objects=2, emptied_objects=6, probes=4,
        store_failures=2, pointers=10, pointer_batches=0.1, dead_lettered_events=400, depth_checks=7,
        retrier_wait_seconds=20, list_pages=3,
    )  # fmt: skip
    # WHEN priced
    lines = {line.item: line for line in parking_lines(counts, PROD, prices, WORKLOAD, FLAT)}
    # THEN the pointers add a tenth of an invocation, and the consumer's time is the parking invocations (1 s and a
    # PUT each), the pointers' share of one, their GETs (2 rounds of 8 side by side) and the 8 rewrites and deletes
    # one after the other, at 0.5 GB
    assert lines["consumer invocations for pointers (one per 100)"].usd == pytest.approx(0.1 * 2 / 1_000_000)
    consumer = lines["consumer time: parking, probes, pointers, DLQ sends"]
    assert consumer.quantity == pytest.approx((10 * 1.030 + 0.1 * 1 + (2 + 8) * 0.030) * 0.5)
    # AND the retrier's time is its LIST pages and its waits on the depth, at 0.25 GB
    assert lines["retrier: its calls and its waits on the queue's depth"].quantity == pytest.approx(
        (3 * 0.030 + 20) * 0.25
    )
    # AND the SQS requests: pointers sent 10 per call, received and deleted 10 per call, the depth checks, and the
    # dead letters sent 10 per call
    assert lines["SendMessageBatch of pointers (10 per call)"].quantity == 1
    assert lines["ReceiveMessage + DeleteMessageBatch of pointers"].quantity == 2
    assert lines["GetQueueAttributes: per 50 pointers, each second at depth"].usd == pytest.approx(7 / 1_000_000)
    assert lines["SendMessageBatch to the DLQ (retry window spent)"].quantity == 40
    # AND one PUT per parked object and per rewritten one, a GET per pointer, a DELETE per emptied object, LIST
    # pages at the PUT price
    assert lines["parked objects (PUT, one per batch of 100)"].usd == pytest.approx(10 * 1.0 / 1000)
    rewritten = lines["pointed objects rewritten, smaller (PUT)"]
    assert rewritten.quantity == 2 and rewritten.usd == pytest.approx(2 * 1.0 / 1000)
    read = lines["GET of the object each pointer names"]
    assert read.quantity == 10 and read.usd == pytest.approx(10 * 0.1 / 1000)
    emptied = lines["DELETE of each pointed object emptied"]
    assert emptied.quantity == 6 and emptied.usd == pytest.approx(6 * 0.01 / 1000)
    assert lines["ListObjectsV2 pages of the parked objects"].usd == pytest.approx(3 * 1.0 / 1000)
    # AND the failed store calls are counted, never billed
    failed = lines["store calls while the breakers are open (they fail)"]
    assert failed.quantity == 6 and failed.usd == 0
    # AND the dead letters are archived and replayed as before: archiver batches of 10
    assert lines["archive objects (PUT)"].quantity == 40


def test_a_longer_outage_costs_more_and_the_report_says_what_it_did(prices: Prices) -> None:
    # GIVEN prod's 24-hour window WHEN outages of 1 and 30 hours are priced
    workload = Workload(rate=100, event_bytes=1024, hours_per_month=1)
    short = outage_estimate(PROD, prices, workload, 1.0, FLAT)
    long = outage_estimate(PROD, prices, workload, 30.0, FLAT)
    # THEN the hour dead-letters nothing and the 30 hours dead-letter their first 6
    assert short.dead_lettered == 0 and short.events == 360_000
    assert long.dead_lettered == 100 * 6 * 3600
    assert long.total > short.total > 0
    # AND the report names the design and what the store saw
    report = format_outage(short, PROD)
    assert report[0] == (
        "a database outage of 1 h (retry window 24 h; batches parked in S3 behind a circuit breaker, "
        "one probe per 30 s per consumer environment):"
    )
    assert "the store gets 1.20k requests (at most 10 environments × 2 a minute)" in report[1]
    assert report[-1].strip().startswith("added to the month")
