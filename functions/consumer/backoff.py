"""The consumer's side of the retry schedule (cloudformation/retry.py builds it; the template passes it here).

RETRY_SCHEDULE lists the seconds a message stays invisible after each failed receive; the queue's
maxReceiveCount is one more. Each delay is jittered *downwards* by at most RETRY_JITTER_PERCENT, so
messages that failed together spread out and the schedule never exceeds what SQS accepts (12 h).
"""

import random
from dataclasses import dataclass

from functions.common import env
from functions.common.errors import ConfigError

SQS_MAX_VISIBILITY_SECONDS = 43_200


def jitter_floor(delay: int, jitter_percent: int) -> int:
    """The shortest delay jitter may turn `delay` into (the same integer arithmetic as the template's)."""
    return delay - delay * jitter_percent // 100


@dataclass(frozen=True)
class Backoff:
    delays: tuple[int, ...]
    jitter_percent: int

    @property
    def max_receive_count(self) -> int:
        return len(self.delays) + 1

    def visibility(self, receive_count: int, rng: random.Random | None = None) -> int | None:
        """Seconds to keep a message invisible after its failed receive `receive_count` (from 1); None on
        the last receive: the queue's own visibility timeout applies, then redrive dead-letters it."""
        if receive_count > len(self.delays):
            return None
        delay = self.delays[max(receive_count, 1) - 1]
        return (rng or random).randint(jitter_floor(delay, self.jitter_percent), delay)


def parse_backoff(schedule: str, jitter_percent: int) -> Backoff:
    """A Backoff from RETRY_SCHEDULE's text ("12,24,48"); ConfigError names what is wrong."""
    try:
        delays = tuple(int(part) for part in schedule.split(","))
    except ValueError:
        raise ConfigError(
            f"environment variable RETRY_SCHEDULE must be comma-separated seconds, got {schedule!r}"
        ) from None
    if not all(1 <= delay <= SQS_MAX_VISIBILITY_SECONDS for delay in delays):
        raise ConfigError(f"environment variable RETRY_SCHEDULE: every delay must be 1–43200 s, got {schedule!r}")
    return Backoff(delays, jitter_percent)


def backoff_from_environment() -> Backoff:
    return parse_backoff(env.require("RETRY_SCHEDULE"), env.integer("RETRY_JITTER_PERCENT", 10, minimum=0, maximum=99))
