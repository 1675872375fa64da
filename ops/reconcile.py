"""`invoke reconcile`: did every event a client was told "accepted" reach the table?

With a client log of ids: each id is looked up (BatchGetItem, 100 keys per call). What "duplicate" can mean
here, precisely:
- the table cannot hold a duplicate: `event_id` is its key, so a redelivery or a replay overwrites the
  same item;
- an id listed more than once in the client log is reported separately: the API returned the same id twice
  (a resend with the same Idempotency-Key), or the log repeats a line. Harmless: it is one event, stored once;
- the same event sent twice WITHOUT an Idempotency-Key gets two ids and is two items; nothing here can tell
  that apart from two distinct events.

Without a log: the ingest function's EventsAccepted metric summed over the window against the number of
items whose received_at falls in it. Approximate by nature (see `WindowResult.caveats`). The end-to-end
canary's events are left out of both sides (its CanaryAccepted metric; its items carry `canary`): the report
is about clients' events.

With `--producer NAME` (and a client log: the metric has no producer dimension, ingest keeps the producer out of
its dimensions to bound their number) only that producer's events count as found: an id stored under another
key (item attribute `k`, or `api_key_id` in the first layout and the analytics store) is reported apart.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from alarms.history import DAY, RETENTION, retained_resolution
from cloudformation import output_keys
from functions.common import metric_names
from functions.common.analytics import read_lines
from functions.common.contract import ANALYTICS_PREFIX, CANARY_ATTRIBUTE, PRODUCER_FIELD
from functions.common.item import API_KEY_ID
from ops.aws import aws_errors
from ops.errors import OpsError
from ops.events import received_between
from ops.keys import producer_key_ids
from ops.progress import Progress
from ops.textfile import read_text
from ops.timeparse import iso, parse_window
from ops.whereabouts import Whereabouts, locate

if TYPE_CHECKING:
    from ops.outputs import Target

KEYS_PER_CALL = 100  # BatchGetItem's limit
MAX_UNPROCESSED_ATTEMPTS = 8
# Powertools adds the `service` dimension to every metric; CanaryAccepted is 1 per canary event the API accepted.
METRIC_DIMENSIONS = [{"Name": metric_names.SERVICE_DIMENSION, "Value": "ingest"}]
CANARY_METRIC_DIMENSIONS = [{"Name": metric_names.SERVICE_DIMENSION, "Value": "canary"}]
MAX_DATAPOINTS = 1440  # GetMetricStatistics answers at most this many per call


def read_ids(path: str) -> list[str]:
    """Ids from a client log, in order: one id per line, or JSON lines — a string, or an object with `ids`
    (the API's 202 body) or `event_id`."""
    text = read_text(path, "a file of ids")
    ids: list[str] = []
    # A line ends at "\n" only: str.splitlines() also splits at NEL, U+2028 and U+2029, legal inside JSON strings.
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped[0] not in '{["':
            ids.append(stripped)
            continue
        try:
            value = json.loads(stripped)
        except ValueError:
            raise OpsError(f"{path}:{number}: starts like JSON but is not valid JSON") from None
        found = _ids_in(value)
        if found is None:
            raise OpsError(f"{path}:{number}: expected an id, a JSON string, or an object with `ids` or `event_id`")
        ids += found
    return ids


def _ids_in(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    if isinstance(value, dict):
        if isinstance(value.get("ids"), list):
            return [str(item) for item in value["ids"]]
        if isinstance(value.get("event_id"), str):
            return [value["event_id"]]
    return None


@dataclass
class IdsResult:
    listed: int
    unique: int
    found: int
    missing: list[str]
    repeated_in_log: dict[str, int] = field(default_factory=dict)
    whereabouts: Whereabouts | None = None  # where the missing ones are, once looked for
    producer: str | None = None  # --producer: only its events count as found
    other_producer: list[str] = field(default_factory=list)  # stored, but under another producer's key

    def summary(self) -> list[str]:
        lines = [
            f"client log: {self.listed} ids, {self.unique} distinct",
            f"in the table: {self.found} of {self.unique}" + (f" (producer {self.producer})" if self.producer else ""),
        ]
        if self.other_producer:
            lines.append(f"stored under ANOTHER producer's key: {len(self.other_producer)}")
            lines += [f"  {event_id}" for event_id in self.other_producer]
        if self.missing:
            lines.append(f"MISSING from the table: {len(self.missing)}")
            lines += [f"  {event_id}" for event_id in self.missing]
            if self.whereabouts is not None:
                lines += self.whereabouts.summary(self.missing)
        else:
            lines.append("missing: none")
        if self.repeated_in_log:
            lines.append(
                f"listed more than once in the client log: {_repeats(self.repeated_in_log)} — "
                "one event each, stored once (same Idempotency-Key resent, or a repeated log line)"
            )
            lines += _repeat_lines(self.repeated_in_log)
        lines.append("duplicates in the table: impossible by construction (event_id is the table's key)")
        return lines


def existing_ids(
    dynamodb: Any,
    table: str,
    ids: Iterable[str],
    *,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> set[str]:
    """The subset of `ids` that are keys in the table. Unprocessed keys are retried with backoff."""
    return set(stored_key_ids(dynamodb, table, ids, progress=progress, sleep=sleep))


def stored_key_ids(
    dynamodb: Any,
    table: str,
    ids: Iterable[str],
    *,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, str]:
    """Event id → the API key id stored with it ("" when none), for the `ids` that are keys in the table."""
    wanted = list(dict.fromkeys(ids))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), KEYS_PER_CALL):
        keys = [{"event_id": {"S": event_id}} for event_id in wanted[start : start + KEYS_PER_CALL]]
        request = {
            table: {
                "Keys": keys,
                "ProjectionExpression": "event_id, #k, #key",
                "ExpressionAttributeNames": {"#k": API_KEY_ID, "#key": PRODUCER_FIELD},
                "ConsistentRead": True,
            }
        }
        for attempt in range(MAX_UNPROCESSED_ATTEMPTS):
            with aws_errors(f"reading {table}"):
                response = dynamodb.batch_get_item(RequestItems=request)
            found |= {item["event_id"]["S"]: _key_id(item) for item in response.get("Responses", {}).get(table, [])}
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            sleep(min(0.05 * 2**attempt, 2.0))
        else:
            raise OpsError(f"{table}: DynamoDB kept returning unprocessed keys; try again later")
        if progress:
            progress.update(len(keys))
    return found


def _key_id(item: dict[str, Any]) -> str:
    """The API key id of a projected item: `k` in the compact layout, `api_key_id` in the first."""
    return str((item.get(API_KEY_ID) or item.get(PRODUCER_FIELD) or {}).get("S", ""))


@dataclass(frozen=True)
class Producer:
    """`--producer NAME` resolved: the key ids its events carry (its key and retired generations)."""

    name: str
    key_ids: frozenset[str]


def reconcile_ids(
    dynamodb: Any, table: str, ids: list[str], *, producer: Producer | None = None, progress_stream: Any = None
) -> IdsResult:
    counts = Counter(ids)
    progress = Progress("reconcile: looked up", total=len(counts), stream=progress_stream)
    stored = stored_key_ids(dynamodb, table, counts, progress=progress)
    progress.finish()
    others = [] if producer is None else [event_id for event_id in stored if stored[event_id] not in producer.key_ids]
    found = set(stored) - set(others)
    return IdsResult(
        listed=len(ids),
        unique=len(counts),
        found=len(found),
        missing=[event_id for event_id in counts if event_id not in stored],
        repeated_in_log={event_id: count for event_id, count in counts.items() if count > 1},
        producer=producer.name if producer else None,
        other_producer=others,
    )


@dataclass
class WindowResult:
    since: datetime
    until: datetime
    accepted_metric: float
    table_items: int
    whereabouts: Whereabouts | None = None  # the queues, once looked at

    def caveats(self) -> list[str]:
        return [
            "approximate, not proof:",
            "  - events accepted near the window's edges may be stored just outside it (received_at is set at "
            "ingest, the metric is summed per period);",
            "  - events still in the queue or the DLQ are accepted but not yet stored;",
            "  - a resend with the same Idempotency-Key counts twice in the metric but is one item;",
            "  - metrics arrive a minute or two late. For proof, reconcile a client log with --ids.",
        ]

    def summary(self) -> list[str]:
        difference = self.accepted_metric - self.table_items
        return [
            f"window {iso(self.since)} .. {iso(self.until)}",
            f"EventsAccepted (metric sum, canary excluded): {self.accepted_metric:.0f}",
            f"items with received_at in the window (canary excluded): {self.table_items}",
            f"difference (accepted - stored): {difference:+.0f}",
            *(self.whereabouts.window_summary(self.since, self.until) if self.whereabouts and difference > 0 else []),
            *self.caveats(),
        ]


def metric_sum(cloudwatch: Any, namespace: str, since: datetime, until: datetime, now: datetime | None = None) -> float:
    """Clients' events accepted over [since, until): EventsAccepted less the canary's CanaryAccepted."""
    period = sum_period(since, until, now or datetime.now(UTC))
    accepted = _sum(cloudwatch, namespace, metric_names.EVENTS_ACCEPTED, METRIC_DIMENSIONS, since, until, period)
    return accepted - _sum(
        cloudwatch, namespace, metric_names.CANARY_ACCEPTED, CANARY_METRIC_DIMENSIONS, since, until, period
    )


def sum_period(since: datetime, until: datetime, now: datetime) -> int:
    """A period CloudWatch returns data in for a window starting at `since` (the backtest's resolution rule: 60 s
    up to 15 days back, 300 s up to 63, 3,600 s up to 455), coarse enough for one call's 1,440 datapoints."""
    resolution = retained_resolution((now - since).total_seconds())
    if resolution is None:
        raise OpsError(f"--since {iso(since)}: CloudWatch keeps metric data for {RETENTION[-1][0] // DAY} days")
    seconds = (until - since).total_seconds()
    return max(resolution, math.ceil(seconds / MAX_DATAPOINTS / resolution) * resolution)


def _sum(
    cloudwatch: Any,
    namespace: str,
    name: str,
    dimensions: list[dict[str, str]],
    since: datetime,
    until: datetime,
    period: int,
) -> float:
    """Sum of one metric over [since, until) in `period`-second datapoints."""
    with aws_errors(f"reading the {name} metric"):
        datapoints = cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=dimensions,
            StartTime=since,
            EndTime=until,
            Period=period,
            Statistics=["Sum"],
        )["Datapoints"]
    return float(sum(point["Sum"] for point in datapoints))


