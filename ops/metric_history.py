"""GetMetricData, read one way for every tool: the backtest's history (`fetch_history`), the alarm check
(ops.alarm_verify) and the local stack's reader (local.services.cloudwatch_reader, over `fetch_history`) all go through
`read_metric_data`.

At most 500 queries a call (botocore's cloudwatch model, GetMetricDataInput.MetricDataQueries: "A single
GetMetricData call can include as many as 500 MetricDataQuery structures"), oldest first, following NextToken with
botocore's own paginator. Each result carries a StatusCode (`Complete`, `PartialData`, `InternalError`,
`Forbidden`) and Messages; the call may carry Messages of its own ("If there is a message, as much of the
operation as possible is still executed"). "NextToken is not returned if you are performing a math expression"
(MetricDataResult.StatusCode), so an expression's `PartialData` is final.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.client import BaseClient

from alarms.engine.metric_math import Series

GET_METRIC_DATA_MAX_QUERIES = 500
COMPLETE = "Complete"


@dataclass
class QueryData:
    """One query's answer over every page: its series by label (an expression may return several, as an anomaly
    band returns its two bounds), the last StatusCode CloudWatch gave it and every message about it."""

    id: str
    series: dict[str, Series] = field(default_factory=dict)
    status: str = COMPLETE
    messages: list[str] = field(default_factory=list)

    @property
    def values(self) -> Series:
        """The query's datapoints (a query returning several series: all of them, the first label winning)."""
        merged: Series = {}
        for series in reversed(list(self.series.values())):
            merged.update(series)
        return merged


@dataclass
class MetricData:
    """The answer to one call's queries, by query id, and the messages about the call as a whole."""

    results: dict[str, QueryData]
    messages: list[str]


def message_text(message: Mapping[str, Any]) -> str:
    code, value = message.get("Code", ""), message.get("Value", "")
    return f"{code}: {value}" if code and value else str(code or value)


def read_metric_data(cloudwatch: BaseClient, queries: Sequence[Mapping[str, Any]], start: int, end: int) -> MetricData:
    """One GetMetricData request (≤ 500 queries) over [start, end), every page merged."""
    if len(queries) > GET_METRIC_DATA_MAX_QUERIES:
        raise ValueError(f"{len(queries)} queries: GetMetricData takes at most {GET_METRIC_DATA_MAX_QUERIES} a call")
    data = MetricData({query["Id"]: QueryData(query["Id"]) for query in queries}, [])
    pages = cloudwatch.get_paginator("get_metric_data").paginate(
        MetricDataQueries=[dict(query) for query in queries],
        StartTime=datetime.fromtimestamp(start, UTC),
        EndTime=datetime.fromtimestamp(end, UTC),
        ScanBy="TimestampAscending",
    )
    for page in pages:
        data.messages += [message_text(message) for message in page.get("Messages", [])]
        for result in page.get("MetricDataResults", []):
            query = data.results.setdefault(result["Id"], QueryData(result["Id"]))
            series = query.series.setdefault(result.get("Label", ""), {})
            for timestamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True):
                series[int(timestamp.timestamp())] = float(value)
            query.status = result.get("StatusCode", COMPLETE)
            query.messages += [message_text(message) for message in result.get("Messages", [])]
    return data


def batched(groups: Sequence[Sequence[Mapping[str, Any]]]) -> list[list[Sequence[Mapping[str, Any]]]]:
    """Groups of queries packed, in order, into calls of at most 500 queries; a group (an expression and its inputs,
    which must be in the same request) is never split. Each call is its list of groups."""
    calls: list[list[Sequence[Mapping[str, Any]]]] = []
    size = 0
    for group in groups:
        if len(group) > GET_METRIC_DATA_MAX_QUERIES:
            raise ValueError(f"a group of {len(group)} queries does not fit one GetMetricData call")
        if not calls or size + len(group) > GET_METRIC_DATA_MAX_QUERIES:
            calls.append([])
            size = 0
        calls[-1].append(group)
        size += len(group)
    return calls


def flattened(call: Sequence[Sequence[Mapping[str, Any]]]) -> list[Mapping[str, Any]]:
    return [query for group in call for query in group]


def fetch_history(
    cloudwatch: BaseClient, stats: Mapping[str, Mapping[str, Any]], start: int, end: int
) -> dict[str, Series]:
    """GetMetricData for `stats` (by key) over [start, end): {key: {period start: value}}. Identical MetricStats
    are asked for once and answered under each key."""
    queries: dict[str, dict[str, Any]] = {}  # by the MetricStat's canonical JSON
    query_of: dict[str, str] = {}  # key -> query id
    for key, stat in stats.items():
        canonical = json.dumps(stat, sort_keys=True)
        if canonical not in queries:
            queries[canonical] = {"Id": f"q{len(queries)}", "MetricStat": dict(stat), "ReturnData": True}
        query_of[key] = queries[canonical]["Id"]
    values: dict[str, Series] = {}
    for call in batched([[query] for query in queries.values()]):
        data = read_metric_data(cloudwatch, flattened(call), start, end)
        values |= {query["Id"]: data.results[query["Id"]].values for query in flattened(call)}
    return {key: values[query_id] for key, query_id in query_of.items()}
