"""A window of metric data in moto's CloudWatch, instead of all of it for the life of the server.

moto appends every PutMetricData datum to one list (`CloudWatchBackend.metric_data`) and never drops one, so
a local stack grows by what its metrics publisher sends (~3 MiB a minute at 50 events/s: ~320 series, a datum
per active series every 2 s, ~4.8 KB each in moto) and every read scans them all. CloudWatch keeps data points with a
period below 60 seconds — all the local stack publishes (local/services/metrics.py) — for 3 hours; the local stack's
moto server keeps the last RETENTION_ENV seconds (default DEFAULT_RETENTION_SECONDS), dropping older datums
at most once every PRUNE_INTERVAL_SECONDS.

What the local readers ask for, at most (tests/local/test_metrics_retention.py checks the first two):
- the dashboards and the console: 3 hours (local/console/dashboard_data.py), the default window;
- the alarm evaluator: the local alarms' longest look-back, 720 s (the error budget's slow-burn long window,
  a share of the `local` environment's 2-hour objective window), under the smallest window allowed;
- `invoke load`'s recording for `invoke alarms.backtest --run`: the run and that look-back, so a local run
  longer than the window minus 720 s is recorded from its later part only.
The local clock (local/services/clock.py) moves business hours only: metric timestamps and reads stay in real time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.cloudwatch.models import CloudWatchBackend
from moto.core.utils import utcnow

RETENTION_ENV = "SLUICE_METRICS_RETENTION_SECONDS"
DEFAULT_RETENTION_SECONDS = 3 * 3600
MINIMUM_RETENTION_SECONDS = 900  # the local alarms' longest look-back (720 s) and a 3-minute margin
PRUNE_INTERVAL_SECONDS = 60


class RetentionError(ValueError):
    """The window in the environment is not a whole number of seconds within bounds; the message is one line."""


def retention_seconds(environment: Mapping[str, str]) -> int:
    """The window `environment` sets, or the default when it sets none."""
    text = environment.get(RETENTION_ENV, "").strip()
    if not text:
        return DEFAULT_RETENTION_SECONDS
    if not (text.isascii() and text.isdigit()) or int(text) < MINIMUM_RETENTION_SECONDS:
        raise RetentionError(
            f"{RETENTION_ENV}: expected a whole number of seconds, at least {MINIMUM_RETENTION_SECONDS}, got {text!r}"
        )
    return int(text)


def _naive_utc(moment: datetime) -> datetime:
    """moto stores naive UTC datetimes; an aware one is brought to that form before comparing."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


class Pruner:
    """Drops the datums older than the window from a backend, at most once every `interval` seconds."""

    def __init__(self, seconds: int, interval: float = PRUNE_INTERVAL_SECONDS) -> None:
        self.window = timedelta(seconds=seconds)
        self._interval = interval
        self._last: dict[int, float] = {}  # backend id -> monotonic time of its last pruning

    def prune(self, backend: CloudWatchBackend, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last.get(id(backend), float("-inf")) < self._interval:
            return
        self._last[id(backend)] = now
        cutoff = utcnow() - self.window
        # A new list: a read iterating the old one meanwhile is not disturbed.
        backend.metric_data = [datum for datum in backend.metric_data if _naive_utc(datum.timestamp) >= cutoff]


_put_metric_data = CloudWatchBackend.put_metric_data


def keep_metrics_for(seconds: int) -> Pruner:
    """From now on every CloudWatch backend keeps `seconds` of metric data (by each datum's timestamp)."""
    pruner = Pruner(seconds)
    lock = threading.Lock()  # a put and a pruning of the same list never interleave

    def put_metric_data(self: CloudWatchBackend, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        with lock:
            _put_metric_data(self, namespace, metric_data)
            pruner.prune(self)

    CloudWatchBackend.put_metric_data = put_metric_data  # type: ignore[method-assign]
    return pruner
