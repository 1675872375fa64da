"""The notifier's settings, read once from the environment."""

from dataclasses import dataclass

from functions.common import env, env_names
from functions.notifier.hours import BusinessHours, parse_business_hours


@dataclass(frozen=True, slots=True)
class NotifierSettings:
    held_table_name: str  # low-tier notifications held outside business hours
    destination_topic_arn: str  # where people subscribe to the low tier
    business_hours: BusinessHours


def load_settings() -> NotifierSettings:
    return NotifierSettings(
        held_table_name=env.require(env_names.HELD_TABLE_NAME),
        destination_topic_arn=env.require(env_names.DESTINATION_TOPIC_ARN),
        business_hours=parse_business_hours(
            env.require(env_names.BUSINESS_DAYS),
            env.require(env_names.BUSINESS_HOURS),
            env.require(env_names.BUSINESS_TIMEZONE),
        ),
    )
