"""`make demo`: bring the local stack up, send real HTTP traffic (valid and invalid) over a few alarm
periods, wait for the queue to drain and for the 4XX alarm to see the bad requests, and report what
happened. Ends by itself."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from botocore.client import BaseClient

from cloudformation import output_keys
from core.config import Config
from dashboards.catalog import Catalog, Metric, build_catalog
from local.console.dashboard_render import render_stack_dashboards
from local.console.producer_table import producer_table
from local.deploying.deploy import clients
from local.services.cloudwatch_reader import fetch_series
from local.stack.ports import Ports
from local.stack.runtime import LocalRuntime
from local.state import StatePaths
from ops import local_output_keys
from ops.reconcile import existing_ids
from ops.waiting import WaitTimedOut, wait_until

DRAIN_TIMEOUT_SECONDS = 90
METRICS_TIMEOUT_SECONDS = 60
DEMO_ALARM = "api-4xx-rate"  # what the demo's bad requests must set off (the alarm table's row name)


@dataclass
class TrafficResult:
    accepted_ids: list[str] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    requests: int = 0


@dataclass(frozen=True)
class Request:
    body: bytes | str
    extra_headers: dict[str, str] = field(default_factory=dict)
    use_key: bool = True


def demo_requests(valid_requests: int = 60, seed: int = 7) -> list[Request]:
    """Single events, batches, an idempotent retry, and each kind of bad request the API refuses, the bad
    ones spread through the run (so every alarm period sees its share of 4XX, as with a real faulty client)."""
    rng = random.Random(seed)
    valid = []
    for index in range(valid_requests):
        if index % 4 == 0:
            batch = [{"kind": "click", "n": index, "item": rng.randrange(1000)} for _ in range(rng.randint(2, 20))]
            valid.append(Request(json.dumps(batch)))
        else:
            valid.append(Request(json.dumps({"kind": "view", "n": index, "page": f"/p/{rng.randrange(50)}"})))
    bad = [
        Request('{"kind": "broken"'),
        Request("[]"),
        Request('"just a string"'),
        Request(json.dumps({"blob": "x" * 300_000})),
        Request(json.dumps({"kind": "text"}), {"Content-Type": "text/plain"}),
        Request(json.dumps({"kind": "anonymous"}), use_key=False),
    ] * 3
    every = max(1, len(valid) // len(bad))
    mixed = []
    for index, request in enumerate(valid):
        mixed.append(request)
        if index % every == every - 1 and bad:
            mixed.append(bad.pop(0))
    retry = Request(json.dumps({"kind": "order", "id": 1}), {"Idempotency-Key": "demo-order-1"})
    return [*mixed, *bad, retry, retry]  # the same request twice: a client retry


def send_traffic(
    api_url: str, api_key: str, requests_to_send: list[Request], spread_seconds: float = 0.0
) -> TrafficResult:
    """Send the requests in order, evenly over `spread_seconds` (0: as fast as possible)."""
    result = TrafficResult()
    session = requests.Session()
    start = time.monotonic()
    for index, request in enumerate(requests_to_send):
        # Pacing, not waiting for a result: request i leaves at its share of the spread.
        time.sleep(max(0.0, start + spread_seconds * index / len(requests_to_send) - time.monotonic()))
        headers = {"x-api-key": api_key, "Content-Type": "application/json", **request.extra_headers}
        if not request.use_key:
            headers.pop("x-api-key")
        response = session.post(f"{api_url}/events", data=request.body, headers=headers, timeout=30)
        result.requests += 1
        if response.status_code == 202:
            result.accepted_ids.extend(response.json()["ids"])
            continue
        payload = response.json()
        result.rejected[f"{response.status_code} {payload.get('error') or payload.get('message')}"] += 1
    return result


def traffic_seconds(config: Config) -> float:
    """Long enough that the bad requests fall into as many alarm periods as the alarm needs, and one more."""
    monitoring = config.monitoring
    return float(monitoring.period_seconds * (monitoring.datapoints_to_alarm + 1))


def wait_for_alarm(runtime: LocalRuntime, suffix: str, since: float, timeout: float) -> bool:
    """Wait (bounded) until an alarm whose name contains `suffix` goes to ALARM after `since`."""

    def fired() -> bool:
        names = [item.alarm for item in runtime.transitions if item.time >= since and item.new == "ALARM"]
        return any(suffix in name for name in names)

    try:
        return wait_until(fired, timeout=timeout, interval=1, what=f"alarm {suffix}")
    except WaitTimedOut:
        return False


def wait_for_drain(
    runtime: LocalRuntime,
    demo_stored: Callable[[], int],
    expected: int,
    timeout: float = DRAIN_TIMEOUT_SECONDS,
    interval: float = 2.0,
) -> dict:
    """Wait until the queue is empty and the demo's own events are stored (the table's item count includes the
    canary's, which would end the wait early and make the progress line count events the demo never sent)."""

    def drained() -> tuple[dict, bool]:
        status = runtime.status()
        ingest = status["queues"]["ingest"]
        stored = demo_stored()
        runtime.say(
            f"  draining: queue {ingest['visible']} waiting, {ingest['in_flight']} in flight; "
            f"the demo's events stored {stored}/{expected}"
        )
        return status, ingest["visible"] == 0 and ingest["in_flight"] == 0 and stored >= expected

    try:
        return wait_until(drained, lambda seen: seen[1], timeout=timeout, interval=interval, what="the drain")[0]
    except WaitTimedOut as timed_out:
        return timed_out.last[0]


