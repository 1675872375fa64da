"""Reconciliation: every id the API accepted, looked up in the table, and in the S3 analytics store when the
stack has one.

- lost: accepted ids that are not in the table;
- duplicates: the table's key is the event id, so the table cannot hold a duplicate item. What can go
  wrong is the API handing out the same id twice for different requests. An id the log holds more than
  once is an *idempotent repeat* when every occurrence carries the same Idempotency-Key (the key's
  contract: same key, same ids — e.g. a client's retry); any other repeat is a *duplicate*.
- the S3 copy is counted as queries read it, through the view `events` (one row per event and hour): an
  accepted id in no row is lost from it, a row beyond an id's first is a duplicate. Identical copies of a line
  in the objects (a regrouped redelivery, a replay) are counted once by the view; they are reported apart.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from functions.common.contract import ANALYTICS_PREFIX
from loadtest.errors import LoadTestError
from loadtest.idlog import AcceptedRequest
from ops.errors import OpsError
from ops.reconcile import StoreCounts, analytics_store_counts, existing_ids, hour_prefixes

BATCH_GET_MAX_KEYS = 100  # DynamoDB BatchGetItem's limit
# The run's events were received after it started; a deployed stack's clock may differ from this machine's.
CLOCK_MARGIN_SECONDS = 300

Lookup = Callable[[Sequence[str]], set[str]]


@dataclass(frozen=True)
class S3Copy:
    """The accepted ids against the S3 analytics store."""

    found: int
    lost: tuple[str, ...] = field(repr=False)
    duplicates: int  # rows of the view `events` beyond the first of an accepted id
    duplicated: tuple[str, ...] = field(repr=False)  # the ids with more than one row
    objects: int
    copies: int = 0  # lines of the objects (`events_raw`) beyond an id's rows: counted once by the view

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
    requests: Sequence[AcceptedRequest], lookup: Lookup, analytics_store: StoreCounts | None = None
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
    s3 = s3_copy(accepted, analytics_store) if analytics_store is not None else None
    return Reconciliation(len(requests), len(accepted), len(accepted) - len(lost), lost, duplicates, idempotent, s3)


def s3_copy(accepted: Sequence[str], store: StoreCounts) -> S3Copy:
    """Each accepted id once in the view `events`: missing ones are lost, extra rows duplicates."""
    rows, lines = store.rows, store.lines
    lost = tuple(event_id for event_id in accepted if not rows[event_id])
    duplicated = tuple(event_id for event_id in accepted if rows[event_id] > 1)
    extra = sum(rows[event_id] - 1 for event_id in duplicated)
    copies = sum(lines[event_id] - rows[event_id] for event_id in accepted)
    return S3Copy(len(accepted) - len(lost), lost, extra, duplicated, store.objects, copies)


def analytics_counts_since(client: Any, bucket: str, since: float, until: float | None = None) -> StoreCounts:
    """Rows and lines per event id in the store's hour partitions from `since` (epoch seconds) on: a run's
    events."""
    first = datetime.fromtimestamp(since - CLOCK_MARGIN_SECONDS, UTC)
    last = datetime.fromtimestamp(until if until is not None else time.time() + CLOCK_MARGIN_SECONDS, UTC)
    try:
        return analytics_store_counts(client, bucket, hour_prefixes(ANALYTICS_PREFIX, first, last))
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