def count_items(dynamodb: Any, table: str, since: datetime, until: datetime, *, progress_stream: Any = None) -> int:
    """Clients' items whose received_at is in [since, until): a filtered COUNT scan (reads the whole table)."""
    progress = Progress("reconcile: scanned items", stream=progress_stream)
    total = 0
    window = received_between(since, until)
    with aws_errors(f"scanning {table}"):
        pages = dynamodb.get_paginator("scan").paginate(
            TableName=table,
            Select="COUNT",
            FilterExpression=f"({window['FilterExpression']}) AND attribute_not_exists(#canary)",
            ExpressionAttributeNames={**window["ExpressionAttributeNames"], "#canary": CANARY_ATTRIBUTE},
            ExpressionAttributeValues=window["ExpressionAttributeValues"],
        )
        for page in pages:
            total += page["Count"]
            progress.update(page.get("ScannedCount", 0))
    progress.finish(note=f"({total} in the window)")
    return total


def reconcile_window(
    cloudwatch: Any,
    dynamodb: Any,
    table: str,
    namespace: str,
    since: datetime,
    until: datetime,
    now: datetime | None = None,
    **options: Any,
) -> WindowResult:
    return WindowResult(
        since=since,
        until=until,
        accepted_metric=metric_sum(cloudwatch, namespace, since, until, now),
        table_items=count_items(dynamodb, table, since, until, **options),
    )


