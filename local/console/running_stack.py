"""What the control API and the console (local/console/control.py, local/console/) read of the running local stack and
ask
of it. The runtime (local/stack/runtime.py) is one and starts the control server with itself; declaring it here, below
both, keeps the imports one way (runtime → control → this) and lets tests serve the API over a fake."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from core.config import Config
from local.deploying.deploy import LocalStack
from local.services.alarm_evaluator import AlarmEvaluator
from local.services.chaos import Chaos
from local.services.clock import LocalClock
from local.services.gateway.usage_plans import UsagePlans
from local.services.notifications import DigestLog
from local.services.schedule import RateSchedule
from local.state import StatePaths


@dataclass
class AlarmTransition:
    alarm: str
    tier: str
    old: str
    new: str
    time: float
    reason: str = ""
    clock_time: float | None = None  # the local clock's reading (business hours), when it is moved


class RunningStack(Protocol):
    """The running stack as the control API and the console see it: LocalRuntime, or a test's fake."""

    @property
    def config(self) -> Config: ...

    @property
    def paths(self) -> StatePaths: ...

    @property
    def stack(self) -> LocalStack | None: ...  # None until the template is deployed

    @property
    def started_at(self) -> float: ...  # epoch seconds: where graphs begin

    @property
    def transitions(self) -> Sequence[AlarmTransition]: ...

    @property
    def evaluator(self) -> AlarmEvaluator | None: ...

    @property
    def chaos(self) -> Chaos: ...

    @property
    def clock(self) -> LocalClock: ...  # the notifier's business hours (POST /clock)

    @property
    def canary(self) -> RateSchedule | None: ...  # None when the environment runs no canary

    @property
    def usage_plans(self) -> UsagePlans | None: ...  # the local gateway's keys and usage; None until it starts

    @property
    def digests(self) -> DigestLog | None: ...

    def say(self, message: str) -> None: ...

    def status(self) -> dict[str, Any]: ...

    def alarm_tiers(self) -> dict[str, str]: ...

    def metric_history(self, start: float, end: float) -> dict[str, Any]: ...

    def request_stop(self) -> None: ...
