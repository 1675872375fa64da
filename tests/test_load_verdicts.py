"""The tests' verdict on a load run leaves out latency only: on checks as check_expectations makes them and on
lines as `invoke load` prints them."""

from __future__ import annotations

import pytest

from loadtest.cli import check_line
from loadtest.expectations import Check, Observed, check_expectations
from loadtest.locust_stats import Row
from loadtest.profiles import Slo
from loadtest.reconcile import Reconciliation
from loadtest.scenarios import Expectations
from tests.load_verdicts import printed_failures_apart_from_latency, unmet_apart_from_latency

SLO = Slo(p99_ms=500, error_ratio=0.01)
SLOW = Row("Aggregated", 1000, 0, 20.0, 40.0, 900.0)  # p99 900 ms, no failure
LOSSY = Reconciliation(requests=900, accepted=1200, stored=1199, lost=("one",), duplicates=0, idempotent_repeats=0)
CLEAN = Reconciliation(requests=900, accepted=1200, stored=1200, lost=(), duplicates=0, idempotent_repeats=0)


def printed(checks: list[Check]) -> str:
    """The lines `invoke load` prints for the checks."""
    return "\n".join(check_line(check) for check in checks)


def test_a_slow_run_that_lost_nothing_is_met_apart_from_latency() -> None:
    # GIVEN a run over its p99 objective that lost nothing
    checks = check_expectations(Expectations(), SLO, Observed(SLOW, CLEAN, [], [], True))
    # THEN the latency check failed, and nothing else did
    assert [check.name for check in checks if not check.ok] == ["p99 ≤ 500 ms"]
    assert unmet_apart_from_latency(checks) == []
    assert printed_failures_apart_from_latency(printed(checks)) == []


def test_a_slow_run_that_lost_an_event_is_not() -> None:
    # GIVEN a run over its p99 objective that lost an event
    checks = check_expectations(Expectations(), SLO, Observed(SLOW, LOSSY, [], [], True))
    # THEN the loss is what the tests see
    assert unmet_apart_from_latency(checks) == ["zero loss"]
    assert printed_failures_apart_from_latency(printed(checks)) == ["zero loss"]


def test_a_failed_command_that_printed_no_failed_check_is_not_excused() -> None:
    # GIVEN output with every check ok (the exit code of 1 came from something else)
    checks = check_expectations(
        Expectations(), SLO, Observed(Row("Aggregated", 10, 0, 1.0, 2.0, 3.0), CLEAN, [], [], True)
    )
    # THEN it is an assertion, not an empty list
    with pytest.raises(AssertionError, match="no check failed"):
        printed_failures_apart_from_latency(printed(checks))
