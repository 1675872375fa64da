"""The capacity model (ops/capacity.py): one test per stage formula, the bottleneck, the durations and the cost line."""

from __future__ import annotations

import dataclasses
import json

import pytest

from core.config import load_config
from ops.capacity import (
    RECORDED_LOCAL_CPU,
    Durations,
    Fact,
    LocalHost,
    Quotas,
    StageCapacity,
    Traffic,
    api_account_throttle,
    api_stage_throttle,
    api_usage_plan,
    bottleneck,
    consumer,
    durations,
    dynamodb_on_demand,
    dynamodb_provisioned,
    ingest,
    lambda_account,
    local_host,
    local_machine,
    local_runtime_process,
    model,
    queue_in_flight,
)
from ops.capacity_report import capacity_json, capacity_lines, cost_at
from ops.errors import OpsError

SINGLE = Traffic(event_bytes=1024, events_per_request=1)
BATCHES_OF_10 = Traffic(event_bytes=1024, events_per_request=10)
FIXED = Durations(ingest_ms=20, consumer_batch_ms=50, ingest_source="test", consumer_source="test")


def test_the_account_throttle_counts_requests_so_batches_multiply_its_events() -> None:
    # GIVEN the account's 10,000 requests/s, clients sending 10 events per request
    stage = api_account_throttle(Fact(10_000, "quota"), Fact(5_000, "quota"), BATCHES_OF_10)
    # THEN it binds at 10,000 requests/s = 100,000 events/s, and says it is AWS's default
    assert (stage.requests_per_second, stage.events_per_second) == (10_000, 100_000)
    assert stage.source.startswith("AWS default: ")
    assert "burst 5,000" in stage.why


def test_an_account_value_is_not_called_a_default() -> None:
    stage = api_account_throttle(Fact(2_500, "account us-east-1", default=False), Fact(1_250, "q"), SINGLE)
    assert stage.source == "account us-east-1"


def test_the_stage_throttle_is_its_method_rate() -> None:
    # GIVEN method throttling of 1,000 requests/s
    stage = api_stage_throttle(1_000, 2_000, SINGLE)
    # THEN 1,000 events/s of single events
    assert stage.events_per_second == 1_000
    assert "burst 2,000" in stage.why


def test_the_usage_plan_applies_its_rate_to_each_key() -> None:
    # GIVEN a plan of 500 requests/s per key, three keys sending at once, 10 events per request
    stage = api_usage_plan(500, 1_000, 3, BATCHES_OF_10)
    # THEN 1,500 requests/s, 15,000 events/s
    assert (stage.requests_per_second, stage.events_per_second) == (1_500, 15_000)
    assert "× 3 keys" in stage.why


def test_ingest_is_reserved_concurrency_over_its_duration() -> None:
    # GIVEN 50 reserved environments, 20 ms per request
    stage = ingest(50, 20, BATCHES_OF_10, "bench")
    # THEN 2,500 requests/s, each of 10 events
    assert stage.requests_per_second == pytest.approx(2_500)
    assert stage.events_per_second == pytest.approx(25_000)
    assert "bench" in stage.source


def test_the_queue_holds_its_in_flight_cap_for_one_batch_duration() -> None:
    # GIVEN SQS's 120,000 in-flight messages, each in flight for a 60 ms batch
    stage = queue_in_flight(120_000, 60, SINGLE, "quota")
    # THEN Little's law: 2,000,000 events/s
    assert stage.events_per_second == pytest.approx(2_000_000)


def test_the_consumer_is_concurrency_times_batch_over_batch_duration() -> None:
    # GIVEN a mapping of maximum concurrency 10, batches of 100 taking 68 ms
    stage = consumer(10, 10, 100, 68, SINGLE, "assumed")
    # THEN 14,706 events/s (docs/configuration.md's figure for prod)
    assert stage.events_per_second == pytest.approx(14_705.9, abs=0.1)


def test_the_consumer_cannot_run_more_batches_than_its_reserved_concurrency() -> None:
    # GIVEN a mapping allowing 10 but only 4 reserved environments
    stage = consumer(10, 4, 100, 100, SINGLE, "assumed")
    # THEN 4 batches at a time: 4,000 events/s
    assert stage.events_per_second == pytest.approx(4_000)
    assert "reserved 4" in stage.why


