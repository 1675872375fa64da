"""What the tests judge of a load run: every expectation but latency.

A run's p99 on a test machine (two cores shared by five local stacks, in CI perhaps beside a CPU-bound neighbour)
measures the machine, not the pipeline, and tests never assert wall-clock times: there the latency check is shown,
not judged. `invoke load` itself still fails a run whose p99 is over its SLO: that is its job for an operator."""

from __future__ import annotations

import re
from collections.abc import Sequence

from loadtest.expectations import LATENCY_CHECK, Check
from loadtest.run import RunResult

# A failed check as `invoke load` prints it (loadtest.cli.check_line): "  FAIL <name>: <detail>".
_PRINTED_FAILURE = re.compile(r"^  FAIL (.+?): ", re.MULTILINE)


def unmet_apart_from_latency(checks: Sequence[Check]) -> list[str]:
    """The names of the checks that failed, the latency check left out."""
    return [check.name for check in checks if not check.ok and not check.name.startswith(LATENCY_CHECK)]


def assert_met_apart_from_latency(result: RunResult) -> None:
    """Every expectation of the run holds (there is at least one besides latency), whatever its p99 was."""
    checks = result.record.checks
    assert any(not check.name.startswith(LATENCY_CHECK) for check in checks), "the run checked nothing"
    assert unmet_apart_from_latency(checks) == [], result.report.read_text()


def printed_failures_apart_from_latency(stdout: str) -> list[str]:
    """The checks `invoke load` printed as FAIL, the latency check left out; AssertionError if it printed none at
    all (an exit code of 1 without a failed check is some other failure)."""
    printed = _PRINTED_FAILURE.findall(stdout)
    assert printed, "no check failed, yet the command failed"
    return [name for name in printed if not name.startswith(LATENCY_CHECK)]
