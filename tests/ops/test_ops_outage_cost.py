"""What a database outage adds: failed receives per event along the backoff schedule, and dead letters beyond it."""

from __future__ import annotations

import pytest

from cloudformation.config import load_config
from ops.cost import Prices
from ops.outage_cost import failed_receives_by_wait, outage_estimate
from tests.ops.cost_helpers import FLAT, WORKLOAD


@pytest.mark.parametrize(
    ("outage_seconds", "failed", "dead"),
    [(0, 0.0, 0.0), (25, 10 * 1 + 15 * 2, 0.0), (30, 10 * 1 + 20 * 2, 0.0), (40, 10 * 1 + 20 * 2 + 10 * 3, 10.0)],
)
def test_an_outage_fails_each_event_once_per_retry_it_reaches(outage_seconds: int, failed: float, dead: float) -> None:
    # GIVEN delays of 10 s then 20 s (3 receives) and one event a second through an outage
    # WHEN the outage's retries are counted
    # THEN an event with up to 10 s of outage left fails once, up to 30 s twice, and beyond that fails all three
    # receives and is dead-lettered
    assert failed_receives_by_wait((10, 20), outage_seconds, 1.0) == (failed, dead)


def test_an_outage_inside_the_window_costs_retries_and_one_beyond_it_dead_letters(prices: Prices) -> None:
    # GIVEN prod's 24-hour retry window
    config = load_config("prod")
    # WHEN outages of 1 hour and 30 hours are priced
    short = outage_estimate(config, prices, WORKLOAD, 1.0, FLAT)
    long = outage_estimate(config, prices, WORKLOAD, 30.0, FLAT)
    # THEN the hour dead-letters nothing and costs retries (a few receives per event, one backoff call per 10)
    assert short.dead_lettered == 0 and short.events == 3_600_000
    assert 1 < short.failed_receives / short.events < config.max_receive_count
    [backoff] = [line for line in short.lines if line.item.startswith("ChangeMessageVisibilityBatch")]
    assert backoff.quantity == short.failed_receives / 10 and backoff.usd > 0
    # AND 30 hours dead-letter what arrived more than the window's delays before the end, at every receive
    assert long.dead_lettered == WORKLOAD.rate * (30 * 3600 - sum(config.retry_schedule.delays))
    assert long.total > short.total
