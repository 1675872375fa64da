"""`invoke alarms.backtest`: the alarm table of an environment run over a recorded run or over the deployed
stack's history, with candidate thresholds (`--set ROW.TIER=VALUE`) tried without deploying anything."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from alarms.backtest import (
    HIGH,
    LOW,
    NOTIFY,
    SUGGEST_MARGIN,
    SUGGEST_MIN_PERIODS,
    SUGGEST_PERCENTILE,
    AlarmSummary,
    BacktestRun,
    History,
    Suggestion,
    backtest,
    suggest,
    summarize,
    with_thresholds,
)
from alarms.definitions import Definitions, definitions_from_template
from alarms.history import (
    RECORDING_FILE,
    aligned_window,
    lead_in_seconds,
    load_recording,
    metric_stats,
    resolution_limit,
)
from alarms.table import TIERS, alarm_name
from core.config import Config
from functions.common.contract import WEEKDAYS
from ops.errors import OpsError
from ops.metric_history import fetch_history
from synth.synthesize import full_template

TOPICS = {"HighTopic": HIGH, "LowTopic": LOW, "NotifyTopic": NOTIFY}
_SETTING = re.compile(r"(?P<row>[a-z0-9-]+)\.(?P<tier>[a-z]+)=(?P<value>.+)")
DAY = 86_400


@dataclass(frozen=True)
class Backtest:
    env: str
    prefix: str  # the stack's alarm name prefix, left out in the table
    definitions: Definitions
    history: History
    outcome: BacktestRun
    rows: list[AlarmSummary]
    thresholds: Mapping[str, float]  # the --set values, by alarm name


def table_definitions(config: Config) -> Definitions:
    """The environment's alarms as generated, their actions named by tier ("high", "low")."""

    def resolve(node: Mapping[str, Any]) -> Any:
        topic = TOPICS.get(node.get("Ref", ""))
        if topic is None:
            raise OpsError(f"alarm property {node} cannot be resolved for a backtest")
        return topic

    return definitions_from_template(full_template(config).to_dict(), resolve)


def parse_settings(config: Config, settings: Sequence[str]) -> dict[str, float]:
    """`ROW.TIER=VALUE` settings as {alarm name: threshold}."""
    thresholds = {}
    for setting in settings:
        match = _SETTING.fullmatch(setting.strip())
        if match is None or match["tier"] not in TIERS:
            raise OpsError(f"--set {setting!r}: expected ROW.TIER=VALUE, e.g. api-5xx-rate.high=2")
        try:
            value = float(match["value"])
        except ValueError:
            raise OpsError(f"--set {setting!r}: {match['value']!r} is not a number") from None
        thresholds[alarm_name(config, match["row"], match["tier"])] = value
    return thresholds


def business_hours(config: Config) -> Callable[[datetime], bool]:
    """Whether a moment falls in the notifier's business hours (start inclusive, end exclusive)."""
    settings = config.notifications
    zone = ZoneInfo(settings.business_timezone)
    days = {WEEKDAYS.index(day) for day in settings.business_days}  # the configuration checked their names
    start, end = (clock_time.fromisoformat(part) for part in settings.business_hours.split("-"))

    def contains(moment: datetime) -> bool:
        local = moment.astimezone(zone)
        return local.weekday() in days and start <= local.time() < end

    return contains


def run_backtest(config: Config, history: History, settings: Sequence[str] = ()) -> Backtest:
    thresholds = parse_settings(config, settings)
    try:
        definitions = with_thresholds(table_definitions(config), thresholds)
    except ValueError as error:
        raise OpsError(f"--set: {error}") from None
    outcome = backtest(definitions, history)
    rows = summarize(definitions, history, outcome, business_hours(config))
    return Backtest(config.env, config.resource_name(""), definitions, history, outcome, rows, thresholds)


def suggestions(config: Config, history: History, baseline: Backtest) -> tuple[list[Suggestion], Backtest]:
    """Proposed thresholds for the static rows, and the backtest with all of them applied at once."""
    proposals = suggest(baseline.definitions, history)
    definitions = with_thresholds(baseline.definitions, {item.alarm: item.proposed for item in proposals})
    outcome = backtest(definitions, history)
    rows = summarize(definitions, history, outcome, business_hours(config))
    proposed = Backtest(config.env, baseline.prefix, definitions, history, outcome, rows, baseline.thresholds)
    return proposals, proposed


