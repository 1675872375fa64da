"""How `invoke` talks to the operator (tasks/cli.py), run as a user runs it: `invoke` in a subprocess,
from a folder with no local stack, so nothing here reaches a running stack or AWS."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.tasks.helpers import run_invoke


@pytest.mark.parametrize(
    ("arguments", "needs", "usage"),
    [
        (("replay",), "replay needs --since: start of the window", "invoke replay --since SINCE [--until UNTIL]"),
        (("events.get",), "events.get needs --event-id: the event id", "invoke events.get --event-id EVENT_ID"),
        (("events.list", "--limit", "3"), "events.list needs --since", "invoke events.list --since SINCE"),
        (("cost",), "cost needs --rate: steady events per second", "invoke cost --rate RATE [--event-bytes"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else "",
)
def test_a_missing_required_option_names_it_and_shows_the_usage(
    tmp_path: Path, arguments: tuple[str, ...], needs: str, usage: str
) -> None:
    # GIVEN a task run without its required option
    result = run_invoke(tmp_path, *arguments)
    # THEN it fails with our words, what the option is, and the task's usage line; not invoke's wording
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith(f"error: {needs}")
    assert lines[1].startswith(f"usage: {usage}")
    assert "did not receive required positional arguments" not in result.stderr


@pytest.mark.parametrize("arguments", [("replay", "--help"), ("events.get", "-h"), ("--help", "replay")])
def test_help_works_for_a_task_with_required_options(tmp_path: Path, arguments: tuple[str, ...]) -> None:
    # GIVEN a task with a required option, asked for its help the way people ask (`invoke replay --help`)
    result = run_invoke(tmp_path, *arguments)
    # THEN its help is shown, not an error about the missing option (or "--help" taken as its value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: inv[oke] [--core-opts]") and "Options:" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("unbuffered", ["", "1"], ids=["failing-at-exit", "failing-mid-output"])
@pytest.mark.parametrize("arguments", [("--list",), ("cost", "--rate", "100"), ("load", "-s", "list")])
def test_output_into_a_closed_pipe_ends_without_a_traceback(
    tmp_path: Path, arguments: tuple[str, ...], unbuffered: str
) -> None:
    # GIVEN a reader that has already gone away (`invoke status | head -1` once head has its line); buffered,
    # the write fails in the final flush, unbuffered at the first print
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        # WHEN a task (or invoke itself) prints into it
        result = run_invoke(
            tmp_path,
            *arguments,
            env={"PYTHONUNBUFFERED": unbuffered},
            stdout=write_end,
            stderr=subprocess.PIPE,
            capture_output=False,
        )
    finally:
        os.close(write_end)
    # THEN it stops quietly: no traceback, no "Exception ignored" on stderr
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("how", "arguments", "environment"),
    [
        ("AWS_PROFILE", ("diff", "--env", "dev"), {"AWS_PROFILE": "nosuch-profile"}),
        ("--profile", ("diff", "--env", "dev", "--profile", "nosuch-profile"), {}),
    ],
)
def test_an_unknown_aws_profile_is_named_with_where_it_came_from(
    tmp_path: Path, how: str, arguments: tuple[str, ...], environment: dict[str, str]
) -> None:
    # GIVEN AWS configuration files without that profile
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = us-east-1\n")
    files = {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(config)}
    # WHEN a task that talks to AWS is run with it
    result = run_invoke(tmp_path, *arguments, env={**files, **environment})
    # THEN the one error line names the profile and where it was asked for
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: AWS profile 'nosuch-profile' ({how}) not found in ~/.aws/config or ~/.aws/credentials"
    )
