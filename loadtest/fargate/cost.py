"""What a Fargate run costs before it starts: the load generator's tasks (ops/prices.toml [fargate]) and the
pipeline's own cost at the run's rate (the model of `invoke cost`, ops/cost.py)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from cloudformation.template import render
from core.config import Config
from loadtest.profiles import LoadProfile
from ops.cost import SECONDS_PER_HOUR, Inventory, Prices, Shape, Workload, estimate
from synth.synthesize import full_template


@dataclass(frozen=True)
class RunCost:
    tasks: int
    vcpu: float
    memory_gb: float
    seconds: float  # the run's hard time limit: the most it can be billed for
    fargate_usd: float
    events_per_second: float
    event_bytes: float
    pipeline_monthly_usd: float
    pipeline_run_usd: float

    @property
    def total_usd(self) -> float:
        return self.fargate_usd + self.pipeline_run_usd

    def lines(self) -> list[str]:
        return [
            f"Fargate: {self.tasks} tasks (1 master, {self.tasks - 1} workers) x {self.vcpu:g} vCPU / "
            f"{self.memory_gb:g} GB for at most {self.seconds:.0f} s: ${self.fargate_usd:,.4f}",
            f"pipeline at {self.events_per_second:,.1f} events/s of {self.event_bytes:,.0f} B: "
            f"${self.pipeline_monthly_usd:,.2f} per month (ops/cost.py); "
            f"this run's share: ${self.pipeline_run_usd:,.4f}",
            f"estimated cost of the run: ${self.total_usd:,.4f} (us-east-1 list prices, ops/prices.toml)",
        ]


def fargate_usd(prices: Prices, tasks: int, vcpu: float, memory_gb: float, seconds: float) -> float:
    """Per task: vCPU and GB requested, billed per second with the one-minute minimum."""
    billed = max(seconds, prices("fargate", "minimum_seconds"))
    per_hour = vcpu * prices("fargate", "vcpu_hour") + memory_gb * prices("fargate", "gb_hour")
    return tasks * per_hour * billed / SECONDS_PER_HOUR


def mean_event_bytes(profile: LoadProfile) -> float:
    total = sum(item.weight for item in profile.event_sizes)
    return sum(item.value * item.weight for item in profile.event_sizes) / total


def run_cost(
    config: Config,
    profile: LoadProfile,
    requests_per_second: float,
    workers: int,
    vcpu: float,
    memory_gb: float,
    seconds: float,
    prices: Prices | None = None,
) -> RunCost:
    prices = prices or Prices.load()
    per_request = profile.mean_events_per_request()
    events_per_second = requests_per_second * per_request
    event_bytes = mean_event_bytes(profile)
    hours_per_month = prices("meta", "hours_per_month")
    workload = Workload(events_per_second, math.ceil(event_bytes), hours_per_month)
    inventory = Inventory.from_template(json.loads(render(full_template(config))))
    shape = Shape("the load profile", max(1, round(per_request)), sinks=config.sinks)
    monthly = estimate(config, prices, workload, shape, inventory).total
    return RunCost(
        tasks=workers + 1,
        vcpu=vcpu,
        memory_gb=memory_gb,
        seconds=seconds,
        fargate_usd=fargate_usd(prices, workers + 1, vcpu, memory_gb, seconds),
        events_per_second=events_per_second,
        event_bytes=event_bytes,
        pipeline_monthly_usd=monthly,
        pipeline_run_usd=monthly * seconds / (hours_per_month * SECONDS_PER_HOUR),
    )
