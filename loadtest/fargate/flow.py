"""One Fargate run's Locust part, start to finish: upload the bundle, start the master and N workers, watch
them within a hard time limit, stop every task (on success, on failure, on Ctrl-C or SIGTERM) and collect the
results into the run's folder. The rest of the run — drain, reconciliation, expectations, report — is the
local run's (loadtest/run.py), which calls this in place of starting local Locust processes.
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from loadtest.fargate.bundle import build_bundle
from loadtest.fargate.container import LOCUST_ARGS_ENV, RESULTS_POST_ENV, RUN_DIR
from loadtest.fargate.stack import BUNDLE_URL_ENV, MASTER, MASTER_PORT, WORKER
from loadtest.locust_process import (
    STOP_TIMEOUT_SECONDS,
    LocustOutcome,
    LocustPlan,
    locust_arguments,
    reporting_arguments,
)
from loadtest.target import API_KEY_ENV
from ops.progress import ProgressLine

FARGATE_WORKER_WAIT_SECONDS = 300  # image pull and network interface: a Fargate task starts in a minute or two
STOP_WAIT_SECONDS = 120  # after StopTask: the containers' StopTimeout (60 s) and ECS's own bookkeeping
URL_MARGIN_SECONDS = 600  # the presigned URLs outlive the hard limit by this much (uploads after a stop)
RESULTS_MAX_BYTES = 512 * 1024 * 1024  # one result file; the POST policy refuses larger
BUNDLE_DIR_IN_TASK = Path("loadtest")  # relative to the unpacked bundle, where the task runs


class Tasks(Protocol):
    """EcsTasks on Fargate, LocalTasks in the rehearsal."""

    started: list[str]

    def start(self, role: str, count: int, environment: dict[str, str]) -> list[str]: ...
    def statuses(self, names: Sequence[str]) -> dict[str, str]: ...
    def address(self, name: str) -> str | None: ...
    def exit_code(self, name: str) -> int | None: ...
    def stop(self, names: Sequence[str], reason: str) -> list[str]: ...


@dataclass(frozen=True)
class FargateSettings:
    workers: int
    bind_host: str = "*"  # Locust's default; in awsvpc only the security group's members reach the port
    port: int = MASTER_PORT
    worker_wait_seconds: float = FARGATE_WORKER_WAIT_SECONDS
    poll_seconds: float = 5.0  # DescribeTasks is throttled per account: a look every few seconds is enough
    stop_wait_seconds: float = STOP_WAIT_SECONDS


def hard_limit_seconds(duration: float, settings: FargateSettings) -> float:
    """The longest the tasks may run: the load, the workers' start, Locust's stop and the upload."""
    return duration + settings.worker_wait_seconds + STOP_TIMEOUT_SECONDS + 60


def task_plan(plan: LocustPlan) -> LocustPlan:
    """The plan as a task sees it: its folder is the bundle's results folder."""
    return replace(plan, folder=Path(RUN_DIR), web=False)


def master_arguments(plan: LocustPlan, settings: FargateSettings) -> list[str]:
    inside = task_plan(plan)
    return [
        *locust_arguments(inside, "locust-master.log", BUNDLE_DIR_IN_TASK),
        *reporting_arguments(inside),
        "--master",
        "--master-bind-host",
        settings.bind_host,
        "--master-bind-port",
        str(settings.port),
        "--expect-workers",
        str(settings.workers),
        "--expect-workers-max-wait",
        str(int(settings.worker_wait_seconds)),
    ]


def worker_arguments(plan: LocustPlan, settings: FargateSettings, master: str) -> list[str]:
    inside = task_plan(plan)
    return [
        *locust_arguments(inside, "locust-worker.log", BUNDLE_DIR_IN_TASK),
        "--worker",
        "--master-host",
        master,
        "--master-port",
        str(settings.port),
    ]


