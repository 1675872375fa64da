"""notifier: low-tier alarm and budget notifications, delivered during business hours only.

- SNS notification in business hours: first publish the digest of anything held (so people read
  notifications in the order they happened), then forward it at once to DESTINATION_TOPIC_ARN.
  If forwarding fails, it is held instead and goes out with the next digest.
- SNS notification outside business hours: held in HELD_TABLE_NAME.
- The schedule at the start of business hours (functions/notifier/schedule.py says which events are
  it): one digest of the held notifications is published, then exactly the items it included are
  deleted (never before the publish succeeded).
"""

from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from functions.common import aws, metric_names, powertools
from functions.common.clock import iso_millis, utc_now
from functions.notifier.config import load_settings
from functions.notifier.notification import Notification, clean_subject, digest, sns_notifications
from functions.notifier.schedule import schedule_moment

# Keeps one digest well under SNS's 256 KB message limit; more held items make more digests.
MAX_DIGEST_ITEMS = 100

SETTINGS = load_settings()
logger, tracer, metrics = powertools.handler_tools()
sns = aws.client("sns")
dynamodb = aws.client("dynamodb")


def now() -> datetime:
    """The clock; tests replace it."""
    return utc_now()


def hold(notification: Notification) -> None:
    dynamodb.put_item(TableName=SETTINGS.held_table_name, Item=notification.to_item())


def held_notifications() -> list[Notification]:
    """Everything held, oldest first."""
    pages = dynamodb.get_paginator("scan").paginate(TableName=SETTINGS.held_table_name, ConsistentRead=True)
    held = [Notification.from_item(item) for page in pages for item in page.get("Items", [])]
    return sorted(held, key=lambda notification: (notification.timestamp, notification.notification_id))


def forward(notification: Notification) -> bool:
    """Publish to the people's topic; False when SNS refused or could not be reached."""
    subject = clean_subject(notification.subject)
    try:
        sns.publish(
            TopicArn=SETTINGS.destination_topic_arn,
            Message=notification.message or "(empty notification)",
            **({"Subject": subject} if subject else {}),
        )
    except (BotoCoreError, ClientError):
        logger.exception("forwarding failed", extra={"notification_id": notification.notification_id})
        return False
    return True


@tracer.capture_method
def flush_held() -> int:
    """Publish the held notifications as digests and delete them; return how many went out.

    A publish failure raises with the not yet published notifications still held.
    """
    held = held_notifications()
    for start in range(0, len(held), MAX_DIGEST_ITEMS):
        included = held[start : start + MAX_DIGEST_ITEMS]
        subject, message = digest(included, SETTINGS.business_hours.text)
        sns.publish(TopicArn=SETTINGS.destination_topic_arn, Subject=subject, Message=message)
        for notification in included:
            dynamodb.delete_item(
                TableName=SETTINGS.held_table_name, Key={"notification_id": {"S": notification.notification_id}}
            )
    if held:
        logger.info("digest published", extra={"notifications": len(held)})
    return len(held)


def _deliver(notifications: list[Notification]) -> dict[str, int]:
    """Business hours: flush what is held, then forward; whatever cannot go out now is held."""
    try:
        digested = flush_held()
    except (BotoCoreError, ClientError):
        logger.exception("digest failed: holding the new notifications behind the older ones")
        for notification in notifications:
            hold(notification)
        return {"digested": 0, "forwarded": 0, "held": len(notifications)}
    forwarded = [notification for notification in notifications if forward(notification)]
    for notification in notifications:
        if notification not in forwarded:
            hold(notification)
    return {"digested": digested, "forwarded": len(forwarded), "held": len(notifications) - len(forwarded)}


def process(event: dict[str, Any], moment: datetime) -> dict[str, int]:
    """Handle one event at `moment`; return how many notifications were digested, forwarded, held."""
    due = schedule_moment(event, moment)
    if due is not None:
        return {"digested": flush_held() if SETTINGS.business_hours.contains(due) else 0, "forwarded": 0, "held": 0}
    notifications = sns_notifications(event)
    if SETTINGS.business_hours.contains(moment):
        return _deliver(notifications)
    for notification in notifications:
        hold(notification)
    return {"digested": 0, "forwarded": 0, "held": len(notifications)}


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """SNS low-tier notifications and the business-hours schedule (see the module docstring)."""
    moment = now()
    outcome = process(event if isinstance(event, dict) else {}, moment)
    logger.info("notifications handled", extra={**outcome, "at": iso_millis(moment)})
    metrics.add_metric(name=metric_names.NOTIFICATIONS_FORWARDED, unit=MetricUnit.Count, value=outcome["forwarded"])
    metrics.add_metric(name=metric_names.NOTIFICATIONS_HELD, unit=MetricUnit.Count, value=outcome["held"])
    metrics.add_metric(name=metric_names.NOTIFICATIONS_DIGESTED, unit=MetricUnit.Count, value=outcome["digested"])
    return outcome
