"""`invoke cost`: a monthly and per-million-events estimate of one environment's stack, line by line.

Prices come from `ops/prices.toml` only; sizes, memory and batch sizes from the configuration and the
synthesized template; what neither can say (how long a function runs, how much it logs) is an `Assumptions`
field, printed with the estimate so nobody mistakes it for a measurement.

Three shapes of the same workload are priced side by side:
- naive: one API request, one Lambda invocation, one SendMessage, one ReceiveMessage, one DeleteMessage
  and one PutItem per event;
- ours, single: what Sluice does when clients send one event per request (SendMessage at ingest; the
  consumer reads 10 per ReceiveMessage, deletes 10 per call, writes 25 per BatchWriteItem, and is invoked
  once per batch of `mappings.consumer.batch_size`);
- ours, batched: the same with `--batch` events per API request (SendMessageBatch, 10 per call).

Each sink configuration (`sinks`: DynamoDB, the analytics store, or both) is priced on the batched shape
side by side (`sink_shapes`): the DynamoDB item as the consumer's codec writes it (compact metadata, raw
compressed when that saves a write unit), and one compressed S3 object per consumer batch.

What a database outage adds is priced by ops/outage_cost.py; ops/cost_report.py writes the whole report.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import Config
from dashboards.catalog import ANALYTICS_STORE_METRICS, NOTIFIER_METRICS, build_catalog
from ops.errors import OpsError

PRICES_PATH = Path(__file__).resolve().parent / "prices.toml"
SECONDS_PER_HOUR = 3600
MILLION = 1_000_000
GB = 1024**3  # AWS bills storage and log GB as 2^30 bytes
SQS_RECEIVE_MAX = 10
SQS_DELETE_BATCH = 10
SQS_SEND_BATCH = 10
DYNAMODB_BATCH_WRITE_MAX = 25
DYNAMODB_READ_UNIT_BYTES = 4096  # one read request unit: one strongly consistent read of ≤ 4 KB, or two eventual
# Powertools' idempotency record without its data: hashed key, status, two expiry times, the events' hash.
IDEMPOTENCY_RECORD_BYTES = 250
ID_IN_BODY_BYTES = 39  # one derived id in the remembered 202 body: a quoted 36-character UUID and a comma


class Prices:
    """The price table, read once; a missing or wrong entry is one line naming it."""

    def __init__(self, data: Mapping[str, Any], path: Path) -> None:
        self._data = data
        self._path = path

    @classmethod
    def load(cls, path: Path = PRICES_PATH) -> Prices:
        try:
            return cls(tomllib.loads(path.read_text(encoding="utf-8")), path)
        except FileNotFoundError:
            raise OpsError(f"{path}: price table not found") from None
        except tomllib.TOMLDecodeError as error:
            raise OpsError(f"{path.name}: not valid TOML: {error}") from None

    def _raw(self, section: str, key: str) -> Any:
        value = self._data.get(section, {}).get(key)
        if value is None:
            raise OpsError(f"{self._path.name}: [{section}].{key} is missing")
        return value

    def __call__(self, section: str, key: str) -> float:
        value = self._raw(section, key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise OpsError(f"{self._path.name}: [{section}].{key} must be a number, got {value!r}")
        return float(value)

    def text(self, section: str, key: str) -> str:
        return str(self._raw(section, key))

    def tiered(self, section: str, key: str, millions: float) -> float:
        """The cost of `millions` units under a tiered per-million price ([{up_to_millions, usd}, …, {usd}])."""
        tiers = self._raw(section, key)
        if not isinstance(tiers, list) or not tiers:
            raise OpsError(f"{self._path.name}: [{section}].{key} must be a list of tiers")
        cost, floor = 0.0, 0.0
        for tier in tiers:
            ceiling = float(tier.get("up_to_millions", math.inf))
            if millions > floor:
                cost += (min(millions, ceiling) - floor) * float(tier["usd"])
            floor = ceiling
        return cost


@dataclass(frozen=True)
class Workload:
    rate: float  # events per second, steady
    event_bytes: int
    hours_per_month: float = 730.0

    @property
    def events_per_month(self) -> float:
        return self.rate * SECONDS_PER_HOUR * self.hours_per_month


SINKS = ("dynamodb", "s3")
# The sink configurations `invoke cost` compares: `sinks` in sluice.toml, per environment.
SINK_CONFIGURATIONS: tuple[tuple[str, ...], ...] = (("dynamodb",), ("dynamodb", "s3"), ("s3",))


@dataclass(frozen=True)
class Shape:
    label: str
    events_per_request: int
    naive: bool = False
    sinks: tuple[str, ...] = ("dynamodb",)


@dataclass(frozen=True)
class Inventory:
    """What the synthesized template holds that costs money per month whatever the traffic."""

    alarm_metrics: int = 0
    high_resolution_alarm_metrics: int = 0
    composite_alarms: int = 0
    dashboards: int = 0
    kms_keys: int = 0

    @classmethod
    def from_template(cls, template: Mapping[str, Any]) -> Inventory:
        counts = {"alarm_metrics": 0, "high_resolution_alarm_metrics": 0, "composite_alarms": 0}
        dashboards = kms_keys = 0
        for resource in template.get("Resources", {}).values():
            kind, properties = resource.get("Type"), resource.get("Properties", {})
            if kind == "AWS::CloudWatch::Alarm":
                metrics = properties.get("Metrics")
                # An alarm is billed per metric it evaluates; an anomaly band counts three.
                count = sum(1 for metric in metrics if "MetricStat" in metric) if metrics else 1
                if properties.get("ThresholdMetricId"):
                    count *= 3
                periods = [m["MetricStat"].get("Period", 60) for m in metrics or [] if "MetricStat" in m]
                high_resolution = min(periods or [properties.get("Period", 60)]) < 60
                counts["high_resolution_alarm_metrics" if high_resolution else "alarm_metrics"] += count
            elif kind == "AWS::CloudWatch::CompositeAlarm":
                counts["composite_alarms"] += 1
            elif kind == "AWS::CloudWatch::Dashboard":
                dashboards += 1
            elif kind == "AWS::KMS::Key":
                kms_keys += 1
        return cls(dashboards=dashboards, kms_keys=kms_keys, **counts)


@dataclass(frozen=True)
class Assumptions:
    """Estimates, not prices: replace them with load-test measurements when there are some."""

    envelope_overhead_bytes: int = 400  # event id, timestamps, ip, agent, key id, request and trace ids
    envelope_escape_factor: float = 1.1  # the raw JSON text is escaped inside the envelope's JSON string
    # the same metadata as compact item attributes (functions/common/item.py, measured on ingest's metadata)
    item_overhead_bytes: int = 135
    # zlib/gzip output per input byte of an event: measured on the load test's events (random filler, so
    # pessimistic: `invoke bench --only items`); real JSON compresses better
    compression_ratio: float = 0.8
    dynamodb_item_storage_overhead_bytes: int = 100  # AWS bills 100 bytes of index per stored item
    s3_line_overhead_bytes: int = 250  # the metadata as one JSON line's keys and values
    s3_put_ms: float = 30.0
    ingest_base_ms: float = 10.0
    ingest_per_event_ms: float = 0.05
    sqs_call_ms: float = 12.0
    consumer_base_ms: float = 10.0
    consumer_per_record_ms: float = 0.1
    dynamodb_call_ms: float = 12.0
    lambda_log_bytes_per_invocation: int = 1_000  # START/END/REPORT lines and the EMF metrics document
    api_access_log_bytes_per_request: int = 400
    log_compression: float = 0.15  # stored log bytes per ingested byte
    xray_reservoir_per_second: float = 1.0  # the default sampling rule: 1 request/s, then 5%
    xray_rate: float = 0.05
    idle_pollers_per_mapping: int = 5  # Lambda's SQS pollers long-poll (20 s) even when a queue is empty
    kms_requests_per_month: float = 100_000  # data keys are cached (SQS reuses one for 5 minutes)
    canary_ms: float = 1_500.0  # a canary run waits for its event to be readable (measured locally: ~1.5 s)
    canary_reads: int = 4  # consistent GetItems per run until the item is there (1 read unit each)
    # a retrier run with nothing parked: one LIST and a GET of the breaker's state (assumed: two S3 calls of
    # s3_put_ms each, plus the function's base time)
    retrier_idle_ms: float = 200.0

    def envelope_bytes(self, event_bytes: float) -> float:
        """The size of one queue message carrying an event of `event_bytes`."""
        return event_bytes * self.envelope_escape_factor + self.envelope_overhead_bytes

    def lines(self) -> list[str]:
        return [
            f"envelope = event × {self.envelope_escape_factor} + {self.envelope_overhead_bytes} B; "
            f"item = event + {self.item_overhead_bytes} B, raw compressed (× {self.compression_ratio:g}) when that "
            f"saves a write unit; analytics store objects: (event + {self.s3_line_overhead_bytes} B) × "
            f"{self.compression_ratio:g}, one PUT of {self.s3_put_ms:g} ms per batch",
            f"ingest runs {self.ingest_base_ms:g} ms + {self.sqs_call_ms:g} ms per SQS call; consumer "
            f"{self.consumer_base_ms:g} ms + {self.consumer_per_record_ms:g} ms per record + "
            f"{self.dynamodb_call_ms:g} ms per DynamoDB call",
            f"logs: {self.lambda_log_bytes_per_invocation} B per invocation, {self.api_access_log_bytes_per_request}"
            f" B access log per API request, stored at {self.log_compression:.0%} of ingested size",
            f"X-Ray: default sampling ({self.xray_reservoir_per_second:g}/s + {self.xray_rate:.0%}) of API "
            "requests; function segments join those traces",
            f"custom metrics: the catalog's; {self.idle_pollers_per_mapping} idle long-pollers per queue "
            "mapping; the consumer is invoked with full batches",
        ]


@dataclass(frozen=True)
class Line:
    service: str
    item: str
    quantity: float
    unit: str
    usd: float


@dataclass
class Estimate:
    shape: Shape
    workload: Workload
    lines: list[Line] = field(default_factory=list)

    def add(self, service: str, item: str, quantity: float, unit: str, usd: float) -> None:
        self.lines.append(Line(service, item, quantity, unit, usd))

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    @property
    def per_million_events(self) -> float:
        return self.total / (self.workload.events_per_month / MILLION) if self.workload.events_per_month else 0.0


def sqs_requests(calls: float, messages_per_call: float, message_bytes: float, chunk: float) -> float:
    """Billed requests: each call is at least one, and one more per started 64 KB chunk of its payload."""
    return calls * max(1, math.ceil(messages_per_call * message_bytes / chunk))


def estimate(
    config: Config,
    prices: Prices,
    workload: Workload,
    shape: Shape,
    inventory: Inventory,
    assume: Assumptions | None = None,
) -> Estimate:
    assume = assume or Assumptions()
    result = Estimate(shape, workload)
    events = workload.events_per_month
    seconds = workload.hours_per_month * SECONDS_PER_HOUR
    per_request = 1 if shape.naive else shape.events_per_request
    requests = events / per_request

    # API Gateway
    result.add(
        "API Gateway",
        "REST API requests",
        requests,
        "requests",
        prices.tiered("api_gateway", "rest_requests_per_million", requests / MILLION),
    )

    # Lambda: invocations and GB-seconds per function
    def add_lambda(name: str, invocations: float, milliseconds: float) -> None:
        memory_gb = config.functions[name].memory_mb / 1024
        gb_seconds = invocations * milliseconds / 1000 * memory_gb
        result.add(
            "Lambda",
            f"{name} invocations",
            invocations,
            "requests",
            invocations / MILLION * prices("lambda", "requests_per_million"),
        )
        result.add(
            "Lambda",
            f"{name} duration ({milliseconds:.0f} ms × {memory_gb:g} GB)",
            gb_seconds,
            "GB-s",
            gb_seconds * prices("lambda", "arm64_gb_second"),
        )

    send_calls_per_request = 1 if per_request == 1 else math.ceil(per_request / SQS_SEND_BATCH)
    ingest_ms = (
        assume.ingest_base_ms + assume.ingest_per_event_ms * per_request + assume.sqs_call_ms * send_calls_per_request
    )
    add_lambda("ingest", requests, ingest_ms)
    if shape.naive:
        consumer_batch, write_calls = 1, 1.0
    else:
        consumer_batch = consumer_batch_size(config, shape.sinks)
        write_calls = math.ceil(consumer_batch / DYNAMODB_BATCH_WRITE_MAX)
    consumer_ms = assume.consumer_base_ms + assume.consumer_per_record_ms * consumer_batch
    if "dynamodb" in shape.sinks:
        consumer_ms += assume.dynamodb_call_ms * write_calls
    if "s3" in shape.sinks:
        consumer_ms += assume.s3_put_ms
    add_lambda("consumer", events / consumer_batch, consumer_ms)
    result.add("Lambda", "archiver (only events dead-lettered: see the outage estimate)", 0, "requests", 0.0)

    # SQS
    chunk = prices("sqs", "billing_chunk_bytes")
    envelope = assume.envelope_bytes(workload.event_bytes)
    per_call = 1 if shape.naive else SQS_RECEIVE_MAX
    send_size = per_request / send_calls_per_request
    sends = sqs_requests(requests * send_calls_per_request, send_size, envelope, chunk)
    receives = sqs_requests(events / per_call, per_call, envelope, chunk)
    deletes = events / (1 if shape.naive else SQS_DELETE_BATCH)
    idle = 2 * assume.idle_pollers_per_mapping * seconds / 20  # the DLQ's mapping, and the ingest one when idle
    sqs_price = prices("sqs", "standard_requests_per_million") / MILLION
    send_kind = "SendMessage" if send_size == 1 else "SendMessageBatch"
    result.add("SQS", f"{send_kind} ({envelope / 1024:.1f} KB messages)", sends, "requests", sends * sqs_price)
    result.add("SQS", f"ReceiveMessage ({per_call} per call)", receives, "requests", receives * sqs_price)
    result.add("SQS", "DeleteMessage" + ("" if shape.naive else "Batch"), deletes, "requests", deletes * sqs_price)
    result.add("SQS", "idle long polls (20 s)", idle, "requests", idle * sqs_price)

    if "dynamodb" in shape.sinks:
        _dynamodb_lines(result, config, prices, workload, shape, assume)
    if "s3" in shape.sinks:
        _analytics_store_lines(result, config, prices, workload, consumer_batch, assume)

    # S3: the archive holds only dead-lettered messages
    result.add("S3", "DLQ archive (negligible while the consumer is healthy)", 0, "GB-month", 0.0)

    custom_metrics, canary_metrics = custom_metric_series(config, shape.sinks)
    result.add(
        "CloudWatch",
        "custom metrics (EMF)",
        custom_metrics,
        "metrics",
        custom_metrics * prices("cloudwatch", "custom_metric_month"),
    )
    alarm_usd = inventory.alarm_metrics * prices("cloudwatch", "standard_alarm_metric_month")
    alarm_usd += inventory.high_resolution_alarm_metrics * prices("cloudwatch", "high_resolution_alarm_metric_month")
    alarm_usd += inventory.composite_alarms * prices("cloudwatch", "composite_alarm_month")
    alarms = inventory.alarm_metrics + inventory.high_resolution_alarm_metrics + inventory.composite_alarms
    result.add("CloudWatch", "alarms (from the template)", alarms, "alarm metrics", alarm_usd)
    result.add(
        "CloudWatch",
        "dashboards (from the template)",
        inventory.dashboards,
        "dashboards",
        inventory.dashboards * prices("cloudwatch", "dashboard_month"),
    )
    invocations = requests + events / consumer_batch
    log_gb = (
        invocations * assume.lambda_log_bytes_per_invocation + requests * assume.api_access_log_bytes_per_request
    ) / GB
    result.add(
        "CloudWatch",
        "logs ingested (functions + API access log)",
        log_gb,
        "GB",
        log_gb * prices("cloudwatch", "logs_ingestion_gb"),
    )
    stored_logs = log_gb * assume.log_compression * config.log_retention_days / (workload.hours_per_month / 24)
    result.add(
        "CloudWatch",
        f"logs stored ({config.log_retention_days}-day retention)",
        stored_logs,
        "GB-month",
        stored_logs * prices("cloudwatch", "logs_storage_gb_month"),
    )

    # X-Ray
    request_rate = requests / seconds
    sampled_rate = min(request_rate, assume.xray_reservoir_per_second) + assume.xray_rate * max(
        request_rate - assume.xray_reservoir_per_second, 0.0
    )
    traces = sampled_rate * seconds
    result.add(
        "X-Ray", "traces recorded", traces, "traces", traces / MILLION * prices("xray", "traces_recorded_per_million")
    )

    _add_canary(result, config, prices, assume, seconds, shape.sinks, canary_metrics)
    _add_retrier(result, config, prices, assume, seconds)

    # KMS: the stack's customer-managed key
    keys_usd = inventory.kms_keys * prices("kms", "key_month")
    result.add("KMS", "customer-managed keys", inventory.kms_keys, "keys", keys_usd)
    kms_requests = assume.kms_requests_per_month if inventory.kms_keys else 0
    result.add(
        "KMS",
        "requests (data keys are cached)",
        kms_requests,
        "requests",
        kms_requests / 10_000 * prices("kms", "requests_per_10k"),
    )
    return result


def custom_metric_series(config: Config, sinks: tuple[str, ...]) -> tuple[int, int]:
    """(pipeline, canary): the custom metric series the functions publish, each billed as a metric: the metric
    catalog's (one series per name and dimensions; the analytics store's only when `sinks` holds s3) and the
    notifier's."""
    skipped = set() if "s3" in sinks else set(ANALYTICS_STORE_METRICS.values())
    series = {
        (metric.name, metric.dimensions)
        for metric in build_catalog(config).metrics()
        if metric.namespace == config.metrics_namespace and metric.name not in skipped
    }
    canary = {(name, dimensions) for name, dimensions in series if ("service", "canary") in dimensions}
    return len(series - canary) + len(NOTIFIER_METRICS), len(canary)


