"""The end-to-end canary's own pieces: its API key, its function's settings and least-privilege statements,
and its schedule's Input. The function and its schedule are built with the others (functions.py), the key's usage
plan with the API (api.py)."""

from __future__ import annotations

import json

from awacs import apigateway as apigateway_actions
from awacs import dynamodb as ddb_actions
from awacs.aws import Condition, ForAllValuesStringLike, Statement
from troposphere import GetAtt, Join, Ref, Sub, apigateway

from cloudformation.common import allow
from cloudformation.config import Config
from cloudformation.storage import Storage

# The prefix ingest gives canary event ids (functions/common/canary.py): the only items the canary may read.
CANARY_ID_PREFIX = "canary-"
SCHEDULE_INPUT = json.dumps({"source": "sluice.canary", "action": "probe"}, sort_keys=True)


def build_canary_key(config: Config) -> apigateway.ApiKey:
    """The canary's own key: its requests are identifiable (ingest marks them) and count against its own plan."""
    return apigateway.ApiKey(
        "CanaryApiKey",
        Name=config.resource_name("canary-key"),
        Enabled=True,
        Description="The end-to-end canary's key (its requests get canary-* event ids)",
    )


def api_url(config: Config) -> Sub:
    return Sub(f"https://${{Api}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{config.api.stage_name}")


def canary_environment(config: Config, key: apigateway.ApiKey, storage: Storage) -> dict:
    return {
        "API_URL": api_url(config),
        "CANARY_API_KEY_ID": Ref(key),
        "TABLE_NAME": Ref(storage.table),
        "DEADLINE_SECONDS": str(config.canary.deadline_seconds),
    }


def canary_statements(key: apigateway.ApiKey, storage: Storage) -> list[Statement]:
    """Read its own key's value, and its own items only: the table's partition key must start with the prefix."""
    return [
        allow(
            [apigateway_actions.GET],
            [Join("", ["arn:", Ref("AWS::Partition"), ":apigateway:", Ref("AWS::Region"), "::/apikeys/", Ref(key)])],
        ),
        Statement(
            Effect="Allow",
            Action=[ddb_actions.GetItem],
            Resource=[GetAtt(storage.table, "Arn")],
            Condition=Condition(ForAllValuesStringLike("dynamodb:LeadingKeys", [f"{CANARY_ID_PREFIX}*"])),
        ),
    ]
