"""Writing items with BatchWriteItem: 25 per call, unprocessed items retried within a deadline."""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

logger = Logger(service="consumer", child=True)

MAX_ITEMS_PER_CALL = 25


@dataclass(frozen=True, slots=True)
class WriteResult:
    unwritten: set[str]
    """Keys of the items that are not known to be written."""
    retried: int
    """Items sent again after DynamoDB returned them as UnprocessedItems."""


class BatchWriter:
    """Writes items keyed by one string hash key.

    Unprocessed items are retried with exponential backoff and full jitter until `deadline` (a
    `clock()` value); a BatchWriteItem error fails the items of that call only.
    """

    def __init__(
        self,
        client: Any,
        table_name: str,
        key: str,
        *,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._table_name = table_name
        self._key = key
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._clock = clock

    def write(self, items: dict[str, dict[str, Any]], deadline: float) -> WriteResult:
        """Write `items` ({key: DynamoDB item}); keys are unique, as one call must not repeat a key."""
        unwritten: set[str] = set()
        retried = 0
        ordered = list(items)
        for start in range(0, len(ordered), MAX_ITEMS_PER_CALL):
            keys = ordered[start : start + MAX_ITEMS_PER_CALL]
            if self._clock() >= deadline:
                logger.warning("out of time: items not attempted", extra={"items": len(keys)})
                unwritten.update(keys)
                continue
            chunk_unwritten, chunk_retried = self._write_chunk([items[key] for key in keys], deadline)
            unwritten |= chunk_unwritten
            retried += chunk_retried
        return WriteResult(unwritten=unwritten, retried=retried)

    def _keys(self, requests: list[dict[str, Any]]) -> set[str]:
        return {request["PutRequest"]["Item"][self._key]["S"] for request in requests}

    def _write_chunk(self, items: list[dict[str, Any]], deadline: float) -> tuple[set[str], int]:
        pending = [{"PutRequest": {"Item": item}} for item in items]
        retried = 0
        attempt = 0
        while True:
            try:
                response = self._client.batch_write_item(RequestItems={self._table_name: pending})
            except (BotoCoreError, ClientError):
                logger.exception("BatchWriteItem failed", extra={"items": len(pending)})
                return self._keys(pending), retried
            pending = response.get("UnprocessedItems", {}).get(self._table_name, [])
            if not pending:
                return set(), retried
            attempt += 1
            delay = random.uniform(0, min(self._max_delay, self._base_delay * 2**attempt))
            if self._clock() + delay >= deadline:
                logger.warning("out of time: unprocessed items left", extra={"items": len(pending)})
                return self._keys(pending), retried
            retried += len(pending)
            self._sleep(delay)
