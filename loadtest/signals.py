"""Alarm signals: the stable keys scenarios use, mapped to the alarm names a stack really has.

The alarm catalog (alarms/) owns the names; scenarios only say "the DLQ alarm" or "the 4XX alarm".
`alarms_for_signal` is the one place that ties the two together: fix it here when the catalog changes.
"""

from __future__ import annotations

from collections.abc import Iterable

ALL_OTHERS = "*"  # in `must_stay_ok`: every alarm that no must-fire signal names

# Substrings of a normalized alarm name (lower case, "_" and spaces as "-"). The catalog names an alarm
# `<stack>-<row>-<tier>` after its row in alarms/table.py (also the runbook's anchor): match the row.
SIGNAL_PATTERNS: dict[str, tuple[str, ...]] = {
    "4xx": ("-api-4xx-rate-",),
    "5xx": ("-api-5xx-rate-", "-error-budget-"),  # server errors: their rate, and the budget they burn
    "api-latency": ("-api-latency-p99-",),
    "request-anomaly": ("-api-request-anomaly-",),
    "request-rate": ("-api-request-rate-",),
    "ingest-errors": ("-ingest-errors-",),
    "consumer-errors": ("-consumer-errors-",),
    "archiver-errors": ("-archiver-errors-",),
    "throttles": ("-throttles-",),
    "queue-age": ("-queue-age-",),
    "retries": ("-retries-",),
    "retry-window": ("-retry-window-",),
    "enqueue-gap": ("-enqueue-gap-",),
    "dlq": ("-dlq-visible-",),
    "archived": ("-events-archived-",),
    "table-errors": ("-table-system-errors-", "-table-user-errors-"),
    "at-risk": ("-ingestion-at-risk-",),
}


def _normal(name: str) -> str:
    return "-" + name.lower().replace("_", "-").replace(" ", "-") + "-"


def alarms_for_signal(signal: str, alarm_names: Iterable[str]) -> list[str]:
    """The alarms of `alarm_names` that watch `signal` (its tiers and any composite that names it)."""
    patterns = SIGNAL_PATTERNS.get(signal, (signal,))
    return sorted(name for name in alarm_names if any(pattern in _normal(name) for pattern in patterns))


def resolve(signals: Iterable[str], alarm_names: Iterable[str], exclude: Iterable[str] = ()) -> dict[str, list[str]]:
    """signal → alarm names; ALL_OTHERS expands to every alarm not in `exclude`."""
    names = sorted(set(alarm_names))
    excluded = set(exclude)
    resolved: dict[str, list[str]] = {}
    for signal in signals:
        if signal == ALL_OTHERS:
            resolved[signal] = [name for name in names if name not in excluded]
        else:
            resolved[signal] = [name for name in alarms_for_signal(signal, names) if name not in excluded]
    return resolved
