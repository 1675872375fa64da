"""The typed configuration: one TOML file, one table per environment, loaded into frozen dataclasses.

Every environment table is merged over `[defaults]`; the result is checked key by key against the
dataclasses below, so a typo or a wrong type is reported as one line naming the key, never a traceback.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from core.paths import PROJECT_ROOT
from core.slo import objective_problems
from functions.common.contract import WEEKDAYS

DEFAULT_CONFIG_PATH = PROJECT_ROOT / "sluice.toml"
FUNCTION_NAMES = ("ingest", "consumer", "archiver", "notifier", "canary", "retrier")
SINKS = ("dynamodb", "s3")  # where the consumer stores events: the table, the S3 analytics store, or both
# SQS's longest visibility timeout, counted from a message's receive: "Values range: 0 to 43200. Maximum: 12 hours"
# (botocore's sqs model, ChangeMessageVisibilityRequest.VisibilityTimeout; SetQueueAttributes says the same).
SQS_MAX_VISIBILITY_SECONDS = 43_200
# A queue's visibility timeout must cover at least six consumer timeouts (AWS's own guidance for
# event source mappings), and the whole retry budget must end well before the queue drops messages.
VISIBILITY_TIMEOUT_FACTOR = 6
RETRY_BUDGET_MAX_SHARE_OF_RETENTION = 0.5
# The redrive policy's maxReceiveCount. Retries do not count receives (the consumer parks what it cannot store,
# functions/consumer/app.py): the redrive policy only catches a record that crashes or times out its invocation
# again and again, or that could be neither parked nor dead-lettered. 5 is AWS's least advice for a Lambda event source
# mapping (throttled invocations also spend receives).
REDRIVE_MAX_RECEIVES = 5
# "a maximum of approximately 120,000 in flight messages" per standard queue (AWS's "Amazon SQS standard queue
# quotas"); at it a long-poll receive, as the event source mapping's, returns no messages and no error
SQS_IN_FLIGHT_QUOTA = 120_000
# Beyond what the consumer's mapping holds in flight, room for one more receive of 10 (ReceiveMessage's
# maximum): an operator's look at the queue must not stall it
IN_FLIGHT_HEADROOM = 10


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message is one line naming the key."""


@dataclass(frozen=True)
class ApiConfig:
    stage_name: str
    rate_limit: int
    burst_limit: int
    stage_rate_limit: int
    stage_burst_limit: int
    max_event_bytes: int
    max_body_bytes: int
    max_batch_events: int
    waf_web_acl_arn: str = ""
    idempotency_key_hours: int = 24
    retry_after_seconds: int = 5  # the Retry-After of a 503 when the queue cannot take events


# A producer class names a usage plan (`<project>-<env>-<class>-plan`): lowercase, digits and dashes.
PRODUCER_CLASS_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,31}")
# The class every key created before classes existed belongs to: the template's `UsagePlan`, throttled by
# api.rate_limit and api.burst_limit (its name is taken, so `[env.producers.default]` is refused).
DEFAULT_PRODUCER_CLASS = "default"
RESERVED_PRODUCER_CLASSES = (DEFAULT_PRODUCER_CLASS, "canary")


@dataclass(frozen=True)
class ProducerClassConfig:
    """One producer class: a usage plan every key of the class is in (API Gateway's throttle and quota)."""

    rate_limit: float  # requests per second per key (the plan's ThrottleSettings.rateLimit)
    burst_limit: int
    quota_limit: int = 0  # requests per key per quota_period; 0: no quota
    # a UTC calendar day or month (QuotaSettings.period); None: not set, DAY when quota_limit is
    quota_period: Literal["DAY", "MONTH"] | None = None

    @property
    def quota_period_or_day(self) -> Literal["DAY", "MONTH"]:
        return self.quota_period or "DAY"


