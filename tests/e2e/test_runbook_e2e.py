"""The runbook's local steps are safe to follow: every ```sh block of docs/runbook.md, run as written against a local
stack while its section's cause is injected, shows the cause and leaves every event of the test stored and none
dead-lettered (issue 28: enabling the mapping once started moto's own mapping beside the local poller, which
dead-lettered 628 events in 3 s).

Each block runs in tests/e2e/user_shell.py's shell: the environment `invoke up --detach` tells people to paste,
`aws` the CLI's grammar over botocore, `invoke` the project's own, the docs' default ports swapped for the test
stack's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.user_shell import PROJECT, UserShell

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack-b")]

QUIET_TIMEOUT = 240  # another test's fault may still be draining
EFFECT_TIMEOUT = 120  # three canary periods, or a consumer-stopped bound, plus the metrics' delay
STORE_TIMEOUT = 240  # a parked backlog drains once the store answers
FAULT_SECONDS = 600  # the cause lasts until the test (or the block) lifts it
EVENTS_PER_BATCH = 100


def runbook_sections() -> dict[str, str]:
    """Each `## section` of the runbook: its body."""
    text = (PROJECT / "docs/runbook.md").read_text(encoding="utf-8")
    parts = re.split(r"^## ([\w-]+)\n", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def local_steps(section: str) -> str:
    """The ```sh block of the runbook's `section`: its local steps."""
    found = re.findall(r"```sh\n(.*?)```", runbook_sections()[section], re.DOTALL)
    assert len(found) == 1, f"the runbook's {section} section has {len(found)} ```sh blocks, not one"
    return found[0]


def alarm_is(state: str, row: str) -> Callable[[dict[str, Any]], bool]:
    return lambda status: status["alarms"][f"sluice-local-{row}"] == state


@dataclass(frozen=True)
class WalkThrough:
    section: str
    cause: str  # the local fault that makes the section's alarm fire
    effect: Callable[[dict[str, Any]], bool]  # what the person on call would be looking at when they start
    shows: tuple[str, ...]  # what the steps' output must show them


WALK_THROUGHS = (
    # a stuck mapping: the steps themselves lift the fault (their last line)
    WalkThrough(
        "consumer-stopped",
        "consumer-paused",
        # (a receive already under way when the fault began may still take some of the test's events)
        lambda status: alarm_is("ALARM", "consumer-stopped-high")(status) and status["queues"]["ingest"]["visible"] > 0,
        ("faults     consumer-paused", "consumer-paused: lifted"),
    ),
    # the database unreachable: the steps show the canary's reason and the children beside it
    WalkThrough(
        "canary-failing",
        "db-down",
        alarm_is("ALARM", "canary-failing-high"),
        ("faults     db-down", "ALARM             sluice-local-canary-failing-high", "reason=not stored within"),
    ),
)


def test_every_runbook_section_with_local_steps_is_walked_through() -> None:
    # GIVEN the runbook's sections that have a ```sh block of local steps
    with_steps = {name for name, body in runbook_sections().items() if "```sh\n" in body}
    # THEN each has a walk-through below, and each walk-through a section
    assert with_steps == {walk.section for walk in WALK_THROUGHS}


def quiet(status: dict[str, Any]) -> bool:
    """No fault, nothing waiting in the ingest or dead-letter queue, nothing parked."""
    queues = [status["queues"][name] for name in ("ingest", "dead_letter")]
    idle = all(queue["visible"] == 0 and queue["in_flight"] == 0 for queue in queues)
    return idle and not status["chaos"] and status["parked_objects"] == 0


def send(stack, label: str) -> list[str]:
    response = stack.post_events([{"runbook": label, "n": n} for n in range(EVENTS_PER_BATCH)])
    assert response.status_code == 202, response.text
    return list(response.json()["ids"])


@pytest.mark.parametrize("walk", WALK_THROUGHS, ids=lambda walk: walk.section)
def test_the_local_steps_store_every_event_and_dead_letter_none(local_stack, walk: WalkThrough, tmp_path: Path):
    stack = local_stack
    shell = UserShell(stack, tmp_path)
    # GIVEN a stack with no fault and nothing dead-lettered, waiting or parked
    for fault in stack.status()["chaos"]:
        stack.lift(fault)
    before = stack.wait_until(quiet, QUIET_TIMEOUT, "no fault, empty ingest and dead-letter queues, nothing parked")
    # AND the section's cause, with the test's events sent into it, until its alarm is what the person sees
    stack.inject(walk.cause, FAULT_SECONDS)
    try:
        waiting = send(stack, f"{walk.section} before")
        stack.wait_until(walk.effect, EFFECT_TIMEOUT, f"{walk.cause}'s effect")
        # WHEN the section's local steps are run as written
        ran = shell.run_after_export(local_steps(walk.section))
        # AND clients go on sending (moto's own mapping, had a step started it, would take these inside SendMessage)
        after = send(stack, f"{walk.section} after")
    finally:
        # AND the cause is fixed (a fault the steps lifted is already gone: lifting it again is a no-op)
        stack.lift(walk.cause)
    # THEN the steps succeeded and showed the cause
    assert ran.returncode == 0, f"the runbook's {walk.section} steps failed:\n{ran}"
    for shown in walk.shows:
        assert shown in ran.stdout, f"the {walk.section} steps did not show {shown!r}:\n{ran}"
    # AND every event of the test is stored
    stack.wait_stored(waiting + after, STORE_TIMEOUT)
    # AND none was dead-lettered or archived, and the consumer's mapping reads Enabled
    status = stack.wait_until(lambda status: status["parked_objects"] == 0, STORE_TIMEOUT, "nothing parked")
    assert status["queues"]["dead_letter"] == {"visible": 0, "in_flight": 0}
    assert status["archive_objects"] == before["archive_objects"]
    assert not status["chaos"] and status["mappings"]["consumer"] == "Enabled"
