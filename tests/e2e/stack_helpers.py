"""What e2e tests read from a shared local stack about THEIR OWN events (by id or by a marker in the event), never
stack-wide counts the canary or a neighbouring test moves; and the stack's alarm names, as the alarm table
builds them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from alarms.table import Tier, alarm_name
from cloudformation import output_keys
from core.config import load_config
from core.paths import PROJECT_ROOT
from functions.common.archive import ARCHIVE_PREFIX, read_archive_lines
from functions.common.clock import iso_millis, utc_now
from functions.common.envelope import Envelope, new_event_id
from functions.common.item import decode
from ops.whereabouts import Whereabouts, locate
from tests.e2e.clients import drained
from tests.local_stack_harness import HarnessStack

LOCAL = load_config("local")
DRAIN_TIMEOUT_SECONDS = 60


def alarm(row: str, tier: Tier) -> str:
    """The local stack's name of the alarm `row` at `tier` (alarms/table.py's own function)."""
    return alarm_name(LOCAL, row, tier)


def stored_items(stack: HarnessStack, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The table items of `ids` that exist, by event id (raw DynamoDB items: `decode` reads them)."""
    dynamodb, table = stack.client("dynamodb"), stack.outputs[output_keys.TABLE_NAME]
    found: dict[str, dict[str, Any]] = {}
    wanted = list(dict.fromkeys(ids))
    for start in range(0, len(wanted), 100):  # BatchGetItem takes at most 100 keys
        request = {
            table: {"Keys": [{"event_id": {"S": i}} for i in wanted[start : start + 100]], "ConsistentRead": True}
        }
        for _ in range(10):
            response = dynamodb.batch_get_item(RequestItems=request)
            found.update({item["event_id"]["S"]: item for item in response["Responses"].get(table, [])})
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        assert not request, "DynamoDB kept returning unprocessed keys"
    return found


def stored_events_holding(stack: HarnessStack, marker: str) -> dict[str, str]:
    """Event id → raw text of every stored event whose text contains `marker` (a scan: for events whose ids the
    test never learnt, or to count how many times its events were stored)."""
    pages = (
        stack.client("dynamodb")
        .get_paginator("scan")
        .paginate(TableName=stack.outputs[output_keys.TABLE_NAME], ConsistentRead=True)
    )
    events = (decode(item) for page in pages for item in page["Items"])
    return {event["event_id"]: event["raw"] for event in events if marker in event["raw"]}


def assert_never_stored(stack: HarnessStack, marker: str) -> None:
    """No event holding `marker` is stored, judged once an event posted after it is stored and the ingest
    queue has drained: an event accepted before then would be in the table, or still queued, by that time."""
    later = stack.post_events({"posted_after": "a refused request"})
    assert later.status_code == 202, later.text
    stack.wait_stored(later.json()["ids"], DRAIN_TIMEOUT_SECONDS)
    stack.wait_until(drained, DRAIN_TIMEOUT_SECONDS, "the ingest queue to drain")
    assert stored_events_holding(stack, marker) == {}


def all_archived_lines(stack: HarnessStack) -> Iterator[dict[str, Any]]:
    """Every line of every archive object (the archiver's gzip JSON lines under dlq/)."""
    s3, bucket = stack.client("s3"), stack.outputs[output_keys.ARCHIVE_BUCKET]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{ARCHIVE_PREFIX}/"):
        for item in page.get("Contents", []):
            yield from read_archive_lines(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())


def archived_lines(stack: HarnessStack, ids: set[str]) -> dict[str, dict[str, Any]]:
    """The archive's lines of the events `ids`, by event id."""
    return {line["event_id"]: line for line in all_archived_lines(stack) if line["event_id"] in ids}


def archived_bodies(stack: HarnessStack, bodies: set[str]) -> dict[str, dict[str, Any]]:
    """The archive's lines whose message body is one of `bodies` (poison has no event id), by body."""
    return {line["body"]: line for line in all_archived_lines(stack) if line["body"] in bodies}


def whereabouts(stack: HarnessStack, ids: Iterable[str]) -> Whereabouts:
    """Where `ids` are, parked or archived, as the operators' tool (ops/whereabouts.py) finds them."""
    outputs = stack.outputs
    sqs, s3 = stack.client("sqs"), stack.client("s3")
    queues = outputs[output_keys.QUEUE_URL], outputs[output_keys.DEAD_LETTER_QUEUE_URL]
    return locate(ids, sqs, s3, *queues, outputs[output_keys.ARCHIVE_BUCKET])


def parked_ids(stack: HarnessStack, ids: list[str]) -> set[str]:
    """Which of `ids` wait parked in S3."""
    return set(whereabouts(stack, ids).parked)


