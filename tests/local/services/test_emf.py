"""The handlers' embedded-metric-format lines become datapoints; stdout is teed, threads kept apart."""

from __future__ import annotations

import contextlib
import io
import json
import threading

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from local.services.emf import EmfCapture, parse_emf
from local.services.metrics import MetricSink


def test_emf_line_becomes_datapoints() -> None:
    # GIVEN an EMF blob with a list of values and two dimension sets
    line = json.dumps(
        {
            "_aws": {
                "Timestamp": 1_700_000_000_000,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "Sluice/local",
                        "Dimensions": [["service"], ["service", "env"]],
                        "Metrics": [{"Name": "EventsAccepted", "Unit": "Count"}],
                    }
                ],
            },
            "service": "ingest",
            "env": "local",
            "EventsAccepted": [2, 3],
        }
    )
    # WHEN parsed
    points = parse_emf(line)
    # THEN each value appears once per dimension set
    assert [(p.dimensions, p.value) for p in points] == [
        ((("service", "ingest"),), 2),
        ((("service", "ingest"),), 3),
        ((("env", "local"), ("service", "ingest")), 2),
        ((("env", "local"), ("service", "ingest")), 3),
    ]
    assert {(p.namespace, p.unit, p.timestamp) for p in points} == {("Sluice/local", "Count", 1_700_000_000.0)}
    assert parse_emf("plain log line") == []
    assert parse_emf('{"_aws": "not emf"}') == []


def test_emf_capture_tees_stdout_and_reads_powertools_metrics() -> None:
    # GIVEN stdout captured while a handler logs and flushes Powertools metrics
    sink = MetricSink()
    log, console = io.StringIO(), io.StringIO()
    capture = EmfCapture(sink, log, passthrough=console)
    metrics = Metrics(namespace="Sluice/test", service="ingest")
    with contextlib.redirect_stdout(capture):
        print("handler says hello")
        metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=3)
        metrics.flush_metrics()
    # THEN the EMF blob became a datapoint
    (point,) = sink.drain()
    assert (point.namespace, point.name, point.value, point.unit) == ("Sluice/test", "EventsAccepted", 3, "Count")
    assert point.dimensions == (("service", "ingest"),)
    # AND ordinary lines reach the log and the console; the EMF line only the log
    assert console.getvalue() == "handler says hello\n"
    assert log.getvalue().startswith("handler says hello\n{")


def test_emf_capture_keeps_lines_of_threads_apart() -> None:
    # GIVEN two threads writing halves of lines at the same time, flushing in between (as logging does)
    capture = EmfCapture(MetricSink(), log := io.StringIO())
    barrier = threading.Barrier(2)

    def write(word: str) -> None:
        for _ in range(50):
            capture.write(word)
            barrier.wait()
            capture.flush()
            capture.write(word + "\n")

    threads = [threading.Thread(target=write, args=(word,)) for word in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    capture.close()
    # THEN every line is whole
    assert sorted(set(log.getvalue().splitlines())) == ["leftleft", "rightright"]
