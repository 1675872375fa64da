"""SQS event source mappings, emulated: poll a queue, invoke a LocalFunction with batches, delete.

moto's own event source mapping invokes per message inside SendMessage and ignores partial failures,
so the local stack polls the queues itself with Lambda's documented semantics:
- long polling (`poll_wait_seconds`, short so stopping is quick), up to 10 messages per receive;
  receives repeat until `batch_size` or the batching window (from the first message) is reached;
- `maximum_concurrency` workers, each with at most one batch in flight;
- success deletes the batch; an error or a timeout deletes nothing (the batch comes back after the
  queue's visibility timeout); with ReportBatchItemFailures only the records not listed in
  `batchItemFailures` are deleted, and an invalid list fails the whole batch; a kept record reappears when
  its visibility runs out — the one the function set with ChangeMessageVisibility (the consumer's backoff)
  if it did: the poller never resets it, as Lambda does not;
- a throttled invocation is retried with backoff while the batch is still invisible;
- a paused mapping (`paused()` true: the `consumer-paused` fault) receives nothing, like a disabled mapping;
- dead-lettering after maxReceiveCount (the redrive policy) is moto's: its ReceiveMessage moves a message whose
  receive count reached maxReceiveCount (tests/local/test_pollers.py proves it).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from local.services.lambdas import Invoker, TooManyRequestsException

log = logging.getLogger(__name__)

SQS_MAX_MESSAGES_PER_RECEIVE = 10
SQS_MAX_ENTRIES_PER_DELETE = 10
THROTTLE_BACKOFF_SECONDS = (0.1, 2.0)  # first and largest pause between throttled invocations


class WorkerGroup:
    """`workers` daemon threads, each calling `step(stop)` until stopped; a failing step backs off."""

    def __init__(
        self, name: str, workers: int, step: Callable[[threading.Event], Any], error_backoff: float = 1.0
    ) -> None:
        if workers < 1:
            raise ValueError(f"{name}: needs at least one worker, got {workers}")
        self._name = name
        self._workers = workers
        self._step = step
        self._error_backoff = error_backoff
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._run, name=f"{self._name}-{index}", daemon=True)
            for index in range(self._workers)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Signal the workers and wait up to `timeout` s in total; True if all have ended."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        if alive:
            log.warning("%s: still busy after %.0f s: %s", self._name, timeout, ", ".join(alive))
        self._threads = []
        return not alive

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step(self._stop)
            except Exception:
                log.warning("%s: poll failed; retrying in %.0f s", self._name, self._error_backoff, exc_info=True)
                self._stop.wait(self._error_backoff)


@dataclass(frozen=True)
class SqsMapping:
    """An AWS::Lambda::EventSourceMapping for an SQS queue."""

    queue_url: str
    queue_arn: str
    batch_size: int = 10
    batching_window_seconds: float = 0.0
    report_batch_item_failures: bool = True
    maximum_concurrency: int = 2
    poll_wait_seconds: int = 1  # Lambda long-polls 20 s; short here so stop() returns quickly
    region: str = "us-east-1"


def receive(sqs: BaseClient, queue_url: str, max_messages: int, wait_seconds: int) -> list[dict[str, Any]]:
    """One ReceiveMessage with every system and message attribute (what Lambda asks for). At the queue's in-flight
    cap SQS answers a short poll with OverLimit: as for Lambda's long polls, that is "nothing to receive now" (a
    poller must not drop the batch it is collecting: its messages would come back with a receive spent)."""
    try:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "OverLimit":
            return []
        raise
    return list(response.get("Messages", []))


def delete(sqs: BaseClient, queue_url: str, messages: Sequence[dict[str, Any]]) -> None:
    """DeleteMessageBatch in chunks of 10; entries SQS refuses (e.g. a stale receipt handle) are logged."""
    for start in range(0, len(messages), SQS_MAX_ENTRIES_PER_DELETE):
        chunk = messages[start : start + SQS_MAX_ENTRIES_PER_DELETE]
        entries = [{"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(chunk)]
        failed = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
        for entry in failed:
            log.warning("delete from %s failed: %s %s", queue_url, entry.get("Code"), entry.get("Message"))


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of a Lambda SQS event, from a ReceiveMessage message."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [base64.b64encode(v).decode() for v in value.get("BinaryListValues", [])]
    attribute["dataType"] = value["DataType"]
    return attribute


def failed_message_ids(result: Any, batch_ids: set[str]) -> set[str] | None:
    """The message ids a partial batch response keeps in the queue; None if the whole batch failed."""
    if result is None:
        return set()
    if not isinstance(result, dict):
        return None
    failures = result.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        return None
    ids = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in batch_ids:
            return None  # empty, null or unknown ids make Lambda retry the whole batch
        ids.add(identifier)
    return ids


class SqsPoller:
    """Runs one SqsMapping: `maximum_concurrency` workers each receive, invoke and delete."""

    def __init__(
        self, mapping: SqsMapping, function: Invoker, sqs: BaseClient, paused: Callable[[], bool] = lambda: False
    ) -> None:
        self.mapping = mapping
        self._function = function
        self._sqs = sqs
        self._paused = paused
        self._visibility_timeout: float | None = None
        self._workers = WorkerGroup(f"poller-{function.name}", mapping.maximum_concurrency, self.poll_once)

    def start(self) -> None:
        self._workers.start()

    def stop(self, timeout: float = 10.0) -> bool:
        return self._workers.stop(timeout)

    def poll_once(self, stop: threading.Event | None = None) -> int:
        """Receive one batch, invoke the function, delete what succeeded; returns the batch size."""
        stop = stop or threading.Event()
        if self._paused():
            stop.wait(self.mapping.poll_wait_seconds)  # as idle as a long poll that returned nothing
            return 0
        messages = self._collect_batch(stop)
        if not messages:
            return 0
        # The first messages became invisible up to a batching window ago: budget retries from then.
        received_at = time.monotonic() - self.mapping.batching_window_seconds
        event = {"Records": [sqs_record(m, self.mapping.queue_arn, self.mapping.region) for m in messages]}
        try:
            result = self._invoke(event, received_at, stop)
        except Exception as error:
            log.warning("%s failed on a batch of %d: %s", self._function.name, len(messages), error)
            return len(messages)
        keep: set[str] | None = set()
        if self.mapping.report_batch_item_failures:
            keep = failed_message_ids(result, {m["MessageId"] for m in messages})
        if keep is None:
            log.warning("%s returned an invalid batchItemFailures; the batch will be retried", self._function.name)
            return len(messages)
        delete(self._sqs, self.mapping.queue_url, [m for m in messages if m["MessageId"] not in keep])
        return len(messages)

    def _collect_batch(self, stop: threading.Event) -> list[dict[str, Any]]:
        mapping = self.mapping
        messages: list[dict[str, Any]] = []
        window_ends: float | None = None
        while len(messages) < mapping.batch_size and not stop.is_set():
            remaining = None if window_ends is None else window_ends - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            wait = mapping.poll_wait_seconds if remaining is None else int(min(remaining, mapping.poll_wait_seconds))
            wanted = min(SQS_MAX_MESSAGES_PER_RECEIVE, mapping.batch_size - len(messages))
            received = receive(self._sqs, mapping.queue_url, wanted, wait)
            messages.extend(received)
            if window_ends is None:
                if not received:
                    return []  # an idle poll: let the worker check for stop
                window_ends = time.monotonic() + mapping.batching_window_seconds
            elif not received and wait == 0:
                stop.wait(min(0.2, max(0.0, window_ends - time.monotonic())))
        return messages

    def _invoke(self, event: dict[str, Any], received_at: float, stop: threading.Event) -> Any:
        pause, longest = THROTTLE_BACKOFF_SECONDS
        retry_until = received_at + self._queue_visibility_timeout()
        while True:
            try:
                return self._function.invoke(event)
            except TooManyRequestsException:
                if stop.is_set() or time.monotonic() + pause >= retry_until:
                    raise
                stop.wait(pause)
                pause = min(pause * 2, longest)

    def _queue_visibility_timeout(self) -> float:
        if self._visibility_timeout is None:
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=self.mapping.queue_url, AttributeNames=["VisibilityTimeout"]
            )["Attributes"]
            self._visibility_timeout = float(attributes["VisibilityTimeout"])
        return self._visibility_timeout