def test_an_on_demand_table_is_its_table_quota_over_write_units_per_event() -> None:
    # GIVEN the default 40,000 WRU/s per table, items of 2 write units
    stage = dynamodb_on_demand(Fact(40_000, "quota"), Fact(1_000, "quota"), 2, SINGLE)
    # THEN 20,000 events/s
    assert stage.events_per_second == 20_000
    assert "1,000 WRU/s per partition" in stage.why


def test_a_provisioned_table_is_its_autoscaling_maximum_within_the_table_quota() -> None:
    # GIVEN an autoscaling maximum of 1,000 WCU, 1 unit per item
    assert dynamodb_provisioned(1_000, Fact(40_000, "quota"), 1, SINGLE).events_per_second == 1_000
    # AND a maximum above the table quota: the quota binds
    above = dynamodb_provisioned(50_000, Fact(40_000, "quota"), 1, SINGLE)
    assert above.events_per_second == 40_000
    assert "above the table quota" in above.why


def test_the_lambda_account_pool_is_what_is_left_after_the_unreserved_minimum_and_other_reservations() -> None:
    # GIVEN 1,000 concurrent executions, 100 kept unreserved, 0 reserved elsewhere; per event 20 ms of ingest
    # (single events) and 50 ms ÷ 100 of the consumer = 20.5 ms
    stage = lambda_account(Fact(1_000, "q"), Fact(100, "q"), 0, 20, 50, 100, SINGLE)
    # THEN 900 ÷ 0.0205 s = 43,902 events/s
    assert stage.events_per_second == pytest.approx(900 / 0.0205)


def test_a_pool_smaller_than_the_reservations_carries_nothing() -> None:
    stage = lambda_account(Fact(100, "q"), Fact(100, "q"), 5, 20, 50, 100, SINGLE)
    assert stage.events_per_second == 0


HOST = LocalHost(runtime_cpu_ms=10, moto_cpu_ms=15, runtime_idle_cores=0.1, moto_idle_cores=0.15, cores=2, source="b")


def test_the_local_runtime_process_is_one_core_over_its_cpu_per_request() -> None:
    # GIVEN 10 CPU ms per request in the runtime, 0.1 core of idle work (the GIL: one core)
    stage = local_runtime_process(HOST, SINGLE)
    # THEN 0.9 core ÷ 10 ms = 90 requests/s
    assert stage.requests_per_second == pytest.approx(90)


def test_the_local_machine_is_its_free_cores_over_both_processes_cpu_per_request() -> None:
    # GIVEN 2 cores, 0.25 of them idle work, 10 + 15 CPU ms per request
    stage = local_machine(HOST, SINGLE)
    # THEN 1.75 ÷ 25 ms = 70 requests/s
    assert stage.requests_per_second == pytest.approx(70)


def test_the_bottleneck_is_the_stage_with_the_fewest_events() -> None:
    stages = [StageCapacity(name, rate, rate, "", "") for name, rate in (("a", 300.0), ("b", 100.0), ("c", 200.0))]
    assert bottleneck(stages).stage == "b"


def test_on_a_tie_the_earlier_stage_binds() -> None:
    stages = [StageCapacity(name, 100.0, 100.0, "", "") for name in ("gateway", "table")]
    assert bottleneck(stages).stage == "gateway"


def test_prod_is_bound_by_its_usage_plan() -> None:
    # GIVEN prod (usage plan 500 requests/s per key, stage 1,000), the default quotas, single events of 1 KB
    result = model(load_config("prod"), SINGLE, FIXED, Quotas())
    # THEN every AWS stage is there and the usage plan binds at 500 events/s
    names = [stage.stage for stage in result.stages]
    assert names == [
        "API Gateway account",
        "API Gateway stage",
        "API Gateway usage plan",
        "ingest λ",
        "SQS queue",
        "consumer λ",
        "DynamoDB table",
        "Lambda account",
    ]
    assert (result.bottleneck.stage, result.bottleneck.events_per_second) == ("API Gateway usage plan", 500)


def test_with_more_keys_prod_binds_at_ingest() -> None:
    # GIVEN ten client keys (5,000 requests/s on the plan) and 20 ms ingest invocations
    result = model(load_config("prod"), SINGLE, FIXED, Quotas(), api_keys=10)
    # THEN the stage's 1,000 requests/s binds before ingest's 50 ÷ 20 ms = 2,500
    assert result.bottleneck.stage == "API Gateway stage"
    # AND with batches of 10 the request throttles carry ten times the events: 10,000 events/s
    batched = model(load_config("prod"), BATCHES_OF_10, FIXED, Quotas(), api_keys=10)
    assert batched.bottleneck.stage == "API Gateway stage"
    assert batched.bottleneck.events_per_second == 10_000


