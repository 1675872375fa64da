"""SQS's in-flight quota, as the local stack's moto server enforces it on standard queues.

AWS ("Amazon SQS standard queue quotas"): a standard queue holds approximately 120,000 messages in flight
(received, not yet deleted); "If you reach this quota while using short polling, Amazon SQS returns the
OverLimit error message. If you use long polling, Amazon SQS returns no error messages." The server here
runs with a limit of LIMIT so that a test reaches it with a few dozen messages.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from local.emulation.process import MotoServer, PortInUseError, free_port, start_moto
from tests.aws_helpers import unique

LIMIT = 25
QUEUE_VISIBILITY_SECONDS = 300  # longer than any test: only what a test does ends a message's visibility
WAIT_SECONDS = 30  # bound on waiting for a 1 s visibility to run out on a busy machine
BACKOFF_SECONDS = 180  # the first backoff today's consumer sets in prod (one visibility timeout: 6 × 30 s)


def _start_capped(log_path: Path) -> MotoServer:
    for attempt in range(3):
        try:
            return start_moto(port=free_port(), log_path=log_path, in_flight_limit=LIMIT)
        except PortInUseError:  # another worker took the port between the probe and the bind
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = _start_capped(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sqs(capped: MotoServer) -> BaseClient:
    return capped.client("sqs")


def queue_with(sqs: BaseClient, messages: int, **attributes: str) -> str:
    """A new standard queue holding `messages` visible messages."""
    attributes.setdefault("VisibilityTimeout", str(QUEUE_VISIBILITY_SECONDS))
    url = sqs.create_queue(QueueName=unique("capped"), Attributes=attributes)["QueueUrl"]
    for start in range(0, messages, 10):
        entries = [{"Id": str(n), "MessageBody": f"message {n}"} for n in range(start, min(start + 10, messages))]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    return url


def receive(sqs: BaseClient, url: str, wait_seconds: int = 0, **options: Any) -> list[dict[str, Any]]:
    reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds, **options)
    return list(reply.get("Messages", []))


def fill_to_the_limit(sqs: BaseClient, url: str) -> list[dict[str, Any]]:
    """Receive (and keep) messages until LIMIT are in flight."""
    received: list[dict[str, Any]] = []
    for _ in range(LIMIT):  # bound: every receive below the limit returns at least one message here
        if len(received) == LIMIT:
            break
        received += receive(sqs, url)
    assert len(received) == LIMIT
    return received


def counts(sqs: BaseClient, url: str) -> tuple[int, int]:
    """(visible, in flight)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return int(attributes[names[0]]), int(attributes[names[1]])


def test_a_receive_returns_at_most_the_room_left_under_the_limit(sqs: BaseClient) -> None:
    # GIVEN a queue with more messages than the limit, 20 of them already received (the limit is 25)
    url = queue_with(sqs, LIMIT + 10)
    assert len(receive(sqs, url)) == len(receive(sqs, url)) == 10
    # WHEN ten more are asked for
    messages = receive(sqs, url)
    # THEN only the five the limit leaves room for come back, and the rest stays visible
    assert len(messages) == LIMIT - 20
    assert counts(sqs, url) == (10, LIMIT)


def test_at_the_limit_a_long_poll_returns_nothing_and_a_short_poll_gets_over_limit(sqs: BaseClient) -> None:
    # GIVEN a queue with LIMIT messages in flight and ten more visible
    url = queue_with(sqs, LIMIT + 10)
    fill_to_the_limit(sqs, url)
    # WHEN a long poll asks for messages THEN it waits out its wait and returns none, without an error
    assert receive(sqs, url, wait_seconds=1) == []
    # AND a short poll gets SQS's OverLimit error (botocore's modelled exception)
    with pytest.raises(sqs.exceptions.OverLimit) as raised:
        receive(sqs, url)
    assert raised.value.response["Error"]["Code"] == "OverLimit"
    # AND nothing moved: the ten are still visible, waiting
    assert counts(sqs, url) == (10, LIMIT)


