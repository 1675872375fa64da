"""The local dashboard renderer: the operations dashboard of the local template, drawn from moto's CloudWatch
to a PNG and an HTML page — and the page checked as a person would, in a headless browser."""

from __future__ import annotations

import itertools
import json
import random
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import numpy
import pytest
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from moto import mock_aws
from PIL import Image

from alarms.definitions import definitions_from_template
from alarms.table import alarm_definitions, composite_definitions
from core.config import Config, load_config
from dashboards.catalog import RECONCILIATION_PERIODS, build_catalog
from dashboards.layout import GRAPH_HEIGHT, QUARTER_WIDTH, RANGE_PERIODS
from local.console.dashboard_data import MIN_WINDOW_PERIODS, Window
from local.console.dashboard_figure import (
    DPI,
    TICK_LABEL_PIXELS,
    Drawing,
    _draw_metric,
    cell_pixels,
    draw_widgets,
    number_text,
    time_ticks,
    y_axes,
)
from local.console.dashboard_render import draw_dashboard, render_dashboard
from local.console.markdown_page import markdown_to_html, runbook_anchor_link
from local.services.alarm_evaluator import AlarmEvaluator
from synth.synthesize import full_template
from tests.local.console.chromium import HEADLESS_FLAGS

CHROMIUM = Path("/usr/bin/chromium")
REGION = "us-east-1"
PSEUDO = {"${AWS::Region}": REGION, "${AWS::AccountId}": "123456789012", "${AWS::Partition}": "aws"}
PERIODS = 40


@dataclass(frozen=True)
class Rendered:
    config: Config
    png: Path
    html: Path
    summary_png: Path
    end: int
    drawings: dict[str, Drawing]


def dashboard_body(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    text = template["Resources"][logical_id]["Properties"]["DashboardBody"]["Fn::Sub"]
    for placeholder, value in PSEUDO.items():
        text = text.replace(placeholder, value)
    return json.loads(text)


def publish_traffic(cloudwatch: Any, config: Config, end: int) -> None:
    """Steady traffic for every catalog metric, then a burst of 5XX and a message in the DLQ."""
    period = config.monitoring.period_seconds
    steady = {"Count": 100, "EventsAccepted": 300, "NumberOfMessagesSent": 300, "NumberOfMessagesDeleted": 290}
    steady |= {"EventsStored": 300, "Invocations": 80, "Latency": 120, "Duration": 300, "ConcurrentExecutions": 3}
    noise = random.Random(5)
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for metric in build_catalog(config).metrics():
        if metric.period != period:
            continue
        for step in range(PERIODS, 0, -1):
            value = steady.get(metric.name, 0) * (1 + 0.1 * noise.random())
            if metric.name == "5XXError" and step <= 3:
                value = 10.0
            if metric.id == "dlq_visible" and step <= 3:
                value = 2.0
            by_namespace.setdefault(metric.namespace, []).append(
                {
                    "MetricName": metric.name,
                    "Dimensions": [{"Name": name, "Value": value} for name, value in metric.dimensions],
                    "Timestamp": datetime.fromtimestamp(end - step * period, UTC),
                    "Value": value,
                }
            )
    for namespace, data in by_namespace.items():
        for offset in range(0, len(data), 1000):
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[offset : offset + 1000])


