"""The NEW retry design (issue 26) through a database outage, in cohorts: a circuit breaker per consumer execution
environment, batches parked in S3 while it is open (nothing waits in flight), one probe per interval per
environment, and the retrier: every interval, for up to its run time, it sends one pointer per parked object
(oldest first) while the ingest queue holds fewer visible messages than its depth — the objects whose retry window
is spent always, the others while the breaker document says closed, one into an empty queue while it says open.
The consumer handles a pointer's events as records of its batch, up to MAX_UNPARKED_EVENTS a batch: stored, left in
their object (breaker open), or (window spent, not stored) dead-lettered; an object loses only what left it — deleted
when empty, rewritten when some left, untouched when none did. The drain runs at the consumer's throughput on
batches of pointers.

Modelling choices: the mapping deals its batches round-robin over `maximum_concurrency` environments, each working
at most the step's seconds (ops/outage_model.py's batch times: a pointer adds a record and a GET, 8 side by side,
an object that changed a PUT or a DELETE); an environment takes the new events first, then pointers, oldest object
first; the new events an environment parks in a step share its objects, one per batch, keyed (as the consumer
keys them) by the newest event among them; a pointed object that keeps events, and one past a batch's cap, is
listed again from the retrier's next run on (a run points only at what it listed); an object rewritten without
some of its events keeps its size in the model (a run's trickle holds events of one clock, so it rarely happens);
the retrier's calls take ops/cost.py's assumed times, it tops
the queue up to its depth as the consumer takes pointers during its run (it looks every second), and it waits for
room, billed, until its run ends; the breaker state it reads is the last transition any consumer published.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.outage_queue import Backlog, Cohorts, DesignResult, Scenario, consumer_in_flight
from core.config import Config
from ops.cost import Assumptions, Prices, Workload
from ops.outage_cost import parking_lines
from ops.outage_model import (
    DEPTH_POLL_SECONDS,
    POINTERS_PER_ROUND,
    RETRIER_KEYS_PER_RUN,
    Batch,
    ParkingCounts,
    ParkingDesign,
    batch_milliseconds,
    dead_letter_milliseconds,
    events_per_batch,
    list_pages,
    objects_taken,
    parking_design,
    pointer_batch_seconds,
    pointer_milliseconds,
    pointer_round_seconds,
)

# A parked object's events: (the object's clock, i.e. its newest event's; events per object; the events' own clock).
# The first two say where the object is listed and what a pointer to it carries; the last when their window ends.
ObjectKey = tuple[int, float, int]


@dataclass
class Environment:
    """One consumer execution environment's breaker."""

    open: bool = False
    next_probe: int = 0


@dataclass
class RetrierRun:
    start: int
    window_end: int  # objects whose newest event was accepted at or before this are spent
    breaker_open: bool
    objects_left: float  # it points only at the objects it listed
    seconds_used: float  # of its run time: listing, the breaker document, rounds of pointers, waits for room
    trickled: bool = False
    done: bool = False  # nothing left to point at: the run returned


@dataclass
class Share:
    """What one environment handles in one step."""

    arrivals: list[tuple[int, int]]  # new events: (clock, count)
    batches: int  # the batches the new events make
    pointed: list[tuple[ObjectKey, int]] = field(default_factory=list)  # events of the objects its pointers name
    pointers: float = 0.0


