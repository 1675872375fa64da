"""The knee of a step run: the throughput of the last stage before the first one that broke the SLO."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loadtest.profiles import Slo
from loadtest.stages import StageStats


@dataclass(frozen=True)
class Knee:
    rps: float | None  # None: even the first stage broke the SLO
    reached: bool  # False: no stage broke the SLO, capacity is at least `rps`
    last_good: StageStats | None
    first_bad: StageStats | None
    why: str

    def describe(self) -> str:
        if self.rps is None:
            return f"no knee: the first stage already broke the SLO ({self.why})" if self.reached else self.why
        if not self.reached:
            return f"not reached: held the SLO up to {self.rps:.1f} req/s (the highest stage run)"
        return f"{self.rps:.1f} req/s (next stage broke the SLO: {self.why})"


def _why(stage: StageStats, slo: Slo) -> str:
    reasons = []
    if stage.p99_ms > slo.p99_ms:
        reasons.append(f"p99 {stage.p99_ms:.0f} ms > {slo.p99_ms:.0f} ms")
    if stage.error_ratio > slo.error_ratio:
        reasons.append(f"error ratio {stage.error_ratio:.2%} > {slo.error_ratio:.2%}")
    return f"stage {stage.index + 1} at {stage.users} users, {stage.rps:.1f} req/s: " + ", ".join(reasons)


def find_knee(stages: Sequence[StageStats], slo: Slo) -> Knee:
    """Walk the stages in order; the first that breaks the SLO ends the search."""
    last_good: StageStats | None = None
    for stage in stages:
        if stage.breaks(slo):
            return Knee(last_good.rps if last_good else None, True, last_good, stage, _why(stage, slo))
        last_good = stage
    if last_good is None:
        return Knee(None, False, None, None, "no stage finished")
    return Knee(last_good.rps, False, last_good, None, "no stage broke the SLO")
