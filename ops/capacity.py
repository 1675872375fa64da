"""`invoke capacity`: the events/s each stage of one environment can sustain, on paper, and which binds first.

Every stage's capacity is a pure function of the configuration (sluice.toml), a quota (a `Fact` with its source)
and a duration (`Durations`, from the benchmarks or the cost model's assumptions, or the operator's flags). The
smallest is the bottleneck; ops/capacity_report.py prints the table and prices that rate with ops/cost.py. On AWS,
ops/account_quotas.py replaces the published defaults below by the account's applied values where an API gives them.

Requests/s and events/s are tied by the traffic's events per request: a throttle counts requests, a queue or a
table counts events.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass

from cloudformation.api import CANARY_RATE_LIMIT
from core.config import SQS_IN_FLIGHT_QUOTA, Config
from ops.cost import DYNAMODB_BATCH_WRITE_MAX, SQS_SEND_BATCH, Assumptions, item_write_units
from ops.errors import OpsError

DYNAMODB_WRITE_UNIT_BYTES = 1024  # one write request unit: a write of an item up to 1 KB (ops/prices.toml)


@dataclass(frozen=True)
class Fact:
    """A quota: its value, where it comes from, and whether it is AWS's published default (not read from the
    account)."""

    value: float
    source: str
    default: bool = True


# AWS's published defaults, each checked on the page named (2026-12, through the docs search).
API_GATEWAY_ACCOUNT_RPS = Fact(
    10_000,
    "API Gateway quotas (developerguide/limits.html): throttle quota per account, per Region across HTTP, REST, "
    "WebSocket APIs: 10,000 RPS (2,500 in some newer Regions); Service Quotas apigateway L-8A5B8E43",
)
API_GATEWAY_ACCOUNT_BURST = Fact(
    5_000,
    "API Gateway quotas (developerguide/limits.html): token bucket of at most 5,000 requests; set by AWS from the "
    "RPS quota, not adjustable by the customer",
)
LAMBDA_ACCOUNT_CONCURRENCY = Fact(
    1_000,
    "Lambda quotas (lambda/latest/dg/gettingstarted-limits.html): concurrent executions 1,000 per Region by "
    "default (new accounts get less); GetAccountSettings AccountLimit.ConcurrentExecutions",
)
LAMBDA_UNRESERVED_MINIMUM = Fact(
    100,
    "Lambda PutFunctionConcurrency: reserve as much as you like as long as 100 executions stay unreserved",
)
SQS_IN_FLIGHT = Fact(
    SQS_IN_FLIGHT_QUOTA,
    "Amazon SQS standard queue quotas (quotas-queues.html): approximately 120,000 in-flight messages per queue; "
    "at it a long poll receives nothing",
)
SQS_STANDARD_API_RATE = (
    "Amazon SQS standard queues (standard-queues.html): a nearly unlimited number of API calls per second per action"
)
DYNAMODB_TABLE_WRITE_UNITS = Fact(
    40_000,
    "Quotas in Amazon DynamoDB (Limits.html): per table 40,000 write request units (on demand) or write capacity "
    "units (provisioned) by default",
)
DYNAMODB_PARTITION_WRITE_UNITS = Fact(
    1_000,
    "AWS knowledge center, on-demand table throttling: each partition serves up to 1,000 write request units/s; "
    "a new on-demand table takes up to 4,000 at once, then double its previous peak within 30 minutes",
)


@dataclass(frozen=True)
class Quotas:
    api_account_rps: Fact = API_GATEWAY_ACCOUNT_RPS
    api_account_burst: Fact = API_GATEWAY_ACCOUNT_BURST
    lambda_concurrency: Fact = LAMBDA_ACCOUNT_CONCURRENCY
    lambda_unreserved_minimum: Fact = LAMBDA_UNRESERVED_MINIMUM
    dynamodb_table_write_units: Fact = DYNAMODB_TABLE_WRITE_UNITS
    dynamodb_partition_write_units: Fact = DYNAMODB_PARTITION_WRITE_UNITS

    def facts(self) -> dict[str, Fact]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


@dataclass(frozen=True)
class Traffic:
    event_bytes: int
    events_per_request: float  # a mean: 1.6 is 85 % single events and 15 % batches of 5


@dataclass(frozen=True)
class Durations:
    """How long one ingest invocation and one consumer batch take, and where those figures come from."""

    ingest_ms: float
    consumer_batch_ms: float
    ingest_source: str
    consumer_source: str


@dataclass(frozen=True)
class StageCapacity:
    stage: str
    events_per_second: float
    requests_per_second: float
    why: str
    source: str


def _stage(stage: str, events_per_second: float, traffic: Traffic, why: str, source: str) -> StageCapacity:
    return StageCapacity(stage, events_per_second, events_per_second / traffic.events_per_request, why, source)


def _throttle(stage: str, requests_per_second: float, traffic: Traffic, why: str, source: str) -> StageCapacity:
    return _stage(stage, requests_per_second * traffic.events_per_request, traffic, why, source)


# --- one formula per stage -------------------------------------------------------------------------------------


def api_account_throttle(rps: Fact, burst: Fact, traffic: Traffic) -> StageCapacity:
    """API Gateway's account-and-Region throttle, shared by every API of the account in the Region."""
    why = f"{rps.value:,.0f} requests/s per account and Region (burst {burst.value:,.0f}), shared by all its APIs"
    return _throttle("API Gateway account", rps.value, traffic, why, _source(rps))


