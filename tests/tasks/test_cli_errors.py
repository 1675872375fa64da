"""A wrong task argument or a wrong value in sluice.toml is one clear `error: ...` line and a non-zero exit,
never a traceback. The tasks run as a user runs them: `invoke` in a subprocess, from a folder with no local
stack (so nothing here can reach a running stack or AWS)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import ConfigError, load_config
from core.paths import PROJECT_ROOT
from synth.synthesize import full_template
from tests.tasks.helpers import run_invoke

PROJECT = PROJECT_ROOT
REAL_CONFIG = PROJECT / "sluice.toml"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("synth", "--env", "nope"), "error: sluice.toml: no environment 'nope' (known: dev, local, prod)"),
        (("validate", "--env", "nope"), "error: sluice.toml: no environment 'nope'"),
        (("chaos", "bogus"), "error: no local stack is running"),
        (("status",), "error: no local stack is running"),
        (("load", "--scenario", "nope"), "error: unknown scenario 'nope'"),
        (("load", "--users", "abc"), "error: --users: expected a number, got 'abc'"),
        (("replay", "--since", "yesterday-ish"), "error: --since: not an ISO 8601 time: 'yesterday-ish'"),
        (("cost", "--rate", "abc"), "error: --rate: expected events per second (a number), got 'abc'"),
        (("cost", "--rate", "-5"), "error: --rate: expected a positive number"),
        # whole-number options used to end in invoke's ValueError traceback
        (("cost", "--rate", "1", "--event-bytes", "abc"), "error: --event-bytes: expected a whole number, got 'abc'"),
        (("events.list", "--since", "2026-01-01", "--limit", "ten"), "error: --limit: expected a whole number"),
        (("chaos", "db-down", "--seconds", "soon"), "error: --seconds: expected a whole number, got 'soon'"),
        (
            ("bench", "--only", "nope"),
            "error: --only must be one of functions, package, pipeline, sqs, items, got 'nope'",
        ),
        (("reconcile", "--since", "soon"), "error: --since: not an ISO 8601 time"),
        (("destroy", "--env", "local", "--yes"), "error: the local environment is not deployed to AWS"),
        (("send", "no-such-file.jsonl"), "error: no-such-file.jsonl: file not found"),
        (("deploy", "--env", "dev"), "error: deploying sluice-dev needs a confirmation and there is no terminal"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else "",
)
def test_a_wrong_task_argument_is_one_error_line(tmp_path: Path, arguments: tuple[str, ...], expected: str) -> None:
    # GIVEN a task given a wrong argument, with no local stack running
    # WHEN it runs
    result = run_invoke(tmp_path, *arguments)
    # THEN it fails with exactly one line, `error: ...`, naming what is wrong, and no traceback
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0, output
    assert "Traceback" not in output
    assert output.splitlines() == [output] and output.startswith(expected), output


def test_the_local_runtime_refuses_an_unknown_environment_in_one_line(tmp_path: Path) -> None:
    # GIVEN the runtime's own entry point (what the e2e tests start) WHEN given an unknown environment
    result = subprocess.run(
        [sys.executable, "-m", "local.stack.runtime", "--env", "nope", "--state-dir", str(tmp_path)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # THEN one line on stderr, exit 2, and nothing started
    assert result.returncode == 2
    assert result.stderr.strip() == "error: sluice.toml: no environment 'nope' (known: dev, local, prod)"
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "outputs.json").exists()


# --- a wrong value anywhere in sluice.toml -----------------------------------------------------------


def _leaves(table: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for key, value in table.items():
        path = (*prefix, key)
        found += _leaves(value, path) if isinstance(value, dict) else [path]
    return found


DEFAULT_KEYS = _leaves(tomllib.loads(REAL_CONFIG.read_text(encoding="utf-8"))["defaults"])
WRONG_VALUES = st.sampled_from(
    ['""', '"abc"', "-1", "0", "1.5", "true", "[]", "{}", "1000000000000", '"09:00"', "[1, 2]", '["Mon", 3]']
)


def toml_override(path: tuple[str, ...], literal: str) -> str:
    """`[test]` with one dotted key set to `literal` (TOML text); keys are quoted as TOML basic strings."""
    return "\n[test]\n" + ".".join(json.dumps(part) for part in path) + f" = {literal}\n"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(DEFAULT_KEYS), literal=WRONG_VALUES)
def test_any_wrong_value_in_the_toml_is_one_line_or_a_working_template(
    tmp_path: Path, path: tuple[str, ...], literal: str
) -> None:
    # GIVEN the committed configuration with one key of an environment set to a value of the wrong kind
    config_path = tmp_path / "sluice.toml"
    config_path.write_text(REAL_CONFIG.read_text(encoding="utf-8") + toml_override(path, literal), encoding="utf-8")
    # WHEN it is loaded
    try:
        config = load_config("test", config_path)
    except ConfigError as error:
        # THEN it is refused with one line naming the file and the environment
        message = str(error)
        assert "\n" not in message and message.startswith("sluice.toml: test"), message
        return
    # OR it is accepted, and then the template is built from it without an error
    assert full_template(config).to_dict()["Resources"]
