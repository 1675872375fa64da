"""A local stack in its own process (`python -m local.stack.runtime`) on free ports with its own state folder,
stopped by its own process id: what `invoke up --detach` starts, and what the end-to-end tests (through
tests/local_stack_harness.py, which adds their waits) and the benchmarks run against."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import requests

from core.paths import PROJECT_ROOT
from functions.common.contract import CANARY_ATTRIBUTE
from local.console.control_client import ControlClient
from local.emulation.process import free_port
from local.state import StatePaths
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
        return self.outputs["ApiUrl"]

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.outputs["AwsEndpoint"],
            region_name=self.outputs["Region"],
            **LOCAL_CREDENTIALS,
        )

    def post_events(
        self, body: Any, headers: dict[str, str] | None = None, key: str | None = "default"
    ) -> requests.Response:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key is not None:
            sent["x-api-key"] = self.outputs["ApiKey"] if key == "default" else key
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return requests.post(f"{self.api_url}/events", data=data, headers=sent, timeout=30)

    @cached_property
    def control_api(self) -> ControlClient:
        return ControlClient(self.outputs["ControlUrl"])

    def control(self, method: str, path: str, body: dict | None = None) -> Any:
        return self.control_api.call(method, path, body)

    def status(self) -> dict[str, Any]:
        return self.control_api.status()

    def inject(self, fault: str, seconds: float) -> None:
        self.control_api.inject(fault, seconds)

    def lift(self, fault: str) -> None:
        self.control_api.lift(fault)

    def stored_ids(self, ids: list[str]) -> set[str]:
        return existing_ids(self.client("dynamodb"), self.outputs["TableName"], ids)

    @contextlib.contextmanager
    def canary_paused(self) -> Iterator[None]:
        """No canary run (and so no canary request through ingest) while the block runs: for tests that check
        that their own requests ran nothing."""
        self.control("POST", "/canary", {"paused": True})
        try:
            yield
        finally:
            self.control("POST", "/canary", {"paused": False})

    def client_items(self, attempts: int = 20) -> int:
        """Items in the table that are not the canary's. The canary stores one every few seconds: the table's
        count is read between two counts of canary items, and read again until no canary item landed meanwhile."""
        dynamodb, table = self.client("dynamodb"), self.outputs["TableName"]
        for _ in range(attempts):
            before = _canary_items(dynamodb, table)
            total = int(dynamodb.describe_table(TableName=table)["Table"]["ItemCount"])
            if _canary_items(dynamodb, table) == before:
                return total - before
        raise RuntimeError(f"canary items kept landing while counting {table}")

    def functions_log(self) -> str:
        return (self.state_dir / "logs" / "functions.log").read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _canary_items(dynamodb: Any, table: str) -> int:
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table,
        Select="COUNT",
        ConsistentRead=True,
        FilterExpression="attribute_exists(#canary)",
        ExpressionAttributeNames={"#canary": CANARY_ATTRIBUTE},
    )
    return sum(page["Count"] for page in pages)


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
