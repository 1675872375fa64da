"""The outage model under `invoke cost --outage-hours` (ops/outage_cost.py) and the side-by-side simulation
(benchmarks/outage_sim.py): how long a consumer batch takes, how full batches are, how fast the consumer drains
parked objects, and what a database outage makes the retry design of issue 26 do, counted (pricing is
ops/outage_cost.py's).

The design: each consumer execution environment has a circuit breaker. Closed, it writes the batch; when a store
call fails the breaker opens and the batch is PARKED as one S3 object, its records acknowledged, so nothing waits
in flight. While open the consumer parks every batch without calling the store, except one probe per probe
interval. The retrier runs on a schedule for up to its run time: it sends a POINTER per parked object (one small
message naming the object's key, ten per SendMessageBatch, in rounds of 50 with one GetQueueAttributes each) while
the ingest queue holds fewer visible messages than a depth: oldest first, the objects whose retry window is spent
always, the others only while the breaker document says the store answers; while it is open, one pointer into an
empty queue (the trickle, so a consumer probes without traffic). The consumer GETs the objects a batch's pointers
name, 8 side by side, and handles the events of up to MAX_UNPARKED_EVENTS of them as records of its batch (a
pointer past the cap is done: its object stays parked for the next run). An object is the home of its events:
stored ones and those dead-lettered with "retry window spent" leave it, the rest stay under the same key. So
the object is DELETEd once empty, rewritten (a PUT) when some left it, left alone (a GET, no write) when none did
— it never grows and never joins another. A drain runs at the consumer's throughput, a pointer costing it a
receive + delete of one message and a GET, an object it empties a DELETE, besides the store writes of its events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from core.config import Config
from functions.consumer.unparking import MAX_UNPARKED_EVENTS, READERS
from functions.retrier.parked_store import MAX_KEYS_PER_RUN
from ops.cost import DYNAMODB_BATCH_WRITE_MAX, SECONDS_PER_HOUR, SQS_RECEIVE_MAX, SQS_SEND_BATCH, Assumptions

SQS_MAX_BATCH_PAYLOAD_BYTES = 1_048_576  # SendMessageBatch: 10 entries and 1 MiB in all (botocore sqs model)
S3_LIST_PAGE_KEYS = 1000  # ListObjectsV2 returns at most 1,000 keys per request (botocore s3 model)
RETRIER_KEYS_PER_RUN = MAX_KEYS_PER_RUN  # a retrier run lists the oldest parked keys only
# The retrier's pace (functions/retrier/app.py, copied: its module reads the function's environment on import;
# tests/ops/test_ops_outage_cost.py checks the copies): pointers between two looks at the queue's depth, and the
# pause between looks while the queue is at the depth.
POINTERS_PER_ROUND = 50
DEPTH_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class ParkingDesign:
    probe_interval_seconds: int  # while the store fails, one real attempt per interval per execution environment
    retrier_interval_seconds: int  # the retrier's schedule
    retrier_run_seconds: int  # the most one run works
    unpark_queue_depth: int  # the retrier sends pointers while the ingest queue holds fewer visible messages
    retrier_memory_mb: int


def parking_design(config: Config) -> ParkingDesign:
    return ParkingDesign(
        probe_interval_seconds=config.queue.probe_interval_seconds,
        retrier_interval_seconds=config.queue.retrier_interval_seconds,
        retrier_run_seconds=config.retrier_run_seconds,
        unpark_queue_depth=config.unpark_queue_depth,
        retrier_memory_mb=config.functions["retrier"].memory_mb,
    )


class Batch(Enum):
    STORED = "stored"  # written to every sink
    PARKED = "parked"  # breaker open: one S3 PUT, no store call
    PROBED = "probed"  # breaker open, probe due: one store call that fails, then parked


def batch_milliseconds(config: Config, assume: Assumptions, events: float, kind: Batch) -> float:
    """One consumer invocation handling `events` records (ops/cost.py's per-call assumptions)."""
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


def pointer_milliseconds(assume: Assumptions, pointers: float, writes: float) -> float:
    """What pointers add to a consumer invocation beyond their events: each is a record of its own and a GET of its
    object (READERS side by side), then each object that changed is rewritten or deleted, one after the other
    (functions/consumer/unparking.py; an S3 request is taken to last as long as a PUT)."""
    reads = math.ceil(pointers / READERS)
    return pointers * assume.consumer_per_record_ms + (reads + writes) * assume.s3_put_ms


def objects_taken(batch_size: int, events_per_object: float) -> int:
    """Objects of `events_per_object` events whose events a batch of `batch_size` pointers takes: at most
    MAX_UNPARKED_EVENTS events in all (the other pointers are done without their events)."""
    return max(1, min(batch_size, int(MAX_UNPARKED_EVENTS // max(events_per_object, 1.0))))


def dead_letter_milliseconds(assume: Assumptions, events: float, envelope_bytes: float) -> float:
    """The consumer's SendMessageBatch calls for `events` whose retry window is spent."""
    return math.ceil(events / entries_per_send(envelope_bytes)) * assume.sqs_call_ms


def full_throughput(config: Config, assume: Assumptions) -> float:
    """Events per second the consumer stores with a backlog of events in the queue: every allowed environment busy
    with full batches."""
    mapping = config.mapping("consumer")
    seconds = batch_milliseconds(config, assume, mapping.batch_size, Batch.STORED) / 1000
    return mapping.maximum_concurrency * mapping.batch_size / seconds


def pointer_batch_seconds(config: Config, assume: Assumptions, events_per_object: float) -> float:
    """A full batch of pointers, stored: `batch_size` pointers to objects of `events_per_object` events each, whose
    events it takes up to the cap, deleting each object it empties."""
    pointers = config.mapping("consumer").batch_size
    taken = objects_taken(pointers, events_per_object)
    events = taken * events_per_object
    return (
        batch_milliseconds(config, assume, events, Batch.STORED) + pointer_milliseconds(assume, pointers, taken)
    ) / 1000


def drain_throughput(config: Config, assume: Assumptions, events_per_object: float) -> float:
    """Events per second the consumer stores while it drains parked objects of `events_per_object` events: its full
    throughput on batches of pointers (every allowed environment busy with full batches, each pointer's GET and each
    emptied object's DELETE in the batch's time)."""
    mapping = config.mapping("consumer")
    events = mapping.maximum_concurrency * objects_taken(mapping.batch_size, events_per_object) * events_per_object
    return events / pointer_batch_seconds(config, assume, events_per_object)


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


def pointer_round_seconds(assume: Assumptions) -> float:
    """The retrier's time for one round: a GetQueueAttributes, then SendMessageBatch calls of ten pointers."""
    calls = 1 + math.ceil(POINTERS_PER_ROUND / SQS_SEND_BATCH)
    return calls * assume.sqs_call_ms / 1000


@dataclass
class ParkingCounts:
    """What an outage makes the design do, beyond what storing the events costs anyway."""

    accepted: float = 0.0  # events accepted while the store failed
    parked_events: float = 0.0  # written to new parked objects: the new events of the batches that park
    parked_objects: float = 0.0  # S3 PUTs: one per parking batch (an invocation the month prices as storing)
    rewritten_objects: float = 0.0  # S3 PUTs: a pointed object some of whose events (not all) left it
    emptied_objects: float = 0.0  # S3 DELETEs: a pointed object all of whose events left it
    probes: float = 0.0  # store calls while the breakers were open: each fails (DynamoDB bills no units for it)
    store_failures: float = 0.0  # of which the first failure of each breaker, which opened it
    pointers: float = 0.0  # sent by the retrier: each one message, and the consumer's GET of its object
    pointer_batches: float = 0.0  # consumer invocations the pointers add: a batch of `batch_size` pointers each
    dead_lettered_events: float = 0.0  # retry window spent: sent to the DLQ by the consumer, archived, replayable
    depth_checks: float = 0.0  # GetQueueAttributes: one per round of pointers, one a second while at the depth
    retrier_wait_seconds: float = 0.0  # retrier runs waiting for room below the depth (billed time)
    list_pages: float = 0.0  # ListObjectsV2 pages beyond the one every retrier run lists anyway

    @property
    def store_requests(self) -> float:
        return self.probes + self.store_failures

    @property
    def object_writes(self) -> float:
        """The consumer's rewrites and deletes of pointed objects, one after the other."""
        return self.rewritten_objects + self.emptied_objects


def expected_parking_counts(
    config: Config, rate: float, hours: float, assume: Assumptions | None = None
) -> ParkingCounts:
    """The counts of an outage of `hours` at `rate` events/s in closed form: every environment the mapping may
    run opens its breaker at once and probes once per interval (the most store requests the design allows); each
    retrier run trickles one object back, which the consumer reads and leaves as it is; events accepted more than
    the retry window before the store answers are dead-lettered, every object is emptied (deleted) once, a batch of
    pointers takes the events of as many objects as the cap allows (the rest are pointed at again), and the drain
    runs at the consumer's drain throughput with the retrier waiting on the depth (to within a run of the window's
    edge and of the drain's start: the simulation resolves both)."""
    assume = assume or Assumptions()
    design = parking_design(config)
    seconds = hours * SECONDS_PER_HOUR
    per_batch = events_per_batch(config, rate)
    window = config.queue.retry_window_seconds
    accepted = rate * seconds
    dead = rate * max(seconds - window, 0.0)
    runs = math.ceil(seconds / design.retrier_interval_seconds) if accepted else 0
    environments = config.mapping("consumer").maximum_concurrency if accepted else 0
    batch_size = config.mapping("consumer").batch_size
    objects = accepted / per_batch
    # each object's events are taken once, by one of the pointers to it: a batch takes `taken` of its pointers' objects
    pointers = objects * batch_size / objects_taken(batch_size, per_batch) + runs
    drained = (accepted - dead) / drain_throughput(config, assume, per_batch)
    waiting = drained * design.retrier_run_seconds / design.retrier_interval_seconds
    counts = ParkingCounts(
        accepted=accepted,
        parked_events=accepted,
        parked_objects=objects,
        emptied_objects=objects,
        probes=environments * max(math.ceil(seconds / design.probe_interval_seconds) - 1, 0),
        store_failures=environments,
        pointers=pointers,
        pointer_batches=pointers / batch_size,
        dead_lettered_events=dead,
        depth_checks=pointers / POINTERS_PER_ROUND + waiting / DEPTH_POLL_SECONDS,
        retrier_wait_seconds=waiting,
    )
    for run in range(runs):  # each run lists the oldest parked keys: what the window holds, up to its limit
        parked = rate * min(run * design.retrier_interval_seconds, window) / per_batch
        counts.list_pages += list_pages(parked) - 1
    return counts


def list_pages(parked_objects: float) -> int:
    """ListObjectsV2 requests of one retrier run (at least one, even over an empty prefix)."""
    return max(1, math.ceil(min(parked_objects, RETRIER_KEYS_PER_RUN) / S3_LIST_PAGE_KEYS))
