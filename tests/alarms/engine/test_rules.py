"""Composite alarm rules."""

from __future__ import annotations

from alarms.engine.evaluation import ALARM, INSUFFICIENT_DATA, OK
from alarms.engine.rules import composite_state, rule_children, rule_holds


def test_composite_rules():
    states = {"a": ALARM, "b": OK, "c": INSUFFICIENT_DATA}
    state_of = states.__getitem__
    assert rule_holds('ALARM("a") AND NOT ALARM("b")', state_of)
    assert rule_holds("(ALARM(b) OR OK(b)) AND INSUFFICIENT_DATA(c)", state_of)
    assert not rule_holds("ALARM(arn:aws:cloudwatch:us-east-1:123456789012:alarm:b) OR FALSE", state_of)
    assert rule_holds("TRUE", state_of)


def test_a_composite_follows_its_rule_and_names_its_children():
    # GIVEN a composite over two children WHEN one is in ALARM THEN the composite is; when none, OK
    rule = 'ALARM("a") OR ALARM("b")'
    assert rule_children(rule) == ["a", "b"]
    assert composite_state(rule, {"a": OK, "b": ALARM}.__getitem__) == ALARM
    assert composite_state(rule, {"a": OK, "b": INSUFFICIENT_DATA}.__getitem__) == OK
