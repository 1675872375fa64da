"""One incident, one page, for every fault the local stack can inject (issue 28).

Each fault used to page twice: canary-failing beside the incident composite (db-down, queue-down), or
consumer-stopped beside the canary (consumer-paused). Now every high alarm of the event path is a child of
ingestion-at-risk. Each test waits for a quiet stack, injects the fault and keeps it until the incident paged (the
canary's events stop getting through whatever the fault; archive-down is given dead letters to fail on), lifts it,
waits for the recovery (the incident and every child out of ALARM), and then reads the notifications log written
since its own start: the high tier delivered exactly one page, the incident's, and one all-clear.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from alarms.table import composite_definitions
from cloudformation import output_keys
from core.config import load_config
from local.services.faults import FAULTS
from ops import local_output_keys

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack-d")]

CONFIG = load_config("local")
(INCIDENT,) = [d for d in composite_definitions(CONFIG) if d.spec.name == "ingestion-at-risk"]
HIGH_TOPIC = CONFIG.resource_name("high")
QUIET_TIMEOUT = 180.0  # another test's alarms may still be clearing
PAGE_TIMEOUT = 120.0  # three canary periods, or a consumer-stopped bound, plus the metrics' delay
RECOVERY_TIMEOUT = 240.0  # a parked backlog drains and the windows empty


def not_alarming(status: dict[str, Any]) -> bool:
    """The incident and every child out of ALARM, and no fault on."""
    names = (INCIDENT.name, *INCIDENT.children)
    return not status["chaos"] and all(status["alarms"].get(name) != "ALARM" for name in names)


# local.services.alarm_evaluator's line: "<time>  <alarm>  <old> -> <new>  [<topic names, or no action>]  <reason>"
TRANSITION_LINE = re.compile(r"^\S+  (?P<name>\S+)  \S+ -> (?P<new>\S+)  \[(?P<routed>[^\]]*)\]")


def transitions_since(log: Path, offset: int) -> list[tuple[str, str, str]]:
    """(alarm, new state, routed topics) of every line the alarm evaluator appended after `offset` bytes."""
    with log.open("rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode("utf-8").splitlines()
    return [(m["name"], m["new"], m["routed"]) for line in lines if (m := TRANSITION_LINE.match(line))]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_pages_once_through_the_incident(local_stack, fault):
    # GIVEN a quiet stack: no fault, the incident and its children out of ALARM
    for name in local_stack.status()["chaos"]:
        local_stack.lift(name)
    local_stack.wait_until(not_alarming, QUIET_TIMEOUT, "a quiet stack (the incident and its children not in ALARM)")
    log = Path(local_stack.outputs[local_output_keys.NOTIFICATIONS_LOG])
    offset = log.stat().st_size if log.exists() else 0
    # WHEN the fault lasts until the incident paged (the archive needs dead letters to fail on)
    local_stack.inject(fault, PAGE_TIMEOUT + 30)
    try:
        if fault == "archive-down":
            sqs = local_stack.client("sqs")
            sqs.send_message(
                QueueUrl=local_stack.outputs[output_keys.DEAD_LETTER_QUEUE_URL],
                MessageBody=f"one-page {uuid.uuid4()}: poison",
            )
        local_stack.wait_until(
            lambda status: status["alarms"][INCIDENT.name] == "ALARM", PAGE_TIMEOUT, f"{INCIDENT.name} under {fault}"
        )
    finally:
        local_stack.lift(fault)
    # AND until the stack recovered
    local_stack.wait_until(
        lambda status: not_alarming(status) and status["alarms"][INCIDENT.name] == "OK",
        RECOVERY_TIMEOUT,
        f"the recovery from {fault}",
    )
    # THEN the high tier delivered exactly one page for it, the incident's, and one all-clear
    high = [(name, new) for name, new, routed in transitions_since(log, offset) if HIGH_TOPIC in routed.split(", ")]
    pages = [name for name, new in high if new == "ALARM"]
    assert pages == [INCIDENT.name], f"{fault}: high-tier transitions {high}"
    assert [name for name, new in high if new == "OK"] == [INCIDENT.name], f"{fault}: high-tier transitions {high}"
