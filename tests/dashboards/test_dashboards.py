"""The operations and summary dashboards: built from the catalog, valid for CloudWatch, linked to the runbook."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import boto3
import pytest
from moto import mock_aws

from alarms.engine.metric_math import referenced_ids
from alarms.table import alarm_definitions, composite_definitions
from cloudformation.api import ACCESS_LOG_FORMAT, access_log_group_name
from core.config import environment_names, load_config
from core.paths import PROJECT_ROOT
from core.slo import span, windows_used
from dashboards.catalog import BUDGET_REMAINING, BURN_RATE_PREFIX, Expression, build_catalog, burn_rate_id
from dashboards.layout import FULL_WIDTH
from dashboards.operations import REFUSED_AT_GATEWAY, WHO_IS_SENDING
from local.console.dashboard_data import range_seconds
from synth.synthesize import full_template

ROOT = PROJECT_ROOT
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


def shown_unit(options: dict[str, Any], units: dict[str, str]) -> str:
    """The unit of a shown series: its catalog signal's; an anomaly band's is the unit of the signal it surrounds."""
    band = re.fullmatch(r"ANOMALY_DETECTION_BAND\((\w+), [\d.]+\)", options.get("expression", ""))
    return units[band.group(1) if band else options["id"]]


@pytest.mark.parametrize("env", environment_names())
def test_every_series_of_a_graph_sits_on_an_axis_labelled_with_its_unit(env):
    # GIVEN the catalog's units, the alarms' signals and every time-series graph of the environment's dashboards
    config = load_config(env)
    catalog = build_catalog(config)
    units = {signal.id: signal.unit for signal in catalog}
    alarm_units = {f"{d.name} ({d.tier})": units[d.spec.signal] for d in alarm_definitions(config, catalog)}
    graphs = [
        widget["properties"]
        for text in dashboard_bodies(env).values()
        for widget in metric_widgets(json.loads(text))
        if widget["properties"]["view"] == "timeSeries"
    ]
    for properties in graphs:
        axes, title = properties["yAxis"], properties["title"]
        shown = [entry[-1] for entry in properties["metrics"] if entry[-1].get("visible", True)]
        # WHEN each shown series' axis is looked up (left unless its rendering options say right)
        axis_of = {options["label"]: options.get("yAxis", "left") for options in shown}
        for options in shown:
            # THEN that axis is labelled with the series' unit, and names no unit of its own beside the label
            axis = axes[options.get("yAxis", "left")]
            assert axis["label"] == shown_unit(options, units), (title, options["id"])
            assert axis["showUnits"] is False and axis["min"] == 0
        # AND every axis carries a series: no label without a line on it
        assert set(axes) == set(axis_of.values()), title
        # AND every threshold is drawn against the axis of what it bounds: an alarm's signal, a series' limit
        for line in properties["annotations"]["horizontal"]:
            axis = axes[line.get("yAxis", "left")]
            limited = line["label"].removeprefix("limit: ")
            expected = alarm_units.get(line["label"]) or axes[axis_of[limited]]["label"]
            assert axis["label"] == expected, (title, line["label"])
    # AND the graphs that mix two units (counts and a share, durations and counts) have both axes
    assert any(set(properties["yAxis"]) == {"left", "right"} for properties in graphs)


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
    # six rows at most (the error budget's row has a tile per burn-rate window)
    assert len({widget["y"] for widget in summary["widgets"]}) <= 6
    # the first row answers "is the pipeline alive?" from the canary
    first = summary["widgets"][0]
    assert first["y"] == 0 and first["properties"]["title"].startswith("Is the pipeline alive?")
    assert {entry[-1]["id"] for entry in first["properties"]["metrics"] if isinstance(entry[-1], dict)} >= {
        "canary_success"
    }
    (status,) = [w for w in summary["widgets"] if w["type"] == "alarm"]
    assert all(arn.endswith("-high") for arn in status["properties"]["alarms"])
    assert sum(w["properties"].get("view") == "singleValue" for w in summary["widgets"]) >= 6


@pytest.mark.parametrize("env", environment_names())
def test_number_tiles_carry_their_unit_and_say_what_they_sum(env):
    # GIVEN every number tile of both dashboards (a number tile has no axis to name its unit)
    config = load_config(env)
    catalog = build_catalog(config)
    bodies = [json.loads(text) for text in dashboard_bodies(env).values()]
    widgets = [widget["properties"] for body in bodies for widget in body["widgets"]]
    tiles = [properties for properties in widgets if properties.get("view") == "singleValue"]
    for tile in tiles:
        shown = [entry[-1] for entry in tile["metrics"] if entry[-1].get("visible", True)]
        signals = [catalog[entry["id"]] for entry in shown]
        for entry, signal in zip(shown, signals, strict=True):
            # THEN a tile of milliseconds, seconds or percent says so in its label: "Latency p99 (ms)"
            symbol = {"Milliseconds": "(ms)", "Seconds": "(s)", "Percent": "(%)"}.get(signal.unit)
            assert symbol is None or entry["label"].endswith(symbol), entry
        # AND counts (sums, and metric math over sums: the clients' events) add up over the whole range, and a tile
        # with a range of its own reads that range whole
        counted = all(s.unit == "Count" and all(m.stat == "Sum" for m in s.inputs) for s in signals)
        assert tile.get("setPeriodToTimeRange", False) == (counted or "start" in tile), tile["title"]
        # AND its title says which: the range it reads, since the range began, or the latest period CloudWatch shows
        if "start" in tile:
            assert span(range_seconds(tile["start"])) in tile["title"], tile["title"]
        elif tile.get("setPeriodToTimeRange"):
            assert "since the range began" in tile["title"], tile["title"]
        else:
            assert re.search(rf"(latest|last) {span(signals[0].period)}\b", tile["title"]), tile["title"]
    assert any("(ms)" in entry[-1]["label"] for tile in tiles for entry in tile["metrics"])


def test_the_summary_counts_accepted_events_as_it_counts_requests():
    # GIVEN the summary's requests and client events tiles, side by side on the wall screen
    config = load_config("local")
    summary = json.loads(dashboard_bodies("local")[config.resource_name("summary")])
    tiles = {
        entry[-1]["id"]: widget["properties"]
        for widget in metric_widgets(summary)
        for entry in widget["properties"]["metrics"]
        if widget["properties"]["view"] == "singleValue" and entry[-1].get("visible", True)
    }
    # THEN each sums the whole time range (a count in the latest period, still running, read 0 beside 88 requests)
    for signal_id in ("api_count", "client_events_accepted", "client_events_stored"):
        assert tiles[signal_id].get("setPeriodToTimeRange") is True, signal_id
        assert "since the range began" in tiles[signal_id]["title"]


def test_is_anything_piling_up_counts_what_waits_in_flight():
    # GIVEN the summary's backlog graph
    config = load_config("prod")
    summary = json.loads(dashboard_bodies("prod")[config.resource_name("summary")])
    (backlog,) = [w for w in metric_widgets(summary) if w["properties"]["title"] == "Is anything piling up?"]
    # THEN it draws what waits visible, what waits received and not deleted (in flight), and dead letters
    assert {"queue_visible", "queue_in_flight", "dlq_messages"} <= entry_ids(backlog)


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


def widget_range(widget: dict[str, Any], body: dict[str, Any]) -> int:
    """Seconds a widget shows: its own `start`, else the dashboard's (relative ranges only)."""
    return range_seconds(widget["properties"].get("start", body["start"]))


