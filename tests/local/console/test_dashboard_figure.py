"""The PNG's "Who is sending?" widget on the local stack (local/console/dashboard_figure.py): the local gateway's
counts per producer as a table, the note on AWS's Logs Insights under it."""

from __future__ import annotations

from dashboards.operations import WHO_IS_SENDING
from local.console.dashboard_data import Window
from local.console.dashboard_figure import draw_widgets
from local.console.producer_table import PRODUCER_HEADERS

WINDOW = Window(900.0, 1100.0)
WIDGET = {
    "type": "log",
    "x": 0,
    "y": 0,
    "width": 24,
    "height": 8,
    "properties": {"title": WHO_IS_SENDING, "query": "SOURCE 'x'\n| stats count(*)"},
}


def test_who_is_sending_is_drawn_as_a_table_of_the_gateways_counts() -> None:
    # GIVEN the gateway's counts for one producer, and 2 requests refused for no known key
    row = {"key_id": "k1", "name": "partner-a", "class": "partner", "enabled": True,
           "admitted": 41, "throttled": 5, "quota": 0, "forbidden": 2}  # fmt: skip
    # WHEN the widget is drawn
    drawing = draw_widgets([WIDGET], [{}], WINDOW, {}, {"rows": [row], "unknown_refused": 2})
    # THEN its cell holds a table: the headers, the producer's row and the unknown keys' row
    ((_, axes),) = drawing.cells
    (table,) = axes.tables
    cells = {(r, c): cell.get_text().get_text() for (r, c), cell in table.get_celld().items()}
    assert [cells[(0, c)] for c in range(len(PRODUCER_HEADERS))] == list(PRODUCER_HEADERS)
    assert [cells[(1, c)] for c in range(7)] == ["partner-a", "partner", "yes", "41", "5", "0", "2"]
    assert cells[(2, 0)] == "(no known key)" and cells[(2, 6)] == "2"
    # AND the note about Logs Insights is under it, not the query
    texts = [text.get_text() for text in axes.texts]
    assert any("Logs Insights" in text for text in texts) and not any("stats count" in text for text in texts)


def test_without_the_gateways_counts_the_widget_shows_its_query() -> None:
    # GIVEN no counts (rendered without a running gateway)
    # WHEN the widget is drawn
    drawing = draw_widgets([WIDGET], [{}], WINDOW, {})
    # THEN it is the note with the query AWS runs
    ((_, axes),) = drawing.cells
    assert not axes.tables and any("stats count" in text.get_text() for text in axes.texts)
