"""Where a local stack listens and keeps its state, as the operator chose, and who holds a port it cannot take.

Each port comes from, first to last: the task's flag (`invoke up --api-port 3100`), the environment
(`SLUICE_API_PORT=3100`), the configuration (`local.api_port` in sluice.toml). The state folder is
ops/state_folder.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from core.config import Config
from local.emulation.process import PortInUseError, ensure_port_free
from ops.state_folder import STATE_DIR_VARIABLE

# role → (the flag of `invoke up`/`invoke demo`, the environment variable)
PORT_CHOICES = {
    "aws": ("--aws-port", "SLUICE_AWS_PORT"),
    "api": ("--api-port", "SLUICE_API_PORT"),
    "control": ("--console-port", "SLUICE_CONSOLE_PORT"),
}
ROLE_NAMES = {"aws": "moto server (AWS)", "api": "API gateway", "control": "console and control API"}


class PortChoiceError(ValueError):
    """A port flag or variable that is not a port number; the message is one line naming it."""


@dataclass(frozen=True)
class Ports:
    aws: int
    api: int
    control: int  # the console and the control API

    @classmethod
    def from_config(cls, config: Config) -> Ports:
        local = config.local
        return cls(aws=local.aws_port, api=local.api_port, control=local.console_port)


def chosen_ports(config: Config, flags: Mapping[str, int | str | None], environment: Mapping[str, str]) -> Ports:
    """The ports from the flags (role → value or None), else the environment, else the configuration."""
    configured = Ports.from_config(config)
    chosen: dict[str, int] = {}
    for role, (flag, variable) in PORT_CHOICES.items():
        value = flags.get(role)
        if value is not None:
            chosen[role] = _port(value, flag)
        elif environment.get(variable, "").strip():
            chosen[role] = _port(environment[variable].strip(), variable)
        else:
            chosen[role] = getattr(configured, role)
    ports = Ports(**chosen)
    if len({ports.aws, ports.api, ports.control}) < 3:
        raise PortChoiceError(
            f"the AWS, API and console ports must differ, got {ports.aws}, {ports.api}, {ports.control}"
        )
    return ports


def _port(value: int | str, source: str) -> int:
    text = str(value)
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise PortChoiceError(f"{source}: expected a port number 1-65535, got {text!r}")
    return int(text)


def ensure_ports_free(ports: Ports, roles: tuple[str, ...] = ("aws", "api", "control")) -> None:
    """PortInUseError for the first of `roles` whose port on 127.0.0.1 is held, naming the holder: one line."""
    for role in roles:
        port = getattr(ports, role)
        try:
            ensure_port_free("127.0.0.1", port)
        except PortInUseError:
            raise PortInUseError(
                "127.0.0.1", port, f"wanted for the {ROLE_NAMES[role]}; {port_owner(port, role)}"
            ) from None


def port_owner(port: int, role: str) -> str:
    """Who listens on `port` and what to do: a Sluice stack's state folder and `invoke down` for it, or the flag
    and the variable that move this stack elsewhere."""
    flag, variable = PORT_CHOICES[role]
    process = _listener(port)
    folder = _state_folder(process) if process is not None else None
    if process is not None and folder is not None:
        return (
            f"a Sluice local stack holds it (pid {process.pid}, state folder {folder}); stop it with "
            f"`{STATE_DIR_VARIABLE}={folder} invoke down`, or choose another port with {flag} or {variable}"
        )
    holder = f"{_name(process)} (pid {process.pid}) holds it" if process is not None else "another program holds it"
    return f"{holder}; choose another port with {flag} or {variable}"


def _listener(port: int) -> psutil.Process | None:
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return None
    for connection in connections:
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid:
            try:
                return psutil.Process(connection.pid)
            except psutil.Error:
                return None
    return None


def _state_folder(process: psutil.Process) -> Path | None:
    """A local stack's state folder, from the files its runtime (runtime.lock) or its moto server (logs/moto.log)
    holds open; None for any other process."""
    try:
        paths = [Path(opened.path) for opened in process.open_files()]
    except psutil.Error:
        return None
    for path in paths:
        if path.name == "runtime.lock":
            return path.parent
        if path.name == "moto.log" and path.parent.name == "logs":
            return path.parent.parent
    return None


def _name(process: psutil.Process) -> str:
    try:
        return process.name()
    except psutil.Error:
        return "a process"
