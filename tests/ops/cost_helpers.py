"""A tiny price table where every figure can be checked by hand, and the workload the cost tests price."""

from __future__ import annotations

from pathlib import Path

from ops.cost import Assumptions, Prices, Shape, Workload

TINY_PRICES = """
[meta]
region = "test-1"
as_of = "2026-01-01"
hours_per_month = 1
[api_gateway]
rest_requests_per_million = [{ up_to_millions = 1, usd = 10.0 }, { usd = 1.0 }]
[lambda]
requests_per_million = 2.0
arm64_gb_second = 1.0
[sqs]
standard_requests_per_million = 1.0
billing_chunk_bytes = 65536
[dynamodb]
write_request_units_per_million = 1.0
read_request_units_per_million = 1.0
write_unit_bytes = 1024
storage_gb_month = 0.0
point_in_time_recovery_gb_month = 0.0
[s3]
standard_gb_month = 0.0
put_requests_per_thousand = 0.0
get_requests_per_thousand = 0.0
delete_requests_per_thousand = 0.0
[cloudwatch]
custom_metric_month = 1.0
standard_alarm_metric_month = 0.1
high_resolution_alarm_metric_month = 0.3
composite_alarm_month = 0.5
dashboard_month = 3.0
logs_ingestion_gb = 0.0
logs_storage_gb_month = 0.0
[xray]
traces_recorded_per_million = 0.0
[kms]
key_month = 0.0
requests_per_10k = 0.0
[scheduler]
invocations_per_million = 1.0
"""

# 1,000 events/s for a 1-hour "month": 3.6 million events; 1,000-byte events.
WORKLOAD = Workload(rate=1000, event_bytes=1000, hours_per_month=1)
# Functions run exactly 1 s per invocation whatever they do; no idle polling, no logs: only what is checked.
FLAT = Assumptions(
    ingest_base_ms=1000, ingest_per_event_ms=0, sqs_call_ms=0, consumer_base_ms=1000, consumer_per_record_ms=0,
    dynamodb_call_ms=0, idle_pollers_per_mapping=0,
)  # fmt: skip
NAIVE, SINGLE, BATCHED = Shape("naive", 1, naive=True), Shape("single", 1), Shape("batched", 50)


def tiny_prices(folder: Path) -> Prices:
    path = folder / "prices.toml"
    path.write_text(TINY_PRICES)
    return Prices.load(path)
