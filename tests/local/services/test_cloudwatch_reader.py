"""Reading series from moto's CloudWatch: statistics moto can compute, one query per distinct MetricStat, and
windows longer than one call reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.services.cloudwatch_reader import PERIODS_PER_CALL, fetch_series, local_statistic

PERIOD = 10
NAMESPACE = "Test/Reader"
# A period boundary an hour ago: moto keeps any timestamp.
BASE = (int(datetime.now(UTC).timestamp()) // 3600 - 1) * 3600


@pytest.fixture
def cloudwatch() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="us-east-1")


def metric_stat(name: str, statistic: str = "Sum") -> dict[str, Any]:
    return {"Metric": {"Namespace": NAMESPACE, "MetricName": name}, "Period": PERIOD, "Stat": statistic}


def put(cloudwatch: Any, name: str, values: dict[int, float]) -> None:
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": name,
                "Timestamp": datetime.fromtimestamp(BASE + index * PERIOD, UTC),
                "Value": value,
                "StorageResolution": 1,
            }
            for index, value in values.items()
        ],
    )


def test_percentiles_are_read_as_the_statistic_that_bounds_them():
    # GIVEN statistics moto computes and percentiles it does not
    # WHEN each is mapped to what moto can compute
    # THEN basic statistics stay, p50 and below read the average and higher percentiles the maximum
    assert [local_statistic(s) for s in ("Sum", "p50", "p99", "p99.9")] == ["Sum", "Average", "Maximum", "Maximum"]


def test_a_statistic_moto_cannot_stand_in_for_is_refused():
    # GIVEN a trimmed mean, which has no local stand-in
    # WHEN it is mapped THEN a one-line error names it
    with pytest.raises(ValueError, match="'tm90' cannot be evaluated locally"):
        local_statistic("tm90")


def test_a_window_longer_than_one_read_returns_every_period(cloudwatch):
    # GIVEN one datapoint in each of more periods than one GetMetricData call covers
    periods = PERIODS_PER_CALL * 2 + 3
    put(cloudwatch, "Requests", {index: float(index + 1) for index in range(periods)})
    # WHEN the whole window is fetched
    series = fetch_series(cloudwatch, {"r": metric_stat("Requests")}, BASE, BASE + periods * PERIOD)
    # THEN every period's value is there, keyed by its start
    assert series["r"] == {BASE + index * PERIOD: float(index + 1) for index in range(periods)}


def test_identical_metric_stats_are_read_once_and_answered_under_each_id(cloudwatch):
    # GIVEN two callers' ids asking for the same MetricStat and a third for another statistic
    put(cloudwatch, "Latency", {0: 100.0})
    put(cloudwatch, "Latency", {0: 900.0})
    stats = {"a": metric_stat("Latency", "p99"), "b": metric_stat("Latency", "p99"), "c": metric_stat("Latency", "p50")}
    calls: list[int] = []
    cloudwatch.meta.events.register(
        "provide-client-params.cloudwatch.GetMetricData",
        lambda params, **_: calls.append(len(params["MetricDataQueries"])),
    )
    # WHEN they are fetched
    series = fetch_series(cloudwatch, stats, BASE, BASE + PERIOD)
    # THEN one call asked two queries, and each id has its statistic's value
    assert calls == [2]
    assert (series["a"], series["b"], series["c"]) == ({BASE: 900.0}, {BASE: 900.0}, {BASE: 500.0})
