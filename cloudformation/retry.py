"""The retry schedule of the ingest queue: how long a message that failed for a transient reason stays
invisible after each receive, so that retries spread over `queue.retry_window_seconds` without hammering
a dead database.

Pure and deterministic. The consumer receives the delays through its environment (RETRY_SCHEDULE) and
jitters each one *downwards* by at most `jitter_percent` (functions/consumer/backoff.py); the schedule is
built so that even the shortest jittered delays add up to the window. The queue's maxReceiveCount is one
more than the number of delays: the last receive comes at or after the window's end, and when it fails
too, redrive moves the message to the DLQ at its next receive.

SQS facts (botocore's sqs model, ChangeMessageVisibility; SQS Developer Guide, "Visibility timeout"):
a message's visibility timeout is 0–43,200 s (12 h) and cannot be extended beyond 12 hours *in total from
when it was received*; a value above the time left is refused, not clipped. The consumer sets the delay
at most one batching window plus one function timeout after the receive, so no delay exceeds 12 h minus
that (`max_delay_for`).
"""

from __future__ import annotations

from dataclasses import dataclass

SQS_MAX_VISIBILITY_SECONDS = 43_200
SQS_MAX_RECEIVE_COUNT = 1000  # RedrivePolicy maxReceiveCount, 1–1000
# AWS's guidance for Lambda event source mappings: a maxReceiveCount of at least 5, so that receives lost
# to throttled invocations do not dead-letter good messages.
MIN_RECEIVES = 5
JITTER_PERCENT = 10


def jitter_floor(delay: int, jitter_percent: int) -> int:
    """The shortest delay jitter may turn `delay` into (integer arithmetic: both sides agree exactly)."""
    return delay - delay * jitter_percent // 100


def max_delay_for(consumer_timeout_seconds: int, batching_window_seconds: int) -> int:
    """The longest visibility the consumer may set: 12 h counted from the receive, less the time that may
    have passed since it (the batching window and the invocation)."""
    return SQS_MAX_VISIBILITY_SECONDS - consumer_timeout_seconds - batching_window_seconds


@dataclass(frozen=True)
class RetrySchedule:
    delays: tuple[int, ...]
    """Seconds of invisibility after failed receive n (index n - 1), before jitter."""
    jitter_percent: int

    @property
    def max_receive_count(self) -> int:
        return len(self.delays) + 1

    @property
    def earliest_last_receive(self) -> int:
        """Seconds from the first receive to the last, with every delay jittered to its shortest."""
        return sum(jitter_floor(delay, self.jitter_percent) for delay in self.delays)

    @property
    def latest_last_receive(self) -> int:
        """The same with no jitter: the longest an event can wait on retries before its last receive."""
        return sum(self.delays)

    def describe(self) -> str:
        """One line for `invoke synth` and the docs, e.g. "12 s, 24 s, 48 s, 47 s → 5 receives"."""
        return f"{', '.join(f'{delay} s' for delay in self.delays)} → {self.max_receive_count} receives"

    def env_value(self) -> str:
        """The consumer's RETRY_SCHEDULE: the delays, comma-separated."""
        return ",".join(str(delay) for delay in self.delays)


def retry_schedule(
    window_seconds: int, first_delay: int, max_delay: int, jitter_percent: int = JITTER_PERCENT
) -> RetrySchedule:
    """Doubling delays from `first_delay`, capped at `max_delay`, the last one trimmed so that the shortest
    jittered delays just reach `window_seconds`."""
    if not (window_seconds >= 1 and 1 <= first_delay <= max_delay and 0 <= jitter_percent < 100):
        raise ValueError(f"invalid retry schedule inputs {window_seconds, first_delay, max_delay, jitter_percent}")
    delays: list[int] = []
    covered = 0
    while covered < window_seconds:
        nominal = min(first_delay * 2 ** len(delays), max_delay)
        delay = min(nominal, _shortest_reaching(window_seconds - covered, jitter_percent))
        delays.append(delay)
        covered += jitter_floor(delay, jitter_percent)
    return RetrySchedule(tuple(delays), jitter_percent)


def _shortest_reaching(remaining: int, jitter_percent: int) -> int:
    """The smallest delay whose jitter floor is at least `remaining`."""
    delay = -(-remaining * 100 // (100 - jitter_percent))
    while delay > 1 and jitter_floor(delay - 1, jitter_percent) >= remaining:
        delay -= 1
    while jitter_floor(delay, jitter_percent) < remaining:
        delay += 1
    return delay
