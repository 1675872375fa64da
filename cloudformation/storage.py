"""Where events rest: the events table (when `sinks` holds "dynamodb"), the held-notifications table, the S3
archive, and the table that remembers Idempotency-Keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from awacs import s3 as s3_actions
from awacs.aws import PolicyDocument
from troposphere import Equals, GetAtt, If, Join, Parameter, Ref, Sub, dynamodb, kms, s3
from troposphere import applicationautoscaling as autoscaling

from cloudformation.common import deny_insecure_transport, kept_outside_local
from core.config import Config
from functions.common.contract import EXPIRES_AT_ATTRIBUTE

# The events table's TTL (functions/common/contract.py EXPIRES_AT_ATTRIBUTE) is always on: canary events carry it
# always (functions/common/canary.py), client events only when `table.ttl_days` is set.

# The events table's deletion protection is a parameter: a first create that fails rolls back by deleting the
# table (DeletionPolicy RetainExceptOnCreate), which protection would refuse ("When enabled, the table cannot be
# deleted by any user or process", CloudFormation's AWS::DynamoDB::Table DeletionProtectionEnabled) and leave the
# stack ROLLBACK_FAILED with the table's fixed name blocking the retry. `invoke deploy` creates the stack with
# "false" and updates it to "true" right after CREATE_COMPLETE (ops/deploy.py); the default protects a deploy
# made by other means. A parameter keeps the template the one truth (no drift from an UpdateTable call), and a
# property change of DeletionProtectionEnabled needs no interruption.
DELETION_PROTECTION_PARAMETER = "EventsTableDeletionProtection"
PROTECTED_CONDITION = "EventsTableProtected"


@dataclass(frozen=True)
class Storage:
    table: dynamodb.Table | None  # None: the S3 analytics store is the only sink
    held_notifications: dynamodb.Table
    archive: s3.Bucket
    archive_policy: s3.BucketPolicy
    autoscaling: tuple
    idempotency: dynamodb.Table
    parameters: tuple[Parameter, ...] = ()
    conditions: dict[str, object] = field(default_factory=dict)

    def resources(self) -> list:
        return [
            *([self.table] if self.table else []),
            self.held_notifications,
            self.archive,
            self.archive_policy,
            *self.autoscaling,
            self.idempotency,
        ]


def protects_events_table(config: Config) -> bool:
    """Outside local, the events table (when it is a sink) is protected from deletion once it exists."""
    return "dynamodb" in config.sinks and not config.is_local


def build_storage(config: Config, key: kms.Key) -> Storage:
    table = _events_table(config, key) if "dynamodb" in config.sinks else None
    archive = _archive_bucket(config, key)
    protected = protects_events_table(config)
    return Storage(
        table=table,
        held_notifications=_held_notifications_table(config, key),
        archive=archive,
        archive_policy=_archive_policy(archive),
        autoscaling=_write_autoscaling(config, table) if table and config.table.billing == "provisioned" else (),
        idempotency=_idempotency_table(config, key),
        parameters=(_deletion_protection_parameter(),) if protected else (),
        conditions={PROTECTED_CONDITION: Equals(Ref(DELETION_PROTECTION_PARAMETER), "true")} if protected else {},
    )


def _deletion_protection_parameter() -> Parameter:
    return Parameter(
        DELETION_PROTECTION_PARAMETER,
        Type="String",
        AllowedValues=["true", "false"],
        Default="true",
        Description="Deletion protection of the events table (invoke deploy: false to create the stack, then true)",
    )


def _events_table(config: Config, key: kms.Key) -> dynamodb.Table:
    settings = config.table
    capacity = {}
    if settings.billing == "provisioned":
        capacity = {
            "BillingMode": "PROVISIONED",
            "ProvisionedThroughput": dynamodb.ProvisionedThroughput(
                ReadCapacityUnits=settings.read_capacity, WriteCapacityUnits=settings.write_capacity
            ),
        }
    else:
        capacity = {"BillingMode": "PAY_PER_REQUEST"}
    return _encrypted_table(
        "EventsTable",
        config.resource_name("events"),
        "event_id",
        key,
        TimeToLiveSpecification=dynamodb.TimeToLiveSpecification(AttributeName=EXPIRES_AT_ATTRIBUTE, Enabled=True),
        DeletionProtectionEnabled=If(PROTECTED_CONDITION, True, False) if protects_events_table(config) else False,
        **capacity,
        **kept_outside_local(config),
    )


def _held_notifications_table(config: Config, key: kms.Key) -> dynamodb.Table:
    return _encrypted_table(
        "HeldNotificationsTable",
        config.resource_name("held-notifications"),
        "notification_id",
        key,
        BillingMode="PAY_PER_REQUEST",
    )


def _idempotency_table(config: Config, key: kms.Key) -> dynamodb.Table:
    """Powertools' idempotency records (key attribute `id`); DynamoDB's TTL deletes them once expired."""
    return _encrypted_table(
        "IdempotencyTable",
        config.resource_name("idempotency"),
        "id",
        key,
        BillingMode="PAY_PER_REQUEST",
        TimeToLiveSpecification=dynamodb.TimeToLiveSpecification(AttributeName="expiration", Enabled=True),
    )


def _encrypted_table(logical_id: str, name: str, hash_key: str, key: kms.Key, **properties: Any) -> dynamodb.Table:
    """A table keyed by one string attribute, encrypted with the stack's key, recoverable to any point in time."""
    return dynamodb.Table(
        logical_id,
        TableName=name,
        AttributeDefinitions=[dynamodb.AttributeDefinition(AttributeName=hash_key, AttributeType="S")],
        KeySchema=[dynamodb.KeySchema(AttributeName=hash_key, KeyType="HASH")],
        PointInTimeRecoverySpecification=dynamodb.PointInTimeRecoverySpecification(PointInTimeRecoveryEnabled=True),
        SSESpecification=dynamodb.SSESpecification(SSEEnabled=True, SSEType="KMS", KMSMasterKeyId=Ref(key)),
        **properties,
    )


