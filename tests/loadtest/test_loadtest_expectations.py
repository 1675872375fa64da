"""Expectation checking and the signal → alarm-name mapping, on fake observations."""

from __future__ import annotations

from alarms.table import alarm_definitions, composite_definitions
from core.config import load_config
from dashboards.catalog import build_catalog
from loadtest.alarm_rows import ALL_OTHERS, alarms_of_row, resolve
from loadtest.expectations import Observed, check_expectations, fired_alarms
from loadtest.locust_stats import Row
from loadtest.profiles import Slo
from loadtest.reconcile import Reconciliation
from loadtest.scenarios import SCENARIOS, Expectations
from loadtest.stack import Transition

SLO = Slo(p99_ms=500, error_ratio=0.01)


def catalog_alarm_names() -> list[str]:
    """The alarm names the local stack really has: the catalog's rows and composites (alarms/table.py)."""
    config = load_config("local")
    definitions = alarm_definitions(config, build_catalog(config))
    return [item.name for item in definitions] + [item.name for item in composite_definitions(config)]


ALARMS = catalog_alarm_names()
GOOD_TOTALS = Row("Aggregated", 1000, 2, 20.0, 40.0, 300.0)
CLEAN = Reconciliation(requests=900, accepted=1200, stored=1200, lost=(), duplicates=0, idempotent_repeats=12)


def went(alarm: str, new: str = "ALARM", at: float = 10.0) -> Transition:
    return Transition(alarm, "OK", new, at)


def observed(transitions: list[Transition] = (), totals: Row = GOOD_TOTALS, result=CLEAN) -> Observed:
    return Observed(totals, result, ALARMS, list(transitions), drained=True)


def failed(checks) -> list[str]:
    return [check.name for check in checks if not check.ok]


def test_a_row_finds_its_own_alarms_not_the_rows_it_prefixes() -> None:
    # GIVEN the catalog's alarm names WHEN rows look for their alarms THEN each finds its tiers only
    assert alarms_of_row("api-4xx-rate", ALARMS) == ["sluice-local-api-4xx-rate-low"]
    assert alarms_of_row("queue-age", ALARMS) == ["sluice-local-queue-age-high", "sluice-local-queue-age-low"]
    assert alarms_of_row("dlq-visible", ALARMS) == ["sluice-local-dlq-visible-high"]
    # (the composite is a row of its own: its children, rows it prefixes, are not its alarms)
    assert alarms_of_row("error-budget-fast-burn", ALARMS) == ["sluice-local-error-budget-fast-burn-high"]
    assert alarms_of_row("enqueue-gap", ALARMS) == ["sluice-local-enqueue-gap-high"]


def test_rows_ignore_case_and_separators() -> None:
    assert alarms_of_row("api-4xx-rate", ["Sluice_Dev_API_4XX_Rate_Low", "sluice-dev-api-5xx-rate-high"]) == [
        "Sluice_Dev_API_4XX_Rate_Low"
    ]


def test_all_others_expands_to_every_alarm_not_excluded() -> None:
    resolved = resolve([ALL_OTHERS], ALARMS, exclude=alarms_of_row("queue-age", ALARMS))
    assert len(resolved[ALL_OTHERS]) == len(ALARMS) - 2


def test_fired_alarms_are_those_that_entered_alarm_in_time_order() -> None:
    transitions = [went("b", at=5), went("a", "OK", at=1), went("a", at=7), went("b", at=9)]
    assert fired_alarms(transitions) == ["b", "a"]


def test_steady_passes_when_the_slo_holds_nothing_is_lost_and_no_alarm_fires() -> None:
    # GIVEN the steady scenario's expectations and a clean run
    checks = check_expectations(SCENARIOS["steady"].expectations, SLO, observed())
    # THEN every check holds
    assert failed(checks) == []


def test_steady_fails_when_any_alarm_fires() -> None:
    checks = check_expectations(SCENARIOS["steady"].expectations, SLO, observed([went("sluice-local-queue-age-low")]))
    assert failed(checks) == ["every other alarm stays OK"]


