"""The ingest function's settings, read once from the environment."""

from dataclasses import dataclass

from functions.common import env, env_names

# An event is stored whole in one DynamoDB item (≤ 400 KB) and, JSON-escaped inside an ASCII
# envelope (at most 3× its UTF-8 size), in one SQS message (≤ 1 MiB): 320 KiB fits both.
MAX_EVENT_BYTES_LIMIT = 320 * 1024
# Lambda's synchronous invocation payload limit.
MAX_BODY_BYTES_LIMIT = 6 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class IngestSettings:
    queue_url: str
    max_event_bytes: int
    max_body_bytes: int
    max_batch_events: int
    retry_after_seconds: int
    idempotency_table: str
    idempotency_seconds: int
    canary_api_key_id: str = ""  # requests with this API key get canary ids; empty: no canary


def load_settings() -> IngestSettings:
    return IngestSettings(
        queue_url=env.require(env_names.QUEUE_URL),
        max_event_bytes=env.integer(env_names.MAX_EVENT_BYTES, 262_144, minimum=2, maximum=MAX_EVENT_BYTES_LIMIT),
        max_body_bytes=env.integer(env_names.MAX_BODY_BYTES, 1_048_576, minimum=2, maximum=MAX_BODY_BYTES_LIMIT),
        max_batch_events=env.integer(env_names.MAX_BATCH_EVENTS, 500, minimum=1, maximum=10_000),
        # The Retry-After of a 503 (api.retry_after_seconds): the template always sets it, so no default here.
        retry_after_seconds=env.integer(env_names.RETRY_AFTER_SECONDS, None, minimum=1, maximum=3600),
        idempotency_table=env.require(env_names.IDEMPOTENCY_TABLE_NAME),
        # How long an Idempotency-Key is remembered with its request's fingerprint (api.idempotency_key_hours).
        idempotency_seconds=env.integer(env_names.IDEMPOTENCY_SECONDS, 86_400, minimum=60, maximum=7 * 86_400),
        canary_api_key_id=env.optional(env_names.CANARY_API_KEY_ID, ""),
    )