@pytest.mark.parametrize("env", environment_names())
def test_every_widget_range_holds_a_whole_period_of_each_entry(env):
    # GIVEN every metric widget of both dashboards (GetMetricData returns nothing before its StartTime)
    config = load_config(env)
    catalog = build_catalog(config)
    for text in dashboard_bodies(env).values():
        body = json.loads(text)
        for widget in metric_widgets(body):
            properties = widget["properties"]
            shown = widget_range(widget, body)
            periods = [entry[-1]["period"] for entry in properties["metrics"] if "period" in entry[-1]]
            # THEN each entry's period fits in the time range the widget shows
            assert max(periods) <= shown, (properties["title"], max(periods), shown)
            # AND a number tile with a range of its own reads it as one period: the window its title names
            if properties["view"] == "singleValue" and "start" in properties:
                assert properties["setPeriodToTimeRange"] is True, properties["title"]
    # AND the error budget's tiles read the SLO window and each burn-rate window whole
    summary = json.loads(dashboard_bodies(env)[config.resource_name("summary")])
    ranges = {
        entry[-1]["id"]: widget_range(widget, summary)
        for widget in metric_widgets(summary)
        for entry in widget["properties"]["metrics"]
        if entry[-1]["id"] == BUDGET_REMAINING or entry[-1]["id"].startswith(BURN_RATE_PREFIX)
    }
    assert ranges[BUDGET_REMAINING] == config.monitoring.slo_window_seconds
    for seconds in windows_used(config.monitoring):
        if seconds % 60 == 0:  # a widget range is whole minutes; a sub-minute window shows its latest period
            assert ranges[burn_rate_id(seconds)] == seconds
    assert catalog[BUDGET_REMAINING].period == config.monitoring.slo_window_seconds


