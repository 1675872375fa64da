"""What the console's views hand the page from a dashboard body that was planted in the emulator (issue 32):
every value the page writes into markup, an attribute or a style is a number, a known word or a colour."""

from __future__ import annotations

from dashboards.operations import WHO_IS_SENDING
from local.console.dashboard_data import Window
from local.console.producer_table import PRODUCER_HEADERS
from local.console.views import shown_widget

WINDOW = Window(900.0, 1100.0)
CSS = "red; background-image: url(https://evil.example/beacon)"


def test_a_planted_text_widget_is_text_and_its_place_is_numbers() -> None:
    # GIVEN a text widget whose link runs script and whose grid place carries CSS
    widget = {
        "type": "text",
        "x": f"0; {CSS}",
        "y": True,
        "width": 12,
        "height": -3,
        "properties": {"markdown": "[open the dashboard](javascript:fetch('/status').then(r=>r.json()))"},
    }
    # WHEN the page is handed it
    shown = shown_widget(widget, {}, WINDOW, {})
    # THEN the link is plain text and the place is whole numbers (CloudWatch's defaults where they were not)
    assert "<a" not in shown["html"] and "open the dashboard" in shown["html"]
    assert {key: shown[key] for key in ("x", "y", "width", "height")} == {"x": 0, "y": 0, "width": 12, "height": 6}


def test_a_planted_graph_keeps_only_colours_numbers_and_known_views() -> None:
    # GIVEN a graph whose series colour, threshold colour and view carry CSS or class names
    widget = {
        "type": "metric",
        "x": 0,
        "y": 0,
        "width": 6,
        "height": 6,
        "properties": {
            "view": "timeSeries evil",
            "metrics": [["Sluice/local", "EventsArchived", {"id": "m", "label": "archived", "color": CSS}]],
            "annotations": {
                "horizontal": [
                    {"label": "high", "value": 10, "color": CSS},
                    {"label": "low", "value": 5, "color": "#ff7f0e"},
                    {"label": "not a number", "value": "1e999"},
                    "not a line",
                ]
            },
        },
    }
    # WHEN the page is handed it
    shown = shown_widget(widget, {"m": {1000: 20.0}}, WINDOW, {})
    # THEN the view is a known one, the CSS colours are gone, the hex colour stays, and only numeric lines remain
    assert shown["view"] == "timeSeries"
    assert "color" not in shown["series"][0] and shown["series"][0]["points"] == [[1000, 20.0]]
    assert shown["annotations"] == [
        {"label": "high", "value": 10, "axis": "left"},
        {"label": "low", "value": 5, "color": "#ff7f0e", "axis": "left"},
    ]


def test_a_graph_of_two_units_hands_the_page_both_units_and_each_series_axis() -> None:
    # GIVEN a graph of counts and a share on the right axis, with a threshold on the share and a planted axis
    widget = {
        "type": "metric",
        "properties": {
            "view": "timeSeries",
            "yAxis": {"left": {"label": "Count"}, "right": {"label": "Percent"}},
            "metrics": [
                ["Sluice/local", "Records", {"id": "records", "label": "records"}],
                [{"expression": "100 * failed / records", "id": "share", "label": "failed %", "yAxis": "right"}],
                ["Sluice/local", "Retries", {"id": "retries", "label": "retries", "yAxis": f"right; {CSS}"}],
            ],
            "annotations": {"horizontal": [{"label": "share-high", "value": 5, "yAxis": "right"}]},
        },
    }
    # WHEN the page is handed it
    shown = shown_widget(widget, {"records": {1000: 4000.0}, "share": {1000: 2.0}}, WINDOW, {})
    # THEN it names both axes' units, each series' axis as a known word, and the threshold's axis
    assert (shown["unit"], shown["right_unit"]) == ("Count", "Percent")
    assert [(series["id"], series["axis"]) for series in shown["series"]] == [
        ("records", "left"),
        ("share", "right"),
        ("retries", "left"),
    ]
    assert shown["annotations"] == [{"label": "share-high", "value": 5, "axis": "right"}]


def test_a_graph_of_one_unit_has_no_right_unit() -> None:
    widget = {"type": "metric", "properties": {"yAxis": {"left": {"label": "Count"}}, "metrics": []}}
    assert shown_widget(widget, {}, WINDOW, {})["right_unit"] == ""


def test_a_logs_insights_widget_is_shown_as_a_note_that_it_runs_on_aws_only() -> None:
    # GIVEN the operations dashboard's "Who is sending?" table (a Logs Insights query: moto cannot run it)
    widget = {
        "type": "log",
        "x": 0,
        "y": 4,
        "width": 24,
        "height": 8,
        "properties": {"title": "Who is sending?", "region": "us-east-1", "view": "table",
                       "query": "SOURCE '/aws/lambda/ingest'\n| stats sum(events_accepted) by api_key_id"},
    }  # fmt: skip
    # WHEN the page is handed it
    shown = shown_widget(widget, {}, WINDOW, {})
    # THEN it is a text tile saying where the per-producer numbers are locally, with the query AWS runs
    assert shown["type"] == "text" and shown["title"] == "Who is sending?"
    assert "invoke keys.list" in shown["html"] and "by api_key_id" in shown["html"]


def test_who_is_sending_is_the_local_gateways_table_with_the_aws_note_under_it() -> None:
    # GIVEN the "Who is sending?" widget and the local gateway's counts for two keys (one name planted with markup)
    widget = {"type": "log", "properties": {"title": WHO_IS_SENDING, "query": "SOURCE 'x'\n| stats count(*)"}}
    row = {
        "key_id": "k1",
        "class": "default",
        "enabled": True,
        "admitted": 7,
        "throttled": 2,
        "quota": 1,
        "forbidden": 0,
    }
    producers = {
        "rows": [row | {"name": "<img src=x onerror=alert(1)>"}, row | {"key_id": "k2", "name": "b", "enabled": False}],
        "unknown_refused": 3,
    }
    # WHEN the page is handed it
    shown = shown_widget(widget, {}, WINDOW, {}, producers)
    # THEN it is a producers table: the headers, one row per key in column order, the 403s for no known key
    assert shown["type"] == "producers" and shown["headers"] == list(PRODUCER_HEADERS)
    assert shown["rows"] == [
        ["<img src=x onerror=alert(1)>", "default", True, 7, 2, 1, 0],  # a cell the page writes as text, never markup
        ["b", "default", False, 7, 2, 1, 0],
    ]
    assert shown["unknown_refused"] == 3
    # AND the note about Logs Insights on AWS is one line of escaped HTML under it
    assert "Logs Insights" in shown["note_html"] and "<img" not in shown["note_html"]


def test_another_logs_insights_widget_stays_a_note_with_its_query() -> None:
    # GIVEN a Logs Insights widget other than "Who is sending?", and the gateway's counts
    widget = {"type": "log", "properties": {"title": "Refused at the gateway", "query": "stats count(*) by status"}}
    # WHEN the page is handed it
    shown = shown_widget(widget, {}, WINDOW, {}, {"rows": [], "unknown_refused": 0})
    # THEN it is the note with the query AWS runs, not the producers table
    assert shown["type"] == "text" and "by status" in shown["html"]
