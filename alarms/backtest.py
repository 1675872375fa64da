"""How the alarm table would have behaved on recorded history: the shared evaluation run period by period.

`backtest(definitions, history)` evaluates every metric alarm at each period end of the history with
alarms.engine.evaluation (as CloudWatch would just after that period completes), then the composites over the new
states, and returns every transition. `summarize` turns them into what a person cares about: episodes, time
in ALARM, pages (an ALARM transition whose actions reach the high-tier topic), low-tier notifications and how
many of those fall outside business hours (the notifier holds them for the digest), and the time from a
fault marker to the first page. Nothing here reads a clock, a client or a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alarms.definitions import Definitions
from alarms.engine.evaluation import ALARM, OK, MetricAlarm, evaluate_alarm
from alarms.engine.metric_math import Series
from alarms.engine.rules import composite_state, evaluation_order, rule_children

# AlarmActions that reach people are these topic names after resolution (see ops.backtest): the low tier through
# the notifier (held outside business hours), or straight to its people (NOTIFY: undelivered pages, never held).
HIGH, LOW, NOTIFY = "high", "low", "notify"


# A window longer than the history's step (the burn-rate alarms' hour or three days) is rolled up from the
# step's datapoints: CloudWatch slides an alarm's window and evaluates it every minute (the default
# SlidingWindow, PutMetricAlarm `EvaluationWindow`), so the window ending at any step is the statistic of the
# step-long datapoints inside it. Averages and percentiles cannot be rolled up; their windows stay aligned.
_ROLLUPS: dict[str, Callable[[list[float]], float]] = {"Sum": sum, "SampleCount": sum, "Maximum": max, "Minimum": min}


def stat_key(metric_stat: Mapping[str, Any]) -> str:
    """One MetricStat's identity in a history: its canonical JSON."""
    return json.dumps(metric_stat, sort_keys=True)


def recorded_stat(metric_stat: Mapping[str, Any], step: int) -> dict[str, Any]:
    """The MetricStat a history keeps for `metric_stat`: its `step`-long form when a longer window rolls up."""
    period = int(metric_stat["Period"])
    if period > step and period % step == 0 and metric_stat["Stat"] in _ROLLUPS:
        return {**metric_stat, "Period": step}
    return dict(metric_stat)


def slides(alarm: MetricAlarm, step: int) -> bool:
    """Whether the alarm's window can end at any step (every input rolls up, or is step-long already)."""
    return all(recorded_stat(stat, step)["Period"] == step for stat in alarm.metric_stats().values())


def rolled_up(series: Series, stat: str, period: int, step: int) -> Series:
    """The `period`-long windows starting at every step, from step-long datapoints (a window without any has none)."""
    combine = _ROLLUPS[stat]
    starts = sorted({t - offset for t in series for offset in range(0, period, step)})
    windows = {}
    for start in starts:
        inside = [series[t] for t in range(start, start + period, step) if t in series]
        if inside:
            windows[start] = float(combine(inside))
    return windows


@dataclass(frozen=True)
class Marker:
    time: float
    label: str  # e.g. "db-down" for a fault injected at `time`


@dataclass(frozen=True)
class History:
    """Metric series by stat_key over [start, end), epoch seconds on period boundaries."""

    start: int
    end: int
    series: Mapping[str, Series]
    markers: tuple[Marker, ...] = ()

    def holds(self, alarm: MetricAlarm, step: int) -> bool:
        """Whether every series the alarm reads is in the history (a recording made before a metric existed
        lacks it: the alarm cannot be judged on it, and "0 episodes" would be a claim the data cannot make)."""
        return all(stat_key(recorded_stat(stat, step)) in self.series for stat in alarm.metric_stats().values())

    def for_alarm(self, alarm: MetricAlarm, step: int) -> dict[str, Series]:
        """The alarm's inputs by query id; a window longer than `step` rolled up from step-long datapoints."""
        inputs = {}
        for query_id, stat in alarm.metric_stats().items():
            kept = recorded_stat(stat, step)
            series = self.series.get(stat_key(kept), {})
            if kept["Period"] != stat["Period"]:
                series = rolled_up(series, stat["Stat"], int(stat["Period"]), step)
            inputs[query_id] = series
        return inputs


