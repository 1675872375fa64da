"""The dashboard reader shared by the static rendering and the console: the time window fits the data,
number tiles show what CloudWatch would show."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from alarms.engine.metric_math import Band
from local.console.dashboard_data import MIN_WINDOW_PERIODS, Window, clip, entry_periods, fetch, fit_window, tile_value

PERIOD = 10
WIDGET = {"type": "metric", "properties": {"metrics": [["N", "M", {"id": "m", "period": PERIOD}]]}}
NOW = 1_800_000_000.0
RANGE = 30 * 60.0


def test_the_window_starts_with_the_data_not_the_dashboard_range():
    # GIVEN a 30-minute dashboard whose data all arrived in the last minute
    data = [{"m": {int(NOW) - 60 + 10 * step: 1.0 for step in range(6)}}]
    # WHEN the window is fitted
    window = fit_window([WIDGET], data, NOW, RANGE, PERIOD)
    # THEN it starts one period before the first datapoint and ends now
    assert window == Window(NOW - 60 - PERIOD, NOW)


def test_the_window_starts_at_the_stack_start_when_that_is_earlier_than_the_data():
    data = [{"m": {int(NOW) - 60: 1.0}}]
    assert fit_window([WIDGET], data, NOW, RANGE, PERIOD, since=NOW - 300).start == NOW - 300 - PERIOD


def test_the_window_is_never_wider_than_the_range_nor_narrower_than_a_few_periods():
    # GIVEN a stack up for two hours under a 30-minute dashboard, and a stack up for five seconds
    old = [{"m": {int(NOW) - 7200: 1.0, int(NOW) - 10: 2.0}}]
    assert fit_window([WIDGET], old, NOW, RANGE, PERIOD, since=NOW - 7200).start == NOW - RANGE
    fresh = [{"m": {int(NOW) - 5: 1.0}}]
    assert fit_window([WIDGET], fresh, NOW, RANGE, PERIOD).start == NOW - MIN_WINDOW_PERIODS * PERIOD
    assert fit_window([WIDGET], [{}], NOW, RANGE, PERIOD).start == NOW - RANGE  # no data yet: the whole range


def test_metric_math_does_not_stretch_the_window():
    # GIVEN an anomaly band and a FILL() expression with a value for every period of the range,
    # over a metric with data in the last minute only
    every_period = [int(NOW - RANGE) + PERIOD * step for step in range(180)]
    band = Band({t: (0.0, 1.0) for t in every_period})
    filled = {t: 0.0 for t in every_period}
    widget = {
        "type": "metric",
        "properties": {"metrics": [*WIDGET["properties"]["metrics"], [{"expression": "FILL(m, 0)", "id": "f"}]]},
    }
    data = [{"m": {int(NOW) - 60: 1.0}, "m_band": band, "f": filled}]
    # THEN the window starts with the metric's data
    assert fit_window([widget], data, NOW, RANGE, PERIOD).start == NOW - 60 - PERIOD


def put(cloudwatch: Any, name: str, at: float, value: float) -> None:
    cloudwatch.put_metric_data(
        Namespace="AWS/ApiGateway",
        MetricData=[
            {"MetricName": name, "Timestamp": datetime.fromtimestamp(at, UTC), "Value": value, "Unit": "Count"}
        ],
    )


def rate_tile(**extra: Any) -> dict[str, Any]:
    """A number tile of the guarded 5XX rate, as the summary draws it (10-s periods, at least 5 requests)."""
    metrics = [
        ["AWS/ApiGateway", "5XXError", {"id": "errors", "period": PERIOD, "stat": "Sum", "visible": False}],
        ["AWS/ApiGateway", "Count", {"id": "requests", "period": PERIOD, "stat": "Sum", "visible": False}],
        [{"expression": "IF(requests >= 5, 100 * errors / requests, 0)", "id": "rate"}],
    ]
    return {"type": "metric", "properties": {"view": "singleValue", "metrics": metrics, **extra}}


def test_a_tile_with_its_own_range_reads_it_whole_as_one_period():
    # GIVEN every request failing for three periods, and the period still running with one request so far
    end = 1_800_000_005.0
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        for start in (end - 35, end - 25, end - 15):
            put(cloudwatch, "Count", start, 10)
            put(cloudwatch, "5XXError", start, 10)
        put(cloudwatch, "Count", end - 2, 1)
        put(cloudwatch, "5XXError", end - 2, 0)
        # AND 30 requests, none failing, an hour ago: before the 30-minute dashboard range
        put(cloudwatch, "Count", end - 3600, 30)
        tiles = [
            rate_tile(),  # the latest period
            rate_tile(start="-PT1M", setPeriodToTimeRange=True),  # the alarm's window, in whole minutes
            rate_tile(start="-PT2H", setPeriodToTimeRange=True),  # an error-budget window longer than the dashboard
        ]
        # WHEN the tiles are read within the dashboard's range
        data = fetch(tiles, cloudwatch, end - RANGE, end)
    values = [tile_value(t["properties"], {"id": "rate"}, d["rate"]) for t, d in zip(tiles, data, strict=True)]
    # THEN the latest period alone says 0 (one request: below the guard) while the last minute says 30 of 31 failed
    assert values[0] == 0.0
    assert values[1] == pytest.approx(100 * 30 / 31)
    # AND the two-hour window counts the requests of an hour ago too, before the dashboard's range
    assert values[2] == pytest.approx(100 * 30 / 61)
    # AND a range read as one period leaves the time axis to the graphs' data
    assert fit_window(tiles[1:], data[1:], end, RANGE, PERIOD).start == end - RANGE


def test_a_datapoint_of_a_longer_period_reaching_into_the_window_is_shown_at_its_start():
    # GIVEN a window from 1000 s, and an error-budget series of 7200-s datapoints, the latest begun before it
    window = Window(start=1000.0, end=1600.0)
    series = {-7200: 1.0, 0: 99.5}
    # WHEN it is clipped to the window THEN the datapoint that reaches in is shown at the window's start, the
    # one that ended before is not; without a period nothing before the window is shown
    assert clip(series, window, 7200) == {1000.0: 99.5}
    assert clip(series, window) == {}
    # AND an expression's period is the longest of the metrics it reads
    properties = {
        "metrics": [
            ["AWS/ApiGateway", "Count", {"id": "c", "period": 7200, "stat": "Sum"}],
            ["AWS/ApiGateway", "5XXError", {"id": "e", "period": 60, "stat": "Sum"}],
            [{"id": "left", "expression": "100 - e / c"}],
        ]
    }
    assert entry_periods(properties) == {"c": 7200, "e": 60, "left": 7200}
