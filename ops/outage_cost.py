"""What a database outage adds to the month with the retry design of issue 26 (counted by ops/outage_model.py):
the consumer's parking (one S3 PUT per parked batch) and probes, the retrier's pointers (SendMessageBatch of ten,
a GetQueueAttributes per round and while it waits on the queue's depth, its ListObjectsV2 pages), the pointers'
receive + delete and the consumer invocations they add, a GET per pointer, a DELETE of each object the consumer
empties and a PUT of each it rewrites without the events that left it, the consumer's sends to the DLQ for
events whose window is spent, and the dead letters' archive and replay as before. Storing the events (in the
pointers' batches instead of their own) is what the month prices anyway. The probes fail, and DynamoDB bills
request units only for what it writes. Priced with the monthly model's prices (ops/cost.py); the side-by-side
simulation (benchmarks/outage_sim.py) prices its own counts with the same lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.config import Config
from ops.cost import MILLION, SQS_RECEIVE_MAX, SQS_SEND_BATCH, Assumptions, Line, Prices, Workload, sqs_requests
from ops.outage_model import (
    POINTERS_PER_ROUND,
    Batch,
    ParkingCounts,
    batch_milliseconds,
    dead_letter_milliseconds,
    entries_per_send,
    expected_parking_counts,
    parking_design,
    pointer_milliseconds,
    pointer_round_seconds,
)


@dataclass
class OutageEstimate:
    hours: float
    counts: ParkingCounts
    lines: list[Line] = field(default_factory=list)

    @property
    def events(self) -> float:
        return self.counts.accepted

    @property
    def dead_lettered(self) -> float:
        return self.counts.dead_lettered_events

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)


def outage_estimate(
    config: Config,
    prices: Prices,
    workload: Workload,
    hours: float,
    assume: Assumptions | None = None,
) -> OutageEstimate:
    """What a database outage of `hours` at the workload's rate adds to the month."""
    assume = assume or Assumptions()
    counts = expected_parking_counts(config, workload.rate, hours, assume)
    return OutageEstimate(hours, counts, parking_lines(counts, config, prices, workload, assume))


def parking_lines(
    counts: ParkingCounts, config: Config, prices: Prices, workload: Workload, assume: Assumptions
) -> list[Line]:
    """The priced lines of an outage's counts, whoever counted them."""
    sqs_price = prices("sqs", "standard_requests_per_million") / MILLION
    chunk = prices("sqs", "billing_chunk_bytes")
    envelope = assume.envelope_bytes(workload.event_bytes)
    per_object = counts.parked_events / counts.parked_objects if counts.parked_objects else 1.0
    parking_ms = batch_milliseconds(config, assume, per_object, Batch.PARKED)
    probe_ms = batch_milliseconds(config, assume, per_object, Batch.PROBED) - parking_ms
    consumer_ms = (
        counts.parked_objects * parking_ms
        + counts.store_requests * probe_ms
        + counts.pointer_batches * assume.consumer_base_ms
        + pointer_milliseconds(assume, counts.pointers, counts.object_writes)
        + dead_letter_milliseconds(assume, counts.dead_lettered_events, envelope)
    )
    retrier_seconds = (
        counts.list_pages * assume.s3_put_ms / 1000
        + counts.pointers / POINTERS_PER_ROUND * pointer_round_seconds(assume)
        + counts.retrier_wait_seconds
    )
    pointer_sends = counts.pointers / SQS_SEND_BATCH
    pointer_receipts = 2 * counts.pointers / SQS_RECEIVE_MAX  # ReceiveMessage and DeleteMessageBatch of ten
    entries = entries_per_send(envelope)
    dead_sends = sqs_requests(counts.dead_lettered_events / entries, entries, envelope, chunk)
    consumer_gb = config.functions["consumer"].memory_mb / 1024
    retrier_gb = parking_design(config).retrier_memory_mb / 1024
    put_price = prices("s3", "put_requests_per_thousand") / 1000
    get_price = prices("s3", "get_requests_per_thousand") / 1000
    delete_price = prices("s3", "delete_requests_per_thousand") / 1000
    batch_size = config.mapping("consumer").batch_size
    return [
        invocations_line(f"consumer invocations for pointers (one per {batch_size})", counts.pointer_batches, prices),
        lambda_duration_line("consumer time: parking, probes, pointers, DLQ sends", consumer_ms / 1000,
                             consumer_gb, prices),
        lambda_duration_line("retrier: its calls and its waits on the queue's depth", retrier_seconds, retrier_gb,
                             prices),
        Line("SQS", f"SendMessageBatch of pointers ({SQS_SEND_BATCH} per call)", pointer_sends, "requests",
             pointer_sends * sqs_price),
        Line("SQS", "ReceiveMessage + DeleteMessageBatch of pointers", pointer_receipts, "requests",
             pointer_receipts * sqs_price),
        Line("SQS", f"GetQueueAttributes: per {POINTERS_PER_ROUND} pointers, each second at depth",
             counts.depth_checks, "requests", counts.depth_checks * sqs_price),
        Line("SQS", "SendMessageBatch to the DLQ (retry window spent)", dead_sends, "requests", dead_sends * sqs_price),
        Line("S3", f"parked objects (PUT, one per batch of {per_object:.3g})", counts.parked_objects, "requests",
             counts.parked_objects * put_price),
        Line("S3", "pointed objects rewritten, smaller (PUT)", counts.rewritten_objects,
             "requests", counts.rewritten_objects * put_price),
        Line("S3", "GET of the object each pointer names", counts.pointers, "requests", counts.pointers * get_price),
        Line("S3", "DELETE of each pointed object emptied", counts.emptied_objects, "requests",
             counts.emptied_objects * delete_price),
        Line("S3", "ListObjectsV2 pages of the parked objects", counts.list_pages, "requests",
             counts.list_pages * put_price),
        Line("DynamoDB", "store calls while the breakers are open (they fail)", counts.store_requests, "requests",
             0.0),
        *dead_letter_lines(counts.dead_lettered_events, config, prices),
    ]  # fmt: skip


def invocations_line(item: str, invocations: float, prices: Prices) -> Line:
    usd = invocations / MILLION * prices("lambda", "requests_per_million")
    return Line("Lambda", item, invocations, "requests", usd)


def lambda_duration_line(item: str, seconds: float, memory_gb: float, prices: Prices) -> Line:
    gb_seconds = seconds * memory_gb
    return Line("Lambda", item, gb_seconds, "GB-s", gb_seconds * prices("lambda", "arm64_gb_second"))


def dead_letter_lines(dead_lettered: float, config: Config, prices: Prices) -> list[Line]:
    """Dead letters: the archiver's receive, delete and one S3 object per batch; the replay sends them again and
    the consumer stores them as usual (priced in the monthly estimate's per-event cost)."""
    objects = dead_lettered / config.mappings["archiver"].batch_size
    sqs_price = prices("sqs", "standard_requests_per_million") / MILLION
    return [
        Line("SQS", "archiver receive + delete, replay send", 3 * objects, "requests", 3 * objects * sqs_price),
        Line(
            "S3",
            "archive objects (PUT)",
            objects,
            "requests",
            objects / 1000 * prices("s3", "put_requests_per_thousand"),
        ),
    ]
