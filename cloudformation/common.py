"""Helpers every resource module shares: tags, IAM statement builders, the TLS-only deny."""

from __future__ import annotations

from awacs import aws as iam
from awacs import kms as kms_actions
from troposphere import AWSObject, Retain, RetainExceptOnCreate, Sub, Tags

from core.config import Config

PROJECT_TAG = "Project"  # the budget filters costs on this tag (value: the stack name)


def project_tags(config: Config) -> dict[str, str]:
    return {PROJECT_TAG: config.stack_name, "Environment": config.env, "Owner": config.owner}


def tag_all(resources: list[AWSObject], config: Config) -> None:
    """Tag every resource whose type takes tags, keeping tags a builder already set."""
    for resource in resources:
        if "Tags" not in resource.props:
            continue
        existing = resource.properties.get("Tags")
        tags = Tags(**project_tags(config))
        if isinstance(existing, Tags):
            tags = tags + existing
        resource.Tags = tags


def kept_outside_local(config: Config) -> dict[str, str]:
    """Data and the key that reads it outlive the stack everywhere but on a laptop. RetainExceptOnCreate
    (AWS's DeletionPolicy for this) still deletes them when the create that made them rolls back, so a
    failed first deploy leaves no fixed-name table or bucket to block the retry. UpdateReplacePolicy
    takes no RetainExceptOnCreate: Retain there."""
    if config.is_local:
        return {}
    return {"DeletionPolicy": RetainExceptOnCreate, "UpdateReplacePolicy": Retain}


def allow(actions: list[iam.Action], resources: list, condition: iam.Condition | None = None) -> iam.Statement:
    statement = iam.Statement(Effect=iam.Allow, Action=actions, Resource=resources)
    if condition is not None:
        statement.Condition = condition
    return statement


def deny_insecure_transport(actions: list[iam.Action], resources: list, sid: str) -> iam.Statement:
    """Refuse any request that does not arrive over TLS."""
    return iam.Statement(
        Sid=sid,
        Effect=iam.Deny,
        Principal=iam.Principal("*"),
        Action=actions,
        Resource=resources,
        Condition=iam.Condition(iam.Bool("aws:SecureTransport", False)),
    )


def logs_may_use_key(sid: str, log_groups: str) -> iam.Statement:
    """A key policy statement: CloudWatch Logs of this Region may encrypt the log groups `log_groups` names (a name
    or a pattern) with the key, and only those (the encryption context names the group)."""
    return iam.Statement(
        Sid=sid,
        Effect=iam.Allow,
        Principal=iam.Principal("Service", Sub("logs.${AWS::Region}.amazonaws.com")),
        Action=[kms_actions.Encrypt, kms_actions.Decrypt, kms_actions.GenerateDataKey, kms_actions.DescribeKey],
        Resource=["*"],
        Condition=iam.Condition(
            iam.ArnLike(
                "kms:EncryptionContext:aws:logs:arn",
                Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:" + log_groups),
            )
        ),
    )
