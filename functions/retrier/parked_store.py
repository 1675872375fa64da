"""The parked objects in S3, as the retrier uses them: listed in window order, and the breaker's state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.common.parked import (
    BREAKER_KEY,
    PARKED_PREFIX,
    breaker_is_open,
    key_retry_since_ms,
)

# A run lists at most this many keys (1,000 per ListObjectsV2 page): the oldest, which are the ones due first.
MAX_KEYS_PER_RUN = 100_000


@dataclass(frozen=True, slots=True)
class ParkedObject:
    key: str
    newest_retry_since_ms: int


class ParkedStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def oldest(self, limit: int = MAX_KEYS_PER_RUN) -> tuple[list[ParkedObject], bool]:
        """Parked objects in the order their windows end, and whether there are more than `limit`."""
        objects: list[ParkedObject] = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=PARKED_PREFIX):
            for item in page.get("Contents", []):
                since = key_retry_since_ms(item["Key"])
                if since is not None:
                    objects.append(ParkedObject(item["Key"], since))
                if len(objects) >= limit:
                    return objects, True
        return objects, False

    def breaker_open(self, now_ms: int, fresh_ms: int, on_error: Callable[[Exception], None]) -> bool:
        """The consumers' last word on the store, if written within `fresh_ms`; none yet, stale or unreadable
        counts as answering."""
        try:
            document = self._s3.get_object(Bucket=self._bucket, Key=BREAKER_KEY)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            return False
        except (BotoCoreError, ClientError) as error:
            on_error(error)
            return True  # cannot tell: hold (a trickle still probes)
        return breaker_is_open(document, now_ms, fresh_ms)
