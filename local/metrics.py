"""The AWS/* metrics moto never publishes, and our EMF metrics, published to moto's CloudWatch.

Producers record datapoints into one thread-safe `MetricSink`:
- the local gateway (AWS/ApiGateway) and the LocalFunctions (AWS/Lambda) record directly;
- `SqsObserver` and `DynamoDbObserver` hook botocore clients (the handlers' and the pollers') and
  record what the services would count (AWS/SQS, AWS/DynamoDB);
- `QueueSampler` samples queue depth and the age of the oldest message;
- `EmfCapture` tees stdout and turns the handlers' embedded-metric-format lines into datapoints.

`Publisher` periodically aggregates the sink into one StatisticSet per (metric, dimensions, time
bucket) and sends it with PutMetricData: moto stores every datum and scans them all on each read, so
publishing aggregates keeps reads fast.
"""

from __future__ import annotations

import io
import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from botocore.client import BaseClient

log = logging.getLogger(__name__)

Dimensions = tuple[tuple[str, str], ...]

# Bounds memory if nothing drains the sink (no publisher running): the oldest datapoints go first.
MAX_BUFFERED_DATAPOINTS = 500_000
PUT_METRIC_DATA_MAX_DATUMS = 1000
KIB = 1024


@dataclass(frozen=True)
class Datapoint:
    namespace: str
    name: str
    dimensions: Dimensions
    value: float
    unit: str
    timestamp: float  # epoch seconds


class MetricSink:
    """A thread-safe buffer of datapoints, drained by the Publisher."""

    def __init__(self, max_datapoints: int = MAX_BUFFERED_DATAPOINTS) -> None:
        self._points: deque[Datapoint] = deque(maxlen=max_datapoints)
        self._lock = threading.Lock()

    def record(
        self,
        namespace: str,
        name: str,
        value: float,
        unit: str = "Count",
        dimensions: Mapping[str, str] | None = None,
        timestamp: float | None = None,
    ) -> None:
        """Buffer one datapoint (timestamp: epoch seconds, default now)."""
        point = Datapoint(
            namespace,
            name,
            tuple(sorted((dimensions or {}).items())),
            float(value),
            unit,
            time.time() if timestamp is None else timestamp,
        )
        with self._lock:
            self._points.append(point)

    def drain(self) -> list[Datapoint]:
        """Remove and return everything buffered so far."""
        with self._lock:
            points = list(self._points)
            self._points.clear()
        return points


# --- aggregation and publishing ----------------------------------------------------------------------


@dataclass
class StatisticSet:
    sample_count: int
    total: float
    minimum: float
    maximum: float

    def add(self, value: float) -> None:
        self.sample_count += 1
        self.total += value
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)


AggregateKey = tuple[str, str, Dimensions, str, int]  # namespace, name, dimensions, unit, bucket start


def aggregate(points: Iterable[Datapoint], resolution_seconds: int) -> dict[AggregateKey, StatisticSet]:
    """Fold datapoints into one StatisticSet per metric, dimensions, unit and time bucket."""
    sets: dict[AggregateKey, StatisticSet] = {}
    for point in points:
        bucket = int(point.timestamp // resolution_seconds) * resolution_seconds
        key = (point.namespace, point.name, point.dimensions, point.unit, bucket)
        if key in sets:
            sets[key].add(point.value)
        else:
            sets[key] = StatisticSet(1, point.value, point.value, point.value)
    return sets


def metric_data(sets: Mapping[AggregateKey, StatisticSet], resolution_seconds: int) -> dict[str, list[dict[str, Any]]]:
    """PutMetricData `MetricData` entries per namespace."""
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for (namespace, name, dimensions, unit, bucket), stats in sets.items():
        by_namespace.setdefault(namespace, []).append(
            {
                "MetricName": name,
                "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions],
                "Timestamp": datetime.fromtimestamp(bucket, UTC),
                "StatisticValues": {
                    "SampleCount": stats.sample_count,
                    "Sum": stats.total,
                    "Minimum": stats.minimum,
                    "Maximum": stats.maximum,
                },
                "Unit": unit,
                # High resolution below a minute, so the local environment's short alarm periods work.
                "StorageResolution": 1 if resolution_seconds < 60 else 60,
            }
        )
    return by_namespace


class Publisher:
    """Every `interval_seconds`: run the samplers, drain the sink, aggregate, PutMetricData."""

    def __init__(
        self,
        sink: MetricSink,
        cloudwatch: BaseClient,
        interval_seconds: float = 5.0,
        resolution_seconds: int = 5,
        samplers: Sequence[Callable[[], None]] = (),
    ) -> None:
        self._sink = sink
        self._cloudwatch = cloudwatch
        self._interval = interval_seconds
        self._resolution = resolution_seconds
        self._samplers = tuple(samplers)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def publish_once(self) -> int:
        """Sample, aggregate and send what is buffered now; returns the number of datums sent."""
        for sample in self._samplers:
            try:
                sample()
            except Exception:
                log.warning("metric sampler %r failed", sample, exc_info=True)
        sets = aggregate(self._sink.drain(), self._resolution)
        sent = 0
        for namespace, data in metric_data(sets, self._resolution).items():
            for start in range(0, len(data), PUT_METRIC_DATA_MAX_DATUMS):
                chunk = data[start : start + PUT_METRIC_DATA_MAX_DATUMS]
                try:
                    self._cloudwatch.put_metric_data(Namespace=namespace, MetricData=chunk)
                    sent += len(chunk)
                except Exception:
                    # Dropped, not retried: a stalled CloudWatch must not make the buffer grow forever.
                    log.warning("PutMetricData failed for %d %s datums", len(chunk), namespace, exc_info=True)
        return sent

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="metrics-publisher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and publish what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.publish_once()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.publish_once()


# --- AWS/SQS -----------------------------------------------------------------------------------------


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
        # Bounded: handles of redelivered or redriven messages are never deleted by anyone.
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

    Attach the ingest handler's client (sends) and the pollers' client (receives, deletes). Moves by
    redrive are invisible to clients, so — as on AWS — they never count as sent to the DLQ.
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
        moved to the DLQ by redrive leaves the source when the DLQ's poller receives it.
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
        # A message id is unique across queues: seen here means it left any other queue (redrive).
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

THROTTLE_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})


