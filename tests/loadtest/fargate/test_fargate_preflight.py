"""Before a Fargate run starts: the bundle holds all Locust needs, the cost is estimated, a person confirms."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from core.config import load_config
from loadtest.cli import run_load
from loadtest.errors import LoadTestError
from loadtest.fargate.bundle import ENTRY_MODULES, build_bundle
from loadtest.fargate.cost import fargate_usd, run_cost
from loadtest.fargate.runner import confirm, run_on_fargate
from loadtest.profiles import load_profile
from loadtest.run import RunOptions
from loadtest.scenarios import get_scenario
from ops.cost import Prices

PROJECT_PACKAGES = ("loadtest", "local", "ops", "cloudformation", "functions", "alarms", "dashboards", "tasks")
IMPORT_FROM_BUNDLE = """
import json, sys, importlib
home = sys.argv[1]
sys.path.insert(0, home)
for name in sys.argv[2:]:
    importlib.import_module(name)
outside = sorted(
    name for name, module in sys.modules.items()
    if name.split(".")[0] in {packages} and not (getattr(module, "__file__", None) or home).startswith(home)
)
print(json.dumps(outside))
"""


def test_the_bundle_alone_imports_everything_locust_runs(tmp_path: Path) -> None:
    # GIVEN the bundle unpacked in an empty folder, as the bootstrap unpacks it in a container
    zipfile.ZipFile(io.BytesIO(build_bundle())).extractall(tmp_path)
    # WHEN a Python without the project on its path imports the locustfile, every shape and the runner from it
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["LOCUST_SKIP_MONKEY_PATCH"] = "1"
    script = IMPORT_FROM_BUNDLE.format(packages=set(PROJECT_PACKAGES))
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), *ENTRY_MODULES],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # THEN every project module came from the bundle (none from the checkout the virtualenv points at)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    # AND the data the code reads is there too
    assert (tmp_path / "loadtest" / "profiles.toml").exists()


def test_the_bundle_is_the_same_bytes_each_time() -> None:
    # GIVEN two builds of the same tree THEN the same zip (fixed timestamps, sorted names)
    assert build_bundle() == build_bundle()


def test_fargate_is_billed_per_second_with_a_one_minute_minimum() -> None:
    prices = Prices.load()
    # GIVEN three one-vCPU, 2 GB tasks
    per_hour = 3 * (1 * prices("fargate", "vcpu_hour") + 2 * prices("fargate", "gb_hour"))
    # THEN an hour costs the hourly rates, and ten seconds cost the minute
    assert fargate_usd(prices, 3, 1.0, 2.0, 3600) == pytest.approx(per_hour)
    assert fargate_usd(prices, 3, 1.0, 2.0, 10) == pytest.approx(per_hour / 60)


def test_the_run_cost_adds_the_pipelines_share_at_the_runs_rate() -> None:
    # GIVEN the dev environment at 100 requests/s for an hour, four workers
    config, profile = load_config("dev"), load_profile("dev")
    cost = run_cost(config, profile, 100.0, 4, 1.0, 2.0, 3600)
    # THEN the events/s follow the load profile's batches, and the pipeline's share is an hour of its month
    assert cost.events_per_second == pytest.approx(100 * profile.mean_events_per_request())
    assert cost.pipeline_run_usd == pytest.approx(cost.pipeline_monthly_usd / 730)
    assert cost.total_usd == pytest.approx(cost.fargate_usd + cost.pipeline_run_usd)
    assert cost.tasks == 5 and cost.lines()[-1].startswith("estimated cost of the run: $")


def test_only_an_explicit_yes_starts_the_run() -> None:
    cost = run_cost(load_config("dev"), load_profile("dev"), 10.0, 1, 1.0, 2.0, 600)
    # GIVEN no terminal THEN the run is refused and --yes named
    with pytest.raises(LoadTestError, match="pass --yes"):
        confirm(cost, interactive=False)
    # GIVEN a person who answers anything but yes THEN it is not started
    with pytest.raises(LoadTestError, match="not confirmed"):
        confirm(cost, ask=lambda prompt: "", interactive=True)
    # GIVEN "y" THEN it goes on
    confirm(cost, ask=lambda prompt: "y", interactive=True)


def test_fault_scenarios_never_run_on_fargate() -> None:
    # GIVEN db-outage, which injects a fault WHEN asked for Fargate THEN refused before anything is prepared
    def never(*_: object) -> None:
        raise AssertionError("prepared a run that must be refused")

    with pytest.raises(LoadTestError, match="fault scenarios run only with local workers"):
        run_on_fargate(get_scenario("db-outage"), None, None, RunOptions(workers=2), "stack", prepare=never)  # type: ignore[arg-type]


def test_local_and_fargate_workers_are_one_or_the_other() -> None:
    # GIVEN both kinds of workers asked for THEN one clear line, before any stack is opened
    with pytest.raises(LoadTestError, match="choose one"):
        run_load("smoke", workers=2, fargate_workers=2)
    with pytest.raises(LoadTestError, match="--fargate-workers: expected a whole number"):
        run_load("smoke", fargate_workers="many")
