"""What DynamoDB would count (capacity, latency, throttles, errors), seen on the clients' calls."""

from __future__ import annotations

import pytest

from local.emulation.process import MotoServer
from local.services.dynamodb_metrics import DynamoDbObserver
from local.services.metrics import MetricSink
from tests.aws_helpers import create_hash_table, unique
from tests.local.helpers import named


def test_dynamodb_observer_counts_capacity_latency_and_errors(moto: MotoServer) -> None:
    # GIVEN an observed client and a table
    sink = MetricSink()
    dynamodb = moto.client("dynamodb")
    DynamoDbObserver(sink).attach(dynamodb)
    table = create_hash_table(dynamodb, unique("events"), "pk")
    sink.drain()
    # WHEN it writes two small items and one of ~1.5 KB, then writes to a missing table
    items = [{"pk": {"S": "a"}}, {"pk": {"S": "b"}}, {"pk": {"S": "c"}, "raw": {"S": "x" * 1500}}]
    dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": i}} for i in items]})
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.put_item(TableName=unique("missing"), Item={"pk": {"S": "a"}})
    # THEN capacity is 1 + 1 + 2 units, latency is per table and operation, the 400 is a UserError
    points = sink.drain()
    assert named(points, "ConsumedWriteCapacityUnits") == [4]
    (latency,) = [p for p in points if p.name == "SuccessfulRequestLatency"]
    assert latency.dimensions == (("Operation", "BatchWriteItem"), ("TableName", table))
    assert named(points, "UserErrors") == [1]


def test_a_failed_condition_is_counted_as_such_and_not_as_a_user_error(moto: MotoServer) -> None:
    # GIVEN an observed client and a table holding an item
    sink = MetricSink()
    dynamodb = moto.client("dynamodb")
    DynamoDbObserver(sink).attach(dynamodb)
    table = create_hash_table(dynamodb, unique("idempotency"), "pk")
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}})
    sink.drain()
    # WHEN a conditional put finds the item there (as Powertools' idempotency table does on a true retry)
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}}, ConditionExpression="attribute_not_exists(pk)")
    # THEN it counts as a failed condition of that table, and not in the account's UserErrors, as on AWS
    points = sink.drain()
    (failed,) = [p for p in points if p.name == "ConditionalCheckFailedRequests"]
    assert (failed.value, failed.dimensions) == (1, (("TableName", table),))
    assert named(points, "UserErrors") == []
