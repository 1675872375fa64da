"""The local rehearsal of the Fargate tasks: the container command lines of the load generator's task
definitions, run as local processes, each in a fresh folder as a fresh container would.

The only differences from Fargate: `python` is this environment's (the Locust the tests run; the image's tag is
pinned to it), the master listens on 127.0.0.1, and the bundle and results travel through the local stack's S3.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtest.fargate.stack import MASTER, WORKER

LOCAL_ADDRESS = "127.0.0.1"
STOP_WAIT_SECONDS = 60  # like the task definitions' StopTimeout: Locust stops, the results go up
DROPPED_VARIABLES = ("LOCUST_SKIP_MONKEY_PATCH", "PYTHONPATH")  # a container has neither: the bundle must do


@dataclass(frozen=True)
class ContainerCommand:
    command: list[str]  # EntryPoint + Command
    environment: dict[str, str]


def task_definition_commands(template: Mapping[str, Any]) -> dict[str, ContainerCommand]:
    """What each task definition's container runs, by role (the container's first command argument)."""
    commands = {}
    for body in template["Resources"].values():
        if body["Type"] == "AWS::ECS::TaskDefinition":
            (container,) = body["Properties"]["ContainerDefinitions"]
            commands[container["Command"][0]] = ContainerCommand(
                [*container.get("EntryPoint", []), *container["Command"]],
                {item["Name"]: item["Value"] for item in container.get("Environment", [])},
            )
    return commands


class LocalTasks:
    """Starts, watches and stops the rehearsal's processes, with the interface of EcsTasks."""

    def __init__(self, template: Mapping[str, Any], folder: Path | None = None) -> None:
        self.commands = task_definition_commands(template)
        self.folder = Path(folder or tempfile.mkdtemp(prefix="sluice-rehearsal-"))
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.started: list[str] = []

    def _environment(self, role: str, environment: Mapping[str, str]) -> dict[str, str]:
        base = {key: value for key, value in os.environ.items() if key not in DROPPED_VARIABLES}
        base["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), base.get("PATH", "")])
        return {**base, **self.commands[role].environment, **environment}

    def start(self, role: str, count: int, environment: Mapping[str, str]) -> list[str]:
        if role not in (MASTER, WORKER) or role not in self.commands:
            raise ValueError(f"no task definition for {role!r}")
        names = []
        for _ in range(count):
            name = f"{role}-{len(self.processes)}"
            home = self.folder / name
            home.mkdir(parents=True)
            with (home / "container.log").open("wb") as log:
                self.processes[name] = subprocess.Popen(
                    self.commands[role].command,
                    cwd=home,
                    env=self._environment(role, environment),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            names.append(name)
            self.started.append(name)
        return names

    def statuses(self, names: Sequence[str]) -> dict[str, str]:
        return {name: "RUNNING" if self.processes[name].poll() is None else "STOPPED" for name in names}

    def address(self, name: str) -> str | None:
        return LOCAL_ADDRESS if name in self.processes else None

    def exit_code(self, name: str) -> int | None:
        return self.processes[name].poll()

    def stop(self, names: Sequence[str], reason: str) -> list[str]:
        """SIGTERM, as StopTask sends; the processes then upload what they have."""
        for name in names:
            if self.processes[name].poll() is None:
                self.processes[name].terminate()
        return []

    def kill_all(self) -> None:
        """The rehearsal's own last resort (ECS kills a container after its StopTimeout)."""
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    process.wait(STOP_WAIT_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self.folder / name / "container.log"
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