def test_bad_input_needs_the_4xx_alarm_and_nothing_else() -> None:
    expectations = SCENARIOS["bad-input"].expectations
    # GIVEN the 4XX alarm fired: the scenario passes
    assert failed(check_expectations(expectations, SLO, observed([went("sluice-local-api-4xx-rate-low")]))) == []
    # GIVEN it did not fire: the must-fire check fails
    assert failed(check_expectations(expectations, SLO, observed())) == ["api-4xx-rate alarm fires"]
    # GIVEN the 5XX alarm fired as well: the stay-OK check fails
    both = [went("sluice-local-api-4xx-rate-low"), went("sluice-local-api-5xx-rate-high")]
    assert failed(check_expectations(expectations, SLO, observed(both))) == ["every other alarm stays OK"]


OUTAGE_ALARMS = [
    went("sluice-local-retries-low"),
    went("sluice-local-canary-failing-high"),
    went("sluice-local-ingestion-at-risk-high"),
]


def test_db_outage_needs_retries_told_one_page_no_dead_letter_and_zero_loss() -> None:
    expectations = SCENARIOS["db-outage"].expectations
    transitions = OUTAGE_ALARMS
    # GIVEN the retries alarm and the incident fired and everything was stored after the outage: passes
    assert failed(check_expectations(expectations, SLO, observed(transitions))) == []
    # GIVEN the old expectation's queue-age instead of the incident (parked events never age in the queue): fails
    queue_age = [went("sluice-local-retries-low"), went("sluice-local-queue-age-low")]
    assert failed(check_expectations(expectations, SLO, observed(queue_age))) == ["ingestion-at-risk alarm fires"]
    # GIVEN 3 ids were lost: the loss check fails
    lossy = Reconciliation(900, 1200, 1197, ("a", "b", "c"), 0, 0)
    assert failed(check_expectations(expectations, SLO, observed(transitions, result=lossy))) == ["zero loss"]
    # GIVEN events were dead-lettered: the DLQ must stay quiet through an outage inside the retry window
    dead = [*transitions, went("sluice-local-dlq-visible-high")]
    assert failed(check_expectations(expectations, SLO, observed(dead))) == ["dlq-visible alarms stay OK"]


def test_a_must_fire_row_without_any_alarm_fails_and_says_so() -> None:
    expectations = Expectations(must_fire=frozenset({"dlq-visible"}))
    checks = check_expectations(expectations, SLO, Observed(GOOD_TOTALS, CLEAN, [], [], True))
    assert failed(checks) == ["dlq-visible alarm fires"]
    assert "no alarm of row 'dlq-visible'" in checks[-1].detail


def test_slo_checks_fail_on_latency_and_errors() -> None:
    slow = Row("Aggregated", 1000, 50, 20.0, 40.0, 900.0)
    checks = check_expectations(Expectations(), SLO, observed(totals=slow))
    assert failed(checks) == ["p99 ≤ 500 ms", "error ratio ≤ 1.00%"]


def test_duplicates_and_a_missing_reconciliation_fail() -> None:
    duplicated = Reconciliation(900, 1200, 1200, (), duplicates=2, idempotent_repeats=0)
    assert failed(check_expectations(Expectations(), SLO, observed(result=duplicated))) == ["no duplicate ids"]
    assert failed(check_expectations(Expectations(), SLO, observed(result=None))) == ["zero loss"]


def test_a_run_without_requests_never_passes() -> None:
    empty = Row("Aggregated", 0, 0, 0.0, 0.0, 0.0)
    expectations = Expectations(check_latency=False, check_errors=False)
    assert "requests made" in failed(check_expectations(expectations, SLO, observed(totals=empty)))


def test_db_outage_checks_errors_but_not_latency() -> None:
    slow = Row("Aggregated", 1000, 0, 20.0, 40.0, 2000.0)
    checks = check_expectations(SCENARIOS["db-outage"].expectations, SLO, observed(OUTAGE_ALARMS, totals=slow))
    assert failed(checks) == []
    assert "error ratio ≤ 1.00%" in [check.name for check in checks]
