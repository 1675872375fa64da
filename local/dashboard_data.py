"""What a dashboard shows, read from the local CloudWatch: one reader for the static rendering
(`local.dashboard_render`) and the live console (`local.console`), so both draw the same numbers.

- `fetch(widgets, cloudwatch, start, end)`: each metric widget's series and metric math (GetMetricData
  through the alarm evaluator's reader, percentiles read as the evaluator reads them);
- `fit_window(...)`: the time axis fitted to the data — from the stack's start (or the first datapoint)
  to now, never wider than the dashboard's own range, never narrower than a few periods;
- `tile_value(...)`: a number tile's value — the latest datapoint, or with `setPeriodToTimeRange` the
  statistic over the whole window, as CloudWatch shows it;
- `alarm_states(...)`: the states of the alarms the alarm widgets list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient

from dashboards.metric_math import BAND_HISTORY_PERIODS, Band, MathError, Series, evaluate, referenced_ids
from local.cloudwatch_reader import fetch_series

DEFAULT_RANGE_SECONDS = 3 * 3600
# The narrowest time axis: a few periods, so one datapoint is not a full-width smear.
MIN_WINDOW_PERIODS = 6

WidgetData = dict[str, Series | Band]


@dataclass(frozen=True)
class Window:
    start: float
    end: float


def range_seconds(start: str) -> float:
    """A dashboard's `start` (`-PT3H`, `-PT30M`, `-P1D`) → seconds."""
    match = re.fullmatch(r"-P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", start)
    if not match or not any(match.groups()):
        return DEFAULT_RANGE_SECONDS
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def smallest_period(widgets: Sequence[Mapping[str, Any]]) -> int:
    periods = [
        entry["metric_stat"]["Period"]
        for widget in widgets
        if widget["type"] == "metric"
        for entry in entries(widget["properties"])
        if "metric_stat" in entry
    ]
    return min(periods, default=60)


def _timestamps(values: Series | Band | None) -> Iterable[int]:
    if values is None:
        return ()
    return values.bounds if isinstance(values, Band) else values


def fit_window(
    widgets: Sequence[Mapping[str, Any]],
    data: Sequence[WidgetData],
    end: float,
    longest: float,
    period: int,
    since: float | None = None,
) -> Window:
    """From the first datapoint of a period at most a sixth of the window (or `since`, the stack's start, if
    earlier) less one period, to `end`;
    at most `longest` seconds (the dashboard's range or a chosen window), at least MIN_WINDOW_PERIODS
    periods. A datapoint of a longer period that began before the stack is inside the window too."""
    earliest = end - longest
    # measured datapoints only: metric math (FILL, an anomaly band) has a value for every period; and only of
    # periods short enough to say when the data began (an error-budget window of hours says nothing about that)
    stamps = [
        t
        for widget, values in zip(widgets, data, strict=True)
        if widget["type"] == "metric"
        for entry in entries(widget["properties"])
        if "metric_stat" in entry and entry["metric_stat"]["Period"] * MIN_WINDOW_PERIODS <= longest
        for t in _timestamps(values.get(entry["id"]))
        if t >= earliest
    ]
    first = min([*stamps, *([since] if since is not None else [])], default=earliest)
    start = max(first - period, earliest)
    return Window(start=min(start, end - MIN_WINDOW_PERIODS * period), end=end)


