"""moto server's lifecycle: start it as a child process, wait until it answers, stop it by its pid.

Also the pidfile helpers that let `invoke down` in another shell stop a running local stack, and the
port check shared with the local API gateway.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import psutil
from botocore.client import BaseClient
from botocore.config import Config

from ops.local_credentials import LOCAL_CREDENTIALS
from ops.waiting import WaitTimedOut, wait_until

DEFAULT_REGION = "us-east-1"
LOG_TAIL_CHARS = 2000
# local.emulation.server reads its standard queues' in-flight limit from this variable (unset: SQS's 120,000)
IN_FLIGHT_LIMIT_ENV = "SLUICE_SQS_IN_FLIGHT_LIMIT"


class PortInUseError(RuntimeError):
    """The port a local component must listen on is taken; the message is one line with the fix."""

    def __init__(self, host: str, port: int, hint: str = "") -> None:
        self.host, self.port = host, port
        hint = hint or "is another local stack running? stop it with `invoke down`"
        super().__init__(f"port {port} on {host} is already in use — {hint}")


class EmulatorStartError(RuntimeError):
    """moto server exited or did not answer in time; the message carries the end of its log."""


def ensure_port_free(host: str, port: int, hint: str = "") -> None:
    """Raise PortInUseError if a server already listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR as the servers themselves use it: only a live listener makes bind fail,
        # not a socket lingering in TIME_WAIT from a stack that just stopped.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUseError(host, port, hint) from None
            raise


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS considers free right now (for tests and parallel stacks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def aws_client(service: str, endpoint_url: str, region: str = DEFAULT_REGION, **config: Any) -> BaseClient:
    """A boto3 client for the local AWS with dummy credentials (`config`: extra botocore Config)."""
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(**config) if config else None,
        **LOCAL_CREDENTIALS,
    )


@dataclass
class MotoServer:
    """A running moto server child process."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self, service: str, region: str = DEFAULT_REGION, **config: Any) -> BaseClient:
        """A boto3 client for this server."""
        return aws_client(service, self.endpoint_url, region, **config)

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the server by its own pid; kill it if it is still alive after `timeout` s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_moto(
    host: str = "127.0.0.1",
    port: int = 4566,
    log_path: Path | str = Path(".local/moto.log"),
    startup_timeout: float = 30.0,
    server_module: str = "local.emulation.server",
    in_flight_limit: int | None = None,
) -> MotoServer:
    """Start moto server on host:port and return once it answers HTTP.

    `server_module` is what `python -m` runs: by default moto server with the local stack's indexed SQS
    queues (local/fast_sqs); "moto.server" is plain moto, which the conformance tests compare against.
    `in_flight_limit` caps the messages each standard queue of the indexed server holds in flight (None:
    SQS's quota, 120,000, whatever this process's environment says); plain moto has no such limit.
    """
    ensure_port_free(host, port)
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    environment = {name: value for name, value in os.environ.items() if name != IN_FLIGHT_LIMIT_ENV}
    if in_flight_limit is not None:
        environment[IN_FLIGHT_LIMIT_ENV] = str(in_flight_limit)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", server_module, "-H", host, "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            # Its own session: a Ctrl-C in the terminal reaches the runtime, which stops moto in order.
            start_new_session=True,
        )
    server = MotoServer(host, port, process, log_path)
    try:
        _wait_until_answering(server, startup_timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_answering(server: MotoServer, timeout: float) -> None:
    def answers() -> bool:
        if server.process.poll() is not None:
            tail = _log_tail(server.log_path)
            if "Address already in use" in tail:
                raise PortInUseError(server.host, server.port)
            raise EmulatorStartError(f"moto server exited with code {server.process.returncode}: {tail}")
        return _answers_http(server.host, server.port)

    try:
        wait_until(answers, timeout=timeout, interval=0.1, what=f"moto server on {server.endpoint_url}")
    except WaitTimedOut:
        raise EmulatorStartError(
            f"moto server on {server.endpoint_url} did not answer within {timeout:.0f} s "
            f"(log: {server.log_path}): {_log_tail(server.log_path)}"
        ) from None


def _answers_http(host: str, port: int) -> bool:
    connection = http.client.HTTPConnection(host, port, timeout=1.0)
    try:
        connection.request("GET", "/moto-api/")
        connection.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        connection.close()


def _log_tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return " ".join(text[-LOG_TAIL_CHARS:].split())


# --- pidfile: how `invoke down` finds the running stack from another shell -------------------------


def write_pidfile(path: Path | str, pid: int | None = None) -> None:
    """Record a process (default: this one) with its start time, so a recycled pid is never stopped."""
    process = psutil.Process(pid or os.getpid())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": process.pid, "create_time": process.create_time()}), encoding="utf-8")


def read_pidfile(path: Path | str) -> int | None:
    """The pid recorded in `path` if that very process still runs; None if absent or stale."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        process = psutil.Process(int(record["pid"]))
        if abs(process.create_time() - float(record["create_time"])) > 0.01:
            return None
        return process.pid
    except (OSError, ValueError, KeyError, TypeError, psutil.Error):
        return None


def remove_pidfile(path: Path | str) -> None:
    """Delete the pidfile if present."""
    Path(path).unlink(missing_ok=True)


def stop_process(pid: int, timeout: float = 10.0) -> bool:
    """SIGTERM `pid`, wait up to `timeout` s, then SIGKILL; True if it is gone."""
    try:
        process = psutil.Process(pid)
        process.terminate()
        try:
            process.wait(timeout)
        except psutil.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        return False
    return True


def stop_from_pidfile(path: Path | str, timeout: float = 10.0) -> bool:
    """Stop the stack recorded in `path` (if any) and remove the pidfile; True if nothing runs now."""
    pid = read_pidfile(path)
    stopped = True if pid is None else stop_process(pid, timeout)
    if stopped:
        remove_pidfile(path)
    return stopped
