"""The alarm table: one row per signal we alarm on, thresholds per tier, and the composite built on top.

Rows are grouped by what they watch (errors, latency, capacity, age, loss, dead letters), not by service.
A row with two tiers gives two alarms (`queue-age-low`, `queue-age-high`). Capacity thresholds are
`config.monitoring.capacity_share` of the capacity the catalog measures the signal against (reserved
concurrency, timeouts, usage-plan rate, provisioned writes); age thresholds derive from the retry window.
Period, evaluation periods and datapoints to alarm come from `config.monitoring`. Each row's name is also
its section anchor in the runbook (docs/runbook.md), which a test keeps in step with this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from alarms.stopped_consumer import stopped_consumer_bound
from core.config import Config
from core.slo import burn_windows, span
from dashboards.catalog import Catalog, burn_rate_id

Tier = Literal["low", "high"]
TIERS: tuple[Tier, ...] = ("high", "low")
RUNBOOK = "docs/runbook.md"  # in this repository; links to it start at config.monitoring.runbook_url

GREATER = "GreaterThanThreshold"
LESS = "LessThanThreshold"
OUTSIDE_BAND = "LessThanLowerOrGreaterThanUpperThreshold"
BELOW_BAND = "LessThanLowerThreshold"
NOT_BREACHING = "notBreaching"
MISSING = "missing"

# The canary pages after this many periods in a row without a successful run.
CANARY_FAILING_PERIODS = 3
# enqueue-gap-window pages when more than this share of a window's accepted events never reached the queue: edge
# noise (a request in flight at the window's start or end) stays below it in any window the alarm counts.
ENQUEUE_GAP_WINDOW_PERCENT = 1.0
# consumer-record-failures: the share of a period's records put back to the queue that means "the consumer's path is
# failing for everyone", not a few transient failures (retries-low speaks for any)
RECORD_FAILURE_PERCENT = 50.0
# Width of the request-count anomaly band, in standard deviations of the recent history.
REQUEST_BAND_WIDTH = 3.0


@dataclass(frozen=True)
class AlarmSpec:
    name: str  # the runbook anchor; the alarm is named <stack>-<name>-<tier>
    signal: str  # catalog id of the metric or expression watched
    thresholds: Mapping[Tier, float]  # for an anomaly band: the band's width
    summary: str  # what a breach means, in one line
    comparison: str = GREATER
    missing: str = NOT_BREACHING  # quiet when there is no traffic
    # How many evaluated periods must breach: "m_of_n" takes config.monitoring's datapoints to alarm;
    # "every" is for signals whose single periods are noisy by nature; "any" for events that matter
    # the first time they happen (a message dead-lettered), which a fast archiver may show in one period only.
    breach: Literal["m_of_n", "every", "any"] = "m_of_n"
    periods: int | None = None  # evaluated periods when not config.monitoring's evaluation_periods
    # A low alarm that must not wait for business hours: it goes straight to the low tier's people (the notify
    # topic), past the notifier that holds low-tier notifications overnight.
    at_once: bool = False

    @property
    def is_band(self) -> bool:
        return self.comparison in (OUTSIDE_BAND, BELOW_BAND)


@dataclass(frozen=True)
class CompositeSpec:
    name: str
    tier: Tier
    any_of: tuple[tuple[str, Tier], ...]  # (row name, tier) of the alarms it combines (all of them: all_needed)
    summary: str
    all_needed: bool = False  # ALARM when every child is (AND), not any (OR)


@dataclass(frozen=True)
class AlarmDefinition:
    """One alarm of one tier, named for this stack."""

    spec: AlarmSpec
    tier: Tier
    threshold: float
    name: str
    runbook: str  # link to the alarm's runbook section


@dataclass(frozen=True)
class CompositeDefinition:
    spec: CompositeSpec
    name: str
    children: tuple[str, ...]  # alarm names
    runbook: str

    @property
    def tier(self) -> Tier:
        return self.spec.tier

    @property
    def rule(self) -> str:
        joiner = " AND " if self.spec.all_needed else " OR "
        return joiner.join(f'ALARM("{child}")' for child in self.children)


def alarm_table(config: Config, catalog: Catalog) -> tuple[AlarmSpec, ...]:
    objectives = config.monitoring
    share = objectives.capacity_share

    def capacity(signal: str) -> float:
        limit = catalog[signal].capacity
        if limit is None:
            raise ValueError(f"catalog signal {signal!r} has no capacity")  # a bug in this table
        return share * limit

    rows = [
        # errors clients see
        AlarmSpec(
            "api-5xx-rate", "api_5xx_rate", {"high": objectives.api_5xx_rate_percent}, "Clients get server errors."
        ),
        AlarmSpec(
            "api-4xx-rate", "api_4xx_rate", {"low": objectives.api_4xx_rate_percent}, "Many requests are refused."
        ),
        # latency
        AlarmSpec(
            "api-latency-p99", "api_latency_p99", {"low": objectives.api_latency_p99_ms}, "Clients wait too long."
        ),
        AlarmSpec(
            "consumer-duration",
            "consumer_duration_p99",
            {"low": capacity("consumer_duration_p99")},
            "Consumer batches run close to the timeout, which returns the whole batch to the queue.",
        ),
        # traffic and capacity
        AlarmSpec(
            "api-request-anomaly",
            "client_requests" if config.canary.enabled else "api_count",  # the canary's are not traffic
            {"low": REQUEST_BAND_WIDTH},
            "Request count is far above or below its recent history.",
            comparison=OUTSIDE_BAND,
        ),
        AlarmSpec(
            "api-request-rate",
            "api_count",
            {"low": capacity("api_count")},
            "Requests approach the usage plan's rate limit; clients will get 429.",
        ),
        AlarmSpec(
            "ingest-concurrency",
            "ingest_concurrency",
            {"low": capacity("ingest_concurrency")},
            "Ingest concurrency approaches its reserved concurrency; throttling is next.",
        ),
        # function failures
        AlarmSpec("ingest-errors", "ingest_errors", {"high": 0.0}, "The ingest function fails."),
        AlarmSpec("ingest-throttles", "ingest_throttles", {"low": 0.0}, "Ingest invocations are throttled."),
        AlarmSpec("consumer-errors", "consumer_errors", {"low": 0.0}, "Whole consumer batches fail."),
        AlarmSpec("consumer-throttles", "consumer_throttles", {"low": 0.0}, "Consumer invocations are throttled."),
        # A failed archive batch comes back only after the DLQ's visibility timeout, longer than the evaluated
        # periods: with few dead letters the errors never fill M of N periods, so the first one pages.
        AlarmSpec(
            "archiver-errors",
            "archiver_errors",
            {"high": 0.0},
            "The archiver, the last safety net, fails.",
            breach="any",
        ),
        # The low tier reaches people through the notifier: its failures must page on the high tier.
        AlarmSpec("notifier-errors", "notifier_errors", {"high": 0.0}, "The notifier fails; low-tier alarms stall."),
        # Parked events wait for the retrier: while it fails nothing is lost, but nothing drains or is dead-lettered
        # at the window's end either (retry-window pages before the window ends).
        AlarmSpec(
            "retrier-errors",
            "retrier_errors",
            {"low": 0.0},
            "The retrier fails; parked events neither drain nor reach the DLQ.",
            breach="any",
        ),
        # age and backlog. Events wait in the queue for seconds: what the store does not take is parked in S3, not
        # kept in the queue. An event older than a visibility timeout is held by something (nothing consumes, or the
        # queue is at its in-flight cap); older than the longest an event may wait, and retention is next.
        AlarmSpec(
            "queue-age",
            "queue_age",
            {"low": float(config.visibility_timeout_seconds), "high": float(config.retry_budget_seconds)},
            "Events wait in the ingest queue (low: longer than a visibility timeout; high: longer than the "
            "longest an event may wait before it is stored or dead-lettered).",
        ),
        # SQS holds ~120,000 in-flight messages per queue; at the cap a long poll receives nothing and the queue
        # stalls. The consumer keeps at most a round of batches in flight: anything near the cap is a bug or a
        # foreign consumer, and it pages before the stall.
        AlarmSpec(
            "queue-in-flight",
            "queue_in_flight",
            {"high": objectives.capacity_share * config.queue.in_flight_limit},
            f"Messages in flight near SQS's cap ({config.queue.in_flight_limit}): at the cap nothing is received.",
            breach="any",
        ),
        # retries: the store is in trouble and events are parked in S3 (low); they near the end of the retry window,
        # after which they are dead-lettered (high). Parking is sparse once the breaker is open, so the first
        # breaching period counts.
        AlarmSpec(
            "retries",
            "events_waiting_on_retry",
            {"low": 0.0},
            "Events are parked to retry: the store fails or throttles; the events are safe in S3.",
            breach="any",
        ),
        # the analytics store: its failed events are parked like a database failure's (low);
        # retry-window pages if they near the DLQ
        *(
            [
                AlarmSpec(
                    "analytics-sink-errors",
                    "analytics_sink_errors",
                    {"low": 0.0},
                    "The S3 analytics store refuses objects; their events are parked to retry.",
                    breach="any",
                )
            ]
            if "s3" in config.sinks
            else []
        ),
        AlarmSpec(
            "retry-window",
            "oldest_retry_age",
            {"high": objectives.retry_window_alarm_share * config.queue.retry_window_seconds},
            f"Parked events have waited for {objectives.retry_window_alarm_share:.0%} of the retry window; "
            "when it ends they are dead-lettered.",
            breach="any",
        ),
        # loss
        AlarmSpec(
            "enqueue-gap",
            "enqueue_gap",
            {"high": 0.0},
            "Events were accepted but never reached the queue.",
            # Events in flight at a period boundary make single periods differ by a few either way;
            # loss shows in every period.
            breach="every",
        ),
        # dead letters: a message moved by the redrive policy never counts in the DLQ's NumberOfMessagesSent; visible
        # and in-flight messages both count, as a failing archiver holds its batch in flight (catalog: dlq_messages)
        AlarmSpec(
            "dlq-visible",
            "dlq_messages",
            {"high": 0.0},
            "Messages wait in the dead-letter queue, visible or held by a failing archiver.",
            breach="any",
        ),
        AlarmSpec(
            "events-archived", "events_archived", {"low": 0.0}, "Events were dead-lettered and archived.", breach="any"
        ),
        AlarmSpec(
            "failures-queue-visible",
            "failures_visible",
            {"high": 0.0},
            "Low-tier notifications could not be delivered.",
            breach="any",
        ),
        # the table; UserErrors has no dimensions: any table or application of the account and region raises it
        *(
            [AlarmSpec("table-system-errors", "table_system_errors", {"high": 0.0}, "DynamoDB fails our writes.")]
            if "dynamodb" in config.sinks
            else []
        ),
        AlarmSpec(
            "table-user-errors",
            "table_user_errors",
            {"low": 0.0},
            "DynamoDB rejects requests as invalid, account-wide (not only this stack's tables).",
        ),
        *(
            [AlarmSpec("table-throttles", "table_throttles", {"low": 0.0}, "DynamoDB throttles our writes.")]
            if "dynamodb" in config.sinks
            else []
        ),
    ]
    rows += _recommended_rows(config)
    if config.canary.enabled:
        rows += _canary_rows(config)
    rows += _burn_rate_rows(config)
    # the events table's signals exist only when "dynamodb" is a sink (dashboards.catalog)
    wcu = catalog.signals.get("table_wcu_per_second")
    if wcu is not None and wcu.capacity is not None:
        rows.append(
            AlarmSpec(
                "table-write-capacity",
                "table_wcu_per_second",
                {"low": capacity("table_wcu_per_second")},
                "Writes approach the table's maximum provisioned capacity.",
            )
        )
    return tuple(rows)


def _recommended_rows(config: Config) -> list[AlarmSpec]:
    """Incidents AWS's recommended alarms cover and the rows above missed (docs/recommended-alarms.md)."""
    stopped = stopped_consumer_bound(config)
    return [
        # A consumer that stops without an error (mapping disabled or stuck) raises no error metric, and the queue's
        # age pages only after the longest retries: page from "visible messages that nobody receives" instead,
        # within a bound derived from the batching window and the consumer's timeout (alarms/stopped_consumer.py).
        AlarmSpec(
            "consumer-stopped",
            "queue_unpolled",
            {"high": 0.0},
            "Events wait visible in the ingest queue and nobody receives them: the consumer's mapping is "
            "disabled or stuck.",
            breach="every",
            periods=stopped.periods,
        ),
        # Loss in some periods only never makes enqueue-gap breach in every period: judge the sum over the
        # evaluated window too, as a share of what was accepted in it (one window-long period, first breach pages).
        AlarmSpec(
            "enqueue-gap-window",
            "enqueue_gap_window_percent",
            {"high": ENQUEUE_GAP_WINDOW_PERCENT},
            "Over the last window, a share of the accepted events never reached the queue.",
            breach="any",
            periods=1,
        ),
        # The consumer reports failed records in batchItemFailures, so Lambda's Errors (consumer-errors) never counts
        # them, even when every record fails: alarm on the share of records put back.
        AlarmSpec(
            "consumer-record-failures",
            "records_failed_percent",
            {"low": RECORD_FAILURE_PERCENT},
            "Most of the consumer's records fail and go back to the queue (batchItemFailures, which Lambda's "
            "Errors never counts).",
        ),
        # Notifications SNS could not deliver to a person. Each alarm tells the *other* tier, so that it does not depend
        # on the subscription that fails: undelivered pages go to the low tier's people at once, at any hour (pages
        # that do not arrive cannot wait for the morning digest), undelivered low-tier messages page.
        AlarmSpec(
            "pages-undelivered",
            "sns_high_failed",
            {"low": 0.0},
            "SNS could not deliver some pages (the high topic's subscriptions); told here, to the low tier's people "
            "at once, at any hour.",
            breach="any",
            at_once=True,
        ),
        AlarmSpec(
            "notifications-undelivered",
            "sns_notify_failed",
            {"high": 0.0},
            "SNS could not deliver some low-tier notifications (the notify topic's subscriptions); told by page.",
            breach="any",
        ),
        # With no request API Gateway publishes nothing, and the request anomaly sees missing data, never a breach:
        # judge the clients' requests with zero in idle periods against a band of their history. A stack that never
        # had clients (a new deployment) has a band around zero and stays quiet; one whose clients stop is far below.
        AlarmSpec(
            "api-traffic-stopped",
            "client_traffic",
            {"low": REQUEST_BAND_WIDTH},
            "Client requests fell far below their recent history: traffic stopped reaching the API.",
            comparison=BELOW_BAND,
        ),
    ]