@pytest.mark.parametrize("env", environment_names())
def test_the_server_errors_tile_reads_what_its_alarm_judges(env):
    # GIVEN the summary's "Server errors %" tile and the alarm on the same signal
    config = load_config(env)
    catalog = build_catalog(config)
    summary = json.loads(dashboard_bodies(env)[config.resource_name("summary")])
    (tile,) = [w for w in metric_widgets(summary) if w["properties"]["title"].startswith("Server errors %")]
    (alarm,) = [d for d in alarm_definitions(config, catalog) if d.spec.signal == "api_5xx_rate"]
    window = (alarm.spec.periods or config.monitoring.evaluation_periods) * catalog["api_5xx_rate"].period
    # THEN the tile reads the signal over the alarm's whole window (in whole minutes), not its latest period,
    # which is still running: a guarded rate there is 0 until enough requests arrived
    shown = widget_range(tile, summary)
    assert window <= shown < window + 60
    assert tile["properties"]["setPeriodToTimeRange"] is True


def s3_only(env: str):
    return dataclasses.replace(load_config(env), sinks=("s3",))


@pytest.mark.parametrize("env", environment_names())
def test_an_s3_only_environment_neither_draws_nor_alarms_on_an_events_table(env):
    # GIVEN an environment whose only sink is the S3 analytics store: it has no events table
    config = s3_only(env)
    table = config.resource_name("events")
    # WHEN its catalog, alarms and dashboards are built
    catalog = build_catalog(config)
    template = full_template(config).to_dict()["Resources"]
    bodies = [
        json.loads(r["Properties"]["DashboardBody"]["Fn::Sub"])
        for r in template.values()
        if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    alarms = [r["Properties"] for r in template.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    # THEN no signal, no widget and no alarm reads a metric of that table
    assert all(("TableName", table) not in metric.dimensions for metric in catalog.metrics())
    assert f'"{table}"' not in json.dumps(bodies)
    assert f'"{table}"' not in json.dumps(alarms)
    # AND DynamoDB's account-wide UserErrors (the idempotency and notification tables) is still drawn and alarmed on
    assert "table_user_errors" in catalog.signals
    assert any("UserErrors" in json.dumps(alarm) for alarm in alarms)
    assert "table-user-errors" in json.dumps(bodies)
    # AND with the table as a sink, its signals are all there
    assert {"table_system_errors", "table_throttles", "table_wcu_per_second"} <= set(
        build_catalog(load_config(env)).signals
    )


def test_who_is_sending_sums_ingest_counts_per_key_from_its_log_group() -> None:
    # GIVEN the local environment's operations dashboard
    config = load_config("local")
    body = operations("local")

    # WHEN its log widgets are listed
    widget = next(widget for widget in body["widgets"] if widget["properties"].get("title") == WHO_IS_SENDING)
    query = widget["properties"]["query"]

    # THEN one table queries the ingest function's log group and sums the counts by key id: no metric per producer
    assert query.startswith(f"SOURCE '/aws/lambda/{config.resource_name('ingest')}'\n| ")
    assert "by api_key_id" in query and "sum(events_accepted)" in query and "sum(events_rejected)" in query
    assert widget["properties"]["region"] == "us-east-1" and widget["properties"]["view"] == "table"
    assert widget["width"] == FULL_WIDTH


def test_refused_at_the_gateway_counts_403_and_429_per_key_id_from_the_access_log() -> None:
    # GIVEN the local environment's operations dashboard
    config = load_config("local")
    body = operations("local")

    # WHEN its log widgets are listed
    logs = [widget for widget in body["widgets"] if widget["type"] == "log"]
    [widget] = [widget for widget in logs if widget["properties"]["title"] == REFUSED_AT_GATEWAY]
    query = widget["properties"]["query"]

    # THEN a second table, beside "Who is sending?", queries the API access log (whose format logs the key id and the
    # status) for 403 and 429, counted by key id and status
    assert len(logs) == 2
    assert query.startswith(f"SOURCE '{access_log_group_name(config)}'\n| ")
    assert (
        '"apiKeyId": "$context.identity.apiKeyId"' in ACCESS_LOG_FORMAT
        and '"status": "$context.status"' in ACCESS_LOG_FORMAT
    )
    assert "filter status like /^(403|429)$/" in query and "by apiKeyId, status" in query
    # AND it has the shape log_table builds: a table in the region, the full width
    assert widget["properties"]["region"] == "us-east-1" and widget["properties"]["view"] == "table"
    assert widget["width"] == FULL_WIDTH
