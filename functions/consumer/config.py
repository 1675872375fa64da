"""The consumer's settings, read once from the environment."""

from dataclasses import dataclass

from functions.common import env, env_names
from functions.common.contract import ANALYTICS_PREFIX
from functions.common.errors import ConfigError

SINKS = frozenset({"dynamodb", "s3"})


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    sinks: frozenset[str]  # where events are stored: the table, the S3 analytics store, or both
    table_name: str  # "" without the table
    analytics_bucket: str  # "" without the S3 analytics store
    analytics_prefix: str
    queue_url: str
    dead_letter_queue_url: str
    parking_bucket: str  # where events the store did not take wait (functions/common/parked.py)
    retry_window_seconds: int  # from acceptance: an event not stored by then goes to the DLQ
    probe_interval_seconds: int  # while the store fails, one real attempt per interval per execution environment
    ttl_days: int | None  # table.ttl_days: items expire that long after they were received; None keeps them
    canary_ttl_seconds: int  # a canary event's lifetime in the store


def load_settings() -> ConsumerSettings:
    sinks = frozenset(env.optional(env_names.SINKS, "dynamodb").split(","))
    if sinks - SINKS:  # "," splits to {""}: refused too
        raise ConfigError(
            f"environment variable {env_names.SINKS} must name dynamodb and/or s3, got {','.join(sorted(sinks))!r}"
        )
    return ConsumerSettings(
        sinks=sinks,
        table_name=env.require(env_names.TABLE_NAME) if "dynamodb" in sinks else "",
        analytics_bucket=env.require(env_names.ANALYTICS_BUCKET) if "s3" in sinks else "",
        analytics_prefix=env.optional(env_names.ANALYTICS_PREFIX, ANALYTICS_PREFIX),
        queue_url=env.require(env_names.QUEUE_URL),
        dead_letter_queue_url=env.require(env_names.DEAD_LETTER_QUEUE_URL),
        parking_bucket=env.require(env_names.PARKING_BUCKET),
        retry_window_seconds=env.integer(env_names.RETRY_WINDOW_SECONDS, 86_400, minimum=1, maximum=14 * 86_400),
        probe_interval_seconds=env.integer(env_names.BREAKER_PROBE_SECONDS, 30, minimum=1, maximum=3600),
        ttl_days=env.integer(env_names.TABLE_TTL_DAYS, 0, minimum=0, maximum=36500) or None,
        canary_ttl_seconds=env.integer(env_names.CANARY_TTL_SECONDS, 86_400, minimum=3600, maximum=366 * 86_400),
    )
