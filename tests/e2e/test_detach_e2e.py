"""`invoke up --detach` (local/stack/detach.py): returns once the stack is healthy, says where everything is, keeps
the stack's chatter in its console log, and leaves a stack that `invoke down` (its pidfile) stops."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from core.config import load_config
from local.emulation.process import PortInUseError, free_port, read_pidfile, stop_from_pidfile
from local.stack.detach import up_detached
from local.stack.ports import Ports

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("own-stack-detach")]


def test_a_detached_stack_is_healthy_when_up_returns_and_down_stops_it(tmp_path: Path) -> None:
    config = load_config("local")
    ports = Ports(aws=free_port(), api=free_port(), control=free_port())
    # GIVEN a stale outputs file from a stack that died hard
    (tmp_path / "outputs.json").write_text('{"ControlUrl": "http://127.0.0.1:1"}')
    try:
        # WHEN the stack is started detached
        banner = up_detached(config, ports, tmp_path)
        # THEN on return the control API already answers, with every alarm evaluated
        pid = read_pidfile(tmp_path / "runtime.pid")
        assert pid is not None
        status = requests.get(f"http://127.0.0.1:{ports.control}/status", timeout=10).json()
        assert status["alarms"] and status["queues"]["ingest"]["visible"] == 0
        # AND it runs in a session of its own (Ctrl-C in the shell does not reach it)
        assert os.getsid(pid) != os.getsid(0)
        # AND the banner says where the API is, a line to paste for the aws CLI, and how to see the logs
        assert f"http://127.0.0.1:{ports.api}/v1/events" in banner
        assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{ports.aws} AWS_DEFAULT_REGION={config.region}" in banner
        assert "invoke logs [--errors] [--follow]" in banner and "invoke down" in banner
        # AND the console's URL, and what AWS CLI v1's sqs needs (it ignores AWS_ENDPOINT_URL)
        assert f"console    http://127.0.0.1:{ports.control}/" in banner
        assert "AWS CLI v1's `aws sqs` ignores AWS_ENDPOINT_URL: add --endpoint-url $AWS_ENDPOINT_URL" in banner
        # AND the stack's own chatter went to its console log, not to the caller
        assert "Sluice local stack is up" in (tmp_path / "console.log").read_text()
        # AND a second start on the same ports is refused in one line, leaving the first one running
        with pytest.raises(PortInUseError, match=f"a Sluice local stack holds it .*state folder {tmp_path}"):
            up_detached(config, ports, tmp_path)
        assert (tmp_path / "outputs.json").exists()
    finally:
        # WHEN `invoke down` stops it by its pidfile THEN it stops
        assert stop_from_pidfile(tmp_path / "runtime.pid", timeout=30)
        stop_from_pidfile(tmp_path / "moto.pid", timeout=10)
    assert not (tmp_path / "outputs.json").exists()
