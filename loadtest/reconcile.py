"""Reconciliation: every id the API accepted, looked up in the table.

- lost: accepted ids that are not in the table;
- duplicates: the table's key is the event id, so the table cannot hold a duplicate item. What can go
  wrong is the API handing out the same id twice for different requests. An id the log holds more than
  once is an *idempotent repeat* when every occurrence carries the same Idempotency-Key (the key's
  contract: same key, same ids — e.g. a client's retry); any other repeat is a *duplicate*.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadtest.errors import LoadTestError
from loadtest.idlog import AcceptedRequest
from ops.errors import OpsError
from ops.reconcile import existing_ids

BATCH_GET_MAX_KEYS = 100  # DynamoDB BatchGetItem's limit

Lookup = Callable[[Sequence[str]], set[str]]


@dataclass(frozen=True)
class Reconciliation:
    requests: int  # accepted requests in the log (retries included)
    accepted: int  # distinct accepted ids
    stored: int
    lost: tuple[str, ...] = field(repr=False)
    duplicates: int  # repeats of an id not explained by one Idempotency-Key
    idempotent_repeats: int  # repeats explained by it

    @property
    def lost_count(self) -> int:
        return len(self.lost)


def chunks(items: Sequence[str], size: int = BATCH_GET_MAX_KEYS) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def reconcile(requests: Sequence[AcceptedRequest], lookup: Lookup) -> Reconciliation:
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
    return Reconciliation(len(requests), len(accepted), len(accepted) - len(lost), lost, duplicates, idempotent)


def dynamodb_lookup(client: Any, table: str, sleep: Callable[[float], None] = time.sleep) -> Lookup:
    """Which of the ids the table holds: the operators' reconcile lookup (BatchGetItem, retried)."""

    def lookup(ids: Sequence[str]) -> set[str]:
        try:
            return existing_ids(client, table, ids, sleep=sleep)
        except OpsError as error:
            raise LoadTestError(str(error)) from None

    return lookup
