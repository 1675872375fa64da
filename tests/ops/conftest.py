"""One real moto server per test session (per xdist worker) on a free port, and the AWS environment that
points boto3 at it: AWS_ENDPOINT_URL, dummy credentials, us-east-1 — the same calls AWS would get. And the cost
tests' tiny price table (`prices`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from ops.cost import Prices
from tests.ops.cost_helpers import tiny_prices

REGION = "us-east-1"
START_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    for _ in range(3):  # another worker may take the port between the probe and moto's bind
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while process.poll() is None and time.monotonic() < deadline and not _answers(url):
            time.sleep(0.1)
        if process.poll() is None and _answers(url):
            break
        process.kill()
        process.wait()
    else:
        pytest.fail(f"moto server did not start; see {log.name}")
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> boto3.Session:
    """The environment every boto3 client in the test (ours and the code's) picks up by itself."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(Path(os.devnull)))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(Path(os.devnull)))
    return boto3.Session(region_name=REGION)


@pytest.fixture
def fresh_moto(moto_url: str, aws: boto3.Session) -> boto3.Session:
    """For tests that need fixed names (the environment's stack): start from an empty moto."""
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    return aws


@pytest.fixture
def prices(tmp_path: Path) -> Prices:
    """The tiny price table of tests/ops/cost_helpers.py, where every figure can be checked by hand."""
    return tiny_prices(tmp_path)