class ParkingModel:
    def __init__(
        self,
        config: Config,
        scenario: Scenario,
        assume: Assumptions,
        workload: Workload,
        unpark_queue_depth: int | None = None,
    ) -> None:
        self.config, self.scenario, self.assume = config, scenario, assume
        self.design: ParkingDesign = parking_design(config)
        if unpark_queue_depth is not None:
            self.design = dataclasses.replace(self.design, unpark_queue_depth=unpark_queue_depth)
        self.mapping = config.mapping("consumer")
        self.envelope = assume.envelope_bytes(workload.event_bytes)
        self.arrivals: Cohorts[int] = Cohorts()  # visible events, by clock
        self.pointers: Cohorts[ObjectKey] = Cohorts()  # visible pointers, counted in the events of their objects
        self.pointer_messages = 0.0
        self.parked: Cohorts[ObjectKey] = Cohorts()  # events in parked objects no pointer names
        self.parked_objects = 0.0
        self.returned: Cohorts[ObjectKey] = Cohorts()  # pointed at, still parked: listed from the next run on
        self.environments = [Environment() for _ in range(self.mapping.maximum_concurrency)]
        self.breaker_published_open = False
        self.next_environment = 0
        self.run: RetrierRun | None = None
        self.counts = ParkingCounts()
        self.result = DesignResult("new")
        self.backlog = Backlog(scenario.outage_seconds)

    def simulate(self) -> DesignResult:
        step = self.scenario.step_seconds
        for now in range(0, self.scenario.end_seconds, step):
            self.retrier(now, step)
            arriving = self.scenario.rate * step
            self.arrivals.add(now, arriving)
            self.backlog.accepted(now, arriving)
            if now < self.scenario.outage_seconds:
                self.result.accepted += arriving
                self.counts.accepted += arriving
            self.consumer(now, step)
            if self.backlog.drained_at is not None:
                break
        drained = self.backlog.drained_at
        self.result.drain_seconds = None if drained is None else drained + step - self.scenario.outage_seconds
        self.result.store_requests = round(self.counts.store_requests)
        return self.result

    @property
    def visible_messages(self) -> float:
        return self.arrivals.total + self.pointer_messages

    # the retrier

    def retrier(self, now: int, step: int) -> None:
        design = self.design
        if now % design.retrier_interval_seconds == 0:
            self._start_run(now)
        run = self.run
        if run is None or run.done:
            return
        end = min(now + step, run.start + design.retrier_run_seconds)
        if end <= now:
            return
        round_seconds = pointer_round_seconds(self.assume)
        by_time = max(0.0, end - run.start - run.seconds_used) / round_seconds * POINTERS_PER_ROUND
        room = max(0.0, design.unpark_queue_depth - self.visible_messages + self._intake(end - now))
        most = min(room, by_time)
        sent = self._point(run, most, lambda key: key[0] <= run.window_end)
        if not run.breaker_open:
            waiting = self._point(run, most - sent, lambda key: True)
            if waiting and now >= self.scenario.outage_seconds and self.result.unpark_start_seconds is None:
                self.result.unpark_start_seconds = now - self.scenario.outage_seconds
            sent += waiting
        elif not run.trickled and self.parked.total and run.objects_left > 0 and self.visible_messages < 1:
            run.trickled = True  # one object into an empty queue: a consumer probes the store with it
            sent += self._point(run, 1, lambda key: True)
        rounds = math.ceil(sent / POINTERS_PER_ROUND)
        run.seconds_used += rounds * round_seconds
        self.counts.depth_checks += rounds
        if not self._has_work(run):
            run.done = True
        elif sent >= by_time:
            return  # out of time this step: the run goes on in the next
        else:  # the queue is at its depth (or not empty, for the trickle): the run polls until there is room
            wait = max(0.0, end - run.start - run.seconds_used)
            run.seconds_used += wait
            self.counts.retrier_wait_seconds += wait
            self.counts.depth_checks += wait / DEPTH_POLL_SECONDS

    def _start_run(self, now: int) -> None:
        for key, count in self.returned.take(self.returned.total):
            self.parked.add(key, count)
            self.parked_objects += count / key[1]
        pages = list_pages(self.parked_objects)
        self.counts.list_pages += pages - 1
        self.run = RetrierRun(
            start=now,
            window_end=now - self.config.queue.retry_window_seconds,
            breaker_open=self.breaker_published_open,
            objects_left=min(self.parked_objects, RETRIER_KEYS_PER_RUN),
            seconds_used=(pages + 1) * self.assume.s3_put_ms / 1000,  # the listing, then the breaker document
        )

    def _intake(self, seconds: float) -> float:
        """Pointers the consumer can take in `seconds` (the retrier refills the queue as it does)."""
        oldest = self.parked.oldest()
        if oldest is None:
            return 0.0
        batch = pointer_batch_seconds(self.config, self.assume, oldest[1])
        return self.mapping.maximum_concurrency * self.mapping.batch_size * seconds / batch

    def _has_work(self, run: RetrierRun) -> bool:
        """Whether the run has objects left to point at."""
        oldest = self.parked.oldest()
        if oldest is None or run.objects_left <= 0:
            return False
        return not run.breaker_open or oldest[0] <= run.window_end or not run.trickled

    def _point(self, run: RetrierRun, most: float, pointable: Callable[[ObjectKey], bool]) -> float:
        """Send up to `most` pointers, oldest object first, while `pointable(key)`; returns how many."""
        sent = 0.0
        while sent < most and run.objects_left > 0:
            key = self.parked.oldest()
            if key is None or not pointable(key):
                break
            per_object = key[1]
            objects = min(most - sent, run.objects_left)
            events = min(self.parked.count(key), math.ceil(objects * per_object))
            self.parked.take(events)
            self.pointers.add(key, events)
            pointed = events / per_object
            self.pointer_messages += pointed
            self.parked_objects = self.parked_objects - pointed if self.parked.total else 0.0
            run.objects_left -= pointed
            sent += pointed
            self.counts.pointers += pointed
        return sent

    # the consumer

    def consumer(self, now: int, step: int) -> None:
        up = now >= self.scenario.outage_seconds
        if not self.arrivals.total and self.pointer_messages <= 0:
            return
        batch_size = self.mapping.batch_size
        size = len(self.environments)
        # the new events, dealt round-robin in batches as full as the rate makes them
        slowest = batch_milliseconds(self.config, self.assume, batch_size, Batch.STORED) / 1000
        most = int(size * step / slowest * batch_size)
        taken = self.arrivals.take(min(self.arrivals.total, most))
        total = sum(count for _, count in taken)
        per_batch = events_per_batch(self.config, total / step) if total else float(batch_size)
        batches = math.ceil(total / per_batch)
        start = self.next_environment
        self.next_environment = (start + batches) % size
        kind = Batch.STORED if up else Batch.PARKED
        seconds = batch_milliseconds(self.config, self.assume, per_batch, kind) / 1000
        held = consumer_in_flight(total / step, per_batch, seconds, size * batch_size)
        dealt = 0
        for position in range(size):
            environment = self.environments[(start + position) % size]
            its_batches = batches // size + (1 if position < batches % size else 0)
            events = total * (dealt + its_batches) // batches - total * dealt // batches if batches else 0
            dealt += its_batches
            pieces, taken = _split(taken, events)
            if not events and self.pointer_messages <= 0:
                continue
            stores = self._stores(environment, now, up)
            kind = Batch.STORED if stores else Batch.PARKED
            used = (
                its_batches * batch_milliseconds(self.config, self.assume, events / its_batches, kind) / 1000
                if its_batches
                else 0.0
            )
            share = Share(pieces, its_batches)
            held += self._take_pointers(share, step - used, kind, now) / step
            self._settle(share, stores, now)
        self.result.in_flight_peak = max(self.result.in_flight_peak, min(held, size * batch_size))

    def _take_pointers(self, share: Share, seconds: float, kind: Batch, now: int) -> float:
        """Fill `share` with pointers for up to `seconds` of the environment's time; returns the message-seconds
        they are held in flight (Little's law: each pointer is held for its batch's invocation). A batch takes the
        events of `objects_taken` of its pointers' objects; the others stay parked, listed again by the next run."""
        held = 0.0
        batch_size = self.mapping.batch_size
        window_end = now - self.config.queue.retry_window_seconds
        while seconds > 0 and self.pointer_messages > 0 and self.pointers.total:
            key = self.pointers.oldest()
            assert key is not None
            per_object = key[1]
            taken = objects_taken(batch_size, per_object)
            batch = self._pointer_batch_seconds(per_object, kind, spent=key[2] <= window_end)
            messages = seconds / batch * batch_size
            events = min(self.pointers.count(key), math.ceil(messages * per_object))
            [(_, got)] = self.pointers.take(events)
            pointers = got / per_object
            self.pointer_messages = self.pointer_messages - pointers if self.pointers.total else 0.0
            seconds -= pointers / batch_size * batch
            held += pointers * batch
            kept = math.ceil(got * taken / batch_size)
            share.pointed.append((key, kept))
            self.returned.add(key, got - kept)
            share.pointers += pointers
        self.counts.pointer_batches += share.pointers / batch_size
        return held

    def _pointer_batch_seconds(self, per_object: float, kind: Batch, spent: bool) -> float:
        """A full batch of pointers: stored, or (breaker open) its objects' spent events dead-lettered and the
        objects emptied, or its objects read and left as they are."""
        if kind is Batch.STORED:
            return pointer_batch_seconds(self.config, self.assume, per_object)
        pointers = self.mapping.batch_size
        taken = objects_taken(pointers, per_object)
        events = taken * per_object
        writes = taken if spent else 0
        milliseconds = batch_milliseconds(self.config, self.assume, events, kind) + pointer_milliseconds(
            self.assume, pointers, writes
        )
        if spent:
            milliseconds += dead_letter_milliseconds(self.assume, events, self.envelope)
        return milliseconds / 1000

    def _settle(self, share: Share, stores: bool, now: int) -> None:
        """Store the share's events (their objects emptied), or dead-letter the pointed events whose window is spent,
        leave the others in their objects, and park the new events, one object per batch."""
        recovery = self.scenario.outage_seconds
        if stores:
            for clock, count in share.arrivals:
                self.result.count_stored(count, now, recovery, self.backlog)
                self.backlog.settled(clock, count, now)
            for key, count in share.pointed:
                self.result.count_stored(count, now, recovery, self.backlog)
                self.backlog.settled(key[2], count, now)
                self.counts.emptied_objects += count / key[1]
            return
        window_end = now - self.config.queue.retry_window_seconds
        left: dict[tuple[int, float], list[int]] = {}  # an object's (clock, size): its events [spent, staying]
        for key, count in share.pointed:
            clock = key[2]
            split = left.setdefault(key[:2], [0, 0])
            if clock > window_end:
                split[1] += count
                self.returned.add(key, count)
                continue
            split[0] += count
            self.counts.dead_lettered_events += count
            self.result.dead_lettered += count
            self.result.dead_lettered_late_seconds = max(self.result.dead_lettered_late_seconds, window_end - clock)
            self.backlog.settled(clock, count, now)
        for (_, size), (spent, staying) in left.items():
            if spent and staying:
                self.counts.rewritten_objects += (spent + staying) / size
            elif spent:
                self.counts.emptied_objects += spent / size
        events = sum(count for _, count in share.arrivals)
        if not events:
            return
        objects = share.batches
        per_object = events / objects
        newest = max(clock for clock, _ in share.arrivals)
        for clock, count in share.arrivals:
            self.parked.add((newest, per_object, clock), count)
        self.parked_objects += objects
        self.counts.parked_events += events
        self.counts.parked_objects += objects
        self.result.largest_parked_object = max(self.result.largest_parked_object, per_object)

    def _stores(self, environment: Environment, now: int, up: bool) -> bool:
        """Whether the environment's batches this step are stored (else parked); its breaker's transitions."""
        if not environment.open:
            if up:
                return True
            self.counts.store_failures += 1
            environment.open, environment.next_probe = True, now + self.design.probe_interval_seconds
            self.breaker_published_open = True
            return False
        if environment.next_probe > now:
            return False
        if up:
            environment.open = False
            self.breaker_published_open = False
            return True
        self.counts.probes += 1
        environment.next_probe = now + self.design.probe_interval_seconds
        return False


def _split(pieces: list[tuple[int, int]], count: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The first `count` messages of `pieces` (oldest first), and the rest."""
    head: list[tuple[int, int]] = []
    for index, (clock, available) in enumerate(pieces):
        if count <= 0:
            return head, pieces[index:]
        part = min(available, count)
        head.append((clock, part))
        count -= part
        if part < available:
            return head, [(clock, available - part), *pieces[index + 1 :]]
    return head, []


def simulate_parking(
    config: Config,
    scenario: Scenario,
    assume: Assumptions,
    prices: Prices,
    workload: Workload,
    unpark_queue_depth: int | None = None,
) -> DesignResult:
    model = ParkingModel(config, scenario, assume, workload, unpark_queue_depth)
    result = model.simulate()
    result.lines = parking_lines(model.counts, config, prices, workload, assume)
    return result
