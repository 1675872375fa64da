"""retrier: parked events back to the ingest queue once the store answers, or to the dead-letter queue once
their retry window is spent. Runs on a schedule (every minute on AWS; the local stack runs it faster).

Each run, within its time budget:
1. every parked object whose newest event was accepted more than the retry window ago goes to the DLQ, each
   event with the reason "retry window spent" (the archiver then archives it, and `invoke replay` can bring it
   back), oldest first. Nothing waits in the queue meanwhile, so the queue's retention never deletes an event;
2. when the consumers' breaker says the store answers, the other objects go back to the ingest queue, oldest
   first, each event with its retry clock (so its window keeps counting from acceptance), while the queue holds
   fewer than UNPARK_QUEUE_DEPTH visible messages: the consumer drains at its full throughput and nothing waits
   in flight. While the breaker is open, one object goes back when the queue is empty: a consumer then probes the
   store even when no client sends anything (with anything in the queue, its batches are the probes).
An object is deleted only after all its events were sent; what could not be sent stays parked for the next run.
"""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common import aws, env
from functions.common.clock import utc_now
from functions.common.dead_letter import RETRY_WINDOW_SPENT, dead_letter_entry
from functions.common.parked import RETRY_SINCE_ATTRIBUTE, ParkedEvent
from functions.common.sqs_send import send_entries
from functions.retrier.config import RetrierSettings, load_settings
from functions.retrier.parked_store import ParkedObject, ParkedStore

# Where and how an object's events go: (queue URL, SendMessageBatch entries whose Id is the event's position)
EntriesOf = Callable[[list[ParkedEvent]], tuple[str, list[dict[str, Any]]]]

SERVICE = "retrier"
# Kept back from the invocation's remaining time, so a run ends on its own rather than by Lambda's timeout.
SAFETY_MARGIN_SECONDS = 2.0
DEPTH_POLL_SECONDS = 1.0
# Objects sent on side by side: each costs a GET, its SendMessageBatch calls (10 events each) and a DELETE, mostly
# waiting on the network, so threads keep up with a consumer draining at full throughput.
WORKERS = 8

SETTINGS = load_settings()
logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE, patch_modules=("botocore",))
metrics = EphemeralMetrics(service=SERVICE, namespace=env.metrics_namespace())
s3 = aws.client("s3")
sqs = aws.client("sqs")


@dataclass(slots=True)
class RunReport:
    parked_objects: int = 0  # listed at the start of the run (up to the listing's limit)
    oldest_retry_age_seconds: float = 0.0
    dead_lettered: int = 0
    unparked: int = 0
    not_sent: int = 0
    breaker_open: bool = False


class Retrier:
    def __init__(
        self,
        settings: RetrierSettings,
        s3_client: Any,
        sqs_client: Any,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._store = ParkedStore(s3_client, settings.parking_bucket)
        self._sqs = sqs_client
        self._clock = clock
        self._sleep = sleep

    def run(self, now_ms: int, deadline: float) -> RunReport:
        report = RunReport()
        objects, _ = self._store.oldest()
        report.parked_objects = len(objects)
        if objects:
            report.oldest_retry_age_seconds = max(now_ms - objects[0].newest_retry_since_ms, 0) / 1000
        window_end = now_ms - self._settings.retry_window_seconds * 1000
        spent = [parked for parked in objects if parked.newest_retry_since_ms <= window_end]
        waiting = [parked for parked in objects if parked.newest_retry_since_ms > window_end]
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            for start in range(0, len(spent), WORKERS):
                if self._clock() >= deadline:
                    return report
                sent, not_sent = self._send_round(pool, spent[start : start + WORKERS], self._dead_letter_entries)
                report.dead_lettered += sent
                report.not_sent += not_sent
            report.breaker_open = self._store.breaker_open(_log_error)
            # Open: one object, and only into an empty queue (anything queued already makes the consumers probe).
            backlog, depth = (waiting[:1], 1) if report.breaker_open else (waiting, self._settings.unpark_queue_depth)
            for start in range(0, len(backlog), WORKERS):
                if not self._wait_for_room(deadline, depth):
                    return report
                sent, not_sent = self._send_round(pool, backlog[start : start + WORKERS], self._unpark_entries)
                report.unparked += sent
                report.not_sent += not_sent
        return report

    def _send_round(
        self, pool: ThreadPoolExecutor, objects: list[ParkedObject], entries_of: EntriesOf
    ) -> tuple[int, int]:
        """Send each object's events on, side by side; (events sent, events left parked)."""
        results = list(pool.map(lambda parked: self._send_object(parked.key, entries_of), objects))
        return sum(sent for sent, _ in results), sum(left for _, left in results)

    def _send_object(self, key: str, entries_of: EntriesOf) -> tuple[int, int]:
        """Send one parked object's events where `entries_of` addresses them; delete the object, or keep in it
        exactly the events that were not sent. Returns (sent, left)."""
        events = self._store.read(key)
        if not events:
            return 0, 0
        queue_url, entries = entries_of(events)
        failed = send_entries(self._sqs, queue_url, entries, _log_error)
        remaining = [event for position, event in enumerate(events) if str(position) in failed]
        self._store.settle(key, remaining)
        return len(events) - len(remaining), len(remaining)

    def _dead_letter_entries(self, events: list[ParkedEvent]) -> tuple[str, list[dict[str, Any]]]:
        entries = [dead_letter_entry(str(i), e.message_id, e.body, RETRY_WINDOW_SPENT) for i, e in enumerate(events)]
        return self._settings.dead_letter_queue_url, entries

    def _unpark_entries(self, events: list[ParkedEvent]) -> tuple[str, list[dict[str, Any]]]:
        entries = [
            {
                "Id": str(position),
                "MessageBody": event.body,
                "MessageAttributes": {
                    RETRY_SINCE_ATTRIBUTE: {"DataType": "Number", "StringValue": str(event.retry_since_ms)}
                },
            }
            for position, event in enumerate(events)
        ]
        return self._settings.queue_url, entries

    def _wait_for_room(self, deadline: float, below_depth: int) -> bool:
        """Whether the ingest queue has room for more before the deadline (its visible messages below the depth)."""
        while self._clock() < deadline:
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=self._settings.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            if int(attributes["ApproximateNumberOfMessages"]) < below_depth:
                return True
            self._sleep(min(DEPTH_POLL_SECONDS, max(deadline - self._clock(), 0.0)))
        return False


def _log_error(error: Exception) -> None:
    logger.warning("parked events not sent on; they stay parked", extra={"error": str(error)})


retrier = Retrier(SETTINGS, s3, sqs)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One run over the parked events (the schedule's input is not needed: every run does the same)."""
    budget = min(float(SETTINGS.run_seconds), context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS)
    now_ms = int(utc_now().timestamp() * 1000)
    report = retrier.run(now_ms, time.monotonic() + max(budget, 0.0))
    if report.not_sent:
        logger.warning("parked events not sent on this run", extra={"events": report.not_sent})
    metrics.add_metric(name="ParkedObjects", unit=MetricUnit.Count, value=report.parked_objects)
    metrics.add_metric(name="OldestRetryAge", unit=MetricUnit.Seconds, value=report.oldest_retry_age_seconds)
    metrics.add_metric(name="EventsUnparked", unit=MetricUnit.Count, value=report.unparked)
    metrics.add_metric(name="EventsDeadLettered", unit=MetricUnit.Count, value=report.dead_lettered)
    return {
        "parked_objects": report.parked_objects,
        "unparked": report.unparked,
        "dead_lettered": report.dead_lettered,
        "breaker_open": report.breaker_open,
    }
