"""The NEW retry design (issue 26) through a database outage, in cohorts: a circuit breaker per consumer execution
environment, batches parked in S3 while it is open (nothing waits in flight), one probe per interval per
environment, and the retrier: every interval, within its run time, it dead-letters parked objects whose newest
event is older than the retry window, then unparks the rest oldest first while the ingest queue holds fewer
visible messages than its depth (or one object a run while the breaker is open, so a consumer probes).

Modelling choices: the mapping deals its batches round-robin over `maximum_concurrency` environments; the
retrier handles one object at a time per worker (functions/retrier/app.py sends an object's events, then deletes
it), each S3 and SQS call taking ops/cost.py's assumed time; the breaker state it reads is the last transition
any consumer published.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from benchmarks.outage_queue import Backlog, Cohorts, DesignResult, Scenario, consumer_in_flight, overlap
from cloudformation.config import Config
from ops.cost import Assumptions, Prices, Workload
from ops.outage_cost import parking_lines
from ops.outage_model import (
    RETRIER_KEYS_PER_RUN,
    Batch,
    ParkingCounts,
    ParkingDesign,
    batch_milliseconds,
    events_per_batch,
    full_throughput,
    list_pages,
    parking_design,
    retrier_object_seconds,
)


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
    events_left: int  # it handles only the objects it listed: their events
    seconds_used: float  # of its run time, summed over its workers
    trickled: bool = False


class ParkingModel:
    def __init__(
        self,
        config: Config,
        scenario: Scenario,
        assume: Assumptions,
        workload: Workload,
        workers: int,
        unpark_queue_depth: int | None = None,
    ) -> None:
        self.config, self.scenario, self.assume, self.workers = config, scenario, assume, workers
        self.design: ParkingDesign = parking_design(config)
        if unpark_queue_depth is not None:
            self.design = dataclasses.replace(self.design, unpark_queue_depth=unpark_queue_depth)
        self.envelope = assume.envelope_bytes(workload.event_bytes)
        self.visible: Cohorts[int] = Cohorts()  # clock → messages
        self.parked: Cohorts[tuple[int, float]] = Cohorts()  # (newest clock, events per object) → events
        self.parked_objects = 0.0
        self.environments = [Environment() for _ in range(config.mapping("consumer").maximum_concurrency)]
        self.breaker_published_open = False
        self.next_environment = 0
        self.run: RetrierRun | None = None
        self.counts = ParkingCounts()
        self.result = DesignResult("new")
        self.backlog = Backlog(scenario.outage_seconds)
        self.storing = full_throughput(config, assume)

    def simulate(self) -> DesignResult:
        step = self.scenario.step_seconds
        for now in range(0, self.scenario.end_seconds, step):
            self.retrier(now, step)
            arriving = self.scenario.rate * step
            self.visible.add(now, arriving)
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

    # the retrier

    def retrier(self, now: int, step: int) -> None:
        design = self.design
        if now % design.retrier_interval_seconds == 0:
            pages = list_pages(self.parked_objects)
            self.counts.list_pages += pages - 1
            listed = self.parked.total
            if self.parked_objects > RETRIER_KEYS_PER_RUN:
                listed = int(listed * RETRIER_KEYS_PER_RUN / self.parked_objects)
            self.run = RetrierRun(
                start=now,
                window_end=now - self.config.queue.retry_window_seconds,
                breaker_open=self.breaker_published_open,
                events_left=listed,
                seconds_used=pages * self.assume.s3_put_ms / 1000,
            )
        run = self.run
        if run is None:
            return
        # the run's time, all workers together, up to the end of this step
        available = overlap(run.start, now + step, run.start, run.start + design.retrier_run_seconds) * self.workers
        budget = available - run.seconds_used
        budget = self._dead_letter_spent(run, now, budget)
        if run.breaker_open:
            if not run.trickled and self.parked.total:
                run.trickled = True
                key = self.parked.oldest()
                assert key is not None
                budget = self._unpark(run, now, budget, math.ceil(key[1]))
        else:
            room = max(0, self.design.unpark_queue_depth - self.visible.total)
            room += int(self.storing * overlap(now, now + step, run.start, run.start + design.retrier_run_seconds))
            budget = self._unpark(run, now, budget, room)
        run.seconds_used = available - budget

    def _dead_letter_spent(self, run: RetrierRun, now: int, budget: float) -> float:
        while budget > 0 and run.events_left > 0:
            key = self.parked.oldest()
            if key is None or key[0] > run.window_end:
                break
            per_object = key[1]
            seconds = retrier_object_seconds(per_object, self.envelope, self.assume, unpark=False)
            events = min(self.parked.count(key), int(budget / seconds * per_object), run.events_left)
            if events <= 0:
                break
            [(_, taken)] = self.parked.take(events)
            objects = taken / per_object
            self.parked_objects -= objects
            run.events_left -= taken
            budget -= objects * seconds
            self.counts.dead_lettered_events += taken
            self.counts.dead_lettered_objects += objects
            self.result.dead_lettered += taken
            self.backlog.settled(key[0], taken, now)
        return budget

    def _unpark(self, run: RetrierRun, now: int, budget: float, most: int) -> float:
        while budget > 0 and most > 0 and run.events_left > 0:
            key = self.parked.oldest()
            if key is None:
                break
            per_object = key[1]
            seconds = retrier_object_seconds(per_object, self.envelope, self.assume, unpark=True)
            events = min(self.parked.count(key), int(budget / seconds * per_object), most, run.events_left)
            if events <= 0:
                break
            [(_, taken)] = self.parked.take(events)
            objects = taken / per_object
            self.parked_objects -= objects
            run.events_left -= taken
            budget -= objects * seconds
            most -= taken
            self.visible.add(key[0], taken)
            self.counts.unparked_events += taken
            self.counts.unparked_objects += objects
            self.counts.depth_checks += objects
            if now >= self.scenario.outage_seconds and self.result.unpark_start_seconds is None and not run.trickled:
                self.result.unpark_start_seconds = now - self.scenario.outage_seconds
        return budget

    # the consumer

    def consumer(self, now: int, step: int) -> None:
        up = now >= self.scenario.outage_seconds
        mapping = self.config.mapping("consumer")
        capacity = sum(step / self._full_batch_seconds(environment, now, up) for environment in self.environments)
        taken = self.visible.take(min(self.visible.total, int(capacity * mapping.batch_size)))
        total = sum(count for _, count in taken)
        if not total:
            return
        per_batch = events_per_batch(self.config, total / step)
        batches = max(1, math.ceil(total / per_batch))
        size = len(self.environments)
        start = self.next_environment
        self.next_environment = (start + batches) % size
        dealt = 0
        for position in range(min(batches, size)):
            environment = self.environments[(start + position) % size]
            its_batches = batches // size + (1 if position < batches % size else 0)
            events = total * (dealt + its_batches) // batches - total * dealt // batches
            dealt += its_batches
            pieces, taken = _split(taken, events)
            if self._stores(environment, now, up):
                for clock, count in pieces:
                    self.result.count_stored(count, now, self.scenario.outage_seconds, self.backlog)
                    self.backlog.settled(clock, count, now)
            else:
                for clock, count in pieces:
                    self.parked.add((clock, per_batch), count)
                self.parked_objects += events / per_batch
                self.counts.parked_events += events
                self.counts.parked_objects += events / per_batch
        kind = Batch.STORED if up else Batch.PARKED
        seconds = batch_milliseconds(self.config, self.assume, per_batch, kind) / 1000
        held = consumer_in_flight(total / step, per_batch, seconds, mapping.maximum_concurrency * mapping.batch_size)
        self.result.in_flight_peak = max(self.result.in_flight_peak, held)

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

    def _full_batch_seconds(self, environment: Environment, now: int, up: bool) -> float:
        stores = up and (not environment.open or environment.next_probe <= now)
        kind = Batch.STORED if stores else Batch.PARKED
        return batch_milliseconds(self.config, self.assume, self.config.mapping("consumer").batch_size, kind) / 1000


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
    workers: int = 1,
    unpark_queue_depth: int | None = None,
) -> DesignResult:
    model = ParkingModel(config, scenario, assume, workload, workers, unpark_queue_depth)
    result = model.simulate()
    result.lines = parking_lines(model.counts, config, prices, workload, assume)
    return result
