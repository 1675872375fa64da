"""The consumer's settings: its sinks decide which stores it needs."""

from __future__ import annotations

import pytest

from functions.common.errors import ConfigError
from functions.consumer.config import load_settings

BASE = {
    "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/ingest",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
    "PARKING_BUCKET": "sluice-archive",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("SINKS", "TABLE_NAME", "ANALYTICS_BUCKET", "TABLE_TTL_DAYS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_each_sink_needs_its_store_and_only_its_store(environment: pytest.MonkeyPatch) -> None:
    # GIVEN only the analytics store and its bucket WHEN the settings are read THEN no table is needed
    environment.setenv("SINKS", "s3")
    environment.setenv("ANALYTICS_BUCKET", "analytics")
    settings = load_settings()
    assert (settings.sinks, settings.table_name, settings.analytics_bucket) == (frozenset({"s3"}), "", "analytics")
    # AND with the table as well, its name is required, and a TTL of 0 keeps items
    environment.setenv("SINKS", "dynamodb,s3")
    with pytest.raises(ConfigError, match="TABLE_NAME"):
        load_settings()
    environment.setenv("TABLE_NAME", "events")
    assert load_settings().ttl_days is None


@pytest.mark.parametrize("sinks", ["kafka", "dynamodb,kafka", ","])
def test_an_unknown_or_empty_sink_is_one_line(environment: pytest.MonkeyPatch, sinks: str) -> None:
    # GIVEN SINKS naming something else, or nothing between its commas
    environment.setenv("SINKS", sinks)
    environment.setenv("TABLE_NAME", "events")
    # WHEN the settings are read THEN they are refused in one line
    with pytest.raises(ConfigError, match="SINKS must name dynamodb and/or s3"):
        load_settings()
