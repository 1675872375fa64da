"""Reads metric series from moto's CloudWatch in periods, as the alarm evaluator, the dashboard data and the demo
need them.

moto computes no percentiles: a pNN statistic is read as Average for NN <= 50 and as Maximum above (an upper
bound, so a latency alarm fires no later than on AWS).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.client import BaseClient

from alarms.engine.metric_math import Series
from ops.metric_history import GET_METRIC_DATA_MAX_QUERIES

BASIC_STATISTICS = frozenset({"Sum", "Average", "Minimum", "Maximum", "SampleCount"})
# moto scans all its data once per query and period asked for: a few periods per call keep reads linear.
PERIODS_PER_CALL = 6


def local_statistic(stat: str) -> str:
    """The statistic moto can compute in place of `stat` (see the module doc on percentiles)."""
    if stat in BASIC_STATISTICS:
        return stat
    match = re.fullmatch(r"p(\d+(?:\.\d+)?)", stat)
    if match is None:
        raise ValueError(f"statistic {stat!r} cannot be evaluated locally")
    return "Average" if float(match.group(1)) <= 50 else "Maximum"


def fetch_series(
    cloudwatch: BaseClient, metric_stats: Mapping[str, Mapping[str, Any]], start: int, end: int
) -> dict[str, Series]:
    """GetMetricData for MetricStat dicts keyed by id; returns {id: {period start: value}}.

    Identical MetricStats are asked for once. `start` and `end` are epoch seconds on a boundary of the
    longest period, and every period divides the longest.
    """
    unique: dict[str, dict[str, Any]] = {}
    wanted: dict[str, str] = {}  # caller's id -> query id
    for key, stat in metric_stats.items():
        canonical = json.dumps(stat, sort_keys=True)
        if canonical not in unique:
            unique[canonical] = {
                "Id": f"q{len(unique)}",
                "MetricStat": {**stat, "Stat": local_statistic(stat["Stat"])},
                "ReturnData": True,
            }
        wanted[key] = unique[canonical]["Id"]
    results: dict[str, Series] = {}
    queries = list(unique.values())
    step = PERIODS_PER_CALL * max((int(query["MetricStat"]["Period"]) for query in queries), default=1)
    for offset in range(0, len(queries), GET_METRIC_DATA_MAX_QUERIES):
        for window_start in range(start, end, step):
            _get_metric_data(
                cloudwatch,
                queries[offset : offset + GET_METRIC_DATA_MAX_QUERIES],
                window_start,
                min(window_start + step, end),
                results,
            )
    return {key: results.get(query_id, {}) for key, query_id in wanted.items()}


def _get_metric_data(
    cloudwatch: BaseClient, queries: list[dict[str, Any]], start: int, end: int, results: dict[str, Series]
) -> None:
    request = {
        "MetricDataQueries": queries,
        "StartTime": datetime.fromtimestamp(start, UTC),
        "EndTime": datetime.fromtimestamp(end, UTC),
    }
    while True:
        response = cloudwatch.get_metric_data(**request)
        for result in response["MetricDataResults"]:
            series = results.setdefault(result["Id"], {})
            for timestamp, value in zip(result["Timestamps"], result["Values"], strict=True):
                if start <= (moment := int(timestamp.timestamp())) < end:
                    series[moment] = float(value)
        if not response.get("NextToken"):
            return
        request["NextToken"] = response["NextToken"]
