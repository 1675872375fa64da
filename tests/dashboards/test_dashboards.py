"""The operations and summary dashboards: built from the catalog, valid for CloudWatch, linked to the runbook."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from alarms.table import alarm_definitions, composite_definitions
from cloudformation.config import environment_names, load_config
from cloudformation.synth import full_template
from dashboards.catalog import Expression, build_catalog
from dashboards.layout import FULL_WIDTH
from dashboards.metric_math import referenced_ids

ROOT = Path(__file__).resolve().parents[2]
PSEUDO = {"${AWS::Region}": "us-east-1", "${AWS::AccountId}": "123456789012", "${AWS::Partition}": "aws"}


def dashboard_bodies(env: str) -> dict[str, str]:
    """DashboardName -> the body with Fn::Sub's pseudo parameters filled in."""
    resources = full_template(load_config(env)).to_dict()["Resources"]
    bodies = {}
    for body in resources.values():
        if body["Type"] == "AWS::CloudWatch::Dashboard":
            text = body["Properties"]["DashboardBody"]["Fn::Sub"]
            for placeholder, value in PSEUDO.items():
                text = text.replace(placeholder, value)
            assert "${" not in text
            bodies[body["Properties"]["DashboardName"]] = text
    return bodies


def operations(env: str) -> dict[str, Any]:
    return json.loads(dashboard_bodies(env)[load_config(env).resource_name("operations")])


