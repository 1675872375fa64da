"""Dashboard building blocks: the grid, metric graphs from catalog signals, alarm-status and text widgets.

Widgets are plain dicts in CloudWatch's dashboard body format. Region and alarm ARNs are written as
`${AWS::Region}`-style placeholders: the body goes into the template through Fn::Sub.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.slo import span
from dashboards.catalog import Expression, Metric, Signal

FULL_WIDTH = 24
HALF_WIDTH = 12
THIRD_WIDTH = 8
QUARTER_WIDTH = 6
GRAPH_HEIGHT = 6
HEADER_HEIGHT = 1
SINGLE_VALUE_HEIGHT = 4
ALARM_STATUS_HEIGHT = 6
# The default time range shows this many periods (3 h at 60 s, 30 min at the local 10 s).
RANGE_PERIODS = 180

REGION = "${AWS::Region}"
ALARM_ARN = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"
TIER_COLORS = {"high": "#d62728", "low": "#ff7f0e"}
CAPACITY_COLOR = "#7f7f7f"
BAND_COLOR = "#95a5a6"
# A graph's y axes, in the order units take them: the first signal's unit on the left, a second one on the right.
Y_AXES = ("left", "right")
# A number tile shows no axis: its label carries the unit (a bare "31.12" could be ms or s).
UNIT_SYMBOLS = {"Milliseconds": "ms", "Seconds": "s", "Bytes": "bytes", "Percent": "%", "Count/Second": "/s"}


@dataclass(frozen=True)
class AlarmView:
    """What a dashboard shows of an alarm (the alarms package fills these in; dashboards never import it)."""

    name: str
    tier: str
    summary: str
    runbook: str  # link to the runbook section
    signal: str | None = None  # catalog id watched; None for a composite
    threshold: float | None = None  # a horizontal line on the signal's graphs
    band_width: float | None = None  # an anomaly band around the signal instead
    window_seconds: int | None = None  # the periods it evaluates, end to end


@dataclass(frozen=True)
class Annotation:
    label: str
    value: float
    color: str
    axis: str = "left"  # the y axis whose numbers `value` is in

    def to_json(self) -> dict[str, Any]:
        line: dict[str, Any] = {"label": self.label, "value": self.value, "color": self.color}
        return line | _on_axis(self.axis)


class Grid:
    """Places widgets left to right, opening a new row when the current one is full."""

    def __init__(self) -> None:
        self.widgets: list[dict[str, Any]] = []
        self._x = 0
        self._y = 0
        self._row_height = 0

    def add(self, widget: dict[str, Any], width: int, height: int) -> None:
        if self._x + width > FULL_WIDTH:
            self.new_row()
        self.widgets.append({**widget, "x": self._x, "y": self._y, "width": width, "height": height})
        self._x += width
        self._row_height = max(self._row_height, height)

    def new_row(self) -> None:
        if self._x:
            self._y += self._row_height
        self._x = 0
        self._row_height = 0


def body(grid: Grid, period: int) -> dict[str, Any]:
    return {
        "start": relative_start(RANGE_PERIODS * period),
        "periodOverride": "inherit",
        "widgets": grid.widgets,
    }


def relative_start(seconds: int) -> str:
    """A relative time range ending now, as a dashboard's or a widget's `start`: -P30D, -PT6H, -PT5M. CloudWatch
    reads minutes, hours, days, weeks and months (Dashboard Body Structure and Syntax); a range of whole seconds
    only is written in seconds, which only the local renderer reads."""
    for unit, template in ((86_400, "-P{}D"), (3_600, "-PT{}H"), (60, "-PT{}M")):
        if seconds % unit == 0:
            return template.format(seconds // unit)
    return f"-PT{seconds}S"


def own_range(seconds: int) -> int | None:
    """The widget range CloudWatch can draw a window of `seconds` over: whole minutes; None below one."""
    return seconds if seconds >= 60 and seconds % 60 == 0 else None


def metric_entries(
    signals: Sequence[Signal], extra: Iterable[dict[str, Any]] = (), axes: Mapping[str, str] | None = None
) -> list[list[Any]]:
    """The widget's `metrics` array: each signal, and the inputs of expressions as hidden entries.

    `axes`: the y axis of each unit (`y_axes`); a signal whose unit is on the right axis says so (rendering option
    `yAxis`, left by default: Dashboard Body Structure and Syntax)."""
    units = axes or {}
    shown = {signal.id for signal in signals}
    entries: dict[str, list[Any]] = {}
    for signal in signals:
        side = _on_axis(units.get(signal.unit, "left"))
        if isinstance(signal, Expression):
            for metric in signal.inputs:
                entries.setdefault(metric.id, _metric_entry(metric, visible=metric.id in shown))
            entries[signal.id] = [{"expression": signal.expression, "id": signal.id, "label": signal.label} | side]
        else:
            entries[signal.id] = _metric_entry(signal, visible=True, side=side)
    for expression in extra:
        entries[expression["id"]] = [expression]
    return list(entries.values())


def _metric_entry(metric: Metric, visible: bool, side: Mapping[str, str] | None = None) -> list[Any]:
    options: dict[str, Any] = {"id": metric.id, "label": metric.label, "stat": metric.stat, "period": metric.period}
    if not visible:
        options["visible"] = False
    options |= side or {}
    dimensions = [part for pair in metric.dimensions for part in pair]
    return [metric.namespace, metric.name, *dimensions, options]


def y_axes(title: str, signals: Sequence[Signal]) -> dict[str, str]:
    """Each unit's y axis: the first signal's unit on the left, a second unit on the right. A graph has two y axes,
    so a third unit is a programming error, refused when the template is built."""
    units = list(dict.fromkeys(signal.unit for signal in signals))
    if len(units) > len(Y_AXES):
        raise ValueError(f"graph {title!r} mixes {len(units)} units ({', '.join(units)}): a graph has two y axes")
    return dict(zip(units, Y_AXES, strict=False))


def _on_axis(axis: str) -> dict[str, str]:
    """The `yAxis` option of a series or a line on `axis`: none for the left, CloudWatch's default."""
    return {} if axis == "left" else {"yAxis": axis}


