"""Writing parked events and the breaker's state to S3 (the format is functions/common/parked.py)."""

from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from ulid import ULID

from functions.common.clock import utc_now
from functions.common.parked import BREAKER_KEY, ParkedEvent, breaker_document, parked_key, write_parked

logger = Logger(child=True)  # named after POWERTOOLS_SERVICE_NAME


def park(s3: Any, bucket: str, events: list[ParkedEvent]) -> bool:
    """Put `events` as one object; True when S3 has it (the records may then be deleted from the queue)."""
    if not events:
        return True
    key = parked_key(max(event.retry_since_ms for event in events), str(ULID()))
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=write_parked(events), ContentType="application/gzip")
    except (BotoCoreError, ClientError):
        logger.exception("events not parked: their records return to the queue", extra={"events": len(events)})
        return False
    return True


def publish_breaker(s3: Any, bucket: str, *, is_open: bool) -> None:
    """Tell the retrier whether the store answers. Best effort: a lost update is corrected by the next probe or
    transition, and a "failing" that nobody refreshes goes stale by itself."""
    try:
        s3.put_object(
            Bucket=bucket,
            Key=BREAKER_KEY,
            Body=breaker_document(is_open, int(utc_now().timestamp() * 1000)),
            ContentType="application/json",
        )
    except (BotoCoreError, ClientError):
        logger.exception("breaker state not published", extra={"open": is_open})
