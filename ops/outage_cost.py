"""What a database outage adds to the month with the retry design of issue 26 (counted by ops/outage_model.py):
the consumer's parking invocations and a second receive + delete of each parked event, one S3 PUT per parked
batch, an S3 GET + DELETE per object unparked or dead-lettered, the SendMessageBatch calls that send them back
to the ingest queue (10 per call) or to the DLQ, and the dead letters' archive and replay as before. The probes
fail, and DynamoDB bills request units only for what it writes. Priced with the monthly model's prices
(ops/cost.py); the side-by-side simulation (benchmarks/outage_sim.py) prices its own counts with the same lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cloudformation.config import Config
from ops.cost import MILLION, SQS_DELETE_BATCH, SQS_RECEIVE_MAX, Assumptions, Line, Prices, Workload, sqs_requests
from ops.outage_model import (
    Batch,
    ParkingCounts,
    batch_milliseconds,
    entries_per_send,
    expected_parking_counts,
    parking_design,
    retrier_object_seconds,
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
    counts = expected_parking_counts(config, workload.rate, hours)
    return OutageEstimate(hours, counts, parking_lines(counts, config, prices, workload, assume))


def parking_lines(
    counts: ParkingCounts, config: Config, prices: Prices, workload: Workload, assume: Assumptions
) -> list[Line]:
    """The priced lines of an outage's counts, whoever counted them."""
    sqs_price = prices("sqs", "standard_requests_per_million") / MILLION
    chunk = prices("sqs", "billing_chunk_bytes")
    envelope = assume.envelope_bytes(workload.event_bytes)
    entries = entries_per_send(envelope)
    per_batch = counts.parked_events / counts.parked_objects if counts.parked_objects else 1.0
    parking_ms = batch_milliseconds(config, assume, per_batch, Batch.PARKED)
    probe_ms = batch_milliseconds(config, assume, per_batch, Batch.PROBED) - parking_ms
    consumer_seconds = (counts.parked_objects * parking_ms + counts.store_requests * probe_ms) / 1000
    unpark_sends = sqs_requests(counts.unparked_events / entries, entries, envelope, chunk)
    dead_sends = sqs_requests(counts.dead_lettered_events / entries, entries, envelope, chunk)
    retrier_seconds = (
        counts.unparked_objects * retrier_object_seconds(per_batch, envelope, assume, unpark=True)
        + counts.dead_lettered_objects * retrier_object_seconds(per_batch, envelope, assume, unpark=False)
        + counts.list_pages * assume.s3_put_ms / 1000
    )
    second_pass = sqs_requests(counts.parked_events / SQS_RECEIVE_MAX, SQS_RECEIVE_MAX, envelope, chunk)
    second_pass += counts.parked_events / SQS_DELETE_BATCH
    consumer_gb = config.functions["consumer"].memory_mb / 1024
    retrier_gb = parking_design(config).retrier_memory_mb / 1024
    put_price = prices("s3", "put_requests_per_thousand") / 1000
    read_price = (prices("s3", "get_requests_per_thousand") + prices("s3", "delete_requests_per_thousand")) / 1000
    return [
        invocations_line("consumer invocations that park (one per batch)", counts.parked_objects, prices),
        lambda_duration_line("their duration, probes included", consumer_seconds, consumer_gb, prices),
        lambda_duration_line("retrier: its S3 and SQS calls", retrier_seconds, retrier_gb, prices),
        Line("SQS", "ReceiveMessage + DeleteMessageBatch of parked events", second_pass, "requests",
             second_pass * sqs_price),
        Line("SQS", f"SendMessageBatch to unpark ({entries} per call)", unpark_sends, "requests",
             unpark_sends * sqs_price),
        Line("SQS", "SendMessageBatch to the DLQ (retry window spent)", dead_sends, "requests", dead_sends * sqs_price),
        Line("SQS", "GetQueueAttributes before each object unparked", counts.depth_checks, "requests",
             counts.depth_checks * sqs_price),
        Line("S3", f"parked objects (PUT, one per batch of {per_batch:.3g})", counts.parked_objects, "requests",
             counts.parked_objects * put_price),
        Line("S3", "GET + DELETE of each object unparked or dead-lettered", 2 * counts.objects_read, "requests",
             counts.objects_read * read_price),
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
