"""The notifier's schedule, locally: the template's EventBridge Scheduler schedule fires at the start
of business hours in the configured time zone; moto runs no schedules, so this thread does."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cloudformation.functions import NOTIFIER_SCHEDULE_INPUT, SCHEDULED_TIME_ATTRIBUTE
from core.config import NotificationsConfig
from functions.common.contract import WEEKDAYS
from local.services.lambdas import Invoker

log = logging.getLogger(__name__)


def next_start(settings: NotificationsConfig, after: datetime) -> datetime:
    """The next start of business hours strictly after `after` (aware datetime), in UTC."""
    zone = ZoneInfo(settings.business_timezone)
    hour, minute = (int(part) for part in settings.business_hours.split("-")[0].split(":"))
    local = after.astimezone(zone)
    for days_ahead in range(8):
        day = (local + timedelta(days=days_ahead)).date()
        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
        if WEEKDAYS[candidate.weekday()] in settings.business_days and candidate > local:
            return candidate.astimezone(UTC)
    raise ValueError("no business day in the week")  # config validation makes this unreachable


def scheduled_event(at: datetime) -> dict:
    """What EventBridge Scheduler delivers for the template's schedule due `at`: its explicit Input, with
    the context attribute <aws.scheduler.scheduled-time> replaced by that time."""
    text = json.dumps(NOTIFIER_SCHEDULE_INPUT).replace(
        SCHEDULED_TIME_ATTRIBUTE, at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    return json.loads(text)


class BusinessHoursSchedule:
    """Invokes the notifier with the schedule's event whenever `clock` passes the next start of business
    hours. `clock` may jump (local/services/clock.py): set back, the next start is reckoned from the new time; set
    forward past a start, that start fires once."""

    def __init__(
        self,
        settings: NotificationsConfig,
        target: Invoker,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_seconds: float = 1.0,
    ) -> None:
        self._settings = settings
        self._target = target
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="notifier-schedule", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        previous = self._clock()
        due = next_start(self._settings, previous)
        while not self._stop.wait(self._poll_seconds):
            now = self._clock()
            if now < previous:
                due = next_start(self._settings, now)
            elif now >= due:
                with contextlib.suppress(Exception):  # the function logs its own failure
                    self._target.invoke(scheduled_event(due))
                due = next_start(self._settings, now)
            previous = now


class RateSchedule:
    """A `rate(...)` schedule, locally: invokes `target` with `event` (the schedule's Input, which Scheduler
    delivers as the whole event) every `interval_seconds`, one run at a time — a run that outlasts the
    interval delays the next, as the template's no-retry, one-minute-age policy would drop it on AWS."""

    def __init__(self, name: str, interval_seconds: float, target: Invoker, event: dict) -> None:
        self._name = name
        self._interval = interval_seconds
        self._target = target
        self._event = event
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._running = threading.Lock()  # held while a run is in progress
        self._thread: threading.Thread | None = None

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def pause(self) -> None:
        """No new run starts; returns once the run in progress (if any) has ended. For tests that need a stack
        with no traffic but their own (e.g. "the function never ran")."""
        self._paused.set()
        with self._running:
            pass

    def resume(self) -> None:
        self._paused.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"{self._name}-schedule", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            with self._running:
                if not self._paused.is_set():
                    with contextlib.suppress(Exception):  # the function logs its own failure; Lambda counts it
                        self._target.invoke(dict(self._event))
            self._stop.wait(max(0.0, self._interval - (time.monotonic() - started)))
