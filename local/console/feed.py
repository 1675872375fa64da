"""The notification feed, as people get it: a high-tier alarm transition pages at once (HighTopic); a
low-tier one goes through the notifier — forwarded at once in business hours, otherwise held until they
start, when the digest below goes out (the notifier's own `digest`, read from its held-notifications table);
a low alarm that must not wait (undelivered pages: LOW_AT_ONCE) goes straight to the low tier's people.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.client import BaseClient

from alarms.table import LOW_AT_ONCE
from core.config import NotificationsConfig
from functions.notifier.hours import BusinessHours, parse_business_hours
from functions.notifier.notification import Notification, digest
from local.services.notifications import SentDigest
from local.services.schedule import next_start


def business_hours(settings: NotificationsConfig) -> BusinessHours:
    return parse_business_hours(",".join(settings.business_days), settings.business_hours, settings.business_timezone)


def delivery(
    tier: str, at: float, settings: NotificationsConfig, sent: Sequence[SentDigest] = (), real_time: float | None = None
) -> str:
    """How a transition's notification reaches people: `at` is the business-hours clock's time of the transition,
    `real_time` its real time, to find the digest (of `sent`) that carried a held one."""
    if tier == "high":
        return "paged now (high tier)"
    if tier == LOW_AT_ONCE:
        return "sent now to the low tier's people, at any hour (never held)"
    moment = datetime.fromtimestamp(at, UTC)
    if business_hours(settings).contains(moment):
        return "forwarded now (low tier, business hours)"
    carried = next((digest for digest in sent if digest.real_time >= (at if real_time is None else real_time)), None)
    if carried is not None:
        return f"held, then sent in the digest of {carried.at.astimezone(UTC):%a %H:%M} UTC (low tier)"
    return f"held until {next_start(settings, moment):%a %H:%M} UTC (low tier, outside business hours)"


def feed(
    transitions: Iterable[Mapping[str, Any]], settings: NotificationsConfig, sent: Sequence[SentDigest] = ()
) -> list[dict[str, Any]]:
    """Newest first: every transition that notifies someone, and how (`sent`: the digests sent so far, oldest
    first). Business hours are judged on the local clock's time of the transition when it has one."""
    items = [
        {
            **transition,
            "delivery": delivery(
                transition["tier"],
                transition.get("clock_time") or transition["time"],
                settings,
                sent,
                transition["time"],
            ),
        }
        for transition in transitions
        if transition["tier"] in ("high", "low", LOW_AT_ONCE) and transition["old"]
    ]
    return sorted(items, key=lambda item: item["time"], reverse=True)


def last_sent(sent: Sequence[SentDigest]) -> dict[str, Any] | None:
    """The last digest sent, for the console: when (the local clock's time) and how many it carried."""
    if not sent:
        return None
    return {"at": sent[-1].at.isoformat(), "notifications": sent[-1].notifications}


def pending_digest(dynamodb: BaseClient, table: str, settings: NotificationsConfig, now: datetime) -> dict[str, Any]:
    """The digest the notifier would publish at the next start of business hours, from what it holds."""
    pages = dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    held = sorted(
        (Notification.from_item(item) for page in pages for item in page.get("Items", [])),
        key=lambda notification: (notification.timestamp, notification.notification_id),
    )
    if not held:
        return {"held": 0, "at": None, "subject": None, "message": None}
    subject, message = digest(held, business_hours(settings).text)
    return {"held": len(held), "at": next_start(settings, now).isoformat(), "subject": subject, "message": message}
