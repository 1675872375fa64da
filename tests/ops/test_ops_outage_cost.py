"""What a database outage adds with issue 26's design: parking in S3 behind the breakers, probes bounded by the
environments, dead letters only past the retry window (ops/outage_model.py, ops/outage_cost.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudformation.config import load_config
from ops.cost import Prices, Workload
from ops.cost_report import format_outage
from ops.outage_cost import outage_estimate, parking_lines
from ops.outage_model import ParkingCounts, entries_per_send, events_per_batch, expected_parking_counts
from tests.ops.cost_helpers import FLAT, TINY_PRICES, WORKLOAD

PROD = load_config("prod")


def test_an_hour_parks_every_event_and_the_store_sees_only_probes() -> None:
    # GIVEN prod: 10 environments, batches of 100, a probe per 30 s, a retrier run a minute
    # WHEN an hour at 1,000 events/s is counted
    counts = expected_parking_counts(PROD, 1000, 1.0)
    # THEN every event is parked once, one object per batch, plus the one object each run trickles back
    runs = 60
    assert counts.accepted == 3_600_000
    assert counts.parked_events == 3_600_000 + runs * 100
    assert counts.parked_objects == counts.parked_events / 100
    # AND the store gets each environment's first failure and a probe every 30 s after it: 10 × 120
    assert counts.store_requests == 10 * 3600 / 30
    # AND nothing outlasts the 24 h window: all of it is unparked, one GetQueueAttributes per object
    assert counts.dead_lettered_events == 0
    assert counts.unparked_events == counts.parked_events
    assert counts.depth_checks == counts.unparked_objects == counts.parked_objects


def test_store_requests_do_not_depend_on_the_rate() -> None:
    # GIVEN a 2 h outage at 10 and at 1,000 events/s WHEN counted
    slow, fast = expected_parking_counts(PROD, 10, 2.0), expected_parking_counts(PROD, 1000, 2.0)
    # THEN the store gets the same requests, while the parked objects grow with the rate
    assert slow.store_requests == fast.store_requests == 10 * 2 * 3600 / 30
    assert fast.parked_objects > slow.parked_objects


def test_an_outage_beyond_the_window_dead_letters_what_was_accepted_before_its_last_24_hours() -> None:
    # GIVEN 30 h at 100 events/s WHEN counted
    counts = expected_parking_counts(PROD, 100, 30.0)
    # THEN the first 6 h of events are dead-lettered (their window is spent), the rest unparked
    assert counts.dead_lettered_events == 100 * 6 * 3600
    assert counts.dead_lettered_objects == counts.dead_lettered_events / 100
    assert counts.unparked_events == counts.parked_events - counts.dead_lettered_events


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
    # GIVEN counts where every line can be checked by hand, and $1 per million SQS requests
    prices = checkable_prices(tmp_path)
    counts = ParkingCounts(
        accepted=1000, parked_events=1000, parked_objects=10, probes=4, store_failures=2, unparked_events=600,
        unparked_objects=6, dead_lettered_events=400, dead_lettered_objects=4, depth_checks=6, list_pages=3,
    )  # fmt: skip
    # WHEN priced
    lines = {line.item: line for line in parking_lines(counts, PROD, prices, WORKLOAD, FLAT)}
    # THEN one PUT per parked object, a GET + DELETE per object read, LIST pages at the PUT price
    assert lines["parked objects (PUT, one per batch of 100)"].usd == pytest.approx(10 * 1.0 / 1000)
    read = lines["GET + DELETE of each object unparked or dead-lettered"]
    assert read.quantity == 20 and read.usd == pytest.approx(10 * (0.1 + 0.01) / 1000)
    assert lines["ListObjectsV2 pages of the parked objects"].usd == pytest.approx(3 * 1.0 / 1000)
    # AND the SQS calls: a second receive + delete of each parked event, sends of 10 to unpark and to dead-letter
    assert lines["ReceiveMessage + DeleteMessageBatch of parked events"].quantity == 1000 / 10 + 1000 / 10
    assert lines["SendMessageBatch to unpark (10 per call)"].quantity == 60
    assert lines["SendMessageBatch to the DLQ (retry window spent)"].quantity == 40
    assert lines["GetQueueAttributes before each object unparked"].usd == pytest.approx(6 / 1_000_000)
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