def item_size(item: Mapping[str, Any]) -> int:
    """Approximate DynamoDB item size in bytes from its typed JSON (names + values)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: Mapping[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return len(inner.lstrip("-").replace(".", "")) // 2 + 1
    if kind == "B":
        return len(inner) * 3 // 4  # base64 in the request
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: element}) for element in inner)
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in inner)
    return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in inner.items())  # "M"


def write_units(item: Mapping[str, Any]) -> int:
    """Write capacity units of one item: one per started KiB."""
    return max(1, math.ceil(item_size(item) / KIB))


def _requested_writes(operation: str, body: Mapping[str, Any]) -> dict[str, int]:
    """Write units per table that a request asks for (0 for reads, so the table still gets latency)."""
    if operation == "BatchWriteItem":
        return {table: _batch_units(requests) for table, requests in body.get("RequestItems", {}).items()}
    if "TableName" not in body:
        return {}
    if operation == "PutItem":
        return {body["TableName"]: write_units(body["Item"])}
    if operation in ("UpdateItem", "DeleteItem"):
        return {body["TableName"]: 1}
    return {body["TableName"]: 0}


def _batch_units(requests: Iterable[Mapping[str, Any]]) -> int:
    return sum(write_units(r["PutRequest"]["Item"]) if "PutRequest" in r else 1 for r in requests)


class DynamoDbObserver:
    """Records what DynamoDB would count, per HTTP attempt (so botocore's retries count, as on AWS).

    ConsumedWriteCapacityUnits (TableName): requested writes minus UnprocessedItems;
    SuccessfulRequestLatency, ThrottledRequests, SystemErrors (TableName, Operation);
    UserErrors (no dimensions: AWS reports it per account and region). Connection failures reach no
    server and count nothing, as on AWS.
    """

    def __init__(self, sink: MetricSink) -> None:
        self._sink = sink

    def attach(self, client: BaseClient) -> None:
        hooks = {
            "before-call.dynamodb": self._before_call,
            "before-send.dynamodb": self._before_send,
            "response-received.dynamodb": self._response_received,
        }
        for event, hook in hooks.items():
            client.meta.events.register(event, hook, unique_id=f"sluice-dynamodb-observer-{id(self)}-{event}")

    @staticmethod
    def _before_call(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        try:
            writes = _requested_writes(model.name, json.loads(params.get("body") or b"{}"))
        except (ValueError, KeyError, TypeError, AttributeError):
            writes = {}  # an observer must never break the call it watches
        context["sluice_ddb_writes"] = writes

    @staticmethod
    def _before_send(request: Any, **_: Any) -> None:
        request.context["sluice_ddb_sent_at"] = time.monotonic()

    def _response_received(
        self,
        event_name: str,
        response_dict: dict[str, Any] | None,
        parsed_response: dict[str, Any] | None,
        context: dict[str, Any],
        exception: Exception | None,
        **_: Any,
    ) -> None:
        if exception is not None or response_dict is None or parsed_response is None:
            return
        try:
            self._observe(event_name.rsplit(".", 1)[-1], response_dict, parsed_response, context)
        except (KeyError, TypeError, ValueError):
            log.warning("DynamoDbObserver: unexpected %s response", event_name, exc_info=True)

    def _observe(
        self, operation: str, response_dict: dict[str, Any], parsed_response: dict[str, Any], context: dict[str, Any]
    ) -> None:
        writes: dict[str, int] = context.get("sluice_ddb_writes", {})
        status = response_dict["status_code"]
        if status < 300:
            elapsed_ms = (time.monotonic() - context.get("sluice_ddb_sent_at", time.monotonic())) * 1000
            unprocessed = parsed_response.get("UnprocessedItems") or {}
            for table, units in writes.items():
                dims = {"TableName": table, "Operation": operation}
                self._sink.record("AWS/DynamoDB", "SuccessfulRequestLatency", elapsed_ms, "Milliseconds", dims)
                consumed = units - _batch_units(unprocessed.get(table, []))
                if consumed > 0:
                    self._sink.record(
                        "AWS/DynamoDB", "ConsumedWriteCapacityUnits", consumed, "Count", {"TableName": table}
                    )
            return
        code = parsed_response.get("Error", {}).get("Code", "")
        if code in THROTTLE_CODES or status >= 500:
            name = "ThrottledRequests" if code in THROTTLE_CODES else "SystemErrors"
            for table in writes:
                self._sink.record("AWS/DynamoDB", name, 1, "Count", {"TableName": table, "Operation": operation})
        else:
            self._sink.record("AWS/DynamoDB", "UserErrors", 1, "Count")


# --- EMF ---------------------------------------------------------------------------------------------


def parse_emf(line: str) -> list[Datapoint]:
    """Datapoints of one embedded-metric-format line; [] if the line is not EMF."""
    if not line.startswith("{") or '"_aws"' not in line:
        return []
    try:
        blob = json.loads(line)
        meta = blob["_aws"]
        timestamp = float(meta.get("Timestamp", time.time() * 1000)) / 1000
        points: list[Datapoint] = []
        for directive in meta["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                raw = blob.get(metric["Name"])
                values = raw if isinstance(raw, list) else [raw]
                for dimension_set in directive.get("Dimensions") or [[]]:
                    dimensions = tuple(sorted((key, str(blob[key])) for key in dimension_set))
                    points.extend(
                        Datapoint(
                            directive["Namespace"],
                            metric["Name"],
                            dimensions,
                            float(value),
                            metric.get("Unit", "None"),
                            timestamp,
                        )
                        for value in values
                        if isinstance(value, int | float)
                    )
        return points
    except (ValueError, KeyError, TypeError, AttributeError):
        return []


class EmfCapture(io.TextIOBase):
    """A stdout replacement: whole lines go to `log` (EMF lines to `metrics_log` if given), and EMF lines
    become datapoints of `sink`.

    Lines are assembled per thread, so handlers printing from several threads never interleave
    inside a line. Ordinary lines are also copied to `passthrough` (e.g. the real stdout) if given.
    """

    def __init__(
        self, sink: MetricSink, log: TextIO, passthrough: TextIO | None = None, metrics_log: TextIO | None = None
    ) -> None:
        self._sink = sink
        self._log = log
        self._metrics_log = metrics_log or log  # EMF lines apart from the lines people read, when given
        self._passthrough = passthrough
        self._partial: dict[int, str] = {}
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        thread = threading.get_ident()
        with self._lock:
            pending = self._partial.pop(thread, "") + text
            *lines, rest = pending.split("\n")
            if rest:
                self._partial[thread] = rest
        for line in lines:
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        # Unfinished lines stay buffered: logging's StreamHandler flushes after every record, and
        # that must not cut another thread's line in two.
        with self._lock:
            self._log.flush()
            self._metrics_log.flush()
            if self._passthrough is not None:
                self._passthrough.flush()

    def close(self) -> None:
        """Emit every thread's unfinished line and flush; `log` and `passthrough` stay open."""
        if self.closed:
            return
        with self._lock:
            pending = list(self._partial.values())
            self._partial.clear()
        for line in pending:
            self._emit(line)
        self.flush()
        super().close()

    def _emit(self, line: str) -> None:
        points = parse_emf(line)
        for point in points:
            self._sink.record(
                point.namespace, point.name, point.value, point.unit, dict(point.dimensions), point.timestamp
            )
        with self._lock:
            (self._metrics_log if points else self._log).write(line + "\n")
            if self._passthrough is not None and not points:
                self._passthrough.write(line + "\n")
