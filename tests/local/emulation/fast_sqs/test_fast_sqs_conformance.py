"""Conformance: the same SQS behaviour checks against plain moto server and against the local stack's
moto server (indexed standard queues, local/fast_sqs); what a client observes must be identical.

Each scenario drives one server through a `Transcript`, which records every reply with the per-run
parts (message ids, receipt handles, timestamps, the server's address) replaced by stable labels. Waiting on
a timeout (visibility, delay) waits for its cause — the queue's counts — not for a fixed time, and those
polls are not recorded: only what the scenario asserts on is.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.emulation.process import MotoServer, PortInUseError, free_port, start_moto

SERVERS = {"plain moto": "moto.server", "indexed": "local.emulation.server"}
WAIT_SECONDS = 30  # generous bound on a 1-2 s visibility or delay timeout on a busy machine
LABELLED = {"MessageId", "ReceiptHandle"}
VOLATILE = {"SentTimestamp", "ApproximateFirstReceiveTimestamp", "CreatedTimestamp", "LastModifiedTimestamp"}
VOLATILE.add("SequenceNumber")  # moto draws FIFO sequence numbers at random


def _start(module: str, log_path: Path) -> MotoServer:
    for attempt in range(3):
        try:
            return start_moto(port=free_port(), log_path=log_path, server_module=module)
        except PortInUseError:  # another worker took the port between the probe and the bind
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, MotoServer]]:
    started: dict[str, MotoServer] = {}
    try:
        for name, module in SERVERS.items():
            started[name] = _start(module, tmp_path_factory.mktemp("moto") / "moto.log")
        yield started
    finally:
        for server in started.values():
            server.stop()


class Transcript:
    """Calls SQS and records what a client observes, with per-run values made comparable."""

    def __init__(self, server: MotoServer) -> None:
        self.sqs = server.client("sqs")
        self.entries: list[tuple[str, Any]] = []
        self._labels: dict[str, str] = {server.endpoint_url: "<endpoint>"}

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            reply = getattr(self.sqs, operation)(**params)
        except ClientError as error:
            reply = {"Error": {"Code": error.response["Error"]["Code"], "Message": error.response["Error"]["Message"]}}
        reply.pop("ResponseMetadata", None)
        self.entries.append((operation, self._stable(reply)))
        return reply

    def create(self, name: str, **attributes: str) -> str:
        self.call("create_queue", QueueName=name, Attributes=attributes)
        return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]

    def attributes(self, url: str) -> dict[str, Any]:
        return self.call("get_queue_attributes", QueueUrl=url, AttributeNames=["All"])

    def wait_for_counts(self, url: str, visible: int, in_flight: int = 0, delayed: int = 0) -> None:
        """Poll (unrecorded) until the queue's Approximate* counts are these."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        names.append("ApproximateNumberOfMessagesDelayed")
        wanted = [str(visible), str(in_flight), str(delayed)]
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            counts = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            if [counts[name] for name in names] == wanted:
                return
            assert time.monotonic() < deadline, f"counts stayed {counts}, expected {wanted}"
            time.sleep(0.1)

    def _stable(self, node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            return {k: self._stable(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [self._stable(item, key) for item in node]
        if key in VOLATILE:
            return "<volatile>"
        if key in LABELLED:
            return self._labels.setdefault(node, f"{key}#{len(self._labels)}")
        if isinstance(node, str):
            for raw, label in self._labels.items():
                node = node.replace(raw, label)
        return node


def handles(reply: dict[str, Any]) -> list[str]:
    return [message["ReceiptHandle"] for message in reply.get("Messages", [])]


def entries(bodies: list[str], **extra: Any) -> list[dict[str, Any]]:
    return [{"Id": f"e{i}", "MessageBody": body, **extra} for i, body in enumerate(bodies)]


def send_receive_delete(t: Transcript) -> None:
    url = t.create("basic")
    t.call("send_message_batch", QueueUrl=url, Entries=entries([f"body {i}" for i in range(10)]))
    t.call("send_message", QueueUrl=url, MessageBody="eleventh")
    first = t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=4, AttributeNames=["All"])
    t.attributes(url)
    t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"])
    deletes = [{"Id": f"d{i}", "ReceiptHandle": handle} for i, handle in enumerate(handles(first))]
    t.call("delete_message_batch", QueueUrl=url, Entries=[*deletes, {"Id": "bogus", "ReceiptHandle": "not-a-handle"}])
    t.call("delete_message", QueueUrl=url, ReceiptHandle=handles(first)[0])  # a second delete is accepted
    t.call("delete_message", QueueUrl=url, ReceiptHandle="not-a-handle")
    t.attributes(url)
    t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=10)  # everything left is in flight
    t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=11)


