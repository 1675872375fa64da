"""The metric sink, the AWS/* observers, EMF capture, and publishing to moto's CloudWatch."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.client import BaseClient

from local.emulator import MotoServer
from local.metrics import (
    DynamoDbObserver,
    EmfCapture,
    MetricSink,
    Publisher,
    QueueSampler,
    SqsObserver,
    aggregate,
    parse_emf,
)
from local.pollers import receive
from tests.local.conftest import QueueFactory
from tests.local.helpers import named, unique


def test_aggregate_folds_datapoints_into_statistic_sets() -> None:
    # GIVEN three latencies in one 5 s bucket and one in the next
    sink = MetricSink()
    for value, at in [(10, 100.0), (30, 101.0), (20, 104.9), (7, 105.0)]:
        sink.record("AWS/ApiGateway", "Latency", value, "Milliseconds", {"Stage": "v1"}, timestamp=at)
    # WHEN aggregated
    sets = aggregate(sink.drain(), resolution_seconds=5)
    # THEN one statistic set per bucket
    key = ("AWS/ApiGateway", "Latency", (("Stage", "v1"),), "Milliseconds")
    first, second = sets[(*key, 100)], sets[(*key, 105)]
    assert (first.sample_count, first.total, first.minimum, first.maximum) == (3, 60, 10, 30)
    assert (second.sample_count, second.total) == (1, 7)
    assert sink.drain() == []


def test_publisher_writes_statistic_sets_readable_with_get_metric_statistics(cloudwatch: BaseClient) -> None:
    # GIVEN datapoints of a metric unique to this test
    sink = MetricSink()
    function = unique("fn")
    now = time.time()
    for value in (1, 0, 1, 1):
        sink.record("AWS/Lambda", "Errors", value, "Count", {"FunctionName": function}, timestamp=now)
    sink.record("AWS/Lambda", "Duration", 120, "Milliseconds", {"FunctionName": function}, timestamp=now)
    # WHEN the publisher publishes once
    sent = Publisher(sink, cloudwatch, resolution_seconds=5).publish_once()
    # THEN one aggregated datum per metric went to CloudWatch
    assert sent == 2
    # AND GetMetricStatistics reads the statistics back
    datapoints = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=datetime.now(UTC) - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum", "SampleCount", "Maximum", "Average"],
    )["Datapoints"]
    assert len(datapoints) == 1
    (point,) = datapoints
    assert (point["Sum"], point["SampleCount"], point["Maximum"], point["Average"]) == (3, 4, 1, 0.75)
    assert point["Unit"] == "Count"


def test_publisher_thread_flushes_on_stop(cloudwatch: BaseClient) -> None:
    # GIVEN a running publisher with a long interval and one datapoint
    sink = MetricSink()
    api = unique("api")
    publisher = Publisher(sink, cloudwatch, interval_seconds=60)
    publisher.start()
    sink.record("AWS/ApiGateway", "Count", 1, "Count", {"ApiName": api, "Stage": "v1"})
    # WHEN it stops THEN what was left is published
    publisher.stop(timeout=5)
    metrics = cloudwatch.list_metrics(Namespace="AWS/ApiGateway", Dimensions=[{"Name": "ApiName", "Value": api}])
    assert [m["MetricName"] for m in metrics["Metrics"]] == ["Count"]


def test_emf_line_becomes_datapoints() -> None:
    # GIVEN an EMF blob with a list of values and two dimension sets
    line = json.dumps(
        {
            "_aws": {
                "Timestamp": 1_700_000_000_000,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "Sluice/local",
                        "Dimensions": [["service"], ["service", "env"]],
                        "Metrics": [{"Name": "EventsAccepted", "Unit": "Count"}],
                    }
                ],
            },
            "service": "ingest",
            "env": "local",
            "EventsAccepted": [2, 3],
        }
    )
    # WHEN parsed
    points = parse_emf(line)
    # THEN each value appears once per dimension set
    assert [(p.dimensions, p.value) for p in points] == [
        ((("service", "ingest"),), 2),
        ((("service", "ingest"),), 3),
        ((("env", "local"), ("service", "ingest")), 2),
        ((("env", "local"), ("service", "ingest")), 3),
    ]
    assert {(p.namespace, p.unit, p.timestamp) for p in points} == {("Sluice/local", "Count", 1_700_000_000.0)}
    assert parse_emf("plain log line") == []
    assert parse_emf('{"_aws": "not emf"}') == []


def test_emf_capture_tees_stdout_and_reads_powertools_metrics() -> None:
    # GIVEN stdout captured while a handler logs and flushes Powertools metrics
    sink = MetricSink()
    log, console = io.StringIO(), io.StringIO()
    capture = EmfCapture(sink, log, passthrough=console)
    metrics = Metrics(namespace="Sluice/test", service="ingest")
    with contextlib.redirect_stdout(capture):
        print("handler says hello")
        metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=3)
        metrics.flush_metrics()
    # THEN the EMF blob became a datapoint
    (point,) = sink.drain()
    assert (point.namespace, point.name, point.value, point.unit) == ("Sluice/test", "EventsAccepted", 3, "Count")
    assert point.dimensions == (("service", "ingest"),)
    # AND ordinary lines reach the log and the console; the EMF line only the log
    assert console.getvalue() == "handler says hello\n"
    assert log.getvalue().startswith("handler says hello\n{")


def test_emf_capture_keeps_lines_of_threads_apart() -> None:
    # GIVEN two threads writing halves of lines at the same time, flushing in between (as logging does)
    capture = EmfCapture(MetricSink(), log := io.StringIO())
    barrier = threading.Barrier(2)

    def write(word: str) -> None:
        for _ in range(50):
            capture.write(word)
            barrier.wait()
            capture.flush()
            capture.write(word + "\n")

    threads = [threading.Thread(target=write, args=(word,)) for word in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    capture.close()
    # THEN every line is whole
    assert sorted(set(log.getvalue().splitlines())) == ["leftleft", "rightright"]


def test_sqs_observer_and_sampler_report_what_sqs_would(sqs: BaseClient, make_queue: QueueFactory) -> None:
    # GIVEN an observed client sending three messages, receiving them and deleting one
    sink = MetricSink()
    observer = SqsObserver(sink)
    observer.attach(sqs)
    url, _ = make_queue()
    queue = url.rsplit("/", 1)[-1]
    sqs.send_message(QueueUrl=url, MessageBody="a")
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "b"}, {"Id": "2", "MessageBody": "c"}])
    messages = receive(sqs, url, 10, 0)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
    # WHEN the sampler runs
    QueueSampler(sqs, [url], sink, observer).sample()
    # THEN the counts, depth and age are there for this queue
    points = [p for p in sink.drain() if p.dimensions == (("QueueName", queue),)]
    assert sum(named(points, "NumberOfMessagesSent")) == 3
    assert sum(named(points, "NumberOfMessagesReceived")) == len(messages) == 3
    assert sum(named(points, "NumberOfMessagesDeleted")) == 1
    assert named(points, "ApproximateNumberOfMessagesVisible") == [0]
    assert named(points, "ApproximateNumberOfMessagesNotVisible") == [2]
    (age,) = named(points, "ApproximateAgeOfOldestMessage")
    assert age >= 0
    assert observer.oldest_sent_ms(queue) is not None


def test_age_is_zero_once_the_queue_is_empty(sqs: BaseClient, make_queue: QueueFactory) -> None:
    # GIVEN an observed queue whose only message was received and deleted
    sink = MetricSink()
    observer = SqsObserver(sink)
    observer.attach(sqs)
    url, _ = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="a")
    (message,) = receive(sqs, url, 10, 0)
    sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "x", "ReceiptHandle": message["ReceiptHandle"]}])
    # WHEN sampled THEN nothing is tracked and the age is 0
    QueueSampler(sqs, [url], sink, observer).sample()
    assert named(sink.drain(), "ApproximateAgeOfOldestMessage") == [0]
    assert observer.oldest_sent_ms(url.rsplit("/", 1)[-1]) is None


def test_dynamodb_observer_counts_capacity_latency_and_errors(moto: MotoServer) -> None:
    # GIVEN an observed client and a table
    sink = MetricSink()
    dynamodb = moto.client("dynamodb")
    DynamoDbObserver(sink).attach(dynamodb)
    table = unique("events")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
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
