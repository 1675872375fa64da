"""The indexed backend's installation: pinned to one moto version, and active in the local stack's server."""

from __future__ import annotations

import json
import tomllib
import urllib.request
from pathlib import Path

import pytest
from botocore.client import BaseClient
from moto.sqs.models import SQSBackend, sqs_backends

import local.fast_sqs.backend as backend_module
from local import moto_server
from local.emulator import MotoServer
from local.fast_sqs import MOTO_VERSION, MotoVersionError, install
from tests.aws_helpers import unique

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def test_the_pinned_version_is_the_one_pyproject_installs() -> None:
    # GIVEN the project's dependencies
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    # WHEN / THEN moto is pinned to exactly the version the index was written for
    assert f"moto[server]=={MOTO_VERSION}" in dependencies


def test_install_refuses_another_moto_version(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a different moto installed
    monkeypatch.setattr(backend_module.importlib.metadata, "version", lambda name: "5.3.0")
    # WHEN installing THEN it refuses, naming both versions, and leaves moto's backend alone
    with pytest.raises(MotoVersionError, match=rf"written for moto {MOTO_VERSION}, but moto 5\.3\.0"):
        install()
    assert sqs_backends.backend is SQSBackend


def test_the_server_exits_with_one_line_on_another_moto_version(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a different moto installed
    monkeypatch.setattr(backend_module.importlib.metadata, "version", lambda name: "5.3.0")
    # WHEN the local stack's moto server starts
    code = moto_server.main(["-p", "1"])
    # THEN it stops before serving, with one line and no traceback
    stderr = capsys.readouterr().err
    assert code == 2
    assert stderr.startswith("error: ") and stderr.count("\n") == 1


def test_the_local_stacks_moto_server_indexes_standard_queues_and_leaves_fifo_to_moto(
    moto: MotoServer, sqs: BaseClient
) -> None:
    # GIVEN a standard and a FIFO queue on the server every local test and the local stack start
    standard, fifo = unique("standard"), unique("ordered") + ".fifo"
    sqs.create_queue(QueueName=standard)
    sqs.create_queue(QueueName=fifo, Attributes={"FifoQueue": "true"})
    # WHEN moto lists its model instances
    with urllib.request.urlopen(f"{moto.endpoint_url}/moto-api/data.json", timeout=10) as reply:
        models = json.load(reply)
    # THEN the standard queue is an IndexedQueue (moto files it under its module, fast_sqs), the FIFO one moto's Queue
    assert standard in [queue["name"] for queue in models["fast_sqs"]["IndexedQueue"]]
    assert fifo in [queue["name"] for queue in models["sqs"]["Queue"]]
