"""Outages of any length on the local stack (issue 26): a backlog several times SQS's in-flight cap never
stalls the queue, and an outage longer than the retry window ends in the archive with its reason, never in
the retention's bin.

The local stack's SQS enforces the in-flight cap (`queue.in_flight_limit`, 500 locally) as SQS does: at the cap
a long poll receives nothing. The retry design keeps at most the consumer's maximum concurrency × batch size in
flight, whatever the backlog: what the store does not take is parked in S3, not held in the queue.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cloudformation import output_keys
from core.config import load_config
from functions.common.clock import parse_iso
from functions.common.dead_letter import RETRY_WINDOW_SPENT
from ops.reconcile import reconcile_ids_s3
from ops.replay import replay
from tests.e2e.stack_helpers import alarm, archived_lines, parked_ids

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack-e")]

CONFIG = load_config("local")
EVENTS_PER_REQUEST = 50
STORE_TIMEOUT_SECONDS = 240  # a bound on the wait, not a figure: the drain takes seconds (printed)


class InFlightSampler:
    """Samples the ingest queue's in-flight count (ApproximateNumberOfMessagesNotVisible) until stopped. The cap
    and the bound are properties of the queue, whoever sends: the canary's messages count as well."""

    def __init__(self, stack: Any) -> None:
        self._sqs = stack.client("sqs")
        self._url = stack.outputs[output_keys.QUEUE_URL]
        self._stop = threading.Event()
        self.samples: list[int] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=self._url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            self.samples.append(int(attributes["ApproximateNumberOfMessagesNotVisible"]))
            self._stop.wait(0.1)

    def __enter__(self) -> InFlightSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(10)


@contextmanager
def fault(stack: Any, name: str) -> Iterator[None]:
    """`name` active until the block ends (bounded: it lifts itself after the longest wait of this module)."""
    stack.inject(name, STORE_TIMEOUT_SECONDS + CONFIG.queue.retry_window_seconds)
    try:
        yield
    finally:
        stack.lift(name)


def post(stack: Any, run: str, requests: int) -> list[str]:
    """`requests` batches of EVENTS_PER_REQUEST events marked with `run`; returns the accepted ids."""
    accepted: list[str] = []
    for n in range(requests):
        events = [{"run": run, "n": n * EVENTS_PER_REQUEST + i} for i in range(EVENTS_PER_REQUEST)]
        response = stack.post_events(events)
        assert response.status_code == 202, response.text
        accepted += response.json()["ids"]
    return accepted


