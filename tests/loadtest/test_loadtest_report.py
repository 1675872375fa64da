"""Report writing: summary.json's keys, a readable report.md, a non-empty PNG."""

from __future__ import annotations

import json

from loadtest.expectations import Check
from loadtest.knee import find_knee
from loadtest.locust_stats import HistoryPoint, Row
from loadtest.profiles import Slo
from loadtest.reconcile import Reconciliation, S3Copy
from loadtest.record import RunRecord
from loadtest.report import PLOT_FILE, REPORT_FILE, SUMMARY_FILE, write_report
from loadtest.sampler import DepthSample
from loadtest.scenarios import SCENARIOS
from loadtest.stack import Transition
from loadtest.stages import StageStats

REQUIRED_KEYS = {
    "scenario",
    "requests",
    "accepted",
    "stored",
    "lost",
    "duplicates",
    "rps",
    "p50_ms",
    "p99_ms",
    "error_ratio",
    "alarms_fired",
    "expectations_met",
}
T0 = 1_800_000_000.0
SLO = Slo(1000, 0.01)


def record(**overrides) -> RunRecord:
    stages = [StageStats(0, 0, 30, 10, 600, 0, 20, 80), StageStats(1, 30, 60, 20, 1000, 40, 30, 1500)]
    values = dict(
        scenario=SCENARIOS["db-outage"],
        target="local",
        users=4,
        rate=10.0,
        duration=60.0,
        workers=2,
        slo=SLO,
        started=T0,
        ended=T0 + 60,
        totals=Row("Aggregated", 600, 3, 10.0, 20.0, 90.0),
        rows=[Row("events: single", 600, 3, 10.0, 20.0, 90.0), Row("Aggregated", 600, 3, 10.0, 20.0, 90.0)],
        history=[HistoryPoint(T0 + second, 4, 10.0, 0.0, 20.0, 90.0) for second in range(60)],
        depth=[DepthSample(T0 + second, second % 7, 1, int(second > 30), 0) for second in range(120)],
        reconciliation=Reconciliation(590, 700, 698, ("lost-1", "lost-2"), 0, 5),
        transitions=[Transition("sluice-local-dlq-high", "OK", "ALARM", T0 + 50, "high", "threshold crossed")],
        alarm_names=["sluice-local-dlq-high", "sluice-local-api-4xx-low"],
        checks=[Check("zero loss", False, "2 of 700 accepted ids lost"), Check("dlq alarm fires", True, "fired")],
        stages=stages,
        knee=find_knee(stages, SLO),
        fault_window=(T0 + 10, T0 + 100),
    )
    values.update(overrides)
    return RunRecord(**values)


def test_write_report_writes_summary_report_and_plot(tmp_path) -> None:
    # GIVEN a finished run's record
    # WHEN its report is written
    report = write_report(record(), tmp_path)
    # THEN summary.json has every key the issue asks for, with the run's numbers
    summary = json.loads((tmp_path / SUMMARY_FILE).read_text())
    assert set(summary) >= REQUIRED_KEYS
    assert (summary["scenario"], summary["accepted"], summary["stored"], summary["lost"]) == ("db-outage", 700, 698, 2)
    assert summary["alarms_fired"] == ["sluice-local-dlq-high"]
    assert summary["expectations_met"] is False
    assert summary["knee_rps"] == 20.0
    # AND report.md reads as a report
    text = report.read_text()
    assert report.name == REPORT_FILE
    assert text.startswith("# Load test `db-outage` on local: FAILED")
    for part in ("## Expectations", "## Reconciliation", "**2 lost**", "## Alarms", "sluice-local-dlq-high", "Knee"):
        assert part in text
    assert (tmp_path / "lost-ids.txt").read_text().split() == ["lost-1", "lost-2"]
    # AND its file list names the files the folder holds, each with what it holds, and no file it lacks
    files = text.split("## Files", 1)[1]
    assert "- `lost-ids.txt`: the accepted ids the table does not hold" in files
    assert "- `summary.json`: the figures of this report, as JSON" in files and "`plot.png`" in files
    assert "stages.json" not in files and "locust" not in files
    # AND the plot is a non-empty PNG
    png = (tmp_path / PLOT_FILE).read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_a_run_without_data_still_gets_a_report(tmp_path) -> None:
    # GIVEN a run that made no request and could not reconcile
    empty = record(
        totals=Row("Aggregated", 0, 0, 0.0, 0.0, 0.0),
        rows=[],
        history=[],
        depth=[],
        reconciliation=None,
        transitions=[],
        checks=[],
        stages=[],
        knee=None,
        fault_window=None,
        notes=["reconciliation: the table cannot be reached"],
    )
    write_report(empty, tmp_path)
    summary = json.loads((tmp_path / SUMMARY_FILE).read_text())
    assert summary["lost"] is None and summary["expectations_met"] is False
    assert "Not run (see notes)" in (tmp_path / REPORT_FILE).read_text()
    assert (tmp_path / PLOT_FILE).stat().st_size > 0


def test_the_report_gives_the_s3_copys_lost_and_duplicated_events(tmp_path) -> None:
    # GIVEN a run whose S3 copy misses one event and holds another twice
    copy = S3Copy(found=699, lost=("lost-1",), duplicates=1, duplicated=("twice-1",), objects=7, copies=2)
    reconciliation = Reconciliation(590, 700, 700, (), 0, 5, s3=copy)
    # WHEN its report is written
    report = write_report(record(reconciliation=reconciliation), tmp_path)
    # THEN summary.json and report.md give both counts and name the events
    summary = json.loads((tmp_path / SUMMARY_FILE).read_text())
    assert (summary["s3_lost"], summary["s3_duplicates"]) == (1, 1)
    text = report.read_text()
    assert "**1 lost**, **1 duplicates**" in text and "2 identical copies of lines in the objects" in text
    assert "Missing from S3 (first 1): lost-1" in text and "Duplicated in S3 (first 1): twice-1" in text
