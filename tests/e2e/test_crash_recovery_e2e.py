"""A runtime killed with SIGKILL while events wait in the queue: the restart resumes on the moto server it left
behind, and every accepted event is stored. A second runtime on the same state folder is refused and leaves
the running one untouched. These tests run stacks of their own (they kill them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from local.emulation.process import free_port, read_pidfile
from local.stack.background import PROJECT_ROOT
from tests.local_stack_harness import start_harness_stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("own-stack-crash-recovery")]


def waiting_unreceived(status: dict) -> bool:
    """Messages wait in the ingest queue and none is being received (the mapping is stuck)."""
    ingest = status["queues"]["ingest"]
    return ingest["visible"] > 0 and ingest["in_flight"] == 0


def test_kill_9_with_events_queued_then_restart_stores_every_accepted_event(tmp_path: Path) -> None:
    # GIVEN a stack whose consumer's mapping is stuck (nothing is received), with accepted events waiting in the
    # queue (a database outage would park them in S3 instead: they would not wait in the queue)
    state = tmp_path / "state"
    first = start_harness_stack(state)
    restarted = None
    try:
        first.inject("consumer-paused", 600)
        ids: list[str] = []
        for index in range(10):
            response = first.post_events([{"crash": index, "n": n} for n in range(3)])
            assert response.status_code == 202
            ids += response.json()["ids"]
        # queued by their 202s; a message may hold several events, so the queue counts messages, not events
        first.wait_until(waiting_unreceived, 60, "the accepted events to wait in the queue")
        moto_pid = read_pidfile(state / "moto.pid")
        # WHEN the runtime is killed with SIGKILL (nothing of it runs to clean up) and started again
        first.process.kill()
        first.process.wait(30)
        (state / "outputs.json").unlink()  # the dead runtime's; the new one writes its own
        restarted = start_harness_stack(state)
        # THEN the restart took over the surviving moto server, its stack and its queue ...
        console = (state / "console.log").read_text()
        assert "resuming on the moto server a crashed runtime left running" in console
        assert read_pidfile(state / "moto.pid") == moto_pid
        # ... and every event the crashed runtime accepted is stored
        restarted.wait_until(lambda _: restarted.stored_ids(ids) == set(ids), 120, "every accepted event stored")
    finally:
        for stack in (restarted, first):
            if stack is not None:
                stack.stop()
    # AND a clean stop takes moto with it
    assert moto_pid is not None and not psutil.pid_exists(moto_pid)


def test_a_second_runtime_on_the_same_state_folder_is_refused(tmp_path: Path) -> None:
    # GIVEN a running stack
    state = tmp_path / "state"
    running = start_harness_stack(state)
    try:
        files = {name: (state / name).read_text() for name in ("outputs.json", "runtime.pid", "moto.pid")}
        # WHEN a second runtime is started on its state folder (its own ports, so only the folder is shared)
        ports = {"--aws-port": free_port(), "--api-port": free_port(), "--control-port": free_port()}
        second = subprocess.run(
            [sys.executable, "-m", "local.stack.runtime", "--state-dir", str(state)]
            + [part for flag, port in ports.items() for part in (flag, str(port))],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # THEN it is refused with one line, and the running stack keeps its files and keeps answering
        assert second.returncode == 1
        assert second.stderr.startswith("error: another local stack (pid ") and second.stderr.count("\n") == 1
        assert "Traceback" not in second.stderr + second.stdout
        assert {name: (state / name).read_text() for name in files} == files
        assert running.post_events({"still": "up"}).status_code == 202
        assert json.loads((state / "outputs.json").read_text())["ApiUrl"] == running.api_url
    finally:
        running.stop()
