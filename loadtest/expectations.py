"""Checking a scenario's expectations against what a run observed: pure, so it is tested on fakes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loadtest.alarm_rows import ALL_OTHERS, resolve
from loadtest.locust_stats import Row
from loadtest.profiles import Slo
from loadtest.reconcile import Reconciliation, S3Copy
from loadtest.scenarios import Expectations
from loadtest.stack import Transition
from ops.progress import counted

ALARM = "ALARM"
# How the latency check's name begins: the one check judged on wall-clock time (tests/load_verdicts.py).
LATENCY_CHECK = "p99 ≤"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Observed:
    totals: Row
    reconciliation: Reconciliation | None  # None: reconciliation could not run
    alarm_names: Sequence[str]
    transitions: Sequence[Transition]
    drained: bool


def fired_alarms(transitions: Sequence[Transition]) -> list[str]:
    """Alarms that went into ALARM at least once, in the order they first did."""
    fired: list[str] = []
    for transition in sorted(transitions, key=lambda item: item.time):
        if transition.new == ALARM and transition.alarm not in fired:
            fired.append(transition.alarm)
    return fired


def _slo_checks(expectations: Expectations, slo: Slo, totals: Row) -> list[Check]:
    checks = []
    if expectations.check_latency:
        checks.append(
            Check(f"{LATENCY_CHECK} {slo.p99_ms:.0f} ms", totals.p99_ms <= slo.p99_ms, f"p99 {totals.p99_ms:.0f} ms")
        )
    if expectations.check_errors:
        checks.append(
            Check(
                f"error ratio ≤ {slo.error_ratio:.2%}",
                totals.error_ratio <= slo.error_ratio,
                f"{totals.failures} of {totals.requests} requests failed ({totals.error_ratio:.2%})",
            )
        )
    return checks


def _loss_checks(observed: Observed) -> list[Check]:
    result = observed.reconciliation
    if result is None:
        return [Check("zero loss", False, "reconciliation did not run")]
    drained = "" if observed.drained else " (the queues had not drained: some may still be on their way)"
    table = [
        Check(
            "zero loss", result.lost_count == 0, f"{result.lost_count} of {result.accepted} accepted ids lost{drained}"
        ),
        Check(
            "no duplicate ids",
            result.duplicates == 0,
            f"{result.duplicates} duplicates; {result.idempotent_repeats} idempotent repeats (expected)",
        ),
    ]
    copy = [] if result.s3 is None else _s3_copy_checks(result.s3, result.accepted, drained)
    return table + copy


def _s3_copy_checks(copy: S3Copy, accepted: int, drained: str) -> list[Check]:
    return [
        Check("zero loss in the S3 copy", copy.lost_count == 0, f"{copy.lost_count} of {accepted} missing{drained}"),
        Check(
            "no duplicates in the S3 copy",
            copy.duplicates == 0,
            f"{copy.duplicates} extra rows of {len(copy.duplicated)} events in the view `events` "
            f"({copy.copies} identical copies in the objects, counted once; {copy.objects} objects read)",
        ),
    ]


def _alarm_checks(expectations: Expectations, observed: Observed) -> list[Check]:
    fired = set(fired_alarms(observed.transitions))
    known = ", ".join(sorted(observed.alarm_names)) or "none"
    checks = []
    must_fire = resolve(sorted(expectations.must_fire), observed.alarm_names)
    for row, names in must_fire.items():
        if not names:
            detail = f"no alarm of row {row!r} (alarms: {known})"
            checks.append(Check(f"{row} alarm fires", False, detail))
            continue
        hit = sorted(fired & set(names))
        checks.append(Check(f"{row} alarm fires", bool(hit), f"fired: {', '.join(hit) or 'none'} of {names}"))
    expected = {name for names in must_fire.values() for name in names}
    for row, names in resolve(sorted(expectations.must_stay_ok), observed.alarm_names, exclude=expected).items():
        label = "every other alarm stays OK" if row == ALL_OTHERS else f"{row} alarms stay OK"
        if not names:
            checks.append(Check(label, True, "no alarm matches: nothing to watch"))
            continue
        hit = sorted(fired & set(names))
        checks.append(Check(label, not hit, f"fired: {', '.join(hit)}" if hit else f"{len(names)} alarm(s) stayed OK"))
    return checks


def check_expectations(expectations: Expectations, slo: Slo, observed: Observed) -> list[Check]:
    checks = [Check("requests made", observed.totals.requests > 0, counted(observed.totals.requests, "request"))]
    checks += _slo_checks(expectations, slo, observed.totals)
    if expectations.zero_loss:
        checks += _loss_checks(observed)
    return checks + _alarm_checks(expectations, observed)
