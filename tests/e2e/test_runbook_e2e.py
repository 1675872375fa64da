"""The runbook's local steps are safe to follow: every ```sh block of docs/runbook.md, run as written against a local
stack with its section's cause injected, shows the cause, and afterwards every event of the test is stored and the
steps dead-lettered nothing (issue 28: enabling the mapping once started moto's own mapping beside the local poller,
which dead-lettered 628 events in 3 s). Where the cause itself dead-letters events (events-archived: a crashing
consumer), the section's steps are the replay that brings them back, and nothing may be dead-lettered after them.

Each block runs in tests/e2e/user_shell.py's shell after the export line `invoke up --detach` prints, with `SINCE`
set to when the test began; `aws` is the CLI's grammar over botocore, `invoke` the project's own, the docs' default
ports swapped for the test stack's.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alarms.table import Tier
from tests.e2e.clients import drained
from tests.e2e.stack_helpers import alarm, archived_lines
from tests.e2e.user_shell import PROJECT, Ran, UserShell

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack-b")]

QUIET_TIMEOUT = 240  # another test's fault may still be draining
EFFECT_TIMEOUT = (
    180  # three canary periods, a consumer-stopped bound, or five crashed receives, plus the metrics' delay
)
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


def alarm_is(state: str, row: str, tier: Tier) -> Callable[[dict[str, Any]], bool]:
    return lambda status: status["alarms"][alarm(row, tier)] == state


@dataclass(frozen=True)
class WalkThrough:
    section: str
    cause: str  # the local fault that makes the section's alarm fire
    effect: Callable[[dict[str, Any]], bool]  # what the person on call would be looking at when they start
    shows: tuple[str, ...]  # what the steps' output must show them
    fixed_first: bool = False  # the section says: fix the cause, then run the steps
    canary: bool = True  # off where its own events, dead-lettered by the cause after the steps, would blur the count


WALK_THROUGHS = (
    # a stuck mapping: the steps themselves lift the fault (their last line)
    WalkThrough(
        "consumer-stopped",
        "consumer-paused",
        # (a receive already under way when the fault began may still take some of the test's events)
        lambda status: (
            alarm_is("ALARM", "consumer-stopped", "high")(status) and status["queues"]["ingest"]["visible"] > 0
        ),
        ("faults     consumer-paused", "consumer-paused: lifted"),
    ),
    # the database unreachable: the steps show the canary's reason and the children beside it
    WalkThrough(
        "canary-failing",
        "db-down",
        alarm_is("ALARM", "canary-failing", "high"),
        ("faults     db-down", "ALARM             sluice-local-canary-failing-high", "reason=not stored within"),
    ),
    # a consumer that crashed on every batch until its records were dead-lettered and archived: fixed, then replayed
    WalkThrough(
        "events-archived",
        "consumer-crash",
        alarm_is("ALARM", "events-archived", "low"),
        ("would send ", "sent "),
        fixed_first=True,
        canary=False,
    ),
)


def test_every_runbook_section_with_local_steps_is_walked_through() -> None:
    # GIVEN the runbook's sections that have a ```sh block of local steps
    with_steps = {name for name, body in runbook_sections().items() if "```sh\n" in body}
    # THEN each has a walk-through below, and each walk-through a section
    assert with_steps == {walk.section for walk in WALK_THROUGHS}


# Out of ALARM before a walk-through starts, so that its effect is its own cause's, not the last test's: the incident
# (and so every child: canary-failing, consumer-stopped) and events-archived.
CLEAR_FIRST: tuple[tuple[str, Tier], ...] = (("ingestion-at-risk", "high"), ("events-archived", "low"))


def quiet(status: dict[str, Any]) -> bool:
    """No fault, nothing waiting in the ingest or dead-letter queue, nothing parked, CLEAR_FIRST out of ALARM."""
    cleared = not any(alarm_is("ALARM", row, tier)(status) for row, tier in CLEAR_FIRST)
    return drained(status) and cleared and not status["chaos"]


def send(stack, label: str) -> list[str]:
    response = stack.post_events([{"runbook": label, "n": n} for n in range(EVENTS_PER_BATCH)])
    assert response.status_code == 202, response.text
    return list(response.json()["ids"])


def cause_then_steps(stack, shell: UserShell, walk: WalkThrough, began: str) -> tuple[Ran, list[str], list[str]]:
    """Inject the cause, send the test's events into it, run the section's steps; the cause is lifted after."""
    stack.inject(walk.cause, FAULT_SECONDS)
    try:
        waiting = send(stack, f"{walk.section} before")
        stack.wait_until(walk.effect, EFFECT_TIMEOUT, f"{walk.cause}'s effect")
        if walk.fixed_first:  # fixed, and what was still retrying drained: the rest is what the steps bring back
            stack.lift(walk.cause)
            stack.wait_until(drained, STORE_TIMEOUT, "the backlog drained once the cause was fixed")
            # the cause did dead-letter some of the test's events: the steps have something to bring back (a crash
            # after the first write landed may have stored an event and still dead-lettered its message)
            archived = archived_lines(stack, set(waiting))
            assert archived, f"{walk.cause} dead-lettered none of the test's events"
        # WHEN the section's local steps are run as written
        ran = shell.run_after_export(f"SINCE={began}\n{local_steps(walk.section)}")
        # AND clients go on sending (moto's own mapping, had a step started it, would take these inside SendMessage)
        after = send(stack, f"{walk.section} after")
    finally:
        # AND the cause is fixed (a fault already lifted, by the test or by the steps, is lifted again: a no-op)
        stack.lift(walk.cause)
    return ran, waiting, after


@pytest.mark.parametrize("walk", WALK_THROUGHS, ids=lambda walk: walk.section)
def test_the_local_steps_store_every_event_and_dead_letter_none(local_stack, walk: WalkThrough, tmp_path: Path):
    stack = local_stack
    shell = UserShell(stack, tmp_path)
    # GIVEN a stack with no fault, nothing dead-lettered, waiting or parked, and no incident open
    for fault in stack.status()["chaos"]:
        stack.lift(fault)
    stack.wait_until(quiet, QUIET_TIMEOUT, "a quiet stack (no fault, no backlog, no incident)")
    began = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")  # what the reader puts in SINCE: when it began
    # AND the section's cause, with the test's events sent into it, until its alarm is what the person sees
    canary_off = contextlib.nullcontext() if walk.canary else stack.canary_paused()
    with canary_off:
        ran, waiting, after = cause_then_steps(stack, shell, walk, began)
    # THEN the steps succeeded and showed the cause
    assert ran.returncode == 0, f"the runbook's {walk.section} steps failed:\n{ran}"
    for shown in walk.shows:
        assert shown in ran.stdout, f"the {walk.section} steps did not show {shown!r}:\n{ran}"
    # AND every event of the test is stored, as the runbook's reconcile of the clients' ids says too
    stack.wait_stored(waiting + after, STORE_TIMEOUT)
    (shell.root / "accepted-ids.txt").write_text("\n".join(waiting + after) + "\n", encoding="utf-8")
    reconciled = shell.run_after_export("invoke reconcile --ids accepted-ids.txt")
    assert reconciled.returncode == 0 and "missing: none" in reconciled.stdout, str(reconciled)
    # AND the steps dead-lettered none of the test's events: once the queues drained (a dead letter is archived by
    # then), none sent after them is in the archive
    status = stack.wait_until(drained, STORE_TIMEOUT, "the queues to drain and nothing parked")
    # (and where the cause itself dead-letters nothing, none of the test's events at all)
    assert archived_lines(stack, set(after if walk.fixed_first else waiting + after)) == {}
    assert not status["chaos"] and status["mappings"]["consumer"] == "Enabled"
