"""moto's own event source mappings never run in the local stack's moto server (local/emulation/mappings.py)."""

import io
import zipfile

import boto3
import pytest
from moto import mock_aws

from local.emulation import mappings as moto_mappings
from local.emulation.mappings import switch_off_moto_event_source_mappings


@pytest.fixture
def switched_off(monkeypatch):
    """The switch, undone after the test (monkeypatch restores each class as it was)."""
    for source in moto_mappings.MAPPING_SOURCES:
        monkeypatch.setattr(source, "lambda_event_source_mappings", None, raising=False)
    switch_off_moto_event_source_mappings()


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield lambda service: boto3.client(service, region_name="us-east-1")


def _queue_with_enabled_mapping(aws) -> tuple[str, str]:
    sqs, lambda_client = aws("sqs"), aws("lambda")
    url = sqs.create_queue(QueueName="ingest")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    role = aws("iam").create_role(RoleName="consumer", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return None\n")
    lambda_client.create_function(
        FunctionName="consumer",
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
    )
    uuid = lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName="consumer", Enabled=True)["UUID"]
    return url, uuid


def test_a_message_sent_to_a_queue_with_an_enabled_mapping_is_not_received_by_moto(aws, switched_off):
    # GIVEN a queue whose event source mapping is enabled (as the template deploys it)
    url, uuid = _queue_with_enabled_mapping(aws)
    # WHEN a message is sent
    aws("sqs").send_message(QueueUrl=url, MessageBody="event")
    # THEN moto did not receive it: it waits, visible, with none of its receives spent
    attributes = aws("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "1", "ApproximateNumberOfMessagesNotVisible": "0"}
    (message,) = aws("sqs").receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"  # this receive, the first
    # AND the mapping itself is still moto's to describe and update, and says the truth: Enabled
    assert aws("lambda").get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    assert aws("lambda").update_event_source_mapping(UUID=uuid, Enabled=False)["State"] == "Disabled"


def test_the_moto_server_module_switches_the_mappings_off_before_serving(monkeypatch):
    # GIVEN the local stack's moto server entry point, with serving replaced by a probe
    from local.emulation import server as moto_server

    switched = []
    monkeypatch.setattr(moto_server, "switch_off_moto_event_source_mappings", lambda: switched.append(True))
    monkeypatch.setattr(moto_server, "install", lambda limit: None)
    # moto's model register and metric store stay as they are in this process (the server patches its own)
    monkeypatch.setattr(moto_server, "track_weakly", lambda: None)
    monkeypatch.setattr(moto_server, "keep_metrics_for", lambda seconds: None)
    monkeypatch.setattr(moto_server, "serve", lambda host, port: switched.append("served"))
    # WHEN it starts
    assert moto_server.main(["-p", "0"]) == 0
    # THEN the mappings were switched off before it served
    assert switched == [True, "served"]
