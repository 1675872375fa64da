"""The subset of CloudWatch metric math the catalog and the alarms use, evaluated over series already fetched.

CloudWatch evaluates these expressions itself; moto evaluates none, so the local alarm evaluator and the
local dashboard renderer compute them here, with the same code. Supported: numbers, metric ids, `+ - * /`,
unary minus, parentheses, the comparisons `== != < <= > >=` (1 when true, 0 when false),
`IF(condition, trueValue, falseValue)`, `FILL(series, value)` and `ANOMALY_DETECTION_BAND(id, width)`.

Semantics, as CloudWatch documents them where it does:
- a series is `{period start (epoch seconds): value}`; arithmetic or a comparison between two series takes a
  missing value of one as 0 where the other has one; a division by zero gives no value at that timestamp;
- `FILL(m, v)` gives a value at every period of the evaluated window;
- a comparison binds looser than arithmetic; `IF(c, t, f)` takes, at each timestamp of c, t's value where c
  is not 0 and f's where it is 0 (a scalar t or f applies at every timestamp; where t lacks the timestamp the
  value is 0, where f lacks it there is none);
- `ANOMALY_DETECTION_BAND(m, k)` is our stand-in for CloudWatch's trained model: at each period, the
  mean ± k·spread of m's values in the previous `BAND_HISTORY_PERIODS` periods, where spread is the
  standard deviation but never less than √|mean| (a count's Poisson noise) nor 1, so steady synthetic
  traffic does not collapse the band to a line. A value outside its own band does not train the bands
  after it: CloudWatch's model learns from two weeks, so a few minutes of anomaly barely move it, while
  20 periods that learned from the anomaly would call it normal within two or three periods (traffic that
  stopped would look normal again at once). With fewer than `BAND_MIN_HISTORY` earlier values there is no
  band at that period (missing data, as while CloudWatch's model trains); so an anomaly that lasts most of
  the history leaves no band, and the band re-learns from what follows.
"""

from __future__ import annotations

import math
import operator
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

BAND_HISTORY_PERIODS = 20
BAND_MIN_HISTORY = 5

Series = dict[int, float]  # period start (epoch seconds) -> value


@dataclass(frozen=True)
class Band:
    """An anomaly band: period start -> (lower, upper)."""

    bounds: dict[int, tuple[float, float]]


Value = float | Series | Band

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|([A-Za-z_][A-Za-z0-9_]*)|(>=|<=|==|!=|.))")
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")


class MathError(ValueError):
    """An expression outside the supported subset, or malformed."""


@dataclass(frozen=True)
class _Number:
    value: float


@dataclass(frozen=True)
class _Ref:
    id: str


@dataclass(frozen=True)
class _Unary:
    operand: _Node


@dataclass(frozen=True)
class _Binary:
    op: str
    left: _Node
    right: _Node


@dataclass(frozen=True)
class _Call:
    function: str
    args: tuple[_Node, ...]


_Node = _Number | _Ref | _Unary | _Binary | _Call


def _tokens(expression: str) -> list[tuple[str, str]]:
    tokens = []
    for number, name, symbol in _TOKEN.findall(expression.strip()):
        if number:
            tokens.append(("number", number))
        elif name:
            tokens.append(("name", name))
        elif symbol.strip():
            tokens.append(("symbol", symbol))
    return tokens


class _Parser:
    def __init__(self, expression: str) -> None:
        self._expression = expression
        self._tokens = _tokens(expression)
        self._position = 0

    def parse(self) -> _Node:
        node = self._comparison()
        if self._position != len(self._tokens):
            raise MathError(f"unexpected {self._tokens[self._position][1]!r} in {self._expression!r}")
        return node

    def _peek(self) -> str | None:
        return self._tokens[self._position][1] if self._position < len(self._tokens) else None

    def _take(self) -> tuple[str, str]:
        if self._position >= len(self._tokens):
            raise MathError(f"unexpected end of {self._expression!r}")
        self._position += 1
        return self._tokens[self._position - 1]

    def _expect(self, symbol: str) -> None:
        if self._take()[1] != symbol:
            raise MathError(f"expected {symbol!r} in {self._expression!r}")

    def _comparison(self) -> _Node:
        node = self._sum()
        if self._peek() in _COMPARISONS:
            node = _Binary(self._take()[1], node, self._sum())
        return node

    def _sum(self) -> _Node:
        node = self._product()
        while self._peek() in ("+", "-"):
            node = _Binary(self._take()[1], node, self._product())
        return node

    def _product(self) -> _Node:
        node = self._unary()
        while self._peek() in ("*", "/"):
            node = _Binary(self._take()[1], node, self._unary())
        return node

    def _unary(self) -> _Node:
        if self._peek() == "-":
            self._take()
            return _Unary(self._unary())
        return self._primary()

    def _primary(self) -> _Node:
        kind, text = self._take()
        if kind == "number":
            return _Number(float(text))
        if kind == "name" and self._peek() == "(":
            self._take()
            args = [self._comparison()]
            while self._peek() == ",":
                self._take()
                args.append(self._comparison())
            self._expect(")")
            return _Call(text.upper(), tuple(args))
        if kind == "name":
            return _Ref(text)
        if text == "(":
            node = self._comparison()
            self._expect(")")
            return node
        raise MathError(f"unexpected {text!r} in {self._expression!r}")


def parse(expression: str) -> _Node:
    return _Parser(expression).parse()


