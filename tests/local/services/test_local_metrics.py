"""The metric sink, its statistic sets, and publishing them to moto's CloudWatch."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from botocore.client import BaseClient

from local.services.metrics import MetricSink, Publisher, aggregate
from tests.aws_helpers import unique


def test_aggregate_folds_datapoints_into_statistic_sets() -> None:
    # GIVEN three latencies in one 5 s bucket and one in the next
    sink = MetricSink()
    for value, at in [(10, 100.0), (30, 101.0), (20, 104.9), (7, 105.0)]:
        sink.record("AWS/ApiGateway", "Latency", value, "Milliseconds", {"Stage": "v1"}, timestamp=at)
    # WHEN aggregated
    sets = aggregate(sink.drain(), resolution_seconds=5)
    # THEN one statistic set per bucket
    key = ("AWS/ApiGateway", "Latency", (("Stage", "v1"),), "Milliseconds")
    first, second = sets[(*key, 100)], sets[(*key, 105)]
    assert (first.sample_count, first.total, first.minimum, first.maximum) == (3, 60, 10, 30)
    assert (second.sample_count, second.total) == (1, 7)
    assert sink.drain() == []


def test_publisher_writes_statistic_sets_readable_with_get_metric_statistics(cloudwatch: BaseClient) -> None:
    # GIVEN datapoints of a metric unique to this test
    sink = MetricSink()
    function = unique("fn")
    now = time.time()
    for value in (1, 0, 1, 1):
        sink.record("AWS/Lambda", "Errors", value, "Count", {"FunctionName": function}, timestamp=now)
    sink.record("AWS/Lambda", "Duration", 120, "Milliseconds", {"FunctionName": function}, timestamp=now)
    # WHEN the publisher publishes once
    sent = Publisher(sink, cloudwatch, resolution_seconds=5).publish_once()
    # THEN one aggregated datum per metric went to CloudWatch
    assert sent == 2
    # AND GetMetricStatistics reads the statistics back
    datapoints = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=datetime.now(UTC) - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum", "SampleCount", "Maximum", "Average"],
    )["Datapoints"]
    assert len(datapoints) == 1
    (point,) = datapoints
    assert (point["Sum"], point["SampleCount"], point["Maximum"], point["Average"]) == (3, 4, 1, 0.75)
    assert point["Unit"] == "Count"


def test_publisher_thread_flushes_on_stop(cloudwatch: BaseClient) -> None:
    # GIVEN a running publisher with a long interval and one datapoint
    sink = MetricSink()
    api = unique("api")
    publisher = Publisher(sink, cloudwatch, interval_seconds=60)
    publisher.start()
    sink.record("AWS/ApiGateway", "Count", 1, "Count", {"ApiName": api, "Stage": "v1"})
    # WHEN it stops THEN what was left is published
    publisher.stop(timeout=5)
    metrics = cloudwatch.list_metrics(Namespace="AWS/ApiGateway", Dimensions=[{"Name": "ApiName", "Value": api}])
    assert [m["MetricName"] for m in metrics["Metrics"]] == ["Count"]