def api_stage_throttle(rate: float, burst: int, traffic: Traffic) -> StageCapacity:
    """The stage's method throttling: every key together."""
    why = f"method throttling on the stage: {rate:,.0f} requests/s (burst {burst:,})"
    return _throttle("API Gateway stage", rate, traffic, why, "sluice.toml api.stage_rate_limit")


def api_usage_plan(rate: float, burst: int, keys: int, traffic: Traffic) -> StageCapacity:
    """The clients' usage plan throttles each API key on it: `keys` clients together get `keys` × its rate. The
    canary's plan (its own key, CANARY_RATE_LIMIT) carries no client traffic."""
    why = f"usage plan: {rate:,.0f} requests/s per API key (burst {burst:,}) × {keys} key{'s' * (keys != 1)}"
    why += f"; the canary's plan: {CANARY_RATE_LIMIT:g}/s for its own key"
    return _throttle("API Gateway usage plan", rate * keys, traffic, why, "sluice.toml api.rate_limit")


def ingest(reserved_concurrency: int, ingest_ms: float, traffic: Traffic, source: str) -> StageCapacity:
    """Reserved concurrency ÷ the duration of one invocation (one API request) = requests/s."""
    requests = reserved_concurrency / (ingest_ms / 1000)
    why = f"reserved concurrency {reserved_concurrency} ÷ {ingest_ms:g} ms per request"
    return _throttle("ingest λ", requests, traffic, why, f"sluice.toml functions.ingest; duration: {source}")


def queue_in_flight(in_flight_limit: int, consumer_batch_ms: float, traffic: Traffic, source: str) -> StageCapacity:
    """A message is in flight from the consumer's receive to its delete, about one batch's duration; at most
    `in_flight_limit` at a time (Little's law). Send and receive calls are not limited on a standard queue."""
    events = in_flight_limit / (consumer_batch_ms / 1000)
    why = (
        f"in-flight cap {in_flight_limit:,} ÷ {consumer_batch_ms:g} ms in flight per message; "
        "API calls nearly unlimited on a standard queue"
    )
    return _stage("SQS queue", events, traffic, why, f"{source}; {SQS_STANDARD_API_RATE}")


def consumer(
    maximum_concurrency: int, reserved_concurrency: int, batch_size: int, batch_ms: float, traffic: Traffic, source: str
) -> StageCapacity:
    """The mapping's maximum concurrency (capped by the function's reserved concurrency) × batch size ÷ the
    duration of one batch; with a backlog every batch is full, so the batching window does not wait."""
    concurrency = min(maximum_concurrency, reserved_concurrency)
    events = concurrency * batch_size / (batch_ms / 1000)
    why = f"{concurrency} concurrent batches (mapping maximum {maximum_concurrency}, reserved {reserved_concurrency})"
    why += f" × {batch_size} events ÷ {batch_ms:g} ms per batch"
    return _stage("consumer λ", events, traffic, why, f"sluice.toml mappings.consumer; duration: {source}")


