"""The cost model's arithmetic, on a tiny price table where every figure can be checked by hand."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from core.config import load_config
from core.paths import PROJECT_ROOT
from dashboards.catalog import NOTIFIER_METRICS, build_catalog
from functions.common import metric_names
from functions.ingest.reasons import REJECTION_REASONS
from ops.cost import (
    Assumptions,
    Inventory,
    Prices,
    Shape,
    Workload,
    custom_metric_series,
    estimate,
    keyed_request_cost,
)
from ops.errors import OpsError
from tests.ops.cost_helpers import BATCHED, FLAT, NAIVE, SINGLE, TINY_PRICES, WORKLOAD

ROOT = PROJECT_ROOT


def usd(shape: Shape, prices: Prices, item_prefix: str, inventory: Inventory | None = None, **workload) -> float:
    config = load_config("dev")  # 512 MB functions, consumer batches of 100
    work = dataclasses.replace(WORKLOAD, **workload)
    lines = estimate(config, prices, work, shape, inventory or Inventory(), FLAT).lines
    return round(sum(line.usd for line in lines if line.item.startswith(item_prefix)), 6)


def test_api_requests_are_priced_per_request_in_tiers(prices: Prices) -> None:
    # naive and single: 3.6 M requests = 1 M at $10 + 2.6 M at $1; batched by 50: 72,000 requests at $10/M
    assert usd(NAIVE, prices, "REST API requests") == 12.6
    assert usd(SINGLE, prices, "REST API requests") == 12.6
    assert usd(BATCHED, prices, "REST API requests") == 0.72


def test_lambda_is_priced_per_invocation_and_gb_second(prices: Prices) -> None:
    # ingest: one invocation per request; 1 s × 0.5 GB each
    assert usd(NAIVE, prices, "ingest invocations") == 7.2  # 3.6 M × $2/M
    assert usd(NAIVE, prices, "ingest duration") == 1_800_000  # 3.6 M × 0.5 GB-s × $1
    assert usd(BATCHED, prices, "ingest invocations") == 0.144  # 72,000 × $2/M
    # consumer: naive once per event; ours once per batch of 100
    assert usd(NAIVE, prices, "consumer invocations") == 7.2
    assert usd(SINGLE, prices, "consumer invocations") == 0.072
    assert usd(SINGLE, prices, "consumer duration") == 18_000  # 36,000 × 0.5 GB-s


def test_sqs_counts_calls_batches_and_64_kb_chunks(prices: Prices) -> None:
    # a 1,000-byte event makes a 1,500-byte envelope: one chunk per message, and ten fit one chunk
    assert usd(NAIVE, prices, "SendMessage") == 3.6
    assert usd(NAIVE, prices, "ReceiveMessage") == 3.6
    assert usd(NAIVE, prices, "DeleteMessage") == 3.6
    assert usd(SINGLE, prices, "SendMessage") == 3.6  # one event per request: one SendMessage each
    assert usd(SINGLE, prices, "ReceiveMessage") == 0.36  # 10 per call
    assert usd(BATCHED, prices, "SendMessageBatch") == 0.36  # 5 calls of 10 per 50-event request
    # a 60,000-byte event makes a 66,400-byte envelope: two chunks per message, 11 per batch of 10
    assert usd(NAIVE, prices, "SendMessage", event_bytes=60_000) == 7.2
    assert usd(BATCHED, prices, "SendMessageBatch", event_bytes=60_000) == 3.96


def test_dynamodb_writes_cost_one_unit_per_started_kilobyte_batched_or_not(prices: Prices) -> None:
    # 1,000 bytes + 135 of metadata = 1,135 bytes, two units; compressed (× 0.8) 935 bytes: one unit, 3.6 M units
    assert usd(NAIVE, prices, "PutItem") == 3.6
    assert usd(BATCHED, prices, "BatchWriteItem") == 3.6
    assert usd(NAIVE, prices, "PutItem", event_bytes=700) == 3.6  # 835 bytes: one unit as text
    # 2,000 bytes: 2,135 as text is three units, 1,735 compressed two
    assert usd(NAIVE, prices, "PutItem", event_bytes=2000) == 7.2


def test_each_sink_configuration_prices_only_its_sinks(tmp_path: Path) -> None:
    # GIVEN S3 at $1 per thousand PUTs and $1 per GB-month
    path = tmp_path / "prices.toml"
    path.write_text(
        TINY_PRICES.replace("standard_gb_month = 0.0", "standard_gb_month = 1.0").replace(
            "put_requests_per_thousand = 0.0", "put_requests_per_thousand = 1.0"
        )
    )
    prices, config = Prices.load(path), load_config("dev")  # consumer batches of 100; S3 alone 1000

    def lines(sinks: tuple[str, ...]) -> dict[str, float]:
        result = estimate(config, prices, WORKLOAD, Shape("batched", 50, sinks=sinks), Inventory(), FLAT)
        return {line.item: line.usd for line in result.lines if line.service in ("DynamoDB", "S3")}

    # WHEN each configuration is priced
    dynamodb, both, s3_only = lines(("dynamodb",)), lines(("dynamodb", "s3")), lines(("s3",))
    # THEN the analytics store is one PUT per consumer batch and (event + 250 B) × 0.8 stored per event: with the table
    # batches of mappings.consumer (3.6 M / 100), alone the analytics store's bigger ones (3.6 M / 1000)
    puts = "analytics store PUTs (one object per batch of 100)"
    assert both[puts] == pytest.approx(36.0)
    assert s3_only["analytics store PUTs (one object per batch of 1000)"] == pytest.approx(3.6)
    stored = 3_600_000 * 1250 * 0.8 / 1024**3
    assert s3_only["analytics store: one month of events stored (grows monthly)"] == pytest.approx(stored)
    # AND DynamoDB appears only where it is a sink; both is the sum of the two
    assert not any(item.startswith("BatchWriteItem") for item in s3_only)
    assert puts not in dynamodb
    assert both == dynamodb | {item: usd for item, usd in s3_only.items() if "PUTs" not in item} | {puts: 36.0}


def test_with_a_ttl_the_table_stores_ttl_days_of_events(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(TINY_PRICES.replace("storage_gb_month = 0.0", "storage_gb_month = 1.0"))
    config = load_config("dev")
    config = dataclasses.replace(config, table=dataclasses.replace(config.table, ttl_days=1))
    result = estimate(config, Prices.load(path), WORKLOAD, BATCHED, Inventory(), FLAT)
    [storage] = [line for line in result.lines if line.item.startswith("storage of")]
    # a day of 1,000 events/s, each 935 bytes compressed + 100 bytes of index
    assert storage.item == "storage of 1 days of events (TTL, steady)"
    assert storage.quantity == pytest.approx(86_400_000 * 1035 / 1024**3)


def test_alarms_dashboards_and_metrics_come_from_the_template(prices: Prices) -> None:
    template = {
        "Resources": {
            "Plain": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "Errors", "Period": 60}},
            "Math": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "Metrics": [
                        {"Id": "a", "MetricStat": {"Period": 10}},
                        {"Id": "b", "MetricStat": {"Period": 10}},
                        {"Id": "e", "Expression": "a/b"},
                    ]
                },
            },
            "Band": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {"ThresholdMetricId": "band", "Metrics": [{"Id": "m", "MetricStat": {"Period": 300}}]},
            },
            "Both": {"Type": "AWS::CloudWatch::CompositeAlarm", "Properties": {}},
            "Board": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}},
            "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
        }
    }
    inventory = Inventory.from_template(template)
    assert inventory == Inventory(
        alarm_metrics=4, high_resolution_alarm_metrics=2, composite_alarms=1, dashboards=1, kms_keys=1
    )
    # 4 × $0.1 + 2 × $0.3 + 1 × $0.5; one dashboard at $3
    assert usd(NAIVE, prices, "alarms", inventory) == 1.5
    assert usd(NAIVE, prices, "dashboards", inventory) == 3.0


def test_custom_metrics_are_the_series_the_functions_publish(prices: Prices) -> None:
    # GIVEN the metric names the handlers publish (their add_metric calls)
    sources = "\n".join(path.read_text() for path in (ROOT / "functions").rglob("*.py"))
    constants = set(re.findall(r"add_metric\(\s*name=metric_names\.(\w+)", sources))
    published = {getattr(metric_names, constant) for constant in constants} | {metric_names.EVENTS_REJECTED}
    # WHEN the catalog's metrics of our namespace are counted, one series per name and dimensions
    config = load_config("dev")
    ours = {metric.name for metric in build_catalog(config).metrics() if metric.namespace == config.metrics_namespace}
    pipeline, canary = custom_metric_series(config, ("dynamodb",))
    # THEN the catalog (and its list of the notifier's) knows every published metric, and the estimate bills each
    # series: 18 names (the retrier's three with them), EventsRejected
    # once per reason, the analytics store's two only when sinks holds s3, the canary's five on the canary's lines
    assert ours | set(NOTIFIER_METRICS) == published
    assert (pipeline, canary) == (18 + len(REJECTION_REASONS), 5)
    assert custom_metric_series(config, ("dynamodb", "s3")) == (pipeline + 2, 5)
    assert usd(NAIVE, prices, "custom metrics") == pipeline * 1.0


def test_batching_lowers_the_total_and_per_million_is_total_over_millions(prices: Prices) -> None:
    config = load_config("dev")
    totals = {}
    for shape in (NAIVE, SINGLE, BATCHED):
        result = estimate(config, prices, WORKLOAD, shape, Inventory(), FLAT)
        assert result.per_million_events == pytest.approx(result.total / 3.6)
        totals[shape.label] = result.total
    assert totals["naive"] > totals["single"] > totals["batched"]


def test_a_missing_price_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(TINY_PRICES.replace("arm64_gb_second = 1.0\n", ""))
    with pytest.raises(OpsError, match=r"prices.toml: \[lambda\].arm64_gb_second is missing"):
        estimate(load_config("dev"), Prices.load(path), WORKLOAD, NAIVE, Inventory(), FLAT)


def test_the_real_price_table_is_complete_and_dated() -> None:
    prices = Prices.load()
    assert prices.text("meta", "region") == "us-east-1"
    assert prices.text("meta", "as_of")
    result = estimate(load_config("prod"), prices, Workload(100, 1024), BATCHED, Inventory())
    assert result.total > 0


def test_the_canary_costs_a_run_every_interval_whatever_the_clients_send(prices: Prices, tmp_path: Path) -> None:
    # GIVEN dev's canary: a run every 60 s, i.e. 60 runs in the 1-hour "month" of these tests
    config = load_config("dev")
    runs = 3600 / config.canary.interval_seconds

    def canary_usd(config_used, prefix: str) -> float:
        lines = estimate(config_used, prices, WORKLOAD, BATCHED, Inventory(), FLAT).lines
        return round(sum(line.usd for line in lines if line.item.startswith(prefix)), 9)

    # THEN each run is one scheduler invocation and one API request, at the first tier's $10 per million
    assert canary_usd(config, "canary schedule") == round(runs * 1.0 / 1e6, 9)
    assert canary_usd(config, "canary: REST API requests") == round(runs * 10.0 / 1e6, 9)
    # AND its five metrics are custom metrics
    assert canary_usd(config, "canary: custom metrics") == 5.0
    # AND a canary switched off costs nothing
    path = tmp_path / "sluice.toml"
    path.write_text(PROJECT_ROOT.joinpath("sluice.toml").read_text() + "\n[dev.canary]\nenabled = false\n")
    assert canary_usd(load_config("dev", path), "canary") == 0.0


def test_an_idempotency_key_costs_two_writes_a_lookup_per_event_and_two_calls_of_ingest(prices: Prices) -> None:
    # GIVEN the tiny price table (1 $ per million units, 1 $ per GB-s) and prod's 512 MB ingest
    config = load_config("prod")
    # WHEN a keyed request of 1 event of 1,000 B, and one of 50 such events, is priced
    single = keyed_request_cost(config, prices, 1, 1000, Assumptions())
    batched = keyed_request_cost(config, prices, 50, 1000, Assumptions())
    # THEN the in-progress PutItem and the completing UpdateItem (1 KB units; 50 ids make the record 2.2 KB),
    # half a read unit per 1.3 KB item looked up by the consumer, and 2 × 12 ms of a 0.5 GB ingest
    assert (single.write_units, single.read_units) == (2, 0.5)
    assert (batched.write_units, batched.read_units) == (1 + 3, 25.0)
    assert single.ingest_gb_seconds == pytest.approx(0.012)
    assert single.usd(prices) == pytest.approx(2.5 / 1_000_000 + 0.012)
    assert "per million keyed requests" in single.line(prices)


def test_without_the_table_the_canary_writes_and_reads_an_s3_object(tmp_path: Path) -> None:
    # GIVEN S3 at $1 per thousand PUTs and $0.1 per thousand other requests, DynamoDB at $1 per million units
    path = tmp_path / "prices.toml"
    path.write_text(
        TINY_PRICES.replace("put_requests_per_thousand = 0.0", "put_requests_per_thousand = 1.0").replace(
            "get_requests_per_thousand = 0.0", "get_requests_per_thousand = 0.1"
        )
    )
    prices, config = Prices.load(path), load_config("dev")  # a canary run a minute: 60 in the 1-hour month

    def canary_lines(sinks: tuple[str, ...]) -> dict[str, float]:
        result = estimate(config, prices, WORKLOAD, Shape("batched", 50, sinks=sinks), Inventory(), FLAT)
        return {
            line.item: line.usd
            for line in result.lines
            if line.item.startswith("canary: DynamoDB") or "S3 PUT" in line.item
        }

    # WHEN the canary is priced with the table and without it
    # THEN with the table it writes an item and reads it 4 times; without, one PUT and 4 HeadObjects
    assert canary_lines(("dynamodb", "s3")) == {"canary: DynamoDB write and consistent reads": pytest.approx(300 / 1e6)}
    assert canary_lines(("s3",)) == {"canary: S3 PUT and HeadObject reads": pytest.approx(60 * 0.001 + 240 * 0.0001)}
