"""What both outage models (benchmarks/outage_today.py, benchmarks/outage_parking.py) share: messages counted in
cohorts rather than one object each (1,000 events/s for 5 days are 432 M events), the scenario, the backlog
whose end is the end of the drain, and the result one design reports."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from core.config import SQS_IN_FLIGHT_QUOTA, Config
from ops.cost import Line

K = TypeVar("K", int, tuple[int, int], tuple[int, float, int])


class Cohorts(Generic[K]):
    """Message counts by key (a key starts with the messages' clock), taken oldest key first."""

    def __init__(self) -> None:
        self._counts: dict[K, int] = {}
        self._keys: list[K] = []  # a heap of the keys in _counts
        self.total = 0

    def add(self, key: K, count: int) -> None:
        if count <= 0:
            return
        if key not in self._counts:
            self._counts[key] = 0
            heapq.heappush(self._keys, key)
        self._counts[key] += count
        self.total += count

    def oldest(self) -> K | None:
        return self._keys[0] if self._keys else None

    def count(self, key: K) -> int:
        return self._counts.get(key, 0)

    def take(self, count: int) -> list[tuple[K, int]]:
        """Up to `count` messages, oldest first."""
        taken: list[tuple[K, int]] = []
        while count > 0 and self._keys:
            key = self._keys[0]
            available = self._counts[key]
            part = min(available, count)
            taken.append((key, part))
            count -= part
            self.total -= part
            if part == available:
                heapq.heappop(self._keys)
                del self._counts[key]
            else:
                self._counts[key] = available - part
        return taken

    def take_while(self, condition: Callable[[K], bool]) -> list[tuple[K, int]]:
        """Every cohort from the oldest on while `condition(key)` holds."""
        taken: list[tuple[K, int]] = []
        while self._keys and condition(self._keys[0]):
            key = heapq.heappop(self._keys)
            count = self._counts.pop(key)
            self.total -= count
            taken.append((key, count))
        return taken


def configured_in_flight_limit(config: Config) -> int:
    """The ingest queue's in-flight limit: SQS's quota on AWS (queue.in_flight_limit)."""
    return config.queue.in_flight_limit


@dataclass(frozen=True)
class Scenario:
    rate: int  # events accepted per second, before, during and after the outage
    outage_seconds: int  # the store fails in [0, outage_seconds)
    step_seconds: int = 10
    in_flight_limit: int = SQS_IN_FLIGHT_QUOTA
    max_drain_seconds: int = 30 * 86_400  # the simulation stops here if the backlog has not drained

    @property
    def end_seconds(self) -> int:
        return self.outage_seconds + self.max_drain_seconds


class Backlog:
    """The events accepted before the store answered again, until each is stored, dead-lettered or lost: the
    drain ends when none is left."""

    def __init__(self, recovery_seconds: int) -> None:
        self.recovery = recovery_seconds
        self.left = 0
        self.drained_at: int | None = None

    def accepted(self, clock: int, count: int) -> None:
        if clock < self.recovery:
            self.left += count

    def settled(self, clock: int, count: int, now: int) -> None:
        if clock < self.recovery:
            self.left -= count
            if self.left == 0 and now >= self.recovery and self.drained_at is None:
                self.drained_at = now


@dataclass
class DesignResult:
    design: str
    accepted: int = 0  # during the outage
    in_flight_peak: float = 0.0
    lost: int = 0  # deleted unread by the queue's retention
    dead_lettered: int = 0
    stored: int = 0
    store_requests: int = 0  # during the outage
    drain_seconds: int | None = None  # from recovery until every event accepted before it is settled
    unpark_start_seconds: int | None = None  # parking only: from recovery to the first pointers to waiting objects
    dead_lettered_late_seconds: int = 0  # parking only: the most an event was dead-lettered after its window ended
    largest_parked_object: float = 0.0  # parking only: events per object, at most (objects parked anew grow)
    stored_per_minute: list[int] = field(default_factory=list)  # from recovery on, while the backlog drains
    lines: list[Line] = field(default_factory=list)

    @property
    def cost(self) -> float:
        return sum(line.usd for line in self.lines)

    def count_stored(self, count: int, now: int, recovery: int, backlog: Backlog) -> None:
        self.stored += count
        if now >= recovery and backlog.drained_at is None:
            minute = (now - recovery) // 60
            while len(self.stored_per_minute) <= minute:
                self.stored_per_minute.append(0)
            self.stored_per_minute[minute] += count


def overlap(start: float, end: float, window_start: float, window_end: float) -> float:
    """Seconds [start, end) and [window_start, window_end) share."""
    return max(0.0, min(end, window_end) - max(start, window_start))


def consumer_in_flight(taken_per_second: float, per_batch: float, batch_seconds: float, most: int) -> float:
    """Messages the consumer holds (received, not yet deleted), by Little's law: the rate it takes them times how
    long each is held (gathering its batch, then the invocation); never more than the batches the mapping may run
    at once hold."""
    if taken_per_second <= 0:
        return 0.0
    gathering = per_batch / taken_per_second
    return min(float(most), taken_per_second * (gathering + batch_seconds))
