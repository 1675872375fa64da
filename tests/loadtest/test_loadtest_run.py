"""A whole run against a fake API: real Locust processes (one master, one worker), ids logged and merged,
reconciled, expectations checked, the report folder written. And the refusals that come first."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from alarms.history import RECORDING_FILE, load_recording
from loadtest.cli import run_load
from loadtest.errors import LoadTestError
from loadtest.run import RunOptions, check_options, run_scenario
from loadtest.scenarios import Fault, get_scenario
from ops.progress import ProgressLine
from tests.load_verdicts import assert_met_apart_from_latency
from tests.loadtest.fakes import FakeApi, FakeStackView, fake_target


def test_smoke_with_a_master_and_a_worker_reconciles_every_accepted_id(tmp_path: Path) -> None:
    # GIVEN a fake API that stores what it accepts, and the smoke scenario shortened to 4 s
    with FakeApi() as api:
        view = FakeStackView(api.table, alarms={"sluice-local-dlq-high": "OK"})
        options = RunOptions(duration=4, workers=1, reports_dir=tmp_path, poll_seconds=0.1)
        # WHEN it runs
        result = run_scenario(get_scenario("smoke"), fake_target(api.url), view, options, ProgressLine(None))
    # THEN it passes (latency aside: tests/load_verdicts.py), every accepted id was found, and the table was asked
    # at most 100 ids at a time
    summary = json.loads((result.folder / "summary.json").read_text())
    assert_met_apart_from_latency(result)
    assert summary["requests"] > 0 and summary["accepted"] > 0
    assert summary["accepted"] == summary["stored"] and summary["lost"] == 0 and summary["duplicates"] == 0
    assert max(view.lookups) <= 100
    # AND the folder holds Locust's own report, the merged ids, the stages, the plot
    names = {path.name for path in result.folder.iterdir()}
    expected = {"locust.html", "locust_stats.csv", "accepted-ids.jsonl", "stages.json", "plot.png", "report.md"}
    assert expected <= names
    assert not any(name.startswith("ids-") for name in names)  # the per-worker logs were merged
    # AND the bad-input requests all got their documented answers (no failure at all)
    assert summary["failures"] == 0


def test_a_fault_is_injected_on_schedule_and_the_archive_replayed(tmp_path: Path) -> None:
    # GIVEN a short scenario with a fault one second in, and replay after recovery
    scenario = replace(
        get_scenario("db-outage"),
        duration=3.0,
        fault=Fault("db-down", at_seconds=1.0, seconds=1.0),
        expectations=replace(get_scenario("db-outage").expectations, must_fire=frozenset()),
        alarm_wait_seconds=0,
        replay=True,
    )
    with FakeApi() as api:
        view = FakeStackView(api.table)
        options = RunOptions(users=2, rate=4, workers=0, reports_dir=tmp_path, poll_seconds=0.1)
        # WHEN it runs
        result = run_scenario(scenario, fake_target(api.url), view, options, ProgressLine(None))
    # THEN the fault was injected once, the archive replayed once, and nothing was lost
    assert view.injected == [("db-down", 1.0)]
    assert len(view.replays) == 1
    assert result.record.fault_window is not None
    assert result.record.reconciliation is not None and result.record.reconciliation.lost_count == 0
    # AND the run's metric series are recorded in its folder, the fault's start as their marker
    env, history = load_recording(result.folder / RECORDING_FILE)
    assert env == "local" and history.series
    assert [(marker.label, marker.time) for marker in history.markers] == [("db-down", result.record.fault_window[0])]


def test_faults_are_refused_against_a_deployed_target() -> None:
    target = replace(fake_target(), name="prod")
    with pytest.raises(LoadTestError, match="only against the local stack"):
        check_options(get_scenario("db-outage"), target, RunOptions())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"scenario": "nope"}, "unknown scenario"),
        ({"scenario": "smoke", "rate": "fast"}, "--rate: expected a number"),
        ({"scenario": "smoke", "users": "-3"}, "--users: expected a positive number"),
        ({"scenario": "smoke", "workers": "two"}, "--workers: expected a whole number"),
        ({"scenario": "smoke", "outputs": "/nonexistent/outputs.json"}, "invoke up"),
        ({"scenario": "smoke", "target": "staging"}, "no environment 'staging'"),
        ({"scenario": "db-outage", "target": "prod"}, "fault scenarios run only against the local stack"),
    ],
)
def test_bad_arguments_are_one_clear_line(arguments: dict[str, str], message: str) -> None:
    with pytest.raises(LoadTestError, match=message):
        run_load(**arguments)