@dataclass(frozen=True)
class QueueConfig:
    retry_window_seconds: int  # from acceptance: how long an event the store does not take is retried before the DLQ
    retention_seconds: int
    dlq_retention_seconds: int
    kms: Literal["sqs-managed", "kms"] = "sqs-managed"
    # While the store fails, each consumer execution environment tries it once per this interval (its breaker)
    probe_interval_seconds: int = 30
    # How often the retrier runs over the parked events (AWS: whole minutes, EventBridge Scheduler's rate)
    retrier_interval_seconds: int = 60
    # the ingest queue's in-flight messages at most: SQS's quota on AWS (the monitoring reads it), the limit
    # the local stack's SQS enforces
    in_flight_limit: int = SQS_IN_FLIGHT_QUOTA


@dataclass(frozen=True)
class FunctionConfig:
    memory_mb: int
    timeout_seconds: int
    reserved_concurrency: int


@dataclass(frozen=True)
class MappingConfig:
    batch_size: int
    batching_window_seconds: int
    maximum_concurrency: int


@dataclass(frozen=True)
class AnalyticsConfig:
    """The S3 analytics store. With the table as a sink an event must be readable within seconds; when the S3
    store is the only sink nobody reads an event before Athena does, so the consumer's event source mapping
    takes these bigger batches instead of mappings.consumer's: fewer objects (S3 PUTs) and invocations."""

    s3_only_batch_size: int = 1000
    s3_only_batching_window_seconds: int = 10


@dataclass(frozen=True)
class TableConfig:
    billing: Literal["on-demand", "provisioned"]
    read_capacity: int
    write_capacity: int
    max_write_capacity: int
    target_utilization: int
    ttl_days: int = 0  # items expire this many days after they were received; 0 keeps them


@dataclass(frozen=True)
class ArchiveConfig:
    infrequent_access_days: int
    glacier_days: int
    expire_days: int


@dataclass(frozen=True)
class NotificationsConfig:
    business_days: tuple[str, ...]
    business_hours: str
    business_timezone: str
    high_emails: tuple[str, ...] = ()
    low_emails: tuple[str, ...] = ()
    high_https_endpoints: tuple[str, ...] = ()
    low_https_endpoints: tuple[str, ...] = ()


@dataclass(frozen=True)
class BudgetConfig:
    monthly_usd: float


@dataclass(frozen=True)
class MonitoringConfig:
    period_seconds: int
    evaluation_periods: int
    datapoints_to_alarm: int
    capacity_share: float
    # the service objectives clients are promised: the alarms' thresholds
    api_5xx_rate_percent: float
    api_4xx_rate_percent: float
    api_latency_p99_ms: float
    # a period with fewer requests does not count for the rate alarms: 1 error in 3 requests is not 33 %
    min_requests_per_period: int
    # the retry-window-high alarm pages when the oldest event waiting on retry has waited this share of
    # queue.retry_window_seconds
    retry_window_alarm_share: float
    runbook_url: str  # where alarm descriptions and dashboards link to; `#<alarm>` is appended
    # the availability objective: this share of requests answered without a server error (5XX) over the SLO
    # window; the burn-rate alarms (dashboards.slo) page when the error budget burns too fast
    availability_slo_percent: float = 99.9
    slo_window_seconds: int = 30 * 86_400


@dataclass(frozen=True)
class CanaryConfig:
    """The end-to-end canary: one marked event through the public API every interval (docs/configuration.md)."""

    enabled: bool
    interval_seconds: int  # a multiple of 60 on AWS (EventBridge Scheduler's rate() counts minutes)
    deadline_seconds: int  # how long one run waits for its event to be readable in the table
    ttl_hours: int  # canary items expire from the table (DynamoDB TTL) this long after they were accepted
    latency_objective_ms: float  # low tier: end-to-end (accepted → readable) above this


@dataclass(frozen=True)
class LocalConfig:
    aws_port: int
    api_port: int
    console_port: int = 3001  # the console and the control API


