"""The configuration: every environment loads; any wrong value is one line naming the key."""

from pathlib import Path

import pytest

from core.config import ConfigError, environment_names, load_config
from core.paths import PROJECT_ROOT

REAL_CONFIG = PROJECT_ROOT / "sluice.toml"


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sluice.toml"
    path.write_text(REAL_CONFIG.read_text() + "\n" + text)
    return path


@pytest.mark.parametrize("env", environment_names())
def test_every_environment_loads(env):
    # GIVEN the committed configuration WHEN an environment is loaded
    config = load_config(env)
    # THEN it is frozen and keeps the promises the pipeline rests on
    assert config.env == env
    assert config.visibility_timeout_seconds >= 6 * config.functions["consumer"].timeout_seconds
    with pytest.raises(AttributeError):
        config.env = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("[test.queue]\nretry_window_seconds = 60\n", "test.queue.retry_window_seconds: expected at least two"),
        ("[test.queue]\nretrier_interval_seconds = 90\n", "test.queue.retrier_interval_seconds: expected whole"),
        ("[test.queue]\nprobe_interval_seconds = 0\n", "test.queue.probe_interval_seconds: expected 1–3600"),
        (
            "[test.queue]\nretry_window_seconds = '1d'\n",
            "test.queue.retry_window_seconds: expected an integer, got '1d'",
        ),
        ("[test.queue]\nmax_receive_count = 5\n", "test.queue.max_receive_count: unknown key"),
        ("[test.queue]\ndlq_retention_seconds = 60\n", "test.queue.dlq_retention_seconds: must exceed"),
        ("[test.queue]\nretention_seconds = 86400\n", "test.queue.retry_window_seconds: an event may wait"),
        ("[test.queue]\nin_flight_limit = 0\n", "test.queue.in_flight_limit: expected 1–120000 (SQS's in-flight"),
        ("[test.queue]\nin_flight_limit = 120001\n", "test.queue.in_flight_limit: expected 1–120000"),
        ("[test.queue]\nin_flight_limit = '120k'\n", "test.queue.in_flight_limit: expected an integer, got '120k'"),
        (
            "[test.queue]\nin_flight_limit = 1009\n",
            "test.queue.in_flight_limit: expected at least 1010 (the consumer's maximum_concurrency 10 × batch size "
            "100 + 10): below it the consumer alone could stall the queue",
        ),
        ("[test.monitoring]\nretry_window_alarm_share = 1\n", "test.monitoring.retry_window_alarm_share: expected"),
        ("[test.api]\nrate_limt = 5\n", "test.api.rate_limt: unknown key"),
        ("[test.table]\nbilling = 'free'\n", "test.table.billing: expected one of 'on-demand', 'provisioned'"),
        ("[test.table]\nttl_days = -1\n", "test.table.ttl_days: expected 0 (keep items) to 36500 days"),
        ("[test.table]\nttl_days = 30\n", "test.table.ttl_days: expires items for good: set sinks"),
        ('sinks = ["kafka"]\n', "test.sinks: expected one or both of dynamodb, s3, each once, got ['kafka']"),
        ("sinks = []\n", "test.sinks: expected one or both of dynamodb, s3"),
        ("[test.notifications]\nbusiness_hours = '17:00-09:00'\n", "test.notifications.business_hours"),
        ("[test.api]\nmax_event_bytes = 500000\n", "test.api.max_event_bytes: expected 1–300000"),
        ("[test.functions.reporter]\nmemory_mb = 512\n", "test.functions.reporter.timeout_seconds: missing"),
        ("[test.monitoring]\napi_5xx_rate_percent = 0\n", "test.monitoring.api_5xx_rate_percent: expected a percent"),
        ("[test.monitoring]\napi_4xx_rate_percent = 101\n", "test.monitoring.api_4xx_rate_percent: expected a"),
        ("[test.monitoring]\napi_latency_p99_ms = 30000\n", "test.monitoring.api_latency_p99_ms: expected 1 to"),
        ("[test.monitoring]\nmin_requests_per_period = 0\n", "test.monitoring.min_requests_per_period: expected"),
        ("[test.monitoring]\nrunbook_url = 'http://wiki/runbook'\n", "test.monitoring.runbook_url: expected an"),
        ("[test.monitoring]\nrunbook_url = 'docs/runbook.md#top'\n", "test.monitoring.runbook_url: expected an"),
        ("[test.monitoring]\navailability_slo_percent = 100\n", "test.monitoring.availability_slo_percent: expected"),
        ("[test.monitoring]\navailability_slo_percent = '3 nines'\n", "availability_slo_percent: expected a number"),
        ("[test.monitoring]\nperiod_seconds = 0\n", "test.monitoring.period_seconds: expected a positive number"),
        ("[test.monitoring]\nslo_window_seconds = 3600\n", "test.monitoring.slo_window_seconds: expected at least"),
        ("[test.monitoring]\nslo_window_seconds = 8640000\n", "slo_window_seconds: its slow-burn window (864000 s"),
        (
            "[test.monitoring]\nperiod_seconds = 10\nslo_window_seconds = 30000\n",
            "windows of 40 s, not an alarm period",
        ),
        ("[test.canary]\ninterval_seconds = 90\n", "test.canary.interval_seconds: expected a multiple of 60"),
        ("[test.canary]\ndeadline_seconds = 60\n", "test.canary.deadline_seconds: expected 1 ≤ deadline <"),
        ("[test.canary]\ndeadline_seconds = 40\ninterval_seconds = 120\n", "test.canary.deadline_seconds: must leave"),
        ("[test.canary]\nttl_hours = 0\n", "test.canary.ttl_hours: expected 1–8760"),
        ("[test.canary]\nenabled = 'yes'\n", "test.canary.enabled: expected true or false"),
        ("[test.analytics]\ns3_only_batch_size = 20000\n", "test.analytics.s3_only_batch_size: expected 1–10000"),
        (
            "[test.analytics]\ns3_only_batching_window_seconds = 0\n",
            "test.analytics.s3_only_batching_window_seconds: a batch size above 10 needs",
        ),
        (
            'sinks = ["s3"]\n[test.analytics]\ns3_only_batching_window_seconds = 30\n',
            "test.canary.deadline_seconds: must exceed the consumer's batching window (30 s)",
        ),
        ("[test.producers.default]\nrate_limit = 1\nburst_limit = 1\n", "test.producers.default: 'default' is taken"),
        ("[test.producers.Big_Co]\nrate_limit = 1\nburst_limit = 1\n", "test.producers.Big_Co: expected a class name"),
        ("[test.producers.slow]\nrate_limit = 0\nburst_limit = 1\n", "test.producers.slow.rate_limit: expected a pos"),
        ("[test.producers.slow]\nrate_limit = 1\n", "test.producers.slow.burst_limit: missing"),
        (
            "[test.producers.slow]\nrate_limit = 1\nburst_limit = 1\nquota_period = 'YEAR'\n",
            "test.producers.slow.quota_period: expected one of 'DAY', 'MONTH', got 'YEAR'",
        ),
        (
            "[test.producers.slow]\nrate_limit = 1\nburst_limit = 1\nquota_period = 'MONTH'\n",
            "test.producers.slow.quota_period: set without quota_limit, so no quota would apply",
        ),
    ],
)
def test_a_wrong_value_is_one_line_naming_the_key(tmp_path, override, expected):
    # GIVEN a configuration with one wrong value in environment "test"
    path = write_config(tmp_path, "[test]\n" + override)
    # WHEN it is loaded
    with pytest.raises(ConfigError) as raised:
        load_config("test", path)
    # THEN the error is a single line that names the key
    message = str(raised.value)
    assert expected in message
    assert "\n" not in message


