"""The rate alarms on the local stack judge only periods with enough requests (monitoring.min_requests_per_period):
1 refused request in 3 for many periods pages nobody; the same share at normal traffic alarms."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from core.config import load_config
from tests.e2e.stack_helpers import alarm, first_transition
from tests.local_stack_harness import HarnessStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

CONFIG = load_config("local")
PERIOD = CONFIG.monitoring.period_seconds
MINIMUM = CONFIG.monitoring.min_requests_per_period
CLIENT_ERRORS = alarm("api-4xx-rate", "low")
SPARSE_PERIODS = 8  # far more than the alarm's evaluation periods
BUSY_REFUSED = MINIMUM  # refused requests per busy period, ...
BUSY_ACCEPTED = 2 * MINIMUM  # ... among this many accepted ones: a third refused, as in the sparse periods
QUIET_TIMEOUT = 120.0
FIRE_TIMEOUT = 90.0


def send_period(stack: HarnessStack, accepted: int, refused: int) -> Counter[int]:
    """One period's requests: `accepted` valid events, `refused` without an API key (403)."""
    statuses: Counter[int] = Counter()
    for index in range(accepted + refused):
        key = None if index < refused else "default"
        statuses[stack.post_events([{"kind": "rate-test", "i": index}], key=key).status_code] += 1
    return statuses


def next_boundary() -> float:
    return (time.time() // PERIOD + 1) * PERIOD


@pytest.fixture
def only_these_requests(local_stack):
    """The canary's own requests (two a local period) would count towards each period's minimum: here the
    periods must hold exactly the requests the test sends."""
    with local_stack.canary_paused():
        yield


def test_a_handful_of_requests_never_pages_but_a_real_error_rate_does(local_stack, only_these_requests):
    # GIVEN the 4XX-rate alarm OK, and no requests but the test's
    local_stack.wait_until(lambda s: s["alarms"][CLIENT_ERRORS] == "OK", QUIET_TIMEOUT, "the 4XX alarm to be OK")
    # WHEN for many periods each has 1 refused request in 3 (33 %, far above the 5 % threshold)
    began = next_boundary()
    time.sleep(began - time.time())
    sparse: Counter[int] = Counter()
    for step in range(SPARSE_PERIODS):
        sparse += send_period(local_stack, accepted=2, refused=1)
        time.sleep(max(0.0, began + (step + 1) * PERIOD - time.time()))
    assert sparse == Counter({202: 2 * SPARSE_PERIODS, 403: SPARSE_PERIODS})
    # AND then the same share arrives at normal traffic until the alarm fires
    busy_began = time.time()
    deadline = busy_began + FIRE_TIMEOUT
    fired = None
    while fired is None and time.time() < deadline:
        busy = send_period(local_stack, accepted=BUSY_ACCEPTED, refused=BUSY_REFUSED)
        assert busy == Counter({202: BUSY_ACCEPTED, 403: BUSY_REFUSED})
        time.sleep(max(0.0, next_boundary() - time.time()))
        fired = first_transition(local_stack, CLIENT_ERRORS, "ALARM", began)
    # THEN it fired, and not before two busy periods had ended: the sparse periods, all evaluated before them,
    # never counted
    assert fired is not None, f"{CLIENT_ERRORS} did not fire within {FIRE_TIMEOUT:.0f} s of normal traffic"
    first_busy_period = int(busy_began // PERIOD) * PERIOD
    assert fired >= first_busy_period + 2 * PERIOD, (fired, busy_began)
    # AND once the errors stop it clears
    local_stack.wait_until(lambda s: s["alarms"][CLIENT_ERRORS] == "OK", QUIET_TIMEOUT, "the 4XX alarm to clear")
