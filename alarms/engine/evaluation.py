"""CloudWatch alarm evaluation as a pure function of metric series: one window of datapoints → a state.

Used wherever an alarm must be judged without CloudWatch doing it: the local stack (local.services.alarm_evaluator
reads moto's metrics and calls this) and the backtest (alarms.backtest runs it over recorded or fetched
history). Nothing here reads a clock, a client or a file.

`MetricAlarm.from_definition` takes a PutMetricAlarm-style dict (see alarms.definitions); `evaluate_alarm`
decides the state at the end of a window as CloudWatch does: DatapointsToAlarm of EvaluationPeriods
breaching → ALARM; TreatMissingData `breaching`/`notBreaching` counts a missing datapoint as such; with
`missing`, a window without data is INSUFFICIENT_DATA and fewer datapoints than DatapointsToAlarm decide by
themselves (ALARM only if all of them breach); with `ignore`, a window without data keeps the state. Metric
math (including FILL, IF and our anomaly band) is alarms.engine.metric_math's. The window never reaches back
past EvaluationPeriods to find more datapoints (CloudWatch may, for `missing`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alarms.engine.metric_math import BAND_HISTORY_PERIODS, Band, Series, evaluate

ALARM, OK, INSUFFICIENT_DATA = "ALARM", "OK", "INSUFFICIENT_DATA"
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

    def expression_values(self, series: Mapping[str, Series], timestamps: Sequence[int]) -> dict[str, Series]:
        """Every expression's values at `timestamps` but the anomaly band's, each in the alarm's order (a later
        expression may read an earlier one); MathError for an expression outside alarms.engine.metric_math."""
        computed = dict(series)
        for query in self.queries:
            query_id = query["Id"]
            if "Expression" in query and query_id != self.threshold_id:
                value = evaluate(query["Expression"], computed, timestamps, self.period)
                if isinstance(value, Band):
                    raise ValueError(f"alarm {self.name}: {query_id} is a band but not the ThresholdMetricId")
                computed[query_id] = value
        return {query_id: value for query_id, value in computed.items() if query_id not in series}

    def values(self, series: Mapping[str, Series], timestamps: Sequence[int]) -> tuple[Series, Band | None]:
        """The alarm's datapoints and, for an anomaly-band alarm, its band, at `timestamps`."""
        expressions = {query["Id"]: query["Expression"] for query in self.queries if "Expression" in query}
        # An anomaly band over metric math reads the expression's history, not only the evaluated window.
        history = range(min(timestamps) - self.history_periods * self.period, max(timestamps) + 1, self.period)
        computed = {**series, **self.expression_values(series, list(history))}

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


def window(alarm: MetricAlarm, end: int) -> list[int]:
    """The period starts of the alarm's evaluation window ending (exclusive) at `end`."""
    return [end - step * alarm.period for step in range(alarm.evaluation_periods, 0, -1)]


def evaluate_alarm(alarm: MetricAlarm, series: Mapping[str, Series], end: int) -> Verdict:
    """The alarm's verdict for the window ending at `end`; `series` is keyed by the alarm's MetricStat ids
    and may hold earlier history (an anomaly band reads `history_periods` before the window)."""
    timestamps = window(alarm, end)
    values, band = alarm.values(series, timestamps)
    return decide(alarm, datapoints(alarm, values, band, timestamps))


def _short_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%d/%m/%y %H:%M:%S")
