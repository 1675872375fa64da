"""The local stack's faults, by name: what `invoke chaos`, the console and the load scenarios may inject
(local/services/chaos.py makes them happen)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["connection", "throttle", "crash", "pause"]
MAX_FAULT_SECONDS = 3600.0


@dataclass(frozen=True)
class Fault:
    service: str  # botocore's hyphenized service id, as in event names
    operations: frozenset[str] | None  # None: every operation
    kind: FaultKind
    description: str


FAULTS: Mapping[str, Fault] = {
    "db-down": Fault("dynamodb", None, "connection", "DynamoDB unreachable: every call fails to connect"),
    "db-throttle": Fault("dynamodb", None, "throttle", "DynamoDB throttles: ProvisionedThroughputExceededException"),
    "archive-down": Fault("s3", frozenset({"PutObject"}), "connection", "S3 PutObject fails to connect"),
    "queue-down": Fault(
        "sqs", frozenset({"SendMessage", "SendMessageBatch"}), "connection", "SQS sends fail to connect"
    ),
    "consumer-crash": Fault(
        "dynamodb",
        frozenset({"BatchWriteItem"}),
        "crash",
        "the consumer dies right after its first BatchWriteItem of an invocation landed",
    ),
    "consumer-paused": Fault(
        "lambda",
        None,
        "pause",
        "the consumer's event source mapping is stuck: it stops polling, no error, its state still Enabled",
    ),
}


class UnknownFaultError(ValueError):
    """A fault name that is not in FAULTS; the message lists the known ones."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown fault {name!r} (known: {', '.join(FAULTS)})")
