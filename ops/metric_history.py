"""The deployed stack's metric history: GetMetricData for each distinct MetricStat the alarms read.

At most 500 queries a call (botocore's cloudwatch model: "as many as 500 different metrics in a single
request, with a total of as many as 100,800 data points"), oldest first, following NextToken with botocore's
own paginator.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.client import BaseClient

from dashboards.metric_math import Series

GET_METRIC_DATA_MAX_QUERIES = 500


def fetch_history(
    cloudwatch: BaseClient, stats: Mapping[str, Mapping[str, Any]], start: int, end: int
) -> dict[str, Series]:
    """GetMetricData for `stats` (by key) over [start, end): {key: {period start: value}}."""
    keys = list(stats)
    series: dict[str, Series] = {key: {} for key in keys}
    paginator = cloudwatch.get_paginator("get_metric_data")
    for offset in range(0, len(keys), GET_METRIC_DATA_MAX_QUERIES):
        chunk = keys[offset : offset + GET_METRIC_DATA_MAX_QUERIES]
        queries = [
            {"Id": f"q{index}", "MetricStat": dict(stats[key]), "ReturnData": True} for index, key in enumerate(chunk)
        ]
        pages = paginator.paginate(
            MetricDataQueries=queries,
            StartTime=datetime.fromtimestamp(start, UTC),
            EndTime=datetime.fromtimestamp(end, UTC),
            ScanBy="TimestampAscending",
        )
        for page in pages:
            for result in page["MetricDataResults"]:
                values = series[chunk[int(result["Id"][1:])]]
                for timestamp, value in zip(result["Timestamps"], result["Values"], strict=True):
                    values[int(timestamp.timestamp())] = float(value)
    return series