def metric_widgets(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [widget for widget in body["widgets"] if widget["type"] == "metric"]


def entry_ids(widget: dict[str, Any]) -> set[str]:
    return {entry[-1]["id"] for entry in widget["properties"]["metrics"]}


@pytest.mark.parametrize("env", environment_names())
def test_every_catalog_signal_is_on_the_operations_dashboard(env):
    # GIVEN the catalog and the operations dashboard
    catalog = build_catalog(load_config(env))
    body = operations(env)
    # WHEN the ids of every graph's entries are collected
    shown = set().union(*(entry_ids(widget) for widget in metric_widgets(body)))
    # THEN every signal of the catalog appears, expressions and raw metrics alike
    assert set(catalog.signals) <= shown


@pytest.mark.parametrize("env", environment_names())
def test_widgets_reference_only_catalog_metrics(env):
    catalog = build_catalog(load_config(env))
    known = {(m.namespace, m.name, m.dimensions, m.stat, m.period): m.id for m in catalog.metrics()}
    expressions = {s.id: s.expression for s in catalog if isinstance(s, Expression)}
    for name, text in dashboard_bodies(env).items():
        for widget in metric_widgets(json.loads(text)):
            ids = entry_ids(widget)
            for entry in widget["properties"]["metrics"]:
                options = entry[-1]
                if "expression" in options:
                    band = re.fullmatch(r"ANOMALY_DETECTION_BAND\((\w+), [\d.]+\)", options["expression"])
                    # a catalog expression, or the band of an alarm around a catalog metric of the same graph
                    assert expressions.get(options["id"]) == options["expression"] or (band and band.group(1) in ids)
                    assert referenced_ids(options["expression"]) <= ids
                else:
                    namespace, metric, *flat = entry[:-1]
                    dimensions = tuple(zip(flat[::2], flat[1::2], strict=True))
                    key = (namespace, metric, dimensions, options["stat"], options["period"])
                    assert known.get(key) == options["id"], (name, widget["properties"]["title"], key)


@pytest.mark.parametrize("env", environment_names())
def test_layout_fits_the_grid_without_overlaps(env):
    for text in dashboard_bodies(env).values():
        cells: set[tuple[int, int]] = set()
        for widget in json.loads(text)["widgets"]:
            x, y, width, height = widget["x"], widget["y"], widget["width"], widget["height"]
            assert x >= 0 and x + width <= FULL_WIDTH and height >= 1
            covered = {(column, row) for column in range(x, x + width) for row in range(y, y + height)}
            assert not covered & cells, widget
            cells |= covered


def test_graphs_are_questions_in_pipeline_order_with_thresholds_drawn():
    config = load_config("prod")
    body = operations("prod")
    graphs = metric_widgets(body)
    assert all(widget["properties"]["title"].endswith("?") for widget in graphs)
    headers = [w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text" and w["height"] == 1]
    stages = ["API", "Ingest", "Queue", "Consumer", "Retries", "Table", "Dead letters and archive", "Notifications"]
    stages.append("Canary")
    stages.append("Error budget")  # the availability objective, after the pipeline
    assert [header.removeprefix("### ").split(":")[0] for header in headers] == stages
    # the queue-age graph carries both tiers' thresholds and the retention limit
    (age,) = [w for w in graphs if entry_ids(w) == {"queue_age"}]
    lines = {a["label"]: a["value"] for a in age["properties"]["annotations"]["horizontal"]}
    assert lines[f"{config.resource_name('queue-age-low')} (low)"] == config.visibility_timeout_seconds
    assert lines[f"{config.resource_name('queue-age-high')} (high)"] == config.retry_budget_seconds
    assert config.queue.retention_seconds in lines.values()
    # the request graph carries the anomaly band of its alarm
    (requests,) = [w for w in graphs if w["properties"]["title"] == "Are requests arriving as usual?"]
    assert any(
        "ANOMALY_DETECTION_BAND(client_requests" in e[-1].get("expression", "")
        for e in requests["properties"]["metrics"]
    )


def test_alarm_status_and_runbook_widgets_cover_every_alarm():
    config = load_config("prod")
    catalog = build_catalog(config)
    names = [d.name for d in composite_definitions(config)] + [d.name for d in alarm_definitions(config, catalog)]
    body = operations("prod")
    (status,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert [arn.rsplit(":alarm:", 1)[1] for arn in status["properties"]["alarms"]] == names
    assert all(
        arn.startswith("arn:aws:cloudwatch:us-east-1:123456789012:alarm:") for arn in status["properties"]["alarms"]
    )
    (runbook,) = [w for w in body["widgets"] if w["type"] == "text" and "Runbook" in w["properties"]["markdown"]]
    links = dict(re.findall(r"\[([\w-]+)\]\(docs/runbook\.md#([\w-]+)\)", runbook["properties"]["markdown"]))
    assert set(links) == set(names)
    sections = set(re.findall(r"^## (\S+)$", (ROOT / "docs" / "runbook.md").read_text(), flags=re.MULTILINE))
    assert set(links.values()) <= sections


def test_summary_dashboard_is_compact_and_shows_the_paging_alarms():
    config = load_config("prod")
    summary = json.loads(dashboard_bodies("prod")[config.resource_name("summary")])
    assert len(summary["widgets"]) <= 15
    # the first row answers "is the pipeline alive?" from the canary
    first = summary["widgets"][0]
    assert first["y"] == 0 and first["properties"]["title"].startswith("Is the pipeline alive?")
    assert {entry[-1]["id"] for entry in first["properties"]["metrics"] if isinstance(entry[-1], dict)} >= {
        "canary_success"
    }
    (status,) = [w for w in summary["widgets"] if w["type"] == "alarm"]
    assert all(arn.endswith("-high") for arn in status["properties"]["alarms"])
    assert sum(w["properties"].get("view") == "singleValue" for w in summary["widgets"]) >= 6


def test_number_tiles_carry_their_unit_and_counts_add_up_over_the_time_shown():
    # GIVEN the summary's number tiles (a number tile has no axis to name its unit)
    config = load_config("prod")
    catalog = build_catalog(config)
    summary = json.loads(dashboard_bodies("prod")[config.resource_name("summary")])
    tiles = [w["properties"] for w in summary["widgets"] if w["properties"].get("view") == "singleValue"]
    for tile in tiles:
        shown = [entry[-1] for entry in tile["metrics"] if entry[-1].get("visible", True)]
        signals = [catalog[entry["id"]] for entry in shown]
        for entry, signal in zip(shown, signals, strict=True):
            # THEN a tile of milliseconds, seconds or percent says so in its label: "Latency p99 (ms)"
            symbol = {"Milliseconds": "(ms)", "Seconds": "(s)", "Percent": "(%)"}.get(signal.unit)
            assert symbol is None or entry["label"].endswith(symbol), entry
        # AND a tile of counted events only shows the sum over the dashboard's time range, not the last period's
        summed = all(getattr(signal, "stat", None) == "Sum" and signal.unit == "Count" for signal in signals)
        assert tile.get("setPeriodToTimeRange", False) == summed, shown
    assert any("(ms)" in entry[-1]["label"] for tile in tiles for entry in tile["metrics"])


@pytest.mark.parametrize("env", environment_names())
def test_bodies_are_deterministic_and_put_dashboard_accepts_them(env):
    # GIVEN the dashboards synthesized twice
    first, second = dashboard_bodies(env), dashboard_bodies(env)
    assert first == second
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        for name, text in first.items():
            # WHEN they are put THEN CloudWatch (moto) accepts them without validation messages
            response = cloudwatch.put_dashboard(DashboardName=name, DashboardBody=text)
            assert response["DashboardValidationMessages"] == []
            assert json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"]) == json.loads(text)