def _write_autoscaling(config: Config, table: dynamodb.Table) -> tuple:
    settings = config.table
    target = autoscaling.ScalableTarget(
        "EventsTableWriteScalableTarget",
        ServiceNamespace="dynamodb",
        ResourceId=Join("/", ["table", Ref(table)]),
        ScalableDimension="dynamodb:table:WriteCapacityUnits",
        MinCapacity=settings.write_capacity,
        MaxCapacity=settings.max_write_capacity,
        RoleARN=Sub(
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/"
            "dynamodb.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_DynamoDBTable"
        ),
    )
    policy = autoscaling.ScalingPolicy(
        "EventsTableWriteScalingPolicy",
        PolicyName=config.resource_name("events-write-target-tracking"),
        PolicyType="TargetTrackingScaling",
        ScalingTargetId=Ref(target),
        TargetTrackingScalingPolicyConfiguration=autoscaling.TargetTrackingScalingPolicyConfiguration(
            TargetValue=float(settings.target_utilization),
            PredefinedMetricSpecification=autoscaling.PredefinedMetricSpecification(
                PredefinedMetricType="DynamoDBWriteCapacityUtilization"
            ),
        ),
    )
    return (target, policy)


def private_bucket(config: Config, logical_id: str, suffix: str, key: kms.Key, **properties: Any) -> s3.Bucket:
    """A KMS-encrypted, versioned bucket no ACL or policy can make public, named per account and region."""
    name = Sub(f"{config.resource_name(suffix)}-${{AWS::AccountId}}-${{AWS::Region}}")
    return encrypted_private_bucket(logical_id, name, key, **properties, **kept_outside_local(config))


def encrypted_private_bucket(logical_id: str, name: Sub, key: kms.Key, **properties: Any) -> s3.Bucket:
    """A bucket encrypted with `key` (bucket keys on), versioned, owner-enforced, with every public access blocked:
    the product's buckets and the load generator's alike."""
    return s3.Bucket(
        logical_id,
        BucketName=name,
        BucketEncryption=s3.BucketEncryption(
            ServerSideEncryptionConfiguration=[
                s3.ServerSideEncryptionRule(
                    ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                        SSEAlgorithm="aws:kms", KMSMasterKeyID=GetAtt(key, "Arn")
                    ),
                    BucketKeyEnabled=True,
                )
            ]
        ),
        VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
        PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
            BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
        ),
        OwnershipControls=s3.OwnershipControls(Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]),
        **properties,
    )


def _archive_bucket(config: Config, key: kms.Key) -> s3.Bucket:
    settings = config.archive
    return private_bucket(
        config,
        "ArchiveBucket",
        "archive",
        key,
        LifecycleConfiguration=s3.LifecycleConfiguration(
            Rules=[
                s3.LifecycleRule(
                    Id="archive-tiering",
                    Status="Enabled",
                    Transitions=[
                        s3.LifecycleRuleTransition(
                            StorageClass="STANDARD_IA", TransitionInDays=settings.infrequent_access_days
                        ),
                        s3.LifecycleRuleTransition(StorageClass="GLACIER", TransitionInDays=settings.glacier_days),
                    ],
                    ExpirationInDays=settings.expire_days,
                    NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=30),
                    AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=7),
                )
            ]
        ),
    )


def _archive_policy(bucket: s3.Bucket) -> s3.BucketPolicy:
    return tls_only_policy("ArchiveBucketPolicy", bucket)


def tls_only_policy(logical_id: str, bucket: s3.Bucket) -> s3.BucketPolicy:
    return s3.BucketPolicy(
        logical_id,
        Bucket=Ref(bucket),
        PolicyDocument=PolicyDocument(
            Version="2012-10-17",
            Statement=[
                deny_insecure_transport(
                    [s3_actions.Action("*")],
                    [GetAtt(bucket, "Arn"), Join("", [GetAtt(bucket, "Arn"), "/*"])],
                    sid="DenyInsecureTransport",
                )
            ],
        ),
    )
