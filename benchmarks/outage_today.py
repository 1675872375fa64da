"""TODAY's retry design through a database outage, in cohorts: the consumer keeps each message it could not store
in flight for a backoff delay (ChangeMessageVisibilityBatch), the redrive policy dead-letters it once its receives
exceed maxReceiveCount (one more than the delays), and the queue holds at most `in_flight_limit` messages in flight: at
that limit a long-poll receive returns nothing, so later events wait visible, their receive count never grows,
and after the queue's retention they are deleted unread (lost).

Modelling choices: receives take the oldest visible messages first (a standard queue "makes a best-effort attempt
to maintain the order in which messages are sent", SQS Developer Guide, "Amazon SQS standard queues"), so near the
retention edge freed room goes to messages that expire while they wait on their first backoff; retention deletes
a message in flight too; each delay is its jitter's mean; DynamoDB fails every call during the outage and a batch
then fails after one BatchWriteItem call (functions/consumer/writer.py stops at the first failed call).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from functools import partial

from benchmarks.outage_queue import Backlog, Cohorts, DesignResult, Scenario, consumer_in_flight
from core.config import SQS_MAX_VISIBILITY_SECONDS, Config
from ops.cost import MILLION, SQS_RECEIVE_MAX, SQS_SEND_BATCH, Assumptions, Line, Prices, Workload, sqs_requests
from ops.outage_cost import dead_letter_lines, invocations_line, lambda_duration_line
from ops.outage_model import Batch, batch_milliseconds, events_per_batch, full_throughput

JITTER_PERCENT = 10


@dataclass(frozen=True)
class TodaySchedule:
    delays: tuple[int, ...]  # seconds of invisibility after failed receive n (index n - 1), before jitter
    jitter_percent: int

    @property
    def max_receive_count(self) -> int:
        return len(self.delays) + 1

    def mean_delay(self, receive: int) -> float:
        """The average delay after failed receive `receive` (the consumer jitters each one down uniformly)."""
        delay = self.delays[receive - 1]
        return (delay + jitter_floor(delay, self.jitter_percent)) / 2


def todays_schedule(config: Config) -> TodaySchedule:
    """The backoff the replaced design used (issue 26 deleted cloudformation/retry.py with it; the simulation keeps
    this copy of its algorithm to describe that design: prod's schedule was 180, 360, … 43169, 6929 s, as the
    configuration docs listed it before the change)."""
    window = config.queue.retry_window_seconds
    first = config.visibility_timeout_seconds
    consumer = config.functions["consumer"].timeout_seconds
    longest = SQS_MAX_VISIBILITY_SECONDS - consumer - config.mapping("consumer").batching_window_seconds
    return TodaySchedule(doubling_delays(window, first, longest, JITTER_PERCENT), JITTER_PERCENT)


def doubling_delays(window: int, first: int, longest: int, jitter_percent: int) -> tuple[int, ...]:
    """cloudformation/retry.py's schedule, copied: delays doubling from `first` (one visibility timeout), capped
    at `longest` (12 h counted from the receive, less the function timeout and the batching window, which may
    have passed since it), the last one trimmed so that the shortest jittered delays just reach `window`."""
    delays: list[int] = []
    covered = 0
    while covered < window:  # each delay covers at least 1 s
        nominal = min(first * 2 ** len(delays), longest)
        delay = min(nominal, _shortest_reaching(window - covered, jitter_percent))
        delays.append(delay)
        covered += jitter_floor(delay, jitter_percent)
    return tuple(delays)


def jitter_floor(delay: int, jitter_percent: int) -> int:
    return delay - delay * jitter_percent // 100


def _shortest_reaching(remaining: int, jitter_percent: int) -> int:
    """The smallest delay whose jitter floor is at least `remaining`."""
    delay = -(-remaining * 100 // (100 - jitter_percent))
    while delay > 1 and jitter_floor(delay - 1, jitter_percent) >= remaining:
        delay -= 1
    while jitter_floor(delay, jitter_percent) < remaining:
        delay += 1
    return delay


@dataclass
class TodayCounts:
    failed_receives: int = 0  # deliveries that failed (each a message in a failed batch)
    failed_batches: float = 0.0  # consumer invocations that failed, one BatchWriteItem call each
    failed_batch_seconds: float = 0.0
    backoffs: int = 0  # ChangeMessageVisibilityBatch entries


Returning = list[tuple[tuple[int, int], int]]  # ((clock, receives so far), messages) leaving their backoff


class TodayModel:
    def __init__(self, config: Config, scenario: Scenario, assume: Assumptions) -> None:
        self.config, self.scenario, self.assume = config, scenario, assume
        self.schedule = todays_schedule(config)
        self.visible: Cohorts[tuple[int, int]] = Cohorts()  # (clock, receives so far) → messages
        self.returning: defaultdict[int, Returning] = defaultdict(list)  # by the step they become visible in
        self.in_backoff = 0
        self.backlog = Backlog(scenario.outage_seconds)
        self.result, self.counts = DesignResult("today"), TodayCounts()
        self.storing = full_throughput(config, assume)
        self.failing = _failing_throughput(config, assume)

    def simulate(self) -> DesignResult:
        step, recovery = self.scenario.step_seconds, self.scenario.outage_seconds
        for now in range(0, self.scenario.end_seconds, step):
            self.expire(now)
            arriving = self.scenario.rate * step
            self.visible.add((now, 0), arriving)
            self.backlog.accepted(now, arriving)
            self.result.accepted += arriving if now < recovery else 0
            self.receive(now, step)
            if self.backlog.drained_at is not None:
                break
        drained = self.backlog.drained_at
        self.result.drain_seconds = None if drained is None else drained + step - recovery
        return self.result

    def expire(self, now: int) -> None:
        """Backoffs that end become visible again; retention deletes what is older than it, in flight or not."""
        retention = self.config.queue.retention_seconds
        for (clock, receives), count in self.returning.pop(now, []):
            self.in_backoff -= count
            if clock + retention <= now:
                self._lose(clock, count, now)
            else:
                self.visible.add((clock, receives), count)
        for (clock, _), count in self.visible.take_while(partial(_accepted_by, now - retention)):
            self._lose(clock, count, now)

    def receive(self, now: int, step: int) -> None:
        """The consumer's receives of this step, oldest first, while the in-flight limit leaves room."""
        down = now < self.scenario.outage_seconds
        room = min(
            int((self.failing if down else self.storing) * step), self.scenario.in_flight_limit - self.in_backoff
        )
        delivered = 0
        for _ in range(1_000):  # dead-lettered messages take no room: receive again until the room is used
            if room - delivered <= 0 or not self.visible.total:
                break
            for (clock, receives), count in self.visible.take(room - delivered):
                if receives + 1 > self.schedule.max_receive_count:  # this receive would exceed it: the redrive policy
                    self.result.dead_lettered += count
                    self.backlog.settled(clock, count, now)
                    continue
                delivered += count
                if down:
                    self._back_off(now, step, clock, receives + 1, count)
                else:
                    self.result.count_stored(count, now, self.scenario.outage_seconds, self.backlog)
                    self.backlog.settled(clock, count, now)
        self._count_batches(delivered, down, step)

    def _count_batches(self, delivered: int, down: bool, step: int) -> None:
        per_batch = events_per_batch(self.config, delivered / step)
        held = 0.0
        if delivered and down:
            batches = delivered / per_batch
            self.counts.failed_receives += delivered
            self.counts.failed_batches += batches
            self.counts.failed_batch_seconds += batches * _failed_batch_ms(self.config, self.assume, per_batch) / 1000
            self.result.store_requests += math.ceil(batches)
        elif delivered:
            mapping = self.config.mapping("consumer")
            seconds = batch_milliseconds(self.config, self.assume, per_batch, Batch.STORED) / 1000
            held = consumer_in_flight(
                delivered / step, per_batch, seconds, mapping.maximum_concurrency * mapping.batch_size
            )
        in_flight = min(self.in_backoff + held, self.scenario.in_flight_limit)
        self.result.in_flight_peak = max(self.result.in_flight_peak, in_flight)

    def _back_off(self, now: int, step: int, clock: int, receives: int, count: int) -> None:
        """A failed delivery waits in flight for its backoff; after the last receive the consumer sets none and the
        queue's visibility timeout applies, then the redrive policy takes it at its next receive."""
        if receives <= len(self.schedule.delays):
            delay = self.schedule.mean_delay(receives)
            self.counts.backoffs += count
        else:
            delay = self.config.visibility_timeout_seconds
        self.in_backoff += count
        self.returning[now + max(step, round(delay / step) * step)].append(((clock, receives), count))

    def _lose(self, clock: int, count: int, now: int) -> None:
        self.result.lost += count
        self.backlog.settled(clock, count, now)


