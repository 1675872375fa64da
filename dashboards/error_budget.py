"""The error budget's number tiles, shared by the summary and the operations dashboard: the budget left over the
SLO window and the burn rate over each window the burn-rate alarms read, every tile over its own window.

GetMetricData returns nothing before its StartTime: inside the dashboard's 3-hour range a 30-day or 3-day window
would sum 3 hours. So each tile has its own range, the window (`start`), read as one period
(`setPeriodToTimeRange`). A window shorter than a minute (the `local` environment's fast burn) cannot be a
CloudWatch range: its tile shows the window's latest period.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.slo import span
from dashboards.catalog import BUDGET_REMAINING, BURN_RATE_PREFIX, Catalog, Signal
from dashboards.layout import FULL_WIDTH, AlarmView, Grid, graph, own_range


def burn_rates(catalog: Catalog) -> list[Signal]:
    """The burn rate of each window, shortest first."""
    return [signal for signal in catalog if signal.id.startswith(BURN_RATE_PREFIX)]


def _thresholds(signal: Signal, alarms: Sequence[AlarmView]) -> str:
    found = sorted({alarm.threshold for alarm in alarms if alarm.signal == signal.id and alarm.threshold is not None})
    return f" (alarms above {', '.join(f'{value:g}' for value in found)})" if found else ""


def budget_tile(catalog: Catalog, title: str) -> dict[str, Any]:
    budget = catalog[BUDGET_REMAINING]
    text = title.format(window=span(budget.period))
    return graph(text, [budget], view="singleValue", time_range=own_range(budget.period))


def burn_tile(signal: Signal, alarms: Sequence[AlarmView], title: str) -> dict[str, Any]:
    """`title` is formatted with the window and the thresholds of the alarms that read it."""
    window = span(signal.period)
    text = title.format(window=window, thresholds=_thresholds(signal, alarms))
    return graph(text, [signal], view="singleValue", time_range=own_range(signal.period))


def add_error_budget_row(
    grid: Grid, catalog: Catalog, alarms: Sequence[AlarmView], height: int, budget_title: str, burn_title: str
) -> None:
    """One row: the budget left, then a tile per burn-rate window, sharing the full width."""
    burn = burn_rates(catalog)
    width = FULL_WIDTH // (1 + len(burn))
    grid.add(budget_tile(catalog, budget_title), width, height)
    for signal in burn:
        grid.add(burn_tile(signal, alarms, burn_title), width, height)
