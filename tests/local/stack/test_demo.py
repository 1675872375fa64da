"""`make demo` draws its dashboards only once CloudWatch has counted the demo's traffic."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from types import SimpleNamespace

import boto3
from moto import mock_aws

from core.config import load_config
from dashboards.catalog import build_catalog
from local.stack.demo import wait_for_drain, wait_for_metrics

CONFIG = load_config("local")
CATALOG = build_catalog(CONFIG)


def publish(cloudwatch, signal_id: str, values: list[float], start: float) -> None:
    metric = CATALOG[signal_id]
    cloudwatch.put_metric_data(
        Namespace=metric.namespace,
        MetricData=[
            {
                "MetricName": metric.name,
                "Dimensions": [{"Name": name, "Value": value} for name, value in metric.dimensions],
                "Timestamp": datetime.fromtimestamp(start + index * metric.period, UTC),
                "Value": value,
            }
            for index, value in enumerate(values)
        ],
    )


@mock_aws
def test_the_demo_waits_until_cloudwatch_counts_what_it_sent():
    # GIVEN a stack started a minute ago whose requests CloudWatch counted over three periods (30 + 40 + 10)
    cloudwatch = boto3.client("cloudwatch", region_name=CONFIG.region)
    started = time.time() - 60
    publish(cloudwatch, "api_count", [30, 40, 10], started)
    said: list[str] = []
    runtime = SimpleNamespace(config=CONFIG, started_at=started, say=said.append)
    # WHEN the demo sent 80 requests THEN the wait ends at once, saying what CloudWatch counts
    assert wait_for_metrics(runtime, cloudwatch, {"api_count": 80}, timeout=30)
    assert said == ["  metrics (the canary's included): requests 80/80"]
    # AND when it sent 81, the (bounded) wait ends saying the metrics did not catch up
    assert not wait_for_metrics(runtime, cloudwatch, {"api_count": 81}, timeout=0)
    assert said[-1].startswith("  the metrics did not catch up")


def test_the_demo_waits_for_its_own_events_not_the_tables_item_count():
    # GIVEN an empty queue and a table that already holds more items than the demo sent (the canary's), while
    # the demo's own 5 events are stored over three looks
    status = {"queues": {"ingest": {"visible": 0, "in_flight": 0}}, "table_items": 500}
    said: list[str] = []
    runtime = SimpleNamespace(status=lambda: status, say=said.append)
    stored = iter([3, 4, 5])
    # WHEN the demo waits for the drain
    wait_for_drain(runtime, lambda: next(stored), 5, timeout=60, interval=0)
    # THEN it waited until its own events were stored, and said so in those words
    assert said == [f"  draining: queue 0 waiting, 0 in flight; the demo's events stored {n}/5" for n in (3, 4, 5)]
