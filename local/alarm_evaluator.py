"""Evaluates the stack's alarms locally: moto stores alarms and metrics but never evaluates an alarm.

`AlarmEvaluator(cloudwatch, sns, alarms, composites, notifications_log)` takes PutMetricAlarm-style and
PutCompositeAlarm-style dicts with every reference already resolved (`definitions_from_template` extracts
them from a synthesized template), and on each `evaluate_once()`:

- reads the last EvaluationPeriods complete periods of every alarm with GetMetricData (one call for all
  alarms), computing the metric math itself (moto evaluates none; see dashboards.metric_math, which also
  documents our anomaly band);
- decides the state as CloudWatch does: DatapointsToAlarm of EvaluationPeriods breaching → ALARM;
  TreatMissingData `breaching`/`notBreaching` counts a missing datapoint as such; with `missing`, a window
  without data is INSUFFICIENT_DATA and fewer datapoints than DatapointsToAlarm decide by themselves (ALARM
  only if all of them breach); with `ignore`, a window without data keeps the state;
- evaluates composite rules (ALARM("name") OR/AND/NOT ..., TRUE, FALSE) over the new states — moto's
  PutCompositeAlarm is not implemented, so composite states live here (`states()`);
- on a transition: sets the state in moto (metric alarms), publishes CloudWatch's notification JSON to the
  action topics (AlarmActions on ALARM, OKActions on OK, InsufficientDataActions), prints one line and
  appends it to the notifications log.

Deviations from AWS, all local-only: moto computes no percentiles, so a pNN statistic is read as Average
for NN ≤ 50 and as Maximum above (an upper bound: a latency alarm fires no later than on AWS); the window
never reaches back past EvaluationPeriods to find more datapoints; metric alarms start in the state moto
gives them (OK), composites in OK too.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

from dashboards.metric_math import BAND_HISTORY_PERIODS, Band, Series, evaluate

log = logging.getLogger(__name__)

ALARM, OK, INSUFFICIENT_DATA = "ALARM", "OK", "INSUFFICIENT_DATA"
BASIC_STATISTICS = frozenset({"Sum", "Average", "Minimum", "Maximum", "SampleCount"})
GET_METRIC_DATA_MAX_QUERIES = 500
# moto scans all its data once per query and period asked for: a few periods per call keep reads linear.
PERIODS_PER_CALL = 6
# SNS Publish: "Subjects must be ... less than 100 characters long" (botocore's sns model).
SUBJECT_MAX_CHARS = 99
_COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (lambda value, threshold: value > threshold, "greater than"),
    "GreaterThanOrEqualToThreshold": (lambda value, threshold: value >= threshold, "greater than or equal to"),
    "LessThanThreshold": (lambda value, threshold: value < threshold, "less than"),
    "LessThanOrEqualToThreshold": (lambda value, threshold: value <= threshold, "less than or equal to"),
}
_BAND_COMPARISONS: dict[str, tuple[Callable[[float, float, float], bool], str]] = {
    "LessThanLowerOrGreaterThanUpperThreshold": (lambda v, low, high: v < low or v > high, "outside the band"),
    "GreaterThanUpperThreshold": (lambda v, low, high: v > high, "greater than the upper band"),
    "LessThanLowerThreshold": (lambda v, low, high: v < low, "less than the lower band"),
}


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


# --- metric alarms -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricAlarm:
    """A PutMetricAlarm-style definition, normalised to MetricDataQuery form."""

    definition: Mapping[str, Any]
    queries: tuple[Mapping[str, Any], ...]
    result_id: str
    period: int

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> MetricAlarm:
        if "Metrics" in definition:
            queries = tuple(definition["Metrics"])
            threshold_id = definition.get("ThresholdMetricId")
            returned = [q["Id"] for q in queries if q.get("ReturnData", True) and q["Id"] != threshold_id]
            periods = [q["MetricStat"]["Period"] for q in queries if "MetricStat" in q]
            return cls(definition, queries, returned[0], int(periods[0]))
        stat = definition.get("ExtendedStatistic") or definition["Statistic"]
        metric_stat = {
            "Metric": {
                "Namespace": definition["Namespace"],
                "MetricName": definition["MetricName"],
                "Dimensions": list(definition.get("Dimensions", [])),
            },
            "Period": definition["Period"],
            "Stat": stat,
        }
        return cls(definition, ({"Id": "m", "MetricStat": metric_stat},), "m", int(definition["Period"]))

    @property
    def name(self) -> str:
        return self.definition["AlarmName"]

    @property
    def evaluation_periods(self) -> int:
        return int(self.definition["EvaluationPeriods"])

    @property
    def datapoints_to_alarm(self) -> int:
        return int(self.definition.get("DatapointsToAlarm") or self.evaluation_periods)

    @property
    def treat_missing(self) -> str:
        return self.definition.get("TreatMissingData", "missing")

    @property
    def threshold_id(self) -> str | None:
        return self.definition.get("ThresholdMetricId")

    @property
    def history_periods(self) -> int:
        """Periods read before the evaluation window: an anomaly band needs its history."""
        return BAND_HISTORY_PERIODS if self.threshold_id else 0

    def metric_stats(self) -> dict[str, Mapping[str, Any]]:
        return {query["Id"]: query["MetricStat"] for query in self.queries if "MetricStat" in query}

    def values(self, series: Mapping[str, Series], timestamps: Sequence[int]) -> tuple[Series, Band | None]:
        """The alarm's datapoints and, for an anomaly-band alarm, its band, at `timestamps`."""
        expressions = {query["Id"]: query["Expression"] for query in self.queries if "Expression" in query}
        # An anomaly band over metric math reads the expression's history, not only the evaluated window.
        history = range(min(timestamps) - self.history_periods * self.period, max(timestamps) + 1, self.period)
        computed = dict(series)
        for query_id, expression in expressions.items():
            if query_id != self.threshold_id:
                computed[query_id] = evaluate(expression, series, list(history), self.period)

        def resolve(query_id: str) -> Series | Band:
            if query_id in expressions:
                return evaluate(expressions[query_id], computed, timestamps, self.period)
            return {timestamp: series[query_id][timestamp] for timestamp in timestamps if timestamp in series[query_id]}

        values = resolve(self.result_id)
        if isinstance(values, Band):
            raise ValueError(f"alarm {self.name}: the returned series is a band")
        band = resolve(self.threshold_id) if self.threshold_id else None
        if band is not None and not isinstance(band, Band):
            raise ValueError(f"alarm {self.name}: ThresholdMetricId {self.threshold_id} is not an anomaly band")
        return values, band