def metric_totals(
    cloudwatch: BaseClient, catalog: Catalog, signal_ids: list[str], since: float, until: float
) -> dict[str, float]:
    """The sums of Sum-statistic catalog metrics from `since` to `until`, as the local CloudWatch holds them."""
    metrics = {signal_id: catalog[signal_id] for signal_id in signal_ids}
    sums = {key: m for key, m in metrics.items() if isinstance(m, Metric) and m.stat == "Sum"}
    assert sums.keys() == metrics.keys(), "sums of Sum metrics only"
    period = max(metric.period for metric in sums.values())
    start, end = int(since // period) * period, (int(until // period) + 1) * period
    series = fetch_series(cloudwatch, {key: m.metric_stat() for key, m in sums.items()}, start, end)
    return {key: sum(values.values()) for key, values in series.items()}


def wait_for_metrics(
    runtime: LocalRuntime, cloudwatch: BaseClient, expected: dict[str, int], timeout: float = METRICS_TIMEOUT_SECONDS
) -> bool:
    """Wait until CloudWatch counts at least `expected` (catalog id → count) since the stack started:
    the metrics publisher runs every few seconds, so a dashboard drawn at once would show part of the demo."""
    catalog = build_catalog(runtime.config)

    def caught_up() -> bool:
        totals = metric_totals(cloudwatch, catalog, list(expected), runtime.started_at, time.time())
        runtime.say(
            "  metrics (the canary's included): "
            + ", ".join(f"{catalog[key].label.lower()} {totals[key]:.0f}/{count}" for key, count in expected.items())
        )
        return all(totals[key] >= count for key, count in expected.items())

    try:
        return wait_until(caught_up, timeout=timeout, interval=1, what="the metrics")
    except WaitTimedOut:
        runtime.say(f"  the metrics did not catch up within {timeout:.0f} s: the dashboard shows what arrived")
        return False


def run_demo(config: Config, ports: Ports, state_dir: Path) -> int:
    """Returns the exit status: 0 only when every accepted event is stored."""
    runtime = LocalRuntime(config=config, ports=ports, paths=StatePaths(state_dir))
    try:
        runtime.start()
        outputs = json.loads(runtime.paths.outputs.read_text())
        console = outputs[local_output_keys.CONSOLE_URL]
        runtime.say(f"watch it live in the console: {console}  (until the demo ends; `invoke up` keeps it)")
        spread = traffic_seconds(config)
        runtime.say(f"sending real HTTP traffic (valid and invalid) for {spread:.0f} s …")
        started = time.time()
        traffic = send_traffic(
            outputs[output_keys.API_URL], outputs[local_output_keys.API_KEY], demo_requests(), spread
        )
        unique_ids = sorted(set(traffic.accepted_ids))
        client = clients(outputs[local_output_keys.AWS_ENDPOINT], outputs[local_output_keys.REGION])
        table = outputs[output_keys.TABLE_NAME]
        wait_for_drain(runtime, lambda: len(existing_ids(client("dynamodb"), table, unique_ids)), len(unique_ids))
        # The alarm fires once enough evaluated periods have seen the 4XX: wait for that, within N periods.
        bound = config.monitoring.period_seconds * (config.monitoring.evaluation_periods + 2)
        runtime.say(f"waiting for the {DEMO_ALARM} alarm to see the bad requests (at most {bound} s) …")
        if not wait_for_alarm(runtime, f"-{DEMO_ALARM}-", started, bound):
            runtime.say(f"  the {DEMO_ALARM} alarm did not fire within {bound} s (`invoke logs --errors` says why)")
        stored = existing_ids(client("dynamodb"), table, unique_ids)
        runtime.say("waiting for CloudWatch to count the demo …")
        expected = {"api_count": traffic.requests, "events_accepted": len(unique_ids), "events_stored": len(stored)}
        wait_for_metrics(runtime, client("cloudwatch"), expected)
        lost = [event_id for event_id in unique_ids if event_id not in stored]
        status = runtime.status()
        dashboard = _render_dashboard(runtime, client, state_dir)
        fired = sorted({item.alarm for item in runtime.transitions if item.time >= started and item.new == "ALARM"})
        runtime.say(_report(traffic, unique_ids, stored, lost, status, fired, runtime, dashboard))
        return 0 if not lost else 1
    finally:
        runtime.stop()


def _render_dashboard(runtime: LocalRuntime, client: Callable[[str], BaseClient], state_dir: Path) -> str:
    assert runtime.stack is not None
    rendered = render_stack_dashboards(
        client("cloudwatch"),
        runtime.stack.template,
        state_dir / "dashboards",
        datetime.now(UTC),
        runtime.started_at,
        runtime.status()["alarms"],
        producer_table(runtime.usage_plans),
    )
    return "\n                   ".join(f"{png}  {html}" for png, html in rendered)


def _report(
    traffic: TrafficResult,
    unique_ids: list[str],
    stored: set[str],
    lost: list[str],
    status: dict[str, Any],
    fired: list[str],
    runtime: LocalRuntime,
    dashboard: str,
) -> str:
    assert runtime.stack is not None
    alarms = status["alarms"]
    rejected = "\n".join(f"    {count:>4}  {reason}" for reason, count in sorted(traffic.rejected.items()))
    return (
        "\n=== Sluice demo ===\n"
        f"  requests sent    {traffic.requests}\n"
        f"  events accepted  {len(unique_ids)} (202; an idempotent retry returned the same id)\n"
        f"  events stored    {len(stored)} in {runtime.stack.outputs[output_keys.TABLE_NAME]}\n"
        f"  events lost      {len(lost)}\n"
        f"  rejected         {sum(traffic.rejected.values())} requests, by reason:\n{rejected}\n"
        f"  alarms           {len(alarms)} evaluated, fired: {', '.join(fired) or 'none'}\n"
        f"  dashboard        {dashboard}\n"
        f"  console          http://127.0.0.1:{runtime.ports.control}/ while `invoke up` runs (this stack stops now)\n"
        f"  logs             {runtime.paths.logs}/functions.log, notifications.log\n"
    )
