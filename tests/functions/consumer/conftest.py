"""The consumer handler on a mocked DynamoDB table."""

from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from functions.common.parked import BREAKER_KEY, PARKED_PREFIX, ParkedEvent, read_parked
from tests.functions.support import create_table, load_module, plain_client, scan

TABLE = "sluice-events"
ANALYTICS_BUCKET = "sluice-analytics"
PARKING_BUCKET = "sluice-archive"


@dataclass
class Consumer:
    app: ModuleType
    queue_url: str
    dead_letter_url: str

    def items(self) -> dict[str, dict[str, Any]]:
        return {item["event_id"]["S"]: item for item in scan(TABLE)}

    def analytics_objects(self) -> dict[str, bytes]:
        """The analytics store's objects by key."""
        s3 = plain_client("s3")
        listing = s3.list_objects_v2(Bucket=ANALYTICS_BUCKET).get("Contents", [])
        return {item["Key"]: s3.get_object(Bucket=ANALYTICS_BUCKET, Key=item["Key"])["Body"].read() for item in listing}

    def parked(self) -> list[ParkedEvent]:
        """Every parked event, in key order."""
        s3 = plain_client("s3")
        return [
            event
            for key in self.parked_keys()
            for event in read_parked(s3.get_object(Bucket=PARKING_BUCKET, Key=key)["Body"].read())
        ]

    def parked_keys(self) -> list[str]:
        listing = plain_client("s3").list_objects_v2(Bucket=PARKING_BUCKET, Prefix=PARKED_PREFIX).get("Contents", [])
        return [item["Key"] for item in listing]

    def breaker_state(self) -> bytes | None:
        try:
            return plain_client("s3").get_object(Bucket=PARKING_BUCKET, Key=BREAKER_KEY)["Body"].read()
        except plain_client("s3").exceptions.NoSuchKey:
            return None

    def dead_letters(self) -> list[dict[str, Any]]:
        """The DLQ's messages, with their attributes (received once, then left invisible)."""
        response = plain_client("sqs").receive_message(
            QueueUrl=self.dead_letter_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        return response.get("Messages", [])


@pytest.fixture
def consumer(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Consumer]:
    create_table(TABLE, "event_id")
    sqs = plain_client("sqs")
    queue_url = sqs.create_queue(QueueName="sluice-ingest")["QueueUrl"]
    dead_letter_url = sqs.create_queue(QueueName="sluice-dead-letter")["QueueUrl"]
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("QUEUE_URL", queue_url)
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dead_letter_url)
    plain_client("s3").create_bucket(Bucket=PARKING_BUCKET)
    monkeypatch.setenv("PARKING_BUCKET", PARKING_BUCKET)
    monkeypatch.setenv("RETRY_WINDOW_SECONDS", "120")  # the local environment's
    monkeypatch.setenv("BREAKER_PROBE_SECONDS", "30")
    yield Consumer(load_module("functions.consumer.app"), queue_url, dead_letter_url)


@pytest.fixture
def both_sinks(consumer: Consumer, monkeypatch: pytest.MonkeyPatch) -> Consumer:
    """The consumer with sinks = ["dynamodb", "s3"], as the template configures it."""
    plain_client("s3").create_bucket(Bucket=ANALYTICS_BUCKET)
    monkeypatch.setenv("SINKS", "dynamodb,s3")
    monkeypatch.setenv("ANALYTICS_BUCKET", ANALYTICS_BUCKET)
    monkeypatch.setenv("ANALYTICS_PREFIX", "events")
    consumer.app = load_module("functions.consumer.app")
    return consumer


@pytest.fixture
def s3_only(consumer: Consumer, monkeypatch: pytest.MonkeyPatch) -> Consumer:
    """The consumer with sinks = ["s3"]: the template gives it no TABLE_NAME (there is no events table)."""
    plain_client("s3").create_bucket(Bucket=ANALYTICS_BUCKET)
    monkeypatch.delenv("TABLE_NAME")
    monkeypatch.setenv("SINKS", "s3")
    monkeypatch.setenv("ANALYTICS_BUCKET", ANALYTICS_BUCKET)
    monkeypatch.setenv("ANALYTICS_PREFIX", "events")
    consumer.app = load_module("functions.consumer.app")
    return consumer