def _add_canary(
    result: Estimate,
    config: Config,
    prices: Prices,
    assume: Assumptions,
    seconds: float,
    sinks: tuple[str, ...],
    canary_metrics: int,  # the canary's custom metric series (custom_metric_series)
) -> None:
    """The end-to-end canary: one event through the whole path every interval, whatever the clients send. It
    reads its event back from the table, or without one from its own S3 object (a PUT, then HeadObjects)."""
    runs = seconds / config.canary.interval_seconds if config.canary.enabled else 0.0
    memory = {name: config.functions[name].memory_mb / 1024 for name in ("canary", "ingest", "consumer")}
    milliseconds = {"canary": assume.canary_ms, "ingest": assume.ingest_base_ms, "consumer": assume.consumer_base_ms}
    lambda_gb_s = runs * sum(milliseconds[name] / 1000 * memory[name] for name in memory)
    lambda_usd = 3 * runs / MILLION * prices("lambda", "requests_per_million")
    lambda_usd += lambda_gb_s * prices("lambda", "arm64_gb_second")
    sqs = 3 * runs  # send, receive, delete
    reads = assume.canary_reads * runs
    items = [
        ("Scheduler", f"canary schedule: a run every {config.canary.interval_seconds} s", runs, "invocations",
         runs / MILLION * prices("scheduler", "invocations_per_million")),
        ("Canary", "canary: REST API requests", runs, "requests",
         prices.tiered("api_gateway", "rest_requests_per_million", runs / MILLION)),
        ("Canary", "canary: Lambda (canary, ingest and consumer runs)", lambda_gb_s, "GB-s", lambda_usd),
        ("Canary", "canary: SQS send, receive, delete", sqs, "requests",
         sqs / MILLION * prices("sqs", "standard_requests_per_million")),
        ("Canary", "canary: DynamoDB write and consistent reads", runs + reads, "request units",
         runs / MILLION * prices("dynamodb", "write_request_units_per_million")
         + reads / MILLION * prices("dynamodb", "read_request_units_per_million"))
        if "dynamodb" in sinks else
        ("Canary", "canary: S3 PUT and HeadObject reads", runs + reads, "requests",
         runs / 1000 * prices("s3", "put_requests_per_thousand")
         + reads / 1000 * prices("s3", "get_requests_per_thousand")),
        ("Canary", "canary: custom metrics (EMF)", canary_metrics if runs else 0, "metrics",
         (canary_metrics if runs else 0) * prices("cloudwatch", "custom_metric_month")),
    ]  # fmt: skip
    for service, item, quantity, unit, usd in items:
        result.add(service, item, quantity, unit, usd)


