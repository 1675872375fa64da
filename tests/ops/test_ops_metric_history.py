"""GetMetricData followed across pages, with botocore's Stubber checking requests and answers against the
cloudwatch model's shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from botocore.stub import Stubber

from alarms.backtest import stat_key
from ops.metric_history import fetch_history

START = int(datetime(2026, 11, 30, tzinfo=UTC).timestamp())


def stat(name: str, period: int = 60) -> dict:
    return {
        "Metric": {"Namespace": "AWS/Lambda", "MetricName": name, "Dimensions": []},
        "Period": period,
        "Stat": "Sum",
    }


def at(offset: int) -> datetime:
    return datetime.fromtimestamp(START + offset, UTC)


def test_fetch_history_follows_next_token_and_keys_series_by_metric_stat():
    # GIVEN a CloudWatch client whose answer comes in two pages, oldest first
    cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stats = {stat_key(stat("Errors")): stat("Errors"), stat_key(stat("Invocations")): stat("Invocations")}
    expected = {
        "MetricDataQueries": [
            {"Id": "q0", "MetricStat": stat("Errors"), "ReturnData": True},
            {"Id": "q1", "MetricStat": stat("Invocations"), "ReturnData": True},
        ],
        "StartTime": at(0),
        "EndTime": at(180),
        "ScanBy": "TimestampAscending",
    }
    with Stubber(cloudwatch) as stubber:
        stubber.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {
                        "Id": "q0",
                        "Label": "Errors",
                        "Timestamps": [at(0), at(60)],
                        "Values": [1.0, 2.0],
                        "StatusCode": "PartialData",
                    },
                    {
                        "Id": "q1",
                        "Label": "Invocations",
                        "Timestamps": [at(0)],
                        "Values": [10.0],
                        "StatusCode": "PartialData",
                    },
                ],
                "NextToken": "page-2",
                "Messages": [],
            },
            expected,
        )
        stubber.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "q0", "Label": "Errors", "Timestamps": [at(120)], "Values": [3.0], "StatusCode": "Complete"},
                    {
                        "Id": "q1",
                        "Label": "Invocations",
                        "Timestamps": [at(60), at(120)],
                        "Values": [11.0, 12.0],
                        "StatusCode": "Complete",
                    },
                ],
                "Messages": [],
            },
            {**expected, "NextToken": "page-2"},
        )
        # WHEN the history is fetched
        series = fetch_history(cloudwatch, stats, START, START + 180)
        stubber.assert_no_pending_responses()
    # THEN both pages are merged per MetricStat
    assert series == {
        stat_key(stat("Errors")): {START: 1.0, START + 60: 2.0, START + 120: 3.0},
        stat_key(stat("Invocations")): {START: 10.0, START + 60: 11.0, START + 120: 12.0},
    }
