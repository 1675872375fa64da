"""What a dashboard shows, read from the local CloudWatch: one reader for the static rendering
(`local.console.dashboard_render`) and the live console (`local.console`), so both draw the same numbers.

- `fetch(widgets, cloudwatch, start, end)`: each metric widget's series and metric math (GetMetricData
  through the alarm evaluator's reader, percentiles read as the evaluator reads them);
- `fit_window(...)`: the time axis fitted to the data — from the stack's start (or the first datapoint)
  to now, never wider than the dashboard's own range, never narrower than a few periods;
- `tile_value(...)`: a number tile's value — the latest datapoint; with `setPeriodToTimeRange` `fetch` reads
  the widget's whole range as one period, as CloudWatch does (a widget's own `start` is its range, whatever
  the dashboard's);
- `alarm_states(...)`: the states of the alarms the alarm widgets list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient

from alarms.engine.metric_math import BAND_HISTORY_PERIODS, Band, MathError, Series, evaluate, referenced_ids
from local.services.cloudwatch_reader import fetch_series

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


# A Logs Insights widget ("type": "log") cannot be read from moto: the console and the PNG show this instead.
LOG_QUERY_NOTE = (
    "Logs Insights runs on AWS only (moto has none), so this table is not drawn locally. Per producer here:"
    " `invoke keys.list` (the requests the local gateway admitted, per key)."
)


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
        # a range read as one period says nothing about when the data began
        if widget["type"] == "metric" and not widget["properties"].get("setPeriodToTimeRange")
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


def widget_start(properties: Mapping[str, Any], start: float, end: float) -> float:
    """Where a widget's time range begins: its own relative `start` (independent of the dashboard's), else `start`."""
    own = properties.get("start")
    return end - range_seconds(own) if own else start


def _buckets(properties: Mapping[str, Any], period: int, start: float, end: float) -> tuple[int, int, int]:
    """(period, first, last) a widget's entry is read in: with setPeriodToTimeRange one period of the widget's whole
    range, as CloudWatch reads it; else periods on their boundaries, the current partial one included."""
    if properties.get("setPeriodToTimeRange"):
        last = math.ceil(end)
        whole = max(1, last - int(widget_start(properties, start, end)))
        return whole, last - whole, last
    first = int(widget_start(properties, start, end) // period) * period
    return period, first, math.ceil(end / period) * period


def fetch(widgets: Sequence[Mapping[str, Any]], cloudwatch: BaseClient, start: float, end: float) -> list[WidgetData]:
    """Per widget: {entry id: series or band}, in the widget's own time range if it has one, with one GetMetricData
    round per period and range used."""
    groups: dict[tuple[int, int, int], dict[str, Mapping[str, Any]]] = {}
    for index, widget in enumerate(widgets):
        if widget["type"] == "metric":
            properties = widget["properties"]
            for entry in entries(properties):
                if "metric_stat" in entry:
                    key = _buckets(properties, entry["metric_stat"]["Period"], start, end)
                    groups.setdefault(key, {})[f"w{index}_{entry['id']}"] = {**entry["metric_stat"], "Period": key[0]}
    fetched: dict[str, Series] = {}
    for (period, first, last), stats in groups.items():
        # anomaly bands need history before the window (a graph's); a range read as one period has none
        history = 0 if last - first == period else BAND_HISTORY_PERIODS * period
        fetched |= fetch_series(cloudwatch, stats, first - history, last)
    results: list[WidgetData] = []
    for index, widget in enumerate(widgets):
        values: WidgetData = {}
        if widget["type"] == "metric":
            properties = widget["properties"]
            found = entries(properties)
            raw = {e["id"]: fetched[f"w{index}_{e['id']}"] for e in found if "metric_stat" in e}
            read = {
                e["id"]: _buckets(properties, e["metric_stat"]["Period"], start, end)
                for e in found
                if "metric_stat" in e
            }
            values.update(raw)
            for entry in found:
                if "expression" in entry and read:
                    values[entry["id"]] = _expression(entry["expression"], raw, read)
        results.append(values)
    return results


def _expression(expression: str, raw: Mapping[str, Series], read: Mapping[str, tuple[int, int, int]]) -> Series | Band:
    try:
        referenced = [key for key in referenced_ids(expression) if key in read]
        period, first, last = read[referenced[0]] if referenced else next(iter(read.values()))
        return evaluate(expression, raw, list(range(first, last, period)), period)
    except MathError:
        return {}  # an expression outside the local subset is drawn as "no data"


def shown_in(widget: Mapping[str, Any], values: WidgetData, window: Window) -> WidgetData:
    """A widget's data as drawn: a graph's clipped to the time axis; a number tile's as read (its own range)."""
    if widget["type"] != "metric" or widget["properties"].get("view") == "singleValue":
        return values
    periods = entry_periods(widget["properties"])
    return {key: clip(series, window, periods.get(key, 0)) for key, series in values.items()}


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
    """What a number tile shows: the latest value (with setPeriodToTimeRange `fetch` read the widget's whole range
    as that one period, metric math included)."""
    if isinstance(series, Band) or not series:
        return None
    return series[max(series)]


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
