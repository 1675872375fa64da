"""The alarms added against AWS's recommended alarms (issue 15 §5), on the local stack: each reaches its tier on its
real cause and returns to OK when the cause ends."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

from alarms.definitions import definitions_from_template
from alarms.engine.evaluation import MetricAlarm
from alarms.engine.metric_math import BAND_HISTORY_PERIODS, BAND_MIN_HISTORY
from alarms.stopped_consumer import stopped_consumer_bound
from core.config import load_config
from local.services.cloudwatch_reader import fetch_series
from local.stack.runtime import EVALUATION_INTERVAL_SECONDS, METRICS_INTERVAL_SECONDS
from synth.synthesize import full_template
from tests.e2e.clients import Background, Trickle
from tests.e2e.stack_helpers import alarm, first_transition
from tests.local_stack_harness import HarnessStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack-d")]

CONFIG = load_config("local")
# The local stand-in for CloudWatch's metric delay: a period is evaluated once the publisher has sent it (settle),
# on the evaluator's next round.
EVALUATION_DELAY_SECONDS = METRICS_INTERVAL_SECONDS + 1 + 2 * EVALUATION_INTERVAL_SECONDS
QUIET_TIMEOUT = 120.0  # another test's alarms may still be clearing
CLEAR_TIMEOUT = 90.0
STORE_TIMEOUT = 60.0
PAUSE_SECONDS = 300.0  # the fault's own limit; the test lifts it as soon as the alarm fired
CONSUMER_STOPPED = alarm("consumer-stopped", "high")
TRAFFIC_STOPPED = alarm("api-traffic-stopped", "low")
PERIOD = CONFIG.monitoring.period_seconds
CLIENT_INTERVAL = 0.5  # two requests a second: about 20 a period, far above the zero a stop brings
# Until the band knows the clients' traffic: silent periods still in the history keep it near zero, and traffic
# far above them does not train it until they have left the history.
LEARN_TIMEOUT = (BAND_HISTORY_PERIODS + BAND_MIN_HISTORY + 3) * PERIOD + QUIET_TIMEOUT


def last_judged_period_end(stack: HarnessStack, name: str) -> float:
    """The end of the newest period the alarm's last transition was decided on (its StateReasonData)."""
    (alarm,) = stack.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    reason = json.loads(alarm["StateReasonData"])
    newest = max(
        datetime.strptime(point["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z") for point in reason["evaluatedDatapoints"]
    )
    return newest.timestamp() + reason["period"]


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
        paged_at = first_transition(stack, CONSUMER_STOPPED, "ALARM", visible_since)
        assert paged_at is not None, "consumer-stopped paged, by the stack's status, but recorded no transition"
        paged_after = paged_at - visible_since
        # judged in metric time (the periods the paging evaluation read), not by when a busy machine evaluated them
        judged_after = last_judged_period_end(stack, CONSUMER_STOPPED) - visible_since
        print(
            f"consumer-stopped paged {paged_after:.0f} s after events were visible, on periods ending "
            f"{judged_after:.0f} s after; bound {bound.page_within_seconds} s"
        )
        assert judged_after <= bound.page_within_seconds
        # AND the events still wait, visible, in the queue
        assert stack.status()["queues"]["ingest"]["visible"] > 0
    finally:
        # WHEN the mapping polls again
        stack.lift("consumer-paused")
    # THEN the events are stored and the alarm returns to OK
    stack.wait_stored(ids, STORE_TIMEOUT)
    stack.wait_until(lambda status: status["alarms"][CONSUMER_STOPPED] == "OK", CLEAR_TIMEOUT, "consumer-stopped OK")


def traffic_stopped_alarm() -> MetricAlarm:
    template = full_template(CONFIG).to_dict()
    (definition,) = [
        d
        for d in definitions_from_template(template, lambda node: str(node)).alarms
        if d["AlarmName"] == TRAFFIC_STOPPED
    ]
    return MetricAlarm.from_definition(definition)


def stop_would_breach(stack: HarnessStack, alarm: MetricAlarm) -> bool:
    """Whether the band the alarm draws for the current period, from the traffic so far, lies above zero."""
    now = int(time.time() // PERIOD) * PERIOD
    start = now - (BAND_HISTORY_PERIODS + 1) * PERIOD
    series = fetch_series(stack.client("cloudwatch"), alarm.metric_stats(), start, now)
    _, band = alarm.values(series, [now])
    return band is not None and now in band.bounds and band.bounds[now][0] > 0


def test_client_traffic_that_stops_reaches_the_low_tier_and_clears_when_it_returns(local_stack):
    stack = local_stack
    alarm = traffic_stopped_alarm()
    # GIVEN clients sending steadily, long enough for the band to know their traffic (a stop would be below it)
    stack.wait_until(lambda status: status["alarms"][TRAFFIC_STOPPED] == "OK", QUIET_TIMEOUT, "traffic-stopped OK")
    clients = Trickle(stack)
    sender = Background(clients.step, CLIENT_INTERVAL, LEARN_TIMEOUT)
    sender.start()
    try:
        stack.wait_until(lambda _: stop_would_breach(stack, alarm), LEARN_TIMEOUT, "a band that knows the traffic")
    finally:
        sender.stop()
    # WHEN every client stops (the canary goes on)
    stopped = time.time()
    # THEN the alarm goes to ALARM, on the low tier
    stack.wait_until(
        lambda status: status["alarms"][TRAFFIC_STOPPED] == "ALARM",
        (alarm.evaluation_periods + 1) * PERIOD + EVALUATION_DELAY_SECONDS + QUIET_TIMEOUT,
        "traffic-stopped to fire",
    )
    fired = [
        item
        for item in stack.control("GET", f"/alarm-transitions?since={stopped}")
        if item["alarm"] == TRAFFIC_STOPPED and item["new"] == "ALARM"
    ]
    assert [item["tier"] for item in fired] == ["low"]
    # WHEN the clients come back THEN it returns to OK
    back = Background(Trickle(stack).step, CLIENT_INTERVAL, CLEAR_TIMEOUT)
    back.start()
    try:
        stack.wait_until(lambda status: status["alarms"][TRAFFIC_STOPPED] == "OK", CLEAR_TIMEOUT, "traffic-stopped OK")
    finally:
        back.stop()
    assert set(clients.statuses) == {202}


RECORD_FAILURES = alarm("consumer-record-failures", "low")
DB_DOWN_SECONDS = 60.0  # the fault's own limit; the test lifts it as soon as the alarm fired


def test_records_failing_under_a_database_outage_reach_the_low_tier_and_clear(local_stack):
    stack = local_stack
    # GIVEN a stack with no fault and consumer-record-failures OK, and clients sending about 20 events a period
    for fault in stack.status()["chaos"]:
        stack.lift(fault)
    stack.wait_until(lambda status: status["alarms"][RECORD_FAILURES] == "OK", QUIET_TIMEOUT, "record failures OK")
    clients = Trickle(stack)
    sender = Background(clients.step, CLIENT_INTERVAL, DB_DOWN_SECONDS + CLEAR_TIMEOUT + QUIET_TIMEOUT)
    sender.start()
    try:
        # WHEN the database is unreachable: every record the consumer receives goes back to the queue, reported in
        # batchItemFailures (Lambda's Errors counts none of them)
        stack.inject("db-down", DB_DOWN_SECONDS)
        down_at = time.time()
        # THEN the share of records failed reaches the low tier
        stack.wait_until(
            lambda status: status["alarms"][RECORD_FAILURES] == "ALARM", DB_DOWN_SECONDS, "record failures to fire"
        )
        fired = [
            item
            for item in stack.control("GET", f"/alarm-transitions?since={down_at}")
            if item["alarm"] == RECORD_FAILURES and item["new"] == "ALARM"
        ]
        assert [item["tier"] for item in fired] == ["low"]
        # WHEN the database is back THEN records are stored again and the alarm returns to OK
        stack.lift("db-down")
        stack.wait_until(lambda status: status["alarms"][RECORD_FAILURES] == "OK", CLEAR_TIMEOUT, "record failures OK")
    finally:
        stack.lift("db-down")
        sender.stop()
    # AND every accepted event is stored
    assert set(clients.statuses) == {202}
    stack.wait_stored(clients.ids(), STORE_TIMEOUT + CLEAR_TIMEOUT)
