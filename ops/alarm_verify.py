"""`invoke alarms.verify --env NAME [--hours N]`: does CloudWatch compute our alarms' metric math as we do?

For every metric alarm of the deployed stack, GetMetricData returns its queries over the window — the expressions
as CloudWatch computes them and their raw inputs — and alarms.verify evaluates the same expressions with
alarms.engine.evaluation on those raw inputs, period by period. Per alarm: agrees / differs / CloudWatch's error / no
data.

The alarms come from the stack (its `AWS::CloudWatch::Alarm` resources, then DescribeAlarms), not from the
template this checkout would synthesize: the check is of what CloudWatch evaluates, which is what was deployed —
also after a cancelled or failed deploy, or from a checkout ahead of the stack.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from alarms.definitions import Definitions
from alarms.engine.evaluation import MetricAlarm
from alarms.history import resolution_limit
from alarms.verify import AlarmCheck, check_alarm, namespaced
from core.config import Config
from ops.aws import aws_errors, error_message
from ops.errors import OpsError
from ops.metric_history import batched, flattened, read_metric_data
from ops.stack_events import stack_resources

ALARM_RESOURCE = "AWS::CloudWatch::Alarm"
DESCRIBE_ALARMS_MAX_NAMES = 100  # botocore's cloudwatch model: AlarmNames "max": 100
AFTER_DEPLOY_HOURS = 3.0  # `invoke deploy` checks the hours before it (a new stack has none: "no data")
OUTCOMES = (("agrees", "agree"), ("differs", "differ"), ("error", "CloudWatch error"), ("no data", "no data"))


def local_line() -> str:
    """What `--env local` says: moto has no metric math to check ours against (read in moto's source and tested in
    tests/ops/test_ops_alarm_verify.py)."""
    return (
        f"alarms.verify local: nothing to check against: moto {version('moto')} evaluates no metric math "
        "(GetMetricData returns an expression empty unless it is a bare metric id); the local stack's alarms run on "
        "alarms/engine/evaluation.py itself"
    )


@dataclass(frozen=True)
class Verification:
    stack: str
    prefix: str  # the alarm names' common prefix, left out in the lines
    hours: float
    checks: tuple[AlarmCheck, ...]

    @property
    def ok(self) -> bool:
        """No alarm differs, and CloudWatch reported no error."""
        return not any(check.outcome in ("differs", "error", "unsupported") for check in self.checks)

    def summary(self) -> str:
        counts: Counter[str] = Counter(check.outcome for check in self.checks)
        parts = [f"{counts[outcome]} {word}" for outcome, word in OUTCOMES]
        if counts["unsupported"]:
            parts.append(f"{counts['unsupported']} beyond our evaluator")
        return f"alarms.verify {self.stack} (last {self.hours:.3g} h): {', '.join(parts)}"

    def lines(self) -> list[str]:
        return [check.line(self.prefix) for check in self.checks] + [self.summary()]

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "hours": self.hours, "alarms": [check.to_dict() for check in self.checks]}


def deployed_alarms(cloudwatch: BaseClient, cfn: BaseClient, stack_name: str) -> list[dict[str, Any]]:
    """The stack's metric alarms as DescribeAlarms returns them (PutMetricAlarm's field names), by name."""
    with aws_errors(f"listing the alarms of stack {stack_name}"):
        resources = stack_resources(cfn, stack_name)
        names = sorted(physical for kind, physical in resources.values() if kind == ALARM_RESOURCE and physical)
        alarms: list[dict[str, Any]] = []
        paginator = cloudwatch.get_paginator("describe_alarms")
        for offset in range(0, len(names), DESCRIBE_ALARMS_MAX_NAMES):
            chunk = names[offset : offset + DESCRIBE_ALARMS_MAX_NAMES]
            for page in paginator.paginate(AlarmNames=chunk, AlarmTypes=["MetricAlarm"]):
                alarms += page.get("MetricAlarms", [])
    return sorted(alarms, key=lambda alarm: alarm["AlarmName"])


def verify_alarms(
    cloudwatch: BaseClient, cfn: BaseClient, config: Config, hours: float, now: float | None = None
) -> Verification:
    """Every metric alarm of the deployed stack checked over the last `hours` (its complete periods)."""
    if not hours > 0:
        raise OpsError("--hours must be positive")
    definitions = deployed_alarms(cloudwatch, cfn, config.stack_name)
    if not definitions:
        raise OpsError(f"stack {config.stack_name} has no metric alarms (is it deployed?)")
    limit = resolution_limit(Definitions(definitions, []), hours * 3600)
    if limit is not None:
        raise OpsError(f"--hours {hours:g}: {limit}; ask for fewer hours")
    alarms = [MetricAlarm.from_definition(definition) for definition in definitions]
    by_period: dict[int, list[MetricAlarm]] = defaultdict(list)
    for alarm in alarms:
        by_period[alarm.period].append(alarm)
    checks: dict[str, AlarmCheck] = {}
    moment = time.time() if now is None else now
    for period, group in sorted(by_period.items()):
        end = int(moment) // period * period  # the periods still running are incomplete
        start = end - max(1, math.ceil(hours * 3600 / period)) * period
        checks |= _check_group(cloudwatch, group, start, end)
    return Verification(config.stack_name, config.resource_name(""), hours, tuple(checks[a.name] for a in alarms))


def _check_group(cloudwatch: BaseClient, alarms: Sequence[MetricAlarm], start: int, end: int) -> dict[str, AlarmCheck]:
    """One window's alarms, as many per GetMetricData call as fit; a call CloudWatch refuses as a whole is asked
    again alarm by alarm, so its error lands on the alarm that caused it."""
    period = alarms[0].period
    timestamps = list(range(start, end, period))
    prefixes = {alarm.name: f"a{index}_" for index, alarm in enumerate(alarms)}
    queries = {alarm.name: namespaced(alarm, prefixes[alarm.name]) for alarm in alarms}
    by_queries = {id(queries[alarm.name]): alarm for alarm in alarms}
    checks: dict[str, AlarmCheck] = {}
    for call in batched(list(queries.values())):
        members = [by_queries[id(group)] for group in call]
        try:
            data = read_metric_data(cloudwatch, flattened(call), start, end)
        except BotoCoreError as error:  # credentials, region, connection: the whole check stops
            raise OpsError(f"GetMetricData: {' '.join(str(error).split())}") from None
        except ClientError as error:
            if len(members) == 1:
                checks[members[0].name] = AlarmCheck(members[0].name, "error", f"CloudWatch: {error_message(error)}")
                continue
            for alarm in members:
                checks |= _check_group(cloudwatch, [alarm], start, end)
            continue
        for alarm in members:
            prefix = prefixes[alarm.name]
            answers = {query["Id"]: data.results[prefix + query["Id"]] for query in alarm.queries}
            checks[alarm.name] = check_alarm(alarm, answers, timestamps, data.messages)
    return checks


def after_deploy(client: Callable[[str], BaseClient], config: Config, hours: float) -> str:
    """The one line `invoke deploy` prints: the check's summary, or why it could not run. Never raises (making
    its clients included): a check of CloudWatch's arithmetic is no reason to call a deploy failed."""
    try:
        return verify_alarms(client("cloudwatch"), client("cloudformation"), config, hours).summary()
    except Exception as error:  # whatever went wrong, the deploy stands: say so in one line
        reason = " ".join(str(error).split()) or type(error).__name__
        return (
            f"alarms.verify {config.stack_name}: could not run ({reason}); the deploy is not affected "
            f"(`invoke alarms.verify --env {config.env}` to try again)"
        )
