"""The retrier: pointers to parked objects into the ingest queue — the spent ones always, the others once the
store answers — within the queue's depth; it deletes nothing (the consumer deletes what it handled)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from functions.common.parked import (
    BREAKER_KEY,
    PARKED_PREFIX,
    ParkedEvent,
    breaker_document,
    parked_key,
    write_parked,
)
from tests.functions.support import (
    FakeContext,
    envelope_body,
    fail_batch_entries,
    load_module,
    metric_values,
    plain_client,
)

BUCKET = "sluice-archive"
WINDOW_SECONDS = 120


@dataclass
class Retrier:
    app: ModuleType
    queue_url: str
    dead_letter_url: str

    def park(self, name: str, events: list[ParkedEvent]) -> str:
        key = parked_key(max(event.retry_since_ms for event in events), name)
        plain_client("s3").put_object(Bucket=BUCKET, Key=key, Body=write_parked(events))
        return key

    def parked_keys(self) -> list[str]:
        listing = plain_client("s3").list_objects_v2(Bucket=BUCKET, Prefix=PARKED_PREFIX).get("Contents", [])
        return [item["Key"] for item in listing]

    def set_breaker(self, *, is_open: bool) -> None:
        plain_client("s3").put_object(Bucket=BUCKET, Key=BREAKER_KEY, Body=breaker_document(is_open, now_ms()))

    def messages(self, url: str) -> list[dict[str, Any]]:
        sqs = plain_client("sqs")
        found: list[dict[str, Any]] = []
        for _ in range(20):  # bounded: each receive takes up to 10
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
            if not batch.get("Messages"):
                return found
            found += batch["Messages"]
        return found


def events(names: list[str], since_ms: int) -> list[ParkedEvent]:
    return [ParkedEvent(envelope_body(name), since_ms, f"msg-{name}") for name in names]


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def retrier(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Retrier]:
    sqs = plain_client("sqs")
    queue_url = sqs.create_queue(QueueName="sluice-ingest")["QueueUrl"]
    dead_letter_url = sqs.create_queue(QueueName="sluice-dead-letter")["QueueUrl"]
    plain_client("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("PARKING_BUCKET", BUCKET)
    monkeypatch.setenv("QUEUE_URL", queue_url)
    monkeypatch.setenv("RETRY_WINDOW_SECONDS", str(WINDOW_SECONDS))
    monkeypatch.setenv("UNPARK_QUEUE_DEPTH", "50")
    monkeypatch.setenv("RUN_SECONDS", "5")
    monkeypatch.setenv("REPOINT_AFTER_SECONDS", "60")
    monkeypatch.setenv("BREAKER_PROBE_SECONDS", "30")
    yield Retrier(load_module("functions.retrier.app"), queue_url, dead_letter_url)


def scheduled() -> dict[str, Any]:
    """What the template's schedule sends: its Input (the real Scheduler envelope is replaced by it)."""
    return {"sluice": "retry-parked-events"}


def pointed_keys(messages: list[dict[str, Any]]) -> list[str]:
    """The object keys of the pointers among `messages`, each checked to carry its key in attribute and body."""
    keys = []
    for message in messages:
        key = message["MessageAttributes"]["parked_key"]["StringValue"]
        assert message["Body"] == key
        keys.append(key)
    return keys


def test_objects_past_their_window_are_sent_to_the_consumer_even_while_the_store_fails(retrier: Retrier) -> None:
    # GIVEN an object parked for events accepted 121 s ago (past the 120 s window), and two accepted just now, while
    # the store still fails
    retrier.set_breaker(is_open=True)
    old = retrier.park("old", events(["a", "b"], now_ms() - 121_000))
    young = [retrier.park(name, events([name], now_ms())) for name in ("c", "d")]

    # WHEN the retrier runs
    result = retrier.app.handler(scheduled(), FakeContext())

    # THEN a pointer to the spent object went to the queue (the consumer dead-letters what it still cannot store),
    # and none to the young ones (the open breaker's probe goes only into an empty queue: that pointer is the probe);
    # nothing is deleted here: the consumer deletes an object once it has handled it
    assert pointed_keys(retrier.messages(retrier.queue_url)) == [old]
    assert result == {"parked_objects": 3, "spent_sent": 1, "waiting_sent": 0, "breaker_open": True}
    assert retrier.parked_keys() == sorted([old, *young])


def test_once_the_store_answers_every_parked_object_is_pointed_at_oldest_first(retrier: Retrier) -> None:
    # GIVEN three objects parked 60, 50 and 40 s ago, and the breaker closed (the store answers again)
    since = now_ms()
    keys = [
        retrier.park(name, events([f"{name}1", f"{name}2"], since - age * 1000))
        for age, name in ((60, "x"), (50, "y"), (40, "z"))
    ]
    retrier.set_breaker(is_open=False)

    # WHEN the retrier runs
    result = retrier.app.handler(scheduled(), FakeContext())

    # THEN a pointer to each is in the ingest queue (one message per object, not per event)
    assert sorted(pointed_keys(retrier.messages(retrier.queue_url))) == sorted(keys)
    assert result["waiting_sent"] == 3 and result["breaker_open"] is False


