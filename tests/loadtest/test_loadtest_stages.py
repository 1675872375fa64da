"""Per-stage statistics from Locust's cumulative totals, and the knee."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from locust.stats import calculate_response_time_percentile

from loadtest.knee import find_knee
from loadtest.profiles import Slo
from loadtest.stages import Snapshot, StageRecorder, StageStats, between, percentile, read_stages

SLO = Slo(p99_ms=500, error_ratio=0.01)


@pytest.mark.parametrize("seed", range(5))
def test_percentile_follows_locusts_rule(seed: int) -> None:
    # GIVEN a random histogram of response times
    rng = random.Random(seed)
    histogram = {rng.randrange(1, 2000): rng.randrange(1, 50) for _ in range(200)}
    total = sum(histogram.values())
    # THEN our percentile is Locust's
    for share in (0.5, 0.9, 0.99):
        assert percentile(histogram, share) == calculate_response_time_percentile(histogram, total, share)


def test_percentile_of_nothing_is_zero() -> None:
    assert percentile({}, 0.99) == 0.0


def test_between_takes_the_difference_of_two_snapshots() -> None:
    # GIVEN 100 fast requests before a stage and 100 slow ones (2 failed) during it
    start = Snapshot(10.0, 100, 0, {10: 100})
    end = Snapshot(20.0, 200, 2, {10: 100, 900: 100})
    # WHEN the stage's statistics are taken
    stats = between(3, 40, start, end)
    # THEN only the stage's own requests count
    assert (stats.requests, stats.failures, stats.p50_ms, stats.p99_ms) == (100, 2, 900.0, 900.0)
    assert stats.rps == pytest.approx(10.0)
    assert stats.error_ratio == pytest.approx(0.02)
    assert stats.breaks(SLO)


@dataclass
class FakeTotal:
    num_requests: int = 0
    num_failures: int = 0
    response_times: dict[int, int] = field(default_factory=dict)


def test_recorder_keeps_each_finished_stage_and_says_which_broke_the_slo(tmp_path) -> None:
    # GIVEN a recorder over a fake Locust total
    total = FakeTotal()
    recorder = StageRecorder(lambda: total, users_of=lambda index: (index + 1) * 10, slo=SLO)
    # WHEN stage 0 runs fast, stage 1 slow, then the run stops
    recorder.on_stage_change(None, 0, 0.0)
    total.num_requests, total.response_times = 100, {20: 100}
    recorder.on_stage_change(0, 1, 10.0)
    total.num_requests, total.response_times = 200, {20: 100, 800: 100}
    recorder.on_stage_change(1, None, 20.0)
    recorder.finish(20.5)  # the stop after the end: nothing open, nothing added
    # THEN there are two stages; only stage 1 broke the SLO
    assert [(stage.index, stage.users, stage.requests) for stage in recorder.stages] == [(0, 10, 100), (1, 20, 100)]
    assert not recorder.breached(0)
    assert recorder.breached(1)
    # AND they survive a round trip through stages.json
    recorder.write(tmp_path / "stages.json")
    assert read_stages(tmp_path / "stages.json") == recorder.stages


def test_a_stage_opened_by_the_stop_itself_is_dropped() -> None:
    total = FakeTotal()
    recorder = StageRecorder(lambda: total, users_of=lambda index: 1, slo=SLO)
    recorder.on_stage_change(None, 0, 0.0)
    recorder.on_stage_change(0, 1, 10.0)
    recorder.finish(10.2)
    assert [stage.index for stage in recorder.stages] == [0]


def test_read_stages_of_a_missing_file_is_empty(tmp_path) -> None:
    assert read_stages(tmp_path / "nope.json") == []


def stage(index: int, rps: float, p99: float = 100, failures: int = 0) -> StageStats:
    requests = int(rps * 10)
    return StageStats(index, index * 10.0, index * 10.0 + 10, (index + 1) * 10, requests, failures, 50, p99)


def test_the_knee_is_the_last_good_stage_before_the_first_bad_one() -> None:
    # GIVEN stages whose p99 crosses the SLO at the third
    stages = [stage(0, 20), stage(1, 40), stage(2, 55, p99=900), stage(3, 50)]
    # WHEN the knee is found
    knee = find_knee(stages, SLO)
    # THEN it is the second stage's throughput, and the third is named as the breaker
    assert knee.rps == pytest.approx(40)
    assert knee.reached and knee.first_bad is stages[2]
    assert "p99 900 ms > 500 ms" in knee.describe()


def test_errors_break_the_slo_too() -> None:
    knee = find_knee([stage(0, 20), stage(1, 40, failures=20)], SLO)
    assert knee.rps == pytest.approx(20)
    assert "error ratio 5.00% > 1.00%" in knee.why


def test_no_knee_when_the_first_stage_already_breaks() -> None:
    knee = find_knee([stage(0, 20, p99=900)], SLO)
    assert knee.rps is None and knee.reached
    assert knee.describe().startswith("no knee")


def test_knee_not_reached_when_every_stage_holds() -> None:
    knee = find_knee([stage(0, 20), stage(1, 40)], SLO)
    assert (knee.rps, knee.reached) == (pytest.approx(40), False)
    assert "not reached" in knee.describe()


def test_knee_of_no_stages() -> None:
    knee = find_knee([], SLO)
    assert knee.rps is None and not knee.reached
    assert knee.describe() == "no stage finished"