def test_the_local_model_has_no_account_quotas_but_the_hosts_cpu() -> None:
    # GIVEN the local configuration and the recorded CPU benchmark
    result = model(load_config("local"), Traffic(910, 1.48), FIXED, Quotas(), host=RECORDED_LOCAL_CPU)
    names = [stage.stage for stage in result.stages]
    # THEN no account, table or Lambda-pool rows; the machine's CPU binds below the usage plan's 100 requests/s
    assert "API Gateway account" not in names and "DynamoDB table" not in names
    assert result.bottleneck.stage == "local machine CPU"
    assert result.bottleneck.requests_per_second < 100


def test_flags_replace_the_recorded_local_figures() -> None:
    host = local_host(1.0, 20.0, None)
    assert (host.cores, host.runtime_cpu_ms, host.moto_cpu_ms) == (1.0, 20.0, RECORDED_LOCAL_CPU.moto_cpu_ms)
    assert "--runtime-cpu-ms given" in host.source
    with pytest.raises(OpsError, match="--local-cores: expected a positive number"):
        local_host(0, None, None)


def test_aws_durations_come_from_the_cost_models_assumptions_unless_given() -> None:
    # GIVEN prod (the table only, batches of 100), single events
    timing = durations(load_config("prod"), SINGLE, None, None)
    # THEN ingest 10 + 0.05 + 12 ms, a batch 10 + 10 + 4 × 12 ms (ops/cost.py Assumptions)
    assert (timing.ingest_ms, timing.consumer_batch_ms) == (pytest.approx(22.05), pytest.approx(68))
    assert "Assumptions" in timing.ingest_source
    given = durations(load_config("prod"), SINGLE, 40, 200)
    assert (given.ingest_ms, given.consumer_batch_ms, given.ingest_source) == (40, 200, "--ingest-ms")


def test_local_ingest_duration_is_the_benchmarks() -> None:
    timing = durations(load_config("local"), SINGLE, None, None)
    assert "functions_bench" in timing.ingest_source


def test_a_non_positive_duration_is_one_line() -> None:
    with pytest.raises(OpsError, match="--consumer-batch-ms: expected a positive number"):
        durations(load_config("prod"), SINGLE, None, 0)


def test_traffic_the_api_refuses_is_one_line() -> None:
    with pytest.raises(OpsError, match=r"--events-per-request: expected 1–500"):
        model(load_config("prod"), Traffic(100, 501), FIXED, Quotas())
    with pytest.raises(OpsError, match=r"--event-bytes: expected 1–262144"):
        model(load_config("prod"), Traffic(300_000, 1), FIXED, Quotas())
    with pytest.raises(OpsError, match="--api-keys"):
        model(load_config("prod"), SINGLE, FIXED, Quotas(), api_keys=0)


def test_the_cost_line_prices_the_bottlenecks_rate() -> None:
    # GIVEN prod bound at 500 events/s
    config = load_config("prod")
    result = model(config, SINGLE, FIXED, Quotas())
    # WHEN priced
    cost = cost_at(config, result)
    # THEN ops/cost.py priced 500 events/s: a month of 1.314 billion events, dollars per million consistent with it
    assert cost.events_per_second == 500
    events_per_month = 500 * 3600 * cost.hours_per_month
    assert cost.monthly_usd == pytest.approx(cost.per_million_usd * events_per_month / 1e6)
    assert cost.monthly_usd > 0
    lines = capacity_lines(config, result, cost)
    assert lines[-3].startswith("bottleneck: API Gateway usage plan at 500 events/s = 500.0 requests/s")
    assert lines[-2].startswith(f"cost at that rate: ${cost.monthly_usd:,.0f} per 730-hour month")
    assert "AWS's published defaults" in lines[-1]


def test_the_json_carries_every_stage_the_bottleneck_and_which_quotas_are_defaults() -> None:
    config = load_config("prod")
    quotas = dataclasses.replace(Quotas(), lambda_concurrency=Fact(3_000, "account", default=False))
    result = model(config, SINGLE, FIXED, quotas)
    document = json.loads(capacity_json(config, result, cost_at(config, result), ("a note",)))
    assert len(document["stages"]) == 8
    assert document["bottleneck"]["stage"] == "API Gateway usage plan"
    assert document["quotas"]["lambda_concurrency"] == {"value": 3000, "source": "account", "default": False}
    assert document["quotas"]["api_account_rps"]["default"] is True
    assert document["notes"] == ["a note"]