def _add_retrier(result: Estimate, config: Config, prices: Prices, assume: Assumptions, seconds: float) -> None:
    """The retrier's schedule when nothing is parked: a run every interval, each a LIST of the parked prefix and a GET
    of the breaker's state. What an outage adds is `invoke cost --outage-hours` (ops/outage_cost.py)."""
    runs = seconds / config.queue.retrier_interval_seconds
    gb_s = runs * assume.retrier_idle_ms / 1000 * config.functions["retrier"].memory_mb / 1024
    items = [
        ("Scheduler", f"retrier schedule: a run every {config.queue.retrier_interval_seconds} s", runs, "invocations",
         runs / MILLION * prices("scheduler", "invocations_per_million")),
        ("Retrier", "retrier: Lambda (idle runs)", gb_s, "GB-s",
         runs / MILLION * prices("lambda", "requests_per_million") + gb_s * prices("lambda", "arm64_gb_second")),
        ("Retrier", "retrier: S3 LIST of parked/ and GET of the breaker's state", 2 * runs, "requests",
         runs / 1000 * (prices("s3", "put_requests_per_thousand") + prices("s3", "get_requests_per_thousand"))),
    ]  # fmt: skip
    for service, item, quantity, unit, usd in items:
        result.add(service, item, quantity, unit, usd)


