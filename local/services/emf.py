"""The handlers' embedded-metric-format lines: stdout is teed, and each EMF line becomes datapoints in the sink."""

from __future__ import annotations

import io
import json
import threading
import time
from typing import TextIO

from local.services.metrics import Datapoint, MetricSink


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
