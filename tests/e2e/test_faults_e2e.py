"""Faults on the local stack with real HTTP traffic running through it: every event a client was told
"accepted" ends up in the table exactly once, and the alarms that should fire do.

Each test waits until the stack is quiet (no fault, queues drained, its alarms back to OK), runs a background
client posting batches while the fault lasts, then checks the table, the archive and the alarm transitions since
its start. The outages are short (15-25 s) where the retry window is not the point, except the database outage
longer than redrive's budget (5 receives) but inside the retry window; the outage longer than the window
(DLQ → archive → replay) and a backlog beyond the in-flight cap are test_long_outage_e2e.py's, the poison
messages test_pipeline_e2e.py's.

Each test judges only its own events: those it posted and the envelopes it sent all carry this module's run and
the test's label, so the table and the archive are searched for those, never counted whole (the canary and the
tests before it add their own). After the last test, the module's fixture prints the figures: faults survived,
events accepted, events lost, duplicates; each test asserts its own.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cloudformation import output_keys
from core.config import load_config
from functions.common.archive import read_archive_lines
from functions.common.envelope import derived_event_id, events_fingerprint
from functions.common.item import decode
from ops.reconcile import reconcile_ids_s3
from ops.replay import archive_keys, partition_prefixes, read_object, replay
from tests.e2e.clients import RUN, Exchange, Traffic, drained, traffic_event, traffic_marker
from tests.e2e.stack_helpers import (
    alarm,
    archived_bodies,
    archived_lines,
    envelope_of,
    quiet_stack,
    stored_events_holding,
    stored_items,
    whereabouts,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

OUTAGE_SECONDS = 15
CONFIG = load_config("local")
# What redrive alone would allow: 5 receives, one visibility timeout apart.
REDRIVE_BUDGET = 5 * CONFIG.visibility_timeout_seconds
QUIET_TIMEOUT_SECONDS = 120
ALARM_TIMEOUT_SECONDS = 60
STORE_TIMEOUT_SECONDS = 90
FIGURE_NAMES = (
    "faults survived",
    "events accepted",
    "events lost",
    "duplicates",
    "missing from the S3 copy",
    "repeated in the S3 copy",
)


@pytest.fixture(scope="module")
def figures() -> Iterator[Counter[str]]:
    """What the module's fault tests counted, each of its own run, printed once they are done (whichever ran)."""
    counted: Counter[str] = Counter()
    yield counted
    print(f"\nfault injection: {', '.join(f'{name}: {counted[name]}' for name in FIGURE_NAMES)}")


# --- the stack -----------------------------------------------------------------------------------------


def posted_texts(exchange: Exchange) -> list[str]:
    """The text of each event as ingest sliced it out of the posted body (json.dumps of the list)."""
    return [json.dumps(event) for event in exchange.events]


def traffic_through_outage(
    stack: Any, fault: str, seconds: float = OUTAGE_SECONDS, *, until_fired: Iterable[str] = (), **options: Any
) -> Traffic:
    """A client posting for 2 s, through `fault`, and for 3 s after it is lifted. The fault lasts `seconds`, or
    with `until_fired` until those alarms fired: a cause that stays until its effect is seen, whatever the
    machine's speed (bounded: the wait gives up, with a message, before the fault would end by itself)."""
    with Traffic(stack, fault, **options) as traffic:
        time.sleep(2)
        alarms = set(until_fired)
        if alarms:
            since = time.time()
            stack.inject(fault, ALARM_TIMEOUT_SECONDS + 5)
            try:
                stack.wait_for_alarms(alarms, since, ALARM_TIMEOUT_SECONDS)
            finally:
                stack.lift(fault)
        else:
            stack.inject(fault, seconds)
            time.sleep(seconds)
        time.sleep(3)
    return traffic


