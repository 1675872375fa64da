"""The embedded local stack: moto server, the deployed template, the real handlers behind a local API
gateway and event-source pollers, the metrics publisher, the alarm evaluator and fault injection.

Run it with `invoke up` (foreground) or `python -m local.stack.runtime` (what the end-to-end tests start).
Everything listens on 127.0.0.1; Ctrl-C, SIGTERM, `invoke down` or POST /shutdown stop all of it.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import IO, Any, TextIO

from botocore.client import BaseClient

from cloudformation import output_keys
from cloudformation.api import events_request_schema
from cloudformation.functions import logical_id
from core.config import FUNCTION_NAMES, Config, ConfigError, load_config
from functions.common import env_names
from local.console.control import ControlServer
from local.console.running_stack import AlarmTransition
from local.deploying.deploy import LocalStack, clients, deploy
from local.emulation.process import MotoServer, start_moto, write_pidfile
from local.services.alarm_evaluator import AlarmEvaluator
from local.services.chaos import Chaos, find_clients
from local.services.clock import LocalClock
from local.services.dynamodb_metrics import DynamoDbObserver
from local.services.emf import EmfCapture
from local.services.gateway.proxy import ApiGateway, GatewaySettings, ThrottleLimits
from local.services.gateway.server import LocalGateway
from local.services.gateway.usage_plans import UsagePlans, plan_classes
from local.services.gateway.validation import body_validator
from local.services.lambdas import FunctionSettings, LocalFunction
from local.services.mapping_state import MappingState
from local.services.metrics import MetricSink, Publisher
from local.services.notifications import DigestLog
from local.services.schedule import RateSchedule
from local.services.sqs_metrics import QueueSampler, SqsObserver
from local.stack.event_sources import start_event_sources
from local.stack.logs import start_run_logs
from local.stack.ports import Ports, ensure_ports_free
from local.stack.read_model import EVALUATION_INTERVAL_SECONDS, StackReadModel, alarm_tiers, transitions
from local.stack.recovery import AdoptedMoto, load_stack, lock_state_folder, save_stack, surviving_moto
from local.state import StatePaths
from ops.local_credentials import LOCAL_CREDENTIALS_ENVIRONMENT
from ops.state_folder import DEFAULT_STATE_DIR

log = logging.getLogger(__name__)

METRICS_INTERVAL_SECONDS = 2.0
# The pipeline's faults hit the pipeline's calls: the notifier's own table is not the events table.
FAULT_TARGETS = ("ingest", "consumer", "archiver")


def environment_clients(name: str, module: ModuleType) -> list[BaseClient]:
    """The AWS clients of a function's new execution environment: those its module holds, and those it makes on
    first use, made now so that faults (db-down) and metrics reach them too: ingest's idempotency-table client,
    made on the first keyed request."""
    found = find_clients(module)
    if name == "ingest":
        found.append(module.keyed_requests().client)
    return found


@dataclass
class LocalRuntime:
    """Starts and stops every part of the local stack, in order."""

    config: Config
    ports: Ports
    paths: StatePaths
    console: TextIO = field(default_factory=lambda: sys.stdout)
    stack: LocalStack | None = None
    transitions: list[AlarmTransition] = field(default_factory=list)
    usage_plans: UsagePlans | None = None  # the gateway's keys and plans (GET /usage of the control API reads it)
    _moto: MotoServer | AdoptedMoto | None = None
    _lock: IO[str] | None = None
    _functions: dict[str, LocalFunction] = field(default_factory=dict)
    _stoppables: list[Any] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _capture: EmfCapture | None = None
    _capture_log: TextIO | None = None
    _metrics_log: TextIO | None = None
    _evaluator: AlarmEvaluator | None = None
    chaos: Chaos = field(default_factory=Chaos)
    canary: RateSchedule | None = None  # the canary's schedule, when the environment runs it
    digests: DigestLog | None = None  # the notifier, recording the digests it sends
    sink: MetricSink = field(default_factory=MetricSink)
    clock: LocalClock = field(default_factory=LocalClock)  # the notifier's business hours (POST /clock)
    started_at: float = field(default_factory=time.time)  # reset by start(): where graphs begin
    _tiers: dict[str, str] = field(default_factory=dict)
    _mappings: dict[str, MappingState] = field(default_factory=dict)  # by function: what switches its poller

    def say(self, message: str) -> None:
        print(message, file=self.console, flush=True)

    # --- start -------------------------------------------------------------------------------------

    def start(self) -> None:
        # First, before any file is touched: a second runtime must not disturb the one that owns the folder.
        self._lock = lock_state_folder(self.paths.root)
        adopted = surviving_moto(self.paths.moto_pidfile)
        # A surviving moto keeps its own port, which is then no obstacle: the runtime resumes on it.
        ensure_ports_free(self.ports, ("api", "control") if adopted else ("aws", "api", "control"))
        self.started_at = time.time()
        start_run_logs(self.paths.logs)  # this run's logs fresh; the last run's in logs/previous/
        self.paths.outputs.unlink(missing_ok=True)
        write_pidfile(self.paths.pidfile)
        self.stack = self._resume(adopted) if adopted is not None else None
        if self.stack is None:
            self._start_and_deploy()
        assert self._moto is not None
        client = clients(self._moto.endpoint_url, self.config.region)
        self._start_handlers(client)
        self._start_metrics(client)
        self._start_gateway(client)
        self._start_pollers(client)
        self._start_alarm_evaluation(client)
        control = ControlServer(self, port=self.ports.control).start()
        self._stoppables.append(control)
        self._read().write_outputs(control.url)
        self.say(self.banner())

    def _resume(self, moto: AdoptedMoto) -> LocalStack | None:
        """Take over the moto server a crashed runtime left running, with its deployed stack and data."""
        stack = load_stack(self.config, self.paths.stack)
        if stack is None:  # it died before its stack was deployed: nothing in it to keep
            self.say(f"stopping the moto server (pid {moto.pid}) a crashed runtime left without a deployed stack")
            moto.stop()
            return None
        self.say(
            f"resuming on the moto server a crashed runtime left running (pid {moto.pid}, {moto.endpoint_url}): "
            "the stack, its queues and its tables are as they were"
        )
        self._moto = moto
        self._set_process_environment()
        return stack

    def _start_and_deploy(self) -> None:
        self.say(f"starting moto server on 127.0.0.1:{self.ports.aws} …")
        self._moto = start_moto(
            port=self.ports.aws,
            log_path=self.paths.logs / "moto.log",
            in_flight_limit=self.config.queue.in_flight_limit,  # SQS's quota, or the smaller one local sets
        )
        # moto runs in its own session: if this process dies hard, a restart or `invoke down` still finds it
        write_pidfile(self.paths.moto_pidfile, self._moto.pid)
        self._set_process_environment()
        self.say(f"deploying the {self.config.env} template into moto's CloudFormation …")
        self.stack = deploy(self.config, clients(self._endpoint, self.config.region))
        save_stack(self.stack, self.paths.stack)

    @property
    def _endpoint(self) -> str:
        """moto server's URL: every part of the stack talks to it."""
        assert self._moto is not None, "moto server is not running"
        return self._moto.endpoint_url

    def _set_process_environment(self) -> None:
        # The handlers' boto3 clients find moto through AWS_ENDPOINT_URL, as they would any endpoint.
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self._endpoint,
                **LOCAL_CREDENTIALS_ENVIRONMENT,
                "AWS_DEFAULT_REGION": self.config.region,
                "AWS_REGION": self.config.region,
                "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon on a laptop
            }
        )

    def _start_handlers(self, client: Callable[[str], BaseClient]) -> None:
        assert self.stack is not None
        # The canary calls the public API: locally, that is the local gateway (over the template's execute-api URL).
        local = {env_names.API_URL: f"http://127.0.0.1:{self.ports.api}/{self.config.api.stage_name}"}
        environments = {name: {**self.stack.function_environment(name), **local} for name in FUNCTION_NAMES}
        for environment in environments.values():
            os.environ.update(environment)
        # Powertools binds sys.stdout when a Logger is created: capture before the handlers are imported.
        self._capture_log = (self.paths.logs / "functions.log").open("a", encoding="utf-8")
        self._metrics_log = (self.paths.logs / "metrics.log").open("a", encoding="utf-8")
        self._capture = EmfCapture(self.sink, self._capture_log, metrics_log=self._metrics_log)
        sys.stdout = self._capture
        self._sqs_observer = SqsObserver(self.sink)
        observers: dict[str, SqsObserver | DynamoDbObserver] = {
            "sqs": self._sqs_observer,
            "dynamodb": DynamoDbObserver(self.sink),
        }
        for name in FUNCTION_NAMES:
            props = self.stack.template["Resources"][logical_id(name)]["Properties"]
            settings = FunctionSettings(
                name=props["FunctionName"],
                timeout_seconds=float(props["Timeout"]),
                memory_mb=int(props["MemorySize"]),
                reserved_concurrency=int(props["ReservedConcurrentExecutions"]),
                region=self.config.region,
                environment=environments[name],
            )
            self._functions[name] = LocalFunction.from_handler_path(
                settings, props["Handler"], self.sink, on_environment=partial(self._hook_environment, name, observers)
            )

    def _hook_environment(
        self, name: str, observers: Mapping[str, SqsObserver | DynamoDbObserver], module: ModuleType
    ) -> None:
        """A new execution environment: its AWS clients get the metrics observers and fault injection."""
        aws_clients = environment_clients(name, module)
        if name in FAULT_TARGETS:
            self.chaos.attach(*aws_clients)
        if name == "notifier":
            vars(module)["now"] = self.clock.now  # business hours follow the local clock (local/services/clock.py)
        for aws_client in aws_clients:
            observer = observers.get(aws_client.meta.service_model.service_name)
            if observer is not None:
                observer.attach(aws_client)

    def _start_metrics(self, client: Callable[[str], BaseClient]) -> None:
        assert self.stack is not None
        outputs = self.stack.outputs
        sqs = client("sqs")
        self._sqs_observer.attach(sqs)
        sampler = QueueSampler(
            sqs,
            [
                outputs[output_keys.QUEUE_URL],
                outputs[output_keys.DEAD_LETTER_QUEUE_URL],
                outputs[output_keys.FAILURES_QUEUE_URL],
            ],
            self.sink,
            self._sqs_observer,
        )
        publisher = Publisher(
            self.sink,
            client("cloudwatch"),
            interval_seconds=METRICS_INTERVAL_SECONDS,
            samplers=[sampler.sample],
        )
        publisher.start()
        self._stoppables.append(publisher)
        self._poller_sqs = sqs

    def _start_gateway(self, client: Callable[[str], BaseClient]) -> None:
        assert self.stack is not None
        api = self.config.api
        settings = GatewaySettings(
            stage=api.stage_name,
            api_name=self.config.resource_name("api"),
            api_id=self.stack.outputs[output_keys.API_ID],
            region=self.config.region,
            key_limits=ThrottleLimits(rate_per_second=float(api.rate_limit), burst=api.burst_limit),
            stage_limits=ThrottleLimits(rate_per_second=float(api.stage_rate_limit), burst=api.stage_burst_limit),
        )
        gateway = ApiGateway(
            settings,
            self._functions["ingest"],
            self.stack.api_keys,
            validator=body_validator(events_request_schema()),
            sink=self.sink,
            plans=self._usage_plans(client),
        )
        server = LocalGateway(gateway, port=self.ports.api).start()
        self._stoppables.append(server)

    def _usage_plans(self, client: Callable[[str], BaseClient]) -> UsagePlans:
        """Each key's plan as `invoke keys.*` changes it while the stack runs (services/gateway/usage_plans.py)."""
        assert self.stack is not None
        api_id, stage = self.stack.outputs[output_keys.API_ID], self.config.api.stage_name
        plans = UsagePlans(client("apigateway"), api_id, stage, self.clock.now, plan_classes=plan_classes(self.config))
        self.usage_plans = plans.start()
        self._stoppables.append(plans)
        return plans

    def _start_pollers(self, client: Callable[[str], BaseClient]) -> None:
        assert self.stack is not None
        sources = start_event_sources(
            self.config,
            self.stack,
            self._functions,
            self._poller_sqs,
            client,
            self.chaos,
            self.clock,
            self.paths.notifications,
        )
        self._mappings, self.digests, self.canary = sources.mappings, sources.digests, sources.canary
        self._stoppables.extend(sources.parts)

    def _start_alarm_evaluation(self, client: Callable[[str], BaseClient]) -> None:
        assert self.stack is not None
        self._evaluator = AlarmEvaluator(
            client("cloudwatch"),
            client("sns"),
            self.stack.alarms,
            self.stack.composite_alarms,
            self.paths.notifications,
            settle_seconds=METRICS_INTERVAL_SECONDS + 1,
        )
        self._tiers = alarm_tiers(self.config)
        thread = threading.Thread(target=self._evaluate_loop, args=(self._tiers,), name="alarm-evaluator", daemon=True)
        thread.start()

    def _evaluate_loop(self, tiers: dict[str, str]) -> None:
        assert self._evaluator is not None
        previous = self._evaluator.states()
        while not self._stop.wait(EVALUATION_INTERVAL_SECONDS):
            try:
                self._evaluator.evaluate_once()
            except Exception:
                log.exception("alarm evaluation failed")
                continue
            current = self._evaluator.states()
            for transition in transitions(previous, current, tiers, self._evaluator, self.clock):
                self.transitions.append(transition)
                self.say(f"alarm {transition.alarm} [{transition.tier}]: {transition.old} → {transition.new}")
            previous = current

    # --- status ------------------------------------------------------------------------------------

    def _read(self) -> StackReadModel:
        """What the control API and the console read, from the parts started so far."""
        assert self.stack is not None and self._moto is not None
        return StackReadModel(
            config=self.config,
            ports=self.ports,
            paths=self.paths,
            stack=self.stack,
            moto=self._moto,
            started_at=self.started_at,
            chaos=self.chaos,
            clock=self.clock,
            evaluator=self._evaluator,
            canary=self.canary,
            mappings=self._mappings,
            functions=self._functions,
        )

    def banner(self) -> str:
        return self._read().banner()

    @property
    def evaluator(self) -> AlarmEvaluator | None:
        return self._evaluator

    def alarm_tiers(self) -> dict[str, str]:
        """Alarm name → the tier its actions notify (high, low, "low, at once" or none)."""
        return dict(self._tiers)

    def metric_history(self, start: float, end: float) -> dict[str, Any]:
        """Every series the alarms read over [start, end): local/stack/read_model.py."""
        return self._read().metric_history(start, end)

    def status(self) -> dict[str, Any]:
        return self._read().status()

    # --- stop --------------------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    def wait(self) -> None:
        while not self._stop.wait(0.5):
            pass

    def stop(self) -> None:
        if self._lock is None:  # refused before it owned the state folder: nothing there is its to remove
            return
        self._stop.set()
        for part in reversed(self._stoppables):
            with contextlib.suppress(Exception):
                part.stop()
        self._stoppables.clear()
        self.chaos.detach()
        if self._capture is not None:
            sys.stdout = sys.__stdout__
            self._capture.close()
            self._capture = None
        if self._capture_log is not None:
            self._capture_log.close()
        if self._metrics_log is not None:
            self._metrics_log.close()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
            # Only with moto stopped: a surviving moto's pidfile is how the next start or `invoke down` finds it.
            self.paths.moto_pidfile.unlink(missing_ok=True)
            self.paths.stack.unlink(missing_ok=True)
        self.paths.outputs.unlink(missing_ok=True)
        self.paths.pidfile.unlink(missing_ok=True)
        self._lock.close()
        self._lock = None
        self.say("local stack stopped")


def run_foreground(config: Config, ports: Ports, state_dir: Path) -> None:
    """Start the stack and serve until Ctrl-C, SIGTERM or a shutdown request; always clean up."""
    runtime = LocalRuntime(config=config, ports=ports, paths=StatePaths(state_dir))
    signal.signal(signal.SIGTERM, lambda *_: runtime.request_stop())
    try:
        runtime.start()
        runtime.wait()
    except KeyboardInterrupt:
        pass
    finally:
        runtime.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack.runtime", description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="local")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--aws-port", type=int)
    parser.add_argument("--api-port", type=int)
    parser.add_argument("--control-port", type=int)
    args = parser.parse_args(argv)
    try:
        config = load_config(args.env)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    defaults = Ports.from_config(config)
    ports = Ports(
        aws=args.aws_port or defaults.aws,
        api=args.api_port or defaults.api,
        control=args.control_port or defaults.control,
    )
    try:
        run_foreground(config, ports, args.state_dir)
    except Exception as error:  # one clear line for the operator; details are in the logs
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