@dataclass
class S3IdsResult:
    """The client log against the S3 analytics store, where (unlike the table) a copy can repeat: a regrouped
    redelivery or a replay writes identical lines to another object of the same hour. Queries read the view
    `events` (cloudformation/analytics.py), one row per hour and event id; `events_raw` holds every line."""

    listed: int
    unique: int
    found: int
    missing: list[str]
    duplicated: dict[str, int]  # event id → rows of the view `events` holding it, when more than one
    objects: int
    copies: dict[str, int] = field(default_factory=dict)  # event id → lines of the objects, when more than one
    producer: str | None = None  # --producer: only its events count as found
    other_producer: list[str] = field(default_factory=list)  # stored, but under another producer's key

    def summary(self) -> list[str]:
        lines = [
            f"client log: {self.listed} ids, {self.unique} distinct",
            f"in the S3 analytics store ({self.objects} objects read): {self.found} of {self.unique}"
            + (f" (producer {self.producer})" if self.producer else ""),
        ]
        if self.other_producer:
            lines.append(f"stored under ANOTHER producer's key: {len(self.other_producer)}")
            lines += [f"  {event_id}" for event_id in self.other_producer]
        if self.missing:
            lines.append(f"MISSING from the analytics store: {len(self.missing)}")
            lines += [f"  {event_id}" for event_id in self.missing]
        else:
            lines.append("missing: none")
        lines.append(
            f"copies in the objects (events_raw): {_repeats(self.copies, 'lines')}, {self._share(self.copies)} of the "
            "events found; the view `events` that queries read counts a copy in the same hour once"
        )
        if self.duplicated:
            lines.append(
                f"DUPLICATED through the view `events`: {_repeats(self.duplicated, 'rows')}, "
                f"{self._share(self.duplicated)} of the events found"
            )
            lines += _repeat_lines(self.duplicated)
        else:
            lines.append("duplicates through the view `events`: none")
        return lines

    def _share(self, repeated: dict[str, int]) -> str:
        return f"{100 * len(repeated) / self.found:.1f} %" if self.found else "0.0 %"


