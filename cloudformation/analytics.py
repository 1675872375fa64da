"""The S3 analytics store (`sinks` holds "s3"): the bucket the consumer writes one gzip JSON Lines object per
batch and hour to, the Glue table over it, the view every query reads and an Athena workgroup, so `SELECT` works
on the first day.

The table `events_raw` projects its `dt`/`hour` partitions (Athena partition projection): no crawler, no
MSCK REPAIR, nothing to run when a new hour starts. Object layout: functions/common/analytics.py. It holds
every line written, and delivery is at least once: a regrouped redelivery or a replay writes a copy of an event
(identical lines, in the same hour's partition, under another object key). The view `events` keeps one row per
partition and event id (the earliest received copy), so every query counts each event once. Its window is
partitioned by `dt` and `hour` too, so a query's filter on them still prunes partitions through the view
(Trino pushes a predicate on a window's partition columns below it).
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass

from troposphere import GetAtt, Join, Ref, athena, glue, kms, s3

from cloudformation.storage import private_bucket, tls_only_policy
from core.config import Config
from functions.common.contract import ANALYTICS_CANARY_PREFIX, ANALYTICS_COLUMNS, ANALYTICS_PREFIX

RESULTS_PREFIX = "athena-results"
TABLE = "events"  # the view every query reads: one row per event (and hour)
RAW_TABLE = "events_raw"  # every line of the objects, copies included
FIRST_DAY = "2026-01-01"  # projected partitions start here; a query outside its data just scans nothing
QUERY_SCAN_LIMIT_BYTES = 100 * 1024**3  # a runaway query stops at 100 GB (about $0.49)


PARTITIONS = ("dt", "hour")
VIEW_COLUMNS = (*ANALYTICS_COLUMNS, *PARTITIONS)  # all strings


def deduplicated_sql(raw_table: str = RAW_TABLE) -> str:
    """The view's query: one row per partition and event id, the earliest received copy (then the lowest request
    id, so the pick is stable). Also the local DuckDB view's (ops/query.py)."""
    return (
        f"SELECT {', '.join(VIEW_COLUMNS)} FROM (SELECT *, row_number() OVER (PARTITION BY dt, hour, event_id "
        f"ORDER BY received_at, request_id) AS line_copy FROM {raw_table}) WHERE line_copy = 1"
    )


def presto_view_text(database: str, sql: str) -> str:
    """A Glue table's ViewOriginalText that Athena reads as a view: Trino's Hive view codec ("/* Presto View: "
    + base64 of the JSON definition + " */"), the form Athena's CREATE VIEW stores."""
    definition = {
        "originalSql": sql,
        "catalog": "awsdatacatalog",
        "schema": database,
        "columns": [{"name": name, "type": "varchar"} for name in VIEW_COLUMNS],
    }
    encoded = base64.b64encode(json.dumps(definition, sort_keys=True).encode("utf-8")).decode("ascii")
    return f"/* Presto View: {encoded} */"


@dataclass(frozen=True)
class Analytics:
    bucket: s3.Bucket
    policy: s3.BucketPolicy
    database: glue.Database
    raw_table: glue.Table
    view: glue.Table
    workgroup: athena.WorkGroup

    def resources(self) -> list:
        return [self.bucket, self.policy, self.database, self.raw_table, self.view, self.workgroup]

    def object_arns(self, prefix: str = ANALYTICS_PREFIX) -> Join:
        return Join("", [GetAtt(self.bucket, "Arn"), f"/{prefix}/*"])


def database_name(config: Config) -> str:
    return f"{config.project}_{config.env}".replace("-", "_")  # Athena wants no hyphens


def workgroup_name(config: Config) -> str:
    return config.resource_name("analytics")


def _canary_expiry(config: Config) -> list[s3.LifecycleRule]:
    """Canary objects (S3 alone) expire like canary items: after canary.ttl_hours, in whole days."""
    if "dynamodb" in config.sinks:
        return []
    days = max(1, math.ceil(config.canary.ttl_hours / 24))
    return [
        s3.LifecycleRule(
            Id="canary-events", Status="Enabled", Prefix=f"{ANALYTICS_CANARY_PREFIX}/", ExpirationInDays=days
        )
    ]


