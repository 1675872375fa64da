"""The retrier: parked events back to the ingest queue once the store answers, or to the DLQ once their window
is spent; nothing deleted before it was sent on."""

from __future__ import annotations

import json
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
    read_parked,
    write_parked,
)
from tests.functions.support import (
    FakeContext,
    count_calls,
    envelope_body,
    fail_batch_entries,
    load_event,
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
        plain_client("s3").put_object(Bucket=BUCKET, Key=BREAKER_KEY, Body=breaker_document(is_open, "now"))

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
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dead_letter_url)
    monkeypatch.setenv("RETRY_WINDOW_SECONDS", str(WINDOW_SECONDS))
    monkeypatch.setenv("UNPARK_QUEUE_DEPTH", "50")
    monkeypatch.setenv("RUN_SECONDS", "5")
    yield Retrier(load_module("functions.retrier.app"), queue_url, dead_letter_url)


def scheduled() -> dict[str, Any]:
    """What the template's schedule sends: its Input (the real Scheduler envelope is replaced by it)."""
    return {"sluice": "retry-parked-events"}


def test_events_past_their_window_go_to_the_dlq_with_the_reason(retrier: Retrier) -> None:
    # GIVEN an object parked for events accepted 121 s ago (past the 120 s window) and one accepted just now,
    # while the store still fails
    retrier.set_breaker(is_open=True)
    retrier.park("old", events(["a", "b"], now_ms() - 121_000))
    young = retrier.park("young", events(["c"], now_ms()))
    dlq_before = retrier.messages(retrier.dead_letter_url)

    # WHEN the retrier runs
    result = retrier.app.handler(scheduled(), FakeContext())

    # THEN the old events are in the DLQ with "retry window spent" and the message ids they came as, their object
    # is gone; the young one went back to the queue as the open breaker's one-object trickle
    dead = retrier.messages(retrier.dead_letter_url)
    assert dlq_before == []
    assert {json.loads(m["Body"])["event_id"] for m in dead} == {"a", "b"}
    assert {m["MessageAttributes"]["dead_letter_reason"]["StringValue"] for m in dead} == {"retry window spent"}
    assert {m["MessageAttributes"]["source_message_id"]["StringValue"] for m in dead} == {"msg-a", "msg-b"}
    assert result["dead_lettered"] == 2 and result["breaker_open"] is True
    assert young not in retrier.parked_keys() and retrier.parked_keys() == []


def test_once_the_store_answers_parked_events_return_with_their_retry_clock(retrier: Retrier) -> None:
    # GIVEN three objects parked 60, 50 and 40 s ago, and the breaker closed (the store answers again)
    since = now_ms()
    for age, name in ((60, "x"), (50, "y"), (40, "z")):
        retrier.park(name, events([f"{name}1", f"{name}2"], since - age * 1000))
    retrier.set_breaker(is_open=False)

    # WHEN the retrier runs
    result = retrier.app.handler(scheduled(), FakeContext())

    # THEN all six events are back in the ingest queue, each carrying the clock it was accepted at, and nothing
    # stays parked
    back = retrier.messages(retrier.queue_url)
    clocks = {
        json.loads(m["Body"])["event_id"]: int(m["MessageAttributes"]["retry_since"]["StringValue"]) for m in back
    }
    assert clocks == {"x1": since - 60_000, "x2": since - 60_000, "y1": since - 50_000, "y2": since - 50_000,
                      "z1": since - 40_000, "z2": since - 40_000}  # fmt: skip
    assert result["unparked"] == 6 and retrier.parked_keys() == []


def test_while_the_breaker_is_open_one_object_goes_back_to_an_empty_queue(retrier: Retrier) -> None:
    # GIVEN three parked objects, the breaker open and an empty queue
    for name in ("p", "q", "r"):
        retrier.park(name, events([name], now_ms() - 10_000))
    retrier.set_breaker(is_open=True)

    # WHEN the retrier runs THEN only the oldest object goes back (so that a consumer probes the store)
    assert retrier.app.handler(scheduled(), FakeContext())["unparked"] == 1
    assert len(retrier.parked_keys()) == 2

    # WHEN it runs again while that one still waits in the queue (nobody received it: the consumer may be stopped)
    # THEN nothing more goes back: a queue with something in it gives the consumers their probe
    assert retrier.app.handler(scheduled(), FakeContext(remaining_ms=4000))["unparked"] == 0
    assert len(retrier.parked_keys()) == 2


def test_a_full_queue_gets_no_more_until_it_drains(retrier: Retrier) -> None:
    # GIVEN the ingest queue already holds 50 visible messages (the unpark depth) and one parked object
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

    # THEN nothing was unparked: the object waits for the consumer to drain the queue
    assert report.unparked == 0 and len(retrier.parked_keys()) == 1


def test_events_sqs_did_not_take_stay_parked_and_nothing_else(retrier: Retrier) -> None:
    # GIVEN one parked object of three events, and SQS failing the entry of the second one
    key = retrier.park("partial", events(["m1", "m2", "m3"], now_ms() - 5_000))
    retrier.set_breaker(is_open=False)
    fail_batch_entries(retrier.app.sqs, lambda _call, entry_id: entry_id == "1")

    # WHEN the retrier runs
    result = retrier.app.handler(scheduled(), FakeContext())

    # THEN two went back, and the object now holds exactly the one that did not (for the next run)
    assert result["unparked"] == 2
    data = plain_client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert [event.message_id for event in read_parked(data)] == ["msg-m2"]


def test_an_unreadable_object_is_left_for_a_person(retrier: Retrier) -> None:
    # GIVEN an object under the parked prefix that is not a parked-events object, and the store answering
    key = parked_key(now_ms(), "garbage")
    plain_client("s3").put_object(Bucket=BUCKET, Key=key, Body=b"not gzip")
    retrier.set_breaker(is_open=False)
    sends = count_calls(retrier.app.sqs, "SendMessageBatch")

    # WHEN the retrier runs THEN it sends nothing and deletes nothing
    retrier.app.handler(scheduled(), FakeContext())
    assert sends == [] and retrier.parked_keys() == [key]


def test_metrics_tell_how_much_is_parked_and_how_old(retrier: Retrier, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN two objects parked, the oldest for 90 s, with the breaker open
    retrier.set_breaker(is_open=True)
    retrier.park("first", events(["f"], now_ms() - 90_000))
    retrier.park("second", events(["s"], now_ms() - 10_000))

    # WHEN the retrier runs
    retrier.app.handler(scheduled(), FakeContext())

    # THEN it counts the parked objects it found and the oldest's age: the retry window's clock
    output = capsys.readouterr().out
    assert metric_values(output, "ParkedObjects") == [2.0]
    [oldest] = metric_values(output, "OldestRetryAge")
    assert 90 <= oldest < 150
    assert metric_values(output, "EventsUnparked") == [1.0]


def test_the_schedule_fixture_is_what_scheduler_sends_without_input() -> None:
    # GIVEN Scheduler's default event (no Input) THEN it is not what the template sends: the template gives an Input
    assert load_event("eventbridge-scheduler-default.json")["source"] == "aws.scheduler"
