"""What a database outage adds to the month: every event accepted during it fails once per receive its backoff
schedule allows before the database is back (cloudformation/retry.py), and those still failing when the retry
window ends are dead-lettered, archived and replayed. Priced with the monthly model's prices (ops/cost.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from cloudformation.config import Config
from ops.cost import (
    MILLION,
    SECONDS_PER_HOUR,
    SQS_RECEIVE_MAX,
    SQS_SEND_BATCH,
    Assumptions,
    Line,
    Prices,
    Workload,
)


@dataclass
class OutageEstimate:
    hours: float
    events: float  # accepted during the outage
    failed_receives: float
    dead_lettered: float
    lines: list[Line] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)


def failed_receives_by_wait(delays: tuple[int, ...], outage_seconds: float, rate: float) -> tuple[float, float]:
    """(failed receives, dead-lettered events) of events arriving at `rate` per second during an outage: an
    event that still has R seconds of outage ahead fails its first receive and every retry the schedule brings
    before R; when the last one fails too (R beyond every delay) it is dead-lettered."""
    failed = dead = 0.0
    waited = 0.0
    for receives, delay in enumerate(delays, start=1):
        # events whose remaining outage R lies in (waited, waited + delay] fail exactly `receives` times
        share = max(min(waited + delay, outage_seconds) - min(waited, outage_seconds), 0.0)
        failed += receives * rate * share
        waited += delay
    dead = rate * max(outage_seconds - waited, 0.0)
    failed += (len(delays) + 1) * dead
    return failed, dead


def outage_estimate(
    config: Config, prices: Prices, workload: Workload, hours: float, assume: Assumptions | None = None
) -> OutageEstimate:
    """What a database outage of `hours` adds to the month: the retries, and the dead letters' archive and replay.
    DynamoDB does not bill the failed writes; the consumer is assumed to receive full batches."""
    assume = assume or Assumptions()
    seconds = hours * SECONDS_PER_HOUR
    schedule = config.retry_schedule
    failed, dead = failed_receives_by_wait(schedule.delays, seconds, workload.rate)
    result = OutageEstimate(hours, workload.rate * seconds, failed, dead)
    sqs_price = prices("sqs", "standard_requests_per_million") / MILLION
    batch = config.mapping("consumer").batch_size
    invocations = failed / batch
    consumer_ms = (
        assume.consumer_base_ms
        + assume.consumer_per_record_ms * batch
        + assume.dynamodb_call_ms
        + assume.sqs_call_ms * math.ceil(batch / SQS_SEND_BATCH)
    )
    gb_seconds = invocations * consumer_ms / 1000 * config.functions["consumer"].memory_mb / 1024
    result.lines += [
        Line(
            "Lambda",
            "consumer invocations that fail (full batches)",
            invocations,
            "requests",
            invocations / MILLION * prices("lambda", "requests_per_million"),
        ),
        Line("Lambda", "their duration", gb_seconds, "GB-s", gb_seconds * prices("lambda", "arm64_gb_second")),
    ]
    receives, visibility = failed / SQS_RECEIVE_MAX, failed / SQS_SEND_BATCH
    result.lines += [
        Line("SQS", "ReceiveMessage of the retries", receives, "requests", receives * sqs_price),
        Line("SQS", "ChangeMessageVisibilityBatch (the backoff)", visibility, "requests", visibility * sqs_price),
    ]
    # dead letters: the archiver's receive, delete and one S3 object per batch; the replay sends them again
    # and the consumer stores them as usual (priced in the monthly estimate's per-event cost)
    archive_batch = config.mappings["archiver"].batch_size
    objects = dead / archive_batch
    result.lines += [
        Line("SQS", "archiver receive + delete, replay send", 3 * objects, "requests", 3 * objects * sqs_price),
        Line(
            "S3",
            "archive objects (PUT)",
            objects,
            "requests",
            objects / 1000 * prices("s3", "put_requests_per_thousand"),
        ),
    ]
    return result
