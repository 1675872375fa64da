"""The error budget's burn-rate alarms: the SRE workbook's windows and rates in the template, composites that need
both windows, windows that slide, and how they judge a burst, a harmless trickle and a slow burn."""

from __future__ import annotations

import pytest

from alarms.backtest import History, backtest
from alarms.definitions import Definitions
from alarms.history import metric_stats
from alarms.table import composite_definitions
from core.config import load_config
from core.slo import burn_windows
from ops.backtest import table_definitions
from synth.synthesize import full_template
from tests.alarms.test_alarm_table import resources

PROD = load_config("prod")
LOCAL = load_config("local")


def by_name(config, kind: str) -> dict[str, dict]:
    return {props["AlarmName"]: props for props in resources(config, kind).values()}


def test_prod_uses_the_workbooks_windows_and_burn_rates():
    # GIVEN prod's objective (99.9 % over 30 days) WHEN its burn-rate pairs are derived
    pairs = {pair.policy.name: pair for pair in burn_windows(PROD.monitoring)}
    # THEN they are Table 5-8 of "Alerting on SLOs": page at 14.4 over 1 h and 5 min, at 6 over 6 h and 30 min;
    # ticket at 1 over 3 days and 6 h
    assert {name: (p.policy.tier, p.long_seconds, p.short_seconds, p.burn_rate) for name, p in pairs.items()} == {
        "fast-burn": ("high", 3600, 300, 14.4),
        "steady-burn": ("high", 21600, 1800, 6.0),
        "slow-burn": ("low", 259200, 21600, 1.0),
    }


def test_each_window_is_one_alarm_period_of_its_length_guarded_by_the_minimum_requests():
    # GIVEN prod's template
    alarms = by_name(PROD, "AWS::CloudWatch::Alarm")
    long_fast = alarms[PROD.resource_name("error-budget-fast-burn-long-high")]
    # THEN the fast pair's long window sums one hour of 5XX and requests, judged on one datapoint
    periods = {q["MetricStat"]["Period"] for q in long_fast["Metrics"] if "MetricStat" in q}
    assert periods == {3600}
    assert (long_fast["EvaluationPeriods"], long_fast["DatapointsToAlarm"], long_fast["Threshold"]) == (1, 1, 14.4)
    expression = next(q["Expression"] for q in long_fast["Metrics"] if "Expression" in q)
    assert expression == "IF(api_count_w3600 >= 50, 100 * api_5xx_w3600 / api_count_w3600 / 0.1, 0)"
    # AND every window fits CloudWatch's limits: an alarm period (a multiple of 60) within 7 days in all
    for name, props in alarms.items():
        if "-error-budget-" in name:
            period = next(q["MetricStat"]["Period"] for q in props["Metrics"] if "MetricStat" in q)
            assert period % 60 == 0 and period * props["EvaluationPeriods"] <= 604_800, name


def test_each_pair_is_a_composite_of_both_windows_and_the_paging_pairs_page_through_ingestion_at_risk():
    # GIVEN prod's composites and alarms
    composites = by_name(PROD, "AWS::CloudWatch::CompositeAlarm")
    alarms = by_name(PROD, "AWS::CloudWatch::Alarm")
    at_risk = composites[PROD.resource_name("ingestion-at-risk-high")]
    for pair, tier in (("fast-burn", "high"), ("steady-burn", "high"), ("slow-burn", "low")):
        long, short = (PROD.resource_name(f"error-budget-{pair}-{role}-{tier}") for role in ("long", "short"))
        name = PROD.resource_name(f"error-budget-{pair}-{tier}")
        composite = composites[name]
        # THEN it needs both windows, and its windows notify nobody themselves
        assert composite["AlarmRule"] == f'ALARM("{long}") AND ALARM("{short}")'
        assert alarms[long]["AlarmActions"] == alarms[short]["AlarmActions"] == []
        # AND a paging pair pages through ingestion-at-risk (one outage: one page, not three), created first;
        # the slow burn notifies the low tier itself
        if tier == "high":
            assert f'ALARM("{name}")' in at_risk["AlarmRule"] and composite["AlarmActions"] == []
        else:
            assert f'ALARM("{name}")' not in at_risk["AlarmRule"]
            assert composite["AlarmActions"] == composite["OKActions"] == [{"Ref": "LowTopic"}]
    template = full_template(PROD).to_dict()["Resources"]
    assert {"ErrorBudgetFastBurnHighCompositeAlarm", "ErrorBudgetSteadyBurnHighCompositeAlarm"} <= set(
        template["IngestionAtRiskHighCompositeAlarm"]["DependsOn"]
    )


