"""The window of metric data the local stack's moto server keeps (local/emulation/metrics_retention.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from moto.cloudwatch.models import CloudWatchBackend
from moto.core.utils import utcnow

from alarms.engine.evaluation import MetricAlarm
from alarms.history import lead_in_seconds
from core.config import load_config
from local.console.dashboard_data import DEFAULT_RANGE_SECONDS
from local.emulation import server as moto_server
from local.emulation.metrics_retention import (
    DEFAULT_RETENTION_SECONDS,
    MINIMUM_RETENTION_SECONDS,
    RETENTION_ENV,
    Pruner,
    RetentionError,
    keep_metrics_for,
    retention_seconds,
)
from local.stack.runtime import METRICS_INTERVAL_SECONDS
from ops.backtest import table_definitions

WINDOW = 3600


def backend_with(ages_seconds: list[int]) -> CloudWatchBackend:
    """A CloudWatch backend holding one datum of each age (seconds before now)."""
    backend = CloudWatchBackend(region_name="us-east-1", account_id="123456789012")
    now = utcnow()
    backend.put_metric_data(
        "Sluice",
        [{"MetricName": f"age-{age}", "Value": 1.0, "Timestamp": now - timedelta(seconds=age)} for age in ages_seconds],
    )
    return backend


def names(backend: CloudWatchBackend) -> list[str]:
    return [datum.name for datum in backend.metric_data]


def test_datums_older_than_the_window_are_dropped_and_the_rest_kept() -> None:
    # GIVEN datums from just now to well past the window
    backend = backend_with([0, 60, WINDOW - 60, WINDOW + 60, 10 * WINDOW])
    # WHEN pruned THEN only those inside the window remain, in their order
    Pruner(WINDOW).prune(backend, force=True)
    assert names(backend) == ["age-0", "age-60", f"age-{WINDOW - 60}"]


def test_a_pruning_waits_its_interval() -> None:
    # GIVEN a backend pruned a moment ago, then given an old datum
    pruner = Pruner(WINDOW, interval=3600)
    backend = backend_with([0])
    pruner.prune(backend)
    backend.metric_data.extend(backend_with([2 * WINDOW]).metric_data)
    # WHEN pruned again within the interval THEN nothing is scanned or dropped yet; forced, it is
    pruner.prune(backend)
    assert names(backend) == ["age-0", f"age-{2 * WINDOW}"]
    pruner.prune(backend, force=True)
    assert names(backend) == ["age-0"]


def test_every_put_keeps_the_window_once_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the window installed (moto's own method restored after the test)
    monkeypatch.setattr(CloudWatchBackend, "put_metric_data", CloudWatchBackend.put_metric_data)
    keep_metrics_for(WINDOW)
    # WHEN a PutMetricData brings an old datum and a new one THEN the backend keeps the new one only
    backend = backend_with([WINDOW + 60, 0])
    assert names(backend) == ["age-0"]


def test_the_window_comes_from_the_environment_within_bounds() -> None:
    # GIVEN / WHEN the server reads its window THEN it is the one given, or the default without one
    assert retention_seconds({RETENTION_ENV: "3600"}) == 3600
    assert retention_seconds({}) == DEFAULT_RETENTION_SECONDS


@pytest.mark.parametrize("value", ["899", "0", "an hour", "1.5", "-3600"])
def test_a_window_out_of_bounds_is_refused_in_one_line(value: str) -> None:
    # GIVEN / WHEN a window too short for the local alarms, or not a whole number of seconds THEN one line says so
    with pytest.raises(RetentionError, match=rf"^{RETENTION_ENV}: expected a whole number of seconds, at least 900"):
        retention_seconds({RETENTION_ENV: value})


def test_the_server_exits_with_one_line_on_a_window_out_of_bounds(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a window below the minimum in the environment
    monkeypatch.setenv(RETENTION_ENV, "60")
    # WHEN the local stack's moto server starts THEN it stops before serving, with one line and no traceback
    assert moto_server.main(["-p", "1"]) == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith(f"error: {RETENTION_ENV}: ") and stderr.count("\n") == 1


def test_every_local_reader_finds_its_data_inside_the_window() -> None:
    # GIVEN the local environment's alarms as generated
    definitions = table_definitions(load_config("local"))
    # WHEN / THEN the alarm evaluator's longest read — its longest look-back, ending a settling time and a period
    # step before now (local/services/alarm_evaluator.py) — fits the smallest window allowed, and the dashboards'
    # longest
    # range the default one
    shortest_period = min(MetricAlarm.from_definition(definition).period for definition in definitions.alarms)
    longest_read = lead_in_seconds(definitions) + METRICS_INTERVAL_SECONDS + 1 + shortest_period
    assert longest_read <= MINIMUM_RETENTION_SECONDS
    assert DEFAULT_RANGE_SECONDS <= DEFAULT_RETENTION_SECONDS
