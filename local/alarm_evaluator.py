"""Evaluates the stack's alarms locally: moto stores alarms and metrics but never evaluates an alarm.

`AlarmEvaluator(cloudwatch, sns, alarms, composites, notifications_log)` takes PutMetricAlarm-style and
PutCompositeAlarm-style dicts with every reference already resolved (alarms.definitions extracts them from a
synthesized template), and on each `evaluate_once()`:

- reads the last EvaluationPeriods complete periods of every alarm with GetMetricData (one call for all
  alarms);
- decides each state with alarms.evaluation and alarms.rules, the same pure code the backtest uses (metric
  math, missing data and M of N as CloudWatch does them, composites over the new states — moto's
  PutCompositeAlarm is not implemented, so composite states live here, `states()`);
- on a transition: sets the state in moto (metric alarms), publishes CloudWatch's notification JSON to the
  action topics (AlarmActions on ALARM, OKActions on OK, InsufficientDataActions), prints one line and
  appends it to the notifications log.

A window longer than the shortest period slides as on AWS: it is read and judged at every step (moto sums
the datapoints from the window's start, wherever it falls).

Deviations from AWS, all local-only: moto computes no percentiles, so a pNN statistic is read as Average
for NN ≤ 50 and as Maximum above (an upper bound: a latency alarm fires no later than on AWS); the window
never reaches back past EvaluationPeriods to find more datapoints; metric alarms start in the state moto
gives them (OK), composites in OK too.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

from alarms.evaluation import ALARM, INSUFFICIENT_DATA, OK, MetricAlarm, Verdict, evaluate_alarm
from alarms.rules import RuleError, composite_state, evaluation_order, rule_children
from dashboards.metric_math import Series

BASIC_STATISTICS = frozenset({"Sum", "Average", "Minimum", "Maximum", "SampleCount"})
GET_METRIC_DATA_MAX_QUERIES = 500
# moto scans all its data once per query and period asked for: a few periods per call keep reads linear.
PERIODS_PER_CALL = 6
# SNS Publish: "Subjects must be ... less than 100 characters long" (botocore's sns model).
SUBJECT_MAX_CHARS = 99


# --- reading metrics -----------------------------------------------------------------------------------


def local_statistic(stat: str) -> str:
    """The statistic moto can compute in place of `stat` (see the module doc on percentiles)."""
    if stat in BASIC_STATISTICS:
        return stat
    match = re.fullmatch(r"p(\d+(?:\.\d+)?)", stat)
    if match is None:
        raise ValueError(f"statistic {stat!r} cannot be evaluated locally")
    return "Average" if float(match.group(1)) <= 50 else "Maximum"


def fetch_series(
    cloudwatch: BaseClient, metric_stats: Mapping[str, Mapping[str, Any]], start: int, end: int
) -> dict[str, Series]:
    """GetMetricData for MetricStat dicts keyed by id; returns {id: {period start: value}}.

    Identical MetricStats are asked for once. `start` and `end` are epoch seconds on a boundary of the
    longest period, and every period divides the longest.
    """
    unique: dict[str, dict[str, Any]] = {}
    wanted: dict[str, str] = {}  # caller's id -> query id
    for key, stat in metric_stats.items():
        canonical = json.dumps(stat, sort_keys=True)
        if canonical not in unique:
            unique[canonical] = {
                "Id": f"q{len(unique)}",
                "MetricStat": {**stat, "Stat": local_statistic(stat["Stat"])},
                "ReturnData": True,
            }
        wanted[key] = unique[canonical]["Id"]
    results: dict[str, Series] = {}
    queries = list(unique.values())
    step = PERIODS_PER_CALL * max((int(query["MetricStat"]["Period"]) for query in queries), default=1)
    for offset in range(0, len(queries), GET_METRIC_DATA_MAX_QUERIES):
        for window_start in range(start, end, step):
            _get_metric_data(
                cloudwatch,
                queries[offset : offset + GET_METRIC_DATA_MAX_QUERIES],
                window_start,
                min(window_start + step, end),
                results,
            )
    return {key: results.get(query_id, {}) for key, query_id in wanted.items()}


def _get_metric_data(
    cloudwatch: BaseClient, queries: list[dict[str, Any]], start: int, end: int, results: dict[str, Series]
) -> None:
    request = {
        "MetricDataQueries": queries,
        "StartTime": datetime.fromtimestamp(start, UTC),
        "EndTime": datetime.fromtimestamp(end, UTC),
    }
    while True:
        response = cloudwatch.get_metric_data(**request)
        for result in response["MetricDataResults"]:
            series = results.setdefault(result["Id"], {})
            for timestamp, value in zip(result["Timestamps"], result["Values"], strict=True):
                if start <= (moment := int(timestamp.timestamp())) < end:
                    series[moment] = float(value)
        if not response.get("NextToken"):
            return
        request["NextToken"] = response["NextToken"]


# --- the evaluator -------------------------------------------------------------------------------------


@dataclass
class _State:
    value: str
    arn: str
    changed_at: float


class AlarmEvaluator:
    """Evaluates every alarm on a clock; start it with `run(stop_event, interval)` in a thread."""

    def __init__(
        self,
        cloudwatch: BaseClient,
        sns: BaseClient,
        alarms: Iterable[Mapping[str, Any]],
        composites: Iterable[Mapping[str, Any]],
        notifications_log: Path,
        clock: Callable[[], float] = time.time,
        settle_seconds: float = 0.0,
    ) -> None:
        """`settle_seconds`: how long after a period ends its datapoints are complete (the metrics
        publisher's delay); a period is evaluated only once that much time has passed."""
        self._cloudwatch = cloudwatch
        self._sns = sns
        self._alarms = [MetricAlarm.from_definition(definition) for definition in alarms]
        # CloudWatch slides an alarm's window (the default EvaluationWindow): a window longer than the shortest
        # period (the burn-rate alarms') ends at every step, not only at multiples of its own length.
        self._step = min((alarm.period for alarm in self._alarms), default=60)
        self._composites = [dict(definition) for definition in evaluation_order(list(composites))]
        self._log_path = notifications_log
        self._clock = clock
        self._settle = settle_seconds
        self._region = cloudwatch.meta.region_name
        self._states = self._initial_states()
        self._lock = threading.Lock()

    def _initial_states(self) -> dict[str, _State]:
        now = self._clock()
        names = [alarm.name for alarm in self._alarms]
        found: dict[str, _State] = {}
        for offset in range(0, len(names), 100):
            response = self._cloudwatch.describe_alarms(AlarmNames=names[offset : offset + 100])
            for alarm in response["MetricAlarms"]:
                found[alarm["AlarmName"]] = _State(alarm["StateValue"], alarm["AlarmArn"], now)
        absent = sorted(set(names) - set(found))
        if absent:
            raise ValueError(f"alarms not in CloudWatch (create them first): {', '.join(absent)}")
        account = next(iter(found.values())).arn.split(":")[4] if found else "000000000000"
        for composite in self._composites:
            arn = f"arn:aws:cloudwatch:{self._region}:{account}:alarm:{composite['AlarmName']}"
            found[composite["AlarmName"]] = _State(OK, arn, now)
        return found

    def states(self) -> dict[str, str]:
        """Every alarm's current state, composites included."""
        with self._lock:
            return {name: state.value for name, state in self._states.items()}

    def evaluate_once(self) -> list[str]:
        """Evaluate every alarm once; returns the transition lines printed."""
        now = self._clock()
        with self._lock:
            lines = [line for alarm, verdict in self._verdicts(now) if (line := self._apply(alarm, verdict, now))]
            lines += [line for composite in self._composites if (line := self._apply_composite(composite, now))]
        return lines

    def _verdicts(self, now: float) -> list[tuple[MetricAlarm, Verdict]]:
        groups: dict[tuple[int, int, int], list[MetricAlarm]] = {}
        for alarm in self._alarms:
            end = int((now - self._settle) // self._step) * self._step
            groups.setdefault((alarm.period, end, alarm.evaluation_periods + alarm.history_periods), []).append(alarm)
        verdicts = []
        for (period, end, reach), members in groups.items():
            stats = {
                f"a{index}_{key}": stat for index, a in enumerate(members) for key, stat in a.metric_stats().items()
            }
            fetched = fetch_series(self._cloudwatch, stats, end - reach * period, end)
            for index, alarm in enumerate(members):
                series = {key: fetched[f"a{index}_{key}"] for key in alarm.metric_stats()}
                verdicts.append((alarm, evaluate_alarm(alarm, series, end)))
        return verdicts

    def _apply(self, alarm: MetricAlarm, verdict: Verdict, now: float) -> str | None:
        state = self._states[alarm.name]
        if verdict.state is None or verdict.state == state.value:
            return None
        old = state.value
        reason_data = _reason_data(alarm, verdict, now)
        self._cloudwatch.set_alarm_state(
            AlarmName=alarm.name,
            StateValue=verdict.state,
            StateReason=verdict.reason[:1023],
            StateReasonData=json.dumps(reason_data),
        )
        state.value, state.changed_at = verdict.state, now
        message = {
            **self._common_message(alarm.definition, old, verdict.state, verdict.reason, now),
            "Trigger": _trigger(alarm),
        }
        return self._announce(alarm.definition, old, verdict.state, verdict.reason, message, now)

    def _apply_composite(self, composite: Mapping[str, Any], now: float) -> str | None:
        name = composite["AlarmName"]
        rule = composite["AlarmRule"]
        state = self._states[name]
        new = composite_state(rule, self._state_of)
        if new == state.value:
            return None
        old = state.value
        children = [child for child in rule_children(rule) if child in self._states]
        triggering = [child for child in children if self._states[child].value == new] or children
        # the rule may be OR (any child) or AND (every child, the burn-rate pairs): say which states decided it
        reason = f"The rule {'holds' if new == ALARM else 'does not hold'}: " + ", ".join(
            f"{child} is {self._states[child].value}" for child in children
        )
        state.value, state.changed_at = new, now
        message = {
            **self._common_message(composite, old, new, reason, now),
            "AlarmRule": rule,
            "TriggeringChildren": [
                {
                    "Arn": self._states[child].arn,
                    "State": {
                        "Value": self._states[child].value,
                        "Timestamp": _aws_time(self._states[child].changed_at),
                    },
                }
                for child in triggering
            ],
        }
        return self._announce(composite, old, new, reason, message, now)

    def _state_of(self, name: str) -> str:
        state = self._states.get(name)
        if state is None:
            raise RuleError(f"composite rule names an unknown alarm {name!r}")
        return state.value

    def _common_message(
        self, definition: Mapping[str, Any], old: str, new: str, reason: str, now: float
    ) -> dict[str, Any]:
        name = definition["AlarmName"]
        arn = self._states[name].arn
        return {
            "AlarmName": name,
            "AlarmDescription": definition.get("AlarmDescription"),
            "AWSAccountId": arn.split(":")[4],
            "AlarmConfigurationUpdatedTimestamp": _aws_time(now),
            "NewStateValue": new,
            "NewStateReason": reason,
            "StateChangeTime": _aws_time(now),
            "Region": self._region,
            "AlarmArn": arn,
            "OldStateValue": old,
            "OKActions": list(definition.get("OKActions", [])),
            "AlarmActions": list(definition.get("AlarmActions", [])),
            "InsufficientDataActions": list(definition.get("InsufficientDataActions", [])),
        }

    def _announce(
        self, definition: Mapping[str, Any], old: str, new: str, reason: str, message: dict[str, Any], now: float
    ) -> str:
        name = definition["AlarmName"]
        actions_key = {ALARM: "AlarmActions", OK: "OKActions", INSUFFICIENT_DATA: "InsufficientDataActions"}[new]
        topics = list(definition.get(actions_key, [])) if definition.get("ActionsEnabled", True) else []
        subject = f'{new}: "{name}" in {self._region}'
        subject = subject if len(subject) <= SUBJECT_MAX_CHARS else subject[: SUBJECT_MAX_CHARS - 3] + "..."
        for topic in topics:
            self._sns.publish(TopicArn=topic, Subject=subject, Message=json.dumps(message))
        routed = ", ".join(topic.rsplit(":", 1)[-1] for topic in topics) or "no action"
        line = f"{_iso(now)}  {name}  {old} -> {new}  [{routed}]  {reason}"
        # Only to the notifications log: stdout is the handlers' log under the runtime, and the runtime
        # tells its own console about transitions.
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._log_path.open("a", encoding="utf-8") as log_file:
            log_file.write(line + "\n")
        return line


def _trigger(alarm: MetricAlarm) -> dict[str, Any]:
    definition = alarm.definition
    common = {
        "Period": alarm.period,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "ComparisonOperator": definition["ComparisonOperator"],
        "TreatMissingData": alarm.treat_missing,
        "EvaluateLowSampleCountPercentile": "",
    }
    if alarm.threshold_id:
        return {**common, "ThresholdMetricId": alarm.threshold_id, "Metrics": list(definition["Metrics"])}
    if "Metrics" in definition:
        return {**common, "Threshold": float(definition["Threshold"]), "Metrics": list(definition["Metrics"])}
    extended = definition.get("ExtendedStatistic")
    statistic = (
        {"StatisticType": "ExtendedStatistic", "ExtendedStatistic": extended}
        if extended
        else {"StatisticType": "Statistic", "Statistic": definition["Statistic"].upper()}
    )
    return {
        **common,
        **statistic,
        "MetricName": definition["MetricName"],
        "Namespace": definition["Namespace"],
        "Unit": definition.get("Unit"),
        "Dimensions": [{"value": d["Value"], "name": d["Name"]} for d in definition.get("Dimensions", [])],
        "Threshold": float(definition["Threshold"]),
    }


def _reason_data(alarm: MetricAlarm, verdict: Verdict, now: float) -> dict[str, Any]:
    evaluated = [
        {"timestamp": _aws_time(point.timestamp), "value": point.value}
        for point in reversed(verdict.datapoints)
        if point.value is not None and not math.isnan(point.value)
    ]
    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": _aws_time(now),
        "period": alarm.period,
        "recentDatapoints": [point["value"] for point in reversed(evaluated)],
        "evaluatedDatapoints": evaluated,
    }
    if not alarm.threshold_id:
        data["threshold"] = float(alarm.definition["Threshold"])
    return data


def _aws_time(epoch: float) -> str:
    """CloudWatch's notification timestamp format: 2024-05-01T12:00:00.000+0000."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
