"""The alarms of a synthesized template as PutMetricAlarm / PutCompositeAlarm dicts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Definitions:
    alarms: list[dict[str, Any]]  # PutMetricAlarm keyword arguments
    composites: list[dict[str, Any]]  # PutCompositeAlarm keyword arguments


def definitions_from_template(template: Mapping[str, Any], resolve: Callable[[Any], Any]) -> Definitions:
    """The template's alarms as PutMetricAlarm/PutCompositeAlarm dicts, references resolved by `resolve`.

    `resolve` is called on every intrinsic ({"Ref": ...}, {"Fn::GetAtt": ...}, {"Fn::Sub": ...}, ...) and
    returns the concrete value; CloudFormation's alarm properties already have the API's names.
    """
    alarms: list[dict[str, Any]] = []
    composites: list[dict[str, Any]] = []
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