def expect_stored_once(
    stack: Any,
    traffic: Traffic,
    figures: Counter[str],
    extra: dict[str, dict] | None = None,
    *,
    s3_repeats_possible: bool = False,
) -> None:
    """Every accepted event (and `extra` ones) is stored, identical to what was sent, and the table holds exactly
    that many events of the test (found by its marker): nothing lost, nothing stored twice; the S3 analytics copy
    holds each of them, once unless the same message was delivered in two batches (`s3_repeats_possible`: the
    store's keys make only a redelivered *batch* idempotent). Adds to `figures` before asserting."""
    stack.wait_until(drained, STORE_TIMEOUT_SECONDS, "the queues to drain")
    accepted = {**traffic.accepted(), **(extra or {})}
    handed_out = traffic.handed_out()
    items = stored_items(stack, list(accepted))
    lost = set(accepted) - set(items)
    altered = [i for i, item in items.items() if json.loads(decode(item)["raw"]) != accepted[i]]
    own = len(stored_events_holding(stack, traffic_marker(traffic.label)))
    duplicates = (len(handed_out) - len(set(handed_out))) + max(own - len(accepted), 0)
    copy = reconcile_ids_s3(stack.client("s3"), stack.outputs[output_keys.ANALYTICS_BUCKET], list(accepted))
    figures["events accepted"] += len(accepted)
    figures["events lost"] += len(lost)
    figures["duplicates"] += duplicates
    figures["missing from the S3 copy"] += len(copy.missing)
    figures["repeated in the S3 copy"] += sum(copy.duplicated.values()) - len(copy.duplicated)
    if lost:  # say where they are (queues, parked, archive): a failure here should name its cause
        where = whereabouts(stack, lost)
        lines = "\n".join(where.summary(sorted(lost)))
        s3, bucket = stack.client("s3"), stack.outputs[output_keys.ARCHIVE_BUCKET]
        for key in sorted(set(where.archived.values()))[:3]:
            for line in read_archive_lines(s3.get_object(Bucket=bucket, Key=key)["Body"].read())[:2]:
                lines += f"\n  archived: reason={line['reason']} receives={line['receive_count']} key={key}"
        raise AssertionError(f"{len(lost)} accepted events are not in the table, e.g. {sorted(lost)[:5]}\n{lines}")
    assert not altered, f"stored events differ from what was sent: {altered[:5]}"
    assert duplicates == 0 and own == len(accepted), (own, len(accepted), duplicates)
    assert not copy.missing, f"{len(copy.missing)} accepted events are not in the S3 copy, e.g. {copy.missing[:5]}"
    assert s3_repeats_possible or not copy.duplicated, f"repeated in the S3 copy: {copy.duplicated}"


# --- the faults ----------------------------------------------------------------------------------------


def test_db_outage_longer_than_redrive_allows_but_inside_the_window_dead_letters_nothing(local_stack, figures):
    # GIVEN a quiet stack and a client posting batches
    retrying = alarm("retries", "low")
    quiet_stack(local_stack, {retrying}, QUIET_TIMEOUT_SECONDS)
    since = time.time()
    # WHEN the table is unreachable for one visibility timeout longer than redrive alone would allow (5 receives ×
    # one visibility timeout), well inside the window: what is left of the window must cover the recovery (the
    # retrier's probe and redelivery), which a CPU-starved machine stretched past 28 s when the outage was the
    # midpoint (90 s of 120); now 46 s are left
    outage = REDRIVE_BUDGET + CONFIG.visibility_timeout_seconds
    assert REDRIVE_BUDGET < outage < CONFIG.queue.retry_window_seconds
    traffic = traffic_through_outage(local_stack, "db-down", outage, pause=1.0, max_seconds=outage + 10)
    lifted = time.monotonic() - 3  # traffic_through_outage posts for 3 s after the fault ends
    # THEN the API kept accepting (the queue was up), and every event is stored once after the outage
    assert set(traffic.statuses()) == {202}, traffic.statuses()
    expect_stored_once(local_stack, traffic, figures)
    stored_after = time.monotonic() - lifted
    # AND none of its events was dead-lettered (the queues drained: a dead letter is archived by now): parking
    # carried the outage
    assert archived_lines(local_stack, set(traffic.accepted())) == {}
    # AND the retries alarm (low tier) fired, and clears after the recovery
    local_stack.wait_for_alarms({retrying}, since, ALARM_TIMEOUT_SECONDS)
    local_stack.wait_until(
        lambda status: status["alarms"][retrying] == "OK", QUIET_TIMEOUT_SECONDS, "the retries alarm to clear"
    )
    print(
        f"\n{outage:.0f} s outage inside the {CONFIG.queue.retry_window_seconds} s window: "
        f"{len(traffic.accepted())} events, all stored {stored_after:.0f} s after it ended, 0 dead-lettered; "
        f"retries alarm clear {time.monotonic() - lifted:.0f} s after it ended"
    )
    figures["faults survived"] += 1


