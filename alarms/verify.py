"""Our metric math against CloudWatch's: an alarm's expressions as CloudWatch computed them beside the same
expressions evaluated by alarms.engine.evaluation on CloudWatch's own raw inputs, period by period.

The alarms/engine/evaluation.py evaluator (the local stack's and the backtest's) rests on metric-math semantics; this
is where a deployed stack confirms or refutes them. Nothing here reads a clock or a client: ops.alarm_verify
fetches, this compares. One request holds many alarms, so each alarm's query ids are namespaced (`namespaced`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from alarms.engine.evaluation import MetricAlarm
from alarms.engine.metric_math import MathError, Series

Outcome = Literal["agrees", "differs", "error", "no data", "unsupported"]
ERROR_STATUSES = frozenset({"InternalError", "Forbidden", "PartialData"})
SHOWN_DIFFERENCES = 3  # a report line names this many differing periods, then counts the rest
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Answer(Protocol):
    """What CloudWatch returned for one query (ops.metric_history.QueryData is one), by the alarm's own query id."""

    @property
    def series(self) -> Mapping[str, Series]: ...  # by label: an anomaly band has two

    @property
    def status(self) -> str: ...  # the result's StatusCode

    @property
    def messages(self) -> Sequence[str]: ...

    @property
    def values(self) -> Series: ...


@dataclass(frozen=True)
class Difference:
    query_id: str
    timestamp: int
    cloudwatch: float | None  # None: no datapoint
    local: float | None

    def __str__(self) -> str:
        moment = datetime.fromtimestamp(self.timestamp, UTC).strftime("%H:%M")
        return f"{self.query_id} {moment} CloudWatch {_shown(self.cloudwatch)}, ours {_shown(self.local)}"


@dataclass(frozen=True)
class AlarmCheck:
    alarm: str
    outcome: Outcome
    detail: str = ""
    differences: tuple[Difference, ...] = ()
    band: str = ""  # what CloudWatch returned for an anomaly band (its model is CloudWatch's, never compared)

    def line(self, prefix: str = "") -> str:
        text = f"{self.alarm.removeprefix(prefix)}: {self.outcome}"
        details = [part for part in (self.detail, self.band) if part]
        return text + (f" ({'; '.join(details)})" if details else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "alarm": self.alarm,
            "outcome": self.outcome,
            "detail": self.detail,
            "band": self.band,
            "differences": [difference.__dict__ for difference in self.differences],
        }


def namespaced(alarm: MetricAlarm, prefix: str) -> list[dict[str, Any]]:
    """The alarm's queries with every id (and every id an expression names) prefixed, all returning data: one
    GetMetricData request holds several alarms, whose ids (api_count, ...) repeat."""
    ids = {query["Id"] for query in alarm.queries}

    def rename(expression: str) -> str:
        return _IDENTIFIER.sub(lambda match: prefix + match[0] if match[0] in ids else match[0], expression)

    renamed = []
    for query in alarm.queries:
        copy = {**query, "Id": prefix + query["Id"], "ReturnData": True}
        if "Expression" in copy:
            copy["Expression"] = rename(copy["Expression"])
        renamed.append(copy)
    return renamed


def check_alarm(
    alarm: MetricAlarm, answers: Mapping[str, Answer], timestamps: Sequence[int], call_messages: Sequence[str] = ()
) -> AlarmCheck:
    """Agrees / differs (period by period) / CloudWatch's error / no data, over the periods `timestamps`."""
    errors = [*call_messages]
    for query_id, answer in answers.items():
        errors += [f"{query_id}: {message}" for message in answer.messages]
        if answer.status in ERROR_STATUSES and not answer.messages:
            errors.append(f"{query_id}: StatusCode {answer.status}")
    if errors:
        return AlarmCheck(alarm.name, "error", "CloudWatch: " + "; ".join(errors))
    wanted = set(timestamps)
    returned = {query_id: _within(answer.values, wanted) for query_id, answer in answers.items()}
    band = _band(alarm, answers)
    if not any(returned.values()):
        return AlarmCheck(alarm.name, "no data", f"nothing in {len(timestamps)} period(s)", band=band)
    raw = {query_id: returned.get(query_id, {}) for query_id in alarm.metric_stats()}
    try:
        ours = alarm.expression_values(raw, timestamps)
    except (MathError, ValueError) as error:
        return AlarmCheck(alarm.name, "unsupported", f"our evaluator: {error}", band=band)
    differences = tuple(
        difference
        for query_id in ours
        for difference in _compare(query_id, returned.get(query_id, {}), ours[query_id], timestamps)
    )
    if not differences:
        return AlarmCheck(alarm.name, "agrees", f"{len(ours)} expression(s) × {len(timestamps)} period(s)", band=band)
    shown = "; ".join(str(difference) for difference in differences[:SHOWN_DIFFERENCES])
    more = len(differences) - SHOWN_DIFFERENCES
    detail = f"{len(differences)} period(s): {shown}" + (f"; {more} more" if more > 0 else "")
    return AlarmCheck(alarm.name, "differs", detail, differences, band)


def _within(series: Series, wanted: set[int]) -> Series:
    return {timestamp: value for timestamp, value in series.items() if timestamp in wanted}


def _compare(query_id: str, cloudwatch: Series, local: Series, timestamps: Sequence[int]) -> list[Difference]:
    differences = []
    for timestamp in timestamps:
        theirs, mine = cloudwatch.get(timestamp), local.get(timestamp)
        if theirs is None and mine is None:
            continue
        if theirs is None or mine is None or not math.isclose(theirs, mine, rel_tol=1e-9, abs_tol=1e-9):
            differences.append(Difference(query_id, timestamp, theirs, mine))
    return differences


def _band(alarm: MetricAlarm, answers: Mapping[str, Answer]) -> str:
    """Whether CloudWatch's model answered for an anomaly band (an expression's band included)."""
    if not alarm.threshold_id:
        return ""
    answer = answers.get(alarm.threshold_id)
    series = [values for values in (answer.series.values() if answer else []) if values]
    if not series:
        return "band: CloudWatch returned no values (its model has not trained yet, or there is none)"
    return f"band: CloudWatch's model returned {len(series)} series, {max(len(values) for values in series)} period(s)"


def _shown(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"
