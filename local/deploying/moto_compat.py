"""What moto 5.2's CloudFormation needs to accept our template unchanged in meaning.

Each step rewrites JSON that AWS would read identically; none changes a property's value:
- moto creates resources in the order they appear and resolves `Fn::GetAtt` only against resources it
  has already created, so resources are listed dependencies first (JSON object order means nothing to AWS);
- moto's KMS key reads tags as `TagKey`/`TagValue` (the KMS API's spelling) instead of CloudFormation's
  `Key`/`Value`;
- moto's API Gateway method requires `IntegrationHttpMethod` and `Uri` even for a MOCK integration, where
  AWS ignores both;
- moto's stack deletion keeps only resources whose DeletionPolicy is literally `Retain`; it never rolls a
  create back the way AWS does, so `RetainExceptOnCreate` means `Retain` to it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

_SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def moto_compatible(template: dict[str, Any]) -> dict[str, Any]:
    compatible = copy.deepcopy(template)
    compatible["Resources"] = _dependency_ordered(compatible["Resources"])
    for resource in compatible["Resources"].values():
        if resource.get("DeletionPolicy") == "RetainExceptOnCreate":
            resource["DeletionPolicy"] = "Retain"
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::KMS::Key" and "Tags" in properties:
            properties["Tags"] = [{"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in properties["Tags"]]
        if resource["Type"] == "AWS::ApiGateway::Method" and properties["Integration"]["Type"] == "MOCK":
            properties["Integration"].setdefault("IntegrationHttpMethod", "POST")
            properties["Integration"].setdefault("Uri", "")
    return compatible


def references(node: Any) -> Iterator[str]:
    """Logical ids a template fragment refers to through Ref, Fn::GetAtt or Fn::Sub."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield value[0] if isinstance(value, list) else value.split(".")[0]
            elif key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                yield from (name for name in _SUB_REFERENCE.findall(text) if name not in variables)
                yield from references(variables)
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def _dependency_ordered(resources: dict[str, Any]) -> dict[str, Any]:
    def dependencies(name: str) -> set[str]:
        body = resources[name]
        depends_on = body.get("DependsOn", [])
        explicit = {depends_on} if isinstance(depends_on, str) else set(depends_on)
        return ({ref for ref in references(body) if ref in resources} | explicit) - {name}

    ordered: dict[str, Any] = {}

    def visit(name: str) -> None:
        if name in ordered:
            return
        ordered[name] = None  # placeholder: CloudFormation templates have no cycles, cfn-lint checks that
        for dependency in sorted(dependencies(name)):
            visit(dependency)
        del ordered[name]
        ordered[name] = resources[name]

    for name in sorted(resources):
        visit(name)
    return ordered
