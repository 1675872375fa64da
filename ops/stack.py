"""An environment's stack as CloudFormation takes it: packaged code, the synthesized template, parameters, tags."""

from __future__ import annotations

from pathlib import Path

import boto3

from cloudformation.common import project_tags
from cloudformation.storage import DELETION_PROTECTION_PARAMETER, protects_events_table
from cloudformation.template import render
from core.config import Config
from ops.aws import account_id, region_of
from ops.changeset import MAX_TEMPLATE_BODY_BYTES, Template
from ops.deploy import Output, StackSpec
from ops.kept import kept_names
from ops.package import (
    BUILD_DIR,
    PROJECT_ROOT,
    Installer,
    Published,
    artifacts_bucket_name,
    build_artifacts,
    default_compiler,
    pip_installer,
    publish,
    upload_template,
)
from synth.synthesize import full_template


def package_environment(
    config: Config,
    session: boto3.Session,
    *,
    installer: Installer = pip_installer,
    source_root: Path = PROJECT_ROOT,
    build_dir: Path = BUILD_DIR,
) -> Published:
    """Build the four zips (with bytecode when the runtime's Python is on PATH) and upload the new ones to
    `<project>-artifacts-<account>-<region>`."""
    region = region_of(session)
    bucket = artifacts_bucket_name(config.project, account_id(session), region)
    artifacts = build_artifacts(source_root, build_dir, installer, compiler=default_compiler())
    partition = session.get_partition_for_region(region)
    return publish(session.client("s3"), bucket, region, artifacts, partition)


def environment_stack(
    config: Config,
    session: boto3.Session,
    out: Output = print,
    *,
    installer: Installer = pip_installer,
    source_root: Path = PROJECT_ROOT,
    build_dir: Path = BUILD_DIR,
) -> StackSpec:
    """Package, then describe the stack: a template over CloudFormation's inline limit is read from S3."""
    published = package_environment(config, session, installer=installer, source_root=source_root, build_dir=build_dir)
    for line in published.summary():
        out(line)
    template_object = full_template(config)
    body = render(template_object)
    if len(body.encode()) > MAX_TEMPLATE_BODY_BYTES:
        url = upload_template(session.client("s3"), published.bucket, region_of(session), config.stack_name, body)
        template = Template(url=url)
    else:
        template = Template(body=body)
    command = f"invoke deploy --env {config.env}"
    protected = protects_events_table(config)
    return StackSpec(
        name=config.stack_name,
        template=template,
        parameters={**published.parameters(), **({DELETION_PROTECTION_PARAMETER: "true"} if protected else {})},
        tags=project_tags(config),
        description=command,
        # created without the events table's deletion protection, so that a failed first create can roll back;
        # protected by the update deploy makes right after CREATE_COMPLETE (cloudformation/storage.py)
        first_create_parameters={DELETION_PROTECTION_PARAMETER: "false"} if protected else {},
        command=command,
        kept=kept_names(template_object.to_dict(), account_id(session), region_of(session)),
    )