def simulate_today(
    config: Config, scenario: Scenario, assume: Assumptions, prices: Prices, workload: Workload
) -> DesignResult:
    model = TodayModel(config, scenario, assume)
    result = model.simulate()
    result.lines = today_lines(model.counts, result.dead_lettered, config, prices, workload, assume)
    return result


def _accepted_by(cutoff: int, key: tuple[int, int]) -> bool:
    return key[0] <= cutoff


def _failing_throughput(config: Config, assume: Assumptions) -> float:
    mapping = config.mapping("consumer")
    seconds = _failed_batch_ms(config, assume, mapping.batch_size) / 1000
    return mapping.maximum_concurrency * mapping.batch_size / seconds


def _failed_batch_ms(config: Config, assume: Assumptions, events: float) -> float:
    """A failing batch today: the one BatchWriteItem call that fails, then its backoffs (10 per call)."""
    return (
        assume.consumer_base_ms
        + assume.consumer_per_record_ms * events
        + assume.dynamodb_call_ms
        + assume.sqs_call_ms * math.ceil(events / SQS_SEND_BATCH)
    )


def today_lines(
    counts: TodayCounts, dead_lettered: int, config: Config, prices: Prices, workload: Workload, assume: Assumptions
) -> list[Line]:
    """What today's retries cost: the failing invocations, their receives and backoffs, the dead letters."""
    sqs_price = prices("sqs", "standard_requests_per_million") / MILLION
    envelope = assume.envelope_bytes(workload.event_bytes)
    chunk = prices("sqs", "billing_chunk_bytes")
    receives = sqs_requests(counts.failed_receives / SQS_RECEIVE_MAX, SQS_RECEIVE_MAX, envelope, chunk)
    backoffs = counts.backoffs / SQS_SEND_BATCH
    memory_gb = config.functions["consumer"].memory_mb / 1024
    return [
        invocations_line("consumer invocations that fail", counts.failed_batches, prices),
        lambda_duration_line("their duration", counts.failed_batch_seconds, memory_gb, prices),
        Line("SQS", "ReceiveMessage of the retries", receives, "requests", receives * sqs_price),
        Line("SQS", "ChangeMessageVisibilityBatch (the backoff)", backoffs, "requests", backoffs * sqs_price),
        *dead_letter_lines(dead_lettered, config, prices),
    ]
