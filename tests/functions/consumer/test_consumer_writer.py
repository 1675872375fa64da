"""BatchWriter against botocore's Stubber: the exact retry requests, the backoff, the deadline."""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from functions.consumer.writer import BatchWriter

TABLE = "events"


def item(key: str) -> dict[str, Any]:
    return {"event_id": {"S": key}, "raw": {"S": "{}"}}


def puts(*keys: str) -> list[dict[str, Any]]:
    return [{"PutRequest": {"Item": item(key)}} for key in keys]


class FakeTime:
    """A clock that only moves when the writer sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def expect_call(stubber: Stubber, sent: tuple[str, ...], unprocessed: tuple[str, ...]) -> None:
    """The next call must send exactly `sent`; DynamoDB leaves `unprocessed` of them."""
    response = {"UnprocessedItems": {TABLE: puts(*unprocessed)} if unprocessed else {}}
    stubber.add_response("batch_write_item", response, {"RequestItems": {TABLE: puts(*sent)}})


def test_unprocessed_items_are_resent_alone_with_jittered_backoff(stubbed: tuple[Any, Stubber]) -> None:
    # GIVEN DynamoDB leaves b and c, then c, unprocessed, then takes everything
    client, stubber = stubbed
    expect_call(stubber, ("a", "b", "c"), ("b", "c"))
    expect_call(stubber, ("b", "c"), ("c",))
    expect_call(stubber, ("c",), ())
    time = FakeTime()
    writer = BatchWriter(client, TABLE, "event_id", base_delay=0.05, sleep=time.sleep, clock=lambda: time.now)

    # WHEN three items are written with plenty of time
    result = writer.write({key: item(key) for key in "abc"}, deadline=60.0)

    # THEN each retry carried exactly the unprocessed items, after a full-jitter backoff
    assert result.unwritten == set() and result.retried == 3
    assert len(time.sleeps) == 2
    assert 0 <= time.sleeps[0] <= 0.1 and 0 <= time.sleeps[1] <= 0.2


def test_deadline_stops_the_retries(stubbed: tuple[Any, Stubber]) -> None:
    # GIVEN DynamoDB leaves b unprocessed, and the clock is past the deadline when it answers
    client, stubber = stubbed
    expect_call(stubber, ("a", "b"), ("b",))
    ticks = iter([0.0, 100.0])
    time = FakeTime()
    writer = BatchWriter(client, TABLE, "event_id", sleep=time.sleep, clock=lambda: next(ticks))

    # WHEN the items are written with a deadline at 5 s
    result = writer.write({"a": item("a"), "b": item("b")}, deadline=5.0)

    # THEN b is reported unwritten with no further call (the Stubber has none queued) and no sleep
    assert result.unwritten == {"b"} and time.sleeps == []


def test_a_failed_call_fails_its_chunk_only(stubbed: tuple[Any, Stubber]) -> None:
    # GIVEN 30 items: the first call (25 items) succeeds, the second is refused
    client, stubber = stubbed
    stubber.add_response("batch_write_item", {"UnprocessedItems": {}})
    stubber.add_client_error("batch_write_item", "ProvisionedThroughputExceededException")
    writer = BatchWriter(client, TABLE, "event_id")
    keys = [f"k{index:02d}" for index in range(30)]

    # WHEN they are written
    result = writer.write({key: item(key) for key in keys}, deadline=float("inf"))

    # THEN the five items of the second call are unwritten
    assert result.unwritten == set(keys[25:])


def test_nothing_is_attempted_after_the_deadline(stubbed: tuple[Any, Stubber]) -> None:
    # GIVEN no time left
    client, _ = stubbed
    writer = BatchWriter(client, TABLE, "event_id", clock=lambda: 10.0)

    # WHEN items are written
    result = writer.write({"a": item("a")}, deadline=5.0)

    # THEN no call is made (the Stubber would fail on one) and the item is unwritten
    assert result.unwritten == {"a"}
