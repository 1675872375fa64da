"""Deploy to AWS (ops/): package, diff, preflight, deploy, destroy. A failure is one `error:` line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import Context, Exit

from cloudformation import output_keys
from tasks.common import AWS_HELP, aws_config, confirmation_possible, ops_errors, session_of, task, typed

if TYPE_CHECKING:
    import boto3

    from core.config import Config


@task(help={"env": "environment to package for", **AWS_HELP})
def package(c: Context, env: str, profile: str | None = None, region: str | None = None) -> None:
    """Build reproducible function zips and upload the new ones to the artifacts bucket."""
    from ops.stack import package_environment

    config = aws_config(env)
    with ops_errors():
        published = package_environment(config, session_of(config, profile, region))
    print("\n".join(published.summary()))


@task(help={"env": "environment whose stack to compare", **AWS_HELP})
def diff(c: Context, env: str, profile: str | None = None, region: str | None = None) -> None:
    """Show what a deploy would change (a change set, deleted afterwards); executes nothing."""
    from ops.deploy import preview_stack
    from ops.stack import environment_stack

    config = aws_config(env)
    session = session_of(config, profile, region)
    with ops_errors():
        preview_stack(session.client("cloudformation"), environment_stack(config, session))


def run_preflight_checks(config: Config, session: boto3.Session, *, subscriptions: bool = True) -> None:
    """Print the read-only account checks, one line each; Exit when one FAILs."""
    from ops.endpoint_guard import ensure_aws_endpoints
    from ops.preflight import Clients, deployed_outputs, failed, run_preflight

    with ops_errors():
        ensure_aws_endpoints(session)  # not the local stack's moto, which the local export line points at
        outputs = deployed_outputs(session.client("cloudformation"), config.stack_name)
        checks = run_preflight(config, Clients.of(session), outputs, subscriptions=subscriptions)
    print(f"preflight of {config.stack_name}:")
    for check in checks:
        print(f"  {check.line()}")
    if failed(checks):
        raise Exit(f"error: preflight: {len(failed(checks))} check(s) FAIL: do what they say, then run again", code=1)


@task(help={"env": "environment to check", **AWS_HELP})
def preflight(c: Context, env: str, profile: str | None = None, region: str | None = None) -> None:
    """Read-only checks of the AWS account for an environment: one line each, ok / warn / FAIL and what to do."""
    config = aws_config(env)
    run_preflight_checks(config, session_of(config, profile, region))


@task(
    help={
        "env": "environment to deploy",
        "yes": "execute without asking (needed when there is no terminal)",
        "timeout_minutes": "give up waiting for the stack after this long (default 60)",
        **AWS_HELP,
    }
)
def deploy(
    c: Context,
    env: str,
    yes: bool = False,
    profile: str | None = None,
    region: str | None = None,
    timeout_minutes: int = 60,
) -> None:
    """Preflight, package, create a change set, confirm, execute it and stream the events; print the outputs."""
    from ops.deploy import deploy_stack
    from ops.recovery import DataClients
    from ops.stack import environment_stack

    config = aws_config(env)
    confirmation_possible(yes, f"deploying {config.stack_name}")
    session = session_of(config, profile, region)
    run_preflight_checks(config, session, subscriptions=False)  # subscriptions: reported once the stack is up
    with ops_errors():
        outcome = deploy_stack(
            session.client("cloudformation"),
            environment_stack(config, session),
            confirm=lambda change_set: (
                yes or typed(f"type 'yes' to deploy these changes to {config.stack_name}: ", "yes")
            ),
            data=DataClients.of(session),
            confirm_recovery=lambda leftovers: (
                yes or typed(f"type 'yes' to delete them and stack {config.stack_name}, then create it: ", "yes")
            ),
            timeout_seconds=timeout_minutes * 60,
        )
    if not outcome.ok:
        raise Exit(f"error: deploy of {config.stack_name} failed (see the reasons above)", code=1)
    key_id = outcome.outputs.get(output_keys.API_KEY_ID)
    if key_id:
        print(f"API key value: aws apigateway get-api-key --api-key {key_id} --include-value")
    from ops.preflight import PERSON_TOPICS, tier_subscribers

    for tier in PERSON_TOPICS:  # every person-facing topic: confirmed subscriptions, pending ones named
        print(tier_subscribers(session.client("sns"), config, outcome.outputs, tier).line())
    from ops.alarm_verify import AFTER_DEPLOY_HOURS, after_deploy

    # CloudWatch's metric math against ours, on whatever data the stack has; never fails the deploy
    print(after_deploy(session.client, config, AFTER_DEPLOY_HOURS))


@task(help={"env": "environment to destroy", "yes": "delete without asking for the stack name", **AWS_HELP})
def destroy(c: Context, env: str, yes: bool = False, profile: str | None = None, region: str | None = None) -> None:
    """Delete the environment's stack; the table, the archive and their KMS key are kept and listed."""
    from ops.deploy import destroy_stack

    config = aws_config(env)
    confirmation_possible(yes, f"destroying {config.stack_name}")
    session = session_of(config, profile, region)
    with ops_errors():
        outcome = destroy_stack(
            session.client("cloudformation"),
            config.stack_name,
            confirm=lambda retained: (
                yes or typed(f"type the stack name ({config.stack_name}) to delete it: ", config.stack_name)
            ),
        )
    if outcome.result == "failed":
        raise Exit(f"error: destroying {config.stack_name} failed (see the reasons above)", code=1)
