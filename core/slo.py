"""The availability objective's math: error budget, burn rate, and the multiwindow, multi-burn-rate alerting
windows of Google's SRE Workbook ("Alerting on SLOs", Table 5-8, https://sre.google/workbook/alerting-on-slos/).

The objective: `monitoring.availability_slo_percent` of requests answered without a server error (5XX) over
`monitoring.slo_window_seconds`. The error budget is the rest (0.1 % of requests at 99.9 %). A burn rate is how
fast a window spends it: the window's 5XX share divided by the budget's share — at 1 the budget lasts exactly
the SLO window, at 14.4 a 30-day budget is gone in 50 hours.

The workbook's recommended parameters for a 99.9 % objective over 30 days, each a pair of windows that must
both burn (the long one says the burn is significant, the short one that it is still going on):

| tier | budget spent | long window | short window | burn rate |
|---|---|---|---|---|
| page (high) | 2 % | 1 hour | 5 minutes | 14.4 |
| page (high) | 5 % | 6 hours | 30 minutes | 6 |
| ticket (low) | 10 % | 3 days | 6 hours | 1 |

Here the long windows are those shares of the SLO window (1 h of 30 days = 1/720), the short ones 1/12 of the
long (the workbook's guideline), both rounded to whole alarm periods (at least one), and the burn rate is
recomputed from the rounded long window (budget spent × SLO window / long window) so a pair still fires when
that share of the budget is spent. A shorter SLO window (the `local` environment's) scales every window down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

# Alarm periods CloudWatch accepts (botocore's cloudwatch model, PutMetricAlarm `Period`): 10, 20, 30 or a
# multiple of 60; one period × EvaluationPeriods may span 7 days (604,800 s) when the period is ≥ 1 hour.
MAX_EVALUATION_RANGE_SECONDS = 604_800
SHORT_WINDOW_DIVISOR = 12


class Objective(Protocol):
    """What the math reads of config.monitoring."""

    @property
    def availability_slo_percent(self) -> float: ...
    @property
    def slo_window_seconds(self) -> int: ...
    @property
    def period_seconds(self) -> int: ...


@dataclass(frozen=True)
class BurnPolicy:
    name: str  # the alarm rows are error-budget-<name>-long / -short, the composite error-budget-<name>
    tier: Literal["high", "low"]
    budget_share: float  # of the SLO window's budget spent over the long window when the pair fires
    long_share: float  # the long window as a share of the SLO window


# Table 5-8 of the workbook (for 30 days: 1 h and 5 min, 6 h and 30 min, 3 days and 6 h).
WORKBOOK_POLICIES = (
    BurnPolicy("fast-burn", "high", 0.02, 1 / 720),
    BurnPolicy("steady-burn", "high", 0.05, 1 / 120),
    BurnPolicy("slow-burn", "low", 0.10, 1 / 10),
)


@dataclass(frozen=True)
class BurnWindows:
    policy: BurnPolicy
    long_seconds: int
    short_seconds: int
    burn_rate: float  # both windows must burn faster than this


def budget_percent(objective: Objective) -> float:
    """The error budget as a percentage of requests (0.1 at 99.9 %)."""
    return round(100.0 - objective.availability_slo_percent, 6)


def _whole_periods(seconds: float, period: int) -> int:
    return max(1, round(seconds / period)) * period


def burn_windows(objective: Objective) -> tuple[BurnWindows, ...]:
    period, window = objective.period_seconds, objective.slo_window_seconds
    pairs = []
    for policy in WORKBOOK_POLICIES:
        long = _whole_periods(policy.long_share * window, period)
        short = _whole_periods(long / SHORT_WINDOW_DIVISOR, period)
        pairs.append(BurnWindows(policy, long, short, round(policy.budget_share * window / long, 3)))
    return tuple(pairs)


def windows_used(objective: Objective) -> tuple[int, ...]:
    """Every distinct window length the burn-rate alarms read, shortest first."""
    return tuple(sorted({s for pair in burn_windows(objective) for s in (pair.long_seconds, pair.short_seconds)}))


def valid_alarm_period(seconds: int) -> bool:
    return seconds in (10, 20, 30) or seconds % 60 == 0


def objective_problems(objective: Objective, local: bool) -> list[tuple[str, str]]:
    """(config key, one-line message) for an SLO window CloudWatch cannot alarm on; empty when it can."""
    window, period = objective.slo_window_seconds, objective.period_seconds
    if period <= 0:
        return [("period_seconds", "expected a positive number of seconds")]
    if window < SHORT_WINDOW_DIVISOR * 10 * period:
        return [("slo_window_seconds", f"expected at least {SHORT_WINDOW_DIVISOR * 10 * period} s (120 periods)")]
    longest = max(windows_used(objective))
    if longest > MAX_EVALUATION_RANGE_SECONDS:
        return [
            (
                "slo_window_seconds",
                f"its slow-burn window ({longest} s, a tenth) exceeds CloudWatch's 7-day alarm evaluation range",
            )
        ]
    invalid = [seconds for seconds in windows_used(objective) if not valid_alarm_period(seconds)]
    if invalid and not local:
        return [
            (
                "slo_window_seconds",
                f"gives burn-rate windows of {invalid[0]} s, not an alarm period CloudWatch accepts "
                "(10, 20, 30 or a multiple of 60)",
            )
        ]
    return []


def span(seconds: int) -> str:
    """A window's length for people: 3 days, 6 h, 30 min, 10 s."""
    for unit, name in ((86_400, "days"), (3_600, "h"), (60, "min")):
        if seconds >= unit and seconds % unit == 0:
            count = seconds // unit
            return f"{count} {'day' if name == 'days' and count == 1 else name}"
    return f"{seconds} s"
