"""The local stack's clock for business hours: real time, or real time shifted to a moment an operator or
a test set through the control API (`POST /clock`), so the held-notification digest can be seen end to end
at any hour, and a usage plan's quota period reset. Only the notifier, its schedule and the usage plans' quota periods
(local/services/gateway/usage_plans.py) read it; everything else keeps real time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class LocalClock:
    def __init__(self, real: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._real = real
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return self._real() + self._offset

    def set(self, moment: datetime | None) -> None:
        """From now on the clock reads `moment` and runs on from there; None: back to real time."""
        self._offset = timedelta(0) if moment is None else moment - self._real()

    @property
    def shifted(self) -> bool:
        return self._offset != timedelta(0)
