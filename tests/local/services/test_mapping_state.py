"""A mapping's Enabled state switches the local poller (local/services/mapping_state.py), on the local stack's moto
server."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.stub import Stubber

from local.emulation.process import MotoServer
from local.services.mapping_state import MappingNotFound, MappingState, find_mapping_uuid
from local.services.pollers import SqsMapping, SqsPoller
from tests.aws_helpers import unique
from tests.local.conftest import QueueFactory
from tests.local.helpers import stub_function


class SteppedClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _function(moto: MotoServer) -> str:
    name = unique("consumer")
    role = moto.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return None\n")
    moto.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": code.getvalue()}
    )
    return name


def test_the_poller_runs_only_while_its_mapping_reads_enabled(
    moto: MotoServer, sqs: BaseClient, make_queue: QueueFactory
) -> None:
    # GIVEN a queue with a message, mapped to a function by an enabled mapping, and the local poller that runs it
    url, arn = make_queue()
    lambda_client = moto.client("lambda")
    name = _function(moto)
    lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, Enabled=True)
    clock = SteppedClock()
    state = MappingState(lambda_client, find_mapping_uuid(lambda_client, name, arn), refresh_seconds=1, clock=clock)
    events: list[Any] = []
    poller = SqsPoller(SqsMapping(url, arn), stub_function(lambda e, c: events.append(e)), sqs, state.disabled)
    # WHEN an operator disables the mapping
    lambda_client.update_event_source_mapping(UUID=state.uuid, Enabled=False)
    sqs.send_message(QueueUrl=url, MessageBody="event")
    # THEN the poller receives nothing
    assert poller.poll_once() == 0 and not events
    # AND once it is enabled again (and the state read again), the poller delivers the message
    lambda_client.update_event_source_mapping(UUID=state.uuid, Enabled=True)
    clock.now += 1
    assert poller.poll_once() == 1 and len(events) == 1
    # AND the message went through the local poller only: moto spent none of its receives on it
    assert events[0]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "1"


def test_an_unreadable_state_keeps_the_last_one(moto: MotoServer) -> None:
    # GIVEN a mapping state last read Disabled
    lambda_client = moto.client("lambda")
    clock = SteppedClock()
    uuid = "00000000-0000-0000-0000-000000000001"
    state = MappingState(lambda_client, uuid, refresh_seconds=1, clock=clock)
    with Stubber(lambda_client) as stub:
        stub.add_response("get_event_source_mapping", {"UUID": uuid, "State": "Disabled"}, {"UUID": uuid})
        assert state.disabled()
        # WHEN the next read fails
        stub.add_client_error("get_event_source_mapping", "ServiceException", http_status_code=500)
        clock.now += 1
        # THEN it still reads Disabled (a busy emulator neither starts nor stops the poller)
        assert state.disabled()


def test_a_function_without_a_mapping_is_one_line(moto: MotoServer, make_queue: QueueFactory) -> None:
    # GIVEN a queue no mapping reads WHEN its mapping is looked up THEN the error names both ends
    _, arn = make_queue()
    with pytest.raises(MappingNotFound, match=f"no event source mapping from {arn} to nobody"):
        find_mapping_uuid(moto.client("lambda"), "nobody", arn)
