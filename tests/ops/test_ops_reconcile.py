"""Reconcile a client log of accepted ids with the table; without a log, the metric against the table."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.common.analytics import analytics_objects
from functions.common.envelope import Envelope
from ops.errors import OpsError
from ops.reconcile import (
    IdsResult,
    Producer,
    metric_sum,
    read_ids,
    reconcile_ids,
    reconcile_ids_s3,
    reconcile_target,
    reconcile_window,
)
from tests.aws_helpers import unique
from tests.ops.helpers import create_table, envelope, first_layout_item_of, item_of


def test_a_missing_id_is_found_and_ids_repeated_in_the_log_are_reported_apart(aws: boto3.Session) -> None:
    dynamodb = aws.client("dynamodb")
    table = create_table(dynamodb)
    # GIVEN 250 stored events (more than one BatchGetItem of 100)
    stored = [f"evt-{n:04d}" for n in range(250)]
    for start in range(0, len(stored), 25):
        requests = [
            {"PutRequest": {"Item": item_of(envelope(event_id=event_id))}} for event_id in stored[start : start + 25]
        ]
        dynamodb.batch_write_item(RequestItems={table: requests})
    # AND a client log listing them, one id twice, plus one id that never reached the table
    log = [*stored, stored[7], "evt-lost"]
    # WHEN reconciled
    result = reconcile_ids(dynamodb, table, log)
    # THEN the lost id is missing, the repeated one is reported as a log repeat, not as missing
    assert result.missing == ["evt-lost"]
    assert result.repeated_in_log == {"evt-0007": 2}
    assert (result.listed, result.unique, result.found) == (252, 251, 250)
    summary = "\n".join(result.summary())
    assert "MISSING from the table: 1" in summary and "evt-lost" in summary
    assert "listed more than once in the client log: 1 ids" in summary
    assert "impossible by construction" in summary


def test_client_logs_may_be_plain_ids_or_the_apis_json_answers(tmp_path: Path) -> None:
    log = tmp_path / "ids.log"
    log.write_text(
        "evt-1\n\n"
        + json.dumps({"accepted": 2, "ids": ["evt-2", "evt-3"]})
        + "\n"
        + json.dumps("evt-4")
        + "\n"
        + json.dumps({"event_id": "evt-5"})
        + "\n"
    )
    assert read_ids(str(log)) == ["evt-1", "evt-2", "evt-3", "evt-4", "evt-5"]


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json\n", r"ids.log:1: starts like JSON but is not valid JSON"), ('{"x": 1}\n', r"ids.log:1: expected")],
)
def test_a_bad_log_line_is_named(tmp_path: Path, content: str, message: str) -> None:
    log = tmp_path / "ids.log"
    log.write_text(content)
    with pytest.raises(OpsError, match=message):
        read_ids(str(log))
    with pytest.raises(OpsError, match="file not found"):
        read_ids(str(tmp_path / "absent.log"))


def test_without_a_log_the_metric_is_compared_with_the_table_and_called_approximate(aws: boto3.Session) -> None:
    dynamodb, cloudwatch = aws.client("dynamodb"), aws.client("cloudwatch")
    table = create_table(dynamodb)
    namespace = f"Sluice/{unique('env')}"
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    # GIVEN 12 events accepted in the window (the metric) of which 10 are stored, and one stored outside it
    for minute, count in ((2, 5), (7, 7)):
        cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": "EventsAccepted",
                    "Dimensions": [{"Name": "service", "Value": "ingest"}],
                    "Timestamp": start + timedelta(minutes=minute),
                    "Value": count,
                    "Unit": "Count",
                }
            ],
        )
    for n in range(10):
        received = (start + timedelta(minutes=3, seconds=n)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        dynamodb.put_item(TableName=table, Item=item_of(envelope(received_at=received)))
    dynamodb.put_item(TableName=table, Item=item_of(envelope(received_at="2020-01-01T00:00:00.000Z")))
    # WHEN reconciled over the window
    result = reconcile_window(cloudwatch, dynamodb, table, namespace, start, start + timedelta(minutes=20))
    # THEN 12 accepted against 10 stored, and the answer says it is approximate
    assert (result.accepted_metric, result.table_items) == (12, 10)
    summary = "\n".join(result.summary())
    assert "difference (accepted - stored): +2" in summary and "approximate" in summary


def test_the_canarys_events_are_left_out_of_the_window_report(aws: boto3.Session) -> None:
    dynamodb, cloudwatch = aws.client("dynamodb"), aws.client("cloudwatch")
    table = create_table(dynamodb)
    namespace = f"Sluice/{unique('env')}"
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    at = start + timedelta(minutes=3)
    received = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    # GIVEN 4 events accepted in the window, 3 of them the canary's, and all 4 stored (the canary's marked)
    for name, service, value in (("EventsAccepted", "ingest", 4), ("CanaryAccepted", "canary", 3)):
        cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": "service", "Value": service}],
                    "Timestamp": at,
                    "Value": value,
                    "Unit": "Count",
                }
            ],
        )
    dynamodb.put_item(TableName=table, Item=item_of(envelope(received_at=received)))
    for n in range(3):
        canary = item_of(envelope(event_id=f"canary-{n}", received_at=received))
        dynamodb.put_item(TableName=table, Item={**canary, "canary": {"BOOL": True}, "expires_at": {"N": "1"}})
    # WHEN reconciled over the window
    result = reconcile_window(cloudwatch, dynamodb, table, namespace, start, start + timedelta(minutes=20))
    # THEN only the client's event counts, on both sides
    assert (result.accepted_metric, result.table_items) == (1, 1)
    assert "canary excluded" in "\n".join(result.summary())


def test_reconciling_the_analytics_store_finds_missing_and_duplicated_events(aws: boto3.Session) -> None:
    # GIVEN a store holding e1 twice (two batches) and e2 once, and a client log of e1, e2, e3
    s3 = aws.client("s3")
    bucket = unique("analytics")
    s3.create_bucket(Bucket=bucket)
    e1, e2 = (Envelope(f"e{n}", "{}", "2026-11-25T10:00:00.000Z") for n in (1, 2))
    for batch in ([e1, e2], [e1]):
        for key, (body, _) in analytics_objects("events", batch).items():
            s3.put_object(Bucket=bucket, Key=key, Body=body)
    # WHEN the log is reconciled against the analytics store
    result = reconcile_ids_s3(s3, bucket, ["e1", "e2", "e3"])
    # THEN e3 is missing, and e1 is a copy in the objects (half the events found) but one row of the view
    # `events` that queries read (issue 32: it was reported, and counted, as a duplicate)
    assert (result.found, result.missing, result.objects) == (2, ["e3"], 2)
    assert (result.copies, result.duplicated) == ({"e1": 2}, {})
    summary = result.summary()
    assert any(line.startswith("copies in the objects (events_raw): 1 ids (1 extra lines), 50.0 %") for line in summary)
    assert "duplicates through the view `events`: none" in summary


def test_a_copy_in_another_hour_is_a_duplicate_through_the_view_and_measured(aws: boto3.Session) -> None:
    # GIVEN a store holding e1 in two hours (a key-derived event resent in the next hour: S3 alone writes both),
    # and e2, e3, e4 once
    s3 = aws.client("s3")
    bucket = unique("analytics")
    s3.create_bucket(Bucket=bucket)
    first = [Envelope(f"e{n}", "{}", "2026-11-25T10:59:59.000Z") for n in (1, 2, 3, 4)]
    resent = Envelope("e1", "{}", "2026-11-25T11:00:02.000Z")
    for batch in (first, [resent]):
        for key, (body, _) in analytics_objects("events", batch).items():
            s3.put_object(Bucket=bucket, Key=key, Body=body)
    # WHEN the log is reconciled against the analytics store
    result = reconcile_ids_s3(s3, bucket, ["e1", "e2", "e3", "e4"])
    # THEN e1 is two rows of the view: reported DUPLICATED, with its share of the events found
    assert (result.found, result.copies, result.duplicated) == (4, {"e1": 2}, {"e1": 2})
    assert "DUPLICATED through the view `events`: 1 ids (1 extra rows), 25.0 % of the events found" in result.summary()


def test_an_event_holding_unicode_line_breaks_is_reconciled_like_any_other(aws: boto3.Session) -> None:
    # GIVEN a store whose one object holds an event with NEL, U+2028 and U+2029 in its text (the store is written
    # with ensure_ascii off: they are not escaped), beside an ordinary event
    s3 = aws.client("s3")
    bucket = unique("analytics")
    s3.create_bucket(Bucket=bucket)
    odd = Envelope("odd", json.dumps({"text": "a\x85b\u2028c\u2029d"}, ensure_ascii=False), "2026-11-25T10:00:00.000Z")
    plain = Envelope("plain", "{}", "2026-11-25T10:00:00.000Z")
    for key, (body, _) in analytics_objects("events", [odd, plain]).items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    # WHEN a log of both is reconciled against the store
    result = reconcile_ids_s3(s3, bucket, ["odd", "plain"])
    # THEN both are found, once each
    assert (result.found, result.missing, result.duplicated, result.objects) == (2, [], {}, 1)


def test_an_object_that_is_not_the_stores_format_is_named_in_one_line(aws: boto3.Session) -> None:
    # GIVEN a store holding an object that is not gzip JSON Lines
    s3 = aws.client("s3")
    bucket = unique("analytics")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="events/dt=2026-11-25/hour=10/stray.jsonl.gz", Body=b"not gzip")
    # WHEN the store is reconciled
    # THEN one line names the object
    with pytest.raises(OpsError, match=rf"^s3://{bucket}/events/dt=2026-11-25/hour=10/stray.jsonl.gz: not an "):
        reconcile_ids_s3(s3, bucket, ["e1"])


def test_a_log_line_holding_unicode_line_breaks_is_one_line(tmp_path: Path) -> None:
    # GIVEN a client log of the API's answers, one of them kept with a note holding U+2028 unescaped
    log = tmp_path / "ids.log"
    log.write_text(json.dumps({"ids": ["evt-1"], "note": "a\u2028b"}, ensure_ascii=False) + "\nevt-2\n", "utf-8")
    # WHEN it is read
    # THEN each line is one entry
    assert read_ids(str(log)) == ["evt-1", "evt-2"]


class RetainingCloudWatch:
    """GetMetricStatistics as botocore's cloudwatch model documents `Period` for an old StartTime (moto returns
    data at any period): 60-s datapoints for 15 days, then multiples of 300 s up to 63 days, of 3,600 s up to
    455; a finer period returns no datapoint. Every EventsAccepted datapoint is 6 events an hour."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.periods: list[int] = []

    def get_metric_statistics(self, **request: Any) -> dict[str, Any]:
        self.periods.append(request["Period"])
        age = (self.now - request["StartTime"]).total_seconds()
        resolution = 60 if age <= 15 * 86_400 else 300 if age <= 63 * 86_400 else 3_600
        if request["Period"] % resolution or request["MetricName"] != "EventsAccepted":
            return {"Datapoints": []}
        hours = (request["EndTime"] - request["StartTime"]).total_seconds() / 3_600
        return {"Datapoints": [{"Sum": 6.0 * hours}]}


