"""A person's shell beside a test's local stack, for running the docs' commands as written.

The shell runs in a look-alike of the project root: every top-level entry of the project linked in, `.local` the test
stack's state folder and `.venv/bin/invoke` the project's invoke, so `.local/outputs.json` and `.venv/bin/invoke`
mean there what they mean in a checkout where `invoke up` runs. SLUICE_STATE_DIR names the stack's folder (what
`invoke up --detach` tells people to set for a stack outside `.local`); `run_after_export` runs a script after the
export line `invoke up --detach` prints for the stack, as the docs ask. `aws` is tests/e2e/aws_cli.py: the CLI's
grammar over botocore (the project does not depend on the CLI).

The one thing changed in a command's text is the port: the docs show the default ports (API 3000, AWS 4566, control
3001), which a test stack on a shared machine cannot take; `on_stack_ports` puts the test stack's in their place.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cloudformation import output_keys
from core.config import load_config
from core.paths import PROJECT_ROOT
from local.stack.detach import where_everything_is
from ops import local_output_keys
from tests.local_stack_harness import HarnessStack

PROJECT = PROJECT_ROOT
LOCAL = load_config("local").local
NOT_LINKED = {".venv", ".local", ".git", "reports"}  # the look-alike's own (.git: unneeded; reports: written)


def _executable(path: Path, script: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


@dataclass(frozen=True)
class Ran:
    command: str
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"$ {self.command}\nexit {self.returncode}\n{self.stdout[-3000:]}\n{self.stderr[-3000:]}"


class UserShell:
    """bash in the project look-alike under `home`, with the pasted environment of `stack`."""

    def __init__(self, stack: HarnessStack, home: Path) -> None:
        self.stack = stack
        self.root = home / "sluice"
        self.root.mkdir(parents=True)
        for entry in PROJECT.iterdir():
            if entry.name not in NOT_LINKED:
                (self.root / entry.name).symlink_to(entry)
        (self.root / ".local").symlink_to(stack.state_dir)
        _executable(self.root / ".venv/bin/invoke", f'#!/bin/sh\nexec "{sys.executable}" -m invoke "$@"\n')
        bin_dir = home / "bin"
        _executable(bin_dir / "aws", f'#!/bin/sh\nexec "{sys.executable}" -m tests.e2e.aws_cli "$@"\n')
        _executable(bin_dir / "invoke", f'#!/bin/sh\nexec "{sys.executable}" -m invoke "$@"\n')
        clean = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SLUICE_"))}
        self.environment = {
            **clean,
            "HOME": str(home),
            "PATH": os.pathsep.join([str(bin_dir), clean.get("PATH", "")]),
            "PYTHONPATH": str(PROJECT),
            "SLUICE_STATE_DIR": str(stack.state_dir),
        }

    def on_stack_ports(self, text: str) -> str:
        """The docs' default ports replaced by the test stack's."""
        ports = {
            LOCAL.api_port: _port(self.stack.outputs[output_keys.API_URL]),
            LOCAL.aws_port: _port(self.stack.outputs[local_output_keys.AWS_ENDPOINT]),
            LOCAL.console_port: _port(self.stack.outputs[local_output_keys.CONTROL_URL]),
        }
        for documented, actual in ports.items():
            text = text.replace(f"127.0.0.1:{documented}", f"127.0.0.1:{actual}")
        return text

    def export_line(self) -> str:
        """The `export …` line `invoke up --detach` prints for this stack (its port, its region)."""
        banner = where_everything_is(self.stack.outputs, self.stack.status(), self.stack.state_dir)
        (line,) = [line.strip() for line in banner.splitlines() if line.strip().startswith("export ")]
        return line

    def run_after_export(self, script: str, timeout: float = 300) -> Ran:
        """`script` in a shell where the reader pasted the export line `invoke up --detach` printed."""
        return self.run(f"{self.export_line()}\n{script}", timeout)

    def run(self, script: str, timeout: float = 300) -> Ran:
        """`script` (after the port swap) under `bash -euo pipefail`, in the look-alike root."""
        command = self.on_stack_ports(script)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=self.root,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Ran(command, done.returncode, done.stdout, done.stderr)
