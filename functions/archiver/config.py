"""The archiver's settings, read once from the environment."""

from dataclasses import dataclass

from functions.common import env, env_names
from functions.common.archive import ARCHIVE_PREFIX


@dataclass(frozen=True, slots=True)
class ArchiverSettings:
    bucket: str  # the archive bucket: one gzip JSON Lines object per dead-letter batch
    prefix: str


def load_settings() -> ArchiverSettings:
    return ArchiverSettings(
        bucket=env.require(env_names.ARCHIVE_BUCKET), prefix=env.optional(env_names.ARCHIVE_PREFIX, ARCHIVE_PREFIX)
    )
