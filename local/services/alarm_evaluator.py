"""Evaluates the stack's alarms locally: moto stores alarms and metrics but never evaluates an alarm.

`AlarmEvaluator(cloudwatch, sns, alarms, composites, notifications_log)` takes PutMetricAlarm-style and
PutCompositeAlarm-style dicts with every reference already resolved (alarms.definitions extracts them from a
synthesized template), and on each `evaluate_once()`:

- reads the last EvaluationPeriods complete periods of every alarm with GetMetricData
  (local.services.cloudwatch_reader);
- decides each state with alarms.engine.evaluation and alarms.engine.rules, the same pure code the backtest uses (metric
  math, missing data and M of N as CloudWatch does them, composites over the new states — moto's
  PutCompositeAlarm is not implemented, so composite states live here, `states()`);
- on a transition: sets the state in moto (metric alarms), publishes CloudWatch's notification JSON
  (local.services.alarm_messages) to the action topics (AlarmActions on ALARM, OKActions on OK,
  InsufficientDataActions) and appends one line to the notifications log.

A window longer than the shortest period slides as on AWS: it is read and judged at every step (moto sums
the datapoints from the window's start, wherever it falls).

Deviations from AWS, all local-only: percentiles are read as Average or Maximum (local.services.cloudwatch_reader);
the window never reaches back past EvaluationPeriods to find more datapoints; metric alarms start in the
state moto gives them (OK), composites in OK too.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

from alarms.engine.evaluation import ALARM, INSUFFICIENT_DATA, OK, MetricAlarm, Verdict, evaluate_alarm
from alarms.engine.rules import RuleError, composite_state, evaluation_order, rule_children
from local.services.alarm_messages import (
    ChildState,
    Transition,
    composite_message,
    composite_reason,
    metric_alarm_message,
    reason_data,
    subject,
    triggering_children,
)
from local.services.cloudwatch_reader import fetch_series

ACTIONS_KEY = {ALARM: "AlarmActions", OK: "OKActions", INSUFFICIENT_DATA: "InsufficientDataActions"}


@dataclass
class _State:
    value: str
    arn: str
    changed_at: float
    reason: str = ""  # why it took its state (what AWS calls StateReason)


class AlarmEvaluator:
    """Evaluates every alarm at each `evaluate_once()`; the runtime calls it on a clock in its own thread."""

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

    def reason_of(self, name: str) -> str:
        """Why the alarm is in its state, as its last transition said ("" before any)."""
        with self._lock:
            return self._states[name].reason if name in self._states else ""

    def evaluate_once(self) -> list[str]:
        """Evaluate every alarm once; returns the transition lines logged."""
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
        transition = self._transition(alarm.definition, verdict.state, verdict.reason, now)
        self._cloudwatch.set_alarm_state(
            AlarmName=alarm.name,
            StateValue=verdict.state,
            StateReason=verdict.reason[:1023],
            StateReasonData=json.dumps(reason_data(alarm, verdict, now)),
        )
        state.value, state.changed_at, state.reason = verdict.state, now, verdict.reason
        return self._announce(transition, metric_alarm_message(transition, alarm))

    def _apply_composite(self, composite: Mapping[str, Any], now: float) -> str | None:
        rule = composite["AlarmRule"]
        state = self._states[composite["AlarmName"]]
        new = composite_state(rule, self._state_of)
        if new == state.value:
            return None
        children = [child for child in rule_children(rule) if child in self._states]
        # CloudWatch's shape: the reason says which child transitioned to what and when, the ones in ALARM first
        # (not every child's state: the incident's rule has over a dozen); TriggeringChildren lists the same
        triggering = triggering_children(
            [ChildState(self._states[c].arn, self._states[c].value, self._states[c].changed_at) for c in children], new
        )
        reason = composite_reason(triggering)
        transition = self._transition(composite, new, reason, now)
        state.value, state.changed_at, state.reason = new, now, reason
        message = composite_message(transition, triggering)
        return self._announce(transition, message)

    def _transition(self, definition: Mapping[str, Any], new: str, reason: str, now: float) -> Transition:
        state = self._states[definition["AlarmName"]]
        return Transition(definition, state.arn, self._region, state.value, new, reason, now)

    def _state_of(self, name: str) -> str:
        state = self._states.get(name)
        if state is None:
            raise RuleError(f"composite rule names an unknown alarm {name!r}")
        return state.value

    def _announce(self, transition: Transition, message: dict[str, Any]) -> str:
        definition = transition.definition
        topics = list(definition.get(ACTIONS_KEY[transition.new], [])) if definition.get("ActionsEnabled", True) else []
        for topic in topics:
            self._sns.publish(TopicArn=topic, Subject=subject(transition), Message=json.dumps(message))
        routed = ", ".join(topic.rsplit(":", 1)[-1] for topic in topics) or "no action"
        line = (
            f"{_iso(transition.at)}  {definition['AlarmName']}  {transition.old} -> {transition.new}  [{routed}]  "
            f"{transition.reason}"
        )
        # Only to the notifications log: stdout is the handlers' log under the runtime, and the runtime
        # tells its own console about transitions.
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._log_path.open("a", encoding="utf-8") as log_file:
            log_file.write(line + "\n")
        return line


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