# One worker renders the dashboards once (about 30 s): spread over the workers, each would render them again.
pytestmark = pytest.mark.xdist_group("dashboard-render")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    # GIVEN the local stack's alarms in moto, evaluated once over steady traffic with a 5XX burst
    config = load_config("local")
    template = full_template(config).to_dict()
    out = tmp_path_factory.mktemp("render")
    end = (int(datetime.now(UTC).timestamp()) // 60) * 60
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        topics = {
            name: sns.create_topic(Name=config.resource_name(name))["TopicArn"] for name in ("high", "low", "notify")
        }
        definitions = definitions_from_template(
            template, lambda node: topics[node["Ref"].removesuffix("Topic").lower()]
        )
        for alarm in definitions.alarms:
            cloudwatch.put_metric_alarm(**{key: value for key, value in alarm.items() if key != "Tags"})
        publish_traffic(cloudwatch, config, end)
        evaluator = AlarmEvaluator(
            cloudwatch,
            sns,
            definitions.alarms,
            definitions.composites,
            out / "notifications.log",
            clock=lambda: end + 1,
        )
        evaluator.evaluate_once()
        # WHEN both dashboards are rendered
        now = datetime.fromtimestamp(end + 1, UTC)
        png, html = render_dashboard(
            dashboard_body(template, "OperationsDashboard"),
            cloudwatch,
            out,
            now,
            "operations",
            evaluated=evaluator.states(),
        )
        summary_png, _ = render_dashboard(dashboard_body(template, "SummaryDashboard"), cloudwatch, out, now, "summary")
        # (and drawn once more, to look at the figures' text)
        drawings = {
            logical_id: draw_dashboard(dashboard_body(template, logical_id), cloudwatch, now)[0]
            for logical_id in ("OperationsDashboard", "SummaryDashboard")
        }
    yield Rendered(config, png, html, summary_png, end, drawings)


def colours(path: Path) -> set[tuple[int, int, int]]:
    image = Image.open(path).convert("RGB")
    return {colour for _, colour in image.getcolors(maxcolors=image.width * image.height)}


def test_png_mirrors_the_grid_and_is_not_blank(rendered):
    # THEN the PNG is as wide as the 24-column grid and drawn in many colours, the red of alarm lines included
    image = Image.open(rendered.png)
    assert image.width == 1344 and image.height > image.width
    palette = colours(rendered.png)
    assert len(palette) > 50
    assert any(r > 180 and g < 90 and b < 90 for r, g, b in palette)
    assert rendered.summary_png.stat().st_size > 20_000


def test_html_inlines_the_image_and_links_every_alarm_to_its_runbook_section(rendered):
    config = rendered.config
    page = rendered.html.read_text(encoding="utf-8")
    # THEN the page is self-contained
    assert 'src="data:image/png;base64,' in page and "<script" not in page
    # AND every alarm links to its runbook section, inlined in the page: no file:// path of this machine
    catalog = build_catalog(config)
    definitions = [*alarm_definitions(config, catalog), *composite_definitions(config)]
    links = re.findall(r'<a href="#([\w-]+)">([\w-]+)</a>', page)
    assert {name: anchor for anchor, name in links} == {d.name: d.runbook.split("#")[1] for d in definitions}
    assert all(f'id="{d.runbook.split("#")[1]}"' in page for d in definitions)
    assert "file://" not in page
    # AND the graphs start with the data (the earliest bucket holding the first datapoint among the periods that
    # fit six times in the 30-minute range — the reconciliation's 150 s, the burn-rate minute — less one period),
    # not 30 minutes before now
    period = config.monitoring.period_seconds
    first_data = rendered.end - PERIODS * period
    shown = RANGE_PERIODS * period
    periods = {metric.period for metric in catalog.metrics() if metric.period * MIN_WINDOW_PERIODS <= shown}
    assert period * RECONCILIATION_PERIODS in periods
    start = datetime.fromtimestamp(min(first_data // p * p for p in periods) - period, UTC)
    assert f"the graphs show {start:%H:%M:%S} to " in page
    # AND the alarm states the evaluator set are listed
    assert f"{config.resource_name('api-5xx-rate-high')}: ALARM" in page
    assert f"{config.resource_name('dlq-visible-high')}: ALARM" in page
    # AND so is the composite's, which only the local evaluator holds
    assert f"{config.resource_name('ingestion-at-risk-high')}: ALARM" in page


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs the Debian package chromium (/usr/bin/chromium)")
def test_a_browser_shows_the_page(rendered, tmp_path):
    # WHEN headless Chromium opens the page and takes a screenshot
    shot = tmp_path / "screenshot.png"
    command = [
        str(CHROMIUM),
        *HEADLESS_FLAGS,
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1600,1200",
        rendered.html.as_uri(),
    ]
    subprocess.run(command, capture_output=True, timeout=120, check=False)
    # THEN the screenshot shows a page with content, not a blank or single-colour window
    assert shot.exists(), "chromium wrote no screenshot"
    assert shot.stat().st_size > 30_000
    assert len(colours(shot)) > 50


def test_markdown_of_text_widgets():
    markdown = (
        "## Runbook\nIntro with **bold**.\n\n- **high** [a-b](docs/runbook.md#a-b): x < y\n- [ext](https://example.org)"
    )
    page = markdown_to_html(markdown, runbook_anchor_link("/runbook"))
    assert page.startswith('<h2 id="runbook">Runbook</h2>\n<p>Intro with <strong>bold</strong>.</p>\n<ul>')
    assert '<a href="/runbook#a-b">a-b</a>: x &lt; y</li>' in page
    assert '<a href="https://example.org">ext</a>' in page
    assert page.endswith("</ul>")


def test_a_lone_datapoint_is_drawn():
    # GIVEN a graph whose series has one datapoint (20 events archived once, a minute ago)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure()
    axes = figure.add_subplot()
    properties = {
        "title": "archived",
        "metrics": [["Sluice/local", "EventsArchived", {"id": "m", "label": "archived"}]],
    }
    # WHEN it is drawn
    _draw_metric(axes, properties, {"m": {1000: 20.0}}, Window(900.0, 1100.0), FigureCanvasAgg(figure).get_renderer())
    # THEN the point has a marker: a line through one point draws nothing
    (line,) = [line for line in axes.get_lines() if len(line.get_xdata()) == 1]
    assert line.get_marker() not in (None, "None", "", " ")


# --- what a person reads: every text inside its tile, none over another, units, numbers, ticks --------------


def extent(artist: Any, renderer: Any) -> Bbox:
    return artist.get_window_extent(renderer)


def tile_texts(axes: Any) -> list[Text]:
    """The texts drawn in a widget's cell: titles, numbers and labels, tick labels, each y axis' unit and tick
    labels (a graph of two units has a right axis too), the legend's."""
    texts = list(axes.texts)
    if axes.axison:  # the tick labels drawn: those inside the axis' limits
        low, high = axes.get_xlim()
        texts += [label for label in axes.get_xticklabels() if low <= label.get_position()[0] <= high]
        for y_axis in y_axes(axes):
            low, high = y_axis.get_ylim()
            texts += [label for label in y_axis.get_yticklabels() if low <= label.get_position()[1] <= high]
            texts.append(y_axis.yaxis.label)
    legend = axes.get_legend()
    if legend is not None:
        texts += legend.get_texts()
    return [text for text in texts if text.get_visible() and text.get_text().strip()]


def overlapping(boxes: list[tuple[str, Bbox]]) -> list[tuple[str, str]]:
    return [
        (first, second)
        for index, (first, box) in enumerate(boxes)
        for second, other in boxes[index + 1 :]
        if box.overlaps(other) and box.width and other.width
    ]


@pytest.mark.parametrize("logical_id", ["OperationsDashboard", "SummaryDashboard"])
def test_every_text_stays_in_its_tile_and_none_is_drawn_over_another(rendered, logical_id):
    drawing = rendered.drawings[logical_id]
    drawing.figure.canvas.draw()
    renderer = drawing.figure.canvas.get_renderer()
    for widget, axes in drawing.cells:
        left, bottom, right, top = cell_pixels(widget, drawing.figure)
        texts = tile_texts(axes)
        # THEN every title, number, label, tick label, unit and off-scale note lies inside the widget's cell
        for text in texts:
            box = extent(text, renderer)
            inside = box.x0 >= left - 1 and box.x1 <= right + 1 and box.y0 >= bottom - 1 and box.y1 <= top + 1
            assert inside, (widget["properties"].get("title"), text.get_text(), box.bounds, (left, bottom, right, top))
        # AND no two of them overlap (a number over its label, a note over the legend, a tick over the unit)
        legend = axes.get_legend()
        legend_texts = set(legend.get_texts()) if legend is not None else set()
        boxes = [(text.get_text(), extent(text, renderer)) for text in texts if text not in legend_texts]
        if legend is not None:
            boxes.append(("the legend", extent(legend, renderer)))
        boxes = [(name, box) for name, box in boxes if name != "no data"]  # drawn in the empty plot, under the legend
        assert overlapping(boxes) == [], widget["properties"].get("title")


@pytest.mark.parametrize("logical_id", ["OperationsDashboard", "SummaryDashboard"])
def test_every_graph_names_its_unit_and_no_number_is_in_e_notation(rendered, logical_id):
    drawing = rendered.drawings[logical_id]
    for widget, axes in drawing.cells:
        properties = widget["properties"]
        # THEN every graph's y axes say what they count or measure: the left, and the right of a two-unit graph
        if widget["type"] == "metric" and properties.get("view") != "singleValue":
            drawn = [y_axis.yaxis.label.get_text() for y_axis in y_axes(axes)]
            assert drawn == [axis["label"] for axis in properties["yAxis"].values()], properties["title"]
        # AND no text is written in e-notation (8.804e+04 ms)
        for text in tile_texts(axes):
            assert not re.search(r"\de[+-]?\d", text.get_text()), (properties.get("title"), text.get_text())


def test_numbers_read_as_people_write_them():
    # WHEN numbers of every size are written for a tile
    # THEN none uses e-notation: thousands get separators, millions a suffix, small ones their digits
    assert number_text(88040.0) == "88,040"
    assert number_text(12559.0) == "12,559"
    assert number_text(3_400_000.0) == "3.4M"
    assert number_text(127.84) == "127.8"
    assert number_text(0.00012) == "0.00012"
    assert number_text(0.0) == "0"


def test_the_png_ends_with_its_content(rendered):
    # THEN below the last widget's text (the runbook) the PNG has no band of blank rows
    pixels = numpy.asarray(Image.open(rendered.png).convert("L"))
    drawn = numpy.nonzero(pixels.min(axis=1) < 200)[0]
    assert len(pixels) - drawn[-1] < 20, f"{len(pixels) - drawn[-1]} blank rows at the bottom"


def test_a_five_minute_window_has_ticks_on_whole_minutes_that_do_not_touch():
    # GIVEN a quarter-width graph over the last 5 minutes, its data every 10 s
    end = 1_800_000_000.0
    widget = {
        "type": "metric",
        "x": 0,
        "y": 0,
        "width": QUARTER_WIDTH,
        "height": GRAPH_HEIGHT,
        "properties": {
            "title": "Are events accepted?",
            "view": "timeSeries",
            "yAxis": {"left": {"label": "Count"}},
            "metrics": [["Sluice/local", "EventsAccepted", {"id": "m", "label": "accepted", "period": 10}]],
        },
    }
    data = [{"m": {int(end) - 300 + 10 * step: 5.0 for step in range(30)}}]
    # WHEN it is drawn
    drawing = draw_widgets([widget], data, Window(end - 300, end), {})
    drawing.figure.canvas.draw()
    renderer = drawing.figure.canvas.get_renderer()
    ((_, axes),) = drawing.cells
    labels = [label for label in axes.get_xticklabels() if label.get_text()]
    # THEN at least three ticks, on whole minutes (HH:MM), each label distinct, none touching the next
    assert len(labels) >= 3
    assert all(re.fullmatch(r"\d\d:\d\d", label.get_text()) for label in labels)
    assert len({label.get_text() for label in labels}) == len(labels)
    assert overlapping([(label.get_text(), extent(label, renderer).padded(2)) for label in labels]) == []
    # AND the image is as tall as the widget: nothing to crop
    assert drawing.figure.get_figheight() * DPI == GRAPH_HEIGHT * 0.42 * DPI


def test_a_graph_of_two_units_labels_both_axes_each_with_its_own_scale():
    # GIVEN a half-width graph of counts (thousands) and a share (a few percent) with a threshold on the share
    end = 1_800_000_000.0
    widget = {
        "type": "metric",
        "x": 0,
        "y": 0,
        "width": QUARTER_WIDTH * 2,
        "height": GRAPH_HEIGHT,
        "properties": {
            "title": "What share of the records fails?",
            "view": "timeSeries",
            "yAxis": {"left": {"label": "Count"}, "right": {"label": "Percent"}},
            "annotations": {"horizontal": [{"label": "share-high (high)", "value": 5, "yAxis": "right"}]},
            "metrics": [
                ["Sluice/local", "Records", {"id": "records", "label": "records", "period": 10}],
                [{"expression": "100 * failed / records", "id": "share", "label": "failed %", "yAxis": "right"}],
            ],
        },
    }
    times = [int(end) - 300 + 10 * step for step in range(30)]
    data = [{"records": dict.fromkeys(times, 4000.0), "share": dict.fromkeys(times, 2.0)}]
    # WHEN it is drawn
    drawing = draw_widgets([widget], data, Window(end - 300, end), {})
    drawing.figure.canvas.draw()
    renderer = drawing.figure.canvas.get_renderer()
    ((_, axes),) = drawing.cells
    left, right = y_axes(axes)
    # THEN the left axis is labelled Count and the right one Percent, each beside its own tick labels
    assert (left.yaxis.label.get_text(), right.yaxis.label.get_text()) == ("Count", "Percent")
    assert extent(right.yaxis.label, renderer).x0 > extent(axes, renderer).x1
    assert [label.get_text() for label in right.get_yticklabels() if label.get_text()]
    # AND each axis is scaled to its own series and lines: the share is not flattened under the counts
    assert left.get_ylim()[1] >= 4000 > right.get_ylim()[1] >= 5
    (share,) = [line for line in right.get_lines() if len(line.get_ydata()) == len(times)]
    assert list(share.get_ydata()) == [2.0] * len(times)
    thresholds = [line for line in right.get_lines() if line.get_linestyle() == "--" and len(line.get_ydata())]
    assert [list(line.get_ydata()) for line in thresholds] == [[5, 5]]
    # AND every text stays in the tile, none over another
    cell_left, cell_bottom, cell_right, cell_top = cell_pixels(widget, drawing.figure)
    texts = tile_texts(axes)
    for text in texts:
        box = extent(text, renderer)
        assert cell_left - 1 <= box.x0 and box.x1 <= cell_right + 1, text.get_text()
        assert cell_bottom - 1 <= box.y0 and box.y1 <= cell_top + 1, text.get_text()
    legend = axes.get_legend()
    boxes = [(t.get_text(), extent(t, renderer)) for t in texts if t not in set(legend.get_texts())]
    assert overlapping([*boxes, ("the legend", extent(legend, renderer))]) == []
    # AND the legend names the series of both axes and the threshold
    assert [t.get_text() for t in legend.get_texts()] == ["records", "failed %", "share-high (high)"]


@pytest.mark.parametrize("width", [90.0, 120.0, 160.0, 240.0, 400.0])
def test_time_ticks_are_a_label_apart_however_narrow_the_graph(width):
    # GIVEN 5 minutes over a graph `width` pixels wide (a right axis takes room from a narrow graph)
    start, end = 1_800_000_000.0, 1_800_000_300.0
    # WHEN its time ticks are chosen
    ticks, style = time_ticks(start, end, width)
    # THEN consecutive labels are at least a label's width apart, so none touches the next
    pixels = [(tick - start) * width / (end - start) for tick in ticks]
    assert all(later - earlier >= TICK_LABEL_PIXELS[style] for earlier, later in itertools.pairwise(pixels))
