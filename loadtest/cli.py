"""`invoke load`: the arguments as a person types them, the run, and what is printed at the end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from loadtest.errors import LoadTestError
from loadtest.expectations import Check
from loadtest.fargate.outputs import DEFAULT_STACK_NAME
from loadtest.run import RunOptions, RunResult, open_target, run_scenario
from loadtest.scenarios import SCENARIOS, get_scenario
from local.state import DEFAULT_PATHS

Number = TypeVar("Number", int, float)


def scenario_table() -> str:
    width = max(len(name) for name in SCENARIOS)
    return "\n".join(f"  {name:<{width}}  {scenario.description}" for name, scenario in SCENARIOS.items())


def _positive_or_none(value: float | int | str | None, name: str, kind: Callable[[Any], Number]) -> Number | None:
    """0 (the task's default) means "the scenario's own value"."""
    if value in (None, "", 0, "0"):
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise LoadTestError(f"--{name}: expected a number, got {value!r}") from None
    if number <= 0:
        raise LoadTestError(f"--{name}: expected a positive number, got {value!r}")
    return number


def run_load(
    scenario: str,
    target: str = "local",
    users: int | str | None = None,
    rate: float | str | None = None,
    duration: float | str | None = None,
    workers: int | str | None = 0,
    web: bool = False,
    outputs: str | Path | None = None,  # the local stack's outputs file (default: the project's .local/)
    reports: str = "reports",
    profile: str | None = None,
    region: str | None = None,
    fargate_workers: int | str | None = 0,
    yes: bool = False,
    fargate_stack: str = DEFAULT_STACK_NAME,
) -> RunResult:
    """Run one scenario; raises LoadTestError for anything the person can fix."""
    chosen = get_scenario(scenario)
    if chosen.fault and target != "local":  # refused before any AWS call
        raise LoadTestError(
            f"scenario {chosen.name!r} injects the fault {chosen.fault.name!r}: fault scenarios run only "
            f"against the local stack (--target local), never against {target!r}"
        )
    worker_count = _whole_number(workers, "workers")
    fargate_count = _whole_number(fargate_workers, "fargate-workers")
    if fargate_count and worker_count:
        raise LoadTestError("--workers (local processes) and --fargate-workers (tasks on Fargate): choose one")
    options = RunOptions(
        users=_positive_or_none(users, "users", int),
        rate=_positive_or_none(rate, "rate", float),
        duration=_positive_or_none(duration, "duration", float),
        workers=fargate_count or worker_count,
        web=web,
        reports_dir=Path(reports),
    )
    stack_target, view = open_target(target, Path(outputs) if outputs else DEFAULT_PATHS.outputs, profile, region)
    if fargate_count:
        from loadtest.fargate.runner import run_on_fargate  # boto3 clients and troposphere: only when asked

        return run_on_fargate(chosen, stack_target, view, options, fargate_stack, yes)
    return run_scenario(chosen, stack_target, view, options)


def _whole_number(value: int | str | None, name: str) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise LoadTestError(f"--{name}: expected a whole number, got {value!r}") from None


def check_line(check: Check) -> str:
    return f"  {'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}"


def describe(result: RunResult) -> str:
    record = result.record
    lines = [f"{record.scenario.name} on {record.target}: {'PASSED' if result.passed else 'FAILED'}"]
    lines += [check_line(check) for check in record.checks]
    if record.knee is not None:
        lines.append(f"  knee: {record.knee.describe()}")
    lines.append(f"  report: {result.report}")
    return "\n".join(lines)
