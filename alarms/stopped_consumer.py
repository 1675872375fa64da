"""How soon a consumer that stops without an error pages (`consumer-stopped`), derived from the configuration.

A mapping that polls receives a visible message within one batching window plus, when every worker is busy,
one invocation (the consumer's timeout). So a period in which messages were visible and none was received is
a period nobody polled — unless the message became visible just before the period ended. Retries do not look
like this: while the store fails the consumer keeps receiving (it parks what it cannot store in S3), and the
retrier unparks into a queue that is polled.

The alarm needs `periods` such periods in a row: enough to cover one batching window and one invocation, plus
one for a message that became visible at a period's end. It pages at most one period more after a message
became visible to nobody (the stop may begin anywhere in a period). A new event is visible at once — with the
canary on, a new event arrives every canary interval anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.config import Config


@dataclass(frozen=True)
class StoppedConsumerBound:
    periods: int  # consecutive periods with visible messages and no receive
    period_seconds: int
    reaction_seconds: int  # batching window + consumer timeout: the longest a polling mapping takes

    @property
    def page_within_seconds(self) -> int:
        """From the moment a message is visible to nobody to the alarm, before CloudWatch's metric delay."""
        return (self.periods + 1) * self.period_seconds

    def describe(self) -> str:
        """One line for `invoke synth` and the runbook."""
        return (
            f"consumer-stopped: pages within {self.page_within_seconds} s of a message visible to nobody "
            f"({self.periods} periods of {self.period_seconds} s without a receive cover a batching window and one "
            f"invocation ({self.reaction_seconds} s) and a message turning visible at a period's end, plus the period "
            f"the stop began in)"
        )


def stopped_consumer_bound(config: Config) -> StoppedConsumerBound:
    period = config.monitoring.period_seconds
    reaction = config.mappings["consumer"].batching_window_seconds + config.functions["consumer"].timeout_seconds
    return StoppedConsumerBound(
        periods=math.ceil(reaction / period) + 1,
        period_seconds=period,
        reaction_seconds=reaction,
    )