def test_local_windows_scale_down_with_its_slo_window_to_whole_periods():
    # GIVEN the local environment's 2-hour SLO window and 10-second periods
    pairs = burn_windows(LOCAL.monitoring)
    # THEN the windows are seconds to minutes, whole periods, with the workbook's burn rates
    assert [(p.long_seconds, p.short_seconds, p.burn_rate) for p in pairs] == [
        (10, 10, 14.4),
        (60, 10, 6.0),
        (720, 60, 1.0),
    ]
    assert len(composite_definitions(LOCAL)) == 4


# --- how the local table judges traffic (the same evaluation as the local stack's and the backtest's) -------

PERIOD = LOCAL.monitoring.period_seconds
START = 1_796_000_000 // 720 * 720


def burn_definitions() -> Definitions:
    table = table_definitions(LOCAL)
    return Definitions(
        [d for d in table.alarms if "-error-budget-" in d["AlarmName"]],
        [d for d in table.composites if "-error-budget-" in d["AlarmName"]],
    )


def traffic(periods: int, requests: int, errors_at: dict[int, int]) -> History:
    """`requests` a period; errors_at: {period index: 5XX answers in it}."""
    count_stat, errors_stat = None, None
    for key, stat in metric_stats(burn_definitions()).items():
        if stat["Metric"]["MetricName"] == "Count":
            count_stat = key
        else:
            errors_stat = key
    assert count_stat and errors_stat
    times = [START + index * PERIOD for index in range(periods)]
    series = {
        count_stat: {t: float(requests) for t in times},
        errors_stat: {t: float(errors_at.get(index, 0)) for index, t in enumerate(times)},
    }
    return History(START, START + periods * PERIOD, series)


def fired(history: History) -> set[str]:
    return {
        t.alarm.removeprefix(LOCAL.resource_name(""))
        for t in backtest(burn_definitions(), history).transitions
        if t.new == "ALARM" and "-long-" not in t.alarm and "-short-" not in t.alarm
    }


def test_a_short_burst_of_a_few_percent_pages_and_stops_when_it_stops():
    # GIVEN 100 requests a period WHEN 3 % of them fail for two periods, then none
    outcome = backtest(burn_definitions(), traffic(150, 100, {100: 3, 101: 3}))
    # THEN the fast burn pages at once (the steady pair too: 3 % is 30× the budget's pace)
    pages = {t.alarm: t.time for t in outcome.transitions if t.new == "ALARM" and t.alarm.endswith("-burn-high")}
    assert pages[LOCAL.resource_name("error-budget-fast-burn-high")] == START + 101 * PERIOD
    # AND it is OK again one short window after the errors stopped, while the long windows still remember them
    cleared = [t for t in outcome.transitions if t.alarm == LOCAL.resource_name("error-budget-fast-burn-high")]
    assert [t.new for t in cleared] == ["ALARM", "OK"] and cleared[-1].time == START + 103 * PERIOD


def test_a_steady_trickle_well_under_the_objective_stays_quiet():
    # GIVEN 100 requests a period, error-free for longer than the longest window (a window holding only the first
    # periods of a history judges those alone) WHEN then one fails every 30 periods (0.033 %: a third of the
    # budget's pace) THEN nothing fires
    assert fired(traffic(400, 100, {index: 1 for index in range(100, 400, 30)})) == set()


def test_a_trickle_that_spends_the_budget_in_days_reaches_the_low_tier_only():
    # GIVEN 100 requests a period WHEN one fails every 4 periods (0.25 %: the 30-day budget would last 12 days)
    # THEN the slow burn notifies the low tier, and nothing pages (1 in 100 is below 14.4 and 6× the pace over
    # the paging pairs' long windows)
    assert fired(traffic(400, 100, {index: 1 for index in range(100, 400, 4)})) == {"error-budget-slow-burn-low"}


@pytest.mark.parametrize("requests", [2, 4])
def test_a_window_with_fewer_requests_than_the_minimum_burns_nothing(requests):
    # GIVEN fewer requests per window than monitoring.min_requests_per_period, every one failing
    assert requests < LOCAL.monitoring.min_requests_per_period
    # WHEN the fast pair judges them THEN it stays quiet (the slow pair's longer window does count them)
    assert "error-budget-fast-burn-high" not in fired(traffic(20, requests, dict.fromkeys(range(20), requests)))