def _canary_rows(config: Config) -> list[AlarmSpec]:
    """The end-to-end canary: is the pipeline alive even when no client sends anything?"""
    return [
        # CANARY_FAILING_PERIODS periods in a row without one successful run: a few consecutive failures, not
        # one (on AWS a period is a run). A period without any run (a late schedule) neither breaks nor makes the
        # streak; a canary that cannot run at all shows in canary-errors.
        AlarmSpec(
            "canary-failing",
            "canary_success",
            {"high": 1.0},
            "The canary's events do not come out of the pipeline: nothing gets through end to end.",
            comparison=LESS,
            missing=MISSING,
            breach="every",
            periods=CANARY_FAILING_PERIODS,
        ),
        AlarmSpec(
            "canary-latency",
            "canary_end_to_end_p99",
            {"low": config.canary.latency_objective_ms},
            "The canary's events take longer than the objective from accepted to readable in the table.",
        ),
        AlarmSpec("canary-errors", "canary_errors", {"high": 0.0}, "The canary itself fails: nobody watches the path."),
    ]


def _burn_rate_rows(config: Config) -> list[AlarmSpec]:
    """The error budget's burn-rate alarms (core.slo): one alarm per window of each pair, judged on its
    latest datapoint — a whole window's requests, summed over one period as long as the window."""
    rows = []
    for pair in burn_windows(config.monitoring):
        for role, seconds in (("long", pair.long_seconds), ("short", pair.short_seconds)):
            rows.append(
                AlarmSpec(
                    f"error-budget-{pair.policy.name}-{role}",
                    burn_rate_id(seconds),
                    {pair.policy.tier: pair.burn_rate},
                    f"Server errors burn the error budget {pair.burn_rate:g}× faster than it lasts, over "
                    f"{span(seconds)} (the {role} window of error-budget-{pair.policy.name}).",
                    breach="any",
                    periods=1,
                )
            )
    return rows


