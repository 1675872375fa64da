"""A scenario starts from a known alarm state: every alarm it judges out of ALARM.

A scenario judges alarms by their transitions during the run ("fired", "stayed OK"). An alarm still in ALARM
from the run before (smoke leaves the 4XX alarm firing for a few periods) cannot fire again, and one that
stays in ALARM makes no transition at all: either way the verdict would be about the earlier run. So before
the load starts, wait — bounded, with progress — until the judged alarms are out of ALARM, or refuse with a
message that names them.
"""

from __future__ import annotations

from collections.abc import Callable

from loadtest.alarm_rows import resolve
from loadtest.errors import LoadTestError
from loadtest.scenarios import Scenario
from loadtest.waits import wait_with_progress
from ops.progress import ProgressLine

ALARM = "ALARM"
CLEAR_TIMEOUT_SECONDS = 120.0  # local alarms clear within a few 10-second periods; AWS's take minutes


def judged_alarms(scenario: Scenario, alarm_names: list[str]) -> set[str]:
    """Every alarm the scenario's expectations name: must fire, must stay OK (or every other)."""
    rows = sorted(scenario.expectations.must_fire | scenario.expectations.must_stay_ok)
    return {name for names in resolve(rows, alarm_names).values() for name in names}


def wait_for_known_start(
    scenario: Scenario,
    at_first: dict[str, str],
    states: Callable[[], dict[str, str]],
    progress: ProgressLine,
    timeout: float = CLEAR_TIMEOUT_SECONDS,
    poll: float = 2.0,
) -> dict[str, str]:
    """From the states `at_first`, wait until no judged alarm is in ALARM; the states then.
    LoadTestError after `timeout`."""
    judged = judged_alarms(scenario, list(at_first))
    if not any(at_first[name] == ALARM for name in judged):
        return at_first
    latest = dict(at_first)

    def clear() -> tuple[bool, str]:
        latest.update(states())
        firing = sorted(name for name, state in latest.items() if name in judged and state == ALARM)
        return not firing, f"still in ALARM: {', '.join(firing)}" if firing else "all out of ALARM"

    label = f"load {scenario.name}: waiting for the alarms it judges to leave ALARM"
    result = wait_with_progress(clear, label, timeout, progress, poll=poll)
    if not result.done:
        raise LoadTestError(
            f"scenario {scenario.name!r} cannot start from a known alarm state: {result.note.removeprefix('still ')} "
            f"after {timeout:.0f} s (an earlier run or an active fault set them off); "
            "check `invoke status` and run it again once they are OK"
        )
    return latest
