"""Shared fixtures: one real moto server per test session (per xdist worker), on a free port."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from botocore.client import BaseClient

from local.emulation.process import MotoServer, PortInUseError, free_port, start_moto
from tests.aws_helpers import unique


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    for attempt in range(3):
        try:
            server = start_moto(port=free_port(), log_path=log_path)
            break
        except PortInUseError:  # another worker took the port between the probe and the bind
            if attempt == 2:
                raise
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqs(moto: MotoServer) -> BaseClient:
    return moto.client("sqs")


@pytest.fixture(scope="session")
def sns(moto: MotoServer) -> BaseClient:
    return moto.client("sns")


@pytest.fixture(scope="session")
def cloudwatch(moto: MotoServer) -> BaseClient:
    return moto.client("cloudwatch")


QueueFactory = Callable[..., tuple[str, str]]


@pytest.fixture
def make_queue(sqs: BaseClient) -> QueueFactory:
    """Create a queue and return (url, arn); `dlq_arn` + `max_receive_count` add a redrive policy."""

    def create(visibility_timeout: int = 30, dlq_arn: str | None = None, max_receive_count: int = 2) -> tuple[str, str]:
        attributes = {"VisibilityTimeout": str(visibility_timeout)}
        if dlq_arn:
            policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
            attributes["RedrivePolicy"] = json.dumps(policy)
        url = sqs.create_queue(QueueName=unique("queue"), Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    return create
