"""Low-tier notifications: read from SNS records, kept as table items, summed up in a digest.

CloudWatch alarm notifications carry a JSON message (AlarmName, NewStateValue, NewStateReason,
StateChangeTime, ...); AWS Budgets notifications are plain text. Both are handled.
"""

import re
from dataclasses import dataclass
from typing import Any

from functions.common.contract import SNS_SUBJECT_MAX_CHARS
from functions.common.errors import InvalidEventError
from functions.common.jsontext import loads

DETAIL_MAX_CHARS = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class Notification:
    notification_id: str
    """The SNS MessageId: a redelivered notification overwrites its held item instead of repeating."""
    message: str
    subject: str
    timestamp: str
    """When SNS published it (ISO 8601)."""

    def to_item(self) -> dict[str, dict[str, str]]:
        fields = {
            "notification_id": self.notification_id,
            "message": self.message,
            "subject": self.subject,
            "timestamp": self.timestamp,
        }
        # An empty subject or timestamp says nothing: leave the attribute out.
        return {name: {"S": value} for name, value in fields.items() if value}

    @classmethod
    def from_item(cls, item: dict[str, dict[str, str]]) -> "Notification":
        def text(name: str) -> str:
            return item.get(name, {}).get("S", "")

        return cls(text("notification_id"), text("message"), text("subject"), text("timestamp"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def sns_notifications(event: dict[str, Any]) -> list[Notification]:
    """The notifications of an SNS-triggered event; InvalidEventError when it is not one."""
    records = event.get("Records")
    if not isinstance(records, list) or not records:
        raise InvalidEventError("event is neither an SNS notification nor a scheduled event")
    notifications = []
    for position, record in enumerate(records):
        sns = record.get("Sns") if isinstance(record, dict) else None
        if not isinstance(sns, dict) or not _text(sns.get("MessageId")) or not isinstance(sns.get("Message"), str):
            raise InvalidEventError(f"record {position} is not an SNS notification with a MessageId and a Message")
        notifications.append(
            Notification(
                notification_id=sns["MessageId"],
                message=sns["Message"],
                subject=_text(sns.get("Subject")),
                timestamp=_text(sns.get("Timestamp")),
            )
        )
    return notifications


def clean_subject(subject: str) -> str:
    """An SNS Subject: one line, under 100 characters."""
    line = " ".join(_CONTROL.sub(" ", subject).split())
    return line if len(line) <= SNS_SUBJECT_MAX_CHARS else line[: SNS_SUBJECT_MAX_CHARS - 3] + "..."


def _shorten(text: str) -> str:
    text = text.strip()
    return text if len(text) <= DETAIL_MAX_CHARS else text[: DETAIL_MAX_CHARS - 3] + "..."


def _alarm(message: str) -> dict[str, Any] | None:
    try:
        data = loads(message)
    except ValueError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("AlarmName"), str) else None


def describe(notification: Notification) -> str:
    """Two lines for the digest: when, which alarm and its new state; then why."""
    alarm = _alarm(notification.message)
    if alarm is None:
        title = notification.subject or "notification"
        return f"- {notification.timestamp}  {title}\n  {_shorten(notification.message)}"
    when = alarm.get("StateChangeTime") or notification.timestamp
    state = alarm.get("NewStateValue", "?")
    return f"- {when}  {alarm['AlarmName']}  -> {state}\n  {_shorten(str(alarm.get('NewStateReason', '')))}"


def digest(notifications: list[Notification], business_hours: str) -> tuple[str, str]:
    """The (subject, message) of one digest of held notifications."""
    count = len(notifications)
    noun = "notification" if count == 1 else "notifications"
    subject = f"Sluice: {count} low-tier alarm {noun} held overnight"
    header = f"{count} low-tier {noun} arrived outside business hours ({business_hours}) and were held:"
    body = "\n".join(describe(notification) for notification in notifications)
    return subject, f"{header}\n\n{body}\n"