def dynamodb_on_demand(
    table_units: Fact, partition_units: Fact, units_per_event: int, traffic: Traffic
) -> StageCapacity:
    """An on-demand table writes at most its table quota of write request units per second; keys are random
    event ids, so writes spread over partitions and the per-partition limit binds only at a hot key."""
    why = (
        f"on demand: {table_units.value:,.0f} WRU/s per table ÷ {units_per_event} WRU per event; "
        f"{partition_units.value:,.0f} WRU/s per partition (random keys spread); a new table takes 4,000 WRU/s "
        "at once and doubles its previous peak within 30 min"
    )
    return _stage("DynamoDB table", table_units.value / units_per_event, traffic, why, _source(table_units))


def dynamodb_provisioned(
    max_write_capacity: int, table_units: Fact, units_per_event: int, traffic: Traffic
) -> StageCapacity:
    """A provisioned table scales up to its autoscaling maximum (itself within the table quota)."""
    ceiling = min(max_write_capacity, table_units.value)
    why = f"provisioned: autoscaling maximum {max_write_capacity:,} WCU ÷ {units_per_event} WCU per event"
    if max_write_capacity > table_units.value:
        why += f" (above the table quota {table_units.value:,.0f})"
    return _stage("DynamoDB table", ceiling / units_per_event, traffic, why, "sluice.toml table.max_write_capacity")


def lambda_account(
    concurrency: Fact,
    unreserved_minimum: Fact,
    reserved_elsewhere: int,
    ingest_ms: float,
    consumer_batch_ms: float,
    batch_size: int,
    traffic: Traffic,
) -> StageCapacity:
    """What the Region's concurrency would carry if ingest and the consumer shared it all: the account's quota less
    the 100 Lambda keeps unreserved and the stack's other reservations, ÷ the concurrency one event/s needs."""
    available = concurrency.value - unreserved_minimum.value - reserved_elsewhere
    per_event = ingest_ms / 1000 / traffic.events_per_request + consumer_batch_ms / 1000 / batch_size
    why = (
        f"{concurrency.value:,.0f} concurrent executions − {unreserved_minimum.value:,.0f} kept unreserved − "
        f"{reserved_elsewhere} reserved by the stack's other functions = {available:,.0f}, ÷ {per_event * 1000:.3f} "
        "ms of ingest and consumer per event"
    )
    return _stage("Lambda account", max(available, 0.0) / per_event, traffic, why, _source(concurrency))


def local_runtime_process(host: LocalHost, traffic: Traffic) -> StageCapacity:
    """The local stack runs the gateway, the handlers and the pollers as threads of one Python process: the GIL
    lets them use one core together, whatever the reserved concurrency, less what the process spends idle."""
    requests = (1 - host.runtime_idle_cores) / (host.runtime_cpu_ms / 1000)
    why = (
        f"one Python process (the GIL: 1 core) − {host.runtime_idle_cores:.2f} core idle work, ÷ "
        f"{host.runtime_cpu_ms:g} CPU ms per request (gateway, ingest and its share of the consumer)"
    )
    return _throttle("local runtime process", requests, traffic, why, host.source)


def local_machine(host: LocalHost, traffic: Traffic) -> StageCapacity:
    """The runtime and moto server share the machine's cores (with the load generator and anyone else on it)."""
    per_request = host.runtime_cpu_ms + host.moto_cpu_ms
    free = host.cores - host.runtime_idle_cores - host.moto_idle_cores
    why = (
        f"{host.cores:g} core{'s' * (host.cores != 1)} − {host.runtime_idle_cores + host.moto_idle_cores:.2f} idle "
        f"work, ÷ {per_request:g} "
        f"CPU ms per request (runtime {host.runtime_cpu_ms:g} + moto {host.moto_cpu_ms:g}); the load generator's "
        "CPU not counted"
    )
    return _throttle("local machine CPU", max(free, 0.0) / (per_request / 1000), traffic, why, host.source)


def _source(fact: Fact) -> str:
    return f"AWS default: {fact.source}" if fact.default else fact.source


# --- durations -------------------------------------------------------------------------------------------------

# `invoke bench --only functions` (benchmarks/functions_bench.py), recorded in README.md "Performance"
# (2026-11-25, 2-core laptop): a warm ingest invocation of one event, in-process against a mocked queue, 3.0–3.5 ms.
BENCH_WARM_INGEST_MS = 3.5
BENCH_WARM_INGEST = "benchmarks/functions_bench.py warm ingest, 3.0–3.5 ms (README.md Performance, 2026-11-25)"


