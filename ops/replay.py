"""`invoke replay`: archived DLQ messages back into the ingest queue, with their original event ids.

The archive is partitioned by the hour the archiver wrote it (`dlq/year=/month=/day=/hour=/`), so a time
window maps to a set of prefixes: whole days where the window covers them, single hours at its edges.
Replaying twice is harmless: the consumer writes each event under its event id, and a second write of the
same envelope overwrites an identical item.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from functions.common.archive import ARCHIVE_PREFIX, read_archive_lines
from functions.common.dead_letter import RETRY_WINDOW_SPENT
from functions.common.envelope import parse_envelope
from functions.common.errors import EnvelopeError
from functions.common.sqs_send import batches as sqs_batches
from ops.aws import aws_errors, error_message
from ops.errors import OpsError
from ops.progress import Progress

MAX_WINDOW = timedelta(days=400)  # the archive's lifecycle expires objects after ~400 days anyway
MAX_SEND_ATTEMPTS = 5


@dataclass(frozen=True)
class Replayable:
    event_id: str
    body: str  # the envelope exactly as archived: the consumer sees what it would have seen
    message_id: str
    key: str


@dataclass(frozen=True)
class NotReplayable:
    message_id: str
    key: str
    reason: str


@dataclass
class ReplayResult:
    objects: int = 0
    lines: int = 0
    replayable: int = 0
    repeated: int = 0  # an event archived more than once in the window: sent once
    sent: int = 0
    not_replayable: list[NotReplayable] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (event id, reason)

    def summary(self, dry_run: bool) -> list[str]:
        verb = "would send" if dry_run else "sent"
        lines = [
            f"read {self.lines} archived messages from {self.objects} objects",
            f"{verb} {self.replayable if dry_run else self.sent} events to the ingest queue"
            + (f" ({self.repeated} archived more than once, sent once)" if self.repeated else ""),
        ]
        if self.not_replayable:
            lines.append(f"not replayable: {len(self.not_replayable)} (not a Sluice envelope; left in the archive)")
            lines += [f"  {item.message_id}  {item.reason}  [{item.key}]" for item in self.not_replayable]
        if self.failed:
            lines.append(f"FAILED to send: {len(self.failed)} (run the replay again; it is safe)")
            lines += [f"  {event_id}  {reason}" for event_id, reason in self.failed[:20]]
        return lines


def partition_prefixes(since: datetime, until: datetime, prefix: str = ARCHIVE_PREFIX) -> list[str]:
    """The fewest prefixes that cover every hour partition from since's hour up to until's hour."""
    if until - since > MAX_WINDOW:
        raise OpsError(f"the window is longer than {MAX_WINDOW.days} days; replay it in parts")
    hour = since.replace(minute=0, second=0, microsecond=0)
    prefixes = []
    while hour <= until:
        day_end = hour.replace(hour=0) + timedelta(days=1)
        if hour.hour == 0 and day_end - timedelta(hours=1) <= until:
            prefixes.append(hour.strftime(f"{prefix}/year=%Y/month=%m/day=%d/"))
            hour = day_end
        else:
            prefixes.append(hour.strftime(f"{prefix}/year=%Y/month=%m/day=%d/hour=%H/"))
            hour += timedelta(hours=1)
    return prefixes


def archive_keys(s3: Any, bucket: str, prefixes: Iterable[str]) -> Iterator[str]:
    paginator = s3.get_paginator("list_objects_v2")
    for prefix in prefixes:
        with aws_errors(f"listing s3://{bucket}/{prefix}"):
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    if item["Key"].endswith(".jsonl.gz"):
                        yield item["Key"]


def read_object(s3: Any, bucket: str, key: str) -> tuple[list[Replayable], list[NotReplayable]]:
    with aws_errors(f"reading s3://{bucket}/{key}"):
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        lines = read_archive_lines(data)
    except (OSError, EOFError, ValueError):
        return [], [NotReplayable("-", key, "object is not gzip JSON Lines")]
    good: list[Replayable] = []
    bad: list[NotReplayable] = []
    for line in lines:
        message_id = str(line.get("message_id", "?")) if isinstance(line, dict) else "?"
        body = line.get("body") if isinstance(line, dict) else None
        reason = line.get("reason") if isinstance(line, dict) else None
        # Poison the consumer dead-lettered would fail the same way; an event whose retry window was spent is what
        # replay is for.
        if isinstance(reason, str) and reason and reason != RETRY_WINDOW_SPENT:
            bad.append(NotReplayable(message_id, key, reason))
            continue
        try:
            envelope = parse_envelope(body)
        except EnvelopeError as error:
            bad.append(NotReplayable(message_id, key, str(error)))
            continue
        assert isinstance(body, str)  # parse_envelope accepts strings only
        good.append(Replayable(envelope.event_id, body, message_id, key))
    return good, bad


def _chunks(items: list[Replayable]) -> Iterator[list[Replayable]]:
    """Groups that each fit one SendMessageBatch call (functions/common/sqs.py)."""
    entries = ({"Id": str(index), "MessageBody": item.body} for index, item in enumerate(items))
    for batch in sqs_batches(entries):
        yield [items[int(entry["Id"])] for entry in batch]


def send_bodies(
    sqs: Any,
    queue_url: str,
    items: list[Replayable],
    *,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, list[tuple[str, str]]]:
    """SendMessageBatch, 10 at a time; entries SQS failed on its side are retried with backoff.
    Returns (sent, [(event id, reason) that could not be sent])."""
    sent, failed = 0, []
    for chunk in _chunks(items):
        pending = {str(index): item for index, item in enumerate(chunk)}
        for attempt in range(MAX_SEND_ATTEMPTS):
            entries = [{"Id": entry_id, "MessageBody": item.body} for entry_id, item in pending.items()]
            try:
                response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            except ClientError as error:
                reason = error_message(error)
                if attempt + 1 == MAX_SEND_ATTEMPTS:
                    failed += [(item.event_id, reason) for item in pending.values()]
                    break
                sleep(min(0.2 * 2**attempt, 5.0))
                continue
            for success in response.get("Successful", []):
                pending.pop(success["Id"], None)
                sent += 1
            retry = {}
            for failure in response.get("Failed", []):
                item = pending.pop(failure["Id"], None)
                if item is None:
                    continue
                if failure.get("SenderFault"):  # our request is wrong: sending it again cannot help
                    failed.append((item.event_id, f"{failure.get('Code')}: {failure.get('Message', '')}"))
                else:
                    retry[failure["Id"]] = item
            pending = retry
            if not pending:
                break
            if attempt + 1 == MAX_SEND_ATTEMPTS:
                failed += [(item.event_id, "still failing after retries") for item in pending.values()]
                break
            sleep(min(0.2 * 2**attempt, 5.0))
        if progress:
            progress.update(len(chunk))
    return sent, failed


def replay(
    s3: Any,
    sqs: Any,
    bucket: str,
    queue_url: str,
    since: datetime,
    until: datetime,
    *,
    dry_run: bool = False,
    prefix: str = ARCHIVE_PREFIX,
    progress_stream: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayResult:
    result = ReplayResult()
    unique: dict[str, Replayable] = {}
    reading = Progress("replay: reading archive objects", stream=progress_stream)
    for key in archive_keys(s3, bucket, partition_prefixes(since, until, prefix)):
        good, bad = read_object(s3, bucket, key)
        result.objects += 1
        result.lines += len(good) + len(bad)
        result.not_replayable += bad
        for item in good:
            if item.event_id in unique:
                result.repeated += 1
            else:
                unique[item.event_id] = item
        reading.update(note=f"({len(unique)} events)")
    reading.finish(note=f"({len(unique)} events)")
    result.replayable = len(unique)
    if dry_run or not unique:
        return result
    sending = Progress("replay: sending", total=len(unique), stream=progress_stream)
    result.sent, result.failed = send_bodies(sqs, queue_url, list(unique.values()), progress=sending, sleep=sleep)
    sending.finish()
    return result