def entries(properties: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each `metrics` entry as {"id", "options", and "metric_stat" or "expression"}."""
    found = []
    for index, entry in enumerate(properties.get("metrics", [])):
        options = dict(entry[-1]) if isinstance(entry[-1], dict) else {}
        parts = entry[:-1] if isinstance(entry[-1], dict) else entry
        entry_id = options.get("id", f"m{index}")
        if "expression" in options:
            found.append({"id": entry_id, "options": options, "expression": options["expression"]})
            continue
        namespace, metric, *flat = parts
        metric_stat = {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in zip(flat[::2], flat[1::2], strict=True)],
            },
            "Period": int(options.get("period", properties.get("period", 300))),
            "Stat": options.get("stat", properties.get("stat", "Average")),
        }
        found.append({"id": entry_id, "options": options, "metric_stat": metric_stat})
    return found


def fetch(widgets: Sequence[Mapping[str, Any]], cloudwatch: BaseClient, start: float, end: float) -> list[WidgetData]:
    """Per widget: {entry id: series or band}, with one GetMetricData round per period used."""
    by_period: dict[int, dict[str, Mapping[str, Any]]] = {}
    for index, widget in enumerate(widgets):
        if widget["type"] == "metric":
            for entry in entries(widget["properties"]):
                if "metric_stat" in entry:
                    period = entry["metric_stat"]["Period"]
                    by_period.setdefault(period, {})[f"w{index}_{entry['id']}"] = entry["metric_stat"]
    fetched: dict[str, Series] = {}
    windows: dict[int, list[int]] = {}
    for period, stats in by_period.items():
        last = math.ceil(end / period) * period  # the current, partial period is shown too
        first = int(start // period) * period
        windows[period] = list(range(first, last, period))
        # anomaly bands need history before the window
        fetched |= fetch_series(cloudwatch, stats, first - BAND_HISTORY_PERIODS * period, last)
    results: list[WidgetData] = []
    for index, widget in enumerate(widgets):
        values: WidgetData = {}
        if widget["type"] == "metric":
            found = entries(widget["properties"])
            raw = {e["id"]: fetched[f"w{index}_{e['id']}"] for e in found if "metric_stat" in e}
            periods = {e["id"]: e["metric_stat"]["Period"] for e in found if "metric_stat" in e}
            values.update(raw)
            for entry in found:
                if "expression" in entry and periods:
                    values[entry["id"]] = _expression(entry["expression"], raw, periods, windows)
        results.append(values)
    return results


def _expression(
    expression: str, raw: Mapping[str, Series], periods: Mapping[str, int], windows: Mapping[int, list[int]]
) -> Series | Band:
    try:
        referenced = [key for key in referenced_ids(expression) if key in periods]
        period = periods[referenced[0]] if referenced else next(iter(periods.values()))
        return evaluate(expression, raw, windows[period], period)
    except MathError:
        return {}  # an expression outside the local subset is drawn as "no data"


def clip(series: Series | Band, window: Window, period: int = 0) -> Series | Band:
    """The part of a series inside the window (the fetch reaches back further for anomaly bands). A datapoint of
    a `period` that began before the window but reaches into it (an error-budget window of hours) is shown at
    the window's start: what it sums is partly inside."""
    inside = window.start
    if isinstance(series, Band):
        return Band({t: bounds for t, bounds in series.bounds.items() if t >= inside})
    reaching_in = [value for t, value in series.items() if t < inside < t + period]  # at most one such bucket
    return ({int(inside): reaching_in[-1]} if reaching_in else {}) | {t: v for t, v in series.items() if t >= inside}


def entry_periods(properties: Mapping[str, Any]) -> dict[str, int]:
    """Each entry's period: a metric's own, an expression's the longest of the metrics it reads."""
    found = entries(properties)
    periods = {entry["id"]: int(entry["metric_stat"]["Period"]) for entry in found if "metric_stat" in entry}
    for entry in found:
        if "expression" in entry:
            used = [periods[i] for i in referenced_ids(entry["expression"]) if i in periods]
            periods[entry["id"]] = max(used, default=0)
    return periods


def tile_value(properties: Mapping[str, Any], entry: Mapping[str, Any], series: Series | Band) -> float | None:
    """What a number tile shows: the latest value, or with setPeriodToTimeRange the entry's statistic
    over the whole window (Sum adds up, Maximum/Minimum/Average as named)."""
    if isinstance(series, Band) or not series:
        return None
    if not properties.get("setPeriodToTimeRange"):
        return series[max(series)]
    stat = entry.get("metric_stat", {}).get("Stat", "Average")
    values = list(series.values())
    if stat == "Sum":
        return sum(values)
    if stat == "Maximum":
        return max(values)
    if stat == "Minimum":
        return min(values)
    return sum(values) / len(values)


def alarm_names(widgets: Sequence[Mapping[str, Any]]) -> list[str]:
    return sorted(
        {
            arn.rsplit(":alarm:", 1)[-1]
            for widget in widgets
            if widget["type"] == "alarm"
            for arn in widget["properties"].get("alarms", [])
        }
    )


def alarm_states(widgets: Sequence[Mapping[str, Any]], cloudwatch: BaseClient) -> dict[str, str]:
    """The states moto holds for the alarms of the alarm widgets (composites are kept by the evaluator)."""
    names = alarm_names(widgets)
    states: dict[str, str] = {}
    for offset in range(0, len(names), 100):
        response = cloudwatch.describe_alarms(AlarmNames=names[offset : offset + 100])
        for alarm in [*response["MetricAlarms"], *response.get("CompositeAlarms", [])]:
            states[alarm["AlarmName"]] = alarm["StateValue"]
    return states