@dataclass(frozen=True)
class KeyedRequestCost:
    """What an Idempotency-Key adds to one request of `events` events (functions/ingest/keyed.py)."""

    events: int
    write_units: int  # PutItem of the in-progress record, UpdateItem to completed with the 202 body
    read_units: float  # the consumer's BatchGetItem of each derived id (eventually consistent)
    ingest_gb_seconds: float  # ingest waits for those two DynamoDB calls

    def usd(self, prices: Prices) -> float:
        return (
            self.write_units * prices("dynamodb", "write_request_units_per_million") / MILLION
            + self.read_units * prices("dynamodb", "read_request_units_per_million") / MILLION
            + self.ingest_gb_seconds * prices("lambda", "arm64_gb_second")
        )

    def line(self, prices: Prices) -> str:
        return (
            f"an Idempotency-Key on a request of {self.events} event(s) adds {self.write_units} WRU, "
            f"{self.read_units:g} RRU and {self.ingest_gb_seconds * 1000:.1f} ingest GB-ms: "
            f"${self.usd(prices) * MILLION:,.2f} per million keyed requests"
        )


def keyed_request_cost(
    config: Config, prices: Prices, events: int, event_bytes: int, assume: Assumptions
) -> KeyedRequestCost:
    write_unit = prices("dynamodb", "write_unit_bytes")
    completed_bytes = IDEMPOTENCY_RECORD_BYTES + events * ID_IN_BODY_BYTES
    item_bytes = event_bytes + assume.item_overhead_bytes
    return KeyedRequestCost(
        events=events,
        write_units=math.ceil(IDEMPOTENCY_RECORD_BYTES / write_unit) + math.ceil(completed_bytes / write_unit),
        read_units=events * math.ceil(item_bytes / DYNAMODB_READ_UNIT_BYTES) / 2,
        ingest_gb_seconds=2 * assume.dynamodb_call_ms / 1000 * config.functions["ingest"].memory_mb / 1024,
    )