def durations(config: Config, traffic: Traffic, ingest_ms: float | None, consumer_batch_ms: float | None) -> Durations:
    """Flags win; otherwise on AWS the cost model's call times (ops/cost.py Assumptions, the figures `invoke cost`
    prices), and locally ingest's in-process benchmark."""
    assume = Assumptions()
    batch = config.mapping("consumer").batch_size
    if ingest_ms is not None:
        ingest = (ingest_ms, "--ingest-ms")
    elif config.is_local:
        ingest = (BENCH_WARM_INGEST_MS, BENCH_WARM_INGEST)
    else:
        sends = math.ceil(traffic.events_per_request / SQS_SEND_BATCH)
        modelled = assume.ingest_base_ms + assume.ingest_per_event_ms * traffic.events_per_request
        modelled += assume.sqs_call_ms * sends
        ingest = (modelled, "ops/cost.py Assumptions (base + per event + SQS calls; not a measurement)")
    if consumer_batch_ms is not None:
        batch_time = (consumer_batch_ms, "--consumer-batch-ms")
    else:
        modelled = assume.consumer_base_ms + assume.consumer_per_record_ms * batch
        if "dynamodb" in config.sinks:
            modelled += assume.dynamodb_call_ms * math.ceil(batch / DYNAMODB_BATCH_WRITE_MAX)
        if "s3" in config.sinks:
            modelled += assume.s3_put_ms
        batch_time = (modelled, "ops/cost.py Assumptions (base + per record + BatchWriteItem/PUT calls; not measured)")
    for value, option in ((ingest[0], "--ingest-ms"), (batch_time[0], "--consumer-batch-ms")):
        if not value > 0:
            raise OpsError(f"{option}: expected a positive number of milliseconds, got {value:g}")
    return Durations(ingest[0], batch_time[0], ingest[1], batch_time[1])


@dataclass(frozen=True)
class LocalHost:
    """What one API request costs the local stack's processes in CPU, and how many cores they get."""

    runtime_cpu_ms: float
    moto_cpu_ms: float
    runtime_idle_cores: float  # metrics publisher, alarm evaluator, canary, retrier, idle long polls
    moto_idle_cores: float
    cores: float
    source: str


# `python -m benchmarks.local_cpu_bench --requests 1800 --rate 60` on a local stack of today's code (2026-12-07, the
# 2-core machine quiet: load average under 2; the sender reached 18 requests/s): CPU per request of the local
# profile's mix (1.57 events per request), idle work subtracted. A request costs less the busier the stack: the
# pollers' receives, deletes and batch writes fill up, so measure near the rate you predict (at 10 requests/s the
# same stack cost runtime 14.4 ms and moto 22.2 ms, and predicted half the knee; loadtest/README.md "Capacity").
RECORDED_LOCAL_CPU = LocalHost(
    runtime_cpu_ms=7.39,
    moto_cpu_ms=12.59,
    runtime_idle_cores=0.05,
    moto_idle_cores=0.10,
    cores=2.0,
    source="benchmarks/local_cpu_bench.py, 2026-12-07: CPU per request of the local mix (1.57 events) at 18 requests/s",
)


def local_host(cores: float | None, runtime_cpu_ms: float | None, moto_cpu_ms: float | None) -> LocalHost:
    """The recorded benchmark, with any figure the operator passes instead."""
    recorded = RECORDED_LOCAL_CPU
    chosen = dataclasses.replace(
        recorded,
        cores=float(len(os.sched_getaffinity(0))) if cores is None else cores,  # the cores this process may use
        runtime_cpu_ms=recorded.runtime_cpu_ms if runtime_cpu_ms is None else runtime_cpu_ms,
        moto_cpu_ms=recorded.moto_cpu_ms if moto_cpu_ms is None else moto_cpu_ms,
    )
    for value, option in (
        (chosen.cores, "--local-cores"),
        (chosen.runtime_cpu_ms, "--runtime-cpu-ms"),
        (chosen.moto_cpu_ms, "--moto-cpu-ms"),
    ):
        if not value > 0:
            raise OpsError(f"{option}: expected a positive number, got {value:g}")
    overridden = [o for o, v in (("--runtime-cpu-ms", runtime_cpu_ms), ("--moto-cpu-ms", moto_cpu_ms)) if v is not None]
    source = recorded.source + (f"; {', '.join(overridden)} given" if overridden else "")
    return dataclasses.replace(chosen, source=source + f"; {chosen.cores:g} cores")


