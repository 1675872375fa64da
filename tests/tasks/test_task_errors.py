"""The ops tasks check their input before anything runs: one clear `Exit` line, never a traceback.
(The same tasks run as a user runs them, in a subprocess: tests/tasks/test_cli_errors.py.)"""

from __future__ import annotations

import pytest
from invoke import Context, Exit

from tasks.cost import cost
from tasks.deployment import deploy, destroy
from tasks.events import events_list
from tasks.operate import reconcile


def exit_message(task, *args, **kwargs) -> str:
    with pytest.raises(Exit) as raised:
        task(Context(), *args, **kwargs)
    message = str(raised.value.message)
    assert "\n" not in message and raised.value.code != 0
    return message


def test_unknown_environments_are_named_with_the_known_ones() -> None:
    expected = "error: sluice.toml: no environment 'staging' (known: dev, local, prod)"
    assert exit_message(events_list, since="2026-11-25", target="staging") == expected
    assert exit_message(deploy, env="staging", yes=True) == expected
    assert exit_message(cost, rate="10", env="staging") == expected


def test_times_and_numbers_are_checked_before_anything_runs() -> None:
    assert exit_message(events_list, since="2026-11-25", until="2026-11-24").startswith(
        "error: --until (2026-11-24T00:00:00.000Z) must be after --since"
    )
    assert exit_message(reconcile) == ("error: reconcile needs --ids FILE, or --since ISO to compare metric and table")
    assert exit_message(reconcile, since="soon").startswith("error: --since: not an ISO 8601 time")
    assert exit_message(cost, rate="fast") == "error: --rate: expected events per second (a number), got 'fast'"
    assert exit_message(cost, rate="100", batch=900).startswith("error: --batch: expected 1–500")
    assert exit_message(reconcile, ids="no-such-ids.txt") == "error: no-such-ids.txt: file not found"


def test_the_local_environment_is_not_deployed_to_aws() -> None:
    assert "start it with `invoke up`" in exit_message(destroy, env="local", yes=True)


def test_cost_prints_the_three_shapes_and_a_budget(capsys: pytest.CaptureFixture[str]) -> None:
    cost(Context(), rate="100", event_bytes=1024, batch=50, env="prod")
    output = capsys.readouterr().out
    for heading in ("naive (1 event, 1 message, 1 PutItem per request):", "ours, single:", "ours, batched (50"):
        assert heading in output
    assert "suggested budget" in output and "list prices as of" in output
    # AND each sink configuration side by side with the consumer batches it deploys with, this environment's marked
    for row in ("sinks dynamodb (consumer batches of 100)", "sinks dynamodb + s3 (consumer batches of 100)"):
        assert row in output
    assert "sinks s3 (consumer batches of 1000)" in output
    assert output.count("← this environment") == 1
    assert "sinks dynamodb (consumer batches of 100)" in next(line for line in output.splitlines() if "←" in line)
