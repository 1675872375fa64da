"""The canary's rate schedule, locally: the schedule's Input every interval, one run at a time, pausable."""

from __future__ import annotations

import threading
from typing import Any

from local.services.schedule import RateSchedule

TIMEOUT = 10.0


class Recorder:
    """A function that records each event and can hold a run until released."""

    name = "recorder"

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.ran = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def invoke(self, event: Any) -> Any:
        self.events.append(event)
        self.ran.set()
        self.release.wait(TIMEOUT)
        return None


def test_each_run_gets_the_schedules_input_and_a_pause_waits_for_the_run_in_progress():
    # GIVEN a schedule running a function whose run is held in progress
    target = Recorder()
    target.release.clear()
    schedule = RateSchedule("test", 0.01, target, {"source": "sluice.canary", "action": "probe"})
    schedule.start()
    try:
        assert target.ran.wait(TIMEOUT)
        # WHEN it is paused while the run is in progress
        paused = threading.Thread(target=schedule.pause)
        paused.start()
        paused.join(0.2)
        # THEN the pause waits for that run to end
        assert paused.is_alive()
        target.release.set()
        paused.join(TIMEOUT)
        assert not paused.is_alive() and schedule.paused
        # AND no run starts while paused
        runs = len(target.events)
        target.ran.clear()
        assert not target.ran.wait(0.2)
        assert len(target.events) == runs
        # WHEN resumed THEN runs start again, each with the Input as its whole event
        schedule.resume()
        assert target.ran.wait(TIMEOUT)
        assert target.events[-1] == {"source": "sluice.canary", "action": "probe"}
    finally:
        schedule.stop()
