"""The metric catalog: every signal the dashboards, the alarms and the local metrics publisher watch, named once.

A `Metric` is one CloudWatch series (namespace, name, dimensions, statistic, period, unit); an `Expression` is
metric math over catalog metrics. Dimension values are literal names derived from the configuration: the
template sets every FunctionName, QueueName, TableName and the RestApi's Name explicitly, so the same strings
are right in CloudFormation, on AWS and in the local runtime — nothing to resolve.

`build_catalog(config)` returns the `Catalog`; `catalog.metrics()` lists every raw metric (what a publisher
must produce), `catalog[signal_id]` gives one signal, `signal.queries()` its GetMetricData/PutMetricAlarm
`Metrics` entries. Every id is a valid metric-math id, unique in the catalog.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from core.config import Config
from core.slo import budget_percent, span, windows_used
from functions.common import metric_names
from functions.ingest.reasons import REJECTION_REASONS

API = "AWS/ApiGateway"
LAMBDA = "AWS/Lambda"
SQS = "AWS/SQS"
DYNAMODB = "AWS/DynamoDB"
SNS = "AWS/SNS"
# The consumer writes with BatchWriteItem only; DynamoDB's per-request metrics carry the Operation.
TABLE_WRITE_OPERATION = "BatchWriteItem"
# What the notifier publishes about low-tier messages (forwarded at once, held outside business hours, sent in a
# digest): no dashboard draws them and no alarm reads them (the notifier's Lambda errors page), but they are billed.
NOTIFIER_METRICS = (
    metric_names.NOTIFICATIONS_FORWARDED,
    metric_names.NOTIFICATIONS_HELD,
    metric_names.NOTIFICATIONS_DIGESTED,
)
# The analytics store's metrics (published only when `sinks` holds "s3"), by signal id.
ANALYTICS_STORE_METRICS = {
    "analytics_objects_written": metric_names.ANALYTICS_OBJECTS_WRITTEN,
    "analytics_sink_errors": metric_names.ANALYTICS_SINK_ERRORS,
}
# End-to-end reconciliation compares sums over this many periods: events in flight blur only the edges.
RECONCILIATION_PERIODS = 15

Dimensions = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Metric:
    """One CloudWatch metric, read with one statistic over one period."""

    id: str
    namespace: str
    name: str
    dimensions: Dimensions
    stat: str  # Sum, Average, Maximum, SampleCount, Minimum or a percentile such as p99
    period: int
    unit: str
    label: str
    capacity: float | None = None  # the configured limit this signal is measured against, if any

    @property
    def inputs(self) -> tuple[Metric, ...]:
        return (self,)

    def metric_stat(self) -> dict[str, Any]:
        return {
            "Metric": {
                "Namespace": self.namespace,
                "MetricName": self.name,
                "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions],
            },
            "Period": self.period,
            "Stat": self.stat,
        }

    def queries(self) -> list[dict[str, Any]]:
        """MetricDataQuery entries (GetMetricData, PutMetricAlarm `Metrics`)."""
        return [{"Id": self.id, "MetricStat": self.metric_stat(), "Label": self.label, "ReturnData": True}]


@dataclass(frozen=True)
class Expression:
    """Metric math over catalog metrics, written with their ids."""

    id: str
    expression: str
    inputs: tuple[Metric, ...]
    unit: str
    label: str
    capacity: float | None = None

    @property
    def period(self) -> int:
        return self.inputs[0].period

    def queries(self) -> list[dict[str, Any]]:
        hidden = [{**query, "ReturnData": False} for metric in self.inputs for query in metric.queries()]
        return [*hidden, {"Id": self.id, "Expression": self.expression, "Label": self.label, "ReturnData": True}]


Signal = Metric | Expression


@dataclass(frozen=True)
class Catalog:
    signals: Mapping[str, Signal]  # in pipeline order

    def __getitem__(self, signal_id: str) -> Signal:
        return self.signals[signal_id]

    def __iter__(self) -> Iterator[Signal]:
        return iter(self.signals.values())

    def metrics(self) -> tuple[Metric, ...]:
        """Every raw metric, the inputs of expressions included, each once."""
        seen: dict[str, Metric] = {}
        for signal in self.signals.values():
            for metric in signal.inputs:
                seen.setdefault(metric.id, metric)
        return tuple(seen.values())


def build_catalog(config: Config) -> Catalog:
    period = config.monitoring.period_seconds
    signals: list[Signal] = [
        *_api(config, period),
        *_availability(config),
        *_function(config, "ingest", period),
        *_ingest_events(config, period),
        *_queue(config, period),
        *_enqueue_gap_window(config, period),
        *_function(config, "consumer", period),
        *_consumer_events(config, period),
        *_table(config, period),
        *_dead_letters(config, period),
        *_function(config, "archiver", period),
        *_reconciliation(config, period),
        *_function(config, "notifier", period),
        *_failures(config, period),
        *_function(config, "canary", period),
        *_canary(config, period),
        *_function(config, "retrier", period),
        *_retrier_events(config, period),
    ]
    by_id: dict[str, Signal] = {}
    for signal in signals:
        if signal.id in by_id:
            raise ValueError(f"duplicate catalog id {signal.id!r}")  # a bug in this module
        by_id[signal.id] = signal
    return Catalog(MappingProxyType(by_id))


def _percentiles(base: Metric, percentiles: tuple[int, ...]) -> list[Metric]:
    return [
        dataclasses.replace(base, id=f"{base.id}_p{p}", stat=f"p{p}", label=f"{base.label} p{p}") for p in percentiles
    ]


def _error_rate(signal_id: str, errors: Metric, count: Metric, minimum: int, label: str) -> Expression:
    """errors as a percentage of requests, 0 in a period with fewer than `minimum` requests: a handful of
    requests says nothing about the rate (1 error in 3 is not 33 %), so the rate alarms never page on one."""
    expression = f"IF({count.id} >= {minimum}, 100 * {errors.id} / {count.id}, 0)"
    return Expression(signal_id, expression, (errors, count), "Percent", f"{label} (periods ≥ {minimum} requests)")


def _api(config: Config, period: int) -> list[Signal]:
    dimensions = (("ApiName", config.resource_name("api")), ("Stage", config.api.stage_name))

    def metric(signal_id: str, name: str, stat: str, unit: str, label: str, **extra: Any) -> Metric:
        return Metric(signal_id, API, name, dimensions, stat, period, unit, label, **extra)

    count = _api_count(config, period)
    client_errors = metric("api_4xx", "4XXError", "Sum", "Count", "4XX responses")
    server_errors = metric("api_5xx", "5XXError", "Sum", "Count", "5XX responses")
    latency = metric("api_latency", "Latency", "p99", "Milliseconds", "Latency")
    minimum = config.monitoring.min_requests_per_period
    integration = metric("api_integration_latency", "IntegrationLatency", "p99", "Milliseconds", "Integration latency")
    return [
        count,
        client_errors,
        server_errors,
        _error_rate("api_4xx_rate", client_errors, count, minimum, "4XX rate"),
        _error_rate("api_5xx_rate", server_errors, count, minimum, "5XX rate"),
        *_percentiles(latency, (50, 90, 99)),
        *_percentiles(integration, (50, 90, 99)),
    ]


BURN_RATE_PREFIX = "burn_rate_w"


def burn_rate_id(window_seconds: int) -> str:
    return f"{BURN_RATE_PREFIX}{window_seconds}"


BUDGET_REMAINING = "error_budget_remaining"


def _availability(config: Config) -> list[Signal]:
    """The availability objective (core.slo): requests and server errors summed over each burn-rate
    window (one period of the window's length: CloudWatch alarms slide it, evaluating every minute), the burn
    rate over it, and the error budget left over the SLO window. A window with fewer than
    monitoring.min_requests_per_period requests burns nothing, as the 5XX-rate alarm counts no such period."""
    monitoring = config.monitoring
    dimensions = (("ApiName", config.resource_name("api")), ("Stage", config.api.stage_name))
    budget, minimum = budget_percent(monitoring), monitoring.min_requests_per_period

    def window(seconds: int) -> tuple[Metric, Metric]:
        if seconds == monitoring.period_seconds:  # one period: the API's own metrics (locally the fast burn's)
            return (
                Metric("api_5xx", API, "5XXError", dimensions, "Sum", seconds, "Count", "5XX responses"),
                _api_count(config, seconds),
            )
        over = f"over {span(seconds)}"
        return (
            Metric(f"api_5xx_w{seconds}", API, "5XXError", dimensions, "Sum", seconds, "Count", f"5XX {over}"),
            Metric(f"api_count_w{seconds}", API, "Count", dimensions, "Sum", seconds, "Count", f"Requests {over}"),
        )

    signals: list[Signal] = []
    for seconds in windows_used(monitoring):
        errors, count = window(seconds)
        share = f"100 * {errors.id} / {count.id}"
        if seconds != monitoring.period_seconds:  # else already in the API's signals
            signals += [errors, count]
        signals += [
            Expression(
                burn_rate_id(seconds),
                f"IF({count.id} >= {minimum}, {share} / {budget:g}, 0)",
                (errors, count),
                "None",
                f"Burn rate over {span(seconds)} (× the budget's pace)",
            ),
        ]
    errors, count = window(monitoring.slo_window_seconds)
    signals += [
        errors,
        count,
        Expression(
            BUDGET_REMAINING,
            f"IF({count.id} >= {minimum}, 100 - 100 * (100 * {errors.id} / {count.id}) / {budget:g}, 100)",
            (errors, count),
            "Percent",
            f"Error budget left ({monitoring.availability_slo_percent:g} % over {span(monitoring.slo_window_seconds)})",
        ),
    ]
    return signals


def _api_count(config: Config, period: int) -> Metric:
    dimensions = (("ApiName", config.resource_name("api")), ("Stage", config.api.stage_name))
    # The usage plan's rate is the most a client may send: requests per period at that rate.
    capacity = float(config.api.rate_limit * period)
    return Metric("api_count", API, "Count", dimensions, "Sum", period, "Count", "Requests", capacity=capacity)


def _function(config: Config, name: str, period: int) -> list[Signal]:
    settings = config.functions[name]
    dimensions = (("FunctionName", config.resource_name(name)),)

    def metric(suffix: str, metric_name: str, stat: str, unit: str, label: str, **extra: Any) -> Metric:
        return Metric(f"{name}_{suffix}", LAMBDA, metric_name, dimensions, stat, period, unit, label, **extra)

    return [
        metric("invocations", "Invocations", "Sum", "Count", f"{name} invocations"),
        metric("errors", "Errors", "Sum", "Count", f"{name} errors"),
        metric("throttles", "Throttles", "Sum", "Count", f"{name} throttles"),
        metric(
            "duration_p99",
            "Duration",
            "p99",
            "Milliseconds",
            f"{name} duration p99",
            capacity=float(settings.timeout_seconds * 1000),
        ),
        metric(
            "concurrency",
            "ConcurrentExecutions",
            "Maximum",
            "Count",
            f"{name} concurrent executions",
            capacity=float(settings.reserved_concurrency),
        ),
    ]


def _ours(
    config: Config, signal_id: str, name: str, service: str, period: int, unit: str = "Count", stat: str = "Sum"
) -> Metric:
    """One of our EMF metrics: Powertools adds the `service` dimension."""
    label = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).capitalize()
    return Metric(
        signal_id,
        config.metrics_namespace,
        name,
        ((metric_names.SERVICE_DIMENSION, service),),
        stat,
        period,
        unit,
        label,
    )


def _accepted(config: Config, period: int) -> Metric:
    return _ours(config, "events_accepted", metric_names.EVENTS_ACCEPTED, "ingest", period)


def _ingest_events(config: Config, period: int) -> list[Signal]:
    rejected = [
        Metric(
            f"rejected_{reason}",
            config.metrics_namespace,
            metric_names.EVENTS_REJECTED,
            ((metric_names.REASON_DIMENSION, reason), (metric_names.SERVICE_DIMENSION, "ingest")),
            "Sum",
            period,
            "Count",
            f"rejected: {reason}",
        )
        for reason in REJECTION_REASONS
    ]
    return [
        _accepted(config, period),
        _ours(config, "bytes_accepted", metric_names.BYTES_ACCEPTED, "ingest", period, unit="Bytes"),
        *rejected,
        Expression(
            "events_rejected",
            " + ".join(f"FILL({metric.id}, 0)" for metric in rejected),
            tuple(rejected),
            "Count",
            "Events rejected",
        ),
    ]


_SQS_LABELS = {
    "NumberOfMessagesSent": "messages sent",
    "NumberOfMessagesReceived": "messages received",
    "NumberOfMessagesDeleted": "messages deleted",
    "ApproximateNumberOfMessagesVisible": "messages visible",
    "ApproximateNumberOfMessagesNotVisible": "messages in flight",
    "ApproximateAgeOfOldestMessage": "oldest message age",
}


def _sqs(config: Config, signal_id: str, queue: str, name: str, period: int, **extra: Any) -> Metric:
    """An SQS metric: counters as Sum; depth and age as Maximum (the worst sample in the period)."""
    stat = "Sum" if name.startswith("NumberOf") else "Maximum"
    unit = "Seconds" if name == "ApproximateAgeOfOldestMessage" else "Count"
    label = f"{queue} queue: {_SQS_LABELS[name]}"
    return Metric(
        signal_id, SQS, name, (("QueueName", config.resource_name(queue)),), stat, period, unit, label, **extra
    )


def _queue(config: Config, period: int) -> list[Signal]:
    sent = _sqs(config, "queue_sent", "ingest", "NumberOfMessagesSent", period)
    received = _sqs(config, "queue_received", "ingest", "NumberOfMessagesReceived", period)
    deleted = _sqs(config, "queue_deleted", "ingest", "NumberOfMessagesDeleted", period)
    visible = _sqs(config, "queue_visible", "ingest", "ApproximateNumberOfMessagesVisible", period)
    # Received and not yet deleted. At SQS's cap a long poll returns nothing: the queue stalls. The consumer keeps it
    # at most a round of batches (it parks what it cannot store instead of holding it in flight).
    in_flight = _sqs(
        config,
        "queue_in_flight",
        "ingest",
        "ApproximateNumberOfMessagesNotVisible",
        period,
        capacity=float(config.queue.in_flight_limit),
    )
    # A message older than the retention period is deleted, not dead-lettered.
    retention = float(config.queue.retention_seconds)
    age = _sqs(config, "queue_age", "ingest", "ApproximateAgeOfOldestMessage", period, capacity=retention)
    accepted = _accepted(config, period)
    return [
        sent,
        received,
        deleted,
        visible,
        in_flight,
        age,
        # 1 in a period when messages were visible and nobody received any: the mapping does not poll (disabled
        # or stuck) — or the queue is at its in-flight cap. Retrying is not this: the consumer keeps receiving while
        # the store fails (it parks what it cannot store), and a visible message is received within a batching
        # window and an invocation by a mapping that polls.
        Expression(
            "queue_unpolled",
            "(FILL(queue_visible, 0) > 0) * (FILL(queue_received, 0) == 0)",
            (visible, received),
            "Count",
            "Visible messages, none received",
        ),
        # Seconds to empty the backlog at the current delete rate (no value while nothing is deleted).
        Expression(
            "queue_drain_seconds",
            f"queue_visible / (queue_deleted / {period})",
            (visible, deleted),
            "Seconds",
            "Time to drain",
        ),
        # Events the API accepted that never reached the queue: must stay at zero. The retrier's pointers to parked
        # objects are sends of no accepted event: without them, a pointer a period would hide a lost event a period.
        Expression(
            "enqueue_gap",
            f"FILL(events_accepted, 0) - (FILL(queue_sent, 0) - FILL({POINTERS_SENT}, 0))",
            (accepted, sent, _pointers_sent(config, POINTERS_SENT, period)),
            "Count",
            "Accepted but not enqueued",
        ),
    ]


POINTERS_SENT = "parked_objects_sent"  # the same series as the Retries row's


def _pointers_sent(config: Config, signal_id: str, period: int) -> Metric:
    """The retrier's pointers to parked objects: messages on the ingest queue that carry no accepted event."""
    return _ours(config, signal_id, metric_names.PARKED_OBJECTS_SENT, "retrier", period)


def _enqueue_gap_window(config: Config, period: int) -> list[Signal]:
    """The enqueue gap over a window of `monitoring.evaluation_periods` periods, as a share of the events accepted
    in it: loss in some periods only, which the per-period enqueue_gap (every period must show it) misses.
    Counted only in windows with at least min_requests_per_period events per period: one request's events in flight
    across the window's edge would be a large share of a handful."""
    window = period * config.monitoring.evaluation_periods
    accepted = _ours(config, "accepted_gap_window", metric_names.EVENTS_ACCEPTED, "ingest", window)
    sent = _sqs(config, "sent_gap_window", "ingest", "NumberOfMessagesSent", window)
    pointers = _pointers_sent(config, "pointers_sent_gap_window", window)
    minimum = config.monitoring.min_requests_per_period * config.monitoring.evaluation_periods
    gap = "(FILL(accepted_gap_window, 0) - (FILL(sent_gap_window, 0) - FILL(pointers_sent_gap_window, 0)))"
    return [
        accepted,
        sent,
        pointers,
        Expression(
            "enqueue_gap_window_percent",
            f"IF(accepted_gap_window >= {minimum}, 100 * {gap} / accepted_gap_window, 0)",
            (accepted, sent, pointers),
            "Percent",
            f"Accepted but not enqueued over {window} s (windows ≥ {minimum} events)",
        ),
    ]


def _consumer_events(config: Config, period: int) -> list[Signal]:
    return [
        _ours(config, "events_stored", metric_names.EVENTS_STORED, "consumer", period),
        _ours(config, "write_retries", metric_names.WRITE_RETRIES, "consumer", period),
        _ours(config, "ingest_lag_p99", metric_names.INGEST_LAG, "consumer", period, unit="Milliseconds", stat="p99"),
        # Events the consumer parked in S3 because the store did not take them (a record counts each time it is
        # parked), whether its circuit breaker is open (1: the store is spared until the next probe), and the poison
        # and spent events it sent straight to the DLQ.
        _ours(config, "events_waiting_on_retry", metric_names.EVENTS_WAITING_ON_RETRY, "consumer", period),
        _ours(config, "breaker_open", metric_names.BREAKER_OPEN, "consumer", period, stat="Maximum"),
        _ours(config, "records_received", metric_names.RECORDS_RECEIVED, "consumer", period),
        # The share of the batches' records the consumer parked (Lambda's Errors never counts them), in periods
        # with at least min_requests_per_period records: one record of two failing is not half of everything.
        Expression(
            "records_failed_percent",
            f"IF(records_received >= {config.monitoring.min_requests_per_period}, "
            "100 * FILL(events_waiting_on_retry, 0) / records_received, 0)",
            (
                _ours(config, "events_waiting_on_retry", metric_names.EVENTS_WAITING_ON_RETRY, "consumer", period),
                _ours(config, "records_received", metric_names.RECORDS_RECEIVED, "consumer", period),
            ),
            "Percent",
            "Records parked to retry (share of records received)",
        ),
        _ours(config, "events_dead_lettered", metric_names.EVENTS_DEAD_LETTERED, "consumer", period),
        # The analytics store (sinks holds "s3"): objects written, and events it failed to write (they come
        # back to the queue like a database failure). Zero, not missing, is only published when the sink is on.
        *(_ours(config, signal_id, name, "consumer", period) for signal_id, name in ANALYTICS_STORE_METRICS.items()),
    ]


def _retrier_events(config: Config, period: int) -> list[Signal]:
    """What waits parked, and where it goes: the retrier's counts each run (functions/retrier/app.py), and the
    consumer's as it handles the pointers."""
    window = float(config.queue.retry_window_seconds)
    return [
        _ours(config, "parked_objects", metric_names.PARKED_OBJECTS, "retrier", period, stat="Maximum"),
        # The oldest parked event's wait: the retry window's clock (at the window's end it is dead-lettered).
        dataclasses.replace(
            _ours(
                config,
                "oldest_retry_age",
                metric_names.OLDEST_RETRY_AGE,
                "retrier",
                period,
                unit="Seconds",
                stat="Maximum",
            ),
            capacity=window,
        ),
        _ours(config, "parked_objects_sent", metric_names.PARKED_OBJECTS_SENT, "retrier", period),
        # the consumer's side: events it read back from parked objects, and those it dead-lettered because their
        # retry window was spent while the store still failed
        _ours(config, "events_unparked", metric_names.EVENTS_UNPARKED, "consumer", period),
        _ours(config, "events_window_spent", metric_names.EVENTS_WINDOW_SPENT, "consumer", period),
    ]


def _table(config: Config, period: int) -> list[Signal]:
    """DynamoDB's metrics: UserErrors for the account (the idempotency and notification tables answer there too),
    and the events table's own only when `sinks` holds "dynamodb" (an S3-only environment has no such table)."""
    # UserErrors has no dimensions: AWS counts it per account and region, for every table.
    user_errors = Metric(
        "ddb_user_errors", DYNAMODB, "UserErrors", (), "Sum", period, "Count", "User errors (account-wide)"
    )
    account = Expression(
        "table_user_errors", "FILL(ddb_user_errors, 0)", (user_errors,), "Count", "User errors (account-wide)"
    )
    if "dynamodb" not in config.sinks:
        return [user_errors, account]
    table = (("TableName", config.resource_name("events")),)
    per_operation = (*table, ("Operation", TABLE_WRITE_OPERATION))
    system_errors = Metric(
        "ddb_system_errors", DYNAMODB, "SystemErrors", per_operation, "Sum", period, "Count", "System errors"
    )
    throttled = Metric(
        "ddb_throttled_requests", DYNAMODB, "ThrottledRequests", per_operation, "Sum", period, "Count",
        "Throttled requests",
    )  # fmt: skip
    # A BatchWriteItem counts as throttled only when every item is; partly throttled batches show here.
    write_throttles = Metric(
        "ddb_write_throttle_events", DYNAMODB, "WriteThrottleEvents", table, "Sum", period, "Count",
        "Write throttle events",
    )  # fmt: skip
    consumed = Metric(
        "ddb_consumed_wcu", DYNAMODB, "ConsumedWriteCapacityUnits", table, "Sum", period, "Count", "Consumed WCU"
    )
    latency = Metric(
        "ddb_write_latency", DYNAMODB, "SuccessfulRequestLatency", per_operation, "Average", period, "Milliseconds",
        "BatchWriteItem latency (average)",
    )  # fmt: skip
    provisioned = config.table.billing == "provisioned"
    # Alarms read the FILL()ed expressions: CloudWatch ignores missing data for AWS/DynamoDB metrics, so
    # an alarm on the raw metric would stay in ALARM after the errors stop being reported.
    return [
        user_errors,
        system_errors,
        throttled,
        write_throttles,
        consumed,
        latency,
        account,
        Expression("table_system_errors", "FILL(ddb_system_errors, 0)", (system_errors,), "Count", "System errors"),
        Expression(
            "table_throttles",
            "FILL(ddb_throttled_requests, 0) + FILL(ddb_write_throttle_events, 0)",
            (throttled, write_throttles),
            "Count",
            "Throttled writes",
        ),
        Expression(
            "table_wcu_per_second",
            f"ddb_consumed_wcu / {period}",
            (consumed,),
            "Count/Second",
            "Consumed WCU per second",
            capacity=float(config.table.max_write_capacity) if provisioned else None,
        ),
    ]


def _dead_letters(config: Config, period: int) -> list[Signal]:
    retention = float(config.queue.dlq_retention_seconds)
    visible = _sqs(config, "dlq_visible", "dead-letter", "ApproximateNumberOfMessagesVisible", period)
    in_flight = _sqs(config, "dlq_in_flight", "dead-letter", "ApproximateNumberOfMessagesNotVisible", period)
    age = _sqs(config, "dlq_age", "dead-letter", "ApproximateAgeOfOldestMessage", period, capacity=retention)
    archived = _ours(config, "events_archived", metric_names.EVENTS_ARCHIVED, "archiver", period)
    return [
        visible,
        in_flight,
        # Dead letters not archived yet. The archiver polls the DLQ, so a dead letter is visible for moments
        # only; an archiver that fails (S3 down, a bad bucket policy) holds its batch in flight for the
        # DLQ's visibility timeout, again and again, and the visible count stays at zero meanwhile.
        Expression(
            "dlq_messages",
            "FILL(dlq_visible, 0) + FILL(dlq_in_flight, 0)",
            (visible, in_flight),
            "Count",
            "Dead letters not archived yet",
        ),
        age,
        archived,
    ]


def _reconciliation(config: Config, period: int) -> list[Signal]:
    window = period * RECONCILIATION_PERIODS

    inputs = (
        _ours(config, "accepted_window", metric_names.EVENTS_ACCEPTED, "ingest", window),
        _ours(config, "stored_window", metric_names.EVENTS_STORED, "consumer", window),
        _ours(config, "archived_window", metric_names.EVENTS_ARCHIVED, "archiver", window),
    )
    # Redeliveries and replays store an event again, so stored + archived may exceed accepted; a
    # persistent positive gap is events that went nowhere.
    return [
        *inputs,
        Expression(
            "pipeline_gap",
            "FILL(accepted_window, 0) - FILL(stored_window, 0) - FILL(archived_window, 0)",
            inputs,
            "Count",
            "Accepted − (stored + archived)",
        ),
    ]


def _failures(config: Config, period: int) -> list[Signal]:
    return [
        _sqs(config, "failures_visible", "failures", "ApproximateNumberOfMessagesVisible", period),
        # Deliveries SNS gave up on, on the topics people subscribe to: the high topic (pages) and the notify topic
        # (the notifier's low-tier messages). The local stack delivers to no person and publishes none.
        *(_sns_failed(config, topic, period) for topic in ("high", "notify")),
    ]


def _sns_failed(config: Config, topic: str, period: int) -> Metric:
    return Metric(
        f"sns_{topic}_failed",
        SNS,
        "NumberOfNotificationsFailed",
        (("TopicName", config.resource_name(topic)),),
        "Sum",
        period,
        "Count",
        f"{topic} topic: notifications failed",
    )


def _canary(config: Config, period: int) -> list[Signal]:
    """The end-to-end canary's results, and the business counts without its events (dashboards show clients)."""
    end_to_end = _ours(
        config, "canary_end_to_end", metric_names.CANARY_END_TO_END, "canary", period, unit="Milliseconds"
    )
    api = _ours(config, "canary_api_latency", metric_names.CANARY_API_LATENCY, "canary", period, unit="Milliseconds")
    # Any successful run in a period makes the period a success: a failing period is one with none.
    success = dataclasses.replace(
        _ours(config, "canary_success", metric_names.CANARY_SUCCESS, "canary", period, stat="Maximum"),
        label="Canary succeeded (any run in the period)",
    )
    canary_accepted = _ours(config, "canary_accepted", metric_names.CANARY_ACCEPTED, "canary", period)
    canary_stored = dataclasses.replace(
        _ours(config, "canary_stored", metric_names.CANARY_SUCCESS, "canary", period), label="Canary events stored"
    )
    accepted = _accepted(config, period)
    stored = _ours(config, "events_stored", metric_names.EVENTS_STORED, "consumer", period)
    requests = _ours(config, "canary_requests", metric_names.CANARY_REQUESTS, "canary", period)
    clients = "(api_count - FILL(canary_requests, 0))"
    return [
        success,
        requests,
        # The clients' requests, with no value in a period without any (x * x / x: a division by zero has no
        # value), so that idle periods, which the canary fills with its own requests, do not teach the request
        # anomaly band that "no traffic" is normal.
        Expression(
            "client_requests",
            f"{clients} * {clients} / {clients}",
            (_api_count(config, period), requests),
            "Count",
            "Client requests (canary excluded)",
        ),
        # The same with zero in a period without any: what the traffic-stopped band compares (no request at all
        # is the point there, and no value would be missing data, never a breach).
        Expression(
            "client_traffic",
            "FILL(api_count, 0) - FILL(canary_requests, 0)",
            (_api_count(config, period), requests),
            "Count",
            "Client requests, zero when none",
        ),
        canary_accepted,
        canary_stored,
        *_percentiles(dataclasses.replace(end_to_end, label="Canary accepted → readable"), (50, 99)),
        *_percentiles(dataclasses.replace(api, label="Canary API latency"), (50, 99)),
        Expression(
            "client_events_accepted",
            "FILL(events_accepted, 0) - FILL(canary_accepted, 0)",
            (accepted, canary_accepted),
            "Count",
            "Client events accepted",
        ),
        Expression(
            "client_events_stored",
            "FILL(events_stored, 0) - FILL(canary_stored, 0)",
            (stored, canary_stored),
            "Count",
            "Client events stored",
        ),
    ]