def test_a_new_environment_table_is_discovered_and_loads(tmp_path):
    # GIVEN sluice.toml with one more environment table
    path = write_config(tmp_path, '[staging]\n[staging.notifications]\nhigh_emails = ["oncall@corp.example"]\n')
    # WHEN the environments are listed THEN it is among them (so the template tests and golden files cover it)
    assert environment_names(path) == ("dev", "local", "prod", "staging")
    assert load_config("staging", path).stack_name == "sluice-staging"


def test_unknown_environment_and_missing_file_are_clear(tmp_path):
    # GIVEN no such environment / no such file WHEN loading THEN one clear line each
    with pytest.raises(ConfigError, match="no environment 'staging' \\(known: dev, local, prod\\)"):
        load_config("staging")
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config("local", tmp_path / "missing.toml")


def test_broken_toml_is_reported_without_a_traceback(tmp_path):
    # GIVEN a file that is not TOML WHEN loading THEN ConfigError says so
    path = tmp_path / "sluice.toml"
    path.write_text("[local\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config("local", path)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_outside_local_someone_must_be_paged(tmp_path, env):
    # GIVEN an environment outside local whose high tier has no subscriber
    nobody = "high_emails = []\nhigh_https_endpoints = []\nlow_emails = ['team@corp.test']\n"
    path = write_config(tmp_path, f"[{env}.notifications]\n{nobody}")
    # WHEN it is loaded THEN it is refused in one line that says what to set
    with pytest.raises(ConfigError) as raised:
        load_config(env, path)
    message = str(raised.value)
    assert f"{env}.notifications.high_emails: " in message and "high_https_endpoints" in message
    assert "\n" not in message


def test_an_https_subscriber_alone_is_enough_and_local_needs_none(tmp_path):
    # GIVEN prod paging one HTTPS endpoint, and local paging nobody
    path = write_config(
        tmp_path, "[prod.notifications]\nhigh_emails = []\nhigh_https_endpoints = ['https://pager.corp.test/hook']\n"
    )
    # WHEN loaded THEN both are accepted
    assert load_config("prod", path).notifications.high_https_endpoints == ("https://pager.corp.test/hook",)
    assert load_config("local", path).notifications.high_emails == ()


def test_an_https_subscriber_must_be_https(tmp_path):
    path = write_config(tmp_path, "[prod.notifications]\nhigh_https_endpoints = ['http://pager.corp.test/hook']\n")
    with pytest.raises(ConfigError, match=r"prod.notifications.high_https_endpoints: expected https:// URLs"):
        load_config("prod", path)


def test_only_the_local_stack_runs_the_canary_faster_than_a_minute(tmp_path):
    # GIVEN the committed configuration THEN local runs the canary every few seconds, AWS environments every minute
    assert load_config("local").canary.interval_seconds < 60
    assert all(load_config(env).canary.interval_seconds % 60 == 0 for env in environment_names() if env != "local")
    # AND a sub-minute interval anywhere but local is one clear line
    with pytest.raises(ConfigError, match=r"dev\.canary\.interval_seconds: expected a multiple of 60"):
        load_config("dev", write_config(tmp_path, "[dev.canary]\ninterval_seconds = 5\ndeadline_seconds = 4\n"))


def test_an_s3_only_consumer_takes_the_analytics_stores_bigger_batches(tmp_path):
    # GIVEN the same environment with the table among its sinks and without it
    path = write_config(tmp_path, '[both]\nsinks = ["dynamodb", "s3"]\n[s3only]\nsinks = ["s3"]\n')
    both, s3_only = load_config("both", path), load_config("s3only", path)
    # WHEN their consumer mappings are read
    # THEN with the table the consumer keeps mappings.consumer (events readable within a second or two)
    assert (both.mapping("consumer").batch_size, both.mapping("consumer").batching_window_seconds) == (100, 1)
    # AND without it takes analytics.s3_only_* (fewer objects and invocations), keeping its concurrency
    consumer = s3_only.mapping("consumer")
    assert (consumer.batch_size, consumer.batching_window_seconds) == (1000, 10)
    assert consumer.maximum_concurrency == both.mapping("consumer").maximum_concurrency
    # AND the archiver's mapping never changes
    assert s3_only.mapping("archiver") == s3_only.mappings["archiver"]


def test_the_in_flight_limit_is_sqss_quota_except_locally_where_a_test_can_reach_it():
    # GIVEN the committed configuration WHEN each environment is loaded
    limits = {env: load_config(env).queue.in_flight_limit for env in environment_names()}
    # THEN AWS environments state SQS's quota for a standard queue, and local a limit a few hundred events reach
    assert limits == {"dev": 120_000, "local": 500, "prod": 120_000}
    # AND each leaves room for everything its consumer's mapping can hold in flight, plus one receive of 10
    for env in environment_names():
        mapping = load_config(env).mapping("consumer")
        assert limits[env] >= mapping.maximum_concurrency * mapping.batch_size + 10


def test_the_in_flight_limit_must_hold_what_an_s3_only_consumer_holds_in_flight(tmp_path):
    # GIVEN an S3-only environment, whose consumer takes batches of 1000 with concurrency 10, and a limit of 5000
    path = write_config(tmp_path, '[s3only]\nsinks = ["s3"]\n[s3only.queue]\nin_flight_limit = 5000\n')
    # WHEN it is loaded THEN it is refused in one line naming the key and the bound from the batches it deploys with
    with pytest.raises(ConfigError) as raised:
        load_config("s3only", path)
    message = str(raised.value)
    assert "s3only.queue.in_flight_limit: expected at least 10010 (" in message
    assert "\n" not in message


def test_the_default_producer_class_is_the_apis_throttle_and_classes_come_from_producers():
    # GIVEN the committed configuration WHEN the local environment is loaded
    config = load_config("local")
    # THEN the default class keeps today's per-key throttle (api.rate_limit, api.burst_limit) without a quota
    default = config.producer_classes["default"]
    api = config.api
    assert (default.rate_limit, default.burst_limit, default.quota_limit) == (api.rate_limit, api.burst_limit, 0)
    # AND each producers.<class> table is a class of its own
    assert config.producer_classes["partner"] == config.producers["partner"]
