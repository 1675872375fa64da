"""The local stack's event sources, which moto stores but never runs: the SQS pollers behind the event source
mappings (Enabled switches them, as on AWS), the SNS-to-notifier bridge, the business-hours digest schedule and the
retrier's and canary's rate schedules."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

from cloudformation import output_keys
from cloudformation.functions import event_source_mapping_id, schedule_id
from core.config import Config
from local.deploying.deploy import LocalStack
from local.services.chaos import Chaos
from local.services.clock import LocalClock
from local.services.lambdas import LocalFunction
from local.services.mapping_state import MappingState, find_mapping_uuid
from local.services.notifications import DigestLog, SnsToFunctionBridge
from local.services.pollers import SqsMapping, SqsPoller
from local.services.schedule import BusinessHoursSchedule, RateSchedule

# The faults that pause a function's event source mapping (local/services/chaos.py), by function.
PAUSE_FAULTS = {"consumer": "consumer-paused"}


@dataclass(frozen=True)
class EventSources:
    mappings: dict[str, MappingState]  # by function: what switches its poller
    digests: DigestLog  # the notifier, recording the digests it sends
    canary: RateSchedule | None  # the canary's schedule, when the environment runs it
    parts: list[Any]  # every started part, in the order started: stop them in reverse


def start_event_sources(
    config: Config,
    stack: LocalStack,
    functions: Mapping[str, LocalFunction],
    sqs: BaseClient,
    client: Callable[[str], BaseClient],
    chaos: Chaos,
    clock: LocalClock,
    notifications: Path,
) -> EventSources:
    """Start the pollers and schedules that call the stack's functions."""
    mappings: dict[str, MappingState] = {}
    parts: list[Any] = []
    started_canary: RateSchedule | None = None
    resources = stack.template["Resources"]
    outputs = stack.outputs
    queues = {
        "consumer": (output_keys.QUEUE_URL, output_keys.QUEUE_ARN),
        "archiver": (output_keys.DEAD_LETTER_QUEUE_URL, output_keys.DEAD_LETTER_QUEUE_ARN),
    }
    lambda_client = client("lambda")
    for name, (url_key, arn_key) in queues.items():
        props = resources[event_source_mapping_id(name)]["Properties"]
        mapping = SqsMapping(
            queue_url=outputs[url_key],
            queue_arn=outputs[arn_key],
            batch_size=int(props["BatchSize"]),
            batching_window_seconds=float(props["MaximumBatchingWindowInSeconds"]),
            report_batch_item_failures="ReportBatchItemFailures" in props["FunctionResponseTypes"],
            maximum_concurrency=int(props["ScalingConfig"]["MaximumConcurrency"]),
            region=config.region,
        )
        # The mapping's Enabled state (UpdateEventSourceMapping) switches the poller, as on AWS (moto never polls)
        uuid = find_mapping_uuid(lambda_client, functions[name].name, outputs[arn_key])
        state = MappingState(lambda_client, uuid)
        mappings[name] = state
        fault = PAUSE_FAULTS.get(name)
        paused = partial(_paused, state, partial(chaos.is_active, fault) if fault else lambda: False)
        poller = SqsPoller(mapping, functions[name], sqs, paused)
        poller.start()
        parts.append(poller)
    # The notifier records the digests it sends (the notifications log, the console)
    notifier = DigestLog(functions["notifier"], notifications, clock.now, outputs[output_keys.NOTIFY_TOPIC_ARN])
    bridge = SnsToFunctionBridge(outputs[output_keys.LOW_TOPIC_ARN], notifier, client("sqs"), client("sns"))
    bridge.start()
    parts.append(bridge)
    schedule = BusinessHoursSchedule(config.notifications, notifier, clock.now)
    schedule.start()
    parts.append(schedule)
    # The retrier's schedule: the template's rate is whole minutes; locally it runs every
    # queue.retrier_interval_seconds, like the canary's faster rate.
    retrier_target = resources[schedule_id("retrier")]["Properties"]["Target"]
    retrier = RateSchedule(
        "retrier",
        config.queue.retrier_interval_seconds,
        functions["retrier"],
        json.loads(retrier_target["Input"]),
    )
    retrier.start()
    parts.append(retrier)
    if config.canary.enabled:
        target = resources[schedule_id("canary")]["Properties"]["Target"]
        canary = RateSchedule(
            "canary", config.canary.interval_seconds, functions["canary"], json.loads(target["Input"])
        )
        canary.start()
        parts.append(canary)
        started_canary = canary
    return EventSources(mappings, notifier, started_canary, parts)


def _paused(mapping: MappingState, fault_active: Callable[[], bool]) -> bool:
    """A poller stops while its mapping is disabled or its pause fault (a stuck mapping) is active."""
    return mapping.disabled() or fault_active()
