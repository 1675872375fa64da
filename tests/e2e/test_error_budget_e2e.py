"""The error budget's burn-rate alarms on the local stack, driven by real requests: server errors are real 503s
(ingest cannot reach the queue while the `queue-down` fault is injected around exactly those requests).

Locally the SLO window is 2 hours (sluice.toml), so the workbook's pairs become: fast burn 10 s and 10 s above
14.4× the budget's pace (page), steady burn 60 s and 10 s above 6× (page), slow burn 12 min and 60 s above 1×
(low tier). At 99.9 % one error is harmless only among more than 1,000 requests in a window: the trickles run at
tens of requests a second, from a few client threads.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.config import load_config
from core.slo import burn_windows
from local.stack.runtime import EVALUATION_INTERVAL_SECONDS, METRICS_INTERVAL_SECONDS
from tests.e2e.stack_helpers import alarm, alarm_states, wait_alarm_states
from tests.local_stack_harness import HarnessStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack-c")]

CONFIG = load_config("local")
PERIOD = CONFIG.monitoring.period_seconds
PAIRS = {pair.policy.name: pair for pair in burn_windows(CONFIG.monitoring)}
FAST, STEADY, SLOW = (
    alarm(f"error-budget-{name}", tier)
    for name, tier in (("fast-burn", "high"), ("steady-burn", "high"), ("slow-burn", "low"))
)
COMPOSITES = (FAST, STEADY, SLOW)
AT_RISK = alarm("ingestion-at-risk", "high")  # the paging pairs page through it: one page an outage
PAGES = {FAST, STEADY, AT_RISK}
# the long windows a test needs clean before it starts: what earlier requests left there must not count
LONG = {name: alarm(f"error-budget-{name}-long", PAIRS[name].policy.tier) for name in PAIRS}
CLIENTS = 4  # threads sending the good requests
RATE = CONFIG.api.rate_limit * 3 // 5  # requests a second, well under the usage plan's rate (100 locally)
QUIET_TIMEOUT = PAIRS["slow-burn"].long_seconds + 120.0  # the slow pair's long window forgets in 12 min
FIRE_TIMEOUT = 120.0
CLEAR_TIMEOUT = 90.0
# A period is judged once the metrics publisher has sent it (local/stack/runtime.py), on the next evaluation round.
EVALUATED_AFTER_SECONDS = METRICS_INTERVAL_SECONDS + 1 + 2 * EVALUATION_INTERVAL_SECONDS


class Client:
    """Good requests from CLIENTS threads; a server error is a request sent while the queue is down."""

    def __init__(self, stack: HarnessStack) -> None:
        self.stack = stack
        self.statuses: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(CLIENTS)

    def _post(self, index: int) -> None:
        status = self.stack.post_events([{"kind": "error-budget-test", "i": index}]).status_code
        with self._lock:
            self.statuses[status] += 1

    def good(self, count: int) -> None:
        """`count` good requests, at most RATE a second: the API key's usage plan refuses more with 429."""
        for first in range(0, count, RATE):
            second = time.monotonic() + 1.0
            list(self._pool.map(self._post, range(first, min(first + RATE, count))))
            time.sleep(max(0.0, second - time.monotonic()))  # pacing, not waiting for an outcome

    def failing(self, count: int) -> None:
        self.stack.inject("queue-down", 60)
        try:
            for index in range(count):
                self._post(index)
        finally:
            self.stack.lift("queue-down")

    def mix(self, good: int, failing: int, seconds: float, stop: threading.Event | None = None) -> float:
        """Rounds of `good` requests with `failing` ones in their middle, for `seconds` (or until `stop`); returns
        requests a second. Good traffic on both sides of each failure: a window that slides past the last request
        would otherwise judge a failure against the few requests before it."""
        began = time.monotonic()
        before = sum(self.statuses.values())
        while time.monotonic() - began < seconds and not (stop and stop.is_set()):
            self.good(good // 2)
            self.failing(failing)
            self.good(good - good // 2)
        return (sum(self.statuses.values()) - before) / (time.monotonic() - began)

    def close(self) -> None:
        self._pool.shutdown()


@pytest.fixture
def client(local_stack):
    """Only the test's own requests: the canary's would be counted in the windows too."""
    with local_stack.canary_paused():
        sender = Client(local_stack)
        try:
            yield sender
        finally:
            sender.close()
            local_stack.lift("queue-down")


def test_a_steady_trickle_well_under_the_objective_stays_quiet(local_stack, client):
    # GIVEN every burn-rate pair OK, and clean long windows (no server error left in them)
    wait_alarm_states(local_stack, [*COMPOSITES, *LONG.values()], "OK", QUIET_TIMEOUT)
    start = time.time()
    # WHEN for two minutes one request in 2,000 gets a 503 (0.05 %: half the budget's pace)
    rate = client.mix(good=1999, failing=1, seconds=2 * PAIRS["steady-burn"].long_seconds)
    # AND the evaluator has judged the windows ending after the trickle's last period
    judged = (math.ceil(time.time() / PERIOD) + 1) * PERIOD + EVALUATED_AFTER_SECONDS
    time.sleep(max(0.0, judged - time.time()))
    # THEN the clients saw those 503s, and no pair went to ALARM meanwhile
    assert client.statuses[503] >= 1 and set(client.statuses) == {202, 503}, client.statuses
    fired = local_stack.fired_since(start) & (set(COMPOSITES) | PAGES)
    print(f"\ntrickle at {rate:.0f} requests/s, {dict(client.statuses)}: fired {sorted(fired) or 'nothing'}")
    assert fired == set(), alarm_states(local_stack, COMPOSITES)
    assert alarm_states(local_stack, COMPOSITES) == dict.fromkeys(COMPOSITES, "OK")


def test_a_trickle_that_spends_the_budget_in_days_reaches_the_low_tier_only(local_stack, client):
    # GIVEN the pairs OK and clean long windows
    wait_alarm_states(local_stack, [*COMPOSITES, *LONG.values()], "OK", QUIET_TIMEOUT)
    start = time.time()
    # WHEN one request in 250 gets a 503 (0.4 %: 4× the budget's pace, a 30-day budget gone in a week) until the
    # slow-burn pair fires
    done = threading.Event()
    sender = threading.Thread(target=client.mix, args=(249, 1, FIRE_TIMEOUT + 60, done))
    sender.start()
    try:
        wait_alarm_states(local_stack, [SLOW], "ALARM", FIRE_TIMEOUT)
    finally:
        done.set()
        sender.join()
    # THEN it reached the low tier, and nothing paged: 4× is under both paging pairs' rates
    print(f"\nslow burn: {dict(client.statuses)}; low tier after {time.time() - start:.0f} s")
    assert local_stack.fired_since(start) & PAGES == set()
    # AND once the trickle stops, the short window clears and so does the pair, though the long one remembers
    wait_alarm_states(local_stack, [SLOW], "OK", CLEAR_TIMEOUT)


def test_a_short_burst_of_a_few_percent_pages_within_minutes_and_clears_when_it_stops(local_stack, client):
    # GIVEN the fast pair and the composite it pages through OK
    wait_alarm_states(local_stack, [FAST, AT_RISK, LONG["fast-burn"]], "OK", QUIET_TIMEOUT)
    began = time.monotonic()
    # WHEN 3 % of requests get a 503 until the fast pair pages
    done = threading.Event()
    sender = threading.Thread(target=client.mix, args=(32, 1, FIRE_TIMEOUT + 60, done))
    sender.start()
    try:
        wait_alarm_states(local_stack, [FAST, AT_RISK], "ALARM", FIRE_TIMEOUT)
        paged = time.monotonic() - began
    finally:
        done.set()
        sender.join()
    # THEN it paged, through ingestion-at-risk, within minutes (the bound above) ...
    print(f"\nburst of 3 %: {dict(client.statuses)}; fast-burn page after {paged:.0f} s")
    assert client.statuses[503] >= 1
    # AND once the errors stop the page clears within a few short windows: a burst that is over pages no longer
    stopped = time.monotonic()
    wait_alarm_states(local_stack, [FAST], "OK", CLEAR_TIMEOUT)
    print(f"cleared {time.monotonic() - stopped:.0f} s after the burst")
