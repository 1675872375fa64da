"""The alarms on the local stack (issue 5): each kind of evaluation in alarms/table.py driven to ALARM by its
real cause and back to OK once the cause stops, and a steady nominal load that fires no alarm at all.

The local evaluator (local/services/alarm_evaluator.py) reads 10-second periods, three of them; two must breach unless
the
row says otherwise. The kinds, and the alarms that stand for them here:

| kind                                          | alarm                        | cause                              |
|-----------------------------------------------|------------------------------|------------------------------------|
| threshold on a raw AWS metric                 | consumer-errors-low          | consumer-crash                     |
|                                               | archiver-errors-high         | archive-down                       |
| metric math: a rate                           | api-4xx-rate-low             | requests without a key (403) and   |
|                                               |                              | with a wrong content type (415)    |
| metric math: the API → queue mismatch, every  | enqueue-gap-high             | EventsAccepted without a send      |
| period breaching                              |                              | (published at the metric level)    |
| metric math over one window-long period       | enqueue-gap-window-high      | the same                           |
| FILL() over DynamoDB metrics                  | table-throttles-low          | db-throttle                        |
| anomaly band                                  | api-request-anomaly-low      | a burst far above the history      |
| queue age                                     | queue-age-low                | consumer-crash (batches come back) |
| our EMF metric, first breaching period alarms | retries-low                  | db-down (events parked in S3)      |
| queue depth, first breaching period alarms    | dlq-visible-high             | poison messages, archive down      |
| (DatapointsToAlarm 1)                         | events-archived-low          | the poison archived afterwards     |
| composite                                     | ingestion-at-risk-high       | enqueue-gap(-window), dlq-visible  |

They share one test where their causes do not interfere (API-side and table-side causes, a poison on its way to
the dead-letter queue meanwhile), so the module costs about three and a half minutes of CI (about 65 s for the
nominal load, 130 s for the kinds), not a minute or more per kind.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests

from alarms.engine.metric_math import BAND_HISTORY_PERIODS, BAND_MIN_HISTORY, anomaly_band, evaluate
from alarms.table import REQUEST_BAND_WIDTH, alarm_definitions, composite_definitions
from cloudformation import output_keys
from core.config import load_config
from core.slo import windows_used
from dashboards.catalog import build_catalog
from local.services.cloudwatch_reader import fetch_series
from local.stack.runtime import EVALUATION_INTERVAL_SECONDS, METRICS_INTERVAL_SECONDS
from ops import local_output_keys
from tests.e2e.clients import Background, Trickle, stop_all
from tests.e2e.stack_helpers import (
    alarm,
    alarm_transitions,
    archived_bodies,
    quiet_stack,
    wait_alarm_states,
    wait_back_to_ok,
)
from tests.local_stack_harness import HarnessStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack-c")]

CONFIG = load_config("local")
CATALOG = build_catalog(CONFIG)
PERIOD = CONFIG.monitoring.period_seconds
# A period is evaluated once the metrics publisher has sent it (local/stack/runtime.py), on the next evaluation round.
EVALUATED_AFTER_SECONDS = METRICS_INTERVAL_SECONDS + 1 + 2 * EVALUATION_INTERVAL_SECONDS
RETRY_BUDGET = CONFIG.retry_budget_seconds  # the window, a retrier run and redrive's receives

QUIET_TIMEOUT = 120.0  # another test's alarms may still be clearing
FIRE_TIMEOUT = 60.0  # from the moment the cause is in place; firing takes two or three periods
CLEAR_TIMEOUT = 90.0  # from the moment the cause stopped (the DLQ's retry of a held batch included)
STORE_TIMEOUT = 60.0


QUEUE_AGE = alarm("queue-age", "low")
RETRIES = alarm("retries", "low")
ENQUEUE_GAP = alarm("enqueue-gap", "high")
ENQUEUE_GAP_WINDOW = alarm("enqueue-gap-window", "high")
AT_RISK = alarm("ingestion-at-risk", "high")
TABLE_THROTTLES = alarm("table-throttles", "low")
CONSUMER_ERRORS = alarm("consumer-errors", "low")
DLQ = alarm("dlq-visible", "high")
ARCHIVER_ERRORS = alarm("archiver-errors", "high")
ARCHIVED = alarm("events-archived", "low")
REQUEST_ANOMALY = alarm("api-request-anomaly", "low")
CLIENT_ERRORS = alarm("api-4xx-rate", "low")
ALL_KINDS = {
    QUEUE_AGE,
    RETRIES,
    ENQUEUE_GAP,
    ENQUEUE_GAP_WINDOW,
    AT_RISK,
    TABLE_THROTTLES,
    CONSUMER_ERRORS,
    DLQ,
    ARCHIVER_ERRORS,
    ARCHIVED,
    REQUEST_ANOMALY,
    CLIENT_ERRORS,
}
(AT_RISK_CHILDREN,) = [set(d.children) for d in composite_definitions(CONFIG) if d.name == AT_RISK]
# The usage plan's rate alarm counts requests per period: a burst stays below it, so only the band speaks.
REQUEST_RATE_THRESHOLD = next(
    d.threshold for d in alarm_definitions(CONFIG, CATALOG) if d.name == alarm("api-request-rate", "low")
)

# Nominal load: small valid events at a modest, steady rate.
NOMINAL_RATE = 5.0  # requests per second
NOMINAL_SECONDS = 40.0

# Causes of the kinds test.
DB_DOWN_SECONDS = 35.0  # well inside the retry window: everything parked meanwhile goes back, nothing dead-lettered
# A fault that causes an alarm lasts until the alarm fired (then it is lifted), at most this long: the wait
# for the alarm gives up first, so a slow machine gets a failure that says so, never a fault gone too soon.
UNTIL_FIRED_SECONDS = FIRE_TIMEOUT + 5.0
ARCHIVE_DOWN_SECONDS = float(RETRY_BUDGET + 90)  # lifted as soon as the poison is held; this is the bound
POISON_MESSAGES = 3
TRICKLE_INTERVAL = 1.0  # one valid event a second: the queue always holds something, the band gets a history
LOST_EVENTS_INTERVAL = 2.0  # one EventsAccepted datapoint without a send every two seconds
MIN_BURST = 150  # requests in a period
BURST_MARGIN = 2.0  # times the band's upper bound
BURST_THREADS = 8
BURST_415_SHARE = 0.1


# --- the alarm transitions ------------------------------------------------------------------------------


def children_in_alarm_when_it_fired(stack: HarnessStack, composite: str, since: float) -> set[str]:
    """The composite's children in ALARM at its first ALARM transition since `since`."""
    states: dict[str, str] = {}
    for item in alarm_transitions(stack, since):
        if item["alarm"] == composite and item["new"] == "ALARM":
            return {child for child in AT_RISK_CHILDREN if states.get(child) == "ALARM"}
        states[item["alarm"]] = item["new"]
    raise AssertionError(f"{composite} did not fire since {since}")