def format_suggestions(proposals: list[Suggestion], baseline: Backtest, proposed: Backtest) -> str:
    if not proposals:
        return (
            f"suggest: no static threshold is below {SUGGEST_MARGIN:g} × the p{SUGGEST_PERCENTILE:g} of its signal "
            f"over at least {SUGGEST_MIN_PERIODS} periods of this history: nothing to propose"
        )
    before = {row.alarm: row for row in baseline.rows}
    after = {row.alarm: row for row in proposed.rows}
    lines = ["suggested thresholds (nothing changes until a person puts a value in sluice.toml):"]
    for item in proposals:
        was, now = before[item.alarm], after[item.alarm]
        lines.append(
            f"  {item.alarm.removeprefix(baseline.prefix)}: {item.current:g} -> {item.proposed:g} ({item.basis}); "
            f"episodes {was.episodes} -> {now.episodes}"
        )
    pages = (sum(row.pages for row in baseline.rows), sum(row.pages for row in proposed.rows))
    lows = (sum(row.low_notifications for row in baseline.rows), sum(row.low_notifications for row in proposed.rows))
    lines.append(f"  with all of them: pages {pages[0]} -> {pages[1]}, low-tier notifications {lows[0]} -> {lows[1]}")
    return "\n".join(lines)


def recorded_history(run: Path) -> tuple[str, History]:
    """A run folder's recording (or the recording file itself)."""
    path = run if run.suffix == ".json" else run / RECORDING_FILE
    try:
        return load_recording(path)
    except ValueError as error:
        raise OpsError(str(error)) from None


def deployed_history(cloudwatch: Any, config: Config, days: float, now: float | None = None) -> History:
    """The last `days` of the deployed stack's metrics the alarms read, from GetMetricData."""
    if days <= 0:
        raise OpsError("--days must be positive")
    definitions = table_definitions(config)
    limit = resolution_limit(definitions, days * DAY)
    if limit is not None:
        raise OpsError(f"--days {days:g}: {limit}; ask for fewer days")
    end = time.time() if now is None else now
    lead_in = lead_in_seconds(definitions)
    start, last = aligned_window(end - days * DAY + lead_in, end, config.monitoring.period_seconds, lead_in)
    last -= config.monitoring.period_seconds  # the period still running is incomplete
    series = fetch_history(cloudwatch, metric_stats(definitions), start, last)
    return History(start, last, series)


def format_table(result: Backtest) -> str:
    """The per-alarm table, then one line of totals."""
    header = ("alarm", "episodes", "in ALARM", "pages", "low", "low off-hours", "fault→page")
    lines = [header]
    for row in result.rows:
        marker = " *" if row.alarm in result.thresholds else ""
        if not row.has_data:  # a recording older than the metric: nothing to judge, not "0 episodes"
            lines.append((row.alarm.removeprefix(result.prefix) + marker, "no data", "-", "-", "-", "-", "-"))
            continue
        lines.append(
            (
                row.alarm.removeprefix(result.prefix) + marker,
                str(row.episodes),
                _duration(row.seconds_in_alarm),
                str(row.pages),
                str(row.low_notifications),
                str(row.low_outside_business_hours),
                "-" if row.first_page_after_fault_seconds is None else _duration(row.first_page_after_fault_seconds),
            )
        )
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    text = [
        "  ".join(
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    history = result.history
    span = _duration(result.outcome.evaluated_to - result.outcome.evaluated_from)
    pages = sum(row.pages for row in result.rows)
    lows = sum(row.low_notifications for row in result.rows)
    text.append(f"{result.env}: {span} evaluated, {pages} page(s), {lows} low-tier notification(s)")
    unjudged = sum(not row.has_data for row in result.rows)
    if unjudged:
        text.append(f"no data: the history lacks a series that {unjudged} alarm(s) read; those were not judged")
    if result.thresholds:
        text.append("* threshold from --set: " + ", ".join(f"{k}={v:g}" for k, v in result.thresholds.items()))
    if history.markers:
        text.append("fault markers: " + ", ".join(marker.label for marker in history.markers))
    return "\n".join(text)


def to_json(result: Backtest) -> dict[str, Any]:
    return {
        "env": result.env,
        "evaluated_from": result.outcome.evaluated_from,
        "evaluated_to": result.outcome.evaluated_to,
        "thresholds": dict(result.thresholds),
        "markers": [{"time": marker.time, "label": marker.label} for marker in result.history.markers],
        "alarms": [row.to_dict() for row in result.rows],
        "transitions": [transition.__dict__ for transition in result.outcome.transitions],
    }


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