def build_analytics(config: Config, key: kms.Key) -> Analytics | None:
    if "s3" not in config.sinks:
        return None
    bucket = private_bucket(
        config,
        "AnalyticsBucket",
        "analytics",
        key,
        LifecycleConfiguration=s3.LifecycleConfiguration(
            Rules=[
                # a redelivered batch overwrites its object: keep the old version a week, not forever
                s3.LifecycleRule(
                    Id="overwritten-objects",
                    Status="Enabled",
                    NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=7),
                    AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=7),
                ),
                s3.LifecycleRule(
                    Id="query-results", Status="Enabled", Prefix=f"{RESULTS_PREFIX}/", ExpirationInDays=30
                ),
                *_canary_expiry(config),
            ]
        ),
    )
    database = glue.Database(
        "AnalyticsDatabase",
        CatalogId=Ref("AWS::AccountId"),
        DatabaseInput=glue.DatabaseInput(Name=database_name(config), Description="Sluice events (S3 sink)"),
    )
    location = Join("", ["s3://", Ref(bucket), f"/{ANALYTICS_PREFIX}/"])
    raw_table = glue.Table(
        "AnalyticsRawTable",
        CatalogId=Ref("AWS::AccountId"),
        DatabaseName=Ref(database),
        TableInput=glue.TableInput(
            Name=RAW_TABLE,
            TableType="EXTERNAL_TABLE",
            Parameters={
                "classification": "json",
                "compressionType": "gzip",
                "projection.enabled": "true",
                "projection.dt.type": "date",
                "projection.dt.format": "yyyy-MM-dd",
                "projection.dt.range": f"{FIRST_DAY},NOW",
                "projection.dt.interval": "1",
                "projection.dt.interval.unit": "DAYS",
                "projection.hour.type": "integer",
                "projection.hour.range": "0,23",
                "projection.hour.digits": "2",
                # Join, not Sub: ${dt} and ${hour} are Athena's placeholders, not CloudFormation's
                "storage.location.template": Join("", [location, "dt=${dt}/hour=${hour}/"]),
            },
            PartitionKeys=[glue.Column(Name="dt", Type="string"), glue.Column(Name="hour", Type="string")],
            StorageDescriptor=glue.StorageDescriptor(
                Columns=[glue.Column(Name=name, Type="string") for name in ANALYTICS_COLUMNS],
                Location=location,
                InputFormat="org.apache.hadoop.mapred.TextInputFormat",
                OutputFormat="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                SerdeInfo=glue.SerdeInfo(SerializationLibrary="org.openx.data.jsonserde.JsonSerDe"),
            ),
        ),
    )
    # The view keeps the logical id and name the table had (`events`): an update of that table, not a new one
    # named like it (a replaced resource is deleted only after its successor is created).
    view = glue.Table(
        "AnalyticsTable",
        DependsOn=[raw_table],
        CatalogId=Ref("AWS::AccountId"),
        DatabaseName=Ref(database),
        TableInput=glue.TableInput(
            Name=TABLE,
            TableType="VIRTUAL_VIEW",
            Description="One row per event and hour of events_raw: redelivered and replayed copies counted once",
            Parameters={"presto_view": "true", "comment": "Presto View"},
            ViewOriginalText=presto_view_text(database_name(config), deduplicated_sql()),
            ViewExpandedText="/* Presto View */",
            StorageDescriptor=glue.StorageDescriptor(
                Columns=[glue.Column(Name=name, Type="string") for name in VIEW_COLUMNS],
                SerdeInfo=glue.SerdeInfo(),
            ),
        ),
    )
    workgroup = athena.WorkGroup(
        "AnalyticsWorkGroup",
        Name=workgroup_name(config),
        Description="Queries over the Sluice S3 analytics store (invoke events.query)",
        RecursiveDeleteOption=True,
        WorkGroupConfiguration=athena.WorkGroupConfiguration(
            EnforceWorkGroupConfiguration=True,
            PublishCloudWatchMetricsEnabled=True,
            BytesScannedCutoffPerQuery=QUERY_SCAN_LIMIT_BYTES,
            ResultConfiguration=athena.ResultConfiguration(
                OutputLocation=Join("", ["s3://", Ref(bucket), f"/{RESULTS_PREFIX}/"]),
                EncryptionConfiguration=athena.EncryptionConfiguration(
                    EncryptionOption="SSE_KMS", KmsKey=GetAtt(key, "Arn")
                ),
            ),
        ),
    )
    return Analytics(bucket, tls_only_policy("AnalyticsBucketPolicy", bucket), database, raw_table, view, workgroup)
