"""The outage model under `invoke cost --outage-hours` (ops/outage_cost.py) and the side-by-side simulation
(benchmarks/outage_sim.py): how long a consumer batch takes, how full batches are, and what a database outage
makes the retry design of issue 26 do, counted (pricing is ops/outage_cost.py's).

The design: each consumer execution environment has a circuit breaker. Closed, it writes the batch; when the
store fails the breaker opens and the batch is PARKED as one S3 object, its records acknowledged, so nothing
waits in flight. While open the consumer parks every batch without calling the store, except one probe per
probe interval. The retrier runs on a schedule: it dead-letters parked objects whose newest event is older than
the retry window (counted from acceptance), and once the store answers unparks the rest, oldest first, back into
the ingest queue while it holds fewer visible messages than a depth; while the store fails it unparks one object
a run (a trickle), so a consumer probes even without new traffic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from cloudformation.config import Config
from ops.cost import DYNAMODB_BATCH_WRITE_MAX, SECONDS_PER_HOUR, SQS_RECEIVE_MAX, SQS_SEND_BATCH, Assumptions

SQS_MAX_BATCH_PAYLOAD_BYTES = 1_048_576  # SendMessageBatch: 10 entries and 1 MiB in all (botocore sqs model)
S3_LIST_PAGE_KEYS = 1000  # ListObjectsV2 returns at most 1,000 keys per request (botocore s3 model)
RETRIER_KEYS_PER_RUN = 100_000  # a retrier run lists the oldest parked keys only (functions/retrier/parked_store.py)


@dataclass(frozen=True)
class ParkingDesign:
    probe_interval_seconds: int  # while the store fails, one real attempt per interval per execution environment
    retrier_interval_seconds: int  # the retrier's schedule
    retrier_run_seconds: int  # the most one run works
    unpark_queue_depth: int  # the retrier unparks while the ingest queue holds fewer visible messages
    retrier_memory_mb: int


def parking_design(config: Config) -> ParkingDesign:
    """The design's settings from the configuration. Where it does not carry them yet (before issue 26's
    configuration is merged: queue.probe_interval_seconds, queue.retrier_interval_seconds, functions.retrier,
    Config.unpark_queue_depth, Config.retrier_run_seconds) the values issue 26 gives prod."""
    queue = config.queue
    interval = getattr(queue, "retrier_interval_seconds", 60)
    mapping = config.mapping("consumer")
    retrier = config.functions.get("retrier")
    return ParkingDesign(
        probe_interval_seconds=getattr(queue, "probe_interval_seconds", 30),
        retrier_interval_seconds=interval,
        retrier_run_seconds=getattr(config, "retrier_run_seconds", 3 * interval // 4),
        unpark_queue_depth=getattr(config, "unpark_queue_depth", 2 * mapping.maximum_concurrency * mapping.batch_size),
        retrier_memory_mb=retrier.memory_mb if retrier else 256,
    )


class Batch(Enum):
    STORED = "stored"  # written to every sink
    PARKED = "parked"  # breaker open: one S3 PUT, no store call
    PROBED = "probed"  # breaker open, probe due: one store call that fails, then parked


def batch_milliseconds(config: Config, assume: Assumptions, events: float, kind: Batch) -> float:
    """One consumer invocation of `events` records (ops/cost.py's per-call assumptions)."""
    milliseconds = assume.consumer_base_ms + assume.consumer_per_record_ms * events
    store_call_ms = assume.dynamodb_call_ms if "dynamodb" in config.sinks else assume.s3_put_ms
    if kind is Batch.STORED:
        if "dynamodb" in config.sinks:
            milliseconds += assume.dynamodb_call_ms * math.ceil(events / DYNAMODB_BATCH_WRITE_MAX)
        if "s3" in config.sinks:
            milliseconds += assume.s3_put_ms
        return milliseconds
    if kind is Batch.PROBED:
        milliseconds += store_call_ms  # the first call fails; the rest of the batch is not attempted
    return milliseconds + assume.s3_put_ms


def full_throughput(config: Config, assume: Assumptions) -> float:
    """Events per second the consumer stores with a backlog: every allowed environment busy with full batches."""
    mapping = config.mapping("consumer")
    seconds = batch_milliseconds(config, assume, mapping.batch_size, Batch.STORED) / 1000
    return mapping.maximum_concurrency * mapping.batch_size / seconds


def events_per_batch(config: Config, events_per_second: float) -> float:
    """How full the consumer's batches are when events reach it at `events_per_second`: the mapping invokes once
    a batch is full or its batching window ends (without a window, with what one ReceiveMessage returns)."""
    mapping = config.mapping("consumer")
    window = mapping.batching_window_seconds
    gathered = events_per_second * window if window else SQS_RECEIVE_MAX
    return min(float(mapping.batch_size), max(1.0, gathered))


def entries_per_send(envelope_bytes: float) -> int:
    """Messages per SendMessageBatch: 10, fewer when 10 envelopes exceed the call's 1 MiB."""
    return max(1, min(SQS_SEND_BATCH, int(SQS_MAX_BATCH_PAYLOAD_BYTES // envelope_bytes)))


def retrier_object_seconds(events: float, envelope_bytes: float, assume: Assumptions, *, unpark: bool) -> float:
    """The retrier's time for one parked object of `events`: GET, SendMessageBatch calls, DELETE, and before an
    unpark the ingest queue's depth (GetQueueAttributes)."""
    sends = math.ceil(events / entries_per_send(envelope_bytes))
    calls_ms = 2 * assume.s3_put_ms + sends * assume.sqs_call_ms + (assume.sqs_call_ms if unpark else 0.0)
    return calls_ms / 1000


@dataclass
class ParkingCounts:
    """What an outage makes the design do, beyond what storing the events costs anyway."""

    accepted: float = 0.0  # events accepted while the store failed
    parked_events: float = 0.0  # each one more receive + delete, and its share of a parking invocation
    parked_objects: float = 0.0  # S3 PUTs: one per parked batch (each also a consumer invocation)
    probes: float = 0.0  # store calls while the breakers were open: each fails (DynamoDB bills no units for it)
    store_failures: float = 0.0  # of which the first failure of each breaker, which opened it
    unparked_events: float = 0.0  # sent back to the ingest queue (SendMessageBatch)
    unparked_objects: float = 0.0  # each an S3 GET + DELETE
    dead_lettered_events: float = 0.0  # retry window spent: sent to the DLQ, archived, replayable
    dead_lettered_objects: float = 0.0  # each an S3 GET + DELETE
    depth_checks: float = 0.0  # GetQueueAttributes: one before each object unparked
    list_pages: float = 0.0  # ListObjectsV2 pages beyond the one every retrier run lists anyway

    @property
    def store_requests(self) -> float:
        return self.probes + self.store_failures

    @property
    def objects_read(self) -> float:
        return self.unparked_objects + self.dead_lettered_objects


def expected_parking_counts(config: Config, rate: float, hours: float) -> ParkingCounts:
    """The counts of an outage of `hours` at `rate` events/s in closed form: every environment the mapping may
    run opens its breaker at once and probes once per interval (the most store requests the design allows);
    each retrier run trickles one object out and the consumer parks it again; events accepted more than the
    retry window before the store answers are dead-lettered, the rest unparked (to within one run of the
    window's edge, and with a retrier fast enough to keep up: the simulation resolves both)."""
    design = parking_design(config)
    seconds = hours * SECONDS_PER_HOUR
    per_batch = events_per_batch(config, rate)
    window = config.queue.retry_window_seconds
    accepted = rate * seconds
    dead = rate * max(seconds - window, 0.0)
    runs = math.ceil(seconds / design.retrier_interval_seconds) if accepted else 0
    environments = config.mapping("consumer").maximum_concurrency if accepted else 0
    parked_events = accepted + runs * per_batch
    unparked_events = parked_events - dead
    counts = ParkingCounts(
        accepted=accepted,
        parked_events=parked_events,
        parked_objects=parked_events / per_batch,
        probes=environments * max(math.ceil(seconds / design.probe_interval_seconds) - 1, 0),
        store_failures=environments,
        unparked_events=unparked_events,
        unparked_objects=unparked_events / per_batch,
        dead_lettered_events=dead,
        dead_lettered_objects=dead / per_batch,
        depth_checks=unparked_events / per_batch,
    )
    for run in range(runs):  # each run lists the oldest parked keys: what the window holds, up to its limit
        parked = rate * min(run * design.retrier_interval_seconds, window) / per_batch
        counts.list_pages += list_pages(parked) - 1
    return counts


def list_pages(parked_objects: float) -> int:
    """ListObjectsV2 requests of one retrier run (at least one, even over an empty prefix)."""
    return max(1, math.ceil(min(parked_objects, RETRIER_KEYS_PER_RUN) / S3_LIST_PAGE_KEYS))
