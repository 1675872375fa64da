"""Per-stage statistics: the difference of Locust's cumulative totals at the stage's two ends.

Locust keeps one cumulative histogram of response times (milliseconds, rounded → count); snapshotting
it when a stage starts and ends gives that stage's own p50/p99 and error ratio exactly, without the
sliding window of the "current" percentiles. In distributed runs the master's totals lag the workers by
one report interval (a few seconds), which shifts both ends of every stage alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from loadtest.profiles import Slo

STAGES_FILE = "stages.json"
MIN_STAGE_SECONDS = 1.0  # a stage opened by the stop itself has no duration: not a stage


class StatsTotal(Protocol):
    """What we read of Locust's `StatsEntry` (runner.stats.total)."""

    num_requests: int
    num_failures: int
    response_times: dict[int, int]


@dataclass(frozen=True)
class Snapshot:
    run_time: float
    requests: int
    failures: int
    response_times: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StageStats:
    index: int
    start: float  # run time, seconds
    end: float
    users: int
    requests: int
    failures: int
    p50_ms: float
    p99_ms: float

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 1e-9)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def error_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def breaks(self, slo: Slo) -> bool:
        return self.p99_ms > slo.p99_ms or self.error_ratio > slo.error_ratio

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "rps": round(self.rps, 2),
            "error_ratio": round(self.error_ratio, 4),
        }


def percentile(histogram: Mapping[int, int], share: float) -> float:
    """Locust's percentile rule: the smallest bucket with at most (1 - share) of requests above it."""
    total = sum(histogram.values())
    if total == 0:
        return 0.0
    allowed_above = int(total * share)
    counted = 0
    for bucket in sorted(histogram, reverse=True):
        counted += histogram[bucket]
        if total - counted <= allowed_above:
            return float(bucket)
    return 0.0


def between(index: int, users: int, start: Snapshot, end: Snapshot) -> StageStats:
    """The statistics of what happened between two snapshots."""
    histogram = {
        bucket: count - start.response_times.get(bucket, 0)
        for bucket, count in end.response_times.items()
        if count - start.response_times.get(bucket, 0) > 0
    }
    return StageStats(
        index=index,
        start=round(start.run_time, 3),
        end=round(end.run_time, 3),
        users=users,
        requests=end.requests - start.requests,
        failures=end.failures - start.failures,
        p50_ms=percentile(histogram, 0.5),
        p99_ms=percentile(histogram, 0.99),
    )


class StageRecorder:
    """Listens to a shape's stage changes and keeps each finished stage's statistics."""

    def __init__(self, total: Callable[[], StatsTotal], users_of: Callable[[int], int], slo: Slo) -> None:
        self._total = total
        self._users_of = users_of
        self.slo = slo
        self._open: tuple[int, Snapshot] | None = None
        self.stages: list[StageStats] = []

    def _snapshot(self, run_time: float) -> Snapshot:
        total = self._total()
        return Snapshot(run_time, total.num_requests, total.num_failures, dict(total.response_times))

    def on_stage_change(self, ended: int | None, started: int | None, run_time: float) -> None:
        snapshot = self._snapshot(run_time)
        self._close(snapshot)
        self._open = (started, snapshot) if started is not None else None

    def finish(self, run_time: float) -> None:
        self._close(self._snapshot(run_time))
        self._open = None

    def _close(self, snapshot: Snapshot) -> None:
        if self._open is None:
            return
        index, start = self._open
        self._open = None
        if snapshot.run_time - start.run_time >= MIN_STAGE_SECONDS:
            self.stages.append(between(index, self._users_of(index), start, snapshot))

    def breached(self, index: int) -> bool:
        """Whether the finished stage `index` broke the SLO (the step shape's stop condition)."""
        return any(stage.index == index and stage.breaks(self.slo) for stage in self.stages)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps([stage.to_dict() for stage in self.stages], indent=2) + "\n", encoding="utf-8")


def read_stages(path: Path) -> list[StageStats]:
    """The stages a run wrote; empty when the file is missing (e.g. the run never started)."""
    try:
        rows: Sequence[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return []
    names = StageStats.__dataclass_fields__
    return [StageStats(**{key: value for key, value in row.items() if key in names}) for row in rows]