@pytest.mark.parametrize("days_ago", [1, 20, 100])
def test_an_old_window_is_read_at_a_period_cloudwatch_still_keeps(days_ago: int) -> None:
    # GIVEN a CloudWatch that keeps 6 accepted events an hour, and a 2-hour window `days_ago` days back
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    cloudwatch = RetainingCloudWatch(now)
    since = now - timedelta(days=days_ago)
    # WHEN the metric is summed over it
    accepted = metric_sum(cloudwatch, "Sluice/prod", since, since + timedelta(hours=2), now)
    # THEN it is read at the finest period kept that old, and finds the 12 events (no gap that is not there)
    assert accepted == 12
    assert set(cloudwatch.periods) == {60 if days_ago <= 15 else 300 if days_ago <= 63 else 3_600}


def test_a_window_older_than_cloudwatch_keeps_is_refused_in_one_line() -> None:
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    with pytest.raises(OpsError, match=r"^--since 2025-.*: CloudWatch keeps metric data for 455 days$"):
        metric_sum(RetainingCloudWatch(now), "Sluice/prod", now - timedelta(days=500), now, now)


def keyed(event_id: str, key_id: str) -> str:
    """An envelope stored with the API key id `key_id`."""
    body = json.loads(envelope(event_id=event_id))
    return json.dumps({**body, "api_key_id": key_id})


