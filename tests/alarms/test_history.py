"""Metric history for the backtest: CloudWatch's retention refused up front, recordings written and read back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alarms.backtest import History, Marker, stat_key
from alarms.definitions import Definitions
from alarms.history import load_recording, recording, resolution_limit, save_recording

START = int(datetime(2026, 11, 30, tzinfo=UTC).timestamp())
DAY = 86_400


def stat(name: str, period: int = 60) -> dict:
    return {
        "Metric": {"Namespace": "AWS/Lambda", "MetricName": name, "Dimensions": []},
        "Period": period,
        "Stat": "Sum",
    }


def one_alarm(period: int) -> Definitions:
    definition = {
        "AlarmName": "a",
        "Namespace": "AWS/Lambda",
        "MetricName": "Errors",
        "Statistic": "Sum",
        "Period": period,
        "EvaluationPeriods": 3,
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    return Definitions([definition], [])


@pytest.mark.parametrize(
    ("period", "days", "refused"),
    [
        (60, 15, None),
        (60, 16, "CloudWatch keeps 60-second datapoints for 15 days only"),
        (300, 60, None),
        (300, 64, "CloudWatch keeps 300-second datapoints for 63 days only"),
        (3600, 455, None),
        (3600, 456, "CloudWatch keeps metric data for 455 days"),
    ],
)
def test_history_older_than_cloudwatch_keeps_the_alarm_period_is_refused(period, days, refused):
    assert resolution_limit(one_alarm(period), days * DAY) == refused


def test_a_recording_reads_back_as_written(tmp_path):
    # GIVEN a history with a marker
    history = History(START, START + 120, {stat_key(stat("Errors")): {START: 1.0}}, (Marker(START + 60.5, "db-down"),))
    # WHEN it is saved and loaded THEN it is the same history, for the same environment
    path = tmp_path / "run" / "metrics.json"
    save_recording(path, recording("local", history, {stat_key(stat("Errors")): stat("Errors")}))
    assert load_recording(path) == ("local", history)


def test_a_missing_or_foreign_file_is_one_line(tmp_path):
    with pytest.raises(ValueError, match="no recording"):
        load_recording(tmp_path / "metrics.json")
    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="not a metrics recording"):
        load_recording(tmp_path / "other.json")
