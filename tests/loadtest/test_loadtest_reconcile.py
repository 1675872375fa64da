"""Reconciliation on fake data; the accepted-ids log; the DynamoDB lookup against a stub client."""

from __future__ import annotations

from typing import Any

import pytest

from loadtest.errors import LoadTestError
from loadtest.idlog import MERGED_NAME, AcceptedRequest, IdLog, merge_id_logs, read_id_log
from loadtest.reconcile import dynamodb_lookup, reconcile


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
    assert client.calls[0]["events"]["ProjectionExpression"] == "event_id"
    assert client.calls[0]["events"]["ConsistentRead"] is True


def test_dynamodb_lookup_gives_up_with_a_clear_error() -> None:
    class NeverDone:
        def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            return {"Responses": {}, "UnprocessedKeys": RequestItems}

    with pytest.raises(LoadTestError, match="unprocessed"):
        dynamodb_lookup(NeverDone(), "events", sleep=lambda seconds: None)(["a"])
