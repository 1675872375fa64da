"""Reconciliation: every id the API accepted, looked up in the table, and in the S3 analytics store when the
stack has one.

- lost: accepted ids that are not in the table;
- duplicates: the table's key is the event id, so the table cannot hold a duplicate item. What can go
  wrong is the API handing out the same id twice for different requests. An id the log holds more than
  once is an *idempotent repeat* when every occurrence carries the same Idempotency-Key (the key's
  contract: same key, same ids — e.g. a client's retry); any other repeat is a *duplicate*.
- the S3 copy: objects are keyed by their events, so a batch delivered again as the same batch rewrites its
  object; but a batch that comes back regrouped (an invocation that died after its PUT) writes its events
  into another object too. So the copy is counted line by line: an accepted id in no line is lost from it,
  every line beyond an id's first is a duplicate.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudformation.analytics import PREFIX as ANALYTICS_PREFIX
from loadtest.errors import LoadTestError
from loadtest.idlog import AcceptedRequest
from ops.errors import OpsError
from ops.reconcile import analytics_line_counts, existing_ids, hour_prefixes

BATCH_GET_MAX_KEYS = 100  # DynamoDB BatchGetItem's limit
# The run's events were received after it started; a deployed stack's clock may differ from this machine's.
CLOCK_MARGIN_SECONDS = 300

Lookup = Callable[[Sequence[str]], set[str]]
LineCounts = tuple[Counter[str], int]  # lines per event id in the S3 store, objects read


@dataclass(frozen=True)
class S3Copy:
    """The accepted ids against the S3 analytics store."""

    found: int
    lost: tuple[str, ...] = field(repr=False)
    duplicates: int  # lines beyond the first of an accepted id
    duplicated: tuple[str, ...] = field(repr=False)  # the ids with more than one line
    objects: int

    @property
    def lost_count(self) -> int:
        return len(self.lost)


@dataclass(frozen=True)
class Reconciliation:
    requests: int  # accepted requests in the log (retries included)
    accepted: int  # distinct accepted ids
    stored: int
    lost: tuple[str, ...] = field(repr=False)
    duplicates: int  # repeats of an id not explained by one Idempotency-Key
    idempotent_repeats: int  # repeats explained by it
    s3: S3Copy | None = None  # None: the stack has no S3 analytics store

    @property
    def lost_count(self) -> int:
        return len(self.lost)


def chunks(items: Sequence[str], size: int = BATCH_GET_MAX_KEYS) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def reconcile(
    requests: Sequence[AcceptedRequest], lookup: Lookup, s3_lines: LineCounts | None = None
) -> Reconciliation:
    keys_of: dict[str, list[str | None]] = defaultdict(list)
    for request in requests:
        for event_id in request.ids:
            keys_of[event_id].append(request.key)
    duplicates = idempotent = 0
    for keys in keys_of.values():
        repeats = len(keys) - 1
        if repeats and keys[0] is not None and all(key == keys[0] for key in keys):
            idempotent += repeats
        else:
            duplicates += repeats
    accepted = sorted(keys_of)
    stored: set[str] = set()
    for chunk in chunks(accepted):
        stored |= lookup(chunk)
    lost = tuple(event_id for event_id in accepted if event_id not in stored)
    s3 = s3_copy(accepted, *s3_lines) if s3_lines is not None else None
    return Reconciliation(len(requests), len(accepted), len(accepted) - len(lost), lost, duplicates, idempotent, s3)


def s3_copy(accepted: Sequence[str], lines_of: Counter[str], objects: int) -> S3Copy:
    """Each accepted id once in the store: missing ones are lost, extra lines duplicates."""
    lost = tuple(event_id for event_id in accepted if not lines_of[event_id])
    duplicated = tuple(event_id for event_id in accepted if lines_of[event_id] > 1)
    extra = sum(lines_of[event_id] - 1 for event_id in duplicated)
    return S3Copy(len(accepted) - len(lost), lost, extra, duplicated, objects)


def s3_line_counts(client: Any, bucket: str, since: float, until: float | None = None) -> LineCounts:
    """Lines per event id in the store's hour partitions from `since` (epoch seconds) on: a run's events."""
    first = datetime.fromtimestamp(since - CLOCK_MARGIN_SECONDS, UTC)
    last = datetime.fromtimestamp(until if until is not None else time.time() + CLOCK_MARGIN_SECONDS, UTC)
    try:
        return analytics_line_counts(client, bucket, hour_prefixes(ANALYTICS_PREFIX, first, last))
    except OpsError as error:
        raise LoadTestError(str(error)) from None


def dynamodb_lookup(client: Any, table: str, sleep: Callable[[float], None] = time.sleep) -> Lookup:
    """Which of the ids the table holds: the operators' reconcile lookup (BatchGetItem, retried)."""

    def lookup(ids: Sequence[str]) -> set[str]:
        try:
            return existing_ids(client, table, ids, sleep=sleep)
        except OpsError as error:
            raise LoadTestError(str(error)) from None

    return lookup
