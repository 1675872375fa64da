"""Resolve CloudFormation intrinsics against a stack deployed into moto.

The local stack creates what moto's CloudFormation skips (alarms, the stage, the usage plan, policies,
the budget) from the template itself, so their properties' Refs and GetAtts need concrete values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ACCOUNT_ID = "123456789012"  # moto's default account


class UnresolvableError(ValueError):
    """A reference the local stack cannot give a value for."""


@dataclass(frozen=True)
class StackValues:
    region: str
    parameters: Mapping[str, str]
    physical_ids: Mapping[str, str]  # logical id → physical id, as describe_stack_resources reports
    types: Mapping[str, str]  # logical id → resource type
    extra: Mapping[str, str]  # physical ids of what the local stack created itself (stage, api key, ...)

    def physical_id(self, logical_id: str) -> str | None:  # None: AWS::NoValue
        if logical_id in self.extra:
            return self.extra[logical_id]
        if logical_id in self.physical_ids:
            return self.physical_ids[logical_id]
        if logical_id in self.parameters:
            return self.parameters[logical_id]
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        if logical_id in pseudo:
            return pseudo[logical_id]
        raise UnresolvableError(f"no value for Ref {logical_id}")

    def attribute(self, logical_id: str, name: str) -> str:
        kind = self.types.get(logical_id)
        physical = self.physical_id(logical_id)
        if physical is None:
            raise UnresolvableError(f"Fn::GetAtt {logical_id}.{name} of AWS::NoValue")
        arn = f"arn:aws:{{service}}:{self.region}:{ACCOUNT_ID}:{{resource}}"
        if kind == "AWS::SQS::Queue":
            queue_name = physical.rstrip("/").rsplit("/", 1)[-1]
            return {"Arn": arn.format(service="sqs", resource=queue_name), "QueueName": queue_name}[name]
        if kind == "AWS::Lambda::Function" and name == "Arn":
            return arn.format(service="lambda", resource=f"function:{physical}")
        if kind == "AWS::DynamoDB::Table" and name == "Arn":
            return arn.format(service="dynamodb", resource=f"table/{physical}")
        if kind == "AWS::S3::Bucket" and name == "Arn":
            return f"arn:aws:s3:::{physical}"
        if kind == "AWS::KMS::Key" and name == "Arn":
            return arn.format(service="kms", resource=f"key/{physical}")
        if kind == "AWS::SNS::Topic" and name == "TopicName":
            return physical.rsplit(":", 1)[-1]
        if kind == "AWS::Logs::LogGroup" and name == "Arn":
            return arn.format(service="logs", resource=f"log-group:{physical}:*")
        if kind == "AWS::IAM::Role" and name == "Arn":
            return f"arn:aws:iam::{ACCOUNT_ID}:role/{physical}"
        if kind == "AWS::ApiGateway::RestApi" and name == "RootResourceId":
            raise UnresolvableError("RootResourceId is only known to moto's API Gateway")
        raise UnresolvableError(f"no value for Fn::GetAtt {logical_id}.{name}")

    def resolve(self, node: Any) -> Any:
        """A template fragment with every intrinsic replaced by its value."""
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Ref"}:
            return self.physical_id(node["Ref"])
        if set(node) == {"Fn::GetAtt"}:
            target = node["Fn::GetAtt"]
            logical_id, name = target if isinstance(target, list) else target.split(".", 1)
            return self.attribute(logical_id, name)
        if set(node) == {"Fn::Join"}:
            separator, parts = node["Fn::Join"]
            return separator.join(str(self.resolve(part)) for part in parts)
        if set(node) == {"Fn::Sub"}:
            return self._substitute(node["Fn::Sub"])
        return {key: self.resolve(value) for key, value in node.items()}

    def _substitute(self, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else value
        resolved_variables = {name: self.resolve(item) for name, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in resolved_variables:
                return str(resolved_variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.attribute(logical_id, attribute)
            return str(self.physical_id(name))

        return re.sub(r"\$\{([A-Za-z0-9:.]+)\}", replace, text)
