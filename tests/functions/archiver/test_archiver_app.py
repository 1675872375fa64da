"""The archiver: a DLQ batch becomes one gzip JSON Lines object, or stays in the DLQ."""

import re
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from ulid import ULID

from functions.common.archive import read_archive_lines
from functions.common.contract import DEAD_LETTER_REASON_ATTRIBUTE
from functions.common.errors import ConfigError
from tests.functions.support import (
    FakeContext,
    count_calls,
    envelope_body,
    fail_calls,
    load_event,
    load_module,
    metric_values,
    plain_client,
    sqs_event,
)

BUCKET = "sluice-archive"
ARCHIVED_AT = datetime(2026, 11, 27, 18, 5, 9, 123000, tzinfo=UTC)


def objects() -> dict[str, bytes]:
    s3 = plain_client("s3")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    return {key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys}


def dlq_batch() -> dict[str, Any]:
    """The real SQS sample: its first record's body replaced by an envelope, its second left as is."""
    event = load_event("sqs-receive.json")
    event["Records"][0]["body"] = envelope_body("evt-1")
    return event


@pytest.fixture
def frozen(archiver: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setattr(archiver, "utc_now", lambda: ARCHIVED_AT)
    return archiver


def test_batch_becomes_one_partitioned_object(frozen: ModuleType) -> None:
    # GIVEN a DLQ batch at 2026-11-27 18:05:09.123 UTC
    puts = count_calls(frozen.s3, "PutObject")

    # WHEN it is archived
    response = frozen.handler(dlq_batch(), FakeContext())

    # THEN one object sits under the hour's partition, named by a ULID of that time
    assert response == {"batchItemFailures": []}
    [(key, body)] = objects().items()
    match = re.fullmatch(r"dlq/year=2026/month=11/day=27/hour=18/([0-9A-HJKMNP-TV-Z]{26})\.jsonl\.gz", key)
    assert match and ULID.from_str(match.group(1)).datetime == ARCHIVED_AT
    assert body[:2] == b"\x1f\x8b"
    # ... and no encryption arguments: the bucket's default applies
    assert not {name for name in puts[0] if name.startswith("SSE") or name.startswith("ServerSide")}


def test_lines_keep_each_message_and_its_attributes(frozen: ModuleType) -> None:
    # GIVEN / WHEN the real sample batch is archived
    frozen.handler(dlq_batch(), FakeContext())

    # THEN each line holds the original body, the SQS attributes as numbers, and the event id if any
    [body] = objects().values()
    assert read_archive_lines(body) == [
        {
            "message_id": "059f36b4-87a3-44ab-83d2-661975830a7d",
            "body": envelope_body("evt-1"),
            "receive_count": 1,
            "sent_timestamp": 1545082649183,
            "first_receive_timestamp": 1545082649185,
            "archived_at": "2026-11-27T18:05:09.123Z",
            "event_id": "evt-1",
            "reason": None,
        },
        {
            "message_id": "2e1424d4-f796-459a-8184-9c92662be6da",
            "body": '{"message": "foo1"}',
            "receive_count": 1,
            "sent_timestamp": 1545082650636,
            "first_receive_timestamp": 1545082650649,
            "archived_at": "2026-11-27T18:05:09.123Z",
            "event_id": None,
            "reason": None,
        },
    ]


def test_the_reason_the_consumer_gave_is_kept(frozen: ModuleType) -> None:
    # GIVEN a DLQ batch whose second message the consumer dead-lettered at once, with its reason
    event = dlq_batch()
    event["Records"][1]["messageAttributes"] = {
        DEAD_LETTER_REASON_ATTRIBUTE: {"stringValue": "not a Sluice envelope: body is not JSON", "dataType": "String"}
    }

    # WHEN it is archived
    frozen.handler(event, FakeContext())

    # THEN its line carries the reason; the one the redrive policy moved has none
    [body] = objects().values()
    assert [line["reason"] for line in read_archive_lines(body)] == [None, "not a Sluice envelope: body is not JSON"]


def test_prefix_is_configurable(archiver: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN ARCHIVE_PREFIX with slashes around it
    monkeypatch.setenv("ARCHIVE_PREFIX", "/replay/dlq/")
    app = load_module("functions.archiver.app")

    # WHEN a batch is archived
    app.handler(dlq_batch(), FakeContext())

    # THEN the key starts with the prefix, once
    [key] = objects()
    assert key.startswith("replay/dlq/year=")


def test_put_failure_keeps_every_record_in_the_dlq(archiver: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN PutObject fails
    fail_calls(archiver.s3, "PutObject", "AccessDenied")

    # WHEN a batch of three is archived
    # THEN the invocation fails (Lambda counts an error, the whole batch stays in the DLQ), nothing is stored,
    # nothing is counted as archived
    with pytest.raises(BatchProcessingError, match="All records failed"):
        archiver.handler(sqs_event(["a", "b", envelope_body("c")]), FakeContext())
    assert objects() == {}
    assert metric_values(capsys.readouterr().out, "EventsArchived") == [0.0]


def test_archived_records_are_counted(archiver: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN / WHEN a batch of two is archived
    archiver.handler(dlq_batch(), FakeContext())

    # THEN EventsArchived is 2
    assert metric_values(capsys.readouterr().out, "EventsArchived") == [2.0]


def test_missing_bucket_name_fails_fast(archiver: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no ARCHIVE_BUCKET
    monkeypatch.delenv("ARCHIVE_BUCKET")
    # WHEN / THEN importing the handler names the variable
    with pytest.raises(ConfigError, match="ARCHIVE_BUCKET"):
        load_module("functions.archiver.app")