def request_counts(stack: HarnessStack, periods: int) -> dict[int, float]:
    """Client requests per period (the anomaly alarm's signal: the canary's own are left out, and a period without
    any has no value) over the last `periods` complete periods."""
    end = int(time.time() // PERIOD) * PERIOD
    signal = CATALOG["client_requests"]
    stats = {metric.id: metric.metric_stat() for metric in signal.inputs}
    series = fetch_series(stack.client("cloudwatch"), stats, end - periods * PERIOD, end)
    timestamps = list(range(end - periods * PERIOD, end, PERIOD))
    return evaluate(signal.expression, series, timestamps, PERIOD)


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


# --- load and causes ------------------------------------------------------------------------------------


def lost_events_publisher(stack: HarnessStack) -> Callable[[], None]:
    """One EventsAccepted datapoint that has no NumberOfMessagesSent: an accepted event that never reached the
    queue, published to the local CloudWatch as the ingest function's metrics would be (namespace Sluice/local,
    dimension service=ingest — the catalog's events_accepted metric)."""
    cloudwatch = stack.client("cloudwatch")
    metric = CATALOG["events_accepted"]

    def publish() -> None:
        cloudwatch.put_metric_data(
            Namespace=metric.namespace,
            MetricData=[
                {
                    "MetricName": metric.name,
                    "Dimensions": [{"Name": key, "Value": value} for key, value in metric.dimensions],
                    "Timestamp": datetime.now(UTC),
                    "Value": 1.0,
                    "Unit": metric.unit,
                    "StorageResolution": 1,
                }
            ],
        )

    return publish


def send_poison(stack: HarnessStack, count: int) -> set[str]:
    """Messages that are not our envelope, straight into the ingest queue (every receive fails them); their
    bodies, marked as this call's own."""
    sqs, run = stack.client("sqs"), uuid.uuid4()
    entries = [{"Id": str(index), "MessageBody": f"alarms-e2e poison {run} {index}"} for index in range(count)]
    response = sqs.send_message_batch(QueueUrl=stack.outputs[output_keys.QUEUE_URL], Entries=entries)
    assert len(response.get("Successful", [])) == count
    return {entry["MessageBody"] for entry in entries}


def refused_requests(stack: HarnessStack, count: int) -> tuple[Counter[int], Counter[int]]:
    """`count` requests the API refuses: most without an API key (403), a tenth with a wrong content type (415).
    Returns the statuses expected and those answered."""
    url = f"{stack.api_url}/events"
    key = stack.outputs[local_output_keys.API_KEY]
    wrong_type = max(1, int(count * BURST_415_SHARE))
    expected = Counter({403: count - wrong_type, 415: wrong_type})

    def send(index: int) -> int:
        if index < wrong_type:
            headers = {"Content-Type": "text/plain", "x-api-key": key}
        else:
            headers = {"Content-Type": "application/json"}
        return requests.post(url, data='{"kind": "refused"}', headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(BURST_THREADS) as pool:
        return expected, Counter(pool.map(send, range(count)))


def burst_sizes(stack: HarnessStack, first: int) -> tuple[int, int] | None:
    """Requests for the periods starting at `first` and one period later, each `BURST_MARGIN` times above the
    upper bound of the band the alarm will draw then; None while there is too little history for a band."""
    history = request_counts(stack, BAND_HISTORY_PERIODS)
    sizes = []
    for start in (first, first + PERIOD):
        bounds = anomaly_band(history, [start], PERIOD, REQUEST_BAND_WIDTH).bounds
        if start not in bounds:
            return None
        size = max(MIN_BURST, math.ceil(BURST_MARGIN * bounds[start][1]))
        sizes.append(size)
        history[start] = float(size)
    return sizes[0], sizes[1]


def burst(stack: HarnessStack, timeout: float) -> tuple[float, Counter[int], Counter[int]]:
    """Refused requests in two consecutive periods, far above the request history; returns when it started, and
    the statuses expected and answered."""
    deadline = time.monotonic() + timeout
    while True:
        first = (int(time.time() // PERIOD) + 1) * PERIOD
        sizes = burst_sizes(stack, first)
        if sizes is not None:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {BAND_MIN_HISTORY} periods of request history after {timeout:.0f} s")
        time.sleep(2)
    assert max(sizes) < REQUEST_RATE_THRESHOLD, f"the request history is too busy for a burst: {sizes}"
    expected: Counter[int] = Counter()
    answered: Counter[int] = Counter()
    for index, size in enumerate(sizes):
        sleep_until(first + index * PERIOD + 0.5)
        wanted, got = refused_requests(stack, size)
        expected += wanted
        answered += got
    return float(first), expected, answered


# --- the tests ------------------------------------------------------------------------------------------


def test_a_steady_nominal_load_keeps_every_alarm_ok(local_stack):
    stack = local_stack
    # GIVEN a quiet stack with every alarm OK, and no request in the anomaly band's history window: the
    # band compares each period with the previous ones, and a load after different traffic is an anomaly
    every_alarm = set(stack.status()["alarms"])
    # (the error budget's slow-burn window remembers server errors for its length: 12 minutes locally)
    quiet_stack(stack, every_alarm, QUIET_TIMEOUT + max(windows_used(CONFIG.monitoring)))
    history_seconds = (BAND_HISTORY_PERIODS + 1) * PERIOD
    stack.wait_until(
        lambda _: not request_counts(stack, BAND_HISTORY_PERIODS), history_seconds + 30, "a quiet request history"
    )
    start = time.time()
    # WHEN clients send small valid events at a steady, modest rate
    trickle = Trickle(stack)
    latencies: list[float] = []

    def timed_step() -> None:
        began = time.monotonic()
        trickle.step()
        latencies.append((time.monotonic() - began) * 1000)

    load = Background(timed_step, 1 / NOMINAL_RATE, NOMINAL_SECONDS)
    load.start()
    load.join(NOMINAL_SECONDS + 30)
    load.stop()
    ended = time.time()
    # AND the pipeline has stored them, and the evaluator has read every period of the load and the one after
    stack.wait_stored(trickle.ids(), STORE_TIMEOUT)
    sleep_until((math.ceil(ended / PERIOD) + 1) * PERIOD + EVALUATED_AFTER_SECONDS)
    # THEN every request was accepted, and no alarm went to ALARM
    latencies.sort()
    print(
        f"nominal load: {len(latencies)} requests, client latency p50 {latencies[len(latencies) // 2]:.0f} ms, "
        f"p99 {latencies[math.ceil(0.99 * len(latencies)) - 1]:.0f} ms, max {latencies[-1]:.0f} ms"
    )
    assert trickle.statuses == {202: len(latencies)}
    assert stack.fired_since(start) == set(), alarm_transitions(stack, start)


def test_each_kind_of_alarm_fires_on_its_cause_and_returns_to_ok(local_stack):
    """enqueue-gap-high cannot be caused through the API, by design: the ingest function answers 202 only
    after SQS took the events, so accepted events always reach the queue. The test causes its symptom honestly
    at the metric level instead: EventsAccepted datapoints published into the local CloudWatch (namespace
    Sluice/local, dimension service=ingest) with no NumberOfMessagesSent to match — what the functions' metrics
    would show if events were lost between the two. Every other alarm fires from a real fault or real requests.
    """
    stack = local_stack
    # GIVEN a quiet stack, and a client sending one valid event a second throughout (queued events that can
    # age, and a request history for the anomaly band)
    quiet_stack(stack, ALL_KINDS, QUIET_TIMEOUT)
    start = time.time()
    trickle = Trickle(stack)
    sender = Background(trickle.step, TRICKLE_INTERVAL, 300.0)
    lost = Background(lost_events_publisher(stack), LOST_EVENTS_INTERVAL, 8 * PERIOD)
    try:
        # WHEN the table is unreachable for less than the retry budget
        stack.inject("db-down", DB_DOWN_SECONDS)
        db_back = time.time() + DB_DOWN_SECONDS
        sender.start()
        # AND the API reports accepted events that never reached the queue
        lost.start()
        # THEN events are parked to retry (they do not age in the queue: nothing waits there), and the gap pages
        # with the composite
        stack.wait_for_alarms({RETRIES}, start, DB_DOWN_SECONDS + FIRE_TIMEOUT)
        stack.wait_for_alarms({ENQUEUE_GAP, ENQUEUE_GAP_WINDOW, AT_RISK}, start, FIRE_TIMEOUT)
        lost.stop()
        # (the window sum may see the gap first: it judges one window-long period, the first breach pages)
        assert children_in_alarm_when_it_fired(stack, AT_RISK, start) in (
            {ENQUEUE_GAP},
            {ENQUEUE_GAP_WINDOW},
            {ENQUEUE_GAP, ENQUEUE_GAP_WINDOW},
        )
        # WHEN the outage's events are stored (parked meanwhile: S3 must be up for that, so the archive goes down only
        # now), poison messages reach the ingest queue while the archive is down: the consumer sends them to the
        # dead-letter queue at once (after the composite's check: they page through it too)
        stack.wait_stored(trickle.ids(before=db_back), STORE_TIMEOUT)
        stack.inject("archive-down", ARCHIVE_DOWN_SECONDS)
        poison = send_poison(stack, POISON_MESSAGES)
        # THEN the poison, dead-lettered while the archive is down, is held: the DLQ alarm and the archiver's
        # errors page, and the archive comes back (before the throttling: a throttled batch is parked in S3)
        stack.wait_for_alarms({DLQ, ARCHIVER_ERRORS}, start, RETRY_BUDGET + FIRE_TIMEOUT)
        stack.lift("archive-down")
        # WHEN DynamoDB throttles the writes
        throttle_began = time.time()
        stack.inject("db-throttle", UNTIL_FIRED_SECONDS)
        # THEN throttled writes show in the table's FILLed throttle count; the throttling ends there
        stack.wait_for_alarms({TABLE_THROTTLES}, throttle_began, FIRE_TIMEOUT)
        stack.lift("db-throttle")
        # AND once the request alarms are OK, a burst of refused requests, far above the request history
        wait_alarm_states(stack, {REQUEST_ANOMALY, CLIENT_ERRORS}, "OK", CLEAR_TIMEOUT)
        burst_began, expected_refusals, refusals = burst(stack, BAND_HISTORY_PERIODS * PERIOD)
        # WHEN the consumer crashes mid-batch (throttled batches no longer time out: they are parked), THEN the
        # failed invocations show as errors, and their batches age in the queue past a visibility timeout (a crash
        # parks nothing: the whole batch comes back); the crashes end there
        crash_began = time.time()
        stack.inject("consumer-crash", UNTIL_FIRED_SECONDS)
        stack.wait_for_alarms({CONSUMER_ERRORS, QUEUE_AGE}, crash_began, FIRE_TIMEOUT)
        stack.lift("consumer-crash")
        # AND the burst is outside the band, and refused requests are more than 5 % of all
        stack.wait_for_alarms({REQUEST_ANOMALY, CLIENT_ERRORS}, burst_began, FIRE_TIMEOUT)
        assert refusals == expected_refusals
    finally:
        for fault in ("db-down", "db-throttle", "archive-down", "consumer-crash"):
            stack.lift(fault)
        stop_all(lost, sender)
    # WHEN every cause has stopped THEN every alarm returns to OK, the archived poison's alarm included
    wait_back_to_ok(stack, ALL_KINDS - {ARCHIVED}, start, CLEAR_TIMEOUT)
    stack.wait_for_alarms({ARCHIVED}, start, FIRE_TIMEOUT)
    wait_back_to_ok(stack, {ARCHIVED}, start, CLEAR_TIMEOUT)
    # AND nothing accepted was lost: every event is stored, the poison archived
    assert set(trickle.statuses) == {202}
    stack.wait_stored(trickle.ids(), STORE_TIMEOUT)
    stack.wait_until(lambda _: set(archived_bodies(stack, poison)) == poison, STORE_TIMEOUT, "the poison archived")