def item_write_units(event_bytes: float, assume: Assumptions, unit_bytes: float) -> tuple[int, float]:
    """(write units, stored bytes) of one item: the consumer compresses raw when that saves a unit."""
    plain = event_bytes + assume.item_overhead_bytes
    compressed = event_bytes * assume.compression_ratio + assume.item_overhead_bytes
    plain_units, compressed_units = math.ceil(plain / unit_bytes), math.ceil(compressed / unit_bytes)
    return (compressed_units, compressed) if compressed_units < plain_units else (plain_units, plain)


def _stored_events(config: Config, workload: Workload) -> tuple[float, str]:
    """Events kept in the table: a month of them (growing monthly), or table.ttl_days of them when TTL is on."""
    month = workload.events_per_month
    if not config.table.ttl_days:
        return month, "one month of events (grows monthly)"
    return workload.rate * config.table.ttl_days * 86_400, f"{config.table.ttl_days} days of events (TTL, steady)"


def _dynamodb_lines(
    result: Estimate, config: Config, prices: Prices, workload: Workload, shape: Shape, assume: Assumptions
) -> None:
    events = workload.events_per_month
    units, item_bytes = item_write_units(workload.event_bytes, assume, prices("dynamodb", "write_unit_bytes"))
    wru = events * units
    write_kind = "PutItem" if shape.naive else "BatchWriteItem"
    if config.table.billing == "provisioned":
        write_kind += ", priced on demand; this table is provisioned"
    result.add(
        "DynamoDB",
        f"{write_kind} ({units} WRU per {item_bytes / 1024:.2f} KB item)",
        wru,
        "WRU",
        wru / MILLION * prices("dynamodb", "write_request_units_per_million"),
    )
    stored, label = _stored_events(config, workload)
    stored_gb = stored * (item_bytes + assume.dynamodb_item_storage_overhead_bytes) / GB
    result.add(
        "DynamoDB", f"storage of {label}", stored_gb, "GB-month", stored_gb * prices("dynamodb", "storage_gb_month")
    )
    result.add(
        "DynamoDB",
        "point-in-time recovery of it",
        stored_gb,
        "GB-month",
        stored_gb * prices("dynamodb", "point_in_time_recovery_gb_month"),
    )