def envelope_of(stack: HarnessStack, event: dict[str, Any]) -> tuple[str, str]:
    """(event id, message body) of `event` in an envelope as ingest writes it (for the queues, bypassing the API)."""
    envelope = Envelope(
        event_id=new_event_id(),
        raw=json.dumps(event),
        received_at=iso_millis(utc_now()),
        source_ip="127.0.0.1",
        user_agent="e2e-tests",
        api_key_id=stack.outputs[output_keys.API_KEY_ID],
        request_id=str(uuid.uuid4()),
    )
    return envelope.event_id, envelope.to_json()


# --- alarms: their states now, and the transitions the stack recorded ------------------------------------


def alarm_states(stack: HarnessStack, names: Iterable[str]) -> dict[str, str]:
    alarms = stack.status()["alarms"]
    return {name: alarms[name] for name in names}


def wait_alarm_states(stack: HarnessStack, names: Iterable[str], state: str, timeout: float) -> dict[str, Any]:
    """Until every alarm of `names` is in `state`; returns the stack's status then."""
    wanted = set(names)
    return stack.wait_until(
        lambda status: all(status["alarms"][name] == state for name in wanted), timeout, f"{sorted(wanted)} {state}"
    )


def quiet_stack(stack: HarnessStack, alarms_ok: Iterable[str], timeout: float, *, drain: bool = True) -> dict:
    """Lift any fault left on (by a test that failed before lifting it), then wait for no fault, the queues drained
    (unless not `drain`) and `alarms_ok` OK: another test's may still be clearing. Returns the status then."""
    for fault in stack.status()["chaos"]:
        stack.lift(fault)
    wanted = set(alarms_ok)

    def quiet(status: dict[str, Any]) -> bool:
        ok = all(status["alarms"][name] == "OK" for name in wanted)
        return ok and not status["chaos"] and (drained(status) or not drain)

    return stack.wait_until(quiet, timeout, f"a quiet stack (no fault, queues drained: {drain}, {sorted(wanted)} OK)")


def alarm_transitions(stack: HarnessStack, since: float, alarm: str | None = None) -> list[dict[str, Any]]:
    """The transitions the stack's evaluator recorded after `since` (epoch seconds), of `alarm` or of every
    alarm, oldest first."""
    found = stack.control("GET", f"/alarm-transitions?since={since}")
    return sorted((item for item in found if alarm in (None, item["alarm"])), key=lambda item: item["time"])


def first_transition(stack: HarnessStack, alarm: str, state: str, since: float) -> float | None:
    """When `alarm` first went to `state` after `since`, if it did."""
    return next((item["time"] for item in alarm_transitions(stack, since, alarm) if item["new"] == state), None)


def wait_transition(stack: HarnessStack, alarm: str, state: str, since: float, timeout: float) -> float:
    """When `alarm` went to `state` after `since`, waiting up to `timeout` seconds for it."""
    deadline = time.monotonic() + timeout
    while (moment := first_transition(stack, alarm, state, since)) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"{alarm} did not go to {state} within {timeout:.0f} s: {stack.status()['alarms']}")
        time.sleep(1)
    return moment


def back_to_ok_since(stack: HarnessStack, since: float) -> set[str]:
    """Alarms that went to ALARM after `since` and whose latest transition since then is back to OK."""
    fired: set[str] = set()
    recovered: set[str] = set()
    for item in alarm_transitions(stack, since):
        if item["new"] == "ALARM":
            fired.add(item["alarm"])
            recovered.discard(item["alarm"])
        elif item["new"] == "OK" and item["alarm"] in fired:
            recovered.add(item["alarm"])
    return recovered


def wait_back_to_ok(stack: HarnessStack, names: set[str], since: float, timeout: float) -> None:
    """Until every alarm of `names` fired after `since` and is back to OK."""
    deadline = time.monotonic() + timeout
    while not names <= (recovered := back_to_ok_since(stack, since)):
        if time.monotonic() > deadline:
            pending = alarm_states(stack, sorted(names - recovered))
            raise AssertionError(f"alarms did not go back to OK within {timeout:.0f} s: {pending}")
        time.sleep(1)


# What `invoke keys.create` prints of the new key (ops/keys.py).
CREATED_KEY_VALUE = re.compile(r"value \(shown once; send it as the x-api-key header\): (\S+)")


def keys_task(stack: HarnessStack, *args: str) -> str:
    """`invoke keys.<args>` against the stack, as an operator runs it; its stdout."""
    env = {**os.environ, "SLUICE_STATE_DIR": str(stack.state_dir), "PYTHONPATH": str(PROJECT_ROOT)}
    ran = subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, f"invoke {' '.join(args)}: {ran.stdout}{ran.stderr}"
    assert "Traceback" not in ran.stderr
    return ran.stdout


def created_value(output: str) -> str:
    match = CREATED_KEY_VALUE.search(output)
    assert match, output
    return match.group(1)
