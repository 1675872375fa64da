"""loadtest/README.md's "Capacity" figures are what `invoke capacity` prints today."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from core.config import load_config
from core.paths import PROJECT_ROOT
from ops.capacity import Quotas, Traffic, durations, local_host, model
from tests.tasks.helpers import run_invoke

README = PROJECT_ROOT / "loadtest/README.md"


def _prediction_row() -> tuple[list[str], str]:
    row = next(line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("| prediction"))
    command, figures = re.findall(r"`invoke ([^`]+)`", row)[0], row.rsplit("|", 2)[1]
    return shlex.split(command), figures


def test_the_documented_local_prediction_is_what_the_command_prints(tmp_path: Path) -> None:
    # GIVEN the README's prediction row WHEN its command runs
    arguments, figures = _prediction_row()
    result = run_invoke(tmp_path, *arguments)
    assert result.returncode == 0, result.stderr
    rows = {line[:24].strip(): line for line in result.stdout.splitlines()}
    # THEN the machine's, the usage plan's and the runtime's requests/s are the README's
    machine = re.findall(r"\d+\.\d", figures)[0]
    plan, runtime = re.search(r"usage plan binds at (\d+\.\d), the runtime process at (\d+\.\d)", figures).groups()
    assert rows["local machine CPU"].split()[4] == machine
    assert rows["API Gateway usage plan"].split()[5] == plan
    assert rows["local runtime process"].split()[4] == runtime


@pytest.mark.parametrize(("cores", "requests_per_second"), [(1.0, 42.5), (1.6, 72.6)])
def test_the_documented_core_brackets_hold(cores: float, requests_per_second: float) -> None:
    # GIVEN the local configuration and fewer cores, as the README's bracket says
    config, traffic = load_config("local"), Traffic(910, 1.57)
    result = model(
        config, traffic, durations(config, traffic, None, None), Quotas(), host=local_host(cores, None, None)
    )
    # THEN the bottleneck's requests/s are the README's
    assert f"--local-cores {cores:g}` predicts {requests_per_second}" in " ".join(README.read_text().split())
    assert round(result.bottleneck.requests_per_second, 1) == requests_per_second
