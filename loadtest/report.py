"""The run's folder: summary.json (machine-readable), report.md (for a person) and the plot."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alarms.history import RECORDING_FILE
from loadtest.expectations import fired_alarms
from loadtest.idlog import MERGED_NAME
from loadtest.reconcile import Reconciliation
from loadtest.record import RunRecord
from loadtest.stack import iso
from loadtest.stages import STAGES_FILE
from ops.progress import counted

SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.md"
PLOT_FILE = "plot.png"
LOST_FILE = "lost-ids.txt"
LOCUST_PREFIX = "locust"  # locust_stats.csv, locust_stats_history.csv, locust_failures.csv
LOCUST_HTML = "locust.html"
MAX_LISTED_LOST = 20
# What the files a run may leave in its folder hold; the report lists those that are there.
FILE_NOTES = (
    (SUMMARY_FILE, "the figures of this report, as JSON"),
    (PLOT_FILE, "throughput, latency, queue depth"),
    (RECORDING_FILE, "the run's metrics: `invoke alarms.backtest --run` on this folder runs the alarms over them"),
    (MERGED_NAME, "every accepted id, one request per line"),
    (LOST_FILE, "the accepted ids the table does not hold"),
    (STAGES_FILE, "per-stage statistics"),
    (LOCUST_HTML, "Locust's own report"),
    (f"{LOCUST_PREFIX}_*.csv", "Locust's statistics"),
    ("locust-*", "Locust's output"),
)


def summary(record: RunRecord) -> dict[str, Any]:
    result = record.reconciliation
    return {
        "scenario": record.scenario.name,
        "target": record.target,
        "started_at": iso(record.started),
        "load_seconds": round(record.ended - record.started, 1),
        "users": record.users,
        "rate": record.rate,
        "duration": record.duration,
        "workers": record.workers,
        "requests": record.totals.requests,
        "failures": record.totals.failures,
        "accepted": result.accepted if result else None,
        "stored": result.stored if result else None,
        "lost": result.lost_count if result else None,
        "duplicates": result.duplicates if result else None,
        "idempotent_repeats": result.idempotent_repeats if result else None,
        "s3_lost": result.s3.lost_count if result and result.s3 else None,
        "s3_duplicates": result.s3.duplicates if result and result.s3 else None,
        "rps": round(record.totals.rps, 2),
        "p50_ms": record.totals.p50_ms,
        "p99_ms": record.totals.p99_ms,
        "error_ratio": round(record.totals.error_ratio, 5),
        "slo": {"p99_ms": record.slo.p99_ms, "error_ratio": record.slo.error_ratio},
        "alarms_fired": fired_alarms(record.transitions),
        "alarm_transitions": [vars(transition) for transition in record.transitions],
        "expectations_met": record.expectations_met,
        "checks": [vars(check) for check in record.checks],
        "knee_rps": round(record.knee.rps, 2) if record.knee and record.knee.rps is not None else None,
        "knee_reached": record.knee.reached if record.knee else None,
        "stages": [stage.to_dict() for stage in record.stages],
        "fault": vars(record.scenario.fault) if record.scenario.fault else None,
        "notes": record.notes,
    }


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def markdown(record: RunRecord, files: Sequence[str] = ()) -> str:
    """The report; `files` are the names in the run's folder, listed at the end with what each holds."""
    scenario = record.scenario
    verdict = "PASSED" if record.expectations_met else "FAILED"
    totals = record.totals
    lines = [
        f"# Load test `{scenario.name}` on {record.target}: {verdict}",
        "",
        scenario.description,
        "",
        f"Started {iso(record.started)}; shape `{scenario.shape}`, {record.users} users, "
        f"{record.rate:g} requests/s at full load, {record.duration:g} s, "
        f"{record.workers or 'no'} worker process(es); mix "
        + ", ".join(f"{name} × {weight}" for name, weight in scenario.mix.items())
        + ".",
    ]
    if scenario.fault:
        fault = scenario.fault
        lines.append(f"Fault: `{fault.name}` from {fault.at_seconds:g} s for {fault.seconds:g} s.")
    lines += ["", "## Expectations", ""]
    lines += _table(("", "check", "observed"), [("✅" if c.ok else "❌", c.name, c.detail) for c in record.checks])
    lines += [
        "",
        "## Traffic",
        "",
        f"{counted(totals.requests, 'request')}, {totals.rps:.1f}/s, "
        f"p50 {totals.p50_ms:.0f} ms, p99 {totals.p99_ms:.0f} ms, "
        f"{totals.failures} failed ({totals.error_ratio:.2%}); SLO p99 ≤ {record.slo.p99_ms:.0f} ms, "
        f"errors ≤ {record.slo.error_ratio:.2%}.",
        "",
    ]
    lines += _table(
        ("request", "count", "failed", "req/s", "p50 ms", "p99 ms"),
        [(r.name, r.requests, r.failures, f"{r.rps:.1f}", f"{r.p50_ms:.0f}", f"{r.p99_ms:.0f}") for r in record.rows],
    )
    if record.failures:
        lines += ["", "Failures:", ""]
        lines += _table(("request", "error", "times"), [(f.name, f.error, f.occurrences) for f in record.failures])
    lines += _stage_lines(record) + _reconciliation_lines(record) + _alarm_lines(record)
    if record.notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in record.notes)]
    lines += ["", "## Files", "", *_file_lines(files), ""]
    return "\n".join(lines)