@dataclass(frozen=True)
class Datapoint:
    timestamp: int
    value: float | None  # None: missing
    breaching: bool | None  # None: missing


@dataclass(frozen=True)
class Verdict:
    state: str | None  # None: keep the current state
    reason: str
    datapoints: tuple[Datapoint, ...]


def datapoints(alarm: MetricAlarm, values: Series, band: Band | None, timestamps: Sequence[int]) -> list[Datapoint]:
    comparison = alarm.definition["ComparisonOperator"]
    points = []
    for timestamp in timestamps:
        value = values.get(timestamp)
        if value is None or (band is not None and timestamp not in band.bounds):
            points.append(Datapoint(timestamp, value, None))
        elif band is not None:
            low, high = band.bounds[timestamp]
            points.append(Datapoint(timestamp, value, _BAND_COMPARISONS[comparison][0](value, low, high)))
        else:
            breached = _COMPARISONS[comparison][0](value, float(alarm.definition["Threshold"]))
            points.append(Datapoint(timestamp, value, breached))
    return points


def decide(alarm: MetricAlarm, points: Sequence[Datapoint]) -> Verdict:
    """The alarm's state from its window's datapoints, honouring TreatMissingData."""
    needed = alarm.datapoints_to_alarm
    missing = alarm.treat_missing
    substitute = {"breaching": True, "notBreaching": False}.get(missing)
    verdicts = [point.breaching if point.breaching is not None else substitute for point in points]
    present = [verdict for verdict in verdicts if verdict is not None]
    breaching = sum(present)
    describe = _describer(alarm, points)
    if not present:
        if missing == "ignore":
            return Verdict(None, "no datapoints; state kept (TreatMissingData: ignore)", tuple(points))
        return Verdict(INSUFFICIENT_DATA, f"Insufficient Data: {len(points)} datapoints were unknown.", tuple(points))
    if breaching >= needed:
        return Verdict(ALARM, describe(ALARM, breaching, needed), tuple(points))
    if len(present) >= needed or not breaching:
        return Verdict(OK, describe(OK, len(present) - breaching, needed), tuple(points))
    # Fewer datapoints than DatapointsToAlarm, some breaching: they decide alone (`ignore` keeps the state).
    if missing == "ignore":
        return Verdict(None, "too few datapoints; state kept (TreatMissingData: ignore)", tuple(points))
    if breaching == len(present):
        return Verdict(ALARM, describe(ALARM, breaching, len(present)), tuple(points))
    return Verdict(OK, describe(OK, len(present) - breaching, needed), tuple(points))


