"""Render a CloudWatch dashboard body with data from the local CloudWatch: a PNG and a self-contained HTML page.

`render_dashboard(body, cloudwatch, out_dir, now)` draws the same widgets at the same grid positions:
metric graphs (GetMetricData through the alarm evaluator's reader, the same metric math, percentiles read
as the evaluator reads them), anomaly bands, alarm thresholds as horizontal lines (a line far above the
data is listed as off scale instead of flattening the graph), single values, alarm states and text. The
HTML page inlines the PNG, the text widgets and the runbook itself, so its runbook links are anchors of the
page: it works offline and on any machine. The data and the time window come from `local.dashboard_data`,
shared with the live console.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.client import BaseClient
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from dashboards.metric_math import Band
from local.dashboard_data import (
    WidgetData,
    Window,
    alarm_states,
    entries,
    fetch,
    fit_window,
    range_seconds,
    shown_in,
    smallest_period,
    tile_value,
)
from local.markdown_page import markdown_to_html, runbook_anchor_link, runbook_html

GRID_COLUMNS = 24
UNIT_WIDTH_INCHES = 0.7
UNIT_HEIGHT_INCHES = 0.42
DPI = 80
# Inches kept free inside a widget's cell: the title above a graph, tick labels left of and below it.
TITLE_INCHES = 0.3
TICKS_LEFT_INCHES = 0.5
TICKS_BELOW_INCHES = 0.3
GAP_INCHES = 0.1
STATE_COLORS = {"ALARM": "#d62728", "OK": "#2ca02c", "INSUFFICIENT_DATA": "#7f7f7f"}
OFF_SCALE_FACTOR = 1.25
# the static page inlines the runbook: its links are anchors of the page itself
PAGE_LINKS = runbook_anchor_link("")


def render_dashboard(
    dashboard_body: Mapping[str, Any],
    cloudwatch: BaseClient,
    out_dir: Path,
    now: datetime,
    name: str = "dashboard",
    since: float | None = None,
    evaluated: Mapping[str, str] | None = None,
) -> tuple[Path, Path]:
    """Write `<name>.png` and `<name>.html` into `out_dir`; returns their paths. The time axis starts at
    `since` (the stack's start) or at the first datapoint, within the dashboard's range. `evaluated`: the
    local evaluator's states, composites included (moto holds none for a composite)."""
    widgets = list(dashboard_body["widgets"])
    end = now.timestamp()
    longest = range_seconds(dashboard_body.get("start", ""))
    fetched = fetch(widgets, cloudwatch, end - longest, end)
    window = fit_window(widgets, fetched, end, longest, smallest_period(widgets), since)
    data = [shown_in(widget, values, window) for widget, values in zip(widgets, fetched, strict=True)]
    states = {**alarm_states(widgets, cloudwatch), **(evaluated or {})}
    rows = max((w["y"] + w["height"] for w in widgets), default=1)
    figure = Figure(figsize=(GRID_COLUMNS * UNIT_WIDTH_INCHES, rows * UNIT_HEIGHT_INCHES), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.patch.set_facecolor("white")
    for index, widget in enumerate(widgets):
        kind = widget["type"]
        axes = figure.add_axes(_box(widget, rows, titled=kind != "text", ticks=kind == "metric"))
        if kind == "metric":
            _draw_metric(axes, widget["properties"], data[index], window)
        elif kind == "alarm":
            _draw_alarms(axes, widget["properties"], states)
        else:
            _draw_text(axes, widget["properties"].get("markdown", ""))
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    figure.savefig(png, dpi=DPI)
    page = out_dir / f"{name}.html"
    page.write_text(_html(name, png, widgets, states, now, window), encoding="utf-8")
    return png, page


# --- drawing ---------------------------------------------------------------------------------------------


def _box(widget: Mapping[str, Any], rows: int, titled: bool, ticks: bool) -> tuple[float, float, float, float]:
    """The axes' rectangle in figure fractions: the widget's cell less room for title and tick labels."""
    total_width, total_height = GRID_COLUMNS * UNIT_WIDTH_INCHES, rows * UNIT_HEIGHT_INCHES
    left = widget["x"] * UNIT_WIDTH_INCHES + (TICKS_LEFT_INCHES if ticks else GAP_INCHES)
    right = (widget["x"] + widget["width"]) * UNIT_WIDTH_INCHES - GAP_INCHES
    top = total_height - widget["y"] * UNIT_HEIGHT_INCHES - (TITLE_INCHES if titled else GAP_INCHES)
    bottom = total_height - (widget["y"] + widget["height"]) * UNIT_HEIGHT_INCHES
    bottom += TICKS_BELOW_INCHES if ticks else GAP_INCHES / 2
    width, height = max(right - left, 0.01), max(top - bottom, 0.01)
    return (left / total_width, bottom / total_height, width / total_width, height / total_height)


def _compact(value: float) -> str:
    """1200000 → 1.2M: short tick labels, and no offset text over the title."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def _title(axes: Axes, title: str) -> None:
    # A plain text above the axes: Axes.set_title re-measures every axes to place it, which is slow.
    axes.text(0.0, 1.02, title, transform=axes.transAxes, fontsize=9, va="bottom")


def _times(series: Mapping[int, Any]) -> list[float]:
    """Matplotlib's date numbers of the period starts (the axis' date locator and formatter read them)."""
    return [_date_number(timestamp) for timestamp in sorted(series)]


def _date_number(timestamp: float) -> float:
    return float(date2num(datetime.fromtimestamp(timestamp, UTC)))


def _draw_metric(axes: Axes, properties: Mapping[str, Any], values: WidgetData, window: Window) -> None:
    _title(axes, properties.get("title", ""))
    shown = [e for e in entries(properties) if e["options"].get("visible", True)]
    if properties.get("view") == "singleValue":
        _draw_single_values(axes, properties, shown, values)
        return
    data_max = 0.0
    for entry in shown:
        label = entry["options"].get("label", entry["id"])
        series = values.get(entry["id"], {})
        if isinstance(series, Band):
            bounds = series.bounds
            lows = [bounds[t][0] for t in sorted(bounds)]
            highs = [bounds[t][1] for t in sorted(bounds)]
            axes.fill_between(_times(bounds), lows, highs, color=entry["options"].get("color", "#95a5a6"), alpha=0.3)
            axes.plot([], [], color="#95a5a6", linewidth=6, alpha=0.3, label=label)
            data_max = max([data_max, *highs])
        elif series:
            # a lone datapoint has no line to draw: it gets a marker
            marker = "o" if len(series) == 1 else None
            axes.plot(_times(series), [series[t] for t in sorted(series)], linewidth=1.2, marker=marker, label=label)
            data_max = max([data_max, *series.values()])
    lines = (properties.get("annotations") or {}).get("horizontal", [])
    lowest = min((line["value"] for line in lines if line["value"] > 0), default=0.0)
    top = max(data_max, lowest, 1.0) * OFF_SCALE_FACTOR
    off_scale = []
    for line in lines:
        if line["value"] <= top:
            axes.axhline(line["value"], color=line.get("color", "#d62728"), linestyle="--", linewidth=1)
            axes.plot([], [], color=line.get("color", "#d62728"), linestyle="--", label=line["label"])
        else:
            off_scale.append(f"{line['label']}: {line['value']:g}")
    axes.set_ylim(bottom=0, top=top)
    axes.set_xlim(_date_number(window.start), _date_number(window.end))
    # few ticks: laying out tick labels is most of the drawing time
    axes.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=5))
    # seconds when the window is short: "05:14 05:14 05:15" tells nothing apart
    axes.xaxis.set_major_formatter(DateFormatter("%H:%M:%S" if window.end - window.start < 600 else "%H:%M"))
    axes.yaxis.set_major_locator(MaxNLocator(nbins=4))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: _compact(value)))
    axes.tick_params(labelsize=7)
    if not any(values.get(entry["id"]) for entry in shown):
        axes.text(0.5, 0.5, "no data", transform=axes.transAxes, ha="center", va="center", color="#7f7f7f")
    if off_scale:
        note = "off scale: " + "; ".join(off_scale)
        axes.text(0.99, 0.97, note, transform=axes.transAxes, ha="right", va="top", fontsize=6, color="#7f7f7f")
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=6, loc="upper left", framealpha=0.6)


def _draw_single_values(
    axes: Axes, properties: Mapping[str, Any], shown: Sequence[Mapping[str, Any]], values: WidgetData
) -> None:
    axes.set_axis_off()
    for position, entry in enumerate(shown):
        value = tile_value(properties, entry, values.get(entry["id"], {}))
        text = "—" if value is None else f"{value:,.4g}"
        y = 0.55 - position * 0.3
        axes.text(0.5, y, text, transform=axes.transAxes, ha="center", va="center", fontsize=22, weight="bold")
        label = entry["options"].get("label", entry["id"])
        axes.text(0.5, y - 0.25, label, transform=axes.transAxes, ha="center", fontsize=7, color="#555555")


def _draw_alarms(axes: Axes, properties: Mapping[str, Any], states: Mapping[str, str]) -> None:
    axes.set_axis_off()
    _title(axes, properties.get("title", ""))
    names = [arn.rsplit(":alarm:", 1)[-1] for arn in properties.get("alarms", [])]
    columns = 3
    per_column = max(1, math.ceil(len(names) / columns))
    for index, name in enumerate(names):
        state = states.get(name, "evaluated locally")
        column, row = divmod(index, per_column)
        x, y = column / columns, 1 - (row + 1) / (per_column + 1)
        axes.text(x, y, "●", transform=axes.transAxes, color=STATE_COLORS.get(state, "#1f77b4"), fontsize=9)
        axes.text(x + 0.015, y, f"{name}  {state}", transform=axes.transAxes, fontsize=7, va="bottom")


def _plain(markdown: str) -> str:
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", markdown)
    return re.sub(r"\*\*([^*]+)\*\*|^#+\s*", r"\1", text, flags=re.MULTILINE)


def _draw_text(axes: Axes, markdown: str) -> None:
    axes.set_axis_off()
    if markdown.lstrip().startswith("#") and len(markdown.splitlines()) == 1:  # a stage header
        axes.text(0.0, 0.5, _plain(markdown), transform=axes.transAxes, va="center", fontsize=11, weight="bold")
    else:
        axes.text(0.0, 1.0, _plain(markdown), transform=axes.transAxes, va="top", fontsize=7)


# --- the page --------------------------------------------------------------------------------------------


def _html(
    name: str, png: Path, widgets: Sequence[Mapping[str, Any]], states: Mapping[str, str], now: datetime, window: Window
) -> str:
    image = base64.b64encode(png.read_bytes()).decode("ascii")
    alarms = "\n".join(
        f'<li><span style="color:{STATE_COLORS.get(state, "#1f77b4")}">●</span> '
        f"{html.escape(alarm)}: {html.escape(state)}</li>"
        for alarm, state in sorted(states.items())
    )
    texts = "\n".join(
        f'<section class="text">{markdown_to_html(widget["properties"].get("markdown", ""), PAGE_LINKS)}</section>'
        for widget in widgets
        if widget["type"] == "text" and len(widget["properties"].get("markdown", "").splitlines()) > 1
    )
    when = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    shown = " to ".join(datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S") for t in (window.start, window.end))
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(name)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
img {{ max-width: 100%; border: 1px solid #ddd; }}
section {{ margin-top: 1.5em; }}
ul {{ line-height: 1.5; }}
</style>
</head>
<body>
<h1>{html.escape(name)}</h1>
<p>Rendered {when} from the local CloudWatch; the graphs show {shown} UTC.</p>
<img src="data:image/png;base64,{image}" alt="{html.escape(name)} dashboard">
<section><h2>Alarm states</h2><ul>
{alarms}
</ul></section>
{texts}
<section class="runbook">{runbook_html(PAGE_LINKS)}</section>
</body>
</html>
"""


def render_stack_dashboards(
    cloudwatch: BaseClient,
    template: Mapping[str, Any],
    out_dir: Path,
    now: datetime,
    since: float | None = None,
    evaluated: Mapping[str, str] | None = None,
) -> list[tuple[Path, Path]]:
    """Render every dashboard of the deployed stack, as stored in the local CloudWatch, from `since`."""
    rendered = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Dashboard":
            continue
        name = resource["Properties"]["DashboardName"]
        body = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
        rendered.append(render_dashboard(body, cloudwatch, out_dir, now, name, since, evaluated))
    return rendered
