"""Draw a dashboard's widgets into one matplotlib figure at their grid positions (`local.console.dashboard_render`
writes
it to a PNG and an HTML page).

Every piece of text stays inside its widget's cell: a title or a label too wide for its cell is set smaller, then
wrapped; a tile's numbers stand side by side, each above its label; thresholds too far above the data to draw are
listed in the legend ("off scale"), not over the neighbour; every graph names its unit on the y axis, and a graph
of two units draws the second on a right y axis with its own unit and scale; time ticks fall on round times, as
many as fit; numbers are written without e-notation.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import date2num
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, MaxNLocator

from alarms.engine.metric_math import Band
from dashboards.operations import WHO_IS_SENDING
from local.console.dashboard_data import LOG_QUERY_NOTE, WidgetData, Window, entries, tile_value
from local.console.producer_table import PRODUCER_COLUMNS, PRODUCER_HEADERS, PRODUCER_NOTE

GRID_COLUMNS = 24
UNIT_WIDTH_INCHES = 0.7
UNIT_HEIGHT_INCHES = 0.42
DPI = 80
# Inches kept free inside a widget's cell: the title above a graph, the unit and tick labels left of it (and right
# of it, for a right axis), the time tick labels below it.
TITLE_INCHES = 0.3
TICKS_LEFT_INCHES = 0.6
TICKS_RIGHT_INCHES = 0.6
TICKS_BELOW_INCHES = 0.3
GAP_INCHES = 0.1
TITLE_SIZE = 9
SMALLEST_TEXT = 5.5
STATE_COLORS = {"ALARM": "#d62728", "OK": "#2ca02c", "INSUFFICIENT_DATA": "#7f7f7f"}
OFF_SCALE_FACTOR = 1.25
# One colour per series across both y axes (each axes would restart matplotlib's cycle: two series in one colour).
SERIES_COLORS = ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9")
# Round steps for time ticks, in seconds; a tick label needs about this many pixels, the gap included.
TICK_STEPS = (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
TICK_LABEL_PIXELS = {"%H:%M": 44, "%H:%M:%S": 62}


@dataclass(frozen=True)
class Drawing:
    figure: Figure
    cells: list[tuple[Mapping[str, Any], Axes]]  # each widget with the axes drawn in its cell


def draw_widgets(
    widgets: Sequence[Mapping[str, Any]],
    data: Sequence[WidgetData],
    window: Window,
    states: Mapping[str, str],
    producers: Mapping[str, Any] | None = None,
) -> Drawing:
    """`producers`: the local gateway's counts per key (local/console/producer_table.py), drawn as the "Who is
    sending?" table; None: that widget shows its query, as the other Logs Insights widgets do."""
    rows = max((w["y"] + w["height"] for w in widgets), default=1)
    figure = Figure(figsize=(GRID_COLUMNS * UNIT_WIDTH_INCHES, rows * UNIT_HEIGHT_INCHES), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.patch.set_facecolor("white")
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    cells = []
    for widget, values in zip(widgets, data, strict=True):
        kind = widget["type"]
        right = kind == "metric" and "right" in axis_units(widget["properties"])
        axes = figure.add_axes(_box(widget, rows, titled=kind != "text", ticks=kind == "metric", right_ticks=right))
        if kind != "text":
            _title(axes, widget, renderer)
        if kind == "metric":
            _draw_metric(axes, widget["properties"], values, window, renderer)
        elif kind == "alarm":
            _draw_alarms(axes, widget["properties"], states)
        elif kind == "log" and producers is not None and widget["properties"].get("title") == WHO_IS_SENDING:
            _draw_producers(axes, producers)
        elif kind == "log":
            _draw_log_query(axes, widget["properties"])
        else:
            _draw_text(axes, widget["properties"].get("markdown", ""))
        cells.append((widget, axes))
    return Drawing(figure, cells)


def content_bottom_inches(drawing: Drawing) -> float:
    """Where the lowest drawn thing ends, in inches from the figure's bottom: a text widget's cell is as tall as
    CloudWatch's grid needs, its text here much shorter; the PNG ends where the text does."""
    renderer = drawing.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    bottoms = []
    for widget, axes in drawing.cells:
        if widget["type"] == "text":
            bottoms += [text.get_window_extent(renderer).y0 / DPI for text in axes.texts]
        else:
            bottoms.append(axes.get_position().y0 * drawing.figure.get_figheight() - TICKS_BELOW_INCHES)
    return max(0.0, min(bottoms, default=0.0) - GAP_INCHES)


# --- cells and text --------------------------------------------------------------------------------------


def cell_pixels(widget: Mapping[str, Any], figure: Figure) -> tuple[float, float, float, float]:
    """The widget's cell in display pixels: (left, bottom, right, top)."""
    height = figure.get_figheight() * DPI
    left = widget["x"] * UNIT_WIDTH_INCHES * DPI
    right = (widget["x"] + widget["width"]) * UNIT_WIDTH_INCHES * DPI
    top = height - widget["y"] * UNIT_HEIGHT_INCHES * DPI
    bottom = height - (widget["y"] + widget["height"]) * UNIT_HEIGHT_INCHES * DPI
    return left, bottom, right, top


def _box(
    widget: Mapping[str, Any], rows: int, titled: bool, ticks: bool, right_ticks: bool = False
) -> tuple[float, float, float, float]:
    """The axes' rectangle in figure fractions: the widget's cell less room for title and tick labels."""
    total_width, total_height = GRID_COLUMNS * UNIT_WIDTH_INCHES, rows * UNIT_HEIGHT_INCHES
    left = widget["x"] * UNIT_WIDTH_INCHES + (TICKS_LEFT_INCHES if ticks else GAP_INCHES)
    right = (widget["x"] + widget["width"]) * UNIT_WIDTH_INCHES - (TICKS_RIGHT_INCHES if right_ticks else GAP_INCHES)
    top = total_height - widget["y"] * UNIT_HEIGHT_INCHES - (TITLE_INCHES if titled else GAP_INCHES)
    bottom = total_height - (widget["y"] + widget["height"]) * UNIT_HEIGHT_INCHES
    bottom += TICKS_BELOW_INCHES if ticks else GAP_INCHES / 2
    width, height = max(right - left, 0.01), max(top - bottom, 0.01)
    return (left / total_width, bottom / total_height, width / total_width, height / total_height)


def fit_text(text: Text, width: float, renderer: RendererBase, lines: int = 2, height: float = math.inf) -> None:
    """Make `text` at most `width` by `height` pixels: a smaller size first, then up to `lines` lines, then smaller."""
    original = text.get_text()
    size = float(text.get_fontsize())

    def fits() -> bool:
        box = text.get_window_extent(renderer)
        return box.width <= width and box.height <= height

    for count in range(1, lines + 1):  # never an empty line: wrap by characters
        wrapped = original if count == 1 else "\n".join(textwrap.wrap(original, math.ceil(len(original) / count)))
        text.set_text(wrapped)
        for candidate in (size, size * 0.85, size * 0.72):
            text.set_fontsize(max(candidate, SMALLEST_TEXT))
            if fits():
                return
    size = float(text.get_fontsize())
    while not fits() and size > 3:
        size *= 0.9
        text.set_fontsize(size)


def _title(axes: Axes, widget: Mapping[str, Any], renderer: RendererBase) -> None:
    """The title in the band above the axes, from the cell's left edge, at most the cell's width (in pixels: a
    plain text; Axes.set_title re-measures every axes to place it, which is slow)."""
    figure = axes.get_figure()
    assert isinstance(figure, Figure)
    left, _, right, top = cell_pixels(widget, figure)
    gap = GAP_INCHES * DPI
    band = TITLE_INCHES * DPI - 8  # the top tick label of a graph reaches a few pixels above its axes
    text = axes.text(left + gap, top - 2, widget["properties"].get("title", ""), transform=None, va="top")
    text.set_fontsize(TITLE_SIZE)
    fit_text(text, right - left - 2 * gap, renderer, height=band)


def number_text(value: float) -> str:
    """A tile's number as people read it: 88,040 not 8.804e+04; 1.2M; 5.609; 0.00012; never e-notation."""
    size = abs(value)
    if size >= 1e6:
        return compact(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 0.001 or value == 0:
        return f"{value:.4g}"
    return f"{value:.7f}".rstrip("0")


def compact(value: float) -> str:
    """1200000 → 1.2M: short tick labels and notes, never e-notation."""
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return number_text(value) if 0 < abs(value) < 0.001 else f"{value:.3g}"


# --- graphs ----------------------------------------------------------------------------------------------


def _date_number(timestamp: float) -> float:
    return float(date2num(datetime.fromtimestamp(timestamp, UTC)))


def _times(series: Mapping[int, Any]) -> list[float]:
    """Matplotlib's date numbers of the period starts."""
    return [_date_number(timestamp) for timestamp in sorted(series)]


def time_ticks(start: float, end: float, width_pixels: float) -> tuple[list[float], str]:
    """Tick times on a round step, as many as fit in `width_pixels`, each label whole inside the axis and a label's
    width from the next, and their label format: minutes when every tick is on a whole minute."""
    for step in TICK_STEPS:
        style = "%H:%M" if step % 60 == 0 else "%H:%M:%S"
        label = TICK_LABEL_PIXELS[style]
        margin = label / 2 * (end - start) / max(width_pixels, 1.0)  # half a label, in seconds
        first = math.ceil((start + margin) / step) * step
        ticks = [float(t) for t in range(int(first), int(end - margin) + 1, step)]
        apart = step * width_pixels / max(end - start, 1.0)  # pixels between two ticks
        if apart >= label and len(ticks) * label <= width_pixels:
            return ticks, style
    return [], "%H:%M"


def _set_time_axis(axes: Axes, window: Window, renderer: RendererBase) -> None:
    axes.set_xlim(_date_number(window.start), _date_number(window.end))
    ticks, style = time_ticks(window.start, window.end, axes.get_window_extent(renderer).width)
    axes.set_xticks([_date_number(t) for t in ticks])
    axes.set_xticklabels([datetime.fromtimestamp(t, UTC).strftime(style) for t in ticks])


def axis_units(properties: Mapping[str, Any]) -> dict[str, str]:
    """Each y axis a graph draws and its unit, the body's label (CloudWatch's unit name): the left always ("Count"
    unless labelled), the right when the body labels one."""
    axes = properties.get("yAxis") or {}
    units = {"left": str((axes.get("left") or {}).get("label") or "Count")}
    right = (axes.get("right") or {}).get("label")
    if right:
        units["right"] = str(right)
    return units


def y_axes(axes: Axes) -> list[Axes]:
    """The axes drawn in a graph's cell: the left one (`axes`) and its right twin, if any."""
    return [axes, *(sibling for sibling in axes.get_shared_x_axes().get_siblings(axes) if sibling is not axes)]


def _side(options: Mapping[str, Any], plots: Mapping[str, Axes]) -> str:
    """The y axis a series or a line is drawn against: the right when the body says so and labels a right axis,
    else the left (CloudWatch's default)."""
    return "right" if options.get("yAxis") == "right" and "right" in plots else "left"


def _draw_metric(
    axes: Axes, properties: Mapping[str, Any], values: WidgetData, window: Window, renderer: RendererBase
) -> None:
    shown = [e for e in entries(properties) if e["options"].get("visible", True)]
    if properties.get("view") == "singleValue":
        _draw_single_values(axes, properties, shown, values, renderer)
        return
    units = axis_units(properties)
    plots = {"left": axes}
    if "right" in units:
        plots["right"] = axes.twinx()
        # the left axes, which holds the legend, is drawn over the right one's lines (the figure is white beneath)
        axes.set_zorder(plots["right"].get_zorder() + 1)
        axes.patch.set_visible(False)
    data_max = dict.fromkeys(plots, 0.0)
    for index, entry in enumerate(shown):
        side = _side(entry["options"], plots)
        plot = plots[side]
        label = entry["options"].get("label", entry["id"])
        series = values.get(entry["id"], {})
        if isinstance(series, Band):
            bounds = series.bounds
            lows = [bounds[t][0] for t in sorted(bounds)]
            highs = [bounds[t][1] for t in sorted(bounds)]
            plot.fill_between(_times(bounds), lows, highs, color=entry["options"].get("color", "#95a5a6"), alpha=0.3)
            plot.plot([], [], color="#95a5a6", linewidth=6, alpha=0.3, label=label)
            data_max[side] = max([data_max[side], *highs])
        elif series:
            # a lone datapoint has no line to draw: it gets a marker
            marker = "o" if len(series) == 1 else None
            color = SERIES_COLORS[index % len(SERIES_COLORS)]
            times, points = _times(series), [series[t] for t in sorted(series)]
            plot.plot(times, points, linewidth=1.2, marker=marker, color=color, label=label)
            data_max[side] = max([data_max[side], *series.values()])
    lines = (properties.get("annotations") or {}).get("horizontal", [])
    for side, plot in plots.items():
        _draw_scale(plot, [line for line in lines if _side(line, plots) == side], data_max[side], units[side])
    _set_time_axis(axes, window, renderer)
    if not any(values.get(entry["id"]) for entry in shown):
        axes.text(0.5, 0.5, "no data", transform=axes.transAxes, ha="center", va="center", color="#7f7f7f")
    # one legend for both axes' series and lines
    handles, labels = [], []
    for plot in plots.values():
        more_handles, more_labels = plot.get_legend_handles_labels()
        handles += more_handles
        labels += more_labels
    if handles:
        legend = axes.legend(handles, labels, fontsize=6, loc="upper left", framealpha=0.6)
        for text in legend.get_texts():
            fit_text(text, axes.get_window_extent(renderer).width - 30, renderer, lines=1)


def _draw_scale(plot: Axes, lines: Sequence[Mapping[str, Any]], data_max: float, unit: str) -> None:
    """One y axis: its scale from zero over its data and its lowest threshold, its thresholds (one too far above the
    data to draw goes to the legend, "off scale"), its tick labels and its unit."""
    lowest = min((line["value"] for line in lines if line["value"] > 0), default=0.0)
    top = max(data_max, lowest, 1.0) * OFF_SCALE_FACTOR
    for line in lines:
        color = line.get("color", "#d62728")
        if line["value"] <= top:
            plot.axhline(line["value"], color=color, linestyle="--", linewidth=1)
            plot.plot([], [], color=color, linestyle="--", label=line["label"])
        else:  # listed in the legend, inside the tile, with an arrow for "above"
            plot.plot([], [], color=color, linestyle="none", marker="^", label=f"off scale: {_off_scale(line)}")
    plot.set_ylim(bottom=0, top=top)
    plot.yaxis.set_major_locator(MaxNLocator(nbins=4))
    plot.yaxis.set_major_formatter(FuncFormatter(lambda value, _: compact(value)))
    plot.tick_params(labelsize=7)
    plot.set_ylabel(unit, fontsize=7, labelpad=2)


def _off_scale(line: Mapping[str, Any]) -> str:
    return f"{line['label']}: {compact(line['value'])}"


def _draw_single_values(
    axes: Axes,
    properties: Mapping[str, Any],
    shown: Sequence[Mapping[str, Any]],
    values: WidgetData,
    renderer: RendererBase,
) -> None:
    """The numbers side by side, each above its label, each in its own column of the tile."""
    axes.set_axis_off()
    columns = max(len(shown), 1)
    column_width = axes.get_window_extent(renderer).width / columns
    for position, entry in enumerate(shown):
        value = tile_value(properties, entry, values.get(entry["id"], {}))
        x = (position + 0.5) / columns
        number = axes.text(x, 0.55, "—" if value is None else number_text(value), transform=axes.transAxes, ha="center")
        number.set(va="bottom", fontsize=22 if columns == 1 else 18, weight="bold")
        fit_text(number, column_width - 8, renderer, lines=1)
        label = entry["options"].get("label", entry["id"])
        caption = axes.text(x, 0.5, label, transform=axes.transAxes, ha="center", va="top", color="#555555")
        caption.set_fontsize(7)
        fit_text(caption, column_width - 8, renderer, lines=3)


def _draw_alarms(axes: Axes, properties: Mapping[str, Any], states: Mapping[str, str]) -> None:
    axes.set_axis_off()
    names = [arn.rsplit(":alarm:", 1)[-1] for arn in properties.get("alarms", [])]
    columns = 3
    per_column = max(1, math.ceil(len(names) / columns))
    for index, name in enumerate(names):
        state = states.get(name, "evaluated locally")
        column, row = divmod(index, per_column)
        x, y = column / columns, 1 - (row + 1) / (per_column + 1)
        axes.text(x, y, "●", transform=axes.transAxes, color=STATE_COLORS.get(state, "#1f77b4"), fontsize=9)
        axes.text(x + 0.015, y, f"{name}  {state}", transform=axes.transAxes, fontsize=7, va="bottom")


def _draw_log_query(axes: Axes, properties: Mapping[str, Any]) -> None:
    """A Logs Insights table cannot be read from the local stack: say so, where to look instead, and the query."""
    axes.set_axis_off()
    axes.text(0.0, 1.0, LOG_QUERY_NOTE, transform=axes.transAxes, va="top", fontsize=7, color="#555555", wrap=True)
    query = str(properties.get("query", ""))
    axes.text(0.0, 0.8, query, transform=axes.transAxes, va="top", fontsize=6, family="monospace")


def _draw_producers(axes: Axes, producers: Mapping[str, Any]) -> None:
    """The local gateway's requests per producer as a table, the note on AWS's Logs Insights one line under it."""
    axes.set_axis_off()
    rows = [[_cell_text(row[column]) for column in PRODUCER_COLUMNS] for row in producers["rows"]]
    if producers.get("unknown_refused"):
        rows.append(["(no known key)", "-", "-", "0", "0", "0", str(producers["unknown_refused"])])
    if rows:
        table = axes.table(cellText=rows, colLabels=list(PRODUCER_HEADERS), loc="upper left", cellLoc="left")
        table.auto_set_font_size(False)
        table.set_fontsize(7)
    else:
        axes.text(0.0, 1.0, "no keys yet", transform=axes.transAxes, va="top", fontsize=7)
    axes.text(0.0, 0.0, _plain(PRODUCER_NOTE), transform=axes.transAxes, va="bottom", fontsize=6, color="#555555")


def _cell_text(value: Any) -> str:
    return "yes" if value is True else "no" if value is False else str(value)


def _plain(markdown: str) -> str:
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", markdown)
    return re.sub(r"\*\*([^*]+)\*\*|^#+\s*", r"\1", text, flags=re.MULTILINE)


def _draw_text(axes: Axes, markdown: str) -> None:
    axes.set_axis_off()
    if markdown.lstrip().startswith("#") and len(markdown.splitlines()) == 1:  # a stage header
        axes.text(0.0, 0.5, _plain(markdown), transform=axes.transAxes, va="center", fontsize=11, weight="bold")
    else:
        axes.text(0.0, 1.0, _plain(markdown), transform=axes.transAxes, va="top", fontsize=7)
