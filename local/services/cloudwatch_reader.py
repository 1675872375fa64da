"""Reads metric series from moto's CloudWatch in periods, as the alarm evaluator, the dashboard data and the demo
need them.

moto computes no percentiles: a pNN statistic is read as Average for NN <= 50 and as Maximum above (an upper
bound, so a latency alarm fires no later than on AWS).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from botocore.client import BaseClient

from alarms.engine.metric_math import Series
from ops.metric_history import fetch_history

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

    ops.metric_history.fetch_history reads (identical MetricStats once), with moto's statistics, a few periods
    per call. `start` and `end` are epoch seconds on a boundary of the longest period, and every period divides
    the longest.
    """
    local_stats = {key: {**stat, "Stat": local_statistic(stat["Stat"])} for key, stat in metric_stats.items()}
    step = PERIODS_PER_CALL * max((int(stat["Period"]) for stat in local_stats.values()), default=1)
    series: dict[str, Series] = {key: {} for key in local_stats}
    for window_start in range(start, end, step):
        window_end = min(window_start + step, end)
        for key, values in fetch_history(cloudwatch, local_stats, window_start, window_end).items():
            series[key].update(
                (moment, value) for moment, value in values.items() if window_start <= moment < window_end
            )
    return series
