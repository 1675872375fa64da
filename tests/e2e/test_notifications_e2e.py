"""Every alert reaches a person, once, on the local stack: one incident pages once (through the composite), and
low-tier alarms held outside business hours arrive as one digest when the schedule fires in business hours.

The local business hours are Mon–Fri 09:00–17:00 in Berlin (sluice.toml). The digest test moves the local
stack's business-hours clock (local/services/clock.py, `POST /clock`) to Sunday night and then to Monday 09:00:05;
alarms
are evaluated on real time throughout. Each wait is for a cause (a transition, a held item, a message)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from alarms.table import composite_definitions
from cloudformation import output_keys
from core.config import load_config
from ops import local_output_keys
from ops.outputs import resolve_target
from tests.e2e.stack_helpers import alarm, back_to_ok_since, quiet_stack
from tests.local_stack_harness import HarnessStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack-b")]

CONFIG = load_config("local")
BERLIN = ZoneInfo(CONFIG.notifications.business_timezone)
SUNDAY_NIGHT = datetime(2026, 11, 29, 22, 0, tzinfo=BERLIN)
MONDAY_MORNING = datetime(2026, 11, 30, 9, 0, 5, tzinfo=BERLIN)
(AT_RISK,) = [d for d in composite_definitions(CONFIG) if d.spec.name == "ingestion-at-risk"]
DLQ = alarm("dlq-visible", "high")
ARCHIVER_ERRORS = alarm("archiver-errors", "high")
CLIENT_ERRORS = alarm("api-4xx-rate", "low")
QUIET_TIMEOUT = 120.0  # another test's alarms may still be clearing
FIRE_TIMEOUT = 90.0  # two or three 10-second periods, and the archiver's first failed attempt
CLEAR_TIMEOUT = 120.0  # the DLQ's held message comes back after its visibility timeout, then is archived
DELIVERY_TIMEOUT = 30.0  # SNS → bridge queue → notifier → topic, polled each second
REFUSED_PER_ROUND = 5


def wait_for(condition: Callable[[], Any], what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(1)
    return result


class Inbox:
    """A queue subscribed to a topic (not raw: each message is SNS's JSON with its Subject and Message)."""

    def __init__(self, stack: HarnessStack, topic_arn: str) -> None:
        self._sqs = stack.client("sqs")
        self.url = self._sqs.create_queue(QueueName=f"notifications-e2e-{uuid.uuid4().hex[:12]}")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        stack.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)

    def drain(self) -> list[dict[str, Any]]:
        """Everything delivered so far (SNS delivers to SQS inside Publish, so nothing is on its way)."""
        received = []
        while messages := self._sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                received.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return received


def held(stack: HarnessStack) -> list[dict[str, Any]]:
    table = stack.outputs[output_keys.HELD_NOTIFICATIONS_TABLE]
    return stack.client("dynamodb").scan(TableName=table, ConsistentRead=True).get("Items", [])


def test_the_local_stack_tells_the_operators_tools_which_configuration_it_runs(local_stack):
    # GIVEN the running local stack WHEN the operators' tools resolve it from its outputs file
    target = resolve_target("local", local_outputs=local_stack.state_dir / "outputs.json")
    # THEN they read the configuration it runs, and so the metrics namespace its functions publish to
    assert local_stack.outputs[local_output_keys.ENV] == CONFIG.env
    assert target.config == CONFIG and target.config.metrics_namespace == f"Sluice/{CONFIG.env}"


def test_one_incident_that_trips_several_children_of_the_composite_pages_once(local_stack):
    stack = local_stack
    incident = {AT_RISK.name, *AT_RISK.children}
    # GIVEN a quiet stack, and someone on call (a queue subscribed to the high topic)
    quiet_stack(stack, incident, QUIET_TIMEOUT, drain=False)
    pager = Inbox(stack, stack.outputs[output_keys.HIGH_TOPIC_ARN])
    start = time.time()
    # WHEN the archive is down and a message reaches the dead-letter queue: two children of the composite,
    # the held dead letter and the failing archiver, go to ALARM
    stack.inject("archive-down", FIRE_TIMEOUT + 60)
    try:
        stack.client("sqs").send_message(
            QueueUrl=stack.outputs[output_keys.DEAD_LETTER_QUEUE_URL], MessageBody="one incident"
        )
        stack.wait_for_alarms({DLQ, ARCHIVER_ERRORS, AT_RISK.name}, start, FIRE_TIMEOUT)
    finally:
        stack.lift("archive-down")
    # AND once the archive is back and the dead letter archived, everything returns to OK
    wait_for(
        lambda: {DLQ, ARCHIVER_ERRORS, AT_RISK.name} <= back_to_ok_since(stack, start),
        "the incident to end",
        CLEAR_TIMEOUT,
    )
    # THEN the person on call got one page when it began and one when it ended, both from the composite
    pages = [json.loads(message["Message"]) for message in pager.drain()]
    about_incident = [(page["AlarmName"], page["NewStateValue"]) for page in pages if page["AlarmName"] in incident]
    assert about_incident == [(AT_RISK.name, "ALARM"), (AT_RISK.name, "OK")]


