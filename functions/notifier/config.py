"""The notifier's settings, read once from the environment."""

from dataclasses import dataclass

from functions.common import env
from functions.notifier.hours import BusinessHours, parse_business_hours


@dataclass(frozen=True, slots=True)
class NotifierSettings:
    held_table_name: str  # low-tier notifications held outside business hours
    destination_topic_arn: str  # where people subscribe to the low tier
    business_hours: BusinessHours


def load_settings() -> NotifierSettings:
    return NotifierSettings(
        held_table_name=env.require("HELD_TABLE_NAME"),
        destination_topic_arn=env.require("DESTINATION_TOPIC_ARN"),
        business_hours=parse_business_hours(
            env.require("BUSINESS_DAYS"), env.require("BUSINESS_HOURS"), env.require("BUSINESS_TIMEZONE")
        ),
    )
