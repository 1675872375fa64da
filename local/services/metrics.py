"""The AWS/* metrics moto never publishes, and our EMF metrics, published to moto's CloudWatch.

Producers record datapoints into one thread-safe `MetricSink`:
- the local gateway (AWS/ApiGateway) and the LocalFunctions (AWS/Lambda) record directly;
- `SqsObserver` (local/services/sqs_metrics.py) and `DynamoDbObserver` (local/services/dynamodb_metrics.py) hook
  botocore clients
  (the handlers' and the pollers') and record what the services would count (AWS/SQS, AWS/DynamoDB);
- `QueueSampler` (local/services/sqs_metrics.py) samples queue depth and the age of the oldest message;
- `EmfCapture` (local/services/emf.py) tees stdout and turns the handlers' embedded-metric-format lines into datapoints.

`Publisher` periodically aggregates the sink into one StatisticSet per (metric, dimensions, time
bucket) and sends it with PutMetricData: moto stores every datum and scans them all on each read, so
publishing aggregates keeps reads fast.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.client import BaseClient

log = logging.getLogger(__name__)

Dimensions = tuple[tuple[str, str], ...]

# Bounds memory if nothing drains the sink (no publisher running): the oldest datapoints go first.
MAX_BUFFERED_DATAPOINTS = 500_000
PUT_METRIC_DATA_MAX_DATUMS = 1000


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
