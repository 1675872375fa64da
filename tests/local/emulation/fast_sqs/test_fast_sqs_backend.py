"""The indexed backend's installation: pinned to one moto version, and active in the local stack's server."""

from __future__ import annotations

import json
import tomllib
import urllib.request

import pytest
from botocore.client import BaseClient
from moto.sqs.models import SQSBackend, sqs_backends

import local.emulation.fast_sqs.backend as backend_module
from core.config import SQS_IN_FLIGHT_QUOTA
from core.paths import PROJECT_ROOT
from local.emulation import server as moto_server
from local.emulation.fast_sqs import MOTO_VERSION, SQS_IN_FLIGHT_LIMIT, MotoVersionError, install
from local.emulation.process import IN_FLIGHT_LIMIT_ENV, MotoServer
from tests.aws_helpers import unique

PYPROJECT = PROJECT_ROOT / "pyproject.toml"


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


def test_install_refuses_an_in_flight_limit_below_one() -> None:
    # GIVEN / WHEN installing with a limit no queue could receive under THEN it refuses and leaves moto alone
    with pytest.raises(ValueError, match="the in-flight limit must be at least 1, got 0"):
        install(in_flight_limit=0)
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


def test_the_server_takes_its_in_flight_limit_from_the_environment_and_sqss_quota_without_one() -> None:
    # GIVEN environments with and without the variable WHEN the server reads its limit
    # THEN it is the one given, or SQS's quota: the value the configuration states for AWS
    assert moto_server.in_flight_limit({IN_FLIGHT_LIMIT_ENV: "500"}) == 500
    assert moto_server.in_flight_limit({}) == SQS_IN_FLIGHT_LIMIT == SQS_IN_FLIGHT_QUOTA == 120_000


@pytest.mark.parametrize("value", ["0", "-5", "many", "1.5"])
def test_the_server_exits_with_one_line_on_an_in_flight_limit_that_is_not_a_positive_integer(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a limit in the environment that is not a positive integer
    monkeypatch.setenv(IN_FLIGHT_LIMIT_ENV, value)
    # WHEN the local stack's moto server starts
    code = moto_server.main(["-p", "1"])
    # THEN it stops before serving, with one line naming the variable and the value, and moto's backend untouched
    stderr = capsys.readouterr().err
    assert code == 2
    assert stderr == f"error: {IN_FLIGHT_LIMIT_ENV}: expected a positive integer, got {value!r}\n"
    assert sqs_backends.backend is SQSBackend


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
    # THEN the standard queue is an IndexedQueue (moto files a model under the second part of its module path:
    # local.emulation.fast_sqs.backend), the FIFO one moto's Queue
    assert standard in [queue["name"] for queue in models["emulation"]["IndexedQueue"]]
    assert fifo in [queue["name"] for queue in models["sqs"]["Queue"]]