ACME = Producer("acme", frozenset({"k-acme", "k-acme-old"}))


def test_with_a_producer_only_its_events_count_as_found_in_the_table(aws: boto3.Session) -> None:
    dynamodb = aws.client("dynamodb")
    table = create_table(dynamodb)
    # GIVEN acme's events under its key and its retired key (one in the first item layout), and zeta's event
    dynamodb.put_item(TableName=table, Item=item_of(keyed("evt-1", "k-acme")))
    dynamodb.put_item(TableName=table, Item=first_layout_item_of(keyed("evt-2", "k-acme-old")))
    dynamodb.put_item(TableName=table, Item=item_of(keyed("evt-3", "k-zeta")))
    # WHEN a client log naming all three and a lost one is reconciled for acme
    result = reconcile_ids(dynamodb, table, ["evt-1", "evt-2", "evt-3", "evt-lost"], producer=ACME)
    # THEN acme's two are found, zeta's is reported apart (stored, not missing) and the lost one is missing
    assert (result.found, result.other_producer, result.missing) == (2, ["evt-3"], ["evt-lost"])
    summary = "\n".join(result.summary())
    assert "in the table: 2 of 4 (producer acme)" in summary
    assert "stored under ANOTHER producer's key: 1" in summary


def test_with_a_producer_only_its_events_count_in_the_analytics_store(aws: boto3.Session) -> None:
    s3 = aws.client("s3")
    bucket = unique("analytics")
    s3.create_bucket(Bucket=bucket)
    # GIVEN acme's event and zeta's event in the store
    events = [
        Envelope("evt-1", "{}", "2026-11-25T10:00:00.000Z", api_key_id="k-acme"),
        Envelope("evt-3", "{}", "2026-11-25T10:00:00.000Z", api_key_id="k-zeta"),
    ]
    for key, (body, _) in analytics_objects("events", events).items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    # WHEN both are reconciled for acme
    result = reconcile_ids_s3(s3, bucket, ["evt-1", "evt-3"], producer=ACME)
    # THEN only acme's is found; zeta's is reported apart
    assert (result.found, result.other_producer, result.missing) == (1, ["evt-3"], [])
    assert "(producer acme)" in "\n".join(result.summary())


