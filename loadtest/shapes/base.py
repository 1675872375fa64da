"""Stages as data, and the LoadTestShape that plays them.

A shape file holds a table of rows `(end, users, ramp_seconds)`: `end` and `users` are shares of the
run's duration and user count (so `--duration` and `--users` scale a shape without changing it), and
`ramp_seconds` is how long reaching the row's user count may take (0: all at once).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from locust import LoadTestShape

StageRow = tuple[float, float, float]
StageListener = Callable[[int | None, int | None, float], None]
"""Called as (stage that ended or None, stage that starts or None at the end, run time in seconds)."""


@dataclass(frozen=True)
class Stage:
    until: float  # seconds since the start at which the stage ends
    users: int
    spawn_rate: float  # users started (or stopped) per second


@dataclass(frozen=True)
class ShapeParams:
    users: int
    duration: float


def scale(rows: Sequence[StageRow], params: ShapeParams) -> tuple[Stage, ...]:
    """A shape's table of shares turned into stages for `params`."""
    stages = []
    previous = 0
    for end, share, ramp_seconds in rows:
        users = max(1, round(share * params.users))
        delta = abs(users - previous) or users
        spawn_rate = float(max(1.0, delta / ramp_seconds)) if ramp_seconds > 0 else float(max(1, delta))
        stages.append(Stage(until=round(end * params.duration, 3), users=users, spawn_rate=spawn_rate))
        previous = users
    return tuple(stages)


def stage_at(stages: Sequence[Stage], run_time: float) -> int | None:
    """The index of the stage running at `run_time`, None once the last has ended."""
    for index, stage in enumerate(stages):
        if run_time < stage.until:
            return index
    return None


class StagedShape(LoadTestShape):
    """Plays `ROWS` for the run's users and duration; stage changes go to `stage_listeners`."""

    abstract = True
    ROWS: ClassVar[tuple[StageRow, ...]] = ()
    DEFAULT_USERS: ClassVar[int] = 1
    DEFAULT_DURATION: ClassVar[float] = 10.0
    # The step shape stops at the first stage that breaks the SLO: ramping further only measures a
    # broken system.
    stop_when_slo_broken: ClassVar[bool] = False

    def __init__(self, params: ShapeParams | None = None, clock: Callable[[], float] | None = None) -> None:
        super().__init__()
        self._params = params
        self._clock = clock
        self._stages: tuple[Stage, ...] | None = None
        self._index: int | None = None
        self._started = False
        self._stopped = False
        self.stage_listeners: list[StageListener] = []
        self.stop_condition: Callable[[int], bool] | None = None  # gets the stage that just ended

    @property
    def params(self) -> ShapeParams:
        if self._params is None:
            self._params = self._params_from_options()
        return self._params

    @property
    def stages(self) -> tuple[Stage, ...]:
        if self._stages is None:
            self._stages = scale(self.ROWS, self.params)
        return self._stages

    def _params_from_options(self) -> ShapeParams:
        options: Any = self.runner.environment.parsed_options if self.runner is not None else None
        users = getattr(options, "sluice_users", None) or self.DEFAULT_USERS
        duration = getattr(options, "sluice_duration", None) or self.DEFAULT_DURATION
        return ShapeParams(users=int(users), duration=float(duration))

    def get_run_time(self) -> float:
        if self._clock is not None:
            return self._clock() - self.start_time
        return super().get_run_time()

    def reset_time(self) -> None:
        self.start_time = self._clock() if self._clock is not None else time.perf_counter()

    def tick(self) -> tuple[int, float] | None:
        if self._stopped:
            return None
        run_time = self.get_run_time()
        index = stage_at(self.stages, run_time)
        if index != self._index or not self._started:
            ended = self._index if self._started else None
            self._index, self._started = index, True
            for listener in self.stage_listeners:
                listener(ended, index, run_time)
            if ended is not None and self.stop_when_slo_broken and self.stop_condition and self.stop_condition(ended):
                self._stopped = True
                for listener in self.stage_listeners:  # the stage just begun ends at once: not a stage
                    listener(index, None, run_time)
                return None
        if index is None:
            self._stopped = True
            return None
        stage = self.stages[index]
        return stage.users, stage.spawn_rate