def _repeats(counts: dict[str, int], unit: str = "lines") -> str:
    return f"{len(counts)} ids ({sum(counts.values()) - len(counts)} extra {unit})"


def _repeat_lines(counts: dict[str, int], most: int = 20) -> list[str]:
    return [f"  {event_id} ×{count}" for event_id, count in sorted(counts.items())[:most]]


def hour_prefixes(prefix: str, since: datetime, until: datetime) -> list[str]:
    """The store's `dt=…/hour=…/` prefixes of every UTC hour from `since` to `until` (both included)."""
    hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    prefixes = []
    while hour <= until.astimezone(UTC):
        prefixes.append(f"{prefix}/{hour.strftime('dt=%Y-%m-%d/hour=%H')}/")
        hour += timedelta(hours=1)
    return prefixes


@dataclass
class StoreCounts:
    """How often each event id is in the store: `lines` of the objects (events_raw) and `rows` of the view
    `events` (one per hour partition holding it)."""

    lines: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)
    objects: int = 0
    key_ids: dict[str, str] = field(default_factory=dict)  # event id → the API key id stored with it


def analytics_store_counts(
    s3: Any, bucket: str, prefixes: Iterable[str], *, progress_stream: Any = None
) -> StoreCounts:
    """Lines and view rows per event id under `prefixes` of the S3 analytics store, and the objects read."""
    counts = StoreCounts()
    partitions_of: defaultdict[str, set[str]] = defaultdict(set)
    progress = Progress("reconcile: S3 objects read", stream=progress_stream)
    for prefix in prefixes:
        with aws_errors(f"reading s3://{bucket}/{prefix}"):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    data = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                    pairs = _event_ids(data, f"s3://{bucket}/{item['Key']}")
                    ids = [event_id for event_id, _ in pairs]
                    counts.lines.update(ids)
                    counts.key_ids |= dict(pairs)
                    partition = item["Key"].rsplit("/", 1)[0]  # …/dt=YYYY-MM-DD/hour=HH
                    for event_id in ids:
                        partitions_of[event_id].add(partition)
                    progress.update()
    progress.finish()
    counts.rows.update({event_id: len(partitions) for event_id, partitions in partitions_of.items()})
    counts.objects = progress.done
    return counts


def _event_ids(data: bytes, name: str) -> list[tuple[str, str]]:
    """(event id, API key id or "") of each line of one store object; OpsError naming the object when it is not
    one."""
    try:
        return [(str(line["event_id"]), str(line.get(PRODUCER_FIELD) or "")) for line in read_lines(data)]
    except (OSError, EOFError, ValueError, TypeError, KeyError) as error:
        reason = f"{type(error).__name__}: {error}".splitlines()[0]
        raise OpsError(f"{name}: not an analytics store object (gzip JSON Lines with event_id): {reason}") from None


