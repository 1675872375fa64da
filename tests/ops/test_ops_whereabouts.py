"""reconcile's follow-up: where the accepted events the table lacks are, and the next command for each place."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3

from functions.common.parked import ParkedEvent, parked_key, write_parked
from ops.reconcile import WindowResult, reconcile_ids
from ops.whereabouts import locate
from tests.aws_helpers import unique
from tests.ops.helpers import archive_line, create_table, envelope, put_archive


def make_places(aws: boto3.Session) -> tuple[str, str, str]:
    sqs, s3 = aws.client("sqs"), aws.client("s3")
    bucket = unique("archive")
    s3.create_bucket(Bucket=bucket)
    queue = sqs.create_queue(QueueName=unique("ingest"))["QueueUrl"]
    dead_letters = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    return queue, dead_letters, bucket


def test_archived_events_are_found_with_the_replay_command_for_their_hours(aws: boto3.Session) -> None:
    sqs, s3 = aws.client("sqs"), aws.client("s3")
    queue, dead_letters, bucket = make_places(aws)
    # GIVEN two events dead-lettered and archived at 10:xx and 12:xx, another archived event, and empty queues
    put_archive(s3, bucket, datetime(2026, 11, 30, 10, 20, tzinfo=UTC), [archive_line(envelope("evt-a"))])
    put_archive(s3, bucket, datetime(2026, 11, 30, 12, 5, tzinfo=UTC), [archive_line(envelope("evt-b"))])
    put_archive(s3, bucket, datetime(2026, 11, 30, 11, 0, tzinfo=UTC), [archive_line(envelope("evt-other"))])
    # WHEN the missing ids are located, with one that is nowhere
    found = locate(["evt-a", "evt-b", "evt-gone"], sqs, s3, queue, dead_letters, bucket)
    summary = "\n".join(found.summary(["evt-a", "evt-b", "evt-gone"]))
    # THEN the archived two are named with a replay window covering their archive hours
    assert set(found.archived) == {"evt-a", "evt-b"}
    assert "in the archive: 2" in summary
    assert "`invoke replay --since 2026-11-30T10:00 --until 2026-11-30T13:00 --dry-run`" in summary
    # AND the one that is nowhere, with both queues empty, is for the client to resend
    assert "nowhere: 1 not parked, not in the archive, and both queues are empty" in summary
    assert "resend" in summary


def test_parked_events_are_found_with_what_brings_them_back(aws: boto3.Session) -> None:
    sqs, s3 = aws.client("sqs"), aws.client("s3")
    queue, dead_letters, bucket = make_places(aws)
    # GIVEN an event the consumer parked while the store failed (one object of two events)
    parked = [ParkedEvent(envelope(event_id), 1, f"m-{event_id}") for event_id in ("evt-p", "evt-q")]
    s3.put_object(Bucket=bucket, Key=parked_key(1_796_000_000_000, "o1"), Body=write_parked(parked))
    # WHEN it is located THEN it is named as parked, with what brings it back
    found = locate(["evt-p"], sqs, s3, queue, dead_letters, bucket)
    assert set(found.parked) == {"evt-p"} and not found.archived
    summary = "\n".join(found.summary(["evt-p"]))
    assert "parked in S3: 1" in summary and "retrier sends them back" in summary
    assert "nowhere" not in summary


def test_messages_still_queued_or_dead_lettered_are_counted_with_what_to_do(aws: boto3.Session) -> None:
    sqs, s3 = aws.client("sqs"), aws.client("s3")
    queue, dead_letters, bucket = make_places(aws)
    # GIVEN three messages waiting in the ingest queue and one in the dead-letter queue, an empty archive
    for n in range(3):
        sqs.send_message(QueueUrl=queue, MessageBody=envelope(f"evt-q{n}"))
    sqs.send_message(QueueUrl=dead_letters, MessageBody=envelope("evt-d"))
    # WHEN four missing ids are located
    missing = ["evt-q0", "evt-q1", "evt-q2", "evt-d"]
    summary = "\n".join(locate(missing, sqs, s3, queue, dead_letters, bucket).summary(missing))
    # THEN the queues are reported with their next steps: wait, or redrive
    assert "ingest queue: 3 messages (3 waiting, 0 in flight)" in summary
    assert "dead-letter queue: 1 messages" in summary and "`invoke redrive`" in summary
    # AND the queues were only counted, never received from (that would count towards maxReceiveCount)
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "3"
    assert "nowhere" not in summary


def test_reconcile_prints_the_whereabouts_after_the_missing_ids(aws: boto3.Session) -> None:
    sqs, s3, dynamodb = aws.client("sqs"), aws.client("s3"), aws.client("dynamodb")
    queue, dead_letters, bucket = make_places(aws)
    table = create_table(dynamodb)
    put_archive(s3, bucket, datetime(2026, 11, 30, 10, 20, tzinfo=UTC), [archive_line(envelope("evt-a"))])
    # GIVEN a client log whose one id is not in the table
    result = reconcile_ids(dynamodb, table, ["evt-a"])
    # WHEN it is located, as `invoke reconcile --ids` does
    result.whereabouts = locate(result.missing, sqs, s3, queue, dead_letters, bucket)
    lines = result.summary()
    # THEN the summary says it is missing, then where it is and the command to bring it back
    assert lines.index("MISSING from the table: 1") < lines.index("where the missing events are:")
    assert any("invoke replay --since 2026-11-30T10:00" in line for line in lines)


def test_without_ids_the_window_summary_gives_the_queues_and_the_replay_to_count_the_archive(
    aws: boto3.Session,
) -> None:
    sqs, s3 = aws.client("sqs"), aws.client("s3")
    queue, dead_letters, bucket = make_places(aws)
    sqs.send_message(QueueUrl=dead_letters, MessageBody=envelope("evt-d"))
    # GIVEN reconcile --since found fewer items than the metric counted
    since, until = datetime(2026, 11, 30, 10, 0, tzinfo=UTC), datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    result = WindowResult(since=since, until=until, accepted_metric=10.0, table_items=7)
    # WHEN the queues are looked at (no ids: the archive is not searched)
    result.whereabouts = locate([], sqs, s3, queue, dead_letters, bucket)
    summary = "\n".join(result.summary())
    # THEN the summary names the DLQ with redrive, and the replay that counts the window's dead letters
    assert "dead-letter queue: 1 messages" in summary and "`invoke redrive`" in summary
    assert "`invoke replay --since 2026-11-30T10:00 --until 2026-11-30T12:01 --dry-run`" in summary
    assert "--ids" in summary
