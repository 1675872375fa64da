"""The consumer handler on a mocked DynamoDB table."""

from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from tests.functions.support import create_table, load_module, scan

TABLE = "sluice-events"


@dataclass
class Consumer:
    app: ModuleType

    def items(self) -> dict[str, dict[str, Any]]:
        return {item["event_id"]["S"]: item for item in scan(TABLE)}


@pytest.fixture
def consumer(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Consumer]:
    create_table(TABLE, "event_id")
    monkeypatch.setenv("TABLE_NAME", TABLE)
    yield Consumer(load_module("functions.consumer.app"))