def reconcile_ids_s3(
    s3: Any,
    bucket: str,
    ids: list[str],
    *,
    prefix: str = ANALYTICS_PREFIX,
    producer: Producer | None = None,
    progress_stream: Any = None,
) -> S3IdsResult:
    """Read every object of the store (a whole-store look: on AWS, `invoke events.query` scales further) and count
    each listed id as the view `events` does (a row per hour partition) and as its lines (`events_raw`)."""
    counts = Counter(ids)
    store = analytics_store_counts(s3, bucket, [f"{prefix}/"], progress_stream=progress_stream)
    stored = [event_id for event_id in counts if event_id in store.lines]
    others = (
        [] if producer is None else [event_id for event_id in stored if store.key_ids[event_id] not in producer.key_ids]
    )
    counted = set(stored) - set(others)
    return S3IdsResult(
        listed=len(ids),
        unique=len(counts),
        found=len(counted),
        missing=[event_id for event_id in counts if event_id not in store.lines],
        duplicated={event_id: n for event_id, n in store.rows.items() if n > 1 and event_id in counted},
        objects=store.objects,
        copies={event_id: n for event_id, n in store.lines.items() if n > 1 and event_id in counted},
        producer=producer.name if producer else None,
        other_producer=others,
    )


SINKS = ("dynamodb", "s3")


def reconcile_target(
    resolve: Callable[[], Target],
    *,
    ids: str | None = None,
    since: str | None = None,
    until: str | None = None,
    sink: str = "dynamodb",
    producer: str | None = None,
    key_ids_of: Callable[[Target, str], list[str]] = producer_key_ids,
    progress_stream: Any = None,
) -> IdsResult | WindowResult | S3IdsResult:
    """`invoke reconcile`: a client log of ids against one sink, or the table against the EventsAccepted metric
    over a window; missing events are looked for in the queue, the DLQ and the archive. The arguments are
    checked and the log read before `resolve` looks the stack up, so a mistake there is said first."""
    if sink not in SINKS:
        raise OpsError(f"--sink: expected dynamodb or s3, got {sink!r}")
    if sink == "s3" and not ids:
        raise OpsError("reconcile --sink s3 needs --ids FILE (the store has no metric window)")
    if producer is not None and not ids:
        raise OpsError(
            'reconcile --producer needs --ids FILE: EventsAccepted has no producer dimension (the "Who is sending?" '
            "widget counts per producer)"
        )
    if ids:
        listed = read_ids(ids)
        target = resolve()
        chosen = None
        if producer is not None:
            chosen = Producer(producer, frozenset(key_ids_of(target, producer)))
        if sink == "s3":
            bucket = target.require(output_keys.ANALYTICS_BUCKET)
            return reconcile_ids_s3(
                target.client("s3"), bucket, listed, producer=chosen, progress_stream=progress_stream
            )
        table = target.require(output_keys.TABLE_NAME)
        result = reconcile_ids(
            target.client("dynamodb"), table, listed, producer=chosen, progress_stream=progress_stream
        )
        if result.missing:
            result.whereabouts = _whereabouts(target, result.missing)
        return result
    if not since:
        raise OpsError("reconcile needs --ids FILE, or --since ISO to compare metric and table")
    start, end = parse_window(since, until)
    target = resolve()
    window = reconcile_window(
        target.client("cloudwatch"),
        target.client("dynamodb"),
        target.require(output_keys.TABLE_NAME),
        target.config.metrics_namespace,
        start,
        end,
        progress_stream=progress_stream,
    )
    window.whereabouts = _whereabouts(target, [])
    return window


def _whereabouts(target: Target, missing: list[str]) -> Whereabouts:
    return locate(
        missing,
        target.client("sqs"),
        target.client("s3"),
        target.require(output_keys.QUEUE_URL),
        target.require(output_keys.DEAD_LETTER_QUEUE_URL),
        target.require(output_keys.ARCHIVE_BUCKET),
    )
