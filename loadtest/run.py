"""One scenario, start to finish: load, fault, drain, replay, reconcile, alarms, expectations, report.

This process never imports Locust (whose import patches the standard library with gevent): Locust runs
in its own processes (loadtest/locust_process.py) and hands back CSV files and the accepted-ids logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from alarms.history import RECORDING_FILE, save_recording
from loadtest.alarm_rows import resolve
from loadtest.errors import LoadTestError
from loadtest.expectations import Observed, check_expectations, fired_alarms
from loadtest.idlog import merge_id_logs
from loadtest.knee import find_knee
from loadtest.locust_process import LocustOutcome, LocustPlan, free_port, require_locust_output, run_locust
from loadtest.locust_stats import read_failures, read_history, read_rows, read_totals
from loadtest.markers import LOAD_STARTED, LOAD_STOPPED, read_marker
from loadtest.profiles import load_profile
from loadtest.reconcile import reconcile
from loadtest.record import RunRecord
from loadtest.report import LOCUST_PREFIX, write_report
from loadtest.sampler import DepthSampler
from loadtest.scenarios import Scenario
from loadtest.stack import AwsStackView, LocalStackView, StackView
from loadtest.stages import STAGES_FILE, read_stages
from loadtest.start_state import CLEAR_TIMEOUT_SECONDS, wait_for_known_start
from loadtest.target import resolve_load_target
from loadtest.waits import SETTLE_POLLS, drained, faults_cleared, wait_with_progress
from ops.outputs import Target
from ops.progress import ProgressLine

FAULT_CLEAR_GRACE_SECONDS = 30.0
MAX_WORKERS = 64
MIN_DURATION_SECONDS = 2


@dataclass(frozen=True)
class RunOptions:
    users: int | None = None
    rate: float | None = None
    duration: float | None = None
    workers: int = 0
    web: bool = False
    reports_dir: Path = Path("reports")
    poll_seconds: float = 1.0  # how often the waits after the load look at the stack
    alarm_clear_seconds: float = CLEAR_TIMEOUT_SECONDS  # for the judged alarms to leave ALARM before the load


@dataclass
class RunResult:
    record: RunRecord
    folder: Path
    report: Path
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.record.expectations_met


def open_target(
    name: str, outputs_path: Path, profile: str | None = None, region: str | None = None
) -> tuple[Target, StackView]:
    """`local` (the outputs file of `invoke up`) or a deployed environment of sluice.toml."""
    target = resolve_load_target(name, outputs_path, profile, region)
    return target, LocalStackView(target) if target.is_local else AwsStackView(target, target.session)


def check_options(scenario: Scenario, target: Target, options: RunOptions) -> None:
    """Refuse before anything starts: a fault against AWS, or numbers that make no sense."""
    if scenario.fault and not target.is_local:
        raise LoadTestError(
            f"scenario {scenario.name!r} injects the fault {scenario.fault.name!r}: fault scenarios run only "
            f"against the local stack (--target local), never against {target.name!r}"
        )
    if options.users is not None and options.users < 1:
        raise LoadTestError(f"--users must be at least 1, got {options.users}")
    if options.rate is not None and options.rate <= 0:
        raise LoadTestError(f"--rate must be positive, got {options.rate}")
    if options.duration is not None and options.duration < MIN_DURATION_SECONDS:
        raise LoadTestError(f"--duration must be at least {MIN_DURATION_SECONDS} seconds, got {options.duration:g}")
    if not 0 <= options.workers <= MAX_WORKERS:
        raise LoadTestError(f"--workers must be between 0 and {MAX_WORKERS}, got {options.workers}")


def run_folder(reports_dir: Path, scenario: str, now: float | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    folder = reports_dir / f"{stamp}-{scenario}"
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = reports_dir / f"{stamp}-{scenario}-{suffix}"
    return folder


def _safely(notes: list[str], what: str, call: Callable[[], Any], default: Any) -> Any:
    """A read that must not end the run: a failure becomes a note in the report."""
    try:
        return call()
    except LoadTestError as error:
        notes.append(f"{what}: {error}")
    except Exception as error:
        notes.append(f"{what}: {type(error).__name__}: {error}")
    return default


class _FaultInjector:
    def __init__(self, scenario: Scenario, view: StackView, notes: list[str]) -> None:
        self.fault = scenario.fault
        self.view = view
        self.notes = notes
        self.window: tuple[float, float] | None = None

    def tick(self, elapsed: float) -> None:
        if self.fault is None or self.window is not None or elapsed < self.fault.at_seconds:
            return
        self.view.inject(self.fault.name, self.fault.seconds)
        now = time.time()
        self.window = (now, now + self.fault.seconds)
        self.notes.append(f"fault {self.fault.name} injected at {elapsed:.0f} s for {self.fault.seconds:g} s")


# Runs Locust for a plan and hands back its outcome: local processes, or tasks on Fargate (loadtest/fargate/).
Launcher = Callable[[LocustPlan, str, Callable[[float], None]], LocustOutcome]


def run_scenario(
    scenario: Scenario,
    target: Target,
    view: StackView,
    options: RunOptions,
    progress: ProgressLine | None = None,
    launcher: Launcher | None = None,
) -> RunResult:
    check_options(scenario, target, options)
    progress = progress or ProgressLine()
    profile = load_profile(target.env)
    notes: list[str] = []
    users = options.users or scenario.users
    rate = options.rate or scenario.rate
    duration = options.duration or scenario.duration
    folder = run_folder(options.reports_dir, scenario.name)
    plan = LocustPlan(scenario, target.api_url, target.env, users, rate, duration, options.workers, folder, options.web)
    plan = replace(plan, web_port=free_port()) if options.web else plan

    states_at_start = _safely(notes, "alarm states", view.alarm_states, {})
    states_at_start = wait_for_known_start(
        scenario, states_at_start, view.alarm_states, progress, options.alarm_clear_seconds
    )
    sampler = DepthSampler(view.depth).start()
    injector = _FaultInjector(scenario, view, notes)
    launched = time.time()

    def tick(elapsed: float) -> None:
        load_started = read_marker(folder, LOAD_STARTED)
        if load_started is None:
            progress.show(f"load {scenario.name}: starting Locust ({elapsed:.0f} s)")
            return
        load_elapsed = time.time() - load_started
        injector.tick(load_elapsed)
        depth = sampler.latest.describe() if sampler.latest else "queue depth unknown"
        phase = f"{load_elapsed:.0f}/{duration:.0f} s" if load_elapsed <= duration else "stopping"
        progress.show(f"load {scenario.name}: {phase}, {depth}")

    if options.web:
        web_url = f"http://127.0.0.1:{plan.web_port}/"
        print(f"Locust web UI: {web_url} (the run starts by itself)")
        _safely(notes, "console link", lambda: view.announce_web(web_url, plan.deadline_seconds), None)
    try:
        outcome = (launcher or run_locust)(plan, target.api_key(), tick)
        started = read_marker(folder, LOAD_STARTED) or launched
        ended = read_marker(folder, LOAD_STOPPED) or time.time()
        progress.done(f"load {scenario.name}: finished after {outcome.seconds:.0f} s")
        notes.extend(getattr(launcher, "notes", ()))  # what a launcher saw: its time limit, a task it could not stop
        if outcome.exit_code is None and launcher is None:
            notes.append(f"Locust did not stop by itself within {plan.deadline_seconds:.0f} s and was stopped")
        require_locust_output(folder, outcome)
        _, requests = merge_id_logs(folder)
        drain_ok = _after_load(scenario, view, progress, notes, launched, options.poll_seconds)
        reconciliation = _safely(
            notes,
            "reconciliation",
            lambda: reconcile(requests, view.stored, view.analytics_counts(launched)),
            None,
        )
        _wait_for_alarms(scenario, view, progress, notes, launched, options.poll_seconds)
        transitions = _safely(notes, "alarm transitions", lambda: view.transitions(launched), [])
        alarm_names = sorted(set(_safely(notes, "alarm list", view.alarm_states, {})) | set(states_at_start))
        _safely(
            notes, "metric recording", lambda: _record_metrics(view, folder, launched, scenario, injector.window), None
        )
    finally:
        depth_samples = sampler.stop()
    if sampler.errors:
        notes.append(f"{sampler.errors} queue-depth samples failed")

    prefix = folder / LOCUST_PREFIX
    totals = read_totals(Path(f"{prefix}_stats.csv"))
    stages = read_stages(folder / STAGES_FILE)
    observed = Observed(totals, reconciliation, alarm_names, transitions, drain_ok)
    record = RunRecord(
        scenario=scenario,
        target=target.name,
        users=users,
        rate=rate,
        duration=duration,
        workers=options.workers,
        slo=profile.slo,
        started=started,
        ended=ended,
        totals=totals,
        rows=read_rows(Path(f"{prefix}_stats.csv")),
        failures=read_failures(Path(f"{prefix}_failures.csv")),
        history=read_history(Path(f"{prefix}_stats_history.csv")),
        depth=depth_samples,
        reconciliation=reconciliation,
        transitions=transitions,
        alarm_names=alarm_names,
        alarms_in_alarm_at_start=sorted(name for name, state in states_at_start.items() if state == "ALARM"),
        checks=check_expectations(scenario.expectations, profile.slo, observed),
        stages=stages,
        knee=find_knee(stages, profile.slo) if scenario.report_knee else None,
        fault_window=injector.window,
        notes=notes,
    )
    report = write_report(record, folder)
    return RunResult(record, folder, report, notes)


def _record_metrics(
    view: StackView, folder: Path, since: float, scenario: Scenario, fault_window: tuple[float, float] | None
) -> None:
    """The run's metric series, for `invoke alarms.backtest --run <folder>`; the fault's start is its marker."""
    document = view.metric_history(since, time.time())
    if fault_window is not None and scenario.fault is not None:
        document["markers"] = [{"time": fault_window[0], "label": scenario.fault.name}]
    save_recording(folder / RECORDING_FILE, document)


def _after_load(
    scenario: Scenario, view: StackView, progress: ProgressLine, notes: list[str], started: float, poll: float
) -> bool:
    """Let the stack finish: the fault expires, the queues drain, the archive is replayed and drains too."""
    if scenario.fault is not None:
        timeout = scenario.fault.at_seconds + scenario.fault.seconds + FAULT_CLEAR_GRACE_SECONDS
        wait_with_progress(faults_cleared(view.faults), "waiting for the fault to expire", timeout, progress, poll=poll)
    settle = SETTLE_POLLS
    result = wait_with_progress(drained(view.depth), "draining", scenario.drain_seconds, progress, settle, poll)
    if scenario.replay:
        replayed = _safely(notes, "replay", lambda: view.replay(started), None)
        notes.append(f"replayed the archive since the start: {replayed}")
        result = wait_with_progress(
            drained(view.depth), "draining the replay", scenario.drain_seconds, progress, settle, poll
        )
    if not result.done:
        notes.append(f"the queues had not drained after {scenario.drain_seconds:.0f} s: {result.note}")
    return result.done


def _wait_for_alarms(
    scenario: Scenario, view: StackView, progress: ProgressLine, notes: list[str], started: float, poll: float
) -> None:
    """Alarms evaluate periods after the fact: give the must-fire ones a bounded time to fire."""
    rows = sorted(scenario.expectations.must_fire)
    if not rows or scenario.alarm_wait_seconds <= 0:
        return

    def all_fired() -> tuple[bool, str]:
        names = list(view.alarm_states())
        fired = set(fired_alarms(view.transitions(started)))
        missing = [row for row, mapped in resolve(rows, names).items() if not fired & set(mapped)]
        return not missing, f"waiting for {', '.join(missing)}" if missing else "all fired"

    result = wait_with_progress(all_fired, "waiting for alarms", scenario.alarm_wait_seconds, progress, poll=2 * poll)
    if not result.done:
        notes.append(f"after {scenario.alarm_wait_seconds:.0f} s: {result.note}")
