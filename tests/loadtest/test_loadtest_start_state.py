"""A scenario starts from a known alarm state (loadtest/start_state.py): the alarms it judges out of ALARM."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.errors import LoadTestError
from loadtest.run import RunOptions, run_scenario
from loadtest.scenarios import get_scenario
from loadtest.start_state import judged_alarms, wait_for_known_start
from ops.progress import ProgressLine
from tests.loadtest.fakes import FakeApi, FakeStackView, fake_target

FOUR_XX = "sluice-local-api-4xx-rate-low"
DLQ = "sluice-local-dlq-visible-high"
ALARMS = {FOUR_XX: "OK", DLQ: "OK", "sluice-local-api-5xx-rate-high": "OK"}


def states_over_time(*sequence: dict[str, str]):
    """Each read returns the next states; the last one stays."""
    reads = list(sequence)
    calls = []

    def read() -> dict[str, str]:
        calls.append(1)
        return dict(reads.pop(0) if len(reads) > 1 else reads[0])

    return read, calls


def test_bad_input_waits_for_the_4xx_alarm_smoke_left_firing() -> None:
    # GIVEN the 4XX alarm still in ALARM after a smoke run, leaving ALARM two reads later
    firing = {**ALARMS, FOUR_XX: "ALARM"}
    read, calls = states_over_time(firing, firing, ALARMS)
    # WHEN bad-input (which must see the 4XX alarm fire) is about to start
    states = wait_for_known_start(get_scenario("bad-input"), firing, read, ProgressLine(None), timeout=30, poll=0)
    # THEN it waited until the alarm was OK, and starts from there
    assert states[FOUR_XX] == "OK" and len(calls) == 3


def test_an_alarm_that_stays_in_alarm_is_named_and_the_run_refused() -> None:
    firing = {**ALARMS, FOUR_XX: "ALARM"}
    read, _ = states_over_time(firing)
    # WHEN the judged alarm never leaves ALARM within the bound
    with pytest.raises(LoadTestError) as raised:
        wait_for_known_start(get_scenario("bad-input"), firing, read, ProgressLine(None), timeout=0.05, poll=0.01)
    # THEN one line names the scenario, the alarm and what to do
    message = str(raised.value)
    assert "\n" not in message
    assert f"'bad-input' cannot start from a known alarm state: in ALARM: {FOUR_XX}" in message
    assert "invoke status" in message


def test_an_alarm_the_scenario_does_not_judge_does_not_hold_it_up() -> None:
    # GIVEN the 4XX alarm in ALARM, and smoke, which judges only the DLQ and 5XX alarms
    firing = {**ALARMS, FOUR_XX: "ALARM"}
    read, calls = states_over_time(firing)
    assert FOUR_XX not in judged_alarms(get_scenario("smoke"), list(firing))
    # WHEN smoke starts THEN it starts at once, without reading the states again
    assert wait_for_known_start(get_scenario("smoke"), firing, read, ProgressLine(None), timeout=30) == firing
    assert calls == []


def test_a_run_refused_for_its_start_state_starts_no_load(tmp_path: Path) -> None:
    # GIVEN a stack whose 4XX alarm stays in ALARM
    with FakeApi() as api:
        view = FakeStackView(api.table, alarms={**ALARMS, FOUR_XX: "ALARM"})
        options = RunOptions(duration=4, reports_dir=tmp_path, poll_seconds=0.01, alarm_clear_seconds=0.05)
        # WHEN bad-input is run THEN it is refused before a single request
        with pytest.raises(LoadTestError, match="cannot start from a known alarm state"):
            run_scenario(get_scenario("bad-input"), fake_target(api.url), view, options, ProgressLine(None))
        assert api.requests == 0