def burn_rate_composites(config: Config) -> tuple[CompositeSpec, ...]:
    """Each pair of burn-rate windows as one alarm: both must burn, so a burn that has stopped (its short window
    is clean again) neither pages nor keeps paging."""
    return tuple(
        CompositeSpec(
            f"error-budget-{pair.policy.name}",
            pair.policy.tier,
            (
                (f"error-budget-{pair.policy.name}-long", pair.policy.tier),
                (f"error-budget-{pair.policy.name}-short", pair.policy.tier),
            ),
            f"{pair.policy.budget_share:.0%} of the error budget spent in {span(pair.long_seconds)} and still "
            f"burning over the last {span(pair.short_seconds)} (burn rate above {pair.burn_rate:g}).",
            all_needed=True,
        )
        for pair in burn_windows(config.monitoring)
    )


# The incident: every high alarm that says events are refused, lost, stalled, aged out or not archived, or that nothing
# gets through end to end. One fault trips several of them (db-down: the canary, then the queue's age; a paused
# consumer: consumer-stopped and the canary), and the person on call gets one page, the composite's, whose
# TriggeringChildren say which. The notification path's own alarms (notifier-errors, failures-queue-visible,
# notifications-undelivered) stay apart: an open incident would hide them, and they say the pages may not arrive.
INCIDENT_CHILDREN: tuple[tuple[str, Tier], ...] = (
    ("api-5xx-rate", "high"),
    ("ingest-errors", "high"),
    ("enqueue-gap", "high"),
    ("enqueue-gap-window", "high"),
    ("queue-age", "high"),
    ("queue-in-flight", "high"),
    ("consumer-stopped", "high"),
    ("table-system-errors", "high"),
    ("retry-window", "high"),
    ("dlq-visible", "high"),
    ("archiver-errors", "high"),
    ("canary-failing", "high"),
    ("canary-errors", "high"),
    # the error budget's paging pairs (composites themselves): server errors refuse events too, and one
    # outage trips both pairs and the 5XX rate at once — one page
    ("error-budget-fast-burn", "high"),
    ("error-budget-steady-burn", "high"),
)
INCIDENT_SUMMARY = (
    "Events are being refused, lost, stalled, aged out or not archived, or nothing gets through end to end."
)


