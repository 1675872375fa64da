"""Crash recovery for the local stack: one runtime per state folder, and a restart after a crash resumes on the
moto server the crashed runtime left behind, with the deployed stack and every stored and queued event.

- The state folder is locked (an exclusive flock on `runtime.lock`) for the runtime's whole life. The kernel
  releases it when the process dies, even by `kill -9`, so a lock held means a live runtime: a second one on
  the same folder is refused before it touches any file there.
- moto runs in its own session (a Ctrl-C in the terminal reaches the runtime, which stops moto in order), so
  a runtime killed hard leaves moto running with all its data. Its pidfile (with the process's start time, so a
  recycled pid is never mistaken for it) and the deployed stack's description (`stack.json`) let the next
  start adopt it instead of failing on its port; `invoke down` stops it too.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import psutil
import requests
from botocore.client import BaseClient

from core.config import Config
from local.deploying.deploy import LocalStack
from local.deploying.resolver import StackValues
from local.emulation.process import DEFAULT_REGION, aws_client, read_pidfile, stop_process
from ops.state_folder import STATE_DIR_VARIABLE


class StateFolderInUse(RuntimeError):
    """Another live runtime holds the state folder; the message is one line with the fix."""


def lock_state_folder(root: Path) -> IO[str]:
    """Hold `root`'s lock for as long as the returned file stays open; StateFolderInUse if a runtime has it."""
    root.mkdir(parents=True, exist_ok=True)
    handle = (root / "runtime.lock").open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise StateFolderInUse(
            f"another local stack (pid {holder}) is running on the state folder {root} — "
            f"stop it with `{STATE_DIR_VARIABLE}={root} invoke down`, or start this one on another state folder "
            f"(`invoke up --state-dir DIR` or {STATE_DIR_VARIABLE}=DIR)"
        ) from None
    handle.truncate(0)
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


@dataclass
class AdoptedMoto:
    """A moto server a crashed runtime left running, taken over by its pid (the same face as MotoServer)."""

    host: str
    port: int
    pid: int

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client(self, service: str, region: str = DEFAULT_REGION, **config: Any) -> BaseClient:
        return aws_client(service, self.endpoint_url, region, **config)

    def stop(self, timeout: float = 5.0) -> None:
        stop_process(self.pid, timeout)


def surviving_moto(pidfile: Path, host: str = "127.0.0.1") -> AdoptedMoto | None:
    """The moto server of `pidfile` if that very process still runs and answers HTTP on a port of its own."""
    pid = read_pidfile(pidfile)
    if pid is None:
        return None
    try:
        ports = [conn.laddr.port for conn in psutil.Process(pid).net_connections(kind="tcp") if conn.status == "LISTEN"]
    except psutil.Error:
        return None
    for port in ports:
        moto = AdoptedMoto(host, port, pid)
        try:
            requests.get(f"{moto.endpoint_url}/moto-api/", timeout=2).raise_for_status()
        except requests.RequestException:
            continue
        return moto
    return None


def crash_hint(root: Path) -> str:
    """What to do when the runtime does not answer: one sentence, naming a moto server it left running."""
    moto = surviving_moto(root / "moto.pid")
    if moto is None:
        return "is it still running? start it with `invoke up`"
    return (
        f"its runtime is gone but its moto server (pid {moto.pid}) still holds the stack's data: "
        "`invoke up` resumes on it, `invoke down` stops it"
    )


# --- the deployed stack's description, so a restart can resume without deploying again ---------------------


def save_stack(stack: LocalStack, path: Path) -> None:
    record = {
        "stack_name": stack.config.stack_name,
        "template": stack.template,
        "values": asdict(stack.values),
        "outputs": stack.outputs,
        "alarms": stack.alarms,
        "composite_alarms": stack.composite_alarms,
        "api_keys": stack.api_keys,
    }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record, default=str), encoding="utf-8")
    temporary.replace(path)  # atomic: a crash mid-write leaves the previous description or none


def load_stack(config: Config, path: Path) -> LocalStack | None:
    """The description saved for `config`'s stack, or None (absent, unreadable, or another stack's)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record["stack_name"] != config.stack_name:
            return None
        return LocalStack(
            config=config,
            template=record["template"],
            values=StackValues(**record["values"]),
            outputs=record["outputs"],
            alarms=record["alarms"],
            composite_alarms=record["composite_alarms"],
            api_keys=record["api_keys"],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
