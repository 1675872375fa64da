"""Render a CloudWatch dashboard body with data from the local CloudWatch: a PNG and a self-contained HTML page.

`render_dashboard(body, cloudwatch, out_dir, now)` draws the same widgets at the same grid positions:
metric graphs (GetMetricData through the alarm evaluator's reader, the same metric math, percentiles read
as the evaluator reads them), anomaly bands, alarm thresholds as horizontal lines (a line far above the
data is listed as off scale instead of flattening the graph), single values, alarm states and text (drawn by
`local.console.dashboard_figure`); the PNG ends where the last widget's content does. The
HTML page inlines the PNG, the text widgets and the runbook itself, so its runbook links are anchors of the
page: it works offline and on any machine. The data and the time window come from `local.console.dashboard_data`,
shared with the live console.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.client import BaseClient
from PIL import Image

from local.console.dashboard_data import (
    Window,
    alarm_states,
    fetch,
    fit_window,
    range_seconds,
    shown_in,
    smallest_period,
)
from local.console.dashboard_figure import DPI, STATE_COLORS, Drawing, content_bottom_inches, draw_widgets
from local.console.markdown_page import markdown_to_html, runbook_anchor_link, runbook_html

# the static page inlines the runbook: its links are anchors of the page itself
PAGE_LINKS = runbook_anchor_link("")


def draw_dashboard(
    dashboard_body: Mapping[str, Any],
    cloudwatch: BaseClient,
    now: datetime,
    since: float | None = None,
    evaluated: Mapping[str, str] | None = None,
    producers: Mapping[str, Any] | None = None,
) -> tuple[Drawing, Window, dict[str, str]]:
    """The dashboard drawn with data from the local CloudWatch, the time window it shows and the alarm states.
    `producers`: the local gateway's counts per key (GET /producers), drawn as the "Who is sending?" table."""
    widgets = list(dashboard_body["widgets"])
    end = now.timestamp()
    longest = range_seconds(dashboard_body.get("start", ""))
    fetched = fetch(widgets, cloudwatch, end - longest, end)
    window = fit_window(widgets, fetched, end, longest, smallest_period(widgets), since)
    data = [shown_in(widget, values, window) for widget, values in zip(widgets, fetched, strict=True)]
    states = {**alarm_states(widgets, cloudwatch), **(evaluated or {})}
    return draw_widgets(widgets, data, window, states, producers), window, states


def save_png(drawing: Drawing, png: Path) -> None:
    """The figure as a PNG that ends where its content does (a text widget's cell is taller than its text here)."""
    drawing.figure.savefig(png, dpi=DPI)
    bottom = round(content_bottom_inches(drawing) * DPI)
    if bottom > 0:
        with Image.open(png) as image:
            cropped = image.crop((0, 0, image.width, image.height - bottom))
        cropped.save(png)


def render_dashboard(
    dashboard_body: Mapping[str, Any],
    cloudwatch: BaseClient,
    out_dir: Path,
    now: datetime,
    name: str = "dashboard",
    since: float | None = None,
    evaluated: Mapping[str, str] | None = None,
    producers: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write `<name>.png` and `<name>.html` into `out_dir`; returns their paths. The time axis starts at
    `since` (the stack's start) or at the first datapoint, within the dashboard's range. `evaluated`: the
    local evaluator's states, composites included (moto holds none for a composite)."""
    drawing, window, states = draw_dashboard(dashboard_body, cloudwatch, now, since, evaluated, producers)
    widgets = list(dashboard_body["widgets"])
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    save_png(drawing, png)
    page = out_dir / f"{name}.html"
    page.write_text(_html(name, png, widgets, states, now, window), encoding="utf-8")
    return png, page


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
    producers: Mapping[str, Any] | None = None,
) -> list[tuple[Path, Path]]:
    """Render every dashboard of the deployed stack, as stored in the local CloudWatch, from `since`."""
    rendered = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Dashboard":
            continue
        name = resource["Properties"]["DashboardName"]
        body = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
        rendered.append(render_dashboard(body, cloudwatch, out_dir, now, name, since, evaluated, producers))
    return rendered
