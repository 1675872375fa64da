"""Writing items with BatchWriteItem: 25 per call, unprocessed items retried within a deadline."""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

logger = Logger(child=True)  # named after POWERTOOLS_SERVICE_NAME

MAX_ITEMS_PER_CALL = 25


# DynamoDB's answer to a request it will never accept as sent, e.g. an item over 400 KB. BatchWriteItem
# rejects the whole call for one such item.
INVALID_REQUEST = "ValidationException"


@dataclass(slots=True)
class WriteResult:
    unwritten: set[str] = field(default_factory=set)
    """Keys of the items that are not known to be written, for a reason that may pass (retry them later)."""
    invalid: dict[str, str] = field(default_factory=dict)
    """Keys of the items DynamoDB rejects as invalid, with its reason: retrying cannot store them."""
    retried: int = 0
    """Items sent again after DynamoDB returned them as UnprocessedItems."""
    calls: int = 0
    """BatchWriteItem requests made."""
    failed: bool = False
    """A call failed (not merely ran out of time): the database is in trouble."""


class BatchWriter:
    """Writes items keyed by one string hash key.

    Unprocessed items are retried with exponential backoff and full jitter until `deadline` (a
    `clock()` value). A call DynamoDB rejects as invalid is split in halves until the invalid item is
    alone, so one bad item never fails its neighbours. Any other failed call means the database is in
    trouble: the rest of the batch is not attempted (the consumer parks it and retries it later).
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
        result = WriteResult()
        ordered = list(items)
        for start in range(0, len(ordered), MAX_ITEMS_PER_CALL):
            keys = ordered[start : start + MAX_ITEMS_PER_CALL]
            if self._clock() >= deadline:
                logger.warning("out of time: items not attempted", extra={"items": len(ordered) - start})
                result.unwritten.update(ordered[start:])
                break
            if not self._write_requests([{"PutRequest": {"Item": items[key]}} for key in keys], deadline, result):
                result.failed = True
                rest = ordered[start + MAX_ITEMS_PER_CALL :]
                if rest:
                    logger.warning("database failing: items not attempted", extra={"items": len(rest)})
                result.unwritten.update(rest)
                break
        return result

    def _keys(self, requests: list[dict[str, Any]]) -> set[str]:
        return {request["PutRequest"]["Item"][self._key]["S"] for request in requests}

    def _write_requests(self, pending: list[dict[str, Any]], deadline: float, result: WriteResult) -> bool:
        """Write `pending`, recording what is not written in `result`; False when the database failed."""
        attempt = 0
        while True:
            result.calls += 1
            try:
                response = self._client.batch_write_item(RequestItems={self._table_name: pending})
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != INVALID_REQUEST:
                    logger.exception("BatchWriteItem failed", extra={"items": len(pending)})
                    result.unwritten |= self._keys(pending)
                    return False
                return self._isolate_invalid(pending, str(error), deadline, result)
            except BotoCoreError:
                logger.exception("BatchWriteItem failed", extra={"items": len(pending)})
                result.unwritten |= self._keys(pending)
                return False
            pending = response.get("UnprocessedItems", {}).get(self._table_name, [])
            if not pending:
                return True
            attempt += 1
            delay = random.uniform(0, min(self._max_delay, self._base_delay * 2**attempt))
            if self._clock() + delay >= deadline:
                logger.warning("out of time: unprocessed items left", extra={"items": len(pending)})
                result.unwritten |= self._keys(pending)
                return True
            result.retried += len(pending)
            self._sleep(delay)

    def _isolate_invalid(
        self, pending: list[dict[str, Any]], reason: str, deadline: float, result: WriteResult
    ) -> bool:
        if len(pending) == 1:
            [key] = self._keys(pending)
            logger.warning("DynamoDB rejects an item as invalid", extra={"event_id": key, "reason": reason})
            result.invalid[key] = reason
            return True
        middle = len(pending) // 2
        first, second = pending[:middle], pending[middle:]
        if not self._write_in_time(first, deadline, result):
            result.unwritten |= self._keys(second)
            return False
        return self._write_in_time(second, deadline, result)

    def _write_in_time(self, pending: list[dict[str, Any]], deadline: float, result: WriteResult) -> bool:
        if self._clock() >= deadline:
            result.unwritten |= self._keys(pending)
            return True
        return self._write_requests(pending, deadline, result)