def test_queue_unreachable_from_ingest_gives_503_with_retry_after_and_nothing_half_accepted(local_stack, figures):
    # GIVEN a quiet stack and a client whose every request carries an Idempotency-Key (its ids are known)
    expected = {alarm("api-5xx-rate", "high"), alarm("ingestion-at-risk", "high")}
    quiet_stack(local_stack, expected, QUIET_TIMEOUT_SECONDS)
    # WHEN ingest cannot reach the queue, until the 5XX rate paged (through the ingestion-at-risk composite too)
    traffic = traffic_through_outage(local_stack, "queue-down", until_fired=expected, keyed=True)
    refusals = [exchange for exchange in traffic.exchanges if exchange.status == 503]
    # THEN the clients got 503 with Retry-After and a documented error, and 202 before and after
    assert refusals and traffic.statuses()[202] > 0, traffic.statuses()
    assert set(traffic.statuses()) <= {202, 503}, traffic.statuses()
    for exchange in refusals:
        assert exchange.retry_after and int(exchange.retry_after) > 0, exchange
        assert exchange.body["error"] in ("queue_unavailable", "partially_accepted"), exchange
    # AND no event a 503 refused is in the table (its id is known from the Idempotency-Key and the events, which
    # were posted as json.dumps(events): each one's text is json.dumps of it)
    refused = [
        derived_event_id(
            local_stack.outputs[output_keys.API_KEY_ID], exchange.key, events_fingerprint(posted_texts(exchange)), index
        )
        for exchange in refusals
        for index in (
            [failure["index"] for failure in exchange.body["failed"]]
            if exchange.body["error"] == "partially_accepted"
            else range(len(exchange.events))
        )
    ]
    local_stack.wait_until(drained, STORE_TIMEOUT_SECONDS, "the queues to drain")
    assert local_stack.stored_ids(refused) == set()
    # AND every event of a 202 (and the accepted part of a partial 503) is stored, once
    expect_stored_once(local_stack, traffic, figures)
    figures["faults survived"] += 1


def test_db_throttling_is_retried_until_every_event_is_stored(local_stack, figures):
    # GIVEN a quiet stack and a client posting batches
    expected = {alarm("table-throttles", "low")}
    quiet_stack(local_stack, expected, QUIET_TIMEOUT_SECONDS)
    # WHEN DynamoDB throttles every write, until the throttling is reported (well inside the retry window)
    traffic = traffic_through_outage(local_stack, "db-throttle", until_fired=expected)
    # THEN every accepted event is stored once
    assert set(traffic.statuses()) == {202}, traffic.statuses()
    expect_stored_once(local_stack, traffic, figures)
    assert archived_lines(local_stack, set(traffic.accepted())) == {}
    figures["faults survived"] += 1


