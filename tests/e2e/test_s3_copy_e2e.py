"""The load test's reconciliation of the S3 copy against the real local stack's analytics store: a right copy
passes, a copy with a missing and a duplicated event fails."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from datetime import timedelta

import pytest

from functions.common.analytics import analytics_objects, read_lines
from functions.common.clock import iso_millis, parse_iso
from functions.common.envelope import Envelope, new_event_id
from loadtest.expectations import Observed, check_expectations
from loadtest.idlog import AcceptedRequest
from loadtest.locust_stats import Row
from loadtest.profiles import Slo
from loadtest.reconcile import Reconciliation, reconcile
from loadtest.scenarios import Expectations
from loadtest.stack import LocalStackView
from loadtest.target import local_target

STORED_TIMEOUT_SECONDS = 60  # generous: the consumer's batching window is 1 s locally
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

S3_CHECKS = ("zero loss in the S3 copy", "no duplicates in the S3 copy")


def s3_checks(result: Reconciliation) -> dict[str, bool]:
    totals = Row("Aggregated", 1, 0, 1.0, 1.0, 1.0)
    checks = check_expectations(Expectations(), Slo(1000, 0.01), Observed(totals, result, [], [], drained=True))
    return {check.name: check.ok for check in checks if check.name in S3_CHECKS}


def wait_in_copy(view: LocalStackView, since: float, ids: list[str]) -> Counter[str]:
    deadline = time.monotonic() + STORED_TIMEOUT_SECONDS
    while True:
        copy = view.analytics_counts(since)
        assert copy is not None, "the local stack has no S3 analytics store"
        if all(copy.rows[event_id] for event_id in ids):
            return copy.rows
        assert time.monotonic() < deadline, f"not in the S3 copy after {STORED_TIMEOUT_SECONDS} s: {ids}"
        time.sleep(0.5)


def stored_envelope(s3, bucket: str, event_id: str) -> Envelope:
    """The event as its line in the store holds it."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="events/"):
        for item in page.get("Contents", []):
            for line in read_lines(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()):
                if line["event_id"] == event_id:
                    return Envelope(**line)
    raise AssertionError(f"{event_id} is in no object of s3://{bucket}/events/")


def test_the_s3_copy_of_the_local_stack_passes_when_right_and_fails_with_a_missing_and_a_duplicated_event(
    local_stack,
) -> None:
    # GIVEN five events the local stack accepted and wrote to its S3 analytics store
    since = time.time()
    response = local_stack.post_events([{"e2e": "s3-copy", "n": n} for n in range(5)])
    assert response.status_code == 202, response.text
    ids = response.json()["ids"]
    target = local_target(local_stack.outputs)
    view = LocalStackView(target)
    wait_in_copy(view, since, ids)
    # WHEN the run's ids are reconciled against the table and the copy
    right = reconcile([AcceptedRequest(tuple(ids))], view.stored, view.analytics_counts(since))
    # THEN every id is in exactly one row of the view `events`: both S3 checks pass
    assert right.s3 is not None and (right.s3.lost, right.s3.duplicates) == ((), 0)
    assert s3_checks(right) == dict.fromkeys(S3_CHECKS, True)

    # GIVEN the first event written again, identical, in another object (its batch regrouped after the PUT): a
    # copy the view counts once. The regrouped batch also holds an event never sent: an object's key hashes its
    # ids, and the consumer may have written the first event in a batch of its own (a busy machine splits the
    # five), whose key a batch of that event alone would overwrite instead of adding a line.
    s3, bucket = local_stack.client("s3"), target.analytics_bucket
    first = stored_envelope(s3, bucket, ids[0])
    planted = analytics_objects("events", [first, dataclasses.replace(first, event_id=new_event_id())])
    # AND the second event received again an hour earlier (a same-key resend across an hour): a second row
    second = stored_envelope(s3, bucket, ids[1])
    an_hour_before = iso_millis(parse_iso(second.received_at) - timedelta(hours=1))
    planted |= analytics_objects("events", [dataclasses.replace(second, received_at=an_hour_before)])
    # AND a log that also holds an id the stack never stored
    try:
        for key, (body, _) in planted.items():
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        # WHEN reconciled again (reading from an hour earlier, where the resend landed)
        wrong = reconcile(
            [AcceptedRequest((*ids, "evt-never-stored"))],
            lambda chunk: set(chunk),
            view.analytics_counts(since - 3600),
        )
        # THEN the missing id and the duplicated one are named, both S3 checks fail, and the identical copy is
        # counted apart, not as a duplicate
        assert wrong.s3 is not None
        assert (wrong.s3.lost, wrong.s3.duplicated, wrong.s3.duplicates) == (("evt-never-stored",), (ids[1],), 1)
        assert wrong.s3.copies == 1
        assert s3_checks(wrong) == dict.fromkeys(S3_CHECKS, False)
    finally:
        for key in planted:
            s3.delete_object(Bucket=bucket, Key=key)