@dataclass(frozen=True)
class Transition:
    time: int
    alarm: str
    old: str
    new: str
    reason: str


@dataclass
class BacktestRun:
    transitions: list[Transition] = field(default_factory=list)
    evaluated_from: int = 0
    evaluated_to: int = 0


def history_step(definitions: Definitions) -> int:
    """The history's resolution: the shortest alarm period (the configuration's monitoring period)."""
    return min((MetricAlarm.from_definition(definition).period for definition in definitions.alarms), default=60)


def backtest(definitions: Definitions, history: History) -> BacktestRun:
    """Every transition of the table's alarms over the history; each alarm starts OK, as the local stack's do."""
    alarms = [MetricAlarm.from_definition(definition) for definition in definitions.alarms]
    states = {alarm.name: OK for alarm in alarms} | {c["AlarmName"]: OK for c in definitions.composites}
    result = BacktestRun()
    if not alarms:
        return result
    step = history_step(definitions)
    # the first end at which every alarm's window lies inside the history; a sliding window (rolled up from the
    # step's datapoints) is judged from the first step on, on what the history holds of it
    first = history.start + max(
        step if slides(alarm, step) and alarm.period > step else alarm.evaluation_periods * alarm.period
        for alarm in alarms
    )
    first = -(-first // step) * step
    result.evaluated_from, result.evaluated_to = first, history.end
    inputs = {alarm.name: history.for_alarm(alarm, step) for alarm in alarms}
    sliding = {alarm.name: slides(alarm, step) for alarm in alarms}
    ordered = evaluation_order(definitions.composites)
    for end in range(first, history.end + 1, step):
        for alarm in alarms:
            if end % alarm.period and not sliding[alarm.name]:
                continue
            verdict = evaluate_alarm(alarm, inputs[alarm.name], end)
            if verdict.state is not None and verdict.state != states[alarm.name]:
                result.transitions.append(
                    Transition(end, alarm.name, states[alarm.name], verdict.state, verdict.reason)
                )
                states[alarm.name] = verdict.state
        for composite in ordered:
            name = composite["AlarmName"]
            new = composite_state(composite["AlarmRule"], states.__getitem__)
            if new != states[name]:
                result.transitions.append(Transition(end, name, states[name], new, "rule " + composite["AlarmRule"]))
                states[name] = new
    return result


@dataclass(frozen=True)
class AlarmSummary:
    alarm: str
    episodes: int
    seconds_in_alarm: int
    pages: int
    low_notifications: int
    low_outside_business_hours: int
    first_page_after_fault_seconds: float | None
    has_data: bool = True
    """False when the history lacks a series the alarm reads (for a composite: every child lacks one)."""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def summarize(
    definitions: Definitions,
    history: History,
    outcome: BacktestRun,
    in_business_hours: Callable[[datetime], bool],
) -> list[AlarmSummary]:
    """One row per alarm of the table, in the table's order (composites last)."""
    fault = min((marker.time for marker in history.markers), default=None)
    judged = _judged(definitions, history)
    rows = []
    for definition in [*definitions.alarms, *definitions.composites]:
        name = definition["AlarmName"]
        mine = [t for t in outcome.transitions if t.alarm == name]
        fired = [t for t in mine if t.new == ALARM]
        actions = set(definition.get("AlarmActions", [])) if definition.get("ActionsEnabled", True) else set()
        pages = fired if HIGH in actions else []
        held_off_hours = fired if LOW in actions else []
        lows = fired if actions & {LOW, NOTIFY} else []
        outside = [t for t in held_off_hours if not in_business_hours(datetime.fromtimestamp(t.time, UTC))]
        after_fault = [t.time - fault for t in pages if fault is not None and t.time >= fault]
        rows.append(
            AlarmSummary(
                alarm=name,
                episodes=len(fired),
                seconds_in_alarm=_seconds_in_alarm(mine, outcome.evaluated_to),
                pages=len(pages),
                low_notifications=len(lows),
                low_outside_business_hours=len(outside),
                first_page_after_fault_seconds=min(after_fault, default=None),
                has_data=judged[name],
            )
        )
    return rows


def _judged(definitions: Definitions, history: History) -> dict[str, bool]:
    """Per alarm, whether the history holds what it reads; a composite is judged when any child is."""
    step = history_step(definitions)
    judged = {
        definition["AlarmName"]: history.holds(MetricAlarm.from_definition(definition), step)
        for definition in definitions.alarms
    }
    for composite in evaluation_order(definitions.composites):
        children = rule_children(composite["AlarmRule"])
        judged[composite["AlarmName"]] = any(judged.get(name, False) for name in children)
    return judged


def _seconds_in_alarm(transitions: Sequence[Transition], end: int) -> int:
    total, since = 0, None
    for transition in transitions:
        if transition.new == ALARM and since is None:
            since = transition.time
        elif transition.new != ALARM and since is not None:
            total, since = total + transition.time - since, None
    return total + (end - since if since is not None else 0)


def signal_values(definition: Mapping[str, Any], history: History, step: int) -> Series:
    """The value an alarm compares, at every period of the history (for the timeline); keyed by period start."""
    alarm = MetricAlarm.from_definition(definition)
    stride = step if slides(alarm, step) else alarm.period  # a sliding window has a value at every step
    first = -(-history.start // stride) * stride
    timestamps = list(range(first, history.end, stride))
    values, _ = alarm.values(history.for_alarm(alarm, step), timestamps)
    return values


# --suggest: a threshold just above what the history saw, so a repeat of that history stays quiet. Only raises:
# the thresholds come from objectives and capacities, and a quiet history is no reason to page sooner.
SUGGEST_PERCENTILE = 99.0
SUGGEST_MARGIN = 1.5  # × the percentile
SUGGEST_MIN_PERIODS = 30  # fewer datapoints say too little about a signal's normal range


@dataclass(frozen=True)
class Suggestion:
    alarm: str
    current: float
    proposed: float
    basis: str  # how the proposal was made, for the person deciding


def suggest(definitions: Definitions, history: History) -> list[Suggestion]:
    """For each static "greater than" alarm whose signal the history saw in at least SUGGEST_MIN_PERIODS periods:
    SUGGEST_MARGIN × its SUGGEST_PERCENTILE-th percentile, when that is above the current threshold."""
    suggestions = []
    for definition in definitions.alarms:
        if "ThresholdMetricId" in definition or not definition["ComparisonOperator"].startswith("GreaterThan"):
            continue
        values = sorted(signal_values(definition, history, history_step(definitions)).values())
        if len(values) < SUGGEST_MIN_PERIODS:
            continue
        percentile = values[min(len(values) - 1, int(len(values) * SUGGEST_PERCENTILE / 100))]
        proposed = round(percentile * SUGGEST_MARGIN, 3)
        current = float(definition["Threshold"])
        if proposed > current:
            basis = f"{SUGGEST_MARGIN:g} × p{SUGGEST_PERCENTILE:g} ({percentile:g}) of {len(values)} periods"
            suggestions.append(Suggestion(definition["AlarmName"], current, proposed, basis))
    return suggestions


def with_thresholds(definitions: Definitions, thresholds: Mapping[str, float]) -> Definitions:
    """The definitions with some alarms' Threshold replaced (alarm name → value): a candidate to try."""
    static = {d["AlarmName"] for d in definitions.alarms if "ThresholdMetricId" not in d}
    unknown = sorted(set(thresholds) - static)
    if unknown:
        raise ValueError(f"no static-threshold alarm named {', '.join(unknown)}")
    alarms = [
        {**d, "Threshold": thresholds[d["AlarmName"]]} if d["AlarmName"] in thresholds else d
        for d in definitions.alarms
    ]
    return Definitions(alarms, definitions.composites)
