"""`invoke redrive`: messages from the dead-letter queue back to the ingest queue.

On AWS this is one call, StartMessageMoveTask, and SQS moves the messages itself (then we follow the task
until it ends). Where that API is missing — moto answers it with a 500 "not implemented" — the messages are
moved by hand: receive 10, send them as a batch, delete those that were sent. A message is deleted from the
DLQ only after the ingest queue has it, so a crash in between can duplicate a message but never lose one,
and the table key (event_id) absorbs the duplicate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ops.aws import aws_errors, error_code, error_message
from ops.errors import OpsError
from ops.progress import Progress
from ops.waiting import WaitTimedOut, wait_until

# What "this endpoint has no message move task" looks like: moto's NotImplementedError becomes a 500.
UNSUPPORTED_CODES = frozenset({"InvalidAction", "UnsupportedOperation", "NotImplemented", "500", "501"})
MOVE_TASK_WAIT_SECONDS = 30 * 60
POLL_SECONDS = 5.0
RECEIVE_WAIT_SECONDS = 1  # long polling asks every SQS server, so an empty answer means (nearly) empty
EMPTY_RECEIVES_TO_STOP = 2
IN_FLIGHT_SECONDS = 60  # long enough to send and delete a batch; expiry only makes a message visible again


@dataclass
class RedriveResult:
    method: str  # "message move task" or "receive/send/delete"
    moved: int = 0
    failed: list[str] = field(default_factory=list)
    note: str = ""

    def summary(self) -> list[str]:
        lines = [f"moved {self.moved} messages from the DLQ to the ingest queue ({self.method})"]
        if self.note:
            lines.append(self.note)
        if self.failed:
            lines.append(f"FAILED: {len(self.failed)} messages stay in the DLQ:")
            lines += [f"  {failure}" for failure in self.failed[:20]]
        return lines


def queue_arn(sqs: Any, queue_url: str) -> str:
    with aws_errors(f"reading {queue_url}"):
        return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def start_move_task(sqs: Any, source_arn: str, destination_arn: str) -> str | None:
    """The task handle, or None when this endpoint does not implement message move tasks."""
    try:
        return sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=destination_arn)["TaskHandle"]
    except ClientError as error:
        if error_code(error) in UNSUPPORTED_CODES:
            return None
        raise OpsError(f"starting the message move task: {error_message(error)}") from None


def follow_move_task(
    sqs: Any,
    source_arn: str,
    task_handle: str,
    *,
    progress: Progress | None = None,
    timeout_seconds: float = MOVE_TASK_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> RedriveResult:
    moved = 0

    def task() -> dict[str, Any]:
        nonlocal moved
        with aws_errors("reading the message move task"):
            tasks = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=10)["Results"]
        found: dict[str, Any] = next(
            (each for each in tasks if each.get("TaskHandle") == task_handle), tasks[0] if tasks else {}
        )
        new_moved = int(found.get("ApproximateNumberOfMessagesMoved", moved))
        if progress:
            progress.update(new_moved - moved, note=found.get("Status", "UNKNOWN").lower())
        moved = new_moved
        return found

    def ended(found: dict[str, Any]) -> bool:
        return found.get("Status") in ("COMPLETED", "FAILED", "CANCELLED", "CANCELLING")

    try:
        final = wait_until(
            task, ended, timeout=timeout_seconds, interval=POLL_SECONDS, what="the move task", clock=clock, sleep=sleep
        )
    except WaitTimedOut as timed_out:
        status = timed_out.last.get("Status", "UNKNOWN")
        return RedriveResult(
            "message move task",
            moved=moved,
            note=f"still {status} after {timeout_seconds / 60:.0f} min; SQS carries on moving in the background",
        )
    status = final["Status"]
    if status == "COMPLETED":
        return RedriveResult("message move task", moved=moved)
    reason = final.get("FailureReason", status)
    return RedriveResult("message move task", moved=moved, failed=[f"task {status}: {reason}"])


def move_by_hand(
    sqs: Any,
    source_url: str,
    destination_url: str,
    *,
    limit: int | None = None,
    progress: Progress | None = None,
    receive_wait_seconds: int = RECEIVE_WAIT_SECONDS,
) -> RedriveResult:
    """Receive, send, delete in batches of 10 until the DLQ answers empty twice (or `limit` is reached)."""
    result = RedriveResult("receive/send/delete")
    empty = 0
    while empty < EMPTY_RECEIVES_TO_STOP and (limit is None or result.moved < limit):
        wanted = 10 if limit is None else max(1, min(10, limit - result.moved))
        with aws_errors("receiving from the DLQ"):
            messages = sqs.receive_message(
                QueueUrl=source_url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=receive_wait_seconds,
                VisibilityTimeout=IN_FLIGHT_SECONDS,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        if not messages:
            empty += 1
            continue
        empty = 0
        entries = []
        for index, message in enumerate(messages):
            entry = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        with aws_errors("sending to the ingest queue"):
            response = sqs.send_message_batch(QueueUrl=destination_url, Entries=entries)
        for failure in response.get("Failed", []):
            message = messages[int(failure["Id"])]
            # Left alone, it becomes visible in the DLQ again when its visibility timeout ends.
            result.failed.append(f"{message['MessageId']}: {failure.get('Code')} {failure.get('Message', '')}".strip())
        sent = [messages[int(success["Id"])] for success in response.get("Successful", [])]
        if sent:
            with aws_errors("deleting moved messages from the DLQ"):
                sqs.delete_message_batch(
                    QueueUrl=source_url,
                    Entries=[{"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(sent)],
                )
        result.moved += len(sent)
        if progress:
            progress.update(len(sent))
        if result.failed and not sent:
            break  # the ingest queue refuses everything: stop instead of spinning on the same messages
    return result


def redrive(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    *,
    limit: int | None = None,
    progress_stream: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    move_client: Any = None,
    receive_wait_seconds: int = RECEIVE_WAIT_SECONDS,
) -> RedriveResult:
    """Move the DLQ's messages to the ingest queue: SQS's own move task where it exists, by hand otherwise.

    `move_client`: the client for StartMessageMoveTask (without retries, so an endpoint that lacks the API
    answers at once); `limit` forces the by-hand path, the only one that can stop after N messages.
    """
    progress = Progress("redrive: moved", stream=progress_stream)
    source_arn, destination_arn = queue_arn(sqs, dlq_url), queue_arn(sqs, queue_url)
    if limit is None:
        handle = start_move_task(move_client or sqs, source_arn, destination_arn)
        if handle is not None:
            result = follow_move_task(sqs, source_arn, handle, progress=progress, sleep=sleep)
            progress.finish()
            return result
    result = move_by_hand(
        sqs, dlq_url, queue_url, limit=limit, progress=progress, receive_wait_seconds=receive_wait_seconds
    )
    if limit is None:
        result.note = "this endpoint has no StartMessageMoveTask (moto): moved by receive/send/delete"
    progress.finish()
    in_flight = in_flight_count(sqs, dlq_url)
    if in_flight:
        # Most likely the archiver holds them (it consumes the DLQ); they come back after its visibility timeout.
        result.note = "\n".join(
            filter(
                None,
                [
                    result.note,
                    f"{in_flight} messages are in flight in the DLQ (the archiver, or another "
                    "consumer, holds them): they were not moved; run redrive again once they are visible",
                ],
            )
        )
    return result


def in_flight_count(sqs: Any, queue_url: str) -> int:
    with aws_errors(f"reading {queue_url}"):
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))
