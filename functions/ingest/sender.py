"""Putting envelopes on the ingest queue: one SendMessage, or SendMessageBatch with entry retries."""

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from functions.common import sqs_send

logger = Logger(child=True)  # named after POWERTOOLS_SERVICE_NAME


def _chunks(bodies: list[str]) -> Iterator[dict[int, str]]:
    """Consecutive {index: body} groups that each fit one SendMessageBatch call."""
    entries = ({"Id": str(index), "MessageBody": body} for index, body in enumerate(bodies))
    for batch in sqs_send.batches(entries):
        yield {int(entry["Id"]): entry["MessageBody"] for entry in batch}


class QueueSender:
    """Sends message bodies and reports which did not reach the queue.

    Whole-call errors are already retried by botocore; entries that SendMessageBatch reports as
    failed are retried here a couple of times with a short jittered backoff.
    """

    def __init__(
        self,
        client: Any,
        queue_url: str,
        *,
        attempts: int = 3,
        backoff_seconds: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._queue_url = queue_url
        self._attempts = attempts
        self._backoff_seconds = backoff_seconds
        self._sleep = sleep

    def send(self, bodies: list[str]) -> set[int]:
        """Send each body as one message; return the indexes of the bodies that are not in the queue."""
        if len(bodies) == 1:
            return self._send_one(bodies[0])
        failed: set[int] = set()
        for chunk in _chunks(bodies):
            failed |= self._send_chunk(chunk)
        return failed

    def _send_one(self, body: str) -> set[int]:
        try:
            self._client.send_message(QueueUrl=self._queue_url, MessageBody=body)
        except (BotoCoreError, ClientError):
            logger.exception("SendMessage failed")
            return {0}
        return set()

    def _send_chunk(self, chunk: dict[int, str]) -> set[int]:
        pending = chunk
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(random.uniform(0, self._backoff_seconds * 2**attempt))
            entries = [{"Id": str(index), "MessageBody": body} for index, body in pending.items()]
            try:
                response = self._client.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
            except (BotoCoreError, ClientError):
                logger.exception("SendMessageBatch failed", extra={"entries": len(entries)})
                return set(pending)
            sent = {int(entry["Id"]) for entry in response.get("Successful", [])}
            pending = {index: body for index, body in pending.items() if index not in sent}
            if not pending:
                return set()
            codes = sorted({entry.get("Code", "?") for entry in response.get("Failed", [])})
            logger.warning("SendMessageBatch entries failed", extra={"failed": len(pending), "codes": codes})
        return set(pending)