def visibility_timeout_expires(t: Transcript) -> None:
    url = t.create("expiry", VisibilityTimeout="1")
    t.call("send_message_batch", QueueUrl=url, Entries=entries(["a", "b", "c"]))
    first = t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=2, AttributeNames=["All"])
    t.attributes(url)
    t.wait_for_counts(url, visible=3)
    t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"])
    t.call("delete_message", QueueUrl=url, ReceiptHandle=handles(first)[0])  # an older handle still deletes
    t.attributes(url)


def change_visibility(t: Transcript) -> None:
    url = t.create("visibility", VisibilityTimeout="30")
    t.call("send_message_batch", QueueUrl=url, Entries=entries(["a", "b", "c", "d"]))
    first = handles(t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=4))
    t.call("change_message_visibility", QueueUrl=url, ReceiptHandle=first[0], VisibilityTimeout=0)
    t.wait_for_counts(url, visible=1, in_flight=3)
    t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"])
    batch = [
        {"Id": "back", "ReceiptHandle": first[1], "VisibilityTimeout": 0},
        {"Id": "too-long", "ReceiptHandle": first[2], "VisibilityTimeout": 43201},
        {"Id": "bogus", "ReceiptHandle": "not-a-handle", "VisibilityTimeout": 5},
    ]
    t.call("change_message_visibility_batch", QueueUrl=url, Entries=batch)
    t.wait_for_counts(url, visible=1, in_flight=3)
    t.attributes(url)
    t.call("change_message_visibility", QueueUrl=url, ReceiptHandle=first[3], VisibilityTimeout=43200)
    t.call("change_message_visibility", QueueUrl=url, ReceiptHandle="not-a-handle", VisibilityTimeout=5)
    t.call("delete_message", QueueUrl=url, ReceiptHandle=first[3])
    t.call("change_message_visibility", QueueUrl=url, ReceiptHandle=first[3], VisibilityTimeout=5)
    t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=10)


def redrive_to_dead_letter_queue(t: Transcript) -> None:
    dlq = t.create("redrive-dlq")
    dlq_arn = t.attributes(dlq)["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url = t.create("redrive-source", VisibilityTimeout="30", RedrivePolicy=policy)
    t.call("send_message_batch", QueueUrl=url, Entries=entries(["a", "b", "c"]))
    first = t.call("receive_message", QueueUrl=url, VisibilityTimeout=0)  # visible again at once
    t.call("receive_message", QueueUrl=url, VisibilityTimeout=0, AttributeNames=["ApproximateReceiveCount"])
    t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=2, AttributeNames=["ApproximateReceiveCount"])
    t.attributes(url)
    t.attributes(dlq)
    t.call("receive_message", QueueUrl=dlq, MaxNumberOfMessages=10, AttributeNames=["All"])
    t.call("delete_message", QueueUrl=url, ReceiptHandle=handles(first)[0])  # it left the source queue
    t.call("delete_message", QueueUrl=dlq, ReceiptHandle=handles(first)[0])  # moto: the DLQ knows its old handles
    t.call("list_dead_letter_source_queues", QueueUrl=dlq)
    t.attributes(dlq)


def delays(t: Transcript) -> None:
    url = t.create("delays")
    t.call("send_message", QueueUrl=url, MessageBody="later", DelaySeconds=1)
    t.call("send_message", QueueUrl=url, MessageBody="now", DelaySeconds=0)
    t.attributes(url)
    t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=10)
    t.wait_for_counts(url, visible=1, in_flight=1)
    t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=10)
    t.call("set_queue_attributes", QueueUrl=url, Attributes={"DelaySeconds": "1"})
    t.call("send_message", QueueUrl=url, MessageBody="queue default delay")
    t.attributes(url)
    t.call("send_message", QueueUrl=url, MessageBody="too late", DelaySeconds=901)
    too_late = {"Id": "bad", "MessageBody": "x", "DelaySeconds": 901}
    t.call("send_message_batch", QueueUrl=url, Entries=[*entries(["ok"]), too_late])
    t.wait_for_counts(url, visible=2, in_flight=2)
    t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=10)


