"""LocalFunction: the Lambda-like context, reserved concurrency, errors, timeouts and metrics."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

from local.services.lambdas import (
    FunctionTimeoutError,
    TooManyRequestsException,
    current_request_id,
)
from local.services.metrics import MetricSink
from tests.local.helpers import named, stub_function


def test_handler_gets_a_lambda_context() -> None:
    # GIVEN a function with a 3 s timeout and 256 MB
    seen: dict[str, Any] = {}

    def handler(event: Any, context: Any) -> str:
        seen.update(vars(context), remaining=context.get_remaining_time_in_millis())
        seen["request_id_in_thread"] = current_request_id()
        return "done"

    function = stub_function(handler, name="ingest", timeout_seconds=3, memory_mb=256)
    # WHEN it is invoked
    assert function.invoke({"x": 1}) == "done"
    # THEN the context carries what the Python runtime's does
    assert seen["function_name"] == "ingest"
    assert seen["memory_limit_in_mb"] == 256
    assert seen["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:ingest"
    assert seen["log_group_name"] == "/aws/lambda/ingest"
    assert seen["function_version"] == "$LATEST"
    assert 0 < seen["remaining"] <= 3000
    # AND fault injection can tell which invocation runs in the thread
    assert seen["request_id_in_thread"] == seen["aws_request_id"]
    assert current_request_id() is None


def test_busy_reserved_concurrency_throttles() -> None:
    # GIVEN a function with reserved concurrency 1, busy with one invocation
    sink = MetricSink()
    release = threading.Event()
    started = threading.Event()

    def handler(event: Any, context: Any) -> None:
        started.set()
        release.wait(10)

    function = stub_function(handler, sink=sink, reserved_concurrency=1)
    busy = threading.Thread(target=function.invoke, args=({},))
    busy.start()
    assert started.wait(10)
    try:
        # WHEN a second invocation arrives
        with pytest.raises(TooManyRequestsException):
            function.invoke({})
    finally:
        release.set()
        busy.join(10)
    # THEN it was throttled, not invoked, and the metrics say so
    stats = function.stats()
    assert (stats.invocations, stats.throttles, stats.max_in_flight, stats.in_flight) == (1, 1, 1, 0)
    points = sink.drain()
    assert named(points, "Throttles") == [1]
    assert named(points, "Invocations") == [1]
    assert named(points, "ConcurrentExecutions") == [1]


def test_handler_error_is_raised_and_counted() -> None:
    # GIVEN a handler that fails
    sink = MetricSink()

    def handler(event: Any, context: Any) -> None:
        raise KeyError("boom")

    function = stub_function(handler, sink=sink)
    # WHEN invoked THEN its exception reaches the caller
    with pytest.raises(KeyError):
        function.invoke({})
    # AND it counts as an invocation with an error and a duration
    points = sink.drain()
    assert named(points, "Errors") == [1]
    assert named(points, "Invocations") == [1]
    assert len(named(points, "Duration")) == 1
    assert all(p.dimensions == (("FunctionName", "stub"),) for p in points)


def test_overrunning_handler_times_out() -> None:
    # GIVEN a handler that runs past its function's timeout
    sink = MetricSink()
    function = stub_function(lambda event, context: time.sleep(0.2), sink=sink, timeout_seconds=0.05)
    # WHEN invoked THEN its result is discarded like Lambda's and it counts as an error
    with pytest.raises(FunctionTimeoutError, match=r"Task timed out after 0\.05 seconds"):
        function.invoke({})
    points = sink.drain()
    assert named(points, "Errors") == [1]
    # AND the reported duration stops at the timeout, as Lambda's does
    assert named(points, "Duration") == [50.0]
    assert function.stats().errors == 1


def test_successful_invocation_reports_zero_errors() -> None:
    # GIVEN a healthy handler WHEN invoked THEN Errors is reported as 0 (not missing)
    sink = MetricSink()
    stub_function(lambda event, context: None, sink=sink).invoke({})
    assert named(sink.drain(), "Errors") == [0]


def test_each_function_reads_its_own_service_name_at_import_though_they_share_one_process(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a handler module that reads POWERTOOLS_SERVICE_NAME at import (as ours do), and a process environment
    # holding another function's value (the runtime sets every function's variables in one process)
    package = tmp_path / "reads_service"
    package.mkdir()
    (package / "__init__.py").write_text("")
    module = ["import os", "SERVICE = os.environ['POWERTOOLS_SERVICE_NAME']", "def handler(event, context):"]
    (package / "app.py").write_text("\n".join([*module, "    return SERVICE", ""]))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "canary")
    from local.services.lambdas import FunctionSettings, LocalFunction

    functions = {
        name: LocalFunction.from_handler_path(
            FunctionSettings(name=name, environment={"POWERTOOLS_SERVICE_NAME": name}), "reads_service.app.handler"
        )
        for name in ("ingest", "consumer")
    }
    # WHEN each is invoked THEN each module copy read its own function's name, and the process keeps its value
    assert {name: function.invoke({}) for name, function in functions.items()} == {
        "ingest": "ingest",
        "consumer": "consumer",
    }

    assert os.environ["POWERTOOLS_SERVICE_NAME"] == "canary"


def test_a_new_environments_hook_runs_in_the_functions_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a function whose new-environment hook imports something that reads POWERTOOLS_SERVICE_NAME (ingest's
    # keyed requests: a Powertools child logger takes its service from it), while the process holds another value
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "retrier")
    from local.services.lambdas import FunctionSettings, LocalFunction

    seen: list[str | None] = []
    function = LocalFunction.from_handler_path(
        FunctionSettings(name="ingest", environment={"POWERTOOLS_SERVICE_NAME": "ingest"}),
        "json.dumps",
        on_environment=lambda module: seen.append(os.environ.get("POWERTOOLS_SERVICE_NAME")),
    )
    # WHEN its first environment is made THEN the hook saw the function's own name, and the process keeps its own
    assert function is not None and seen == ["ingest"]
    assert os.environ["POWERTOOLS_SERVICE_NAME"] == "retrier"
