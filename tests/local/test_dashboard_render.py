"""The local dashboard renderer: the operations dashboard of the local template, drawn from moto's CloudWatch
to a PNG and an HTML page — and the page checked as a person would, in a headless browser."""

from __future__ import annotations

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
import pytest
from moto import mock_aws
from PIL import Image

from alarms.definitions import definitions_from_template
from alarms.table import alarm_definitions, composite_definitions
from cloudformation.config import Config, load_config
from cloudformation.synth import full_template
from dashboards.catalog import RECONCILIATION_PERIODS, build_catalog
from dashboards.layout import RANGE_PERIODS
from local.alarm_evaluator import AlarmEvaluator
from local.dashboard_data import MIN_WINDOW_PERIODS, Window
from local.dashboard_render import _draw_metric, render_dashboard
from local.markdown_page import markdown_to_html, runbook_anchor_link
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
        topics = {name: sns.create_topic(Name=config.resource_name(name))["TopicArn"] for name in ("high", "low")}
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
    yield Rendered(config, png, html, summary_png, end)


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
    from matplotlib.figure import Figure

    axes = Figure().add_subplot()
    properties = {
        "title": "archived",
        "metrics": [["Sluice/local", "EventsArchived", {"id": "m", "label": "archived"}]],
    }
    # WHEN it is drawn
    _draw_metric(axes, properties, {"m": {1000: 20.0}}, Window(900.0, 1100.0))
    # THEN the point has a marker: a line through one point draws nothing
    (line,) = [line for line in axes.get_lines() if len(line.get_xdata()) == 1]
    assert line.get_marker() not in (None, "None", "", " ")