def test_archive_unavailable_while_the_dead_letter_queue_fills_keeps_the_messages_then_archives(local_stack, figures):
    # GIVEN a quiet stack and a client posting batches
    paged = {alarm("dlq-visible", "high"), alarm("archiver-errors", "high"), alarm("ingestion-at-risk", "high")}
    archived_alarm = alarm("events-archived", "low")
    quiet_stack(local_stack, paged | {archived_alarm}, QUIET_TIMEOUT_SECONDS)
    started, since = datetime.now(UTC), time.time()
    sqs, dlq = local_stack.client("sqs"), local_stack.outputs[output_keys.DEAD_LETTER_QUEUE_URL]
    dead: dict[str, dict[str, Any]] = {}
    poison = f"poison {RUN}: not an envelope"
    with Traffic(local_stack, "archive-down", max_seconds=40) as traffic:
        # WHEN the archive bucket is unreachable while dead letters keep arriving (a poison message among them)
        local_stack.inject("archive-down", 60)
        sqs.send_message(QueueUrl=dlq, MessageBody=poison)
        for n in range(10):
            event = traffic_event("archive-down", dead=n)
            event_id, body = envelope_of(local_stack, event)
            sqs.send_message(QueueUrl=dlq, MessageBody=body)
            dead[event_id] = event
            time.sleep(2)
        # THEN none of them is archived yet, and the failing archiver pages
        assert archived_lines(local_stack, set(dead)) == {} and archived_bodies(local_stack, {poison}) == {}
        local_stack.wait_for_alarms(paged, since, ALARM_TIMEOUT_SECONDS)
        # WHEN the bucket is back
        local_stack.lift("archive-down")
    # THEN the DLQ kept them: every dead letter, the poison too, is archived once it gives the held batches back
    local_stack.wait_until(
        lambda status: (
            drained(status)
            and len(archived_lines(local_stack, set(dead))) == len(dead)
            and set(archived_bodies(local_stack, {poison})) == {poison}
        ),
        STORE_TIMEOUT_SECONDS,
        "the test's dead letters to be archived",
    )
    local_stack.wait_for_alarms({archived_alarm}, since, ALARM_TIMEOUT_SECONDS)
    # AND replaying the archive stores the dead-lettered events; the HTTP traffic was stored all along
    s3, bucket = local_stack.client("s3"), local_stack.outputs[output_keys.ARCHIVE_BUCKET]
    window = (started - timedelta(minutes=1), datetime.now(UTC) + timedelta(minutes=1))
    # (the window is whole hours of the archive: other tests' dead letters in it are replayed too)
    replayable = {
        item.event_id
        for key in archive_keys(s3, bucket, partition_prefixes(*window))
        for item in read_object(s3, bucket, key)[0]
    }
    result = replay(s3, local_stack.client("sqs"), bucket, local_stack.outputs[output_keys.QUEUE_URL], *window)
    assert not result.failed and result.sent == len(replayable) >= len(dead)
    assert any(item.reason for item in result.not_replayable), "the poison message is archived, not replayed"
    assert set(traffic.statuses()) == {202}, traffic.statuses()
    local_stack.wait_until(drained, STORE_TIMEOUT_SECONDS, "the replayed events to be stored")
    items = stored_items(local_stack, list(dead))
    figures["events lost"] += len(set(dead) - set(items))
    assert {event_id: json.loads(decode(item)["raw"]) for event_id, item in items.items()} == dead
    expect_stored_once(local_stack, traffic, figures, extra=dead)
    figures["faults survived"] += 1


def test_duplicate_deliveries_store_one_identical_item(local_stack, figures):
    # GIVEN a quiet stack, a client posting batches, and two envelopes as ingest writes them
    quiet_stack(local_stack, set(), QUIET_TIMEOUT_SECONDS)
    sqs, queue = local_stack.client("sqs"), local_stack.outputs[output_keys.QUEUE_URL]
    first = traffic_event("duplicate", n=1)
    second = traffic_event("duplicate", n=2)
    (first_id, first_body), (second_id, second_body) = envelope_of(local_stack, first), envelope_of(local_stack, second)
    with Traffic(local_stack, "duplicate", max_seconds=8) as traffic:
        # WHEN each is delivered twice: the first in two sends, the second twice in one batch
        sqs.send_message(QueueUrl=queue, MessageBody=first_body)
        sqs.send_message(QueueUrl=queue, MessageBody=first_body)
        sqs.send_message_batch(
            QueueUrl=queue,
            Entries=[{"Id": "a", "MessageBody": second_body}, {"Id": "b", "MessageBody": second_body}],
        )
        time.sleep(8)
    # THEN each is one item, equal to the envelope, and the table grew by exactly the distinct events
    expect_stored_once(
        local_stack,
        traffic,
        figures,
        extra={first_id: first, second_id: second},
        s3_repeats_possible=True,
    )
    item = stored_items(local_stack, [first_id])[first_id]
    envelope = json.loads(first_body)
    assert decode(item) == {name: envelope[name] for name in envelope if name != "v" and envelope[name] is not None}
    figures["faults survived"] += 1