def long_polling(t: Transcript) -> None:
    url = t.create("long-polling")
    t.call("receive_message", QueueUrl=url, WaitTimeSeconds=1)
    replies: list[dict[str, Any]] = []
    poller = threading.Thread(target=lambda: replies.append(t.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)))
    poller.start()
    t.call("send_message", QueueUrl=url, MessageBody="wakes the poller")  # before or during its wait: same reply
    poller.join(WAIT_SECONDS)
    t.entries.append(("long poll", t._stable([message["Body"] for message in replies[0]["Messages"]])))
    t.call("set_queue_attributes", QueueUrl=url, Attributes={"ReceiveMessageWaitTimeSeconds": "1"})
    t.call("receive_message", QueueUrl=url)  # the queue's default wait, on an empty queue


def purge(t: Transcript) -> None:
    url = t.create("purge")
    t.call("send_message_batch", QueueUrl=url, Entries=entries([f"m{i}" for i in range(5)]))
    received = t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=2)
    t.call("purge_queue", QueueUrl=url)
    t.attributes(url)
    t.call("delete_message", QueueUrl=url, ReceiptHandle=handles(received)[0])
    t.call("purge_queue", QueueUrl=url)  # within 60 s of the last one
    t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=10)
    t.call("send_message", QueueUrl=url, MessageBody="after the purge")
    t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=10)


def message_attributes(t: Transcript) -> None:
    url = t.create("message-attributes")
    attributes = {
        "Custom.a": {"DataType": "String", "StringValue": "alpha"},
        "Custom.n": {"DataType": "Number", "StringValue": "42"},
        "Other": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    trace = {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"}}
    t.call("send_message", QueueUrl=url, MessageBody="a", MessageAttributes=attributes, MessageSystemAttributes=trace)
    first = t.call("receive_message", QueueUrl=url, MessageAttributeNames=["Custom.*"], AttributeNames=["All"])
    t.call("change_message_visibility", QueueUrl=url, ReceiptHandle=handles(first)[0], VisibilityTimeout=0)
    t.wait_for_counts(url, visible=1)
    t.call("receive_message", QueueUrl=url, MessageAttributeNames=["All"])  # the filter did not touch the stored one


def order_under_churn(t: Transcript) -> None:
    url = t.create("churn", VisibilityTimeout="30")
    for batch in range(3):
        t.call("send_message_batch", QueueUrl=url, Entries=entries([f"m{batch * 10 + i}" for i in range(10)]))
    remaining = 30
    for _ in range(3):
        received = handles(t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=7))
        deletes = [{"Id": f"d{i}", "ReceiptHandle": handle} for i, handle in enumerate(received[:3])]
        t.call("delete_message_batch", QueueUrl=url, Entries=deletes)
        back = [{"Id": f"v{i}", "ReceiptHandle": h, "VisibilityTimeout": 0} for i, h in enumerate(received[3:])]
        t.call("change_message_visibility_batch", QueueUrl=url, Entries=back)
        remaining -= 3
        t.wait_for_counts(url, visible=remaining)
    while t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        pass
    t.attributes(url)


def fifo(t: Transcript) -> None:
    url = t.create("orders.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    t.call("send_message", QueueUrl=url, MessageBody="a", MessageGroupId="g1")
    t.call("send_message", QueueUrl=url, MessageBody="b", MessageGroupId="g1")
    t.call("send_message", QueueUrl=url, MessageBody="c", MessageGroupId="g2")
    t.call("send_message", QueueUrl=url, MessageBody="a", MessageGroupId="g1")  # a duplicate within 5 minutes
    t.call("send_message", QueueUrl=url, MessageBody="d")  # no group
    first = t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    t.attributes(url)
    t.call("delete_message", QueueUrl=url, ReceiptHandle=handles(first)[0])
    t.call("receive_message", QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])


SCENARIOS: list[Callable[[Transcript], None]] = [
    send_receive_delete,
    visibility_timeout_expires,
    change_visibility,
    redrive_to_dead_letter_queue,
    delays,
    long_polling,
    purge,
    message_attributes,
    order_under_churn,
    fifo,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_indexed_queues_answer_exactly_as_plain_moto(
    servers: dict[str, MotoServer], scenario: Callable[[Transcript], None]
) -> None:
    # GIVEN a fresh plain moto server and a fresh indexed one
    transcripts = {name: Transcript(server) for name, server in servers.items()}
    # WHEN the same scenario runs against each
    for transcript in transcripts.values():
        scenario(transcript)
    # THEN a client observes the same replies, call by call
    plain, indexed = (transcripts[name].entries for name in SERVERS)
    assert len(indexed) == len(plain)
    for (operation, expected), (_, observed) in zip(plain, indexed, strict=True):
        assert observed == expected, operation