def _file_lines(files: Sequence[str]) -> list[str]:
    """`- `name`: what it holds`, for each file of the folder (the report itself aside)."""
    listed = []
    for name in sorted(set(files) - {REPORT_FILE}):
        note = next((note for pattern, note in FILE_NOTES if fnmatch.fnmatch(name, pattern)), "")
        listed.append(f"- `{name}`" + (f": {note}" if note else ""))
    return listed or ["None besides this report."]


def _stage_lines(record: RunRecord) -> list[str]:
    if not record.stages:
        return []
    lines = ["", "## Stages", ""]
    lines += _table(
        ("stage", "from s", "to s", "users", "requests", "req/s", "p50 ms", "p99 ms", "errors", "SLO"),
        [
            (
                s.index + 1,
                f"{s.start:.0f}",
                f"{s.end:.0f}",
                s.users,
                s.requests,
                f"{s.rps:.1f}",
                f"{s.p50_ms:.0f}",
                f"{s.p99_ms:.0f}",
                f"{s.error_ratio:.2%}",
                "broken" if s.breaks(record.slo) else "held",
            )
            for s in record.stages
        ],
    )
    if record.knee is not None:
        lines += ["", f"**Knee:** {record.knee.describe()}."]
    return lines


def _reconciliation_lines(record: RunRecord) -> list[str]:
    result = record.reconciliation
    lines = ["", "## Reconciliation", ""]
    if result is None:
        return [*lines, "Not run (see notes)."]
    lines += [
        f"{result.requests} accepted requests logged, {result.accepted} distinct ids accepted, "
        f"{result.stored} found in the table, **{result.lost_count} lost**, **{result.duplicates} duplicates**.",
        "",
        "The table's key is the event id, so the table itself cannot hold a duplicate item; a *duplicate* "
        "here is an id the API handed out more than once for requests that did not share one Idempotency-Key. "
        f"Repeats with the same Idempotency-Key are the key's contract (a client retry gets the same ids): "
        f"{result.idempotent_repeats} such repeats, expected and not counted as duplicates.",
    ]
    if result.lost:
        shown = ", ".join(result.lost[:MAX_LISTED_LOST])
        lines += ["", f"Lost ids (first {min(MAX_LISTED_LOST, result.lost_count)}; all in `{LOST_FILE}`): {shown}"]
    return lines + _s3_copy_lines(result)


def _s3_copy_lines(result: Reconciliation) -> list[str]:
    copy = result.s3
    if copy is None:
        return []
    lines = [
        "",
        f"The S3 analytics store ({copy.objects} objects of the run's hours read): {copy.found} of "
        f"{result.accepted} accepted ids found, **{copy.lost_count} lost**, **{copy.duplicates} duplicates** "
        f"(rows of the view `events`, which queries read, beyond an event's first); {copy.copies} identical "
        "copies of lines in the objects (`events_raw`: a regrouped redelivery or a replay), which the view counts "
        "once.",
    ]
    for label, ids in (("Missing from S3", copy.lost), ("Duplicated in S3", copy.duplicated)):
        if ids:
            lines += ["", f"{label} (first {min(MAX_LISTED_LOST, len(ids))}): {', '.join(ids[:MAX_LISTED_LOST])}"]
    return lines


def _alarm_lines(record: RunRecord) -> list[str]:
    lines = ["", "## Alarms", ""]
    if record.alarms_in_alarm_at_start:
        lines += [f"Already in ALARM at the start: {', '.join(record.alarms_in_alarm_at_start)}.", ""]
    if not record.transitions:
        return [*lines, f"No transitions ({len(record.alarm_names)} alarms known)."]
    rows = [
        (f"{t.time - record.started:+.0f} s", t.alarm, t.tier, f"{t.old} → {t.new}", t.reason[:120])
        for t in sorted(record.transitions, key=lambda item: item.time)
    ]
    return lines + _table(("at", "alarm", "tier", "change", "reason"), rows)


def write_report(record: RunRecord, folder: Path) -> Path:
    """summary.json, report.md, the plot and the lost ids; returns the report's path."""
    from loadtest.plot import plot_run  # matplotlib takes over a second to import: only a report pays for it

    folder.mkdir(parents=True, exist_ok=True)
    (folder / SUMMARY_FILE).write_text(json.dumps(summary(record), indent=2) + "\n", encoding="utf-8")
    if record.reconciliation is not None and record.reconciliation.lost:
        (folder / LOST_FILE).write_text("\n".join(record.reconciliation.lost) + "\n", encoding="utf-8")
    try:
        plot_run(record, folder / PLOT_FILE)
    except Exception as error:  # a report without its picture beats no report
        record.notes.append(f"the plot could not be drawn: {error}")
    report = folder / REPORT_FILE
    files = [path.name for path in folder.iterdir() if path.is_file()]
    report.write_text(markdown(record, files), encoding="utf-8")
    return report
