"""The notifier's digests, recorded where people look: the notifications log and the console (local/notifications)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.services.notifications import DigestLog

MOVED = datetime(2026, 11, 30, 9, 0, 5, tzinfo=UTC)  # the local clock, moved to a Monday morning
TOPIC = "arn:aws:sns:us-east-1:123456789012:sluice-local-notify"


class Notifier:
    name = "sluice-local-notifier"

    def __init__(self, *results: dict[str, int]) -> None:
        self.results = list(results)

    def invoke(self, event: Any) -> Any:
        return self.results.pop(0)


def test_a_sent_digest_is_one_line_in_the_notifications_log_at_the_local_clocks_time(tmp_path: Path) -> None:
    # GIVEN the notifier, recorded, with the local clock moved to Monday 09:00:05
    log = tmp_path / "logs" / "notifications.log"
    notifier = DigestLog(
        Notifier({"digested": 0, "forwarded": 0, "held": 1}, {"digested": 3}), log, lambda: MOVED, TOPIC
    )
    # WHEN it holds a notification (no digest), then the schedule makes it send a digest of three
    notifier.invoke({"Records": []})
    result = notifier.invoke({"source": "aws.scheduler"})
    # THEN the invocation's result is the notifier's own
    assert result == {"digested": 3}
    # AND exactly the digest is in the notifications log, at the moved clock's time, with the topic it went to
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines == [
        "2026-11-30T09:00:05Z  digest sent  [sluice-local-notify]  "
        "3 held low-tier notification(s) (the local clock's time)"
    ]
    # AND the console's record of it carries the same time and count
    (sent,) = notifier.sent
    assert (sent.at, sent.notifications) == (MOVED, 3)
    assert notifier.name == "sluice-local-notifier"