def test_a_producer_without_a_client_log_is_one_line_before_the_stack_is_looked_up() -> None:
    def resolve() -> Any:
        raise AssertionError("the stack must not be looked up")

    # GIVEN --producer with a window instead of --ids
    # WHEN reconciled THEN the error says the metric has no producer dimension
    with pytest.raises(OpsError, match=r"^reconcile --producer needs --ids FILE: EventsAccepted has no producer"):
        reconcile_target(resolve, since="2026-11-25T10:00:00Z", producer="acme")


def test_the_producer_name_resolves_to_its_key_ids_through_the_keys(aws: boto3.Session, tmp_path: Path) -> None:
    dynamodb = aws.client("dynamodb")
    table = create_table(dynamodb)
    dynamodb.put_item(TableName=table, Item=item_of(keyed("evt-1", "k-acme")))
    dynamodb.put_item(TableName=table, Item=item_of(keyed("evt-3", "k-zeta")))
    log = tmp_path / "ids.log"
    log.write_text("evt-1\nevt-3\n")

    class Target:
        def client(self, service: str) -> Any:
            return dynamodb

        def require(self, key: str) -> str:
            return table

    asked: list[str] = []

    def key_ids_of(target: Any, name: str) -> list[str]:
        asked.append(name)
        return ["k-acme"]

    # GIVEN a log of acme's and zeta's ids WHEN reconciled with --producer acme
    result = reconcile_target(lambda: Target(), ids=str(log), producer="acme", key_ids_of=key_ids_of)  # type: ignore[arg-type, return-value]
    # THEN the name was resolved once and only acme's event counts as found
    assert asked == ["acme"]
    assert isinstance(result, IdsResult) and (result.found, result.other_producer) == (1, ["evt-3"])
