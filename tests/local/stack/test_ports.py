"""Where a local stack listens (flag, environment, sluice.toml) and who holds a port it cannot take
(local/stack/ports.py)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import load_config
from local.emulation.process import MotoServer, PortInUseError, free_port, start_moto, write_pidfile
from local.stack import detach
from local.stack.ports import PortChoiceError, Ports, chosen_ports, ensure_ports_free

CONFIG = load_config("local")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A port held by this test's own process."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server


def test_a_flag_beats_the_environment_which_beats_sluice_toml() -> None:
    # GIVEN the configured ports (4566, 3000, 3001), an API port in the environment and a console port as a flag
    environment = {"SLUICE_API_PORT": "3100", "SLUICE_CONSOLE_PORT": "3101"}
    # WHEN the ports are chosen
    ports = chosen_ports(CONFIG, {"aws": None, "api": None, "control": "3201"}, environment)
    # THEN each comes from the first source that sets it
    assert ports == Ports(aws=4566, api=3100, control=3201)
    # AND the console port is sluice.toml's own key, not the API port + 1
    assert Ports.from_config(CONFIG).control == CONFIG.local.console_port == 3001


@pytest.mark.parametrize(
    ("flags", "environment", "message"),
    [
        ({"api": "http"}, {}, "--api-port: expected a port number 1-65535, got 'http'"),
        ({}, {"SLUICE_AWS_PORT": "70000"}, "SLUICE_AWS_PORT: expected a port number 1-65535, got '70000'"),
        ({"api": "4566"}, {}, "the AWS, API and console ports must differ, got 4566, 4566, 3001"),
    ],
)
def test_a_bad_port_choice_is_one_line_naming_it(flags: dict, environment: dict, message: str) -> None:
    with pytest.raises(PortChoiceError) as raised:
        chosen_ports(CONFIG, flags, environment)
    assert str(raised.value) == message


def test_a_port_another_program_holds_names_the_flag_and_the_variable(listener: socket.socket) -> None:
    # GIVEN the API port held by a process that is no local stack
    port = listener.getsockname()[1]
    ports = Ports(aws=free_port(), api=port, control=free_port())
    # WHEN the stack checks its ports THEN the refusal names the holder and how to move, not `invoke down`
    with pytest.raises(PortInUseError) as raised:
        ensure_ports_free(ports)
    message = str(raised.value)
    assert f"port {port} on 127.0.0.1 is already in use — wanted for the API gateway;" in message
    assert f"(pid {os.getpid()}) holds it; choose another port with --api-port or SLUICE_API_PORT" in message
    assert "invoke down" not in message and "\n" not in message


def test_a_port_a_local_stack_holds_names_its_state_folder_and_how_to_stop_it(tmp_path: Path) -> None:
    # GIVEN a local stack's moto server (its log in <state>/logs/moto.log) on the AWS port
    server: MotoServer = start_moto(port=free_port(), log_path=tmp_path / "logs" / "moto.log")
    try:
        # WHEN a stack on another state folder wants that port
        with pytest.raises(PortInUseError) as raised:
            ensure_ports_free(Ports(aws=server.port, api=free_port(), control=free_port()))
    finally:
        server.stop()
    # THEN the refusal names the stack that holds it and the exact command that stops it
    assert f"a Sluice local stack holds it (pid {server.pid}, state folder {tmp_path})" in str(raised.value)
    assert f"`SLUICE_STATE_DIR={tmp_path} invoke down`" in str(raised.value)


def test_up_detach_resumes_on_the_moto_server_a_killed_runtime_left_on_the_aws_port(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a state folder whose runtime died hard (kill -9), leaving its moto server running on the AWS port
    write_pidfile(tmp_path / "moto.pid", moto.pid)
    started: list[Path] = []

    def start(state_dir: Path, *args: object, **kwargs: object) -> None:
        started.append(state_dir)  # as the real one would, it reports through the stack's console log
        (state_dir / "console.log").write_text("error: stopped here, where the runtime resumes on the moto\n")
        raise RuntimeError("local stack did not start")

    monkeypatch.setattr(detach, "start_background_stack", start)
    # WHEN `invoke up --detach` starts on that folder with the same ports
    with pytest.raises(RuntimeError, match="did not start: stopped here, where the runtime resumes"):
        detach.up_detached(CONFIG, Ports(aws=moto.port, api=free_port(), control=free_port()), tmp_path)
    # THEN the AWS port held by its own moto is no obstacle: it went on to start the runtime
    assert started == [tmp_path]
