"""The keys of the stack's Outputs (cloudformation/template.py defines them), which the operator tools, the local
stack, the load tests and the tests read: each named once, here. The local stack's outputs file adds its own keys
(ops/local_output_keys.py)."""

API_URL = "ApiUrl"
API_ID = "ApiId"
API_KEY_ID = "ApiKeyId"
CANARY_API_KEY_ID = "CanaryApiKeyId"
TABLE_NAME = "TableName"  # only when `sinks` holds "dynamodb"
QUEUE_URL = "QueueUrl"
QUEUE_ARN = "QueueArn"
DEAD_LETTER_QUEUE_URL = "DeadLetterQueueUrl"
DEAD_LETTER_QUEUE_ARN = "DeadLetterQueueArn"
FAILURES_QUEUE_URL = "FailuresQueueUrl"
ARCHIVE_BUCKET = "ArchiveBucket"
HELD_NOTIFICATIONS_TABLE = "HeldNotificationsTable"
HIGH_TOPIC_ARN = "HighTopicArn"
LOW_TOPIC_ARN = "LowTopicArn"
NOTIFY_TOPIC_ARN = "NotifyTopicArn"
# Only when `sinks` holds "s3"
ANALYTICS_BUCKET = "AnalyticsBucket"
ANALYTICS_DATABASE = "AnalyticsDatabase"
ANALYTICS_WORK_GROUP = "AnalyticsWorkGroup"


def function_name_key(function_logical_id: str) -> str:
    """Each function's name: `IngestFunctionName` for the function whose logical id is `IngestFunction`."""
    return f"{function_logical_id}Name"