def _describer(alarm: MetricAlarm, points: Sequence[Datapoint]) -> Callable[[str, int, int], str]:
    comparison = alarm.definition["ComparisonOperator"]
    if alarm.threshold_id:
        phrase, limit = _BAND_COMPARISONS[comparison][1], ""
    else:
        phrase, limit = _COMPARISONS[comparison][1], f" the threshold ({float(alarm.definition['Threshold'])})"
    shown = ", ".join(
        f"{'missing' if point.value is None else f'{point.value:g}'} ({_short_time(point.timestamp)})"
        for point in reversed(points)
    )

    def describe(state: str, count: int, needed: int) -> str:
        verb = "were" if count != 1 else "was"
        negation = "" if state == ALARM else "not "
        transition = "OK -> ALARM" if state == ALARM else "ALARM -> OK"
        return (
            f"Threshold Crossed: {count} out of the last {len(points)} datapoints [{shown}] {verb} {negation}"
            f"{phrase}{limit} (minimum {needed} datapoint{'s' if needed != 1 else ''} for {transition} transition)."
        )

    return describe


# --- composite alarms ----------------------------------------------------------------------------------

_RULE_TOKEN = re.compile(r'\s*(?:(\()|(\))|"([^"]*)"|([^\s()"]+))')
_STATE_FUNCTIONS = {"ALARM": ALARM, "OK": OK, "INSUFFICIENT_DATA": INSUFFICIENT_DATA}


class RuleError(ValueError):
    """An AlarmRule outside what the local evaluator understands."""


def rule_children(rule: str) -> list[str]:
    """Alarm names an AlarmRule refers to, in order."""
    names: list[str] = []
    _RuleParser(rule, lambda name: names.append(name) or OK).parse()
    return names


def rule_holds(rule: str, state_of: Callable[[str], str]) -> bool:
    return _RuleParser(rule, state_of).parse()


