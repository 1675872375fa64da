"""What one load-test run leaves behind, as data: the report (loadtest/report.py) and the plot (loadtest/plot.py)
are drawn from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from loadtest.expectations import Check
from loadtest.knee import Knee
from loadtest.locust_stats import FailureRow, HistoryPoint, Row
from loadtest.profiles import Slo
from loadtest.reconcile import Reconciliation
from loadtest.sampler import DepthSample
from loadtest.scenarios import Scenario
from loadtest.stack import Transition
from loadtest.stages import StageStats


@dataclass
class RunRecord:
    scenario: Scenario
    target: str
    users: int
    rate: float
    duration: float
    workers: int
    slo: Slo
    started: float  # epoch seconds, the load's start
    ended: float  # the load's end
    totals: Row
    rows: Sequence[Row] = ()
    failures: Sequence[FailureRow] = ()
    history: Sequence[HistoryPoint] = ()
    depth: Sequence[DepthSample] = ()
    reconciliation: Reconciliation | None = None
    transitions: Sequence[Transition] = ()
    alarm_names: Sequence[str] = ()
    alarms_in_alarm_at_start: Sequence[str] = ()
    checks: Sequence[Check] = ()
    stages: Sequence[StageStats] = ()
    knee: Knee | None = None
    fault_window: tuple[float, float] | None = None  # epoch seconds
    notes: list[str] = field(default_factory=list)

    @property
    def expectations_met(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)
