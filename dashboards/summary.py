"""The wall-screen summary: the paging alarms, the numbers that say "healthy" at a glance, and the flow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dashboards.catalog import Catalog
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
)

# (question, catalog id) shown as one big number each.
NUMBERS = (
    ("Requests", "api_count"),
    ("Server errors %", "api_5xx_rate"),
    ("Latency p99", "api_latency_p99"),
    ("Events accepted", "events_accepted"),
    ("Events stored", "events_stored"),
    ("Oldest queued event", "queue_age"),
    ("Dead letters", "dlq_messages"),
    ("Accepted to stored p99", "ingest_lag_p99"),
)


def summary_body(catalog: Catalog, alarms: Sequence[AlarmView], period: int) -> dict[str, Any]:
    grid = Grid()
    paging = [alarm for alarm in alarms if alarm.tier == "high"]
    grid.add(alarm_status("Does anything page?", paging), FULL_WIDTH, ALARM_STATUS_HEIGHT)
    grid.new_row()
    for title, signal_id in NUMBERS:
        grid.add(graph(title, [catalog[signal_id]], view="singleValue"), QUARTER_WIDTH, SINGLE_VALUE_HEIGHT)
    grid.new_row()
    flow = [catalog[signal_id] for signal_id in ("events_accepted", "queue_sent", "events_stored")]
    grid.add(graph("Does what comes in go out?", flow, alarms), HALF_WIDTH, GRAPH_HEIGHT)
    backlog = [catalog["queue_visible"], catalog["dlq_messages"]]
    grid.add(graph("Is anything piling up?", backlog, alarms), HALF_WIDTH, GRAPH_HEIGHT)
    return body(grid, period)