def referenced_ids(expression: str) -> set[str]:
    """The metric ids an expression reads."""
    found: set[str] = set()

    def walk(node: _Node) -> None:
        if isinstance(node, _Ref):
            found.add(node.id)
        elif isinstance(node, _Unary):
            walk(node.operand)
        elif isinstance(node, _Binary):
            walk(node.left)
            walk(node.right)
        elif isinstance(node, _Call):
            for arg in node.args:
                walk(arg)

    walk(parse(expression))
    return found


def evaluate(expression: str, series: Mapping[str, Series], timestamps: Sequence[int], period: int) -> Series | Band:
    """The expression's values at `timestamps` (period starts); `series` may hold earlier history."""
    result = _Evaluator(series, tuple(timestamps), period).value(parse(expression))
    if isinstance(result, Band):
        return result
    if isinstance(result, float):
        return {timestamp: result for timestamp in timestamps}
    return {timestamp: result[timestamp] for timestamp in timestamps if timestamp in result}


class _Evaluator:
    def __init__(self, series: Mapping[str, Series], timestamps: tuple[int, ...], period: int) -> None:
        self._series = series
        self._timestamps = timestamps
        self._period = period

    def value(self, node: _Node) -> Value:
        if isinstance(node, _Number):
            return node.value
        if isinstance(node, _Ref):
            if node.id not in self._series:
                raise MathError(f"unknown metric id {node.id!r}")
            return dict(self._series[node.id])
        if isinstance(node, _Unary):
            return _combine("*", -1.0, self._plain(node.operand))
        if isinstance(node, _Binary):
            return _combine(node.op, self._plain(node.left), self._plain(node.right))
        return self._call(node)

    def _plain(self, node: _Node) -> float | Series:
        value = self.value(node)
        if isinstance(value, Band):
            raise MathError("an anomaly band cannot take part in arithmetic")
        return value

    def _call(self, node: _Call) -> Value:
        if node.function == "IF" and len(node.args) == 3:
            condition, when_true, when_false = (self._plain(arg) for arg in node.args)
            return _choose(condition, when_true, when_false)
        if node.function == "FILL" and len(node.args) == 2:
            values, fill = self._plain(node.args[0]), self._plain(node.args[1])
            if not isinstance(fill, float) or isinstance(values, float):
                raise MathError("FILL takes a series and a number")
            return {timestamp: values.get(timestamp, fill) for timestamp in self._timestamps}
        if node.function == "ANOMALY_DETECTION_BAND" and len(node.args) in (1, 2):
            metric = node.args[0]
            width = self._plain(node.args[1]) if len(node.args) == 2 else 2.0
            if not isinstance(metric, _Ref) or not isinstance(width, float):
                raise MathError("ANOMALY_DETECTION_BAND takes a metric id and a number")
            return anomaly_band(self._series.get(metric.id, {}), self._timestamps, self._period, width)
        raise MathError(f"unsupported function {node.function}({len(node.args)} arguments)")


def _combine(op: str, left: float | Series, right: float | Series) -> float | Series:
    if isinstance(left, float) and isinstance(right, float):
        result = _apply(op, left, right)
        if result is None:
            raise MathError("division by zero")
        return result
    if isinstance(left, float):
        assert isinstance(right, dict)  # both floats returned above
        pairs = {timestamp: (left, value) for timestamp, value in right.items()}
    elif isinstance(right, float):
        pairs = {timestamp: (value, right) for timestamp, value in left.items()}
    else:
        # "Missing values in a time series are treated as 0" (CloudWatch, Use metric math: arithmetic; likewise a
        # comparison of two series where only one has a value)
        pairs = {
            timestamp: (left.get(timestamp, 0.0), right.get(timestamp, 0.0)) for timestamp in left.keys() | right.keys()
        }
    combined = {timestamp: _apply(op, a, b) for timestamp, (a, b) in sorted(pairs.items())}
    return {timestamp: value for timestamp, value in combined.items() if value is not None}


def _choose(condition: float | Series, when_true: float | Series, when_false: float | Series) -> float | Series:
    if isinstance(condition, float):
        return when_true if condition else when_false
    chosen = {}
    for timestamp, test in condition.items():
        branch = when_true if test else when_false
        # a true condition whose series lacks the datapoint gives 0; a false one gives none (Using IF expressions)
        value = branch if isinstance(branch, float) else branch.get(timestamp, 0.0 if test else None)
        if value is not None:
            chosen[timestamp] = value
    return chosen


def _apply(op: str, left: float, right: float) -> float | None:
    if op in _COMPARISONS:
        return float(_COMPARE[op](left, right))
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    return None if right == 0 else left / right


_COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def anomaly_band(values: Series, timestamps: Sequence[int], period: int, width: float) -> Band:
    """mean ± width·spread of the previous BAND_HISTORY_PERIODS values that were inside their own band, at each
    timestamp (see the module doc)."""
    bounds: dict[int, tuple[float, float]] = {}
    wanted = set(timestamps)
    trained = dict(values)  # the values the band learns from: an anomaly does not teach it what is normal
    for timestamp in sorted(wanted | values.keys()):
        history = [
            trained[earlier]
            for step in range(1, BAND_HISTORY_PERIODS + 1)
            if (earlier := timestamp - step * period) in trained
        ]
        if len(history) < BAND_MIN_HISTORY:
            continue
        mean = statistics.fmean(history)
        spread = max(statistics.pstdev(history), math.sqrt(abs(mean)), 1.0)
        low, high = mean - width * spread, mean + width * spread
        if timestamp in wanted:
            bounds[timestamp] = (low, high)
        if timestamp in values and not low <= values[timestamp] <= high:
            del trained[timestamp]
    return Band(bounds)