def test_deleting_an_in_flight_message_makes_room_for_one(sqs: BaseClient) -> None:
    # GIVEN a queue at the limit, with messages waiting
    url = queue_with(sqs, LIMIT + 10)
    received = fill_to_the_limit(sqs, url)
    # WHEN one in-flight message is deleted
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
    # THEN the next receive returns one message, and then the queue is at the limit again
    assert len(receive(sqs, url)) == 1
    with pytest.raises(ClientError, match="OverLimit"):
        receive(sqs, url)


def test_a_visibility_running_out_makes_room_again(sqs: BaseClient) -> None:
    # GIVEN a queue at the limit whose last five messages were received with a 1 s visibility timeout
    url = queue_with(sqs, LIMIT + 10)
    for _ in range(2):
        assert len(receive(sqs, url)) == 10
    assert len(receive(sqs, url, VisibilityTimeout=1)) == LIMIT - 20
    # WHEN their visibility runs out (wait for the count, not for the clock)
    deadline = time.monotonic() + WAIT_SECONDS
    while counts(sqs, url)[1] == LIMIT and time.monotonic() < deadline:
        time.sleep(0.2)
    assert counts(sqs, url) == (15, 20)
    # THEN a receive gets the five the limit has room for again
    assert len(receive(sqs, url)) == LIMIT - 20


def test_a_long_poll_at_the_limit_returns_what_becomes_receivable_within_its_wait(capped: MotoServer) -> None:
    # GIVEN a queue at the limit with messages waiting, and a consumer long-polling it
    sqs, consumer = capped.client("sqs"), capped.client("sqs")
    url = queue_with(sqs, LIMIT + 10)
    received = fill_to_the_limit(sqs, url)
    with ThreadPoolExecutor(max_workers=1) as pool:
        poll = pool.submit(receive, consumer, url, 20)
        # WHEN an in-flight message is deleted during its wait
        sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
        # THEN the poll returns the one message the limit now has room for
        assert len(poll.result(timeout=60)) == 1


def test_fifo_queues_are_left_to_moto_without_a_limit(sqs: BaseClient) -> None:
    # GIVEN a FIFO queue with more messages than the limit, each in a group of its own
    url = sqs.create_queue(
        QueueName=unique("ordered") + ".fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "300"},
    )["QueueUrl"]
    for n in range(LIMIT + 5):
        sqs.send_message(QueueUrl=url, MessageBody=f"message {n}", MessageGroupId=f"group-{n}")
    # WHEN all of them are received THEN every one comes back: FIFO queues stay on moto's own code
    received = [message for _ in range(4) for message in receive(sqs, url)]
    assert len(received) == LIMIT + 5


def test_parking_failed_messages_in_flight_stalls_the_queue_at_the_cap(sqs: BaseClient) -> None:
    """Why issue 26 changed the retry design. Today's consumer keeps each record it could not store in flight:
    it sets the message's visibility to a backoff delay (ChangeMessageVisibilityBatch) and reports it in
    batchItemFailures. During a database outage every received message is parked so; once the parked ones
    reach the queue's in-flight limit, the event source mapping's long polls return nothing, and the events
    behind them wait visible, never received (their receive count never grows, the redrive policy never moves them)
    until retention deletes them."""
    # GIVEN an ingest queue with a redrive policy to a DLQ, holding more events than the in-flight limit
    dlq_url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
    url = queue_with(sqs, LIMIT + 15, VisibilityTimeout="12", RedrivePolicy=redrive)
    # WHEN a consumer that cannot store anything does what today's consumer does with each batch it receives:
    # park every record on a long backoff instead of deleting it
    parked = 0
    for _ in range(LIMIT):  # bound: each round parks at least one message until the queue stalls
        batch = receive(sqs, url, wait_seconds=1)
        if not batch:
            break
        entries = [
            {"Id": str(n), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": BACKOFF_SECONDS}
            for n, message in enumerate(batch)
        ]
        assert not sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries).get("Failed")
        parked += len(batch)
    # THEN it parks exactly the limit, and from then on its long polls return nothing
    assert parked == LIMIT
    assert receive(sqs, url, wait_seconds=1) == []
    # AND the rest of the events wait visible, not received and not dead-lettered
    assert counts(sqs, url) == (15, LIMIT)
    assert counts(sqs, dlq_url) == (0, 0)