def test_consumer_crash_mid_batch_after_a_partial_write_stores_everything_once(local_stack, figures):
    # GIVEN a quiet stack and a client posting batches of 30 (so a consumer batch takes several writes of 25)
    expected = {alarm("consumer-errors", "low")}
    before = quiet_stack(local_stack, expected, QUIET_TIMEOUT_SECONDS)
    # (the fault is this test's own: every consumer invocation while it lasts dies, the canary's batches' too)
    crashes_before = before["functions"]["consumer"]["errors"]
    with Traffic(local_stack, "consumer-crash", batch=30, pause=0.75) as traffic:
        # WHEN the consumer dies right after its first write of each invocation landed (for a while shorter than
        # the retries: a batch's later records are written only once it is lifted)
        time.sleep(2)
        local_stack.inject("consumer-crash", OUTAGE_SECONDS)
        time.sleep(OUTAGE_SECONDS - 2)
        during = local_stack.status()
        stored_during = local_stack.stored_ids(list(traffic.accepted()))
        time.sleep(5)
    # THEN it did crash with part of its batches written (events of the test were stored while every invocation
    # died)
    assert during["functions"]["consumer"]["errors"] > crashes_before
    assert stored_during
    # AND the redeliveries overwrote what had landed: every event is stored once, identical (that a crash fires
    # consumer-errors is test_alarms_e2e's, which keeps the crash on until the alarm fired)
    assert set(traffic.statuses()) == {202}, traffic.statuses()
    expect_stored_once(local_stack, traffic, figures)
    figures["faults survived"] += 1


def test_with_dynamodb_down_a_key_reused_with_other_events_loses_none(local_stack, figures):
    """Issue 32: with the idempotency table unreachable, one Idempotency-Key with other events got 202 twice and
    the second request's events were never stored (they had the first's ids, and the consumer keeps the first
    write of an id)."""
    # GIVEN a quiet stack, and DynamoDB unreachable: the events table and the idempotency table alike
    quiet_stack(local_stack, set(), QUIET_TIMEOUT_SECONDS)
    key = f"{RUN}-db-down-key-reuse"
    first = [{"run": RUN, "key reuse": "first", "i": i} for i in range(3)]
    other = [{"run": RUN, "key reuse": "other", "i": i} for i in range(2)]
    local_stack.inject("db-down", ALARM_TIMEOUT_SECONDS)
    try:
        # WHEN one key brings two batches of different events, then the first again (a retry)
        responses = [
            local_stack.post_events(events, headers={"Idempotency-Key": key}) for events in (first, other, first)
        ]
    finally:
        local_stack.lift("db-down")
    answers = [(response.status_code, response.json()) for response in responses]
    # THEN all three are accepted, the retry with the first's ids (with the idempotency table reachable the second
    # is a 422: its 202 shows that the fault reached the table)
    assert [status for status, _ in answers] == [202, 202, 202], answers
    assert answers[2][1]["ids"] == answers[0][1]["ids"]
    # AND once DynamoDB is back, each of the five events is stored as sent, under an id of its own
    sent = dict(zip(answers[0][1]["ids"], first, strict=True)) | dict(zip(answers[1][1]["ids"], other, strict=True))
    assert len(sent) == len(first) + len(other), answers
    local_stack.wait_stored(list(sent), STORE_TIMEOUT_SECONDS)
    items = stored_items(local_stack, list(sent))
    assert {event_id: json.loads(decode(item)["raw"]) for event_id, item in items.items()} == sent
    figures["faults survived"] += 1