@contextlib.contextmanager
def interrupted_by_sigterm() -> Iterator[None]:
    """SIGTERM ends the run as Ctrl-C does (KeyboardInterrupt), so the same `finally` stops the tasks."""

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def uninterruptible() -> Iterator[None]:
    """While the tasks are being stopped, a second Ctrl-C must not leave them running."""
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class FargateLauncher:
    """Runs Locust on the tasks in place of loadtest/locust_process.run_locust (same call, same outcome)."""

    def __init__(
        self,
        tasks: Tasks,
        s3: Any,
        bucket: str,
        settings: FargateSettings,
        progress: ProgressLine | None = None,
        bundle: Callable[[], bytes] = build_bundle,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.tasks = tasks
        self.s3 = s3
        self.bucket = bucket
        self.settings = settings
        self.progress = progress or ProgressLine()
        self.bundle = bundle
        self.clock = clock
        self.sleep = sleep
        self.notes: list[str] = []

    def __call__(
        self, plan: LocustPlan, api_key: str, on_tick: Callable[[float], None] = lambda elapsed: None
    ) -> LocustOutcome:
        plan.folder.mkdir(parents=True, exist_ok=True)
        limit = hard_limit_seconds(plan.duration, self.settings)
        prefix = f"runs/{plan.folder.name}/"
        bundle_url, post = self._upload(prefix, limit + URL_MARGIN_SECONDS)
        shared = {BUNDLE_URL_ENV: bundle_url, RESULTS_POST_ENV: json.dumps(post), API_KEY_ENV: api_key}
        started = self.clock()
        exit_code: int | None = None
        try:
            with interrupted_by_sigterm():
                exit_code = self._run(plan, shared, started, limit)
        finally:
            with uninterruptible():
                reason = "the run ended" if exit_code is not None else "stopped by sluice: time limit, error or Ctrl-C"
                self._stop_all(reason)
                self._collect(prefix + "results/", plan.folder)
        return LocustOutcome(exit_code, self.clock() - started)

    def _upload(self, prefix: str, expires: float) -> tuple[str, dict[str, Any]]:
        key = prefix + "bundle.zip"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=self.bundle())
        url = self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=int(expires)
        )
        results = prefix + "results/"
        post = self.s3.generate_presigned_post(
            self.bucket,
            results + "${filename}",
            Conditions=[["starts-with", "$key", results], ["content-length-range", 0, RESULTS_MAX_BYTES]],
            ExpiresIn=int(expires),
        )
        return url, {"url": post["url"], "fields": post["fields"], "prefix": results}

    def _run(self, plan: LocustPlan, shared: dict[str, str], started: float, limit: float) -> int | None:
        """The master's exit code, or None when the hard limit stopped the run."""
        settings = self.settings
        master_environment = {**shared, LOCUST_ARGS_ENV: json.dumps(master_arguments(plan, settings))}
        (master,) = self.tasks.start(MASTER, 1, master_environment)
        address = None
        while address is None:
            if self._past(started, limit, "waiting for the master's address"):
                return None
            address = self.tasks.address(master)
            if address is None:
                self.sleep(settings.poll_seconds)
        worker_environment = {**shared, LOCUST_ARGS_ENV: json.dumps(worker_arguments(plan, settings, address))}
        workers = self.tasks.start(WORKER, settings.workers, worker_environment)
        while True:
            statuses = self.tasks.statuses([master, *workers])
            if statuses[master] == "STOPPED":
                return self.tasks.exit_code(master)
            if self._past(started, limit, "the run"):
                return None
            running = sum(1 for name in workers if statuses[name] == "RUNNING")
            elapsed = self.clock() - started
            self.progress.show(
                f"load on Fargate: master {statuses[master].lower()}, {running}/{len(workers)} workers running, "
                f"{elapsed:.0f} s of at most {limit:.0f} s"
            )
            self.sleep(settings.poll_seconds)

    def _past(self, started: float, limit: float, what: str) -> bool:
        if self.clock() - started <= limit:
            return False
        self.notes.append(f"hard time limit of {limit:.0f} s reached ({what}): every task was stopped")
        return True

    def _stop_all(self, reason: str) -> None:
        names = list(self.tasks.started)
        if not names:
            return
        running = [name for name, status in self.tasks.statuses(names).items() if status != "STOPPED"]
        self.notes += self.tasks.stop(running, reason)
        deadline = self.clock() + self.settings.stop_wait_seconds
        while running and self.clock() < deadline:
            self.progress.show(f"load on Fargate: stopping {len(running)} task(s)")
            self.sleep(self.settings.poll_seconds)
            running = [name for name, status in self.tasks.statuses(running).items() if status != "STOPPED"]
        if running:
            self.notes.append(f"{len(running)} task(s) not STOPPED after {self.settings.stop_wait_seconds:.0f} s")
        self.progress.done(f"load on Fargate: {len(names) - len(running)} of {len(names)} task(s) stopped")

    def _collect(self, results: str, folder: Path) -> None:
        """Every task's files into the run's folder; a name two tasks wrote (their logs) gets the task's name."""
        objects = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=results):
            objects += [item["Key"] for item in page.get("Contents", [])]
        names = [key[len(results) :].split("/", 1) for key in objects if "/" in key[len(results) :]]
        objects = [key for key in objects if "/" in key[len(results) :]]
        counts: dict[str, int] = {}
        for _, name in names:
            counts[name] = counts.get(name, 0) + 1
        for key, (task, name) in zip(objects, names, strict=True):
            target = folder / (name if counts[name] == 1 else f"{task}-{name}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
