"""A kept table or bucket blocks adding it back: `invoke deploy` refuses such a change set in one line.

Removing a resource from the template applies its DeletionPolicy ("This capability also applies to stack update
operations that lead to resources being deleted from stacks", AWS CloudFormation, DeletionPolicy attribute): when
`sinks` drops "dynamodb" or "s3", the events table or the analytics bucket is kept with its data, and so are the
table and the archive when a stack is deleted. Their names are fixed, so a later change set that adds them again
cannot create them ("already exists") and the stack rolls back. The configuration alone cannot know whether such a
resource still exists; deploy can: for every Add in the change set of a retained table or bucket it asks DynamoDB
(DescribeTable) or S3 (HeadBucket) whether the name is taken, before anything is executed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ops.aws import aws_errors, error_code
from ops.changeset import Change
from ops.recovery import RETAINING_POLICIES, DataClients

NAME_PROPERTIES = {"AWS::DynamoDB::Table": ("table", "TableName"), "AWS::S3::Bucket": ("bucket", "BucketName")}
# HeadBucket answers a missing bucket with a bare 404 (no error body to name it).
MISSING = ("ResourceNotFoundException", "NoSuchBucket", "NotFound", "404")


@dataclass(frozen=True)
class KeptName:
    """A retained table or bucket of the template and the name it takes in this account and region."""

    logical_id: str
    kind: str  # "table" or "bucket"
    name: str


def kept_names(template: Mapping[str, Any], account: str, region: str) -> dict[str, KeptName]:
    """{logical id: KeptName} of the template's retained tables and buckets with a fixed name."""
    names = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("DeletionPolicy") not in RETAINING_POLICIES or resource.get("Type") not in NAME_PROPERTIES:
            continue
        kind, name_property = NAME_PROPERTIES[resource["Type"]]
        name = _resolved(resource.get("Properties", {}).get(name_property), account, region)
        if name:
            names[logical_id] = KeptName(logical_id, kind, name)
    return names


def _resolved(value: Any, account: str, region: str) -> str | None:
    """A literal name, or a Fn::Sub of the account and region (how our bucket names are built); else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("Fn::Sub"), str):
        text = value["Fn::Sub"].replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)
        return None if "${" in text else text
    return None


def exists(data: DataClients, kept: KeptName) -> bool:
    """Whether the name is taken (a bucket another account owns answers 403: taken all the same)."""
    try:
        if kept.kind == "table":
            data.dynamodb.describe_table(TableName=kept.name)
        else:
            data.s3.head_bucket(Bucket=kept.name)
    except ClientError as error:
        if error_code(error) in MISSING:
            return False
        if kept.kind == "bucket" and error_code(error) == "403":
            return True
        raise
    return True


def blocked_additions(changes: Sequence[Change], kept: Mapping[str, KeptName], data: DataClients) -> list[KeptName]:
    """The kept tables and buckets the change set would add although their names are already taken."""
    with aws_errors("checking whether a kept table or bucket is in the way"):
        return [
            kept[change.logical_id]
            for change in changes
            if change.action == "Add" and change.logical_id in kept and exists(data, kept[change.logical_id])
        ]


def refusal(stack_name: str, blocked: Sequence[KeptName]) -> str:
    """One line: what is in the way, why, and the two ways on."""
    what = ", ".join(f"{kept.kind} {kept.name} ({kept.logical_id})" for kept in blocked)
    return (
        f"refused: this deploy would add {what} to stack {stack_name}, but it already exists (kept when it left the "
        "stack, e.g. a sink turned off, or when the stack was deleted), so CloudFormation cannot create it: import it "
        "into the stack, or delete it once its data is not needed (ops/README.md: A kept table or bucket); nothing was "
        "changed"
    )
