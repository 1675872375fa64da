"""What SQS would count (AWS/SQS) and moto does not publish: sends, receives, deletes and empty receives seen on the
clients' calls, and the queues' depth and oldest message, sampled."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from botocore.client import BaseClient

from local.services.metrics import MetricSink

log = logging.getLogger(__name__)


def queue_name_of(queue_url: str) -> str:
    return queue_url.rstrip("/").rsplit("/", 1)[-1]


# SQS's ApproximateAgeOfOldestMessage skips messages received this often without being deleted.
AGE_SKIPS_RECEIVE_COUNT = 3
MAX_TRACKED_MESSAGES_PER_QUEUE = 100_000


class _OldestTracker:
    """Sent times of the messages we saw enter or leave a queue and not yet deleted."""

    def __init__(self) -> None:
        self.sent_ms: dict[str, int] = {}  # message id -> SentTimestamp, insertion-ordered
        self.receive_count: dict[str, int] = {}
        self.handles: dict[str, str] = {}  # receipt handle -> message id

    def add(self, message_id: str, sent_ms: int, receive_count: int = 0, handle: str | None = None) -> None:
        self.sent_ms.setdefault(message_id, sent_ms)
        self.receive_count[message_id] = receive_count
        if handle:
            self.handles[handle] = message_id
        # Bounded: handles of redelivered or dead-lettered messages are never deleted by anyone.
        while len(self.sent_ms) > MAX_TRACKED_MESSAGES_PER_QUEUE:
            self.discard(next(iter(self.sent_ms)))
        while len(self.handles) > MAX_TRACKED_MESSAGES_PER_QUEUE:
            del self.handles[next(iter(self.handles))]

    def delete(self, handle: str) -> None:
        message_id = self.handles.pop(handle, None)
        if message_id is not None:
            self.discard(message_id)

    def discard(self, message_id: str) -> None:
        self.sent_ms.pop(message_id, None)
        self.receive_count.pop(message_id, None)

    def oldest_ms(self) -> int | None:
        candidates = [sent for mid, sent in self.sent_ms.items() if self.receive_count[mid] < AGE_SKIPS_RECEIVE_COUNT]
        return min(candidates, default=None)


class SqsObserver:
    """Counts what SQS would count, from `after-call` hooks on the clients that talk to the queues.

    Attach the ingest handler's client (sends) and the pollers' client (receives, deletes). Moves by the
    redrive policy are invisible to clients, so — as on AWS — they never count as sent to the DLQ.
    It also tracks the sent time of messages not yet deleted, for ApproximateAgeOfOldestMessage
    (moto has no such attribute): see `oldest_sent_ms`.
    """

    def __init__(self, sink: MetricSink) -> None:
        self._sink = sink
        self._lock = threading.Lock()
        self._trackers: dict[str, _OldestTracker] = {}

    def attach(self, client: BaseClient) -> None:
        hooks = {"before-parameter-build.sqs": self._remember_params, "after-call.sqs": self._after_call}
        for event, hook in hooks.items():
            # unique_id is per emitter, not per event: one id per (observer, event) avoids re-hooking.
            client.meta.events.register(event, hook, unique_id=f"sluice-sqs-observer-{id(self)}-{event}")

    def oldest_sent_ms(self, queue_name: str) -> int | None:
        """SentTimestamp of the oldest message seen and not deleted, skipping those received ≥ 3 times.

        An approximation: messages nobody has received yet count from when we saw them sent; a message
        moved to the DLQ by the redrive policy leaves the source when the DLQ's poller receives it.
        """
        with self._lock:
            tracker = self._trackers.get(queue_name)
            return tracker.oldest_ms() if tracker else None

    def forget(self, queue_name: str) -> None:
        """The queue is empty: drop whatever is still tracked for it."""
        with self._lock:
            self._trackers.pop(queue_name, None)

    @staticmethod
    def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["sluice_sqs_params"] = dict(params)

    def _after_call(
        self, event_name: str, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        params = context.get("sluice_sqs_params") or {}
        if http_response.status_code >= 300 or "QueueUrl" not in params:
            return
        try:
            self._observe(event_name.rsplit(".", 1)[-1], params, parsed)
        except (KeyError, TypeError, ValueError):
            log.warning("SqsObserver: unexpected %s response", event_name, exc_info=True)

    def _observe(self, operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        queue = queue_name_of(params["QueueUrl"])
        now_ms = int(time.time() * 1000)
        with self._lock:
            tracker = self._trackers.setdefault(queue, _OldestTracker())
            if operation == "SendMessage":
                tracker.add(parsed["MessageId"], now_ms)
                self._count(queue, "NumberOfMessagesSent", 1)
            elif operation == "SendMessageBatch":
                sent = parsed.get("Successful", [])
                for entry in sent:
                    tracker.add(entry["MessageId"], now_ms)
                self._count(queue, "NumberOfMessagesSent", len(sent))
            elif operation == "ReceiveMessage":
                messages = parsed.get("Messages", [])
                for message in messages:
                    self._track_receive(queue, tracker, message, now_ms)
                self._count(queue, "NumberOfMessagesReceived", len(messages))
            elif operation == "DeleteMessage":
                tracker.delete(params["ReceiptHandle"])
                self._count(queue, "NumberOfMessagesDeleted", 1)
            elif operation == "DeleteMessageBatch":
                handles = {entry["Id"]: entry["ReceiptHandle"] for entry in params.get("Entries", [])}
                deleted = parsed.get("Successful", [])
                for entry in deleted:
                    tracker.delete(handles.get(entry["Id"], ""))
                self._count(queue, "NumberOfMessagesDeleted", len(deleted))

    def _track_receive(self, queue: str, tracker: _OldestTracker, message: dict[str, Any], now_ms: int) -> None:
        attributes = message.get("Attributes", {})
        message_id = message["MessageId"]
        # A message id is unique across queues: seen here means it left any other queue (the redrive policy).
        for name, other in self._trackers.items():
            if name != queue:
                other.discard(message_id)
        tracker.add(
            message_id,
            int(attributes.get("SentTimestamp", now_ms)),
            int(attributes.get("ApproximateReceiveCount", 1)),
            message["ReceiptHandle"],
        )

    def _count(self, queue: str, name: str, value: int) -> None:
        self._sink.record("AWS/SQS", name, value, "Count", {"QueueName": queue})


class QueueSampler:
    """Samples queue depth and age, as SQS publishes them every minute (call `sample` periodically)."""

    def __init__(self, sqs: BaseClient, queue_urls: Sequence[str], sink: MetricSink, observer: SqsObserver) -> None:
        self._sqs = sqs
        self._queue_urls = tuple(queue_urls)
        self._sink = sink
        self._observer = observer

    def sample(self) -> None:
        now_ms = int(time.time() * 1000)
        for url in self._queue_urls:
            queue = queue_name_of(url)
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            visible = int(attributes["ApproximateNumberOfMessages"])
            not_visible = int(attributes["ApproximateNumberOfMessagesNotVisible"])
            if visible + not_visible + int(attributes["ApproximateNumberOfMessagesDelayed"]) == 0:
                self._observer.forget(queue)
            oldest = self._observer.oldest_sent_ms(queue)
            age = 0.0 if oldest is None else max(0.0, (now_ms - oldest) / 1000)
            dimensions = {"QueueName": queue}
            record = self._sink.record
            record("AWS/SQS", "ApproximateNumberOfMessagesVisible", visible, "Count", dimensions)
            record("AWS/SQS", "ApproximateNumberOfMessagesNotVisible", not_visible, "Count", dimensions)
            record("AWS/SQS", "ApproximateAgeOfOldestMessage", age, "Seconds", dimensions)
            # SQS reports zero counts for an idle queue; without them an alarm would see missing data.
            for counter in ("NumberOfMessagesSent", "NumberOfMessagesReceived", "NumberOfMessagesDeleted"):
                record("AWS/SQS", counter, 0, "Count", dimensions)


# --- AWS/DynamoDB ------------------------------------------------------------------------------------
