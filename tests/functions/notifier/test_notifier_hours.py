"""Business hours across days, boundaries, time zones and daylight saving time."""

from datetime import UTC, datetime

import pytest

from functions.notifier.hours import parse_business_hours

HOURS = parse_business_hours("Mon,Tue,Wed,Thu,Fri", "09:00-17:00", "Europe/Berlin")


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (datetime(2026, 11, 30, 8, 0, tzinfo=UTC), True),  # Monday 09:00 CET: start is inclusive
        (datetime(2026, 11, 30, 7, 59, tzinfo=UTC), False),  # Monday 08:59 CET
        (datetime(2026, 11, 27, 15, 59, tzinfo=UTC), True),  # Friday 16:59 CET
        (datetime(2026, 11, 27, 16, 0, tzinfo=UTC), False),  # Friday 17:00 CET: end is exclusive
        (datetime(2026, 11, 28, 10, 0, tzinfo=UTC), False),  # Saturday
        (datetime(2026, 7, 6, 7, 30, tzinfo=UTC), True),  # Monday 09:30 CEST (UTC+2)
        (datetime(2026, 7, 6, 15, 30, tzinfo=UTC), False),  # Monday 17:30 CEST
    ],
)
def test_contains(moment: datetime, inside: bool) -> None:
    # GIVEN Mon-Fri 09:00-17:00 in Berlin / WHEN asked about a UTC moment / THEN local time decides
    assert HOURS.contains(moment) is inside


def test_day_names_are_case_insensitive() -> None:
    # GIVEN / WHEN days written in any case and spacing
    hours = parse_business_hours(" sat , SUN ", "10:00-12:00", "UTC")
    # THEN they are the weekend
    assert hours.days == frozenset({5, 6})
