"""The names of the metrics the functions publish (in CloudWatch embedded metric format, through Powertools) and
the dashboards, alarms, operator tools and load tests read: each named once, here. The namespace itself is the
configuration's (core/config.py `Config.metrics_namespace`, set as POWERTOOLS_METRICS_NAMESPACE)."""

# What a function publishes under when POWERTOOLS_METRICS_NAMESPACE is unset (unit tests, benchmarks).
DEFAULT_NAMESPACE = "Sluice"

# The dimensions: Powertools adds `service` to every metric; EventsRejected carries its `reason` too.
SERVICE_DIMENSION = "service"
REASON_DIMENSION = "reason"

# ingest
EVENTS_ACCEPTED = "EventsAccepted"
BYTES_ACCEPTED = "BytesAccepted"
EVENTS_REJECTED = "EventsRejected"

# consumer
INGEST_LAG = "IngestLag"
EVENTS_STORED = "EventsStored"
WRITE_RETRIES = "WriteRetries"
ANALYTICS_OBJECTS_WRITTEN = "AnalyticsObjectsWritten"
ANALYTICS_SINK_ERRORS = "AnalyticsSinkErrors"
RECORDS_RECEIVED = "RecordsReceived"
EVENTS_WAITING_ON_RETRY = "EventsWaitingOnRetry"
BREAKER_OPEN = "BreakerOpen"
EVENTS_DEAD_LETTERED = "EventsDeadLettered"
EVENTS_WINDOW_SPENT = "EventsWindowSpent"
EVENTS_UNPARKED = "EventsUnparked"

# retrier
PARKED_OBJECTS = "ParkedObjects"
OLDEST_RETRY_AGE = "OldestRetryAge"
PARKED_OBJECTS_SENT = "ParkedObjectsSent"

# archiver
EVENTS_ARCHIVED = "EventsArchived"

# notifier
NOTIFICATIONS_FORWARDED = "NotificationsForwarded"
NOTIFICATIONS_HELD = "NotificationsHeld"
NOTIFICATIONS_DIGESTED = "NotificationsDigested"

# canary
CANARY_REQUESTS = "CanaryRequests"
CANARY_ACCEPTED = "CanaryAccepted"
CANARY_SUCCESS = "CanarySuccess"
CANARY_API_LATENCY = "CanaryApiLatency"
CANARY_END_TO_END = "CanaryEndToEnd"