def test_while_the_breaker_is_open_one_object_goes_back_to_an_empty_queue(retrier: Retrier) -> None:
    # GIVEN three parked objects, the breaker open and an empty queue
    for name in ("p", "q", "r"):
        retrier.park(name, events([name], now_ms() - 10_000))
    retrier.set_breaker(is_open=True)

    # WHEN the retrier runs THEN only the oldest object is pointed at (so that a consumer probes the store)
    assert retrier.app.handler(scheduled(), FakeContext())["waiting_sent"] == 1

    # WHEN it runs again while that pointer still waits in the queue (nobody received it: the consumer may be
    # stopped) THEN nothing more is sent: a queue with something in it gives the consumers their probe
    assert retrier.app.handler(scheduled(), FakeContext(remaining_ms=4000))["waiting_sent"] == 0
    assert len(retrier.messages(retrier.queue_url)) == 1


def test_a_failing_that_nobody_refreshed_holds_nothing_back(retrier: Retrier) -> None:
    # GIVEN two parked objects, and the breaker's "failing" written 7 probe intervals (of 30 s) ago: an environment
    # that opened and went idle
    keys = [retrier.park(name, events([name], now_ms() - 5_000)) for name in ("s1", "s2")]
    stale = breaker_document(True, now_ms() - 7 * 30_000)
    plain_client("s3").put_object(Bucket=BUCKET, Key=BREAKER_KEY, Body=stale)

    # WHEN the retrier runs THEN it reads the store as answering and points at both
    result = retrier.app.handler(scheduled(), FakeContext())
    assert result["breaker_open"] is False
    assert sorted(pointed_keys(retrier.messages(retrier.queue_url))) == sorted(keys)


def test_an_object_pointed_at_is_not_pointed_at_again_while_its_pointer_may_still_wait(retrier: Retrier) -> None:
    # GIVEN two parked objects, the store answering, and a retrier on a clock the test moves
    keys = [retrier.park(name, events([name], now_ms() - 5_000)) for name in ("k1", "k2")]
    retrier.set_breaker(is_open=False)
    clock = [0.0]
    runner = retrier.app.Retrier(retrier.app.SETTINGS, plain_client("s3"), plain_client("sqs"), clock=lambda: clock[0])

    # WHEN it runs twice, 2 s apart, while nobody has handled the pointers yet
    first = runner.run(now_ms(), deadline=5.0)
    clock[0] = 2.0
    second = runner.run(now_ms(), deadline=7.0)

    # THEN the second run points at neither again: two consumers would store the same events twice
    assert (first.waiting_sent, second.waiting_sent) == (2, 0)
    # WHEN the pointers are older than REPOINT_AFTER_SECONDS (60 s) and the objects are still parked THEN they are
    # pointed at again (a pointer may have been lost)
    clock[0] = 70.0
    assert runner.run(now_ms(), deadline=75.0).waiting_sent == 2
    assert sorted(pointed_keys(retrier.messages(retrier.queue_url))) == sorted(keys + keys)


def test_a_full_queue_gets_no_more_until_it_drains(retrier: Retrier) -> None:
    # GIVEN the ingest queue already holds 50 visible messages (the depth) and one parked object
    sqs = plain_client("sqs")
    for start in range(0, 50, 10):
        sqs.send_message_batch(
            QueueUrl=retrier.queue_url, Entries=[{"Id": str(n), "MessageBody": "m"} for n in range(start, start + 10)]
        )
    retrier.park("waiting", events(["w"], now_ms()))
    retrier.set_breaker(is_open=False)

    # WHEN a run has one second to work (on a clock it sleeps on)
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    runner = retrier.app.Retrier(retrier.app.SETTINGS, plain_client("s3"), sqs, clock=lambda: clock[0], sleep=sleep)
    report = runner.run(now_ms(), deadline=1.0)

    # THEN nothing was sent: the object waits for the consumer to drain the queue
    assert report.waiting_sent == 0 and len(retrier.parked_keys()) == 1


def test_pointers_sqs_did_not_take_are_not_counted_and_their_objects_stay(retrier: Retrier) -> None:
    # GIVEN two parked objects, the store answering, and SQS failing the entry of the second pointer
    keys = [retrier.park(name, events([name], now_ms() - 5_000)) for name in ("m1", "m2")]
    retrier.set_breaker(is_open=False)
    fail_batch_entries(retrier.app.sqs, lambda _call, entry_id: entry_id == "1")

    # WHEN the retrier runs THEN one pointer went out, and both objects stay (the next run points at the other)
    assert retrier.app.handler(scheduled(), FakeContext())["waiting_sent"] == 1
    assert pointed_keys(retrier.messages(retrier.queue_url)) == keys[:1]
    assert retrier.parked_keys() == keys


def test_metrics_tell_how_much_is_parked_and_how_old(retrier: Retrier, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN two objects parked, the oldest for 90 s, with the breaker open
    retrier.set_breaker(is_open=True)
    retrier.park("first", events(["f"], now_ms() - 90_000))
    retrier.park("second", events(["s"], now_ms() - 10_000))

    # WHEN the retrier runs
    retrier.app.handler(scheduled(), FakeContext())

    # THEN it counts the parked objects it found, the oldest's age (the retry window's clock) and the pointers sent
    output = capsys.readouterr().out
    assert metric_values(output, "ParkedObjects") == [2.0]
    [oldest] = metric_values(output, "OldestRetryAge")
    assert 90 <= oldest < 150
    assert metric_values(output, "ParkedObjectsSent") == [1.0]
