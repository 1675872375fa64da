"""The runbook's local steps are safe to follow: run as written against a local stack, they recover it and
dead-letter nothing (issue 28: enabling the mapping once started moto's own mapping beside the local poller,
which dead-lettered 628 events in 3 s).

The block is read from docs/runbook.md and run by bash, in a shell with the environment `invoke up --detach`
tells people to export. `aws` is tests/e2e/aws_cli.py (the CLI's grammar over botocore: the project does not
depend on the CLI), `invoke` the project's own, finding the test's stack through SLUICE_STATE_DIR.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack-b")]

PROJECT = Path(__file__).resolve().parents[2]
QUIET_TIMEOUT = 120
STORE_TIMEOUT = 120
PAUSE_SECONDS = 600  # the runbook's steps lift it long before
EVENTS_PER_BATCH = 100


def runbook_block(section: str) -> str:
    """The first ```sh block of the runbook's `## section`."""
    text = (PROJECT / "docs/runbook.md").read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```sh\n(.*?)```", body, re.DOTALL)
    assert found is not None, f"no ```sh block in the runbook's {section} section"
    return found.group(1)


def shell_environment(stack, bin_dir: Path) -> dict[str, str]:
    """The user's shell after pasting the export line of `invoke up --detach`, for the test's own stack."""
    aws = bin_dir / "aws"
    aws.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tests.e2e.aws_cli "$@"\n', encoding="utf-8")
    aws.chmod(aws.stat().st_mode | stat.S_IXUSR)
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SLUICE_"))}
    return {
        **clean,
        "PATH": os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), clean.get("PATH", "")]),
        "PYTHONPATH": str(PROJECT),
        "SLUICE_STATE_DIR": str(stack.state_dir),
        "AWS_ENDPOINT_URL": stack.outputs["AwsEndpoint"],
        "AWS_DEFAULT_REGION": stack.outputs["Region"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def send(stack, label: str) -> list[str]:
    response = stack.post_events([{"runbook": label, "n": n} for n in range(EVENTS_PER_BATCH)])
    assert response.status_code == 202, response.text
    return list(response.json()["ids"])


def test_the_local_consumer_stopped_steps_store_every_event_and_dead_letter_none(local_stack, tmp_path: Path):
    stack = local_stack
    # GIVEN a stack with no fault and nothing dead-lettered or waiting
    for fault in stack.status()["chaos"]:
        stack.lift(fault)

    def quiet(status: dict) -> bool:
        queues = [status["queues"][name] for name in ("ingest", "dead_letter")]
        return all(queue["visible"] == 0 and queue["in_flight"] == 0 for queue in queues)

    before = stack.wait_until(quiet, QUIET_TIMEOUT, "empty ingest and dead-letter queues")
    # AND the consumer-paused fault, with events waiting on it (queued by the time of their 202; a message holds
    # several events, so the queue counts fewer messages than events)
    stack.inject("consumer-paused", PAUSE_SECONDS)
    try:
        waiting = send(stack, "before")
        stack.wait_until(
            lambda status: status["queues"]["ingest"]["visible"] > 0 and status["queues"]["ingest"]["in_flight"] == 0,
            QUIET_TIMEOUT,
            "events waiting",
        )
        # WHEN the runbook's local recovery steps are run as written
        steps = runbook_block("consumer-stopped")
        ran = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", steps],
            cwd=PROJECT,
            env=shell_environment(stack, tmp_path),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:  # a failing test must not leave the group's stack paused for the tests after it
        left_paused = "consumer-paused" in stack.status()["chaos"]
        if left_paused:
            stack.lift("consumer-paused")
    assert ran.returncode == 0, f"the runbook's steps failed:\n{ran.stdout}\n{ran.stderr}"
    # AND clients go on sending (moto's own mapping, had it been started, would take these inside SendMessage)
    after = send(stack, "after")
    # THEN every event of theirs is stored
    stack.wait_stored(waiting + after, STORE_TIMEOUT)
    # AND none was dead-lettered or archived
    status = stack.status()
    assert status["queues"]["dead_letter"] == {"visible": 0, "in_flight": 0}
    assert status["archive_objects"] == before["archive_objects"]
    # AND the runbook's steps lifted the fault, and the mapping reads Enabled, the state they left it in
    assert not left_paused
    assert status["mappings"]["consumer"] == "Enabled"
    assert "consumer-paused" in ran.stdout  # `invoke status` showed the fault the last step lifted
