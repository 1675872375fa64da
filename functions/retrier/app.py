"""retrier: sends parked objects back to the consumer once the store answers, and those whose retry window is spent
so that the consumer dead-letters them. Runs on a schedule (every minute on AWS; the local stack runs it faster).

It sends a *pointer* per object — one small message whose `parked_key` attribute (and body) is the object's key;
the consumer reads the object and handles its events (functions/consumer/unparking.py), then deletes it. So the
events never travel through the queue again, and a drain runs at the consumer's throughput: the retrier sends ten
objects per SendMessageBatch call, not ten events. Each run, within its time budget, oldest object first, while the
ingest queue holds fewer than UNPARK_QUEUE_DEPTH visible messages (the consumer has work queued, and nothing waits
in flight):
1. every object whose newest event was accepted more than the retry window ago: the consumer stores its events if
   the store answers, and otherwise dead-letters them with "retry window spent" (the archiver then archives them);
   they never wait in the queue, so its retention never deletes one;
2. when the consumers' breaker says the store answers, every other object. While the breaker is open, one object
   goes back when the queue is empty: a consumer then probes the store even when no client sends anything (with
   anything in the queue, its batches are the probes).
A pointer is at least once: the same object pointed at twice is handled once and found gone the second time.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common import aws, metric_names, powertools
from functions.common.clock import utc_now
from functions.common.parked import BREAKER_FRESH_PROBES, POINTER_ATTRIBUTE
from functions.common.sqs_send import send_entries
from functions.retrier.config import RetrierSettings, load_settings
from functions.retrier.parked_store import ParkedObject, ParkedStore

# Kept back from the invocation's remaining time, so a run ends on its own rather than by Lambda's timeout.
SAFETY_MARGIN_SECONDS = 2.0
DEPTH_POLL_SECONDS = 1.0
# Pointers sent between two looks at the queue's depth: a few SendMessageBatch calls of ten.
POINTERS_PER_ROUND = 50

SETTINGS = load_settings()
logger, tracer, metrics = powertools.handler_tools()
s3 = aws.client("s3")
sqs = aws.client("sqs")


@dataclass(slots=True)
class RunReport:
    parked_objects: int = 0  # listed at the start of the run (up to the listing's limit)
    oldest_retry_age_seconds: float = 0.0  # the oldest object's newest event: the retry window's clock
    spent_sent: int = 0  # pointers to objects whose window is spent
    waiting_sent: int = 0  # pointers to the others
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
        # key → when this execution environment pointed at it (clock()): a warm environment's runs never point at
        # one object twice within repoint_after_seconds; a cold one may, once (the consumer then finds it gone or
        # stores its events again, identically in the table)
        self._pointed: dict[str, float] = {}
        self._sqs = sqs_client
        self._clock = clock
        self._sleep = sleep

    def run(self, now_ms: int, deadline: float) -> RunReport:
        report = RunReport()
        objects, _ = self._store.oldest()
        report.parked_objects = len(objects)
        self._forget_pointed({parked.key for parked in objects})
        if objects:
            report.oldest_retry_age_seconds = max(now_ms - objects[0].newest_retry_since_ms, 0) / 1000
        window_end = now_ms - self._settings.retry_window_seconds * 1000
        unpointed = [parked for parked in objects if parked.key not in self._pointed]
        spent = [parked for parked in unpointed if parked.newest_retry_since_ms <= window_end]
        waiting = [parked for parked in unpointed if parked.newest_retry_since_ms > window_end]
        fresh_ms = BREAKER_FRESH_PROBES * self._settings.probe_interval_seconds * 1000
        report.breaker_open = self._store.breaker_open(now_ms, fresh_ms, _log_error)
        depth = self._settings.unpark_queue_depth
        report.spent_sent = self._point(spent, deadline, depth)
        if not report.breaker_open:
            report.waiting_sent = self._point(waiting, deadline, depth)
        elif waiting:  # one object into an empty queue: a consumer probes the store with it
            report.waiting_sent = self._point(waiting[:1], deadline, 1)
        return report

    def _point(self, objects: list[ParkedObject], deadline: float, below_depth: int) -> int:
        """Send pointers to `objects`, oldest first, while the ingest queue holds fewer than `below_depth` visible
        messages; returns how many were sent."""
        sent = 0
        for start in range(0, len(objects), POINTERS_PER_ROUND):
            if not self._wait_for_room(deadline, below_depth):
                break
            round_ = objects[start : start + POINTERS_PER_ROUND]
            entries = [
                {
                    "Id": str(position),
                    "MessageBody": parked.key,
                    "MessageAttributes": {POINTER_ATTRIBUTE: {"DataType": "String", "StringValue": parked.key}},
                }
                for position, parked in enumerate(round_)
            ]
            failed = send_entries(self._sqs, self._settings.queue_url, entries, _log_error)
            now = self._clock()
            self._pointed |= {parked.key: now for position, parked in enumerate(round_) if str(position) not in failed}
            sent += len(round_) - len(failed)
        return sent

    def _forget_pointed(self, listed: set[str]) -> None:
        """Forget objects that are gone (handled) and pointers old enough to point at their object again."""
        oldest = self._clock() - self._settings.repoint_after_seconds
        self._pointed = {key: at for key, at in self._pointed.items() if key in listed and at > oldest}

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
    logger.warning("pointers not sent: their objects stay parked for the next run", extra={"error": str(error)})


retrier = Retrier(SETTINGS, s3, sqs)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One run over the parked events (the schedule's input is not needed: every run does the same)."""
    budget = min(float(SETTINGS.run_seconds), context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS)
    now_ms = int(utc_now().timestamp() * 1000)
    report = retrier.run(now_ms, time.monotonic() + max(budget, 0.0))
    metrics.add_metric(name=metric_names.PARKED_OBJECTS, unit=MetricUnit.Count, value=report.parked_objects)
    metrics.add_metric(
        name=metric_names.OLDEST_RETRY_AGE, unit=MetricUnit.Seconds, value=report.oldest_retry_age_seconds
    )
    metrics.add_metric(
        name=metric_names.PARKED_OBJECTS_SENT, unit=MetricUnit.Count, value=report.spent_sent + report.waiting_sent
    )
    return {
        "parked_objects": report.parked_objects,
        "spent_sent": report.spent_sent,
        "waiting_sent": report.waiting_sent,
        "breaker_open": report.breaker_open,
    }
