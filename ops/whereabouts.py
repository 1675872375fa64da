"""Where accepted events that are not in the table are, and the command that brings them back.

An event the API accepted and the table lacks is in one of four places: still in the ingest queue (the
consumer is behind), parked in S3 (the store did not take it; the retrier sends it back once it answers), in
the dead-letter queue (the archiver has not taken it yet), or in the archive (S3). The parked objects and the
archive are searched by event id. The queues are only counted: receiving from the ingest queue to look would
raise each message's receive count towards maxReceiveCount and could dead-letter it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.common.envelope import parse_envelope
from functions.common.errors import EnvelopeError
from functions.common.parked import PARKED_PREFIX, ParkedEvent, read_parked
from ops.aws import aws_errors
from ops.replay import ARCHIVE_PREFIX, archive_keys, read_object
from ops.timeparse import iso

MAX_ARCHIVE_OBJECTS = 2000  # the newest ones: a bound on what one reconcile reads
_HOUR = re.compile(r"year=(\d{4})/month=(\d{2})/day=(\d{2})/hour=(\d{2})/")


@dataclass(frozen=True)
class QueueDepth:
    waiting: int
    in_flight: int

    @property
    def total(self) -> int:
        return self.waiting + self.in_flight


@dataclass
class Whereabouts:
    archived: dict[str, str] = field(default_factory=dict)  # event id → archive key
    parked: dict[str, str] = field(default_factory=dict)  # event id → parked object key
    queue: QueueDepth = QueueDepth(0, 0)
    dead_letters: QueueDepth = QueueDepth(0, 0)
    archive_objects_read: int = 0
    archive_objects_skipped: int = 0  # older than the newest MAX_ARCHIVE_OBJECTS

    def summary(self, missing: list[str]) -> list[str]:
        """Per place: how many, and the next command. `missing` is what the table lacks."""
        unaccounted = [event_id for event_id in missing if event_id not in self.archived | self.parked]
        lines = ["where the missing events are:"]
        if self.parked:
            lines += [
                f"  parked in S3: {len(self.parked)} (the store did not take them; safe)",
                "    next: fix the store; the retrier sends them back within a minute of it answering",
            ]
        if self.archived:
            start, end = self.archive_window()
            lines += [
                f"  in the archive: {len(self.archived)} (dead-lettered, safe in S3)",
                f"    next: fix the cause, then `invoke replay --since {start} --until {end} --dry-run`,",
                "          then the same without --dry-run, then reconcile again",
            ]
        lines += self._queue_lines()
        if unaccounted and not (self.queue.total or self.dead_letters.total):
            lines += [
                f"  nowhere: {len(unaccounted)} not parked, not in the archive, and both queues are empty",
                "    next: the client must resend them (with the same Idempotency-Key, so nothing doubles)",
            ]
        elif unaccounted:
            lines.append(f"  not in the archive: {len(unaccounted)} — most likely among the queued messages above")
        if self.archive_objects_skipped:
            lines.append(
                f"  (searched the newest {self.archive_objects_read} archive objects; "
                f"{self.archive_objects_skipped} older ones not read)"
            )
        return lines

    def window_summary(self, since: datetime, until: datetime) -> list[str]:
        """Without ids (reconcile --since): the queues as they are, and how to find the window's dead letters."""
        start, end = _short(since), _short(until + timedelta(minutes=1))
        return [
            "where accepted events not in the table can be:",
            *self._queue_lines(),
            "  the archive: `invoke replay --since "
            f"{start} --until {end} --dry-run` counts the window's dead letters; without --dry-run it sends them back",
            "  to name each missing event, reconcile the clients' logs of accepted ids with --ids",
        ]

    def _queue_lines(self) -> list[str]:
        lines = []
        if self.dead_letters.total:
            lines += [
                f"  dead-letter queue: {self.dead_letters.total} messages ({self.dead_letters.waiting} waiting, "
                f"{self.dead_letters.in_flight} in flight); the archiver normally takes them within seconds",
                "    next: if they stay, fix the archiver or the cause, then `invoke redrive`",
            ]
        if self.queue.total:
            lines += [
                f"  ingest queue: {self.queue.total} messages ({self.queue.waiting} waiting, "
                f"{self.queue.in_flight} in flight): the consumer is behind or retrying",
                "    next: wait for it to drain (`invoke status` locally), then reconcile again",
            ]
        return lines

    def archive_window(self) -> tuple[str, str]:
        """The hours the found events were archived in, as a replay window."""
        hours = [_hour_of(key) for key in self.archived.values()]
        known = [hour for hour in hours if hour is not None]
        if not known:
            return "<archive time>", "<archive time + 1 h>"
        return _short(min(known)), _short(max(known) + timedelta(hours=1))


def locate(missing: Iterable[str], sqs: Any, s3: Any, queue_url: str, dead_letter_url: str, bucket: str) -> Whereabouts:
    """The queues' depths, and where in the archive each of `missing` is (none given: the archive is not read)."""
    wanted = set(missing)
    found = Whereabouts(queue=depth(sqs, queue_url), dead_letters=depth(sqs, dead_letter_url))
    if not wanted:
        return found
    with aws_errors(f"reading s3://{bucket}/{PARKED_PREFIX}"):
        for key in archive_keys(s3, bucket, [PARKED_PREFIX]):
            if not wanted - found.parked.keys():
                break
            for event in _parked_events(s3, bucket, key):
                event_id = _event_id(event.body)
                if event_id in wanted:
                    found.parked.setdefault(event_id, key)
    keys = list(archive_keys(s3, bucket, [f"{ARCHIVE_PREFIX}/"]))
    newest = keys[-MAX_ARCHIVE_OBJECTS:]  # the partitions sort by time
    found.archive_objects_skipped = len(keys) - len(newest)
    for key in reversed(newest):
        if not wanted - found.archived.keys():
            break
        good, _ = read_object(s3, bucket, key)
        found.archive_objects_read += 1
        for item in good:
            if item.event_id in wanted:
                found.archived.setdefault(item.event_id, key)
    return found


def _parked_events(s3: Any, bucket: str, key: str) -> list[ParkedEvent]:
    try:
        return read_parked(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return []  # handled and deleted meanwhile
    except (ValueError, OSError, EOFError):
        return []  # not a parked-events object: nothing of ours to find in it


def _event_id(body: str) -> str | None:
    try:
        return parse_envelope(body).event_id
    except EnvelopeError:
        return None


def depth(sqs: Any, queue_url: str) -> QueueDepth:
    with aws_errors(f"reading the depth of {queue_url}"):
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
    return QueueDepth(
        int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])
    )


def _hour_of(key: str) -> datetime | None:
    match = _HOUR.search(key)
    if match is None:
        return None
    year, month, day, hour = map(int, match.groups())
    return datetime(year, month, day, hour, tzinfo=UTC)


def _short(moment: datetime) -> str:
    return iso(moment)[:16]  # 2026-11-30T05:00: what an operator types