class _RuleParser:
    """or := and (OR and)*; and := not (AND not)*; not := NOT not | atom;
    atom := STATE(name) | TRUE | FALSE | ( or ) — names quoted or not, alarm ARNs allowed."""

    def __init__(self, rule: str, state_of: Callable[[str], str]) -> None:
        self._rule = rule
        self._state_of = state_of
        self._tokens = [next(group for group in match if group) for match in _RULE_TOKEN.findall(rule)]
        self._position = 0

    def parse(self) -> bool:
        result = self._or()
        if self._position != len(self._tokens):
            raise RuleError(f"unexpected {self._tokens[self._position]!r} in rule {self._rule!r}")
        return result

    def _peek(self) -> str | None:
        return self._tokens[self._position] if self._position < len(self._tokens) else None

    def _take(self) -> str:
        if self._position >= len(self._tokens):
            raise RuleError(f"unexpected end of rule {self._rule!r}")
        self._position += 1
        return self._tokens[self._position - 1]

    def _or(self) -> bool:
        results = [self._and()]
        while self._peek() == "OR":
            self._take()
            results.append(self._and())
        return any(results)

    def _and(self) -> bool:
        results = [self._not()]
        while self._peek() == "AND":
            self._take()
            results.append(self._not())
        return all(results)

    def _not(self) -> bool:
        if self._peek() == "NOT":
            self._take()
            return not self._not()
        return self._atom()

    def _atom(self) -> bool:
        token = self._take()
        if token in ("TRUE", "FALSE"):
            return token == "TRUE"
        if token == "(":
            result = self._or()
            self._expect(")")
            return result
        if token in _STATE_FUNCTIONS:
            self._expect("(")
            name = self._take().rsplit(":alarm:", 1)[-1]
            self._expect(")")
            return self._state_of(name) == _STATE_FUNCTIONS[token]
        raise RuleError(f"unexpected {token!r} in rule {self._rule!r}")

    def _expect(self, token: str) -> None:
        if self._take() != token:
            raise RuleError(f"expected {token!r} in rule {self._rule!r}")


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
        self._composites = [dict(definition) for definition in composites]
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

    def run(self, stop_event: threading.Event, interval: float) -> None:
        """Evaluate every `interval` seconds until `stop_event` is set; a failed round is logged, not fatal."""
        while not stop_event.is_set():
            try:
                self.evaluate_once()
            except Exception:
                log.exception("alarm evaluation failed")
            stop_event.wait(interval)

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
            end = int((now - self._settle) // alarm.period) * alarm.period
            groups.setdefault((alarm.period, end, alarm.evaluation_periods + alarm.history_periods), []).append(alarm)
        verdicts = []
        for (period, end, reach), members in groups.items():
            stats = {
                f"a{index}_{key}": stat for index, a in enumerate(members) for key, stat in a.metric_stats().items()
            }
            fetched = fetch_series(self._cloudwatch, stats, end - reach * period, end)
            for index, alarm in enumerate(members):
                series = {key: fetched[f"a{index}_{key}"] for key in alarm.metric_stats()}
                timestamps = [end - step * period for step in range(alarm.evaluation_periods, 0, -1)]
                values, band = alarm.values(series, timestamps)
                verdicts.append((alarm, decide(alarm, datapoints(alarm, values, band, timestamps))))
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
        new = ALARM if rule_holds(rule, self._state_of) else OK
        if new == state.value:
            return None
        old = state.value
        children = [child for child in rule_children(rule) if child in self._states]
        triggering = [child for child in children if self._states[child].value == new] or children
        reason = f"{'At least one' if new == ALARM else 'No'} alarm of the rule is in ALARM: " + ", ".join(
            f"{child} is {self._states[child].value}" for child in triggering
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


def _short_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%d/%m/%y %H:%M:%S")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- from a synthesized template -----------------------------------------------------------------------


@dataclass(frozen=True)
class Definitions:
    alarms: list[dict[str, Any]]  # PutMetricAlarm keyword arguments
    composites: list[dict[str, Any]]  # PutCompositeAlarm keyword arguments


def definitions_from_template(template: Mapping[str, Any], resolve: Callable[[Any], Any]) -> Definitions:
    """The template's alarms as PutMetricAlarm/PutCompositeAlarm dicts, references resolved by `resolve`.

    `resolve` is called on every intrinsic ({"Ref": ...}, {"Fn::GetAtt": ...}, {"Fn::Sub": ...}, ...) and
    returns the concrete value; CloudFormation's alarm properties already have the API's names.
    """
    alarms, composites = [], []
    for resource in template.get("Resources", {}).values():
        kind = resource.get("Type")
        if kind in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
            properties = _resolved(resource.get("Properties", {}), resolve)
            (alarms if kind == "AWS::CloudWatch::Alarm" else composites).append(properties)
    return Definitions(alarms, composites)


def _resolved(value: Any, resolve: Callable[[Any], Any]) -> Any:
    if isinstance(value, dict):
        key = next(iter(value), "")
        if len(value) == 1 and (key == "Ref" or key.startswith("Fn::")):
            return resolve(value)
        return {key: _resolved(item, resolve) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolved(item, resolve) for item in value]
    return value
