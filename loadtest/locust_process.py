"""Running Locust as processes: one headless process, or a master with N workers on 127.0.0.1.

Master and workers are separate `python -m locust` processes talking over Locust's own protocol: the
same mode that spans machines (start more `--worker` processes elsewhere with `--master-host`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from core.paths import PROJECT_ROOT
from loadtest.errors import LoadTestError
from loadtest.report import LOCUST_HTML, LOCUST_PREFIX
from loadtest.scenarios import Scenario
from loadtest.target import API_KEY_ENV

LOADTEST_DIR = Path(__file__).resolve().parent
STOP_TIMEOUT_SECONDS = 10  # users finish their request (and log its ids) before they stop
STARTUP_GRACE_SECONDS = 60  # bound on process start-up, worker connection and the final reports
WORKER_WAIT_SECONDS = 30
LOCALHOST = "127.0.0.1"


@dataclass(frozen=True)
class LocustPlan:
    scenario: Scenario
    host: str
    env: str
    users: int
    rate: float
    duration: float
    workers: int
    folder: Path
    web: bool = False
    web_port: int = 8089

    @property
    def deadline_seconds(self) -> float:
        """The hard bound on the whole Locust run; the shape normally ends it long before."""
        return self.duration + STARTUP_GRACE_SECONDS + STOP_TIMEOUT_SECONDS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOCALHOST, 0))
        return int(probe.getsockname()[1])


# Locust's own command, from the same environment as this Python.
LOCUST = str(Path(sys.executable).parent / "locust")


def locust_files(shape: str, loadtest_dir: Path = LOADTEST_DIR) -> str:
    return f"{loadtest_dir / 'locustfile.py'},{loadtest_dir / 'shapes' / f'{shape}.py'}"


def _common(plan: LocustPlan, log_name: str) -> list[str]:
    return [LOCUST, *locust_arguments(plan, log_name)]


def locust_arguments(plan: LocustPlan, log_name: str, loadtest_dir: Path = LOADTEST_DIR) -> list[str]:
    """Every argument both modes share, after the executable; the Fargate tasks run them from their bundle."""
    return [
        "-f",
        locust_files(plan.scenario.shape, loadtest_dir),
        *plan.scenario.mix,  # only the scenario's user classes run
        "--host",
        plan.host,
        "--sluice-scenario",
        plan.scenario.name,
        "--sluice-env",
        plan.env,
        "--sluice-users",
        str(plan.users),
        "--sluice-rate",
        f"{plan.rate:g}",
        "--sluice-duration",
        f"{plan.duration:g}",
        "--sluice-run-dir",
        str(plan.folder),
        "--logfile",
        str(plan.folder / log_name),
        "--loglevel",
        "INFO",
    ]


def reporting_arguments(plan: LocustPlan) -> list[str]:
    """What the process that decides the run (single or master) reports, and how it stops."""
    run_mode = (
        ["--web-host", LOCALHOST, "--web-port", str(plan.web_port), "--autostart", "--autoquit", "5"]
        if plan.web
        else ["--headless", "--only-summary"]
    )
    return [
        *run_mode,
        "--csv",
        str(plan.folder / LOCUST_PREFIX),
        "--html",
        str(plan.folder / LOCUST_HTML),
        "--stop-timeout",
        str(STOP_TIMEOUT_SECONDS),
    ]


def single_command(plan: LocustPlan) -> list[str]:
    return [*_common(plan, "locust.log"), *reporting_arguments(plan)]


def master_command(plan: LocustPlan, port: int) -> list[str]:
    return [
        *_common(plan, "locust-master.log"),
        *reporting_arguments(plan),
        "--master",
        "--master-bind-host",
        LOCALHOST,
        "--master-bind-port",
        str(port),
        "--expect-workers",
        str(plan.workers),
        "--expect-workers-max-wait",
        str(WORKER_WAIT_SECONDS),
    ]


def worker_command(plan: LocustPlan, port: int, index: int) -> list[str]:
    return [
        *_common(plan, f"locust-worker-{index}.log"),
        "--worker",
        "--master-host",
        LOCALHOST,
        "--master-port",
        str(port),
    ]


def commands(plan: LocustPlan, port: int | None = None) -> list[list[str]]:
    """The processes to start, the one that decides the run first."""
    # Locust runs in the project root: a run folder relative to the caller's directory would land there instead
    plan = replace(plan, folder=plan.folder.absolute())
    if plan.workers <= 0:
        return [single_command(plan)]
    port = port or free_port()
    return [master_command(plan, port), *(worker_command(plan, port, index) for index in range(plan.workers))]


def environment(api_key: str, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.pop("LOCUST_SKIP_MONKEY_PATCH", None)  # set by our tests; Locust itself needs gevent's patches
    env[API_KEY_ENV] = api_key
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


@dataclass(frozen=True)
class LocustOutcome:
    exit_code: int | None  # None: we had to stop it at the deadline
    seconds: float


def run_locust(
    plan: LocustPlan,
    api_key: str,
    on_tick: Callable[[float], None] = lambda elapsed: None,
    tick_seconds: float = 1.0,
) -> LocustOutcome:
    """Start the processes, call `on_tick(elapsed)` every second, stop everything by the deadline."""
    plan.folder.mkdir(parents=True, exist_ok=True)
    env = environment(api_key)
    processes: list[subprocess.Popen[bytes]] = []
    started = time.monotonic()
    try:
        for index, command in enumerate(commands(plan)):
            output = (plan.folder / f"locust-{'main' if index == 0 else f'worker-{index - 1}'}.out").open("wb")
            processes.append(
                subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
            )
            output.close()  # the child holds its own descriptor
        main = processes[0]
        while main.poll() is None:
            elapsed = time.monotonic() - started
            if elapsed > plan.deadline_seconds:
                _stop(processes)
                return LocustOutcome(None, elapsed)
            on_tick(elapsed)
            time.sleep(tick_seconds)
        _wait_workers(processes[1:])
        return LocustOutcome(main.returncode, time.monotonic() - started)
    finally:
        _stop(processes)


def _wait_workers(workers: Sequence[subprocess.Popen[bytes]], timeout: float = 15.0) -> None:
    """Workers quit when the master does; give them a moment to flush their ids."""
    deadline = time.monotonic() + timeout
    for worker in workers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(max(0.1, deadline - time.monotonic()))


def _stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def log_tail(folder: Path, lines: int = 15) -> str:
    """The end of the main process's output, for an error message."""
    path = folder / "locust-main.out"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def require_locust_output(folder: Path, outcome: LocustOutcome) -> None:
    if not (folder / f"{LOCUST_PREFIX}_stats.csv").exists():
        raise LoadTestError(f"Locust wrote no statistics (exit {outcome.exit_code}):\n{log_tail(folder)}")
