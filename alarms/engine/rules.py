"""Composite alarm rules: ALARM("name") / OK(...) / INSUFFICIENT_DATA(...), AND, OR, NOT, TRUE, FALSE,
parentheses; names quoted or not, alarm ARNs allowed. A pure parser shared by every evaluator."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from alarms.engine.evaluation import ALARM, INSUFFICIENT_DATA, OK

_RULE_TOKEN = re.compile(r'\s*(?:(\()|(\))|"([^"]*)"|([^\s()"]+))')
_STATE_FUNCTIONS = {"ALARM": ALARM, "OK": OK, "INSUFFICIENT_DATA": INSUFFICIENT_DATA}


class RuleError(ValueError):
    """An AlarmRule outside what the local evaluator understands."""


def rule_children(rule: str) -> list[str]:
    """Alarm names an AlarmRule refers to, in order."""
    names: list[str] = []

    def record(name: str) -> str:
        names.append(name)
        return OK

    _RuleParser(rule, record).parse()
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


def composite_state(rule: str, state_of: Callable[[str], str]) -> str:
    """A composite's state: ALARM while its rule holds, OK otherwise."""
    return ALARM if rule_holds(rule, state_of) else OK


def evaluation_order(composites: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The composites with each after the composites its rule names: a composite of composites (CloudWatch allows
    them) must see its children's new states in the same round. A cycle is refused, as CloudWatch refuses it."""
    by_name = {composite["AlarmName"]: composite for composite in composites}
    ordered: list[Mapping[str, Any]] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if any(done["AlarmName"] == name for done in ordered):
            return
        if name in visiting:
            raise RuleError(f"composite alarms form a cycle through {name!r}")
        visiting.add(name)
        for child in rule_children(by_name[name]["AlarmRule"]):
            if child in by_name:
                visit(child)
        visiting.discard(name)
        ordered.append(by_name[name])

    for name in by_name:
        visit(name)
    return ordered
