"""One PNG of a run: throughput, latency and queue depth over time (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, safe in threads and CI
import matplotlib.pyplot as plt

from loadtest.record import RunRecord

WIDTH_INCHES, HEIGHT_INCHES, DPI = 10, 8, 100


def plot_run(record: RunRecord, path: Path) -> None:
    start = record.started
    figure, (throughput, latency, depth) = plt.subplots(3, 1, sharex=True, figsize=(WIDTH_INCHES, HEIGHT_INCHES))
    try:
        history = record.history
        seconds = [point.time - start for point in history]
        throughput.plot(seconds, [point.rps for point in history], label="requests/s")
        throughput.plot(seconds, [point.failures_per_second for point in history], label="failures/s", color="red")
        throughput.set_ylabel("per second")
        latency.plot(seconds, [point.p50_ms for point in history], label="p50")
        latency.plot(seconds, [point.p99_ms for point in history], label="p99")
        latency.axhline(record.slo.p99_ms, color="grey", linestyle="--", label="SLO p99")
        latency.set_ylabel("ms")
        samples = record.depth
        sample_seconds = [sample.time - start for sample in samples]
        depth.plot(sample_seconds, [sample.visible for sample in samples], label="queue visible")
        depth.plot(sample_seconds, [sample.in_flight for sample in samples], label="queue in flight")
        depth.plot(sample_seconds, [sample.dlq_visible for sample in samples], label="DLQ visible", color="red")
        depth.set_ylabel("messages")
        depth.set_xlabel("seconds since the load started")
        for axes in (throughput, latency, depth):
            axes.axvline(record.ended - start, color="black", linewidth=0.8, linestyle=":")
            if record.fault_window:
                begin, end = record.fault_window
                axes.axvspan(begin - start, end - start, color="orange", alpha=0.15)
            axes.grid(True, alpha=0.3)
            axes.legend(loc="upper right", fontsize="small")
        fault = f", fault {record.scenario.fault.name} shaded" if record.scenario.fault else ""
        throughput.set_title(f"{record.scenario.name} on {record.target} (load ends at the dotted line{fault})")
        figure.tight_layout()
        figure.savefig(path, dpi=DPI)
    finally:
        plt.close(figure)
