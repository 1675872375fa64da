"""The configuration: every environment loads; any wrong value is one line naming the key."""

from pathlib import Path

import pytest

from cloudformation.config import ENVIRONMENTS, ConfigError, load_config

REAL_CONFIG = Path(__file__).resolve().parents[2] / "sluice.toml"


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sluice.toml"
    path.write_text(REAL_CONFIG.read_text() + "\n" + text)
    return path


@pytest.mark.parametrize("env", ENVIRONMENTS)
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
        ("[test.queue]\nretry_window_seconds = 600\n", "test.queue.retry_window_seconds: 600 s gives 4 receives;"),
        ("[test.queue]\nretry_window_seconds = 60\n", "test.queue.retry_window_seconds: expected at least one"),
        (
            "[test.queue]\nretry_window_seconds = '1d'\n",
            "test.queue.retry_window_seconds: expected an integer, got '1d'",
        ),
        ("[test.queue]\nmax_receive_count = 5\n", "test.queue.max_receive_count: unknown key"),
        ("[test.queue]\ndlq_retention_seconds = 60\n", "test.queue.dlq_retention_seconds: must exceed"),
        ("[test.queue]\nretention_seconds = 86400\n", "test.queue.retry_window_seconds: retries may last"),
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
        ("[test.monitoring]\nrunbook_url = 'http://wiki/runbook'\n", "test.monitoring.runbook_url: expected an"),
        ("[test.monitoring]\nrunbook_url = 'docs/runbook.md#top'\n", "test.monitoring.runbook_url: expected an"),
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