@dataclass(frozen=True)
class Config:
    env: str
    project: str
    region: str
    owner: str
    log_retention_days: int
    api: ApiConfig
    queue: QueueConfig
    functions: Mapping[str, FunctionConfig]
    mappings: Mapping[str, MappingConfig]
    table: TableConfig
    archive: ArchiveConfig
    notifications: NotificationsConfig
    budget: BudgetConfig
    monitoring: MonitoringConfig
    canary: CanaryConfig
    local: LocalConfig = field(default_factory=lambda: LocalConfig(aws_port=4566, api_port=3000, console_port=3001))
    sinks: tuple[str, ...] = ("dynamodb",)
    analytics: AnalyticsConfig = field(default_factory=AnalyticsConfig)
    producers: Mapping[str, ProducerClassConfig] = field(default_factory=dict)

    @property
    def producer_classes(self) -> dict[str, ProducerClassConfig]:
        """Every class a key can be in: `default` (api.rate_limit and api.burst_limit, no quota) and
        producers.<class>."""
        default = ProducerClassConfig(rate_limit=float(self.api.rate_limit), burst_limit=self.api.burst_limit)
        return {DEFAULT_PRODUCER_CLASS: default, **self.producers}

    def mapping(self, name: str) -> MappingConfig:
        """The event source mapping `name` deploys with: mappings.<name>, except that an S3-only environment's
        consumer takes analytics.s3_only_batch_size and analytics.s3_only_batching_window_seconds."""
        settings = self.mappings[name]
        if name != "consumer" or "dynamodb" in self.sinks:
            return settings
        return dataclasses.replace(
            settings,
            batch_size=self.analytics.s3_only_batch_size,
            batching_window_seconds=self.analytics.s3_only_batching_window_seconds,
        )

    @property
    def stack_name(self) -> str:
        return f"{self.project}-{self.env}"

    @property
    def visibility_timeout_seconds(self) -> int:
        return VISIBILITY_TIMEOUT_FACTOR * self.functions["consumer"].timeout_seconds

    @property
    def dlq_visibility_timeout_seconds(self) -> int:
        return VISIBILITY_TIMEOUT_FACTOR * self.functions["archiver"].timeout_seconds

    @property
    def max_receive_count(self) -> int:
        """The redrive policy's maxReceiveCount (REDRIVE_MAX_RECEIVES)."""
        return REDRIVE_MAX_RECEIVES

    @property
    def retry_budget_seconds(self) -> int:
        """The longest an event can wait before it is stored or in the DLQ: the retry window, the retrier's interval
        (the run that dead-letters it), and the redrive policy's receives for a record that cannot even be parked."""
        return (
            self.queue.retry_window_seconds
            + self.queue.retrier_interval_seconds
            + self.max_receive_count * self.visibility_timeout_seconds
        )

    @property
    def consumer_in_flight_bound(self) -> int:
        """The most the consumer holds in flight: its mapping's maximum concurrency × batch size (nothing waits in
        flight beyond the batches being processed: functions/consumer/app.py)."""
        mapping = self.mapping("consumer")
        return mapping.maximum_concurrency * mapping.batch_size

    @property
    def unpark_queue_depth(self) -> int:
        """The retrier sends pointers while the ingest queue holds fewer visible messages than this: two full rounds
        of the consumer's batches, each pointer a parked batch of events, so the consumer drains at full throughput
        between the retrier's runs without the queue filling up."""
        return 2 * self.consumer_in_flight_bound

    @property
    def retrier_run_seconds(self) -> int:
        """The most one retrier run works: within its timeout, and 10 s less than its interval so runs do not
        overlap (the local schedule waits for a run to end)."""
        timeout = self.functions["retrier"].timeout_seconds
        return max(1, min(timeout - 5, self.queue.retrier_interval_seconds - 10))

    @property
    def is_local(self) -> bool:
        return self.env == "local"

    @property
    def metrics_namespace(self) -> str:
        """The functions' POWERTOOLS_METRICS_NAMESPACE, which the dashboards, alarms and tools read."""
        return f"{self.project.title()}/{self.env}"

    def resource_name(self, suffix: str) -> str:
        return f"{self.project}-{self.env}-{suffix}"


