"""moto server lifecycle, the port check and the pidfile that `invoke down` uses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.emulation.process import (
    IN_FLIGHT_LIMIT_ENV,
    MotoServer,
    PortInUseError,
    ensure_port_free,
    free_port,
    read_pidfile,
    start_moto,
    stop_from_pidfile,
    write_pidfile,
)


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_port_in_use_is_one_clear_line(listening_port: int, tmp_path: Path) -> None:
    # GIVEN a port something already listens on
    # WHEN moto is started there
    with pytest.raises(PortInUseError) as raised:
        start_moto(port=listening_port, log_path=tmp_path / "moto.log")
    # THEN the error names the port and the way out, on one line, and no server was spawned
    message = str(raised.value)
    assert f"port {listening_port} on 127.0.0.1 is already in use" in message
    assert "invoke down" in message
    assert "\n" not in message
    assert not (tmp_path / "moto.log").exists()


def test_port_check_sees_a_running_server(moto: MotoServer) -> None:
    # GIVEN the session's moto server WHEN its port is checked THEN it is taken
    with pytest.raises(PortInUseError):
        ensure_port_free(moto.host, moto.port)


def test_moto_answers_aws_calls(moto: MotoServer) -> None:
    # GIVEN the session's moto server WHEN a client lists queues THEN it answers on 127.0.0.1
    assert moto.endpoint_url.startswith("http://127.0.0.1:")
    assert moto.client("sqs").list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_stop_ends_the_process_by_its_pid(tmp_path: Path) -> None:
    # GIVEN a moto server of our own, used as a context manager
    with start_moto(port=free_port(), log_path=tmp_path / "moto.log") as server:
        assert server.process.poll() is None
    # WHEN the block ends THEN the process is gone
    assert server.process.poll() is not None


def test_without_a_limit_moto_gets_sqss_quota_whatever_the_callers_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a caller whose environment holds an in-flight limit of 1
    monkeypatch.setenv(IN_FLIGHT_LIMIT_ENV, "1")
    # WHEN it starts moto without giving a limit
    with start_moto(port=free_port(), log_path=tmp_path / "moto.log") as server:
        sqs = server.client("sqs")
        url = sqs.create_queue(QueueName="queue")["QueueUrl"]
        for body in ("first", "second"):
            sqs.send_message(QueueUrl=url, MessageBody=body)
        # THEN a queue holds more than one message in flight: the variable did not reach the server
        assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 2


def test_pidfile_lets_another_shell_stop_the_stack(tmp_path: Path) -> None:
    # GIVEN a running process recorded in a pidfile
    pidfile = tmp_path / ".local" / "runtime.pid"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_pidfile(pidfile, child.pid)
        assert read_pidfile(pidfile) == child.pid
        # WHEN it is stopped from the pidfile
        assert stop_from_pidfile(pidfile, timeout=5)
        # THEN the process ended and the pidfile is gone
        assert child.wait(5) is not None
        assert not pidfile.exists()
    finally:
        child.kill()
        child.wait()


def test_a_recycled_pid_is_never_stopped(tmp_path: Path) -> None:
    # GIVEN a pidfile whose pid now belongs to another process (different start time)
    pidfile = tmp_path / "runtime.pid"
    pidfile.write_text(json.dumps({"pid": os.getpid(), "create_time": 1.0}))
    # WHEN it is read THEN it is stale, and stopping from it stops nothing
    assert read_pidfile(pidfile) is None
    assert stop_from_pidfile(pidfile)
    assert not pidfile.exists()
