"""Fault injection on the handlers' botocore clients, against a real moto server."""

from __future__ import annotations

import sys
import time
import types
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError, EndpointConnectionError

from local.emulation.process import MotoServer
from local.services.chaos import Chaos, InjectedCrash, find_clients
from local.services.dynamodb_metrics import DynamoDbObserver
from local.services.faults import UnknownFaultError
from local.services.metrics import MetricSink
from ops.local_credentials import LOCAL_CREDENTIALS
from tests.aws_helpers import create_hash_table, unique
from tests.local.helpers import named, stub_function

# One retry: faults go through botocore's retries, and the tests should not sit in backoff.
FAST = {"retries": {"mode": "standard", "total_max_attempts": 2}}


@pytest.fixture
def dynamodb(moto: MotoServer) -> BaseClient:
    return moto.client("dynamodb", **FAST)


@pytest.fixture
def table(dynamodb: BaseClient) -> str:
    return create_hash_table(dynamodb, unique("events"), "pk")


@pytest.fixture
def chaos() -> Any:
    chaos = Chaos()
    yield chaos
    chaos.detach()


def item(key: str) -> dict[str, Any]:
    return {"pk": {"S": key}}


def test_finds_the_clients_a_handler_module_uses(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a handler module with a client and a boto3 Table, using a helper module of its package
    helpers = types.ModuleType("stubfns.helpers")
    helpers.s3 = moto.client("s3")

    def archive() -> None: ...

    archive.__module__ = "stubfns.helpers"
    app = types.ModuleType("stubfns.app")
    app.sqs = moto.client("sqs")
    resource = boto3.resource("dynamodb", endpoint_url=moto.endpoint_url, region_name="us-east-1", **LOCAL_CREDENTIALS)
    app.table = resource.Table("events")
    app.archive = archive
    app.json = __import__("json")  # modules of other packages are not searched
    monkeypatch.setitem(sys.modules, "stubfns.helpers", helpers)
    monkeypatch.setitem(sys.modules, "stubfns.app", app)
    # WHEN its clients are searched
    found = find_clients(app)
    # THEN all three are found
    assert {client.meta.service_model.service_name for client in found} == {"s3", "sqs", "dynamodb"}


def test_db_down_fails_dynamodb_calls_until_lifted(chaos: Chaos, dynamodb: BaseClient, table: str) -> None:
    # GIVEN a hooked DynamoDB client and an active db-down fault
    chaos.attach(dynamodb)
    chaos.inject("db-down", 60)
    # WHEN it writes THEN the call fails to connect
    with pytest.raises(EndpointConnectionError):
        dynamodb.put_item(TableName=table, Item=item("a"))
    assert set(chaos.active()) == {"db-down"}
    # AND once lifted, calls work again
    chaos.lift("db-down")
    dynamodb.put_item(TableName=table, Item=item("a"))
    assert chaos.active() == {}


def test_db_throttle_answers_like_dynamodb_and_is_counted(chaos: Chaos, dynamodb: BaseClient, table: str) -> None:
    # GIVEN a hooked, observed DynamoDB client and an active db-throttle fault
    sink = MetricSink()
    DynamoDbObserver(sink).attach(dynamodb)
    chaos.attach(dynamodb)
    chaos.inject("db-throttle", 60)
    # WHEN it writes THEN botocore retries, then raises DynamoDB's throttling error
    with pytest.raises(ClientError) as raised:
        dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item("a")}}]})
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    # AND each throttled attempt counts, as DynamoDB counts them
    assert named(sink.drain(), "ThrottledRequests") == [1, 1]


