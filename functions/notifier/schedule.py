"""Which events are the business-hours schedule, and which moment each one stands for.

The template's EventBridge Scheduler schedule sends an explicit input, `{"sluice": "flush-held-notifications",
"scheduled_time": "<aws.scheduler.scheduled-time>"}`, whose last value Scheduler replaces with the time the
schedule was due. The envelopes AWS sends without an input are accepted too: EventBridge Scheduler's default
(`"source": "aws.scheduler"`, `detail` the string `"{}"`) and an EventBridge rule's (`"source": "aws.events"`).
"""

from datetime import datetime
from typing import Any

from functions.common.clock import parse_iso
from functions.common.contract import NOTIFIER_FLUSH_ACTION, NOTIFIER_SCHEDULE_KEY, NOTIFIER_SCHEDULED_TIME_KEY

SCHEDULE_SOURCES = ("aws.scheduler", "aws.events")


def schedule_moment(event: dict[str, Any], received: datetime) -> datetime | None:
    """The moment a schedule event was due, or None when `event` is not a schedule event.

    A retried or late delivery still counts for the business-hours start it was scheduled for; an event
    without a readable time stands for the moment it was `received`.
    """
    if event.get(NOTIFIER_SCHEDULE_KEY) == NOTIFIER_FLUSH_ACTION:
        stamp = event.get(NOTIFIER_SCHEDULED_TIME_KEY)
    elif event.get("source") in SCHEDULE_SOURCES and event.get("detail-type") == "Scheduled Event":
        stamp = event.get("time")
    else:
        return None
    try:
        return parse_iso(stamp) if isinstance(stamp, str) else received
    except ValueError:
        return received
