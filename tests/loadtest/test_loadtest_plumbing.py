"""Plumbing: the Locust command lines, the target from its outputs, the control API client, waits."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import boto3
import pytest
from moto import mock_aws

from cloudformation import output_keys
from core.paths import PROJECT_ROOT
from functions.common.parked import PARKED_PREFIX
from loadtest.errors import LoadTestError
from loadtest.locust_process import LocustPlan, commands, environment
from loadtest.scenarios import get_scenario
from loadtest.stack import (
    AwsStackView,
    LocalStackView,
    QueueDepth,
    _history_transition,
    sqs_depth,
)
from loadtest.target import API_KEY_ENV, local_target, resolve_load_target
from loadtest.waits import drained, wait_with_progress
from local.console.json_reply import reply_json
from ops.outputs import resolve_target
from ops.progress import ProgressLine
from tests.loadtest.fakes import fake_target

OUTPUTS = {
    "ApiUrl": "http://127.0.0.1:3000/v1",
    "ApiKey": "secret-key-value",
    "ApiKeyId": "abc123",
    "AwsEndpoint": "http://127.0.0.1:4566",
    "Region": "us-east-1",
    "TableName": "sluice-local-events",
    "QueueUrl": "http://127.0.0.1:4566/000000000000/ingest",
    "DeadLetterQueueUrl": "http://127.0.0.1:4566/000000000000/dlq",
    "ArchiveBucket": "archive",
    "ControlUrl": "http://127.0.0.1:3001",
    "Env": "local",
}


def plan(tmp_path: Path, workers: int = 0, web: bool = False) -> LocustPlan:
    return LocustPlan(get_scenario("smoke"), OUTPUTS["ApiUrl"], "local", 4, 8.0, 15.0, workers, tmp_path, web, 8123)


def test_a_single_process_run_is_headless_bounded_and_reports(tmp_path) -> None:
    (command,) = commands(plan(tmp_path))
    assert command[0] == str(Path(sys.executable).parent / "locust")
    files = command[command.index("-f") + 1].split(",")
    assert [Path(file).name for file in files] == ["locustfile.py", "smoke.py"]
    assert {"IngestUser", "BadInputUser", "--headless", "--csv", "--html", "--stop-timeout"} <= set(command)
    assert command[command.index("--sluice-run-dir") + 1] == str(tmp_path)


def test_a_relative_run_folder_is_the_callers_for_locust_too(tmp_path, monkeypatch) -> None:
    # GIVEN a run folder relative to the caller's directory, which is not the project root Locust runs in
    monkeypatch.chdir(tmp_path)
    relative = LocustPlan(get_scenario("smoke"), OUTPUTS["ApiUrl"], "local", 4, 8.0, 15.0, 0, Path("reports/run"))
    # WHEN the command is built
    (command,) = commands(relative)
    # THEN every path Locust writes to is under the caller's directory (`invoke load` checks its statistics there)
    for option in ("--sluice-run-dir", "--logfile", "--csv", "--html"):
        assert command[command.index(option) + 1].startswith(str(tmp_path / "reports" / "run")), option


def test_a_distributed_run_is_one_master_and_n_workers_on_localhost(tmp_path) -> None:
    master, *workers = commands(plan(tmp_path, workers=3), port=5599)
    assert len(workers) == 3
    assert master[master.index("--expect-workers") + 1] == "3"
    assert master[master.index("--master-bind-host") + 1] == "127.0.0.1"
    assert master[master.index("--master-bind-port") + 1] == "5599"
    for worker in workers:
        assert "--worker" in worker and worker[worker.index("--master-port") + 1] == "5599"
        assert "--csv" not in worker and "--headless" not in worker  # the master reports


def test_web_mode_serves_on_localhost_and_still_ends_by_itself(tmp_path) -> None:
    (command,) = commands(plan(tmp_path, web=True))
    assert "--headless" not in command
    assert command[command.index("--web-host") + 1] == "127.0.0.1"
    assert {"--autostart", "--autoquit"} <= set(command)


def test_the_api_key_goes_in_the_environment_never_on_the_command_line(tmp_path) -> None:
    for command in commands(plan(tmp_path, workers=1), port=5599):
        assert OUTPUTS["ApiKey"] not in " ".join(command)
    env = environment(OUTPUTS["ApiKey"], base={"LOCUST_SKIP_MONKEY_PATCH": "1", "PATH": "/bin"})
    assert env[API_KEY_ENV] == OUTPUTS["ApiKey"]
    assert "LOCUST_SKIP_MONKEY_PATCH" not in env  # Locust's processes need gevent's patches
    assert env["PYTHONPATH"].split(":")[0] == str(PROJECT_ROOT)


def test_local_target_from_outputs(tmp_path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(OUTPUTS))
    target = resolve_load_target("local", path)
    assert target.is_local and target.api_url == OUTPUTS["ApiUrl"] and target.control_url == OUTPUTS["ControlUrl"]
    assert OUTPUTS["ApiKey"] not in repr(target)


def test_load_tests_and_operators_tools_resolve_the_same_stack(tmp_path) -> None:
    # GIVEN the outputs of `invoke up --env dev`: the local stack running the dev configuration
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({**OUTPUTS, "Env": "dev", "TableName": "sluice-dev-events"}))
    # WHEN the load tests and the ops tasks each resolve `local`
    load = resolve_load_target("local", path)
    ops = resolve_target("local", local_outputs=path)
    # THEN both hold one kind of target, see the dev configuration the stack runs, the same table and key
    assert type(load) is type(ops)
    assert load.env == ops.config.env == "dev"
    assert ops.config.metrics_namespace == "Sluice/dev"
    assert (load.table_name, load.api_key()) == (ops.require(output_keys.TABLE_NAME), ops.api_key())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ControlUrl": ""}, "lack ControlUrl"),
        ({"ApiUrl": "https://abc.execute-api.us-east-1.amazonaws.com/v1"}, "not on 127.0.0.1"),
    ],
)
def test_local_target_refuses_incomplete_or_remote_outputs(change: dict[str, str], message: str) -> None:
    with pytest.raises(LoadTestError, match=message):
        local_target({**OUTPUTS, **change})


def test_a_missing_broken_or_stale_outputs_file_is_one_line(tmp_path) -> None:
    with pytest.raises(LoadTestError, match="invoke up"):
        resolve_load_target("local", tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(LoadTestError, match="not valid JSON"):
        resolve_load_target("local", tmp_path / "bad.json")
    (tmp_path / "old.json").write_text(json.dumps({key: value for key, value in OUTPUTS.items() if key != "Env"}))
    with pytest.raises(LoadTestError, match=r"no Env .* restart the local stack"):
        resolve_load_target("local", tmp_path / "old.json")


class ControlApi(BaseHTTPRequestHandler):
    """The local stack's control API, as the lead specified it."""

    posted: ClassVar[list[tuple[str, Any]]] = []
    offers_replay: ClassVar[bool] = True
    status: ClassVar[dict[str, Any]] = {
        "alarms": {"sluice-local-dlq-high": "OK", "sluice-local-api-4xx-low": "ALARM"},
        "queues": {"ingest": {"visible": 5, "in_flight": 2}, "dead_letter": {"visible": 1, "in_flight": 0}},
        "table_items": 10,
        "archive_objects": 0,
        "chaos": {"db-down": 12.5},
    }

    def _send(self, status: int, payload: Any) -> None:
        reply_json(self, status, payload)

    def do_GET(self) -> None:
        if self.path == "/status":
            self._send(200, self.status)
        elif self.path.startswith("/alarm-transitions?since="):
            since = float(self.path.split("=", 1)[1])
            item = {"alarm": "sluice-local-dlq-high", "tier": "high", "old": "OK", "new": "ALARM", "time": since + 1}
            self._send(200, [{**item, "reason": "threshold crossed"}])
        else:
            self._send(404, {"error": "not_found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.posted.append((self.path, body))
        if self.path == "/chaos" and body.get("fault") == "nope":
            self._send(400, {"error": "unknown fault 'nope'"})
        elif self.path == "/replay" and not self.offers_replay:
            self._send(404, {"error": "not_found"})
        else:
            self._send(200, {"ok": True})

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def control() -> Iterator[LocalStackView]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ControlApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = fake_target()
    yield LocalStackView(
        replace(target, outputs={**target.outputs, "ControlUrl": f"http://127.0.0.1:{server.server_port}"})
    )
    server.shutdown()
    server.server_close()


def test_local_view_reads_the_control_api(control: LocalStackView) -> None:
    assert control.status()["queues"]["ingest"] == {"visible": 5, "in_flight": 2}
    assert control.alarm_states()["sluice-local-api-4xx-low"] == "ALARM"
    assert control.faults() == {"db-down": 12.5}
    (transition,) = control.transitions(1000.0)
    assert (transition.alarm, transition.new, transition.time, transition.tier) == (
        "sluice-local-dlq-high",
        "ALARM",
        1001.0,
        "high",
    )


def test_local_view_posts_chaos_and_replay(control: LocalStackView) -> None:
    ControlApi.posted.clear()
    control.inject("db-down", 90)
    control.replay(0)
    assert ControlApi.posted == [
        ("/chaos", {"fault": "db-down", "seconds": 90}),
        ("/replay", {"since": "1970-01-01T00:00:00Z"}),
    ]
    with pytest.raises(LoadTestError, match="400"):
        control.inject("nope", 1)


def test_a_web_run_puts_its_link_on_the_console(control: LocalStackView) -> None:
    ControlApi.posted.clear()
    control.announce_web("http://127.0.0.1:8089/", 120.0)
    assert ControlApi.posted == [("/console/api/locust", {"url": "http://127.0.0.1:8089/", "seconds": 120.0})]


def test_without_a_replay_endpoint_the_view_replays_with_the_operator_tool(control: LocalStackView) -> None:
    # GIVEN a control API without /replay, and outputs that name no archive bucket
    ControlApi.offers_replay = False
    try:
        # WHEN a replay is asked for THEN the fallback (ops.replay) explains what it lacks
        with pytest.raises(LoadTestError, match="no ArchiveBucket"):
            control.replay(0)
    finally:
        ControlApi.offers_replay = True


def test_local_view_says_when_the_stack_is_not_up() -> None:
    with pytest.raises(LoadTestError, match="is the stack up"):
        LocalStackView(fake_target()).alarm_states()  # nothing listens on the fake's control port


def test_aws_view_refuses_faults_and_replay() -> None:
    view = AwsStackView.__new__(AwsStackView)
    with pytest.raises(LoadTestError, match="only against the local stack"):
        view.inject("db-down", 10)
    with pytest.raises(LoadTestError, match="only against the local stack"):
        view.replay(0)


def test_cloudwatch_history_items_become_transitions() -> None:
    from datetime import UTC, datetime

    item = {
        "AlarmName": "sluice-dev-dlq-high",
        "Timestamp": datetime(2026, 1, 1, tzinfo=UTC),
        "HistoryData": json.dumps({"oldState": {"stateValue": "OK"}, "newState": {"stateValue": "ALARM"}}),
        "HistorySummary": "Alarm updated from OK to ALARM",
    }
    transition = _history_transition(item)
    assert (transition.old, transition.new, transition.tier) == ("OK", "ALARM", "high")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_drain_waits_until_the_queues_stay_empty() -> None:
    # GIVEN queues that empty, flicker back, then stay empty
    depths = [QueueDepth(5), QueueDepth(), QueueDepth(0, 1), QueueDepth(), QueueDepth(), QueueDepth()]
    clock = Clock()
    # WHEN drained with a settle of three polls
    result = wait_with_progress(
        drained(lambda: depths.pop(0)), "draining", 60, ProgressLine(None), 3, 1, clock, clock.sleep
    )
    # THEN it is done only after three empty polls in a row
    assert result.done and clock.now == 5


def test_drain_waits_for_the_events_parked_for_retry() -> None:
    # GIVEN empty queues while the retrier still holds parked objects (events not yet back in the queue)
    depths = [QueueDepth(parked=2), QueueDepth(parked=1), QueueDepth(), QueueDepth()]
    clock = Clock()
    # WHEN drained with a settle of two polls
    result = wait_with_progress(
        drained(lambda: depths.pop(0)), "draining", 60, ProgressLine(None), 2, 1, clock, clock.sleep
    )
    # THEN it is done only once nothing is parked either (a run reconciled early found its parked events lost)
    assert result.done and clock.now == 3


@mock_aws
def test_the_queue_depth_counts_the_parked_objects() -> None:
    # GIVEN a stack's queues, empty, and two objects parked in its archive bucket
    sqs, s3 = boto3.client("sqs", region_name="us-east-1"), boto3.client("s3", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="ingest")["QueueUrl"]
    dead = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    s3.create_bucket(Bucket="archive")
    for name in ("a", "b"):
        s3.put_object(Bucket="archive", Key=f"{PARKED_PREFIX}{name}.jsonl.gz", Body=b"")
    s3.put_object(Bucket="archive", Key="dlq/2026/x.json", Body=b"")  # an archived dead letter: not parked
    stack = fake_target()
    target = replace(
        stack, outputs={**stack.outputs, "QueueUrl": queue, "DeadLetterQueueUrl": dead, "ArchiveBucket": "archive"}
    )
    # WHEN its depth is read
    depth = sqs_depth(sqs, target, s3)
    # THEN the parked objects count, and the queues are not empty of work until they are gone
    assert depth == QueueDepth(parked=2) and not depth.empty and "2 parked objects" in depth.describe()


def test_a_wait_is_bounded_and_survives_failing_checks() -> None:
    def check() -> tuple[bool, str]:
        raise ConnectionError("refused")

    clock = Clock()
    result = wait_with_progress(check, "draining", 10, ProgressLine(None), 1, 1, clock, clock.sleep)
    assert not result.done and clock.now == 10 and "refused" in result.note


def test_the_orchestrator_never_imports_locust() -> None:
    # Locust's import patches the standard library with gevent; `invoke load` must stay unpatched.
    code = "import sys, loadtest.cli, loadtest.run; print('locust' in sys.modules, 'gevent' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
