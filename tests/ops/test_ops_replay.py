"""Replay from the S3 archive, and redrive from the DLQ, into the ingest queue — with zero duplicates in the
table however often they run (the test plays the consumer: it writes each message's item by event_id)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.stub import Stubber

from ops.errors import OpsError
from ops.redrive import redrive
from ops.replay import partition_prefixes, replay
from tests.ops.helpers import (
    archive_line,
    create_table,
    drain_into_table,
    envelope,
    put_archive,
    table_ids,
    unique,
)

T = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
FAST = {"receive_wait_seconds": 0}  # moto answers at once: no need to long-poll for stragglers


@pytest.fixture
def pipeline(aws: boto3.Session) -> dict:
    s3, sqs, dynamodb = aws.client("s3"), aws.client("sqs"), aws.client("dynamodb")
    bucket = unique("archive")
    s3.create_bucket(Bucket=bucket)
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName=unique("ingest"),
        Attributes={"RedrivePolicy": f'{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": 5}}'},
    )["QueueUrl"]
    return {"s3": s3, "sqs": sqs, "dynamodb": dynamodb, "bucket": bucket, "queue": queue, "dlq": dlq,
            "table": create_table(dynamodb),
            # as `invoke redrive` makes it: an endpoint without the move task answers at once
            "no_retry_sqs": aws.client("sqs", config=BotoConfig(retries={"total_max_attempts": 1}))}  # fmt: skip


def test_replaying_twice_stores_each_event_once(pipeline: dict) -> None:
    s3, sqs, dynamodb = pipeline["s3"], pipeline["sqs"], pipeline["dynamodb"]
    # GIVEN 25 archived envelopes in two objects of one hour, one of them archived twice, and a poison message
    bodies = [envelope(n=n) for n in range(25)]
    poison = archive_line("this is not an envelope", message_id="poison-1")
    put_archive(s3, pipeline["bucket"], T, [archive_line(body) for body in bodies[:12]] + [poison])
    put_archive(s3, pipeline["bucket"], T, [archive_line(body) for body in bodies[11:]])
    # WHEN the hour is replayed twice and the consumer drains the queue after each
    results = []
    for _ in range(2):
        results.append(
            replay(s3, sqs, pipeline["bucket"], pipeline["queue"], T.replace(minute=0), T.replace(minute=59))
        )
        drain_into_table(sqs, pipeline["queue"], dynamodb, pipeline["table"])
    # THEN each run sent the 25 events once (the one archived twice counted, not resent)
    for result in results:
        assert (result.objects, result.lines, result.replayable, result.sent, result.repeated) == (2, 27, 25, 25, 1)
        assert [(item.message_id, item.reason) for item in result.not_replayable] == [("poison-1", "body is not JSON")]
        assert not result.failed
    # AND the table holds each event id exactly once, with the original ids
    ids = Counter(table_ids(dynamodb, pipeline["table"]))
    expected = {__import__("json").loads(body)["event_id"] for body in bodies}
    assert set(ids) == expected and set(ids.values()) == {1}
    summary = "\n".join(results[0].summary(dry_run=False))
    assert "poison-1" in summary and "not replayable: 1" in summary


def test_an_item_the_consumer_dead_lettered_as_invalid_is_not_replayed(pipeline: dict) -> None:
    s3, sqs = pipeline["s3"], pipeline["sqs"]
    # GIVEN an archived envelope that is a good event, and one the consumer dead-lettered with its reason
    good, rejected = envelope(n=1), envelope(n=2)
    refused = {**archive_line(rejected, message_id="too-big"), "reason": "DynamoDB rejects the item: too large"}
    put_archive(s3, pipeline["bucket"], T, [archive_line(good), refused])
    # WHEN the hour is replayed
    result = replay(s3, sqs, pipeline["bucket"], pipeline["queue"], T.replace(minute=0), T.replace(minute=59))
    # THEN only the good event is sent: the other would be refused the same way, and says why
    assert (result.replayable, result.sent) == (1, 1)
    assert [(item.message_id, item.reason) for item in result.not_replayable] == [
        ("too-big", "DynamoDB rejects the item: too large")
    ]


def test_an_event_whose_retry_window_was_spent_is_replayed(pipeline: dict) -> None:
    s3, sqs = pipeline["s3"], pipeline["sqs"]
    # GIVEN an event the consumer dead-lettered because its retry window was spent (the store was down too long)
    late = {**archive_line(envelope(n=3), message_id="late"), "reason": "retry window spent"}
    put_archive(s3, pipeline["bucket"], T, [late])
    # WHEN the hour is replayed THEN it is sent: the store may take it now, which is what replay is for
    result = replay(s3, sqs, pipeline["bucket"], pipeline["queue"], T.replace(minute=0), T.replace(minute=59))
    assert (result.replayable, result.sent, result.not_replayable) == (1, 1, [])


def test_a_dry_run_sends_nothing(pipeline: dict) -> None:
    put_archive(pipeline["s3"], pipeline["bucket"], T, [archive_line(envelope()) for _ in range(3)])
    result = replay(pipeline["s3"], pipeline["sqs"], pipeline["bucket"], pipeline["queue"], T, T, dry_run=True)
    assert (result.replayable, result.sent) == (3, 0)
    attributes = pipeline["sqs"].get_queue_attributes(
        QueueUrl=pipeline["queue"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert "would send 3 events" in "\n".join(result.summary(dry_run=True))


def test_only_partitions_inside_the_window_are_read(pipeline: dict) -> None:
    # GIVEN objects archived at 08:xx, 10:xx and the next day
    s3 = pipeline["s3"]
    inside = envelope()
    put_archive(s3, pipeline["bucket"], T.replace(hour=8), [archive_line(envelope())])
    put_archive(s3, pipeline["bucket"], T, [archive_line(inside)])
    put_archive(s3, pipeline["bucket"], T.replace(day=26), [archive_line(envelope())])
    # WHEN 09:30–11:00 is replayed, THEN only the 10:xx object is read
    result = replay(s3, pipeline["sqs"], pipeline["bucket"], pipeline["queue"], T.replace(hour=9), T.replace(hour=11))
    assert (result.objects, result.sent) == (1, 1)


def test_partition_prefixes_use_whole_days_inside_the_window_and_hours_at_its_edges() -> None:
    since, until = datetime(2026, 11, 24, 22, 15, tzinfo=UTC), datetime(2026, 11, 26, 1, 5, tzinfo=UTC)
    assert partition_prefixes(since, until) == [
        "dlq/year=2026/month=11/day=24/hour=22/",
        "dlq/year=2026/month=11/day=24/hour=23/",
        "dlq/year=2026/month=11/day=25/",
        "dlq/year=2026/month=11/day=26/hour=00/",
        "dlq/year=2026/month=11/day=26/hour=01/",
    ]
    with pytest.raises(OpsError, match="longer than 400 days"):
        partition_prefixes(since, since.replace(year=2028))


def test_redrive_moves_every_dlq_message_once_and_twice_stores_nothing_twice(pipeline: dict) -> None:
    sqs, dynamodb = pipeline["sqs"], pipeline["dynamodb"]
    # GIVEN 23 envelopes in the DLQ
    bodies = [envelope(n=n) for n in range(23)]
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=pipeline["dlq"],
            Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + 10])],
        )
    # WHEN redriven (moto has no StartMessageMoveTask: by hand) and drained, then redriven again
    first = redrive(sqs, pipeline["dlq"], pipeline["queue"], move_client=pipeline["no_retry_sqs"], **FAST)
    drain_into_table(sqs, pipeline["queue"], dynamodb, pipeline["table"])
    second = redrive(sqs, pipeline["dlq"], pipeline["queue"], move_client=pipeline["no_retry_sqs"], **FAST)
    # THEN all 23 moved the first time, none the second, and each event is in the table once
    assert (first.method, first.moved, first.failed) == ("receive/send/delete", 23, [])
    assert "moto" in first.note
    assert second.moved == 0
    ids = Counter(table_ids(dynamodb, pipeline["table"]))
    assert len(ids) == 23 and set(ids.values()) == {1}


def test_redrive_with_a_limit_stops_there(pipeline: dict) -> None:
    sqs = pipeline["sqs"]
    for n in range(5):
        sqs.send_message(QueueUrl=pipeline["dlq"], MessageBody=envelope(n=n))
    result = redrive(sqs, pipeline["dlq"], pipeline["queue"], limit=3, **FAST)
    assert result.moved == 3


def test_on_aws_redrive_is_one_message_move_task_followed_to_its_end() -> None:
    # GIVEN an SQS that has StartMessageMoveTask (stubbed: the AWS path cannot run on moto)
    sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    dlq_arn, queue_arn = "arn:aws:sqs:us-east-1:123456789012:dlq", "arn:aws:sqs:us-east-1:123456789012:ingest"
    with Stubber(sqs) as stub:
        stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": dlq_arn}})
        stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": queue_arn}})
        stub.add_response(
            "start_message_move_task", {"TaskHandle": "h1"}, {"SourceArn": dlq_arn, "DestinationArn": queue_arn}
        )
        stub.add_response(
            "list_message_move_tasks",
            {"Results": [{"TaskHandle": "h1", "Status": "RUNNING", "ApproximateNumberOfMessagesMoved": 40}]},
        )
        stub.add_response(
            "list_message_move_tasks",
            {"Results": [{"TaskHandle": "h1", "Status": "COMPLETED", "ApproximateNumberOfMessagesMoved": 120}]},
        )
        # WHEN redriven
        result = redrive(sqs, "https://sqs/dlq", "https://sqs/ingest", sleep=lambda _: None)
    # THEN SQS moved them itself, and the count is the task's
    assert (result.method, result.moved, result.failed) == ("message move task", 120, [])


def test_redrive_says_when_dlq_messages_are_held_by_another_consumer(pipeline: dict) -> None:
    # GIVEN two DLQ messages, one of them received (in flight) by someone else — the archiver, say
    sqs = pipeline["sqs"]
    for n in range(2):
        sqs.send_message(QueueUrl=pipeline["dlq"], MessageBody=envelope(n=n))
    sqs.receive_message(QueueUrl=pipeline["dlq"], MaxNumberOfMessages=1, VisibilityTimeout=300)
    # WHEN redriven
    result = redrive(sqs, pipeline["dlq"], pipeline["queue"], move_client=pipeline["no_retry_sqs"], **FAST)
    # THEN the visible one moves and the held one is reported, not silently skipped
    assert result.moved == 1
    assert "1 messages are in flight in the DLQ" in "\n".join(result.summary())
