"""The local stack's logs (local/stack/logs.py): fresh per run with the last run kept, warnings and metric lines out
of the way of what people read, and `invoke logs [--errors] [--follow]`."""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_lambda_powertools import Metrics

from local.services.emf import EmfCapture
from local.services.metrics import MetricSink
from local.stack.logs import QUIET_LOGGERS, show, start_run_logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            handler.close()
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    logging.captureWarnings(False)


def test_each_run_starts_fresh_and_keeps_only_the_run_before(tmp_path: Path, restore_logging: None) -> None:
    logs = tmp_path / "logs"
    (logs / "previous").mkdir(parents=True)
    (logs / "previous" / "functions.log").write_text("two runs ago\n")
    (logs / "functions.log").write_text("last run\n")
    (logs / "moto.log").write_text("last run's moto\n")
    # WHEN a new run starts
    start_run_logs(logs)
    # THEN the last run's files are in previous/, the one before is gone, and nothing of them is in logs/
    assert (logs / "previous" / "functions.log").read_text() == "last run\n"
    assert (logs / "previous" / "moto.log").read_text() == "last run's moto\n"
    assert sorted(path.name for path in logs.iterdir() if path.is_file()) == ["runtime.log"]


def test_a_python_warning_goes_to_the_runtime_log_not_the_terminal(
    tmp_path: Path, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the runtime's logging for a run
    start_run_logs(tmp_path)
    # WHEN Powertools flushes an invocation that added no metric (a handler that crashed before adding one)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        Metrics(namespace="Sluice", service="consumer").flush_metrics()
    for handler in logging.getLogger().handlers:
        handler.flush()
    # THEN it is a line of runtime.log, and the terminal saw nothing
    assert "No application metrics to publish" in (tmp_path / "runtime.log").read_text()
    captured = capsys.readouterr()
    assert "No application metrics" not in captured.err + captured.out


def test_the_runtime_log_drops_botocores_endpoint_chatter(tmp_path: Path, restore_logging: None) -> None:
    # GIVEN the runtime's logging for a run
    start_run_logs(tmp_path)
    # WHEN botocore says where it found an endpoint (every client, every thread), then warns of something
    logging.getLogger("botocore.configprovider").info("Found endpoint for sqs via: environment_global.")
    logging.getLogger("botocore.credentials").info("Found credentials in environment variables.")
    logging.getLogger("botocore.hooks").warning("a deprecated hook")
    for handler in logging.getLogger().handlers:
        handler.flush()
    # THEN runtime.log holds the warning, not the chatter
    text = (tmp_path / "runtime.log").read_text()
    assert "a deprecated hook" in text
    assert "Found endpoint" not in text and "Found credentials" not in text


def test_metric_lines_go_apart_from_the_lines_people_read() -> None:
    # GIVEN the handlers' stdout captured with a separate metrics log
    emf = {
        "_aws": {
            "Timestamp": 1_764_000_000_000,
            "CloudWatchMetrics": [{"Namespace": "Sluice", "Dimensions": [["service"]], "Metrics": [{"Name": "N"}]}],
        },
        "service": "ingest",
        "N": 1,
    }
    log, metrics = io.StringIO(), io.StringIO()
    capture = EmfCapture(MetricSink(), log, metrics_log=metrics)
    # WHEN a handler prints a log record and an EMF blob
    capture.write('{"level":"INFO","message":"request accepted"}\n' + json.dumps(emf) + "\n")
    # THEN the record is in the log people read and the metric only in the metrics log
    assert log.getvalue() == '{"level":"INFO","message":"request accepted"}\n'
    assert metrics.getvalue() == json.dumps(emf) + "\n"


def write_run(logs: Path) -> None:
    logs.mkdir(parents=True, exist_ok=True)
    records = [
        {"level": "INFO", "message": "request accepted", "service": "ingest", "timestamp": "t1"},
        {
            "level": "ERROR",
            "message": "batch write failed",
            "service": "consumer",
            "timestamp": "t2",
            "exception": "Traceback (most recent call last):\n  ...\nbotocore.exceptions.ClientError: boom",
            "exception_name": "ClientError",
            # Powertools' structured traceback: kilobytes of frames that --errors once printed as a dict
            "stack_trace": {"type": "ClientError", "frames": [{"file": "writer.py", "line": 90}] * 40},
        },
    ]
    (logs / "functions.log").write_text("".join(json.dumps(record) + "\n" for record in records))
    (logs / "runtime.log").write_text(
        "2026-11-30 05:00:00,000 INFO local.stack.runtime: started\n"
        "2026-11-30 05:00:01,000 ERROR local.services.pollers: consumer invocation failed\n"
        "Traceback (most recent call last):\n"
        "RuntimeError: handler crashed\n"
        "2026-11-30 05:00:02,000 INFO local.stack.runtime: still here\n"
    )
    (logs / "notifications.log").write_text(
        "05:00:03  sluice-local-consumer-errors-high  OK -> ALARM  [sluice-local-high]\n"
        "05:00:09  sluice-local-consumer-errors-high  ALARM -> OK  [sluice-local-high]\n"
    )


def test_errors_show_why_it_failed_and_nothing_else(tmp_path: Path) -> None:
    # GIVEN a run's logs with ordinary lines, a handler error and a runtime error with its traceback
    write_run(tmp_path)
    out = io.StringIO()
    # WHEN `invoke logs --errors`
    show(tmp_path, out, errors_only=True)
    text = out.getvalue()
    # THEN each error is one line: the record and what was raised (its exception's last line), with the alarm
    assert "t2 consumer ERROR batch write failed — botocore.exceptions.ClientError: boom\n" in text
    assert "ERROR local.services.pollers: consumer invocation failed — RuntimeError: handler crashed\n" in text
    assert "consumer-errors-high  OK -> ALARM" in text and "ALARM -> OK" not in text
    # AND no traceback or structured stack is printed
    assert "Traceback" not in text and "frames" not in text and "stack_trace" not in text
    # AND the ordinary lines are not
    assert "request accepted" not in text and "still here" not in text and "started" not in text


def test_a_record_holding_unicode_line_breaks_is_shown_as_one_record(tmp_path: Path) -> None:
    # GIVEN a handler's record whose message holds U+2028 and NEL unescaped (a JSON logger with ensure_ascii off)
    record = {"level": "INFO", "message": "client sent a\u2028b\x85c", "service": "ingest", "timestamp": "t3"}
    (tmp_path / "functions.log").write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    out = io.StringIO()
    # WHEN `invoke logs`
    show(tmp_path, out)
    # THEN it is read as the one JSON record it is (a log line ends at "\n" only)
    assert "t3 ingest INFO client sent a\u2028b\x85c" in out.getvalue()


def test_follow_prints_lines_as_they_are_written(tmp_path: Path) -> None:
    # GIVEN a run's logs shown with --follow
    write_run(tmp_path)
    out = io.StringIO()
    calls = []

    def keep_going() -> bool:
        # the first round: a handler logs a new line; the second: the operator presses Ctrl-C
        calls.append(1)
        if len(calls) == 1:
            with (tmp_path / "functions.log").open("a") as log:
                log.write(json.dumps({"level": "INFO", "message": "new line", "service": "ingest"}) + "\n")
        return len(calls) == 1

    show(tmp_path, out, follow=True, keep_going=keep_going, interval=0)
    # THEN the new line is printed once, after the snapshot, named by its log
    text = out.getvalue()
    assert text.count("new line") == 1
    assert text.index("== ") < text.index("functions     ingest INFO new line")
