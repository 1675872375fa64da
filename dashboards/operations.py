"""The operations dashboard: one row per pipeline stage, in the order an event travels, each graph titled by
the question it answers; alarm status on top and the runbook links at the bottom."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dashboards.catalog import BUDGET_REMAINING, BURN_RATE_PREFIX, REJECTION_REASONS, Catalog
from dashboards.layout import (
    ALARM_STATUS_HEIGHT,
    FULL_WIDTH,
    GRAPH_HEIGHT,
    HEADER_HEIGHT,
    QUARTER_WIDTH,
    THIRD_WIDTH,
    AlarmView,
    Grid,
    alarm_status,
    body,
    graph,
    runbook_markdown,
    text,
    text_height,
)


@dataclass(frozen=True)
class Stage:
    header: str
    graphs: tuple[tuple[str, tuple[str, ...]], ...]  # (question, catalog ids)


REJECTIONS = tuple(f"rejected_{reason}" for reason in REJECTION_REASONS)
_STAGES = (
    (
        "API: is the front door open?",
        (
            ("Are requests arriving as usual?", ("api_count", "client_requests", "client_traffic")),
            ("Are clients getting errors?", ("api_4xx_rate", "api_5xx_rate")),
            ("How many requests fail?", ("api_4xx", "api_5xx")),
            ("How long do clients wait?", ("api_latency_p50", "api_latency_p90", "api_latency_p99")),
            (
                "How long does the ingest integration take?",
                ("api_integration_latency_p50", "api_integration_latency_p90", "api_integration_latency_p99"),
            ),
        ),
    ),
    (
        "Ingest: are events accepted and enqueued?",
        (
            ("Are events accepted or rejected?", ("events_accepted", "events_rejected")),
            ("Why are events rejected?", REJECTIONS),
            ("Is every accepted event enqueued?", ("events_accepted", "queue_sent", "enqueue_gap")),
            (
                "Is every accepted event enqueued, over a window?",
                ("accepted_gap_window", "sent_gap_window", "enqueue_gap_window_percent"),
            ),
            ("How much data arrives?", ("bytes_accepted",)),
            ("Is the ingest function failing?", ("ingest_invocations", "ingest_errors", "ingest_throttles")),
            ("Is ingest close to its timeout?", ("ingest_duration_p99",)),
            ("Is ingest close to its concurrency?", ("ingest_concurrency",)),
        ),
    ),
    (
        "Queue: is the buffer draining?",
        (
            ("Is the consumer keeping up with arrivals?", ("queue_sent", "queue_deleted")),
            ("Is a backlog building?", ("queue_visible",)),
            ("How close is the queue to its in-flight cap?", ("queue_in_flight",)),
            ("How long has the oldest event waited?", ("queue_age",)),
            ("How long until the backlog is gone?", ("queue_drain_seconds",)),
            ("Does anyone receive the visible messages?", ("queue_visible", "queue_received", "queue_unpolled")),
        ),
    ),
    (
        "Consumer: are events written?",
        (
            ("Is the consumer failing?", ("consumer_invocations", "consumer_errors", "consumer_throttles")),
            ("Is the consumer close to its timeout?", ("consumer_duration_p99",)),
            ("Is the consumer close to its concurrency?", ("consumer_concurrency",)),
            ("Are events stored, and do writes need retries?", ("events_stored", "write_retries")),
            ("How long from accepted to stored?", ("ingest_lag_p99",)),
            ("Are events parked to retry (the store in trouble)?", ("events_waiting_on_retry",)),
            ("Is the circuit breaker open (the store spared)?", ("breaker_open",)),
            (
                "What share of the records fails?",
                ("records_received", "events_waiting_on_retry", "records_failed_percent"),
            ),
            ("Is poison sent straight to the DLQ?", ("events_dead_lettered",)),
            (
                "Does the S3 analytics store take the batches (when sinks holds s3)?",
                ("analytics_objects_written", "analytics_sink_errors"),
            ),
        ),
    ),
    (
        "Retries: what waits parked, and where does it go?",
        (
            ("How much waits parked?", ("parked_objects",)),
            ("How close is the oldest parked event to the DLQ?", ("oldest_retry_age",)),
            ("Do parked events go back once the store answers?", ("parked_objects_sent", "events_unparked")),
            ("Are events dead-lettered because their retry window was spent?", ("events_window_spent",)),
            ("Is the retrier failing?", ("retrier_invocations", "retrier_errors", "retrier_throttles")),
            ("Is the retrier close to its limits?", ("retrier_duration_p99", "retrier_concurrency")),
        ),
    ),
    (
        "Table: does DynamoDB take the writes?",
        (
            ("Is DynamoDB failing our requests?", ("table_system_errors", "table_user_errors")),
            ("Are writes throttled?", ("ddb_throttled_requests", "ddb_write_throttle_events", "table_throttles")),
            ("Is write capacity enough?", ("table_wcu_per_second",)),
            ("How fast are writes?", ("ddb_write_latency",)),
            (
                "What do the raw DynamoDB counters say (missing when zero)?",
                ("ddb_system_errors", "ddb_user_errors", "ddb_consumed_wcu"),
            ),
        ),
    ),
    (
        "Dead letters and archive: is anything lost?",
        (
            ("Are events dead-lettered?", ("dlq_messages", "dlq_visible", "dlq_in_flight", "events_archived")),
            ("How old is the oldest dead letter?", ("dlq_age",)),
            ("Is the archiver failing?", ("archiver_invocations", "archiver_errors", "archiver_throttles")),
            ("Is the archiver close to its limits?", ("archiver_duration_p99", "archiver_concurrency")),
            (
                "Does every accepted event end up stored or archived?",
                ("accepted_window", "stored_window", "archived_window", "pipeline_gap"),
            ),
        ),
    ),
    (
        "Notifications: do alarms reach people?",
        (
            ("Is the notifier failing?", ("notifier_invocations", "notifier_errors", "notifier_throttles")),
            ("Is the notifier close to its limits?", ("notifier_duration_p99", "notifier_concurrency")),
            ("Are notifications undeliverable?", ("failures_visible", "sns_high_failed", "sns_notify_failed")),
        ),
    ),
    (
        "Canary: does an event go in and come out?",
        (
            ("Does the canary get through?", ("canary_success", "canary_requests", "canary_accepted", "canary_stored")),
            ("How long from accepted to readable?", ("canary_end_to_end_p50", "canary_end_to_end_p99")),
            ("How long does the canary's request take?", ("canary_api_latency_p50", "canary_api_latency_p99")),
            ("Is the canary itself failing?", ("canary_invocations", "canary_errors", "canary_throttles")),
            ("Is the canary close to its limits?", ("canary_duration_p99", "canary_concurrency")),
            ("What do clients send (canary excluded)?", ("client_events_accepted", "client_events_stored")),
        ),
    ),
)
STAGES = tuple(Stage(header, graphs) for header, graphs in _STAGES)  # in pipeline order


def _error_budget_stage(grid: Grid, catalog: Catalog, alarms: Sequence[AlarmView]) -> None:
    """The availability objective: budget left, how fast each burn-rate window spends it (the alarms' thresholds
    drawn), and the requests and server errors each window sums. Its windows come from the configuration."""
    burn = [signal for signal in catalog if signal.id.startswith(BURN_RATE_PREFIX)]
    sums = [metric for signal in burn for metric in signal.inputs if metric.period != catalog["api_count"].period]
    grid.add(text("### Error budget: is the availability objective kept?"), FULL_WIDTH, HEADER_HEIGHT)
    grid.add(graph("How much of the error budget is left?", [catalog[BUDGET_REMAINING]]), THIRD_WIDTH, GRAPH_HEIGHT)
    grid.add(graph("How fast is the error budget burning?", burn, alarms), THIRD_WIDTH, GRAPH_HEIGHT)
    by_id = {metric.id: metric for metric in [*sums, *catalog[BUDGET_REMAINING].inputs]}
    grid.add(graph("How many requests and 5XX in each window?", list(by_id.values())), THIRD_WIDTH, GRAPH_HEIGHT)


def operations_body(catalog: Catalog, alarms: Sequence[AlarmView], period: int) -> dict[str, Any]:
    grid = Grid()
    grid.add(alarm_status("Which alarms are firing?", alarms), FULL_WIDTH, ALARM_STATUS_HEIGHT)
    for stage in STAGES:
        grid.new_row()
        grid.add(text(f"### {stage.header}"), FULL_WIDTH, HEADER_HEIGHT)
        width = QUARTER_WIDTH if len(stage.graphs) >= 4 else THIRD_WIDTH
        for question, ids in stage.graphs:
            grid.add(graph(question, [catalog[signal_id] for signal_id in ids], alarms), width, GRAPH_HEIGHT)
    grid.new_row()
    _error_budget_stage(grid, catalog, alarms)
    grid.new_row()
    markdown = runbook_markdown(alarms)
    grid.add(text(markdown), FULL_WIDTH, text_height(markdown))
    return body(grid, period)
