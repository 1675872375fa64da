"""The ingest handler on a mocked queue."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from tests.functions.support import create_table, drain, load_module, plain_client

IDEMPOTENCY_TABLE = "sluice-idempotency"


@dataclass
class Ingest:
    app: ModuleType
    queue_url: str

    def queued(self) -> list[dict[str, Any]]:
        """The envelopes now in the queue (removing them)."""
        return [json.loads(body) for body in drain(self.queue_url)]


@pytest.fixture
def ingest(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ingest]:
    url = plain_client("sqs").create_queue(QueueName="sluice-ingest")["QueueUrl"]
    monkeypatch.setenv("QUEUE_URL", url)
    create_table(IDEMPOTENCY_TABLE, "id")
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", IDEMPOTENCY_TABLE)
    monkeypatch.setenv("MAX_EVENT_BYTES", "1000")
    monkeypatch.setenv("MAX_BODY_BYTES", "20000")
    monkeypatch.setenv("MAX_BATCH_EVENTS", "30")
    monkeypatch.setenv("RETRY_AFTER_SECONDS", "7")
    yield Ingest(load_module("functions.ingest.app"), url)
