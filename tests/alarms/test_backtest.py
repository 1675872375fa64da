"""The backtest and its summary: the shared evaluation run period by period over a history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alarms.backtest import HIGH, LOW, History, Marker, backtest, stat_key, suggest, summarize, with_thresholds
from alarms.definitions import Definitions

PERIOD = 60
# Monday 2026-11-30 06:00 UTC: business hours below are 09:00-17:00 UTC on weekdays.
MONDAY_6AM = int(datetime(2026, 11, 30, 6, tzinfo=UTC).timestamp())


def stat(name: str) -> dict:
    return {"Metric": {"Namespace": "Test", "MetricName": name, "Dimensions": []}, "Period": PERIOD, "Stat": "Sum"}


def alarm(name: str, metric: str, threshold: float, actions: list[str]) -> dict:
    return {
        "AlarmName": name,
        "Namespace": "Test",
        "MetricName": metric,
        "Dimensions": [],
        "Statistic": "Sum",
        "Period": PERIOD,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": threshold,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": actions,
    }


# A child without actions under a paging composite (one page per incident), and a low-tier alarm.
DEFINITIONS = Definitions(
    [alarm("errors-high", "Errors", 0.0, []), alarm("slow-low", "Slow", 10.0, [LOW])],
    [{"AlarmName": "at-risk-high", "AlarmRule": 'ALARM("errors-high")', "AlarmActions": [HIGH]}],
)


def office_hours(moment: datetime) -> bool:
    return moment.weekday() < 5 and 9 <= moment.hour < 17


def history(errors: dict[int, float], slow: dict[int, float], periods: int = 40, markers=()) -> History:
    """Values at period indexes (others 0), from MONDAY_6AM."""

    def series(values: dict[int, float]) -> dict[int, float]:
        return {MONDAY_6AM + i * PERIOD: values.get(i, 0.0) for i in range(periods)}

    return History(
        MONDAY_6AM,
        MONDAY_6AM + periods * PERIOD,
        {stat_key(stat("Errors")): series(errors), stat_key(stat("Slow")): series(slow)},
        tuple(markers),
    )


def summary(result_history: History, definitions: Definitions = DEFINITIONS) -> dict[str, dict]:
    outcome = backtest(definitions, result_history)
    return {row.alarm: row.to_dict() for row in summarize(definitions, result_history, outcome, office_hours)}


def test_a_quiet_history_pages_nobody():
    # GIVEN a history where nothing breaches WHEN it is backtested THEN no alarm has an episode
    rows = summary(history({}, {}))
    assert {name: (row["episodes"], row["pages"], row["low_notifications"]) for name, row in rows.items()} == {
        "errors-high": (0, 0, 0),
        "slow-low": (0, 0, 0),
        "at-risk-high": (0, 0, 0),
    }


def test_an_outage_pages_once_through_the_composite_and_times_the_first_page():
    # GIVEN errors in periods 10-14 after a fault marked at the start of period 9
    fault = MONDAY_6AM + 9 * PERIOD
    outage = history({i: 3.0 for i in range(10, 15)}, {}, markers=[Marker(fault, "db-down")])
    # WHEN it is backtested
    rows = summary(outage)
    # THEN the child has one episode but no page of its own; the composite pages once
    assert rows["errors-high"]["episodes"] == 1 and rows["errors-high"]["pages"] == 0
    assert rows["at-risk-high"]["pages"] == 1
    # AND the page came when a window (periods 9-11, ending at 12) held two breaching periods: 3 after the fault
    assert rows["at-risk-high"]["first_page_after_fault_seconds"] == 3 * PERIOD
    # AND the child was in ALARM until a window held one breaching period only (periods 14-16, ending at 17)
    assert rows["errors-high"]["seconds_in_alarm"] == (17 - 12) * PERIOD


def test_low_tier_notifications_outside_business_hours_are_counted():
    # GIVEN a slow spell at 06:10 (before business hours) and another at 09:20 (inside)
    slow = {i: 50.0 for i in (*range(10, 13), *range(200, 203))}
    rows = summary(history({}, slow, periods=220))
    # THEN two low-tier notifications, one of them held for the digest
    assert rows["slow-low"]["low_notifications"] == 2
    assert rows["slow-low"]["low_outside_business_hours"] == 1
    assert rows["slow-low"]["pages"] == 0


def test_a_candidate_threshold_changes_the_outcome_without_touching_the_table():
    # GIVEN the outage WHEN the errors alarm's threshold is raised above the errors THEN nothing pages
    outage = history({i: 3.0 for i in range(10, 15)}, {})
    raised = with_thresholds(DEFINITIONS, {"errors-high": 5.0})
    assert summary(outage, raised)["at-risk-high"]["pages"] == 0
    assert DEFINITIONS.alarms[0]["Threshold"] == 0.0
    # AND an unknown alarm is refused by name
    with pytest.raises(ValueError, match="no static-threshold alarm named nope"):
        with_thresholds(DEFINITIONS, {"nope": 1.0})


def test_suggest_raises_only_a_threshold_the_history_keeps_crossing():
    # GIVEN a "slow" signal that hovers at 8-14 (threshold 10: it keeps notifying) and errors that stay at 0
    noisy = history({}, {i: 8.0 + (i % 7) for i in range(40)})
    assert summary(noisy)["slow-low"]["low_notifications"] > 0
    # WHEN thresholds are suggested THEN only slow-low gets one: 1.5 × its p99 (14), and none for a quiet signal
    proposals = suggest(DEFINITIONS, noisy)
    assert [(item.alarm, item.current, item.proposed) for item in proposals] == [("slow-low", 10.0, 21.0)]
    assert proposals[0].basis == "1.5 × p99 (14) of 40 periods"
    # AND with it, the same history would have notified nobody
    assert summary(noisy, with_thresholds(DEFINITIONS, {"slow-low": 21.0}))["slow-low"]["low_notifications"] == 0
    # AND a history too short to know the signal's range suggests nothing
    assert suggest(DEFINITIONS, history({}, {i: 50.0 for i in range(20)}, periods=20)) == []


def test_an_alarm_whose_series_the_history_lacks_has_no_data_not_zero_episodes():
    # GIVEN a history recorded before the Slow metric existed (its series is absent, not merely quiet)
    full = history({}, {})
    older = History(full.start, full.end, {stat_key(stat("Errors")): full.series[stat_key(stat("Errors"))]})
    # WHEN it is backtested
    rows = summary(older)
    # THEN the alarm on Slow is marked as not judged, while the ones whose series are there are judged
    assert rows["slow-low"]["has_data"] is False
    assert rows["errors-high"]["has_data"] is True and rows["at-risk-high"]["has_data"] is True
    # AND with both present, every row is judged
    assert all(row["has_data"] for row in summary(full).values())
