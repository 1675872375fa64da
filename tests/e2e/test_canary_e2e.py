"""The end-to-end canary on the local stack (issue 16): it runs every few seconds through the local gateway; when
the path is healthy it succeeds every run and its alarms stay OK; when the table or the queue is unreachable its
high-tier alarm pages within a few intervals and clears after recovery; when only the archive is down (a path no
fresh event takes) it stays green.

Each test prints its figures (the canary's end-to-end latency; the time from fault to page and from recovery to
OK), which the issue's note reports.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from datetime import datetime

import pytest

from cloudformation import output_keys
from core.config import load_config
from tests.e2e.stack_helpers import alarm, quiet_stack, wait_transition
from tests.local_stack_harness import HarnessStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack-b")]

CONFIG = load_config("local")
INTERVAL = CONFIG.canary.interval_seconds
FAILING = alarm("canary-failing", "high")
LATENCY = alarm("canary-latency", "low")
ERRORS = alarm("canary-errors", "high")
CANARY_ALARMS = {FAILING, LATENCY, ERRORS}

HEALTHY_RUNS = 12
QUIET_TIMEOUT = 150.0  # another test's fault may still be clearing
RUNS_TIMEOUT = HEALTHY_RUNS * INTERVAL * 3 + 30
PAGE_TIMEOUT = 90.0  # three failing 10 s periods, the publisher's and the evaluator's delays, and slack
CLEAR_TIMEOUT = 90.0
FAULT_BOUND_SECONDS = 120.0  # the fault lifts itself by then even if a test dies


def canary_runs(stack: HarnessStack, since: float) -> list[dict]:
    """The canary's runs logged since `since` (epoch seconds), oldest first."""
    runs = []
    for line in stack.functions_log().splitlines():
        if '"canary run"' not in line:
            continue
        record = json.loads(line)
        logged = datetime.strptime(record["timestamp"], "%Y-%m-%d %H:%M:%S,%f%z").timestamp()
        if logged >= since:
            runs.append({**record, "logged": logged})
    return runs


def wait_runs(stack: HarnessStack, since: float, count: int, timeout: float) -> list[dict]:
    deadline = time.monotonic() + timeout
    runs = canary_runs(stack, since)
    while len(runs) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(runs)} canary runs within {timeout:.0f} s, expected {count}")
        time.sleep(1)
        runs = canary_runs(stack, since)
    return runs


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def test_a_healthy_pipeline_passes_every_canary_run_and_its_alarms_stay_ok(local_stack):
    stack = local_stack
    # GIVEN a quiet stack
    quiet_stack(stack, CANARY_ALARMS, QUIET_TIMEOUT, drain=False)
    start = time.time()
    # WHEN the canary runs on its own schedule, a dozen times
    runs = wait_runs(stack, start, HEALTHY_RUNS, RUNS_TIMEOUT)
    # THEN every run got its event in through the API and read it back from the table
    assert [run["reason"] for run in runs] == ["stored"] * len(runs)
    assert all(run["event_id"].startswith("canary-") and run["status"] == 202 for run in runs)
    # AND the events are in the table, marked and expiring
    item = stack.client("dynamodb").get_item(
        TableName=stack.outputs[output_keys.TABLE_NAME], Key={"event_id": {"S": runs[-1]["event_id"]}}
    )["Item"]
    assert item["canary"] == {"BOOL": True} and int(item["expires_at"]["N"]) > time.time()
    # AND none of the canary's alarms fired meanwhile
    assert not stack.fired_since(start) & CANARY_ALARMS
    end_to_end = [run["end_to_end_ms"] for run in runs]
    api = [run["api_ms"] for run in runs]
    print(
        f"canary, {len(runs)} runs every {INTERVAL} s: accepted → readable "
        f"median {statistics.median(end_to_end):.0f} ms, "
        f"p99 {percentile(end_to_end, 0.99):.0f} ms; API median {statistics.median(api):.0f} ms, "
        f"p99 {percentile(api, 0.99):.0f} ms"
    )


@pytest.mark.parametrize("fault", ["db-down", "queue-down"])
def test_an_outage_on_the_main_path_pages_within_a_few_intervals_and_clears_after_recovery(local_stack, fault):
    stack = local_stack
    # GIVEN a quiet stack
    quiet_stack(stack, CANARY_ALARMS, QUIET_TIMEOUT, drain=False)
    # WHEN the table (the consumer's writes) or the queue (ingest's sends) becomes unreachable
    injected = time.time()
    stack.inject(fault, FAULT_BOUND_SECONDS)
    try:
        # THEN canary-failing pages (high tier)
        paged = wait_transition(stack, FAILING, "ALARM", injected, PAGE_TIMEOUT)
        failed = [run for run in canary_runs(stack, injected) if run["logged"] <= paged]
        assert failed and not any(run["success"] for run in failed[1:]), failed
    finally:
        # WHEN the outage ends
        lifted = time.time()
        stack.lift(fault)
    # THEN the alarm returns to OK once a run gets through again
    cleared = wait_transition(stack, FAILING, "OK", lifted, CLEAR_TIMEOUT)
    print(
        f"canary under {fault}: paged {paged - injected:.0f} s after the fault "
        f"({(paged - injected) / INTERVAL:.1f} intervals), OK {cleared - lifted:.0f} s after recovery"
    )


def test_an_archive_outage_leaves_the_canary_green(local_stack):
    stack = local_stack
    # GIVEN a quiet stack
    quiet_stack(stack, CANARY_ALARMS, QUIET_TIMEOUT, drain=False)
    # WHEN the archive (S3) is unreachable for longer than it takes canary-failing to page
    injected = time.time()
    stack.inject("archive-down", FAULT_BOUND_SECONDS)
    try:
        runs = wait_runs(stack, injected, math.ceil(PAGE_TIMEOUT / INTERVAL / 2), PAGE_TIMEOUT)
        # THEN every run still gets through: no fresh event takes the archive's path
        assert all(run["success"] for run in runs), runs
        assert FAILING not in stack.fired_since(injected)
    finally:
        stack.lift("archive-down")
    assert stack.status()["alarms"][FAILING] == "OK"
