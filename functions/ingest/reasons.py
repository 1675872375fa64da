"""The `reason` values ingest counts EventsRejected under: its error codes, named here once so the dashboards'
catalog (dashboards/catalog.py) draws a series for each."""

# In the order the dashboards list them; the last two are the keyed-request refusals (functions/ingest/keyed.py).
REJECTION_REASONS = (
    "unsupported_media_type",
    "malformed_json",
    "body_too_large",
    "empty_batch",
    "batch_too_long",
    "not_an_object",
    "invalid_idempotency_key",
    "event_too_large",
    "queue_unavailable",
    "partially_accepted",
    "internal_error",
    "idempotency_key_reused",
    "request_in_progress",
)