def graph(
    title: str,
    signals: Sequence[Signal],
    alarms: Sequence[AlarmView] = (),
    view: str = "timeSeries",
    time_range: int | None = None,
) -> dict[str, Any]:
    """A metric widget titled by the question it answers, with alarm thresholds, capacity lines and bands.

    `time_range`: seconds the widget shows, ending now, whatever the dashboard's range (GetMetricData returns
    nothing before its StartTime: a 30-day window in a 3-hour dashboard would sum 3 hours); a number tile with
    one reads its signal over the whole range as one period (`setPeriodToTimeRange`)."""
    axes = y_axes(title, signals) if view == "timeSeries" else {}
    # each signal's axis: its thresholds, limit and band are drawn against that axis' numbers
    axis_of = {signal.id: axes.get(signal.unit, "left") for signal in signals}
    watching = [alarm for alarm in alarms if alarm.signal in axis_of]
    annotations = [
        Annotation(f"{alarm.name} ({alarm.tier})", alarm.threshold, TIER_COLORS[alarm.tier], axis_of[alarm.signal])
        for alarm in watching
        if alarm.threshold is not None and alarm.signal is not None
    ]
    annotations += [
        Annotation(f"limit: {signal.label}", signal.capacity, CAPACITY_COLOR, axis_of[signal.id])
        for signal in signals
        if signal.capacity is not None
    ]
    bands = [
        {
            "expression": f"ANOMALY_DETECTION_BAND({alarm.signal}, {alarm.band_width:g})",
            "id": f"{alarm.signal}_band",
            "label": f"expected band ({alarm.name})",
            "color": BAND_COLOR,
        }
        | _on_axis(axis_of[alarm.signal])
        for alarm in watching
        if alarm.band_width is not None and alarm.signal is not None
    ]
    if view == "singleValue":
        signals = [dataclasses.replace(signal, label=_with_unit(signal.label, signal.unit)) for signal in signals]
    properties: dict[str, Any] = {
        "title": title,
        "region": REGION,
        "view": view,
        "stacked": False,
        "period": signals[0].period,
        "metrics": metric_entries(signals, bands, axes),
    }
    if time_range is not None:
        properties["start"] = relative_start(time_range)
    if view == "singleValue" and (counts(signals) or time_range is not None):
        # a count reads as "how many in the time range", not "how many in the latest period"
        properties["setPeriodToTimeRange"] = True
    if view == "timeSeries":
        # each axis is labelled with the unit of the series on it
        properties["yAxis"] = {axis: {"min": 0, "label": unit, "showUnits": False} for unit, axis in axes.items()}
        properties["annotations"] = {"horizontal": [annotation.to_json() for annotation in annotations]}
    return {"type": "metric", "properties": properties}


def counts(signals: Sequence[Signal]) -> bool:
    """Whether every signal counts things (sums of counts, or metric math over them): such numbers add up over a
    time range, where a latency, an age or a maximum does not."""
    return all(signal.unit == "Count" and all(metric.stat == "Sum" for metric in signal.inputs) for signal in signals)


def tile_title(title: str, signals: Sequence[Signal]) -> str:
    """A number tile's title with what its numbers are: a CloudWatch number tile shows the most recent datapoint,
    or, with setPeriodToTimeRange, the whole time range as one period (counts are read so)."""
    if counts(signals):
        return f"{title} (since the range began)"
    return f"{title} (latest {span(signals[0].period)})"


def _with_unit(label: str, unit: str) -> str:
    symbol = UNIT_SYMBOLS.get(unit)
    return f"{label} ({symbol})" if symbol else label


def alarm_status(title: str, alarms: Sequence[AlarmView]) -> dict[str, Any]:
    return {
        "type": "alarm",
        "properties": {
            "title": title,
            "alarms": [f"{ALARM_ARN}{alarm.name}" for alarm in alarms],
            "sortBy": "stateUpdatedTimestamp",
        },
    }


def log_table(title: str, log_groups: Sequence[str], query_lines: Sequence[str]) -> dict[str, Any]:
    """A Logs Insights query drawn as a table: the query names its log groups with SOURCE and separates its commands
    with "\\n|" (AWS's dashboard body structure, log widget object). Each refresh runs the query again."""
    sources = " | ".join(f"SOURCE '{group}'" for group in log_groups)
    return {
        "type": "log",
        "properties": {
            "title": title,
            "region": REGION,
            "view": "table",
            "query": "\n| ".join([sources, *query_lines]),
        },
    }


def text(markdown: str) -> dict[str, Any]:
    return {"type": "text", "properties": {"markdown": markdown}}


def text_height(markdown: str) -> int:
    """Grid units a text widget needs: about one and a half lines per unit."""
    return max(HEADER_HEIGHT, math.ceil(len(markdown.splitlines()) / 1.5))


def runbook_markdown(alarms: Sequence[AlarmView]) -> str:
    lines = [
        "## Runbook",
        "Each alarm links to its runbook section: what it means, what to look at first, how to recover.",
        "",
        *(f"- **{alarm.tier}** [{alarm.name}]({alarm.runbook}): {alarm.summary}" for alarm in alarms),
    ]
    return "\n".join(lines)
