"""Reconciliation on fake data (the table and the S3 copy); the accepted-ids log; the DynamoDB lookup against a
stub client; the S3 copy of a run's hours on moto."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.common.analytics import analytics_objects
from functions.common.envelope import Envelope
from loadtest.errors import LoadTestError
from loadtest.expectations import Observed, check_expectations
from loadtest.idlog import MERGED_NAME, AcceptedRequest, IdLog, merge_id_logs, read_id_log
from loadtest.locust_stats import Row
from loadtest.profiles import Slo
from loadtest.reconcile import Reconciliation, analytics_counts_since, dynamodb_lookup, reconcile
from loadtest.scenarios import Expectations
from ops.reconcile import StoreCounts


def lookup_in(table: set[str], calls: list[int]):
    def lookup(ids):
        calls.append(len(ids))
        return {event_id for event_id in ids if event_id in table}

    return lookup


def test_everything_stored_means_nothing_lost() -> None:
    # GIVEN 250 accepted ids, all in the table
    ids = [f"id-{n:03d}" for n in range(250)]
    requests = [AcceptedRequest(tuple(ids[n : n + 10])) for n in range(0, 250, 10)]
    calls: list[int] = []
    # WHEN reconciled
    result = reconcile(requests, lookup_in(set(ids), calls))
    # THEN nothing is lost, and the table was asked at most 100 ids at a time
    assert (result.accepted, result.stored, result.lost_count, result.duplicates) == (250, 250, 0, 0)
    assert calls == [100, 100, 50]


def test_ids_missing_from_the_table_are_lost() -> None:
    requests = [AcceptedRequest(("a", "b", "c"))]
    result = reconcile(requests, lookup_in({"a"}, []))
    assert result.lost == ("b", "c")
    assert result.stored == 1


def test_repeats_under_one_idempotency_key_are_not_duplicates() -> None:
    # GIVEN a request and its retry with the same key (same ids), and an id handed out twice without a key
    requests = [
        AcceptedRequest(("k0", "k1"), key="key-1"),
        AcceptedRequest(("k0", "k1"), key="key-1", retry=True),
        AcceptedRequest(("x",)),
        AcceptedRequest(("x",)),
        AcceptedRequest(("y",), key="key-2"),
        AcceptedRequest(("y",), key="key-3"),  # same id from two different keys: a real duplicate
    ]
    # WHEN reconciled
    result = reconcile(requests, lookup_in({"k0", "k1", "x", "y"}, []))
    # THEN the key's repeats are expected; the others are duplicates
    assert (result.accepted, result.idempotent_repeats, result.duplicates) == (4, 2, 2)


def test_each_process_writes_its_own_log_and_the_logs_merge(tmp_path) -> None:
    # GIVEN two logs, as two worker processes leave them (one with a torn last line)
    log = IdLog(tmp_path)
    log.record(["a", "b"], key="k")
    log.record([])  # nothing accepted: nothing written
    log.close()
    (tmp_path / "ids-otherhost-2.jsonl").write_text(
        '{"t": 0.5, "ids": ["c"], "key": null}\n{"t": 1, "ids": ["d', "utf-8"
    )
    # WHEN they are merged
    merged, requests = merge_id_logs(tmp_path)
    # THEN one file holds every complete line in time order, and the parts are gone
    assert merged.name == MERGED_NAME
    assert [request.ids for request in requests] == [("c",), ("a", "b")]
    assert [path.name for path in tmp_path.iterdir()] == [MERGED_NAME]
    assert [request.ids for request in read_id_log(merged.read_text().splitlines())] == [("c",), ("a", "b")]


class StubDynamoDb:
    """BatchGetItem that leaves some keys unprocessed on the first call, as DynamoDB may."""

    def __init__(self, stored: set[str]) -> None:
        self.stored = stored
        self.calls: list[dict[str, Any]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(RequestItems)
        keys = [key["event_id"]["S"] for key in RequestItems["events"]["Keys"]]
        first = len(self.calls) == 1
        answered, left = (keys[:1], keys[1:]) if first else (keys, [])
        response: dict[str, Any] = {
            "Responses": {"events": [{"event_id": {"S": k}} for k in answered if k in self.stored]}
        }
        if left:
            response["UnprocessedKeys"] = {
                "events": {**RequestItems["events"], "Keys": [{"event_id": {"S": k}} for k in left]}
            }
        return response


def test_dynamodb_lookup_retries_unprocessed_keys() -> None:
    client = StubDynamoDb({"a", "c"})
    found = dynamodb_lookup(client, "events", sleep=lambda seconds: None)(["a", "b", "c"])
    assert found == {"a", "c"}
    assert len(client.calls) == 2
    # (the key id is projected too, for --producer: a projection reads no fewer capacity units anyway)
    assert client.calls[0]["events"]["ProjectionExpression"].split(", ")[0] == "event_id"
    assert client.calls[0]["events"]["ConsistentRead"] is True


def test_dynamodb_lookup_gives_up_with_a_clear_error() -> None:
    class NeverDone:
        def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            return {"Responses": {}, "UnprocessedKeys": RequestItems}

    with pytest.raises(LoadTestError, match="unprocessed"):
        dynamodb_lookup(NeverDone(), "events", sleep=lambda seconds: None)(["a"])


ACCEPTED = [AcceptedRequest(("a", "b", "c"))]
SLO = Slo(p99_ms=500, error_ratio=0.01)
TOTALS = Row("Aggregated", 10, 0, 20.0, 40.0, 300.0)


def loss_checks(result: Reconciliation) -> dict[str, bool]:
    checks = check_expectations(Expectations(), SLO, Observed(TOTALS, result, [], [], drained=True))
    return {check.name: check.ok for check in checks if "loss" in check.name or "duplicate" in check.name}


def test_a_right_s3_copy_holds_each_accepted_id_in_exactly_one_row() -> None:
    # GIVEN the table and the view `events` each holding a, b and c once (b's line copied identically in the
    # objects, which the view counts once)
    store = StoreCounts(Counter({"a": 1, "b": 2, "c": 1, "other": 2}), Counter({"a": 1, "b": 1, "c": 1}), objects=2)
    result = reconcile(ACCEPTED, lookup_in({"a", "b", "c"}, []), store)
    # WHEN its checks are made
    # THEN nothing is lost or duplicated in either (another run's lines do not count)
    assert result.s3 is not None
    assert (result.s3.found, result.s3.lost, result.s3.duplicates, result.s3.objects) == (3, (), 0, 2)
    assert result.s3.copies == 1
    assert loss_checks(result) == {
        "zero loss": True,
        "no duplicate ids": True,
        "zero loss in the S3 copy": True,
        "no duplicates in the S3 copy": True,
    }


def test_a_wrong_s3_copy_fails_on_a_missing_and_a_duplicated_event() -> None:
    # GIVEN a complete table but an analytics store that lacks b and holds c in two rows (two hours)
    store = StoreCounts(Counter({"a": 1, "c": 2}), Counter({"a": 1, "c": 2}), objects=2)
    result = reconcile(ACCEPTED, lookup_in({"a", "b", "c"}, []), store)
    # WHEN its checks are made
    # THEN b is lost from the copy and c is one duplicate row; both S3 checks fail, the table's pass
    assert result.s3 is not None
    assert (result.s3.lost, result.s3.duplicated, result.s3.duplicates) == (("b",), ("c",), 1)
    assert loss_checks(result) == {
        "zero loss": True,
        "no duplicate ids": True,
        "zero loss in the S3 copy": False,
        "no duplicates in the S3 copy": False,
    }


def test_without_the_analytics_store_only_the_table_is_checked() -> None:
    result = reconcile(ACCEPTED, lookup_in({"a", "b", "c"}, []), None)
    assert result.s3 is None
    assert set(loss_checks(result)) == {"zero loss", "no duplicate ids"}


@mock_aws
def test_the_run_reads_the_s3_copy_of_its_hours_only() -> None:
    # GIVEN a store with a batch of the run's hour, the same batch delivered again, one event of it regrouped
    # into another batch, and an object of a day before the run
    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = f"analytics-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    run_start = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
    e1, e2, e3 = (Envelope(f"e{n}", "{}", "2026-11-25T10:45:00.000Z") for n in (1, 2, 3))
    old = Envelope("e1", "{}", "2026-11-24T10:45:00.000Z")
    for batch in ([e1, e2], [e1, e2], [e2, e3], [old]):
        for key, (body, _) in analytics_objects("events", batch).items():
            s3.put_object(Bucket=bucket, Key=key, Body=body)
    # WHEN the run's hours are read
    store = analytics_counts_since(s3, bucket, run_start.timestamp(), until=run_start.timestamp() + 1800)
    # THEN the batch delivered again rewrote its object (one line each), the regrouped event has two lines but
    # one row of the view (its copies are identical, in one hour), and the day before is not read
    assert (store.lines, store.rows, store.objects) == (
        Counter({"e1": 1, "e2": 2, "e3": 1}),
        Counter({"e1": 1, "e2": 1, "e3": 1}),
        2,
    )
