"""`invoke alarms.backtest`: the environment's generated alarm table run over a recorded run, candidate
thresholds with --set, the table, the PNG and --json; errors are one line."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber
from PIL import Image

from alarms.backtest import History, Marker, stat_key
from alarms.history import RECORDING_FILE, metric_stats, recording, save_recording
from core.config import load_config
from core.paths import PROJECT_ROOT
from ops.backtest import (
    deployed_history,
    format_table,
    parse_settings,
    recorded_history,
    run_backtest,
    table_definitions,
)
from ops.errors import OpsError

PROJECT = PROJECT_ROOT
INVOKE = Path(sys.executable).parent / "invoke"
CONFIG = load_config("local")
PERIOD = CONFIG.monitoring.period_seconds
START = 1_796_000_000 // PERIOD * PERIOD
PERIODS = 60
FAULT_PERIOD = 30


def name(row: str) -> str:
    return CONFIG.resource_name(row)


def local_history(server_errors_from: int | None) -> History:
    """Steady traffic (20 requests a period, everything stored); from `server_errors_from` on, 25 % answered 5XX
    for 6 periods, as when ingest cannot reach the queue."""
    stats = metric_stats(table_definitions(CONFIG))
    series: dict[str, dict[int, float]] = {key: {} for key in stats}
    for key, stat in stats.items():
        metric = stat["Metric"]["MetricName"]
        for index in range(PERIODS):
            faulty = server_errors_from is not None and server_errors_from <= index < server_errors_from + 6
            healthy = {"Count": 20.0, "EventsAccepted": 20.0, "CanarySuccess": 1.0}  # the canary gets through
            value = {**healthy, "5XXError": 5.0 if faulty else 0.0}.get(metric, 0.0)
            if metric == "NumberOfMessagesSent" and "ingest" in json.dumps(stat):
                value = 20.0
            series[key][START + index * PERIOD] = value
    markers = () if server_errors_from is None else (Marker(START + FAULT_PERIOD * PERIOD, "queue-down"),)
    return History(START, START + PERIODS * PERIOD, series, markers)


def rows_by_name(result) -> dict[str, dict]:
    return {row.alarm: row.to_dict() for row in result.rows}


def test_steady_history_pages_nobody_and_an_outage_pages_once_with_its_delay():
    # GIVEN steady traffic WHEN the local table is run over it THEN nobody is paged
    steady = run_backtest(CONFIG, local_history(None))
    assert sum(row.pages for row in steady.rows) == 0
    # GIVEN the same with server errors from the fault on
    outage = run_backtest(CONFIG, local_history(FAULT_PERIOD))
    rows = rows_by_name(outage)
    # THEN the 5XX alarm and the error budget's paging pairs go to ALARM without paging themselves, and the incident
    # composite pages once
    for child in ("api-5xx-rate-high", "error-budget-fast-burn-high", "error-budget-steady-burn-high"):
        assert rows[name(child)]["episodes"] == 1 and rows[name(child)]["pages"] == 0, child
    assert rows[name("ingestion-at-risk-high")]["pages"] == 1
    # AND the first page came one period after the fault began: 25 % errors burn the budget far faster than the
    # fast pair allows, and its windows slide (the 5XX rate needs DatapointsToAlarm periods)
    assert rows[name("ingestion-at-risk-high")]["first_page_after_fault_seconds"] == PERIOD
    assert CONFIG.monitoring.datapoints_to_alarm * PERIOD > PERIOD
    # AND the slow burn notifies the low tier
    assert rows[name("error-budget-slow-burn-low")]["low_notifications"] == 1
    # AND the table says so, one line per alarm
    table = format_table(outage)
    assert "ingestion-at-risk-high" in table and "1 page(s)" in table


def test_a_row_whose_series_the_recording_lacks_says_no_data():
    # GIVEN a recording made before the canary's metrics existed (their series are absent)
    full = local_history(None)
    older = History(full.start, full.end, {key: series for key, series in full.series.items() if '"Canary' not in key})
    # WHEN it is backtested and printed
    table = format_table(run_backtest(CONFIG, older))
    # THEN the canary's rows say "no data", never "0" episodes the data cannot show
    canary = next(line for line in table.splitlines() if line.startswith("canary-failing-high"))
    assert canary.split()[1:3] == ["no", "data"], canary
    assert "those were not judged" in table
    # AND a row whose series are there still counts its episodes
    api = next(line for line in table.splitlines() if line.startswith("api-5xx-rate-high"))
    assert api.split()[1] == "0", api


def test_a_set_threshold_is_tried_without_deploying():
    # GIVEN the outage (25 % errors) WHEN api-5xx-rate.high is set to 30 % THEN that alarm stays quiet, and the
    # page comes from the error budget alone
    result = run_backtest(CONFIG, local_history(FAULT_PERIOD), ["api-5xx-rate.high=30"])
    rows = rows_by_name(result)
    assert rows[name("api-5xx-rate-high")]["episodes"] == 0
    assert {row.alarm for row in result.rows if row.pages} == {name("ingestion-at-risk-high")}
    assert result.thresholds == {name("api-5xx-rate-high"): 30.0}
    assert "* threshold from --set" in format_table(result)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("api-5xx-rate=2", "expected ROW.TIER=VALUE"),
        ("api-5xx-rate.urgent=2", "expected ROW.TIER=VALUE"),
        ("api-5xx-rate.high=lots", "'lots' is not a number"),
    ],
)
def test_a_malformed_setting_is_one_line(setting, message):
    with pytest.raises(OpsError, match=message):
        parse_settings(CONFIG, [setting])


def test_an_unknown_or_band_alarm_cannot_be_set():
    with pytest.raises(OpsError, match="no static-threshold alarm named sluice-local-api-request-anomaly-low"):
        run_backtest(CONFIG, local_history(None), ["api-request-anomaly.low=2"])


def run_invoke(*arguments: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(INVOKE), "--search-root", str(PROJECT), *arguments],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_task_prints_the_table_and_writes_the_png_or_json(tmp_path):
    # GIVEN a run folder with a recording of the outage
    history = local_history(FAULT_PERIOD)
    save_recording(tmp_path / RECORDING_FILE, recording("local", history, metric_stats(table_definitions(CONFIG))))
    # WHEN the task runs on it THEN it prints the table and draws the timeline
    shown = run_invoke("alarms.backtest", "--run", str(tmp_path))
    assert shown.returncode == 0, shown.stderr
    assert "ingestion-at-risk-high" in shown.stdout and f"timeline: {tmp_path / 'backtest.png'}" in shown.stdout
    assert Image.open(tmp_path / "backtest.png").size[0] > 0
    # AND with --json and a --set, tooling gets every alarm's figures
    answer = run_invoke("alarms.backtest", "--run", str(tmp_path), "--json", "--set", "api-5xx-rate.high=30")
    document = json.loads(answer.stdout)
    assert document["thresholds"] == {name("api-5xx-rate-high"): 30.0}
    assert {row["alarm"] for row in document["alarms"] if row["pages"]} == {name("ingestion-at-risk-high")}


def test_a_recording_file_gets_its_timeline_under_reports_never_beside_it(tmp_path):
    # GIVEN a recording file (the repository's own, in tests/data/recordings)
    recording_file = RECORDINGS / "steady.json"
    before = sorted(RECORDINGS.iterdir())
    # WHEN the task backtests it from a working folder
    shown = run_invoke("alarms.backtest", "--run", str(recording_file), cwd=tmp_path)
    # THEN the timeline goes to reports/backtest-<name>.png there, and nothing is written into the repository
    assert shown.returncode == 0, shown.stderr
    assert "timeline: reports/backtest-steady.png" in shown.stdout
    assert (tmp_path / "reports" / "backtest-steady.png").stat().st_size > 0
    assert sorted(RECORDINGS.iterdir()) == before


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("alarms.backtest",), "error: give either --run reports/<run> or --env NAME"),
        (("alarms.backtest", "--run", "no/such/run"), "error: no/such/run/metrics.json: no recording"),
        (("alarms.backtest", "--env", "local"), "error: the local environment is not deployed to AWS"),
    ],
)
def test_task_errors_are_one_line(arguments, expected):
    result = run_invoke(*arguments)
    assert result.returncode != 0
    assert result.stderr.strip().startswith(expected), result.stderr
    assert "Traceback" not in result.stderr


def test_stat_keys_of_the_recording_match_the_table():
    # GIVEN the local table WHEN its stats are keyed THEN each key is its MetricStat's canonical JSON
    stats = metric_stats(table_definitions(CONFIG))
    assert all(stat_key(stat) == key for key, stat in stats.items())


def test_a_deployed_history_is_read_with_get_metric_data_over_whole_periods():
    # GIVEN dev's CloudWatch (60-second periods) answering with one datapoint for every query
    dev = load_config("dev")
    period = dev.monitoring.period_seconds
    now = START + 30.5  # mid-period: that period is incomplete
    cloudwatch = boto3.client("cloudwatch", region_name=dev.region, aws_access_key_id="x", aws_secret_access_key="x")
    stats = metric_stats(table_definitions(dev))
    expected_end = int(now) // period * period
    first = expected_end - 2 * period
    with Stubber(cloudwatch) as stubber:
        response = {
            "MetricDataResults": [
                {
                    "Id": f"q{i}",
                    "Label": "x",
                    "Timestamps": [datetime.fromtimestamp(first, UTC)],
                    "Values": [1.0],
                    "StatusCode": "Complete",
                }
                for i in range(len(stats))
            ],
            "Messages": [],
        }
        stubber.add_response(
            "get_metric_data",
            response,
            {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampAscending"},
        )
        # WHEN a day of it is read
        history = deployed_history(cloudwatch, dev, 1, now=now)
        stubber.assert_no_pending_responses()
    # THEN the window ends at the last complete period and reaches a day back plus the alarms' lead-in
    assert history.end == expected_end
    assert history.start % period == 0 and history.end - history.start >= 86_400
    assert all(series == {first: 1.0} for series in history.series.values())
    # AND more than CloudWatch keeps at the alarms' period is refused before any call
    with pytest.raises(OpsError, match="--days 16: CloudWatch keeps 60-second datapoints for 15 days only"):
        deployed_history(cloudwatch, dev, 16, now=now)


RECORDINGS = PROJECT / "tests" / "data" / "recordings"  # `invoke load` runs on the local stack (issue 15)
RECORDED_RUNS = ("steady.json", "db-outage.json")


@pytest.mark.parametrize("file", RECORDED_RUNS)
def test_each_recording_holds_every_series_the_alarm_table_reads(file: str) -> None:
    # GIVEN a recorded run and the alarm table of the environment it was recorded on, as generated today
    env, history = recorded_history(RECORDINGS / file)
    wanted = metric_stats(table_definitions(load_config(env)))
    # WHEN the series the table reads are looked up in the recording
    missing = sorted(series_label(stat) for key, stat in wanted.items() if key not in history.series)
    # THEN none is missing: a recording made before an alarm's metric existed runs that alarm over no data,
    # so re-record it (`invoke load --scenario steady|db-outage`, docs/runbook.md)
    assert missing == [], f"{file} lacks {len(missing)} of the {len(wanted)} series the alarms read: {missing}"


def series_label(stat: dict) -> str:
    """`Namespace/MetricName(dimension values) Stat`, short enough for a failure message."""
    metric = stat["Metric"]
    dimensions = ",".join(item["Value"] for item in metric.get("Dimensions", []))
    return f"{metric['Namespace']}/{metric['MetricName']}({dimensions}) {stat['Stat']}"


def test_recorded_local_runs_backtest_as_they_ran() -> None:
    # GIVEN the recordings of a steady run (no alarm fired) and of a db-outage run (90 s of DynamoDB down: events
    # parked and brought back, nothing dead-lettered)
    steady_env, steady = recorded_history(RECORDINGS / "steady.json")
    outage_env, outage = recorded_history(RECORDINGS / "db-outage.json")
    # WHEN the local table is run over them
    quiet = run_backtest(load_config(steady_env), steady)
    loud = rows_by_name(run_backtest(load_config(outage_env), outage))
    # THEN the steady run pages nobody and notifies nobody
    assert sum(row.pages + row.low_notifications for row in quiet.rows) == 0
    # AND the outage pages once, through the incident composite, as soon as its first child fires (the canary,
    # which cannot read its event back); the retry window's alarm joins the same incident without a page
    assert {alarm for alarm, row in loud.items() if row["pages"]} == {name("ingestion-at-risk-high")}
    assert loud[name("ingestion-at-risk-high")]["pages"] == 1
    assert loud[name("canary-failing-high")]["episodes"] == 1 and loud[name("retry-window-high")]["episodes"] == 1
    assert loud[name("ingestion-at-risk-high")]["first_page_after_fault_seconds"] > 0
    # AND nothing was dead-lettered or archived, and no request failed, so those alarms and the error budget stay quiet
    for quiet_row in ("dlq-visible-high", "events-archived-low", "api-5xx-rate-high", "error-budget-slow-burn-low"):
        assert loud[name(quiet_row)]["episodes"] == 0, quiet_row
    # AND the retries, the backlog's age and the consumer's failures reach the low tier once each
    assert {alarm for alarm, row in loud.items() if row["low_notifications"]} == {
        name(row)
        for row in (
            "retries-low",
            "queue-age-low",
            "consumer-errors-low",
            "consumer-duration-low",
            "consumer-record-failures-low",
        )
    }


def test_suggest_shows_what_each_proposal_would_have_paged(tmp_path: Path) -> None:
    # GIVEN a run folder with a recording of the outage (25 % 5XX for 6 of 60 periods: enough periods to suggest
    # from, which the recorded db-outage run, 17 periods after its lead-in, is not)
    history = local_history(FAULT_PERIOD)
    save_recording(tmp_path / RECORDING_FILE, recording("local", history, metric_stats(table_definitions(CONFIG))))
    # WHEN thresholds are suggested from it
    shown = run_invoke("alarms.backtest", "--run", str(tmp_path), "--suggest", "--png", "/dev/null")
    # THEN the 5XX alarm's proposal is shown with its effect, and that nothing changes by itself
    assert shown.returncode == 0, shown.stderr
    assert "nothing changes until a person puts a value in sluice.toml" in shown.stdout
    assert "api-5xx-rate-high: 1 -> 37.5 (1.5 × p99 (25) of 60 periods); episodes 1 -> 0" in shown.stdout
    assert "with all of them: pages 1 -> 0" in shown.stdout
