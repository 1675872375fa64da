"""`make demo` end to end, in its own process on free ports: what it prints is what README.md promises, and
the terminal stays clear of warnings and metric lines (they belong in the logs)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.paths import PROJECT_ROOT

PROJECT = PROJECT_ROOT
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("own-stack-demo")]

DEMO = """
import sys
from pathlib import Path
from core.config import load_config
from local.stack.demo import run_demo
from local.emulation.process import free_port
from local.stack.ports import Ports
ports = Ports(aws=free_port(), api=free_port(), control=free_port())
sys.exit(run_demo(load_config("local"), ports, Path(sys.argv[1])))
"""


def readme_demo_line(label: str) -> str:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    block = readme.split("=== Sluice demo ===", 1)[1].split("```", 1)[0]
    return next(line.strip() for line in block.splitlines() if line.strip().startswith(label))


def test_the_demo_prints_what_the_readme_shows(tmp_path: Path) -> None:
    # GIVEN the demo, run as `make demo` runs it but on free ports and its own state folder
    # WHEN it runs to its end (it stops the stack itself)
    result = subprocess.run(
        [sys.executable, "-c", DEMO, str(tmp_path)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout
    assert result.returncode == 0, output[-3000:] + result.stderr[-3000:]
    # THEN the alarm the README names fired, nothing was lost, and the counts are the README's
    for label in ("alarms", "events lost", "requests sent", "events accepted", "rejected"):
        expected = re.sub(r"\s+", " ", readme_demo_line(label))
        assert expected in re.sub(r"\s+", " ", output), f"README says {expected!r}; the demo printed:\n{output}"
    # AND the terminal got no Python warning (Powertools' "No application metrics to publish") and no EMF
    assert "Warning" not in result.stderr and "No application metrics" not in output + result.stderr
    assert '"_aws"' not in output
    # AND the handlers' log lines and their metric lines went to separate files
    logs = tmp_path / "logs"
    functions_log = (logs / "functions.log").read_text()
    assert '"_aws"' not in functions_log
    # AND alarm transitions are in the notifications log, not among the handlers' lines
    assert "-> ALARM" in (logs / "notifications.log").read_text() and "-> ALARM" not in functions_log
    assert '"_aws"' in (logs / "metrics.log").read_text()
