"""The end-to-end canary's own pieces: its API key, its function's settings and least-privilege statements,
and its schedule's Input. The function and its schedule are built with the others (functions.py), the key's usage
plan with the API (api.py)."""

from __future__ import annotations

import json

from awacs import apigateway as apigateway_actions
from awacs import dynamodb as ddb_actions
from awacs import s3 as s3_actions
from awacs.aws import Condition, ForAllValuesStringLike, Statement
from troposphere import GetAtt, Join, Ref, Sub, apigateway, s3

from cloudformation.analytics import Analytics
from cloudformation.common import allow
from cloudformation.storage import Storage
from core.config import Config
from functions.common import env_names
from functions.common.contract import ANALYTICS_CANARY_PREFIX, CANARY_ID_PREFIX

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


def canary_environment(config: Config, key: apigateway.ApiKey, storage: Storage, analytics: Analytics | None) -> dict:
    """Where the canary reads its event back: the table, or without one the analytics bucket."""
    store = (
        {env_names.TABLE_NAME: Ref(storage.table)}
        if storage.table
        else {env_names.ANALYTICS_BUCKET: Ref(_bucket(analytics))}
    )
    return {
        env_names.API_URL: api_url(config),
        env_names.CANARY_API_KEY_ID: Ref(key),
        **store,
        env_names.DEADLINE_SECONDS: str(config.canary.deadline_seconds),
    }


def canary_statements(key: apigateway.ApiKey, storage: Storage, analytics: Analytics | None) -> list[Statement]:
    """Read its own key's value, and its own events only: items whose partition key starts with the prefix, or
    objects under the canary prefix (ListBucket too: without it a missing object answers 403, not 404)."""
    read_key = allow(
        [apigateway_actions.GET],
        [Join("", ["arn:", Ref("AWS::Partition"), ":apigateway:", Ref("AWS::Region"), "::/apikeys/", Ref(key)])],
    )
    if storage.table is None:
        bucket = _bucket(analytics)
        return [
            read_key,
            allow(
                [s3_actions.GetObject],
                [Join("", [GetAtt(bucket, "Arn"), f"/{ANALYTICS_CANARY_PREFIX}/{CANARY_ID_PREFIX}*"])],
            ),
            allow([s3_actions.ListBucket], [GetAtt(bucket, "Arn")]),
        ]
    return [
        read_key,
        Statement(
            Effect="Allow",
            Action=[ddb_actions.GetItem],
            Resource=[GetAtt(storage.table, "Arn")],
            Condition=Condition(ForAllValuesStringLike("dynamodb:LeadingKeys", [f"{CANARY_ID_PREFIX}*"])),
        ),
    ]


def _bucket(analytics: Analytics | None) -> s3.Bucket:
    if analytics is None:  # the configuration refuses sinks without either store
        raise ValueError("an environment without the table must have the S3 analytics store")
    return analytics.bucket