def refuse_until(stack: HarnessStack, fired: Callable[[], bool], timeout: float) -> None:
    """Requests without an API key (403), a few a second, until `fired()` says their alarm went off."""
    url = f"{stack.api_url}/events"
    deadline = time.monotonic() + timeout
    while not fired():
        assert time.monotonic() < deadline, f"{CLIENT_ERRORS} did not fire within {timeout:.0f} s"
        for _ in range(REFUSED_PER_ROUND):
            status = requests.post(url, data="{}", headers={"Content-Type": "application/json"}, timeout=30)
            assert status.status_code == 403
        time.sleep(1)  # the pace of the refused traffic, not a wait for anything


def test_low_tier_alarms_held_outside_business_hours_arrive_as_one_digest_when_the_schedule_fires(local_stack):
    stack = local_stack
    # GIVEN a quiet 4XX alarm, the low tier's people (a queue subscribed to the notify topic), and the local
    # business-hours clock at Sunday 22:00 in Berlin
    quiet_stack(stack, {CLIENT_ERRORS}, QUIET_TIMEOUT, drain=False)
    people = Inbox(stack, stack.outputs[output_keys.NOTIFY_TOPIC_ARN])
    stack.control("POST", "/clock", {"at": SUNDAY_NIGHT.isoformat()})
    try:
        start = time.time()
        # WHEN refused requests make the low-tier 4XX alarm fire
        refuse_until(stack, lambda: CLIENT_ERRORS in stack.fired_since(start), FIRE_TIMEOUT)
        # THEN its notification is held, not sent
        wait_for(
            lambda: any(CLIENT_ERRORS in item.get("message", {}).get("S", "") for item in held(stack)),
            "the alarm's notification to be held",
            DELIVERY_TIMEOUT,
        )
        assert not any(CLIENT_ERRORS in message["Message"] for message in people.drain())
        # WHEN the clock reaches Monday 09:00:05, past the schedule's start of business hours
        stack.control("POST", "/clock", {"at": MONDAY_MORNING.isoformat()})
        # THEN everything held goes out, as one digest that lists the alarm
        wait_for(lambda: not held(stack), "the held notifications to be sent", DELIVERY_TIMEOUT)
    finally:
        stack.control("POST", "/clock", {"at": None})
    digests = [message for message in people.drain() if message.get("Subject", "").endswith("held overnight")]
    assert len(digests) == 1, [digest["Subject"] for digest in digests]
    assert f"{CLIENT_ERRORS}  -> ALARM" in digests[0]["Message"]
    # AND the digest is a line of notifications.log, at the moved clock's time (Monday 09:00 in Berlin)
    log = (stack.state_dir / "logs" / "notifications.log").read_text(encoding="utf-8")
    assert f"{MONDAY_MORNING.astimezone(UTC):%Y-%m-%dT%H:%M}" in next(
        (line for line in log.splitlines() if "digest sent  [sluice-local-notify]" in line), "no digest line"
    )
    # AND the console shows it sent, at that time, and the alarm's notification no longer held
    overview = stack.control("GET", "/console/api/overview")
    assert overview["digest"]["last_sent"]["at"].startswith(f"{MONDAY_MORNING.astimezone(UTC):%Y-%m-%dT%H:%M}")
    low = [item for item in overview["feed"] if item["alarm"] == CLIENT_ERRORS and item["new"] == "ALARM"]
    assert low and low[0]["delivery"].startswith("held, then sent in the digest of Mon 08:00 UTC")
