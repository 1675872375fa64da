"""Queue depth sampled every second in a background thread, for the plot and the report."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from loadtest.stack import QueueDepth

SAMPLE_SECONDS = 1.0


@dataclass(frozen=True)
class DepthSample:
    time: float  # epoch seconds
    visible: int
    in_flight: int
    dlq_visible: int
    dlq_in_flight: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


class DepthSampler:
    """`start()` … `stop()`; a failed sample (the stack busy or restarting) is skipped, not fatal."""

    def __init__(self, depth: Callable[[], QueueDepth], interval: float = SAMPLE_SECONDS) -> None:
        self._depth = depth
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.samples: list[DepthSample] = []
        self.errors = 0
        self.latest: QueueDepth | None = None

    def start(self) -> DepthSampler:
        self._thread = threading.Thread(target=self._run, name="depth-sampler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                depth = self._depth()
            except Exception:  # a sampler must outlive a flaky stack: count the miss, go on
                self.errors += 1
            else:
                self.latest = depth
                self.samples.append(
                    DepthSample(time.time(), depth.visible, depth.in_flight, depth.dlq_visible, depth.dlq_in_flight)
                )
            self._stop.wait(max(0.0, self._interval - (time.monotonic() - started)))

    def stop(self) -> list[DepthSample]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        return self.samples