def incident_composite(config: Config) -> CompositeSpec:
    """ingestion-at-risk over the incident's children this configuration has (no canary rows when the canary is
    off, no events-table rows without the DynamoDB sink)."""
    absent = set() if config.canary.enabled else {"canary-failing", "canary-errors"}
    if "dynamodb" not in config.sinks:  # the events table's rows are built only with the table (alarm_specs)
        absent |= {"table-system-errors"}
    children = tuple(child for child in INCIDENT_CHILDREN if child[0] not in absent)
    return CompositeSpec("ingestion-at-risk", "high", children, INCIDENT_SUMMARY)


def alarm_name(config: Config, row: str, tier: Tier) -> str:
    return config.resource_name(f"{row}-{tier}")


def runbook_link(config: Config, row: str) -> str:
    return f"{config.monitoring.runbook_url}#{row}"


def alarm_definitions(config: Config, catalog: Catalog) -> tuple[AlarmDefinition, ...]:
    return tuple(
        AlarmDefinition(
            spec, tier, spec.thresholds[tier], alarm_name(config, spec.name, tier), runbook_link(config, spec.name)
        )
        for spec in alarm_table(config, catalog)
        for tier in TIERS
        if tier in spec.thresholds
    )


def composite_definitions(config: Config) -> tuple[CompositeDefinition, ...]:
    return tuple(
        CompositeDefinition(
            spec,
            alarm_name(config, spec.name, spec.tier),
            tuple(alarm_name(config, row, tier) for row, tier in spec.any_of),
            runbook_link(config, spec.name),
        )
        for spec in (*burn_rate_composites(config), incident_composite(config))
    )


# How the runtime and the console name the delivery of an `at_once` alarm (low tier, never held).
LOW_AT_ONCE = "low, at once"


def delivered_at_once(config: Config, catalog: Catalog) -> frozenset[str]:
    """The names of the alarms that reach the low tier's people at once (AlarmSpec.at_once)."""
    return frozenset(d.name for d in alarm_definitions(config, catalog) if d.spec.at_once)


def notified_tiers(config: Config, catalog: Catalog) -> dict[str, Tier | None]:
    """Whose people each alarm notifies, by name: its tier's, or nobody's for a composite's children (one
    incident trips several of them at once and must page once, through the composite)."""
    composites = composite_definitions(config)
    composed = {child for composite in composites for child in composite.children}
    tiers: dict[str, Tier | None] = {
        definition.name: None if definition.name in composed else definition.tier
        for definition in alarm_definitions(config, catalog)
    }
    tiers.update({composite.name: None if composite.name in composed else composite.tier for composite in composites})
    return tiers