# --- the model -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Capacity:
    config_env: str
    traffic: Traffic
    durations: Durations
    stages: tuple[StageCapacity, ...]
    quotas: Quotas | None  # None locally: the local stack has no account quotas

    @property
    def bottleneck(self) -> StageCapacity:
        return bottleneck(self.stages)


def bottleneck(stages: tuple[StageCapacity, ...] | list[StageCapacity]) -> StageCapacity:
    """The stage with the least events/s; on a tie the earliest in the pipeline (it refuses first)."""
    if not stages:
        raise OpsError("no stage to compare")
    return min(stages, key=lambda stage: stage.events_per_second)


def check_traffic(config: Config, traffic: Traffic) -> None:
    """Traffic the API would refuse has no capacity."""
    if not 1 <= traffic.events_per_request <= config.api.max_batch_events:
        raise OpsError(
            f"--events-per-request: expected 1–{config.api.max_batch_events} (api.max_batch_events), "
            f"got {traffic.events_per_request:g}"
        )
    if not 1 <= traffic.event_bytes <= config.api.max_event_bytes:
        raise OpsError(
            f"--event-bytes: expected 1–{config.api.max_event_bytes} (api.max_event_bytes), got {traffic.event_bytes}"
        )


def model(
    config: Config,
    traffic: Traffic,
    durations: Durations,
    quotas: Quotas,
    api_keys: int = 1,
    host: LocalHost | None = None,
) -> Capacity:
    """Every stage of `config`'s pipeline. Locally what the local stack enforces — its gateway's throttles,
    reserved concurrency, the mapping and its SQS's in-flight limit (moto has no table or account quotas) — and the
    CPU its processes get (`host`, the recorded benchmark by default)."""
    check_traffic(config, traffic)
    if api_keys < 1:
        raise OpsError(f"--api-keys: expected 1 or more keys on the usage plan, got {api_keys}")
    api, functions, mapping = config.api, config.functions, config.mapping("consumer")
    stages = [
        api_stage_throttle(api.stage_rate_limit, api.stage_burst_limit, traffic),
        api_usage_plan(api.rate_limit, api.burst_limit, api_keys, traffic),
        ingest(functions["ingest"].reserved_concurrency, durations.ingest_ms, traffic, durations.ingest_source),
        queue_in_flight(config.queue.in_flight_limit, durations.consumer_batch_ms, traffic, _in_flight_source(config)),
        consumer(
            mapping.maximum_concurrency,
            functions["consumer"].reserved_concurrency,
            mapping.batch_size,
            durations.consumer_batch_ms,
            traffic,
            durations.consumer_source,
        ),
    ]
    if config.is_local:
        host = host or local_host(None, None, None)
        stages += [local_runtime_process(host, traffic), local_machine(host, traffic)]
        return Capacity(config.env, traffic, durations, tuple(stages), None)
    stages.insert(0, api_account_throttle(quotas.api_account_rps, quotas.api_account_burst, traffic))
    if "dynamodb" in config.sinks:
        units, _ = item_write_units(traffic.event_bytes, Assumptions(), DYNAMODB_WRITE_UNIT_BYTES)
        table = quotas.dynamodb_table_write_units
        if config.table.billing == "provisioned":
            stages.append(dynamodb_provisioned(config.table.max_write_capacity, table, units, traffic))
        else:
            stages.append(dynamodb_on_demand(table, quotas.dynamodb_partition_write_units, units, traffic))
    elsewhere = sum(f.reserved_concurrency for name, f in functions.items() if name not in ("ingest", "consumer"))
    stages.append(
        lambda_account(
            quotas.lambda_concurrency,
            quotas.lambda_unreserved_minimum,
            elsewhere,
            durations.ingest_ms,
            durations.consumer_batch_ms,
            mapping.batch_size,
            traffic,
        )
    )
    return Capacity(config.env, traffic, durations, tuple(stages), quotas)


def _in_flight_source(config: Config) -> str:
    if config.queue.in_flight_limit == SQS_IN_FLIGHT_QUOTA:
        return f"AWS default: {SQS_IN_FLIGHT.source}"
    if config.is_local:
        return "sluice.toml queue.in_flight_limit (the local SQS enforces it)"
    return "sluice.toml queue.in_flight_limit"
