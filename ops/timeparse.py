"""Times typed by an operator (`--since`, `--until`): ISO 8601, UTC unless an offset is given."""

from __future__ import annotations

from datetime import UTC, datetime

from ops.errors import OpsError


def parse_time(text: str, option: str) -> datetime:
    """`2026-11-25`, `2026-11-25T19:00`, `2026-11-25T19:00:00Z` or with an offset → an aware UTC datetime."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise OpsError(f"{option}: not an ISO 8601 time: {text!r} (e.g. 2026-11-25T19:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_window(since: str, until: str | None, now: datetime | None = None) -> tuple[datetime, datetime]:
    """`--since` and `--until` (default: now), checked to be in order."""
    start = parse_time(since, "--since")
    end = parse_time(until, "--until") if until else (now or datetime.now(UTC))
    if end <= start:
        raise OpsError(f"--until ({iso(end)}) must be after --since ({iso(start)})")
    return start, end


def iso(moment: datetime) -> str:
    """The one text format Sluice stores times in: `2026-11-25T19:20:03.123Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
