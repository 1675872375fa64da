"""A local stack in its own process (`python -m local.stack.runtime`) on free ports with its own state folder,
stopped by its own process id: what `invoke up --detach` starts, and what the end-to-end tests (through
tests/local_stack_harness.py, which adds their waits) and the benchmarks run against."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from cloudformation import output_keys
from core.paths import PROJECT_ROOT
from local.console.control_client import ControlClient
from local.emulation.process import free_port
from local.state import StatePaths
from ops import local_output_keys
from ops.local_credentials import LOCAL_CREDENTIALS
from ops.reconcile import existing_ids
from ops.waiting import WaitTimedOut, wait_until

if TYPE_CHECKING:  # the runtime's imports are heavy; this module only needs the type
    from local.stack.ports import Ports

START_TIMEOUT_SECONDS = 120


@dataclass
class BackgroundStack:
    """A local stack this program started in a process of its own: the process (`stop()` ends it), its state
    folder and the outputs it wrote. Not to be confused with ops.outputs.Target (any stack the tools point at,
    by its outputs) nor with ControlClient (a client of a stack's control API, which this one holds)."""

    process: subprocess.Popen
    state_dir: Path
    outputs: dict[str, Any]

    @property
    def api_url(self) -> str:
        return self.outputs[output_keys.API_URL]

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.outputs[local_output_keys.AWS_ENDPOINT],
            region_name=self.outputs[local_output_keys.REGION],
            **LOCAL_CREDENTIALS,
        )

    @cached_property
    def control_api(self) -> ControlClient:
        return ControlClient(self.outputs[local_output_keys.CONTROL_URL])

    def control(self, method: str, path: str, body: dict | None = None) -> Any:
        return self.control_api.call(method, path, body)

    def status(self) -> dict[str, Any]:
        return self.control_api.status()

    def stored_ids(self, ids: list[str]) -> set[str]:
        return existing_ids(self.client("dynamodb"), self.outputs[output_keys.TABLE_NAME], ids)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_background_stack(
    state_dir: Path, env: str = "local", ports: Ports | None = None, *, detached: bool = False
) -> BackgroundStack:
    """Free ports unless `ports` are given; `detached`: in a session of its own, so it outlives the shell's
    Ctrl-C and the command that started it (`invoke up --detach`; `invoke down` stops it)."""
    aws, api, control = (ports.aws, ports.api, ports.control) if ports else (free_port(), free_port(), free_port())
    state_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "local.stack.runtime",
        "--env",
        env,
        "--state-dir",
        str(state_dir),
        "--aws-port",
        str(aws),
        "--api-port",
        str(api),
        "--control-port",
        str(control),
    ]
    console = (state_dir / "console.log").open("w")
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=console,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=detached,
    )
    outputs_path = StatePaths(state_dir).outputs

    def started() -> bool:
        if process.poll() is not None:
            raise _did_not_start(state_dir)
        return outputs_path.exists()

    try:
        wait_until(started, timeout=START_TIMEOUT_SECONDS, interval=0.5, what="the local stack's outputs")
    except WaitTimedOut:
        process.kill()
        raise _did_not_start(state_dir) from None
    return BackgroundStack(process=process, state_dir=state_dir, outputs=json.loads(outputs_path.read_text()))


def _did_not_start(state_dir: Path) -> RuntimeError:
    return RuntimeError(f"local stack did not start: {(state_dir / 'console.log').read_text()[-2000:]}")