def _analytics_store_lines(
    result: Estimate, config: Config, prices: Prices, workload: Workload, batch: int, assume: Assumptions
) -> None:
    """One compressed object per consumer batch; Athena is billed per query (bytes scanned), not per event."""
    events = workload.events_per_month
    puts = events / batch
    result.add(
        "S3",
        f"analytics store PUTs (one object per batch of {batch})",
        puts,
        "requests",
        puts / 1000 * prices("s3", "put_requests_per_thousand"),
    )
    stored_gb = events * (workload.event_bytes + assume.s3_line_overhead_bytes) * assume.compression_ratio / GB
    result.add(
        "S3",
        "analytics store: one month of events stored (grows monthly)",
        stored_gb,
        "GB-month",
        stored_gb * prices("s3", "standard_gb_month"),
    )


def sink_label(sinks: tuple[str, ...]) -> str:
    return " + ".join(sinks)


def shapes(batch: int, sinks: tuple[str, ...] = ("dynamodb",)) -> list[Shape]:
    result = [
        Shape("naive (1 event, 1 message, 1 PutItem per request)", 1, naive=True),
        Shape("ours, single", 1, sinks=sinks),
    ]
    if batch > 1:
        result.append(Shape(f"ours, batched ({batch} events per request)", batch, sinks=sinks))
    return result


def consumer_batch_size(config: Config, sinks: tuple[str, ...]) -> int:
    """The consumer's batch size were the environment deployed with `sinks`: an S3-only one takes the
    analytics store's bigger batches (Config.mapping)."""
    return dataclasses.replace(config, sinks=sinks).mapping("consumer").batch_size


def sink_shapes(config: Config, batch: int) -> list[Shape]:
    """The request shape of --batch once per sink configuration, each with the consumer batches it deploys with."""
    return [
        Shape(
            f"sinks {sink_label(sinks)} (consumer batches of {consumer_batch_size(config, sinks)})", batch, sinks=sinks
        )
        for sinks in SINK_CONFIGURATIONS
    ]
