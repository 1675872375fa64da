"""The alarms added against AWS's recommended alarms (issue 15 §5), on the local stack: each reaches its tier on its
real cause and returns to OK when the cause ends."""

from __future__ import annotations

import time

import pytest

from alarms.stopped_consumer import stopped_consumer_bound
from cloudformation.config import load_config
from local.background import BackgroundStack
from local.runtime import EVALUATION_INTERVAL_SECONDS, METRICS_INTERVAL_SECONDS

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

CONFIG = load_config("local")
# The local stand-in for CloudWatch's metric delay: a period is evaluated once the publisher has sent it (settle),
# on the evaluator's next round.
EVALUATION_DELAY_SECONDS = METRICS_INTERVAL_SECONDS + 1 + 2 * EVALUATION_INTERVAL_SECONDS
QUIET_TIMEOUT = 120.0  # another test's alarms may still be clearing
CLEAR_TIMEOUT = 90.0
STORE_TIMEOUT = 60.0
PAUSE_SECONDS = 300.0  # the fault's own limit; the test lifts it as soon as the alarm fired
CONSUMER_STOPPED = CONFIG.resource_name("consumer-stopped-high")


def alarm_state(stack: BackgroundStack, name: str) -> str:
    return stack.status()["alarms"][name]


def first_alarm_since(stack: BackgroundStack, name: str, since: float) -> float:
    """When `name` last went to ALARM after `since` (epoch seconds), by the stack's own record."""
    times = [
        item["time"]
        for item in stack.control("GET", f"/alarm-transitions?since={since}")
        if item["alarm"] == name and item["new"] == "ALARM"
    ]
    return min(times)


def wait_stored(stack: BackgroundStack, ids: list[str], timeout: float = STORE_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    missing = set(ids) - stack.stored_ids(ids)
    while missing:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(missing)} of {len(ids)} accepted events not stored after {timeout:.0f} s")
        time.sleep(1)
        missing -= stack.stored_ids(sorted(missing))


def test_a_paused_consumer_pages_within_the_derived_bound_and_clears_when_it_polls_again(local_stack):
    stack = local_stack
    bound = stopped_consumer_bound(CONFIG)
    # GIVEN a stack with no fault, an empty ingest queue and the consumer-stopped alarm OK
    for fault in stack.status()["chaos"]:
        stack.lift(fault)

    def quiet(status: dict) -> bool:
        queue = status["queues"]["ingest"]
        return queue["visible"] == 0 and queue["in_flight"] == 0 and status["alarms"][CONSUMER_STOPPED] == "OK"

    stack.wait_until(quiet, QUIET_TIMEOUT, "an empty ingest queue and consumer-stopped OK")
    # WHEN the consumer's mapping stops polling, with no error anywhere, and a client's events arrive (a poll
    # already under way when the pause began may still take some: the canary's next event stays, if not these)
    stack.inject("consumer-paused", PAUSE_SECONDS)
    try:
        response = stack.post_events([{"kind": "consumer-paused", "n": n} for n in range(5)])
        assert response.status_code == 202
        ids = response.json()["ids"]
        stack.wait_until(
            lambda status: status["queues"]["ingest"]["visible"] > 0, QUIET_TIMEOUT, "events visible to nobody"
        )
        visible_since = time.time()  # no earlier than they became visible
        # THEN consumer-stopped pages, within the bound derived from the batching window and the timeout
        stack.wait_until(
            lambda status: status["alarms"][CONSUMER_STOPPED] == "ALARM",
            bound.page_within_seconds + EVALUATION_DELAY_SECONDS + QUIET_TIMEOUT,
            "consumer-stopped to page",
        )
        paged_after = first_alarm_since(stack, CONSUMER_STOPPED, visible_since) - visible_since
        print(
            f"consumer-stopped paged {paged_after:.0f} s after events were visible; bound {bound.page_within_seconds} s"
        )
        assert paged_after <= bound.page_within_seconds + EVALUATION_DELAY_SECONDS
        # AND the events still wait, visible, in the queue
        assert stack.status()["queues"]["ingest"]["visible"] > 0
    finally:
        # WHEN the mapping polls again
        stack.lift("consumer-paused")
    # THEN the events are stored and the alarm returns to OK
    wait_stored(stack, ids)
    stack.wait_until(lambda status: status["alarms"][CONSUMER_STOPPED] == "OK", CLEAR_TIMEOUT, "consumer-stopped OK")