def test_queue_down_fails_sends_only(chaos: Chaos, moto: MotoServer) -> None:
    # GIVEN a hooked SQS client and an active queue-down fault
    sqs = moto.client("sqs", **FAST)
    url = sqs.create_queue(QueueName=unique("queue"))["QueueUrl"]
    chaos.attach(sqs)
    chaos.inject("queue-down", 60)
    # WHEN it sends THEN the send fails to connect, single and batch
    with pytest.raises(EndpointConnectionError):
        sqs.send_message(QueueUrl=url, MessageBody="x")
    with pytest.raises(EndpointConnectionError):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "x"}])
    # AND other calls still work
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages") is None


def test_archive_down_fails_put_object_only(chaos: Chaos, moto: MotoServer) -> None:
    # GIVEN a hooked S3 client with an object, and an active archive-down fault
    s3 = moto.client("s3", **FAST)
    bucket = unique("archive")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="old", Body=b"x")
    chaos.attach(s3)
    chaos.inject("archive-down", 60)
    # WHEN it archives THEN PutObject fails, reads do not
    with pytest.raises(EndpointConnectionError):
        s3.put_object(Bucket=bucket, Key="new", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="old")["Body"].read() == b"x"


def test_consumer_crash_dies_after_the_first_write_landed(chaos: Chaos, dynamodb: BaseClient, table: str) -> None:
    # GIVEN a consumer-like function writing two chunks per invocation, and consumer-crash active
    def handler(event: Any, context: Any) -> None:
        for chunk in event["chunks"]:
            dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item(k)}} for k in chunk]})

    consumer = stub_function(handler, name="consumer")
    chaos.attach(dynamodb)
    chaos.inject("consumer-crash", 60)
    # WHEN it is invoked
    with pytest.raises(InjectedCrash):
        consumer.invoke({"chunks": [["a", "b"], ["c"]]})
    # THEN the first chunk landed, the second never ran
    keys = {i["pk"]["S"] for i in dynamodb.scan(TableName=table)["Items"]}
    assert keys == {"a", "b"}
    # AND the function counted an error; the redelivery crashes too, after overwriting the same items
    assert consumer.stats().errors == 1
    with pytest.raises(InjectedCrash):
        consumer.invoke({"chunks": [["a", "b"], ["c"]]})
    assert dynamodb.scan(TableName=table)["Count"] == 2
    # AND once lifted, the whole batch lands
    chaos.lift("consumer-crash")
    consumer.invoke({"chunks": [["a", "b"], ["c"]]})
    assert dynamodb.scan(TableName=table)["Count"] == 3


def test_faults_expire_on_their_own(chaos: Chaos, dynamodb: BaseClient, table: str) -> None:
    # GIVEN a short fault
    chaos.attach(dynamodb)
    chaos.inject("db-down", 0.2)
    assert 0 < chaos.active()["db-down"] <= 0.2
    # WHEN its time has passed
    time.sleep(0.3)
    # THEN it is gone and calls work
    assert chaos.active() == {}
    dynamodb.put_item(TableName=table, Item=item("a"))


def test_fault_names_and_durations_are_checked(chaos: Chaos) -> None:
    # GIVEN chaos WHEN an unknown fault or a wrong duration is asked for THEN a clear error
    with pytest.raises(UnknownFaultError, match="known: db-down"):
        chaos.inject("disk-full", 10)
    with pytest.raises(ValueError, match="duration"):
        chaos.inject("db-down", 0)
    with pytest.raises(UnknownFaultError):
        chaos.lift("disk-full")


def test_consumer_paused_fails_no_call_until_lifted(chaos: Chaos, dynamodb: BaseClient, table: str) -> None:
    # GIVEN chaos hooked on a client, and the consumer-paused fault
    chaos.attach(dynamodb)
    chaos.inject("consumer-paused", 30)
    # THEN the fault is active (the consumer's mapping asks), and no call fails: a paused mapping raises nothing
    assert chaos.is_active("consumer-paused")
    dynamodb.put_item(TableName=table, Item=item("a"))
    # WHEN lifted THEN it is no longer active
    chaos.lift("consumer-paused")
    assert not chaos.is_active("consumer-paused")
