"""What the console's views hand the page from a dashboard body that was planted in the emulator (issue 32):
every value the page writes into markup, an attribute or a style is a number, a known word or a colour."""

from __future__ import annotations

from local.console.views import shown_widget
from local.dashboard_data import Window

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
    assert shown["annotations"] == [{"label": "high", "value": 10}, {"label": "low", "value": 5, "color": "#ff7f0e"}]
