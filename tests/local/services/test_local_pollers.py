"""SQS event source mapping emulation against a real moto server, and the SNS → function bridge."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from local.services.notifications import BridgeSettings, SnsToFunctionBridge
from local.services.pollers import SqsMapping, SqsPoller, failed_message_ids, receive
from tests.aws_helpers import unique
from tests.local.conftest import QueueFactory
from tests.local.helpers import aws_event, queue_depth, stub_function

BOUNDED_WAIT_SECONDS = 30


def send(sqs: BaseClient, url: str, *bodies: str) -> list[str]:
    return [sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"] for body in bodies]


def test_event_matches_lambdas_sqs_event(sqs: BaseClient, make_queue: QueueFactory) -> None:
    # GIVEN a queue holding a message with attributes, and the real SQS event of tests/data
    url, arn = make_queue()
    sqs.send_message(
        QueueUrl=url,
        MessageBody="hello",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "test"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    real = aws_event("sqs-receive.json")["Records"][0]
    events: list[dict[str, Any]] = []
    poller = SqsPoller(SqsMapping(url, arn), stub_function(lambda e, c: events.append(e)), sqs)
    # WHEN the poller delivers it
    assert poller.poll_once() == 1
    # THEN the record has Lambda's keys and values
    (record,) = events[0]["Records"]
    assert record.keys() == real.keys()
    assert record["attributes"].keys() >= real["attributes"].keys()
    assert (record["body"], record["eventSource"], record["eventSourceARN"]) == ("hello", "aws:sqs", arn)
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "test",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["messageAttributes"]["blob"]["binaryValue"] == "AAE="
    # AND the successful batch was deleted
    assert queue_depth(sqs, url) == (0, 0)


def test_partial_batch_failure_deletes_only_successes(sqs: BaseClient, make_queue: QueueFactory) -> None:
    # GIVEN three messages, and a handler reporting the second as failed
    url, arn = make_queue()
    send(sqs, url, "a", "b", "c")

    def handler(event: Any, context: Any) -> dict[str, Any]:
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "b"]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

    poller = SqsPoller(SqsMapping(url, arn, batch_size=10), stub_function(handler), sqs)
    # WHEN one batch is processed
    assert poller.poll_once() == 3
    # THEN only the failed message is left, in flight until its visibility timeout
    assert queue_depth(sqs, url) == (0, 1)


def test_whole_batch_stays_when_the_handler_fails(sqs: BaseClient, make_queue: QueueFactory) -> None:
    # GIVEN two messages and a handler that raises
    url, arn = make_queue()
    send(sqs, url, "a", "b")

    def handler(event: Any, context: Any) -> None:
        raise RuntimeError("down")

    poller = SqsPoller(SqsMapping(url, arn), stub_function(handler), sqs)
    # WHEN the batch is processed THEN nothing is deleted
    assert poller.poll_once() == 2
    assert queue_depth(sqs, url) == (0, 2)


def test_timed_out_batch_stays_even_if_the_handler_returned(sqs: BaseClient, make_queue: QueueFactory) -> None:
    # GIVEN a message and a handler that succeeds, but only after its function's timeout
    url, arn = make_queue()
    send(sqs, url, "slow")
    function = stub_function(lambda e, c: time.sleep(0.1), timeout_seconds=0.01)
    # WHEN the batch is processed THEN, as after a Lambda timeout, nothing is deleted
    SqsPoller(SqsMapping(url, arn), function, sqs).poll_once()
    assert queue_depth(sqs, url) == (0, 1)


def test_throttled_batch_is_retried_then_left_to_the_visibility_timeout(
    sqs: BaseClient, make_queue: QueueFactory
) -> None:
    # GIVEN a queue with a 1 s visibility timeout and a function that is always throttled
    url, arn = make_queue(visibility_timeout=1)
    send(sqs, url, "a")
    function = stub_function(lambda e, c: None, reserved_concurrency=0)
    # WHEN a batch is processed
    SqsPoller(SqsMapping(url, arn), function, sqs).poll_once()
    # THEN the invocation was retried while the batch was invisible, and nothing was deleted
    assert function.stats().throttles > 1
    assert sum(queue_depth(sqs, url)) == 1


def test_partial_response_rules() -> None:
    # GIVEN a batch of two WHEN responses are read THEN they follow Lambda's documented rules
    batch = {"m1", "m2"}
    assert failed_message_ids(None, batch) == set()
    assert failed_message_ids({}, batch) == set()
    assert failed_message_ids({"batchItemFailures": []}, batch) == set()
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "m2"}]}, batch) == {"m2"}
    # an empty, null or unknown identifier fails the whole batch
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, batch) is None
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": None}]}, batch) is None
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "other"}]}, batch) is None
    assert failed_message_ids("not a response", batch) is None


def test_without_report_batch_item_failures_the_list_is_ignored(sqs: BaseClient, make_queue: QueueFactory) -> None:
    # GIVEN a mapping without ReportBatchItemFailures and a handler listing a failure
    url, arn = make_queue()
    send(sqs, url, "a")
    result = {"batchItemFailures": [{"itemIdentifier": "whatever"}]}
    poller = SqsPoller(SqsMapping(url, arn, report_batch_item_failures=False), stub_function(lambda e, c: result), sqs)
    # WHEN processed THEN the batch counts as a success and is deleted
    poller.poll_once()
    assert queue_depth(sqs, url) == (0, 0)


def test_moto_redrives_to_the_dlq_after_max_receive_count(sqs: BaseClient, make_queue: QueueFactory) -> None:
    # GIVEN a queue (visibility 1 s) whose redrive policy dead-letters after 2 receives, and a handler that always fails
    dlq_url, dlq_arn = make_queue()
    url, arn = make_queue(visibility_timeout=1, dlq_arn=dlq_arn, max_receive_count=2)
    (message_id,) = send(sqs, url, "poison")
    invocations: list[str] = []

    def handler(event: Any, context: Any) -> None:
        invocations.append(event["Records"][0]["attributes"]["ApproximateReceiveCount"])
        raise RuntimeError("poison")

    poller = SqsPoller(SqsMapping(url, arn, poll_wait_seconds=1), stub_function(handler), sqs)
    # WHEN the poller keeps polling until the source queue is empty (bounded)
    deadline = time.monotonic() + BOUNDED_WAIT_SECONDS
    while queue_depth(sqs, url) != (0, 0) and time.monotonic() < deadline:
        poller.poll_once()
    # THEN moto's own ReceiveMessage moved it to the DLQ after exactly maxReceiveCount deliveries
    assert invocations == ["1", "2"]
    assert queue_depth(sqs, dlq_url)[0] == 1
    moved = sqs.receive_message(QueueUrl=dlq_url, MessageSystemAttributeNames=["All"])["Messages"][0]
    assert moved["MessageId"] == message_id
    assert moved["Body"] == "poison"


def test_a_visibility_the_function_sets_on_a_failed_record_holds(sqs: BaseClient, make_queue: QueueFactory) -> None:
    # GIVEN a queue whose visibility timeout (120 s) outlasts the wait, and a handler that fails its record after
    # setting its visibility to 1 s through the receipt handle (the consumer's backoff, ChangeMessageVisibility)
    url, arn = make_queue(visibility_timeout=120)
    send(sqs, url, "retry me")
    receives: list[str] = []

    def handler(event: Any, context: Any) -> dict[str, Any]:
        (record,) = event["Records"]
        receives.append(record["attributes"]["ApproximateReceiveCount"])
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=1)
        return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}

    poller = SqsPoller(SqsMapping(url, arn, poll_wait_seconds=1), stub_function(handler), sqs)
    # WHEN the poller keeps polling (bounded, far below the queue's visibility timeout)
    deadline = time.monotonic() + BOUNDED_WAIT_SECONDS
    while len(receives) < 2 and time.monotonic() < deadline:
        poller.poll_once()
    # THEN the failed record was kept (not deleted) and came back after the function's visibility, not the queue's
    assert receives == ["1", "2"]


def test_batches_are_assembled_beyond_ten_within_the_window(sqs: BaseClient, make_queue: QueueFactory) -> None:
    # GIVEN 15 messages and a mapping with batch size 15 and a batching window
    url, arn = make_queue()
    for start in range(0, 15, 5):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(start, start + 5)]
        )
    sizes: list[int] = []
    mapping = SqsMapping(url, arn, batch_size=15, batching_window_seconds=5)
    poller = SqsPoller(mapping, stub_function(lambda e, c: sizes.append(len(e["Records"]))), sqs)
    # WHEN one batch is collected THEN it holds all 15 (more than one ReceiveMessage can return)
    assert poller.poll_once() == 15
    assert sizes == [15]


def test_maximum_concurrency_bounds_batches_in_flight(sqs: BaseClient, make_queue: QueueFactory) -> None:
    # GIVEN 8 messages, batch size 1, maximum concurrency 2, and a handler that records overlap
    url, arn = make_queue()
    send(sqs, url, *[str(i) for i in range(8)])
    lock = threading.Lock()
    state = {"now": 0, "max": 0, "done": 0}

    def handler(event: Any, context: Any) -> None:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
            state["done"] += 1

    function = stub_function(handler, name="consumer")
    poller = SqsPoller(SqsMapping(url, arn, batch_size=1, maximum_concurrency=2), function, sqs)
    # WHEN the poller runs until every message is handled (bounded), then stops
    poller.start()
    deadline = time.monotonic() + BOUNDED_WAIT_SECONDS
    while state["done"] < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert poller.stop(timeout=10)
    # THEN all were handled, never more than two at once
    assert state["done"] == 8
    assert state["max"] <= 2
    assert function.stats().max_in_flight <= 2
    assert queue_depth(sqs, url) == (0, 0)


def test_sns_bridge_invokes_the_function_with_an_sns_event(sqs: BaseClient, sns: BaseClient) -> None:
    # GIVEN a topic bridged to a function
    topic_arn = sns.create_topic(Name=unique("low"))["TopicArn"]
    events: list[dict[str, Any]] = []
    bridge = SnsToFunctionBridge(topic_arn, stub_function(lambda e, c: events.append(e), name="notifier"), sqs, sns)
    bridge.setup()
    # WHEN a notification is published
    sns.publish(
        TopicArn=topic_arn,
        Subject="ALARM: queue age",
        Message=json.dumps({"AlarmName": "age"}),
        MessageAttributes={"tier": {"DataType": "String", "StringValue": "low"}},
    )
    assert bridge.poll_once() == 1
    # THEN the function got SNS's Lambda event
    (record,) = events[0]["Records"]
    assert (record["EventSource"], record["EventVersion"]) == ("aws:sns", "1.0")
    assert record["EventSubscriptionArn"].startswith(topic_arn + ":")
    message = record["Sns"]
    assert (message["Type"], message["TopicArn"], message["Subject"]) == ("Notification", topic_arn, "ALARM: queue age")
    assert json.loads(message["Message"]) == {"AlarmName": "age"}
    assert message["MessageAttributes"] == {"tier": {"Type": "String", "Value": "low"}}
    assert {"MessageId", "Timestamp", "SignatureVersion", "Signature", "SigningCertUrl", "UnsubscribeUrl"} <= set(
        message
    )


def test_sns_bridge_drops_a_notification_after_max_attempts(sqs: BaseClient, sns: BaseClient) -> None:
    # GIVEN a bridge (1 s between attempts, 2 attempts) to a function that always fails
    topic_arn = sns.create_topic(Name=unique("low"))["TopicArn"]
    attempts: list[int] = []

    def handler(event: Any, context: Any) -> None:
        attempts.append(1)
        raise RuntimeError("mail server down")

    settings = BridgeSettings(visibility_timeout_seconds=1, max_attempts=2)
    bridge = SnsToFunctionBridge(topic_arn, stub_function(handler, name="notifier"), sqs, sns, settings)
    subscription = bridge.setup()
    sns.publish(TopicArn=topic_arn, Message="hello")
    # WHEN the bridge polls until the notification is gone (bounded)
    deadline = time.monotonic() + BOUNDED_WAIT_SECONDS
    while queue_depth(sqs, subscription.queue_url) != (0, 0) and time.monotonic() < deadline:
        bridge.poll_once()
    # THEN it was tried exactly twice, then dropped
    assert len(attempts) == 2
    assert queue_depth(sqs, subscription.queue_url) == (0, 0)


def test_a_paused_mapping_receives_nothing_until_resumed(sqs: BaseClient, make_queue: QueueFactory) -> None:
    # GIVEN a queue holding a message, and a mapping paused as by the consumer-paused fault
    url, arn = make_queue()
    send(sqs, url, "waiting")
    paused = threading.Event()
    paused.set()
    events: list[dict[str, Any]] = []
    poller = SqsPoller(SqsMapping(url, arn), stub_function(lambda e, c: events.append(e)), sqs, paused.is_set)
    # WHEN it polls THEN it receives nothing: the message stays visible and the function is not called
    assert poller.poll_once() == 0
    assert events == [] and queue_depth(sqs, url) == (1, 0)
    # WHEN the pause is lifted THEN the next poll delivers the message
    paused.clear()
    assert poller.poll_once() == 1
    assert len(events) == 1 and queue_depth(sqs, url) == (0, 0)


def test_a_poll_at_the_in_flight_cap_receives_nothing_instead_of_failing() -> None:
    # GIVEN SQS answering a short poll with OverLimit, as it does at the queue's in-flight cap
    client = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_client_error("receive_message", service_error_code="OverLimit", http_status_code=403)
    stubber.add_client_error("receive_message", service_error_code="AccessDenied", http_status_code=403)
    with stubber:
        # WHEN the poller receives THEN it gets nothing (and keeps the batch it is collecting), as a long poll would
        assert receive(client, "https://sqs.us-east-1.amazonaws.com/1/q", 10, 0) == []
        # AND any other error still raises
        with pytest.raises(ClientError):
            receive(client, "https://sqs.us-east-1.amazonaws.com/1/q", 10, 0)
