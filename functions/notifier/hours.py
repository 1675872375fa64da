"""Business hours: which weekdays, which time of day, in which time zone."""

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from functions.common import env_names
from functions.common.contract import WEEKDAYS
from functions.common.errors import ConfigError

# A day's number (Monday = 0) by its name in any case: "Mon", "mon" and "MON" are Monday.
DAY_NUMBERS = {name.lower(): number for number, name in enumerate(WEEKDAYS)}


@dataclass(frozen=True, slots=True)
class BusinessHours:
    days: frozenset[int]
    """Weekday numbers, Monday = 0."""
    start: time
    end: time
    zone: ZoneInfo
    text: str
    """The configuration as people wrote it, for messages."""

    def contains(self, moment: datetime) -> bool:
        """Whether the timezone-aware `moment` falls in business hours (start inclusive, end exclusive)."""
        local = moment.astimezone(self.zone)
        return local.weekday() in self.days and self.start <= local.time() < self.end


def parse_business_hours(days: str, hours: str, zone: str) -> BusinessHours:
    """From BUSINESS_DAYS ("Mon,Tue,Wed,Thu,Fri"), BUSINESS_HOURS ("09:00-17:00") and BUSINESS_TIMEZONE."""
    names = [name.strip().lower() for name in days.split(",") if name.strip()]
    if not names or any(name not in DAY_NUMBERS for name in names):
        raise ConfigError(
            f"environment variable {env_names.BUSINESS_DAYS} must list days like Mon,Tue,Wed, got {days!r}"
        )
    try:
        start, end = (datetime.strptime(part.strip(), "%H:%M").time() for part in hours.split("-"))
    except ValueError:
        raise ConfigError(
            f"environment variable {env_names.BUSINESS_HOURS} must look like 09:00-17:00, got {hours!r}"
        ) from None
    if start >= end:
        raise ConfigError(f"environment variable {env_names.BUSINESS_HOURS} must end after it starts, got {hours!r}")
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"environment variable {env_names.BUSINESS_TIMEZONE} is not an IANA time zone: {zone!r}"
        ) from None
    return BusinessHours(
        days=frozenset(DAY_NUMBERS[name] for name in names),
        start=start,
        end=end,
        zone=tz,
        text=f"{days} {hours} {zone}",
    )