def environment_names(path: Path | str = DEFAULT_CONFIG_PATH) -> tuple[str, ...]:
    """The environments the TOML file defines: every table but `[defaults]`."""
    return tuple(sorted(key for key in _read_toml(Path(path)) if key != "defaults"))


def load_config(env: str, path: Path | str = DEFAULT_CONFIG_PATH) -> Config:
    """Load and check the configuration of one environment."""
    path = Path(path)
    document = _read_toml(path)
    environments = sorted(key for key in document if key != "defaults")
    if env not in environments:
        raise ConfigError(f"{path.name}: no environment {env!r} (known: {', '.join(environments)})")
    merged = _deep_merge(document.get("defaults", {}), document[env])
    config = _build(Config, {"env": env, **merged}, f"{path.name}: {env}")
    _check_invariants(config, f"{path.name}: {env}")
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path.name}: not valid TOML: {error}") from None


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key (expected one of: {', '.join(fields)})")
    values = {}
    for name, spec in fields.items():
        if name not in data:
            has_default = spec.default is not dataclasses.MISSING or spec.default_factory is not dataclasses.MISSING
            if has_default:
                continue
            raise ConfigError(f"{where}.{name}: missing")
        values[name] = _convert(hints[name], data[name], f"{where}.{name}")
    return cls(**values)


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in get_args(hint):
        # `X | None`: None is only ever a default (TOML has no null), so a value given is an X
        (inner,) = [arg for arg in get_args(hint) if arg is not type(None)]
        return _convert(inner, value, where)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if origin is Literal:
        if value not in get_args(hint):
            choices = ", ".join(repr(choice) for choice in get_args(hint))
            raise ConfigError(f"{where}: expected one of {choices}, got {value!r}")
        return value
    if origin in (Mapping, dict):
        _, value_type = get_args(hint)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table")
        return types.MappingProxyType(
            {key: _convert(value_type, item, f"{where}.{key}") for key, item in sorted(value.items())}
        )
    if origin is tuple:
        item_type = get_args(hint)[0]
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list")
        return tuple(_convert(item_type, item, f"{where}[{index}]") for index, item in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported configuration type {hint!r} at {where}")  # a bug in this module


def _check_invariants(config: Config, where: str) -> None:
    """The rules AWS does not enforce for us but the pipeline's promises rest on."""

    def require(condition: bool, key: str, message: str) -> None:
        if not condition:
            raise ConfigError(f"{where}.{key}: {message}")

    missing = sorted(set(FUNCTION_NAMES) - set(config.functions))
    require(not missing, "functions", f"missing function table(s): {', '.join(missing)}")
    require(set(config.mappings) == {"consumer", "archiver"}, "mappings", "expected tables consumer and archiver")
    for name, function in config.functions.items():
        require(name in FUNCTION_NAMES, f"functions.{name}", f"unknown function (known: {FUNCTION_NAMES})")
        require(128 <= function.memory_mb <= 10240, f"functions.{name}.memory_mb", "expected 128–10240")
        require(1 <= function.timeout_seconds <= 900, f"functions.{name}.timeout_seconds", "expected 1–900")
        require(function.reserved_concurrency >= 1, f"functions.{name}.reserved_concurrency", "expected ≥ 1")
    analytics = config.analytics
    batches = [
        (f"mappings.{name}.", mapping.batch_size, mapping.batching_window_seconds)
        for name, mapping in config.mappings.items()
    ]
    batches.append(("analytics.s3_only_", analytics.s3_only_batch_size, analytics.s3_only_batching_window_seconds))
    for prefix, batch_size, window in batches:
        # the SQS limits of an event source mapping (botocore lambda model, CreateEventSourceMapping)
        require(1 <= batch_size <= 10000, f"{prefix}batch_size", "expected 1–10000")
        require(0 <= window <= 300, f"{prefix}batching_window_seconds", "expected 0–300")
        require(
            batch_size <= 10 or window >= 1,
            f"{prefix}batching_window_seconds",
            "a batch size above 10 needs a batching window of at least 1 second",
        )
    for name, mapping in config.mappings.items():
        require(
            2 <= mapping.maximum_concurrency <= 1000,
            f"mappings.{name}.maximum_concurrency",
            "expected 2–1000 (the range AWS accepts)",
        )
    queue = config.queue
    require(60 <= queue.retention_seconds <= 1_209_600, "queue.retention_seconds", "expected 60–1209600 (14 days)")
    require(
        queue.dlq_retention_seconds > queue.retention_seconds,
        "queue.dlq_retention_seconds",
        "must exceed queue.retention_seconds (a message keeps its original enqueue time in the DLQ)",
    )
    require(queue.dlq_retention_seconds <= 1_209_600, "queue.dlq_retention_seconds", "expected ≤ 1209600")
    _check_in_flight_limit(config, require)
    require(
        config.visibility_timeout_seconds <= SQS_MAX_VISIBILITY_SECONDS,
        "functions.consumer.timeout_seconds",
        f"{VISIBILITY_TIMEOUT_FACTOR}× it is the visibility timeout, which SQS caps at {SQS_MAX_VISIBILITY_SECONDS} s",
    )
    require(1 <= queue.probe_interval_seconds <= 3600, "queue.probe_interval_seconds", "expected 1–3600 seconds")
    require(1 <= queue.retrier_interval_seconds <= 3600, "queue.retrier_interval_seconds", "expected 1–3600 seconds")
    require(
        config.is_local or queue.retrier_interval_seconds % 60 == 0,
        "queue.retrier_interval_seconds",
        "expected whole minutes outside local (EventBridge Scheduler's rate)",
    )
    require(
        queue.retry_window_seconds >= 2 * queue.retrier_interval_seconds,
        "queue.retry_window_seconds",
        f"expected at least two retrier runs ({2 * queue.retrier_interval_seconds} s)",
    )
    require(
        config.retry_budget_seconds <= RETRY_BUDGET_MAX_SHARE_OF_RETENTION * queue.retention_seconds,
        "queue.retry_window_seconds",
        f"an event may wait {config.retry_budget_seconds} s (the window, a retrier run and the redrive policy's "
        "receives), which "
        f"must end within half of queue.retention_seconds ({queue.retention_seconds} s): the rest is the margin "
        "before SQS deletes an event a stopped consumer never received",
    )
    api = config.api
    require(api.burst_limit >= api.rate_limit, "api.burst_limit", "must be ≥ api.rate_limit")
    require(
        1 <= api.max_event_bytes <= 300_000,
        "api.max_event_bytes",
        "expected 1–300000 (an event with its metadata must fit a 400 KB DynamoDB item)",
    )
    require(
        api.max_event_bytes <= api.max_body_bytes <= 10_485_760,
        "api.max_body_bytes",
        "expected between api.max_event_bytes and 10485760 (API Gateway's limit)",
    )
    require(1 <= api.max_batch_events <= 500, "api.max_batch_events", "expected 1–500")
    require(1 <= api.idempotency_key_hours <= 168, "api.idempotency_key_hours", "expected 1–168")
    require(1 <= api.retry_after_seconds <= 3600, "api.retry_after_seconds", "expected 1–3600")
    require(
        not api.waf_web_acl_arn or api.waf_web_acl_arn.startswith("arn:aws:wafv2:"),
        "api.waf_web_acl_arn",
        "expected a WAFv2 web ACL ARN or an empty string",
    )
    require(config.log_retention_days in _LOG_RETENTION_DAYS, "log_retention_days", "not a CloudWatch value")
    require(
        bool(config.sinks) and set(config.sinks) <= set(SINKS) and len(set(config.sinks)) == len(config.sinks),
        "sinks",
        f"expected one or both of {', '.join(SINKS)}, each once, got {list(config.sinks)}",
    )
    require(
        config.table.ttl_days <= 0 or "s3" in config.sinks,  # a negative value is refused with the table's rules
        "table.ttl_days",
        'expires items for good: set sinks = ["dynamodb", "s3"] so every event stays in the S3 analytics store',
    )
    bad_days = [day for day in config.notifications.business_days if day not in WEEKDAYS]
    require(not bad_days, "notifications.business_days", f"unknown day {bad_days[:1]} (use {WEEKDAYS})")
    require(
        _is_hours_range(config.notifications.business_hours),
        "notifications.business_hours",
        "expected HH:MM-HH:MM with start before end",
    )
    notifications = config.notifications
    for key in ("high_https_endpoints", "low_https_endpoints"):
        urls = getattr(notifications, key)
        require(all(url.startswith("https://") for url in urls), f"notifications.{key}", "expected https:// URLs")
    require(
        config.is_local or bool(notifications.high_emails or notifications.high_https_endpoints),
        "notifications.high_emails",
        "outside local, set at least one high-tier subscriber (high_emails or high_https_endpoints): "
        "otherwise every page reaches nobody",
    )
    table = config.table
    require(
        table.write_capacity <= table.max_write_capacity,
        "table.max_write_capacity",
        "must be ≥ table.write_capacity",
    )
    require(10 <= table.target_utilization <= 90, "table.target_utilization", "expected 10–90 (percent)")
    require(0 <= table.ttl_days <= 36500, "table.ttl_days", "expected 0 (keep items) to 36500 days")
    archive = config.archive
    require(
        0 < archive.infrequent_access_days < archive.glacier_days < archive.expire_days,
        "archive",
        "expected 0 < infrequent_access_days < glacier_days < expire_days",
    )
    require(archive.infrequent_access_days >= 30, "archive.infrequent_access_days", "S3 requires ≥ 30")
    require(config.budget.monthly_usd > 0, "budget.monthly_usd", "expected a positive amount")
    monitoring = config.monitoring
    require(
        monitoring.period_seconds in (10, 30) or monitoring.period_seconds % 60 == 0,
        "monitoring.period_seconds",
        "expected 10, 30 or a multiple of 60 (the alarm periods CloudWatch accepts)",
    )
    require(
        1 <= monitoring.datapoints_to_alarm <= monitoring.evaluation_periods,
        "monitoring.datapoints_to_alarm",
        "expected 1 ≤ datapoints_to_alarm ≤ evaluation_periods",
    )
    require(0 < monitoring.capacity_share <= 1, "monitoring.capacity_share", "expected a share in (0, 1]")
    require(
        0 < monitoring.retry_window_alarm_share < 1,
        "monitoring.retry_window_alarm_share",
        "expected a share in (0, 1) of queue.retry_window_seconds",
    )
    for key in ("api_5xx_rate_percent", "api_4xx_rate_percent"):
        require(0 < getattr(monitoring, key) <= 100, f"monitoring.{key}", "expected a percentage in (0, 100]")
    require(
        1 <= monitoring.api_latency_p99_ms < API_GATEWAY_TIMEOUT_MS,
        "monitoring.api_latency_p99_ms",
        f"expected 1 to {API_GATEWAY_TIMEOUT_MS} ms (API Gateway ends a request at 29 s)",
    )
    _check_canary(config, require)
    _check_producers(config, require)
    require(monitoring.min_requests_per_period >= 1, "monitoring.min_requests_per_period", "expected an integer ≥ 1")
    _check_objective(config, require)
    url = monitoring.runbook_url
    require(
        bool(url) and not any(char.isspace() or char == "#" for char in url) and not url.startswith("http:"),
        "monitoring.runbook_url",
        "expected an https:// URL or a repository-relative path, without spaces or a #fragment",
    )


def _check_objective(config: Config, require: Callable[[bool, str, str], None]) -> None:
    monitoring = config.monitoring
    require(
        50 <= monitoring.availability_slo_percent < 100,
        "monitoring.availability_slo_percent",
        "expected a percentage in [50, 100) (100 % leaves no error budget)",
    )
    for key, message in objective_problems(monitoring, local=config.is_local):
        require(False, f"monitoring.{key}", message)


def _check_in_flight_limit(config: Config, require: Callable[[bool, str, str], None]) -> None:
    limit = config.queue.in_flight_limit
    require(
        1 <= limit <= SQS_IN_FLIGHT_QUOTA,
        "queue.in_flight_limit",
        f"expected 1–{SQS_IN_FLIGHT_QUOTA} (SQS's in-flight quota for a standard queue)",
    )
    mapping = config.mapping("consumer")
    needed = config.consumer_in_flight_bound + IN_FLIGHT_HEADROOM
    require(
        limit >= needed,
        "queue.in_flight_limit",
        f"expected at least {needed} (the consumer's maximum_concurrency {mapping.maximum_concurrency} × batch "
        f"size {mapping.batch_size} + {IN_FLIGHT_HEADROOM}): below it the consumer alone could stall the queue",
    )


def _check_producers(config: Config, require: Callable[[bool, str, str], None]) -> None:
    for name, producer in config.producers.items():
        key = f"producers.{name}"
        require(
            name not in RESERVED_PRODUCER_CLASSES,
            key,
            f"{name!r} is taken (the default class is api.rate_limit and api.burst_limit); name the class otherwise",
        )
        require(
            PRODUCER_CLASS_PATTERN.fullmatch(name) is not None,
            key,
            "expected a class name of lowercase letters, digits and dashes (at most 32), starting with a letter",
        )
        require(producer.rate_limit > 0, f"{key}.rate_limit", "expected a positive number of requests per second")
        require(producer.burst_limit >= 1, f"{key}.burst_limit", "expected an integer ≥ 1")
        require(
            producer.rate_limit <= config.api.stage_rate_limit,
            f"{key}.rate_limit",
            f"expected at most api.stage_rate_limit ({config.api.stage_rate_limit}): the stage throttles first",
        )
        require(producer.quota_limit >= 0, f"{key}.quota_limit", "expected 0 (no quota) or a positive integer")
        require(
            producer.quota_period is None or producer.quota_limit > 0,
            f"{key}.quota_period",
            "set without quota_limit, so no quota would apply: set quota_limit (requests per key per period) "
            "or remove quota_period",
        )


def _check_canary(config: Config, require: Callable[[bool, str, str], None]) -> None:
    canary = config.canary
    require(
        canary.interval_seconds >= 1 and (config.is_local or canary.interval_seconds % 60 == 0),
        "canary.interval_seconds",
        "expected a multiple of 60 (EventBridge Scheduler's rate() counts minutes; only local runs faster)",
    )
    require(
        1 <= canary.deadline_seconds < canary.interval_seconds,
        "canary.deadline_seconds",
        "expected 1 ≤ deadline < interval_seconds (one run ends before the next starts)",
    )
    require(
        canary.deadline_seconds + CANARY_TIMEOUT_MARGIN_SECONDS <= config.functions["canary"].timeout_seconds,
        "canary.deadline_seconds",
        f"must leave {CANARY_TIMEOUT_MARGIN_SECONDS} s of functions.canary.timeout_seconds for the request",
    )
    window = config.mapping("consumer").batching_window_seconds
    require(
        canary.deadline_seconds > window,
        "canary.deadline_seconds",
        f"must exceed the consumer's batching window ({window} s): a run would fail while its event waits for a batch",
    )
    require(1 <= canary.ttl_hours <= 8760, "canary.ttl_hours", "expected 1–8760 (a year)")
    require(canary.latency_objective_ms > 0, "canary.latency_objective_ms", "expected a positive number")


# The canary's POST (its own timeout) and its metrics fit in what its function has beyond the deadline.
CANARY_TIMEOUT_MARGIN_SECONDS = 5
API_GATEWAY_TIMEOUT_MS = 29_000
_LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)


def _is_hours_range(text: str) -> bool:
    try:
        start, end = (tuple(int(part) for part in bound.split(":")) for bound in text.split("-"))
    except ValueError:
        return False
    valid = all(len(bound) == 2 and 0 <= bound[0] <= 24 and 0 <= bound[1] < 60 for bound in (start, end))
    return valid and start < end
