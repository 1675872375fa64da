"""The wall-screen summary: the paging alarms, the numbers that say "healthy" at a glance, and the flow."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from core.slo import span
from dashboards.catalog import Catalog, Expression, Signal
from dashboards.error_budget import add_error_budget_row
from dashboards.layout import (
    ALARM_STATUS_HEIGHT,
    FULL_WIDTH,
    GRAPH_HEIGHT,
    HALF_WIDTH,
    QUARTER_WIDTH,
    SINGLE_VALUE_HEIGHT,
    AlarmView,
    Grid,
    alarm_status,
    body,
    graph,
    tile_title,
)

# The first row: the canary's verdict, whether or not any client is sending.
ALIVE = (
    ("Is the pipeline alive? Canary got through: 1 = yes", ("canary_success", "canary_errors")),
    ("How long does the canary's event take?", ("canary_end_to_end_p99", "canary_api_latency_p99")),
)
# (question, catalog id) shown as one big number each; event counts are the clients' (canary excluded). Each title
# ends with what its number is (layout.tile_title): counts over the whole range, the rest their latest period.
NUMBERS = (
    ("Requests (canary included)", "api_count"),
    ("Server errors %", "api_5xx_rate"),
    ("Latency p99", "api_latency_p99"),
    ("Client events accepted", "client_events_accepted"),
    ("Client events stored", "client_events_stored"),
    ("Oldest queued event", "queue_age"),
    ("Dead letters", "dlq_messages"),
    ("Accepted to stored p99", "ingest_lag_p99"),
)


def _alarm_window(signal: Signal, alarms: Sequence[AlarmView]) -> int | None:
    """The range a tile of metric math reads its signal over: the longest window of the alarms that judge it, in
    whole minutes (a widget's range). Its latest period alone is the one still running: a guarded rate there is 0
    until enough requests arrived, while the alarm judges the whole periods before it."""
    if not isinstance(signal, Expression):
        return None
    windows = [alarm.window_seconds for alarm in alarms if alarm.signal == signal.id and alarm.window_seconds]
    return math.ceil(max(windows) / 60) * 60 if windows else None


def _number(title: str, signal: Signal, alarms: Sequence[AlarmView]) -> dict[str, Any]:
    window = _alarm_window(signal, alarms)
    if window is None:
        return graph(tile_title(title, [signal]), [signal], view="singleValue")
    return graph(f"{title} (last {span(window)}, as its alarm judges)", [signal], view="singleValue", time_range=window)


def summary_body(catalog: Catalog, alarms: Sequence[AlarmView], period: int, canary: bool = True) -> dict[str, Any]:
    """`canary`: whether the environment runs the canary (its row leads the dashboard)."""
    grid = Grid()
    if canary:
        for title, signal_ids in ALIVE:
            signals = [catalog[signal_id] for signal_id in signal_ids]
            grid.add(graph(tile_title(title, signals), signals, view="singleValue"), HALF_WIDTH, SINGLE_VALUE_HEIGHT)
        grid.new_row()
    paging = [alarm for alarm in alarms if alarm.tier == "high"]
    grid.add(alarm_status("Does anything page?", paging), FULL_WIDTH, ALARM_STATUS_HEIGHT)
    grid.new_row()
    for title, signal_id in NUMBERS:
        grid.add(_number(title, catalog[signal_id], alarms), QUARTER_WIDTH, SINGLE_VALUE_HEIGHT)
    grid.new_row()
    budget_title, burn_title = "Error budget left ({window})", "Burn rate, last {window}{thresholds}"
    add_error_budget_row(grid, catalog, alarms, SINGLE_VALUE_HEIGHT, budget_title, burn_title)
    grid.new_row()
    flow = [catalog[signal_id] for signal_id in ("events_accepted", "queue_sent", "events_stored")]
    grid.add(graph("Does what comes in go out?", flow, alarms), HALF_WIDTH, GRAPH_HEIGHT)
    # what waits: visible in the queue, received and not yet deleted (in flight), and dead letters
    backlog = [catalog["queue_visible"], catalog["queue_in_flight"], catalog["dlq_messages"]]
    grid.add(graph("Is anything piling up?", backlog, alarms), HALF_WIDTH, GRAPH_HEIGHT)
    return body(grid, period)
