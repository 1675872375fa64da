"""`invoke load --fargate-workers N`: the preflight (load generator, quota, cost, confirmation), then the
scenario as a local run does it, with Locust on Fargate tasks — or, against the local stack, on the local
rehearsal of those tasks (loadtest/fargate/rehearsal.py)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from core.config import load_config
from loadtest.errors import LoadTestError
from loadtest.fargate.cost import RunCost, run_cost
from loadtest.fargate.ecs_tasks import EcsTasks, check_vcpu_quota
from loadtest.fargate.flow import FargateLauncher, FargateSettings, Tasks, hard_limit_seconds
from loadtest.fargate.outputs import LoadGenerator, read_load_generator
from loadtest.fargate.rehearsal import LOCAL_ADDRESS, LocalTasks
from loadtest.fargate.stack import TASK_CPU_UNITS, TASK_MEMORY_MIB, render_template
from loadtest.locust_process import free_port
from loadtest.profiles import load_profile
from loadtest.run import RunOptions, RunResult, check_options, run_scenario
from loadtest.scenarios import Scenario
from loadtest.stack import StackView
from ops.local_credentials import LOCAL_CREDENTIALS
from ops.outputs import Target
from ops.progress import ProgressLine

REHEARSAL_BUCKET = "sluice-loadgen-rehearsal"
REHEARSAL_WORKER_WAIT_SECONDS = 60.0
S3V4 = BotoConfig(signature_version="s3v4")  # presigned URLs of KMS-encrypted objects need SigV4


@dataclass
class Preparation:
    tasks: Tasks
    s3: Any
    bucket: str
    settings: FargateSettings
    vcpu: float
    memory_gb: float
    quota: str


def prepare_aws(target: Target, workers: int, stack_name: str) -> Preparation:
    session = target.session
    generator: LoadGenerator = read_load_generator(session.client("cloudformation"), stack_name)
    quota = check_vcpu_quota(session.client("service-quotas"), (workers + 1) * generator.vcpu)
    return Preparation(
        tasks=EcsTasks(session.client("ecs"), generator),
        s3=session.client("s3", config=S3V4),
        bucket=generator.bucket,
        settings=FargateSettings(workers=workers),
        vcpu=generator.vcpu,
        memory_gb=generator.memory_gb,
        quota=quota,
    )


def prepare_rehearsal(target: Target, workers: int) -> Preparation:
    """The task definitions' own command lines as local processes; the bucket in the local stack's S3."""
    s3 = boto3.client(
        "s3", endpoint_url=target.endpoint_url, region_name=target.region, config=S3V4, **LOCAL_CREDENTIALS
    )
    s3.create_bucket(Bucket=REHEARSAL_BUCKET)  # moto, like S3 in us-east-1, answers an existing one of ours with 200
    return Preparation(
        tasks=LocalTasks(json.loads(render_template())),
        s3=s3,
        bucket=REHEARSAL_BUCKET,
        settings=FargateSettings(
            workers=workers,
            bind_host=LOCAL_ADDRESS,
            port=free_port(),
            worker_wait_seconds=REHEARSAL_WORKER_WAIT_SECONDS,
            poll_seconds=1.0,
            stop_wait_seconds=REHEARSAL_WORKER_WAIT_SECONDS,
        ),
        vcpu=TASK_CPU_UNITS / 1024,
        memory_gb=TASK_MEMORY_MIB / 1024,
        quota="Fargate vCPU quota: not checked (local rehearsal, no AWS)",
    )


def confirm(cost: RunCost, ask: Callable[[str], str] = input, interactive: bool | None = None) -> None:
    """Go on only on an explicit yes; without a terminal, only with --yes."""
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not interactive:
        raise LoadTestError("this run costs money and no terminal can confirm it: pass --yes to start it anyway")
    answer = ask(f"start the run (about ${cost.total_usd:,.4f})? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise LoadTestError("not started: the run was not confirmed")


def run_on_fargate(
    scenario: Scenario,
    target: Target,
    view: StackView,
    options: RunOptions,
    stack_name: str,
    yes: bool = False,
    ask: Callable[[str], str] = input,
    interactive: bool | None = None,
    prepare: Callable[[Target, int], Preparation] | None = None,
) -> RunResult:
    if scenario.fault:
        raise LoadTestError(f"scenario {scenario.name!r} injects a fault: fault scenarios run only with local workers")
    if options.workers < 1:
        raise LoadTestError(f"--fargate-workers must be at least 1, got {options.workers}")
    check_options(scenario, target, options)
    preparation = (prepare or _default_prepare(stack_name))(target, options.workers)
    rate = options.rate or scenario.rate
    duration = options.duration or scenario.duration
    limit = hard_limit_seconds(duration, preparation.settings)
    cost = run_cost(
        load_config(target.env),
        load_profile(target.env),
        rate,
        options.workers,
        preparation.vcpu,
        preparation.memory_gb,
        limit,
    )
    print("\n".join([preparation.quota, *cost.lines()]))
    if not yes:
        confirm(cost, ask, interactive)
    progress = ProgressLine()
    launcher = FargateLauncher(preparation.tasks, preparation.s3, preparation.bucket, preparation.settings, progress)
    try:
        return run_scenario(scenario, target, view, replace(options, web=False), progress, launcher)
    finally:
        if isinstance(preparation.tasks, LocalTasks):
            preparation.tasks.kill_all()


def _default_prepare(stack_name: str) -> Callable[[Target, int], Preparation]:
    def prepare(target: Target, workers: int) -> Preparation:
        return prepare_rehearsal(target, workers) if target.is_local else prepare_aws(target, workers, stack_name)

    return prepare
