"""What the running local stack shows its readers: the outputs file the operators' tools read and the banner, the
status the control API and the console serve (queues, counts, alarms, faults, mappings, functions, memory) and the
series the alarms read. local/stack/runtime.py wires the stack, builds this once every part runs and answers
RunningStack (local/console/running_stack.py) with it."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psutil
from botocore.client import BaseClient

from alarms.backtest import History
from alarms.definitions import Definitions
from alarms.history import aligned_window, lead_in_seconds, metric_stats, recording
from alarms.table import LOW_AT_ONCE, delivered_at_once, notified_tiers
from cloudformation import output_keys
from cloudformation.api import CLIENT_API_KEY_ID
from core.config import Config
from dashboards.catalog import build_catalog
from functions.common.archive import ARCHIVE_PREFIX
from functions.common.parked import BREAKER_FRESH_PROBES, BREAKER_KEY, PARKED_PREFIX, breaker_is_open
from local.console.running_stack import AlarmTransition
from local.deploying.deploy import LocalStack, clients
from local.emulation.process import MotoServer
from local.services.alarm_evaluator import AlarmEvaluator
from local.services.chaos import Chaos
from local.services.clock import LocalClock
from local.services.cloudwatch_reader import fetch_series
from local.services.lambdas import LocalFunction
from local.services.mapping_state import MappingState
from local.services.schedule import RateSchedule
from local.stack.ports import Ports
from local.stack.recovery import AdoptedMoto
from local.state import StatePaths
from ops import local_output_keys

EVALUATION_INTERVAL_SECONDS = 2.0


@dataclass(frozen=True)
class StackReadModel:
    """The started stack's parts, read (never changed) for its outputs, its banner and its status."""

    config: Config
    ports: Ports
    paths: StatePaths
    stack: LocalStack
    moto: MotoServer | AdoptedMoto
    started_at: float
    chaos: Chaos
    clock: LocalClock
    evaluator: AlarmEvaluator | None
    canary: RateSchedule | None
    mappings: Mapping[str, MappingState]  # by function: what switches its poller
    functions: Mapping[str, LocalFunction]

    def write_outputs(self, control_url: str) -> None:
        # The clients' key (the canary has its own, which the canary reads from API Gateway itself).
        key_id = self.stack.values.physical_id(CLIENT_API_KEY_ID)
        (key_value,) = [value for value, known_id in self.stack.api_keys.items() if known_id == key_id]
        outputs = {
            **self.stack.outputs,
            output_keys.API_URL: f"http://127.0.0.1:{self.ports.api}/{self.config.api.stage_name}",
            local_output_keys.API_KEY: key_value,
            output_keys.API_KEY_ID: key_id,
            local_output_keys.AWS_ENDPOINT: self.moto.endpoint_url,
            local_output_keys.REGION: self.config.region,
            local_output_keys.ENV: self.config.env,  # the configuration this stack runs: the operators' tools read it
            local_output_keys.CONTROL_URL: control_url,
            local_output_keys.CONSOLE_URL: control_url + "/",
            local_output_keys.STARTED_AT: self.started_at,
            local_output_keys.FUNCTIONS_LOG: str(self.paths.logs / "functions.log"),
            local_output_keys.NOTIFICATIONS_LOG: str(self.paths.notifications),
        }
        self.paths.outputs.write_text(json.dumps(outputs, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    def banner(self) -> str:
        outputs = json.loads(self.paths.outputs.read_text())
        return (
            "\nSluice local stack is up\n"
            f"  API        {outputs['ApiUrl']}/events   (x-api-key: see {self.paths.outputs})\n"
            f"  AWS        {outputs['AwsEndpoint']}   (any AWS client with --endpoint-url)\n"
            f"  console    {outputs['ConsoleUrl']}   (open it in a browser: dashboards, alarms, faults)\n"
            f"  control    {outputs['ControlUrl']}   (invoke status | invoke chaos | invoke down)\n"
            f"  logs       {self.paths.logs}/ (invoke logs [--errors] [--follow]; the last run's in previous/)\n"
            f"  alarms     {len(self.stack.alarms) + len(self.stack.composite_alarms)} evaluated every "
            f"{EVALUATION_INTERVAL_SECONDS:.0f} s\n"
        )

    def metric_history(self, start: float, end: float) -> dict[str, Any]:
        """Every series the alarms read over [start, end) (widened to periods, with the alarms' lead-in), as
        the local evaluator reads them: the recording `invoke load` keeps for `invoke alarms.backtest`."""
        definitions = Definitions(list(self.stack.alarms), list(self.stack.composite_alarms))
        stats = metric_stats(definitions)
        first, last = aligned_window(start, end, self.config.monitoring.period_seconds, lead_in_seconds(definitions))
        cloudwatch = clients(self.moto.endpoint_url, self.config.region)("cloudwatch")
        return recording(self.config.env, History(first, last, fetch_series(cloudwatch, stats, first, last)), stats)

    def status(self) -> dict[str, Any]:
        client = clients(self.moto.endpoint_url, self.config.region)
        outputs = self.stack.outputs
        sqs = client("sqs")
        queues = {}
        for label, key in (
            ("ingest", output_keys.QUEUE_URL),
            ("dead_letter", output_keys.DEAD_LETTER_QUEUE_URL),
            ("failures", output_keys.FAILURES_QUEUE_URL),
        ):
            attributes = sqs.get_queue_attributes(
                QueueUrl=outputs[key],
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            queues[label] = {
                "visible": int(attributes["ApproximateNumberOfMessages"]),
                "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
            }
        return {
            "endpoints": json.loads(self.paths.outputs.read_text()) if self.paths.outputs.exists() else {},
            "queues": queues,
            "in_flight_limit": self.config.queue.in_flight_limit,
            "table_items": _count_items(client("dynamodb"), outputs[output_keys.TABLE_NAME]),
            "archive_objects": _count_objects(client("s3"), outputs[output_keys.ARCHIVE_BUCKET], ARCHIVE_PREFIX),
            # what the consumer parked while the store fails, and its breaker's last word (functions/common/parked.py)
            "parked_objects": _count_objects(client("s3"), outputs[output_keys.ARCHIVE_BUCKET], PARKED_PREFIX),
            "breaker": _breaker_state(
                client("s3"),
                outputs[output_keys.ARCHIVE_BUCKET],
                BREAKER_FRESH_PROBES * self.config.queue.probe_interval_seconds * 1000,
            ),
            "alarms": self.evaluator.states() if self.evaluator else {},
            "chaos": {name: round(seconds, 1) for name, seconds in self.chaos.active().items()},
            "mappings": {name: "Disabled" if state.disabled() else "Enabled" for name, state in self.mappings.items()},
            "clock": {"now": self.clock.now().isoformat(), "shifted": self.clock.shifted},
            "canary": "off" if self.canary is None else "paused" if self.canary.paused else "running",
            "functions": {name: vars(function.stats()) for name, function in self.functions.items()},
            # resident memory of the runtime and of moto server, for soak runs: must stay flat
            "memory": {
                "runtime_rss_bytes": psutil.Process().memory_info().rss,
                "moto_rss_bytes": psutil.Process(self.moto.pid).memory_info().rss,
            },
        }


def alarm_tiers(config: Config) -> dict[str, str]:
    """Alarm name → the tier its actions notify (high, low, "low, at once" or none)."""
    catalog = build_catalog(config)
    at_once = delivered_at_once(config, catalog)
    notified = notified_tiers(config, catalog)
    return {name: LOW_AT_ONCE if name in at_once else tier or "none" for name, tier in notified.items()}


def transitions(
    previous: Mapping[str, str],
    current: Mapping[str, str],
    tiers: Mapping[str, str],
    evaluator: AlarmEvaluator,
    clock: LocalClock,
) -> list[AlarmTransition]:
    """The alarms whose state changed between two evaluation rounds, by name."""
    return [
        AlarmTransition(
            name,
            tiers.get(name, "none"),
            previous.get(name, ""),
            state,
            time.time(),
            evaluator.reason_of(name),
            clock_time=clock.now().timestamp(),
        )
        for name, state in sorted(current.items())
        if state != previous.get(name)
    ]


def _count_items(dynamodb: BaseClient, table: str) -> int:
    # moto's ItemCount is live (AWS refreshes it every few hours): no scan under load.
    return int(dynamodb.describe_table(TableName=table)["Table"]["ItemCount"])


def _count_objects(s3: BaseClient, bucket: str, prefix: str) -> int:
    paginator = s3.get_paginator("list_objects_v2")
    return sum(page.get("KeyCount", 0) for page in paginator.paginate(Bucket=bucket, Prefix=prefix))


def _breaker_state(s3: BaseClient, bucket: str, fresh_ms: int) -> str:
    """The consumers' breaker as the retrier reads it: "open" only while fresh; "closed" before any failure."""
    try:
        document = s3.get_object(Bucket=bucket, Key=BREAKER_KEY)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return "closed"
    return "open" if breaker_is_open(document, int(time.time() * 1000), fresh_ms) else "closed"