def test_a_backlog_several_times_the_in_flight_cap_never_stalls_and_is_stored_once(local_stack):
    bound = CONFIG.consumer_in_flight_bound
    cap = CONFIG.queue.in_flight_limit
    run = uuid.uuid4().hex
    with InFlightSampler(local_stack) as sampler:
        # GIVEN the table is unreachable
        with fault(local_stack, "db-down"):
            # WHEN clients send a backlog four times the queue's in-flight cap
            accepted = post(local_stack, run, 4 * cap // EVENTS_PER_REQUEST)
            # AND the consumer has received all of it (the queue holds none of ours visible: parked, not stuck)
            local_stack.wait_until(
                lambda _: parked_ids(local_stack, accepted) == set(accepted),
                STORE_TIMEOUT_SECONDS,
                "the backlog to be received and parked",
            )
            assert local_stack.stored_ids(accepted) == set()
        # WHEN the table is back
        recovered = time.monotonic()
        local_stack.wait_stored(accepted, STORE_TIMEOUT_SECONDS)
        drain_seconds = time.monotonic() - recovered
    # THEN the queue never held more in flight than the consumer's batches, far below the cap it would stall at
    assert sampler.samples and max(sampler.samples) <= bound < cap, (max(sampler.samples), bound, cap)
    # AND every accepted event is stored, and in the S3 analytics copy exactly once
    assert local_stack.stored_ids(accepted) == set(accepted)
    copy = reconcile_ids_s3(local_stack.client("s3"), local_stack.outputs[output_keys.ANALYTICS_BUCKET], accepted)
    assert not copy.missing and not copy.duplicated, (copy.missing[:5], copy.duplicated)
    print(
        f"\n{len(accepted)} events ({len(accepted) / cap:.0f}× the in-flight cap of {cap}) accepted during db-down: "
        f"in flight at most {max(sampler.samples)} (bound {bound}, {len(sampler.samples)} samples); all stored "
        f"{drain_seconds:.1f} s after the table came back"
    )


def test_an_outage_longer_than_the_window_ends_in_the_archive_with_its_reason_and_replays(local_stack):
    started = datetime.now(UTC) - timedelta(minutes=1)
    run = uuid.uuid4().hex
    window = CONFIG.queue.retry_window_seconds
    stopped = alarm("consumer-stopped", "high")
    with fault(local_stack, "db-down"):
        # GIVEN the table is unreachable, and events the consumer receives (and parks) at once
        received = post(local_stack, run, 4)
        local_stack.wait_until(lambda _: parked_ids(local_stack, received) == set(received), 60, "the events parked")
        # AND events the consumer does not receive within their window at all: its mapping stops polling (once
        # consumer-stopped pages, no poll is under way any more) until their window has ended
        with fault(local_stack, "consumer-paused"):
            paused = time.time()
            local_stack.wait_for_alarms({stopped}, paused, STORE_TIMEOUT_SECONDS)
            never_received = post(local_stack, run, 2)
            window_ends = time.time() + window + CONFIG.queue.retrier_interval_seconds
            # (the cause is the clock itself: the window is counted from acceptance)
            local_stack.wait_until(lambda _: time.time() > window_ends, window + 60, "their window to end")
        accepted = received + never_received
        # WHEN the outage still lasts: the consumer receives the unreceived events and the retrier's pointers to the
        # parked ones, and dead-letters them all, and the archiver archives them
        local_stack.wait_until(
            lambda _: len(archived_lines(local_stack, set(accepted))) == len(accepted),
            STORE_TIMEOUT_SECONDS,
            "every accepted event to be archived",
        )
    # THEN each is in the archive with the reason "retry window spent", archived after its window and long before
    # the queue's retention would have deleted it
    lines = archived_lines(local_stack, set(accepted))
    assert {line["reason"] for line in lines.values()} == {RETRY_WINDOW_SPENT}
    for line in lines.values():
        waited = (parse_iso(line["archived_at"]) - parse_iso(json.loads(line["body"])["received_at"])).total_seconds()
        assert window <= waited < CONFIG.queue.retention_seconds, (line["event_id"], waited)
    # (Delivery is at least once: a batch whose invocation timed out after its dead letters were sent comes back,
    # and is stored once the table is back. The archive line stays, and replaying it rewrites the same item.)
    # WHEN the archive is replayed after recovery
    result = replay(
        local_stack.client("s3"),
        local_stack.client("sqs"),
        local_stack.outputs[output_keys.ARCHIVE_BUCKET],
        local_stack.outputs[output_keys.QUEUE_URL],
        started,
        datetime.now(UTC) + timedelta(minutes=1),
    )
    # THEN every accepted event is stored (the archive's hour partitions may hold other tests' dead letters too)
    assert not result.failed and result.sent >= len(accepted)
    local_stack.wait_stored(accepted, STORE_TIMEOUT_SECONDS)
    longest = max(
        (parse_iso(line["archived_at"]) - parse_iso(json.loads(line["body"])["received_at"])).total_seconds()
        for line in lines.values()
    )
    print(
        f"\noutage beyond the {window} s window: {len(received)} parked and {len(never_received)} not received within "
        "their window, "
        f"all archived as '{RETRY_WINDOW_SPENT}' at most {longest:.0f} s after acceptance; replayed and stored"
    )
