"""The console's notification feed: how each alarm transition reaches people, and the digest held for
business hours — the notifier's own text."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from moto import mock_aws

from core.config import NotificationsConfig
from functions.notifier.notification import Notification
from local.console.feed import delivery, feed, last_sent, pending_digest
from local.services.notifications import SentDigest
from tests.aws_helpers import create_hash_table

HOURS = NotificationsConfig(("Mon", "Tue", "Wed", "Thu", "Fri"), "09:00-17:00", "UTC")
WEDNESDAY_NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()
SATURDAY_NOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC).timestamp()


def transition(alarm: str, tier: str, at: float, old: str = "OK", new: str = "ALARM") -> dict:
    return {"alarm": alarm, "tier": tier, "old": old, "new": new, "time": at, "reason": ""}


def test_high_tier_pages_at_once_and_low_tier_waits_for_business_hours():
    assert delivery("high", SATURDAY_NOON, HOURS) == "paged now (high tier)"
    assert delivery("low", WEDNESDAY_NOON, HOURS) == "forwarded now (low tier, business hours)"
    assert delivery("low", SATURDAY_NOON, HOURS).startswith("held until Mon 09:00 UTC")


def test_the_feed_lists_notifying_transitions_newest_first():
    # GIVEN the first evaluation of an alarm (no previous state), a tierless alarm and two real transitions
    transitions = [
        transition("a-high", "high", 1.0, old=""),
        transition("a-high", "high", 2.0),
        transition("b-none", "none", 3.0),
        transition("c-low", "low", WEDNESDAY_NOON),
    ]
    # THEN only the transitions that notify someone are listed, newest first
    assert [(item["alarm"], item["time"]) for item in feed(transitions, HOURS)] == [
        ("c-low", WEDNESDAY_NOON),
        ("a-high", 2.0),
    ]


@mock_aws
def test_the_pending_digest_is_the_notifiers_digest_of_what_it_holds():
    # GIVEN the notifier's held-notifications table with one held alarm notification
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    create_hash_table(dynamodb, "held", "notification_id")
    message = '{"AlarmName": "sluice-local-queue-age-low", "NewStateValue": "ALARM", "NewStateReason": "old"}'
    held = Notification("n-1", message, "ALARM: queue age", "2026-11-28T12:00:00Z")
    dynamodb.put_item(TableName="held", Item=held.to_item())
    # WHEN the console reads it on a Saturday
    digest = pending_digest(dynamodb, "held", HOURS, datetime.fromtimestamp(SATURDAY_NOON, UTC))
    # THEN it shows the digest that goes out on Monday at 09:00
    assert digest["held"] == 1 and digest["at"] == "2026-11-30T09:00:00+00:00"
    assert digest["subject"] == "Sluice: 1 low-tier alarm notification held overnight"
    assert "sluice-local-queue-age-low  -> ALARM" in digest["message"]


def test_a_held_notification_shows_the_digest_that_carried_it_once_sent():
    # GIVEN a low-tier alarm transition on Saturday (held), and the digest sent on Monday at 09:00
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    sent = [SentDigest(at=monday, real_time=SATURDAY_NOON + 10, notifications=1)]
    # WHEN the console shows the feed
    (item,) = feed([transition("c-low", "low", SATURDAY_NOON)], HOURS, sent)
    # THEN the transition reads sent in that digest, no longer held
    assert item["delivery"] == "held, then sent in the digest of Mon 09:00 UTC (low tier)"
    # AND the digest box names the last digest sent
    assert last_sent(sent) == {"at": "2026-11-30T09:00:00+00:00", "notifications": 1}
    assert last_sent([]) is None


def test_business_hours_are_judged_on_the_local_clock_of_the_transition():
    # GIVEN a transition at real Wednesday noon while the local clock read Saturday noon
    moved = {**transition("c-low", "low", WEDNESDAY_NOON), "clock_time": SATURDAY_NOON}
    # WHEN the console shows the feed THEN it is held, as the notifier held it on the local clock
    assert feed([moved], HOURS)[0]["delivery"].startswith("held until Mon 09:00 UTC")
