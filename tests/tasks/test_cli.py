"""How `invoke` talks to the operator (tasks/cli.py), run as a user runs it: `invoke` in a subprocess,
from a folder with no local stack, so nothing here reaches a running stack or AWS."""

from __future__ import annotations

import inspect
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from invoke import Collection
from invoke.parser.argument import Argument

from tests.tasks.helpers import run_invoke


@pytest.mark.parametrize(
    ("arguments", "needs", "usage"),
    [
        (("replay",), "replay needs --since: start of the window", "invoke replay --since TIME [--until TIME]"),
        (("events.get",), "events.get needs --event-id: the event id", "invoke events.get --event-id EVENT_ID"),
        (("events.list", "--limit", "3"), "events.list needs --since", "invoke events.list --since TIME"),
        (("cost",), "cost needs --rate: steady events per second", "invoke cost --rate PER_SECOND [--event-bytes"),
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
@pytest.mark.parametrize("arguments", [("--list",), ("cost", "--rate", "100"), ("load", "--scenario", "list")])
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


def _task_arguments() -> list[tuple[str, inspect.Parameter, Argument]]:
    """(task name, its function's parameter, the argument invoke builds for it) for every task."""
    import tasks

    found = []

    def walk(collection: Collection, prefix: str) -> None:
        for name, task in collection.tasks.items():
            parameters = list(inspect.signature(task.body).parameters.values())[1:]
            arguments = sorted(task.get_arguments(), key=_position(parameters))
            for parameter, argument in zip(parameters, arguments, strict=True):
                found.append((prefix + name, parameter, argument))
        for name, child in collection.collections.items():
            walk(child, f"{name}.")

    walk(tasks.namespace, "")
    return found


def _position(parameters: list[inspect.Parameter]) -> Any:
    order = [parameter.name for parameter in parameters]
    return lambda argument: order.index(argument.name)


def test_asking_for_a_tasks_options_twice_keeps_their_help() -> None:
    # GIVEN a task whose options were already built once (invoke's get_arguments() pops each help text)
    import tasks

    cost = tasks.namespace.tasks["cost"]
    first = {argument.name: argument.help for argument in cost.get_arguments()}
    # WHEN they are built again (a test, or a parser after --help) THEN each option still has its help
    assert {argument.name: argument.help for argument in cost.get_arguments()} == first and first["rate"]


def test_a_short_flag_means_one_thing_in_every_task() -> None:
    # GIVEN every option of every task
    meanings: dict[str, set[str]] = {}
    for _task, _parameter, argument in _task_arguments():
        for short in (name for name in argument.names if len(name) == 1):
            meanings.setdefault(short, set()).add(argument.names[0])
    # THEN each short flag stands for one option name (it meant --env, --errors, --event-bytes or --web)
    assert meanings and all(len(options) == 1 for options in meanings.values()), meanings


def test_every_option_with_a_default_states_it() -> None:
    # GIVEN every option whose value has a default
    silent = [
        f"{task} --{parameter.name}"
        for task, parameter, argument in _task_arguments()
        if parameter.default not in (inspect.Parameter.empty, None, False) and "default" not in (argument.help or "")
    ]
    # THEN its help says what the default is
    assert silent == []


@pytest.mark.parametrize(
    ("arguments", "shown"),
    [
        (("--help", "cost"), "--outage-hours HOURS"),  # a float option showed no value at all
        (("--help", "cost"), "--rate PER_SECOND"),
        (("--help", "replay"), "-s TIME, --since TIME"),
        (("--help", "chaos"), "consumer-paused: the consumer's event source mapping is stuck"),
        (("--help", "chaos"), "default 60"),
        (("--help", "events.query"), "-t TARGET, --target TARGET"),
    ],
)
def test_help_shows_what_each_option_takes(tmp_path: Path, arguments: tuple[str, ...], shown: str) -> None:
    # WHEN a task's help is asked for
    result = run_invoke(tmp_path, *arguments)
    # THEN each option that takes a value shows it, faults say what they do, defaults are stated
    assert result.returncode == 0, result.stderr
    assert shown in " ".join(result.stdout.split()), result.stdout


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("cots", "--rate", "1"), "error: no task or option named 'cots'; did you mean cost? (`invoke --list`"),
        (("--help", "nosuch"), "error: no task or option named 'nosuch' (`invoke --list` shows the tasks)"),
        (("cost", "--rate", "1", "--bach", "3"), "error: cost has no option --bach; did you mean --batch?"),
        (("cost", "--bogus", "1"), "error: cost has no option --bogus (`invoke --help cost` lists them)"),
        (("cost", "--rate"), "error: --rate needs a value: --rate PER_SECOND"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else "",
)
def test_an_unknown_task_or_option_points_to_where_the_known_ones_are(
    tmp_path: Path, arguments: tuple[str, ...], expected: str
) -> None:
    # WHEN invoke is given a task or an option that does not exist, or an option without its value
    result = run_invoke(tmp_path, *arguments)
    # THEN one line in our words says so and where to look; not invoke's "No idea what '1' is!"
    assert result.returncode == 1
    assert result.stderr.strip() == expected or result.stderr.startswith(expected), result.stderr
    assert "No idea" not in result.stderr and result.stdout == ""
