"""What SQS would count, seen on the clients' calls, and the queues' sampled depth and oldest message."""

from __future__ import annotations

from botocore.client import BaseClient

from local.services.metrics import MetricSink
from local.services.pollers import receive
from local.services.sqs_metrics import QueueSampler, SqsObserver
from tests.local.conftest import QueueFactory
from tests.local.helpers import named


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
