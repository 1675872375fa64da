"""The operations dashboard: one row per pipeline stage, in the order an event travels, each graph titled by
the question it answers; alarm status on top and the runbook links at the bottom."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.slo import span
from dashboards.catalog import BUDGET_REMAINING, Catalog
from dashboards.error_budget import add_error_budget_row, burn_rates
from dashboards.layout import (
    ALARM_STATUS_HEIGHT,
    FULL_WIDTH,
    GRAPH_HEIGHT,
    HEADER_HEIGHT,
    QUARTER_WIDTH,
    SINGLE_VALUE_HEIGHT,
    THIRD_WIDTH,
    AlarmView,
    Grid,
    alarm_status,
    body,
    graph,
    log_table,
    own_range,
    runbook_markdown,
    text,
    text_height,
)
from functions.common.contract import PRODUCER_ACCEPTED_FIELD, PRODUCER_FIELD, PRODUCER_REJECTED_FIELD
from functions.ingest.reasons import REJECTION_REASONS


@dataclass(frozen=True)
class Stage:
    header: str
    graphs: tuple[tuple[str, tuple[str, ...]], ...]  # (question, catalog ids)


TABLE_STAGE = "Table: does DynamoDB take the writes?"
INGEST_STAGE = "Ingest: are events accepted and enqueued?"
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
        INGEST_STAGE,
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
        TABLE_STAGE,
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
# Without the events table (sinks without "dynamodb") DynamoDB still answers the idempotency and notification
# tables: the account-wide UserErrors is all there is to watch.
ACCOUNT_DYNAMODB_STAGE = Stage(
    "DynamoDB: are requests rejected (account-wide)?",
    (("Does DynamoDB reject requests as invalid?", ("table_user_errors", "ddb_user_errors")),),
)


def stages(events_table: bool) -> tuple[Stage, ...]:
    """The operations dashboard's stages; the table's only when there is an events table."""
    if events_table:
        return STAGES
    return tuple(ACCOUNT_DYNAMODB_STAGE if stage.header == TABLE_STAGE else stage for stage in STAGES)


def _error_budget_stage(grid: Grid, catalog: Catalog, alarms: Sequence[AlarmView]) -> None:
    """The availability objective: budget left over the SLO window and how fast each burn-rate window spends it,
    each tile over its own window (dashboards.error_budget); then the requests and server errors each window sums,
    a tile per window. Its windows come from the configuration."""
    grid.add(text("### Error budget: is the availability objective kept?"), FULL_WIDTH, HEADER_HEIGHT)
    add_error_budget_row(
        grid,
        catalog,
        alarms,
        SINGLE_VALUE_HEIGHT,
        "How much of the error budget is left ({window})?",
        "How fast does the last {window} burn the budget{thresholds}?",
    )
    burn = burn_rates(catalog)
    budget = catalog[BUDGET_REMAINING]
    width = FULL_WIDTH // (1 + len(burn))
    for signal in [budget, *burn]:
        window = own_range(signal.period)
        if window is None:  # a sub-minute window: the API's own metrics, graphed in the API stage
            continue
        question = f"How many requests and 5XX in the last {span(window)}?"
        tile = graph(question, list(signal.inputs), view="singleValue", time_range=window)
        grid.add(tile, width, SINGLE_VALUE_HEIGHT)


WHO_IS_SENDING = "Who is sending? (events per API key id, Logs Insights)"
PRODUCER_ROWS = 50  # the table's longest list: the busiest producers first
PRODUCER_HEIGHT = 8


def who_is_sending(ingest_log_group: str) -> dict[str, Any]:
    """Accepted and rejected events per producer, summed from ingest's EMF records (the key id and the counts are
    properties there, not dimensions: no custom metric per producer). Requests API Gateway refused before ingest
    (403, 429) are not in these records: the API access log has them (docs/producers.md)."""
    return log_table(
        WHO_IS_SENDING,
        [ingest_log_group],
        [
            f"filter ispresent({PRODUCER_FIELD})",
            f"stats sum({PRODUCER_ACCEPTED_FIELD}) as accepted, sum({PRODUCER_REJECTED_FIELD}) as rejected"
            f" by {PRODUCER_FIELD}",
            "sort accepted desc",
            f"limit {PRODUCER_ROWS}",
        ],
    )


REFUSED_AT_GATEWAY = "Refused at the gateway, per API key id (403, 429; API access log, Logs Insights)"
# the access log's fields (cloudformation/api.py ACCESS_LOG_FORMAT; Logs Insights discovers a JSON record's fields)
ACCESS_KEY_FIELD, ACCESS_STATUS_FIELD = "apiKeyId", "status"


def refused_at_gateway(access_log_group: str) -> dict[str, Any]:
    """Requests API Gateway refused before ingest ran (403: no, a disabled or an unknown key; 429: the plan's rate or
    quota, or the stage's throttle), per key id and status, from the API access log: ingest never sees them, so the
    "Who is sending?" table cannot. `status` is logged as a string ("$context.status" in quotes), hence the regex."""
    return log_table(
        REFUSED_AT_GATEWAY,
        [access_log_group],
        [
            f"filter {ACCESS_STATUS_FIELD} like /^(403|429)$/",
            f"stats count(*) as refused by {ACCESS_KEY_FIELD}, {ACCESS_STATUS_FIELD}",
            "sort refused desc",
            f"limit {PRODUCER_ROWS}",
        ],
    )


def operations_body(
    catalog: Catalog,
    alarms: Sequence[AlarmView],
    period: int,
    events_table: bool = True,
    ingest_log_group: str | None = None,
    access_log_group: str | None = None,
) -> dict[str, Any]:
    """`events_table`: whether `sinks` holds "dynamodb" (the events table and its signals exist).
    `ingest_log_group`: the ingest function's log group, queried by the "Who is sending?" table; None: no table.
    `access_log_group`: the API's access log, queried by the "Refused at the gateway" table; None: no table."""
    grid = Grid()
    grid.add(alarm_status("Which alarms are firing?", alarms), FULL_WIDTH, ALARM_STATUS_HEIGHT)
    for stage in stages(events_table):
        grid.new_row()
        grid.add(text(f"### {stage.header}"), FULL_WIDTH, HEADER_HEIGHT)
        width = QUARTER_WIDTH if len(stage.graphs) >= 4 else THIRD_WIDTH
        for question, ids in stage.graphs:
            grid.add(graph(question, [catalog[signal_id] for signal_id in ids], alarms), width, GRAPH_HEIGHT)
        if ingest_log_group is not None and stage.header == INGEST_STAGE:
            grid.new_row()
            grid.add(who_is_sending(ingest_log_group), FULL_WIDTH, PRODUCER_HEIGHT)
        if access_log_group is not None and stage.header == INGEST_STAGE:
            grid.new_row()
            grid.add(refused_at_gateway(access_log_group), FULL_WIDTH, PRODUCER_HEIGHT)
    grid.new_row()
    _error_budget_stage(grid, catalog, alarms)
    grid.new_row()
    markdown = runbook_markdown(alarms)
    grid.add(text(markdown), FULL_WIDTH, text_height(markdown))
    return body(grid, period)
