"""Shapes: each file's stage table, and what tick() returns over time."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from loadtest.shapes.base import ShapeParams, Stage, StagedShape, scale, stage_at
from loadtest.shapes.smoke import SmokeShape
from loadtest.shapes.soak import SoakShape
from loadtest.shapes.spike import SpikeShape
from loadtest.shapes.steady import SteadyShape
from loadtest.shapes.step import StepShape


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def started(shape_class: type[StagedShape], users: int, duration: float) -> tuple[StagedShape, FakeClock]:
    clock = FakeClock()
    shape = shape_class(ShapeParams(users=users, duration=duration), clock=clock)
    shape.reset_time()
    return shape, clock


def ticks(shape: StagedShape, clock: FakeClock, times: list[float]) -> list[tuple[int, float] | None]:
    results = []
    for at in times:
        clock.now = 1000.0 + at
        results.append(shape.tick())
    return results


def test_smoke_runs_every_user_at_once_for_the_whole_duration() -> None:
    # GIVEN the smoke shape for 4 users and 10 s
    shape, clock = started(SmokeShape, users=4, duration=10)
    # WHEN it ticks through the run and past its end
    # THEN all 4 users start at once and the run stops at 10 s
    assert ticks(shape, clock, [0, 5, 9.9, 10]) == [(4, 4.0), (4, 4.0), (4, 4.0), None]


def test_steady_ramps_within_five_seconds_then_holds() -> None:
    shape, clock = started(SteadyShape, users=10, duration=60)
    assert shape.stages == (Stage(until=60.0, users=10, spawn_rate=2.0),)
    assert ticks(shape, clock, [0, 30, 59, 60]) == [(10, 2.0), (10, 2.0), (10, 2.0), None]


def test_step_climbs_six_equal_steps() -> None:
    # GIVEN the step shape for 60 users over 60 s
    shape, clock = started(StepShape, users=60, duration=60)
    # THEN each 10-second step adds 10 users, reached within 2 s
    assert [stage.users for stage in shape.stages] == [10, 20, 30, 40, 50, 60]
    assert [stage.until for stage in shape.stages] == [10, 20, 30, 40, 50, 60]
    assert {stage.spawn_rate for stage in shape.stages} == {5.0}
    assert ticks(shape, clock, [0, 10, 25, 59, 61]) == [(10, 5.0), (20, 5.0), (30, 5.0), (60, 5.0), None]


def test_step_stops_at_the_first_stage_that_breaks_the_slo() -> None:
    # GIVEN a step run whose stop condition says stage 1 (the second) broke the SLO
    shape, clock = started(StepShape, users=60, duration=60)
    shape.stop_condition = lambda ended: ended == 1
    # WHEN it ticks past the end of stage 1
    results = ticks(shape, clock, [0, 10, 20, 25])
    # THEN it stops there, and stays stopped
    assert results == [(10, 5.0), (20, 5.0), None, None]


def test_a_stopped_step_tells_its_listeners_that_nothing_runs_any_more() -> None:
    shape, clock = started(StepShape, users=60, duration=60)
    heard: list[tuple[int | None, int | None]] = []
    shape.stage_listeners.append(lambda ended, begun, run_time: heard.append((ended, begun)))
    shape.stop_condition = lambda ended: ended == 0
    ticks(shape, clock, [0, 10, 11])
    assert heard == [(None, 0), (0, 1), (1, None)]


def test_the_other_shapes_ignore_the_stop_condition() -> None:
    shape, clock = started(SteadyShape, users=10, duration=20)
    shape.stop_condition = lambda ended: True
    assert ticks(shape, clock, [0, 19]) == [(10, 2.0), (10, 2.0)]


def test_spike_jumps_to_every_user_within_a_second_and_back() -> None:
    shape, clock = started(SpikeShape, users=50, duration=100)
    assert shape.stages == (
        Stage(until=30.0, users=10, spawn_rate=5.0),
        Stage(until=50.0, users=50, spawn_rate=40.0),
        Stage(until=100.0, users=10, spawn_rate=40.0),
    )
    assert ticks(shape, clock, [1, 31, 51, 100]) == [(10, 5.0), (50, 40.0), (10, 40.0), None]


def test_soak_holds_for_its_duration_parameter() -> None:
    shape, clock = started(SoakShape, users=20, duration=600)
    assert ticks(shape, clock, [0, 599, 600]) == [(20, 1.0), (20, 1.0), None]


def test_stage_listeners_hear_every_change_including_the_end() -> None:
    # GIVEN a step shape with a listener
    shape, clock = started(StepShape, users=12, duration=12)
    heard: list[tuple[int | None, int | None]] = []
    shape.stage_listeners.append(lambda ended, begun, run_time: heard.append((ended, begun)))
    # WHEN it runs through all its stages
    ticks(shape, clock, [0, 1, 2, 7, 12])
    # THEN the listener hears the start, each change once, and the end
    assert heard == [(None, 0), (0, 1), (1, 3), (3, None)]


def test_defaults_come_from_the_locust_options_or_the_shape() -> None:
    # GIVEN a shape created by Locust (no params), with a runner whose options set only the users
    shape = SteadyShape()
    shape.runner = SimpleNamespace(environment=SimpleNamespace(parsed_options=SimpleNamespace(sluice_users=7)))
    # THEN users come from the options and the duration is the shape's default
    assert shape.params == ShapeParams(users=7, duration=SteadyShape.DEFAULT_DURATION)


@pytest.mark.parametrize(("run_time", "index"), [(0, 0), (9.99, 0), (10, 1), (19.99, 1), (20, None)])
def test_stage_at(run_time: float, index: int | None) -> None:
    stages = scale(((0.5, 1.0, 0.0), (1.0, 1.0, 0.0)), ShapeParams(users=2, duration=20))
    assert stage_at(stages, run_time) == index


def test_scale_never_goes_below_one_user() -> None:
    assert scale(((1.0, 0.01, 0.0),), ShapeParams(users=3, duration=10))[0].users == 1
