"""The values the Lambda code shares with the template, the operator tools, the local stack and the load tests,
each named once. functions/ is the bottom layer and every function's zip carries functions/common, so the others
import these from here (the environment variables' names are in functions/common/env_names.py)."""

# The message attribute that says why a message was dead-lettered: the consumer and the retrier set it, the
# archiver keeps it beside the event.
DEAD_LETTER_REASON_ATTRIBUTE = "dead_letter_reason"

# Ingest gives canary event ids this prefix (only for the canary's own API key); the canary's IAM policy lets it
# read only items (dynamodb:LeadingKeys) and objects whose id starts with it.
CANARY_ID_PREFIX = "canary-"
# The table attribute that marks a canary item (the consumer writes it, reconciliation skips such items).
CANARY_ATTRIBUTE = "canary"
# The events table's TTL attribute, epoch seconds: the table's TimeToLiveSpecification names it, the consumer's
# item codec writes it. DynamoDB deletes an item some time after it passed.
EXPIRES_AT_ATTRIBUTE = "expires_at"

# The S3 analytics store: the consumer writes its objects under this prefix (the Glue table's location).
ANALYTICS_PREFIX = "events"
# Without the table the consumer writes each canary event under this prefix instead, where the canary reads it back:
# beside (not in) the analytics prefix, so queries never see it.
ANALYTICS_CANARY_PREFIX = "canary"
# The fields of a JSON Lines line, in the Glue table's column order; every one is a string (or null).
ANALYTICS_COLUMNS = (
    "event_id",
    "received_at",
    "raw",
    "source_ip",
    "user_agent",
    "api_key_id",
    "request_id",
    "trace_id",
)

# The notifier's schedule Input, which the template sends and the notifier recognises:
# {"sluice": "flush-held-notifications", "scheduled_time": <the time the run was due, filled in by Scheduler>}
NOTIFIER_SCHEDULE_KEY = "sluice"
NOTIFIER_FLUSH_ACTION = "flush-held-notifications"
NOTIFIER_SCHEDULED_TIME_KEY = "scheduled_time"

# Business days as the configuration spells them, in `datetime.weekday()` order (Monday = 0).
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# SNS Publish: "Subjects must be UTF-8 text with no line breaks or control characters, and less than 100
# characters long" (botocore's sns model, PublishInput.Subject).
SNS_SUBJECT_MAX_CHARS = 99

# Ingest's EMF records carry the request's API key id in PRODUCER_FIELD and the counts again as plain numbers (EMF
# writes a metric's values as a list): metadata, not dimensions, so no metric per key. The operations dashboard's
# "Who is sending?" Logs Insights query sums the counts by key id.
PRODUCER_FIELD = "api_key_id"
PRODUCER_ACCEPTED_FIELD = "events_accepted"
PRODUCER_REJECTED_FIELD = "events_rejected"
NO_KEY = "(no key)"  # a request without an API key (only the local stack's tests send one)
