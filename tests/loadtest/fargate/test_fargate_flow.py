"""The Fargate flow against botocore's Stubber: every ECS, S3, Service Quotas and CloudFormation call it makes,
on the real shapes of botocore's models — and every task stopped on success, failure, time limit and Ctrl-C."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from loadtest.errors import LoadTestError
from loadtest.fargate.ecs_tasks import EcsTasks, check_vcpu_quota, environment_override
from loadtest.fargate.flow import FargateLauncher, FargateSettings
from loadtest.fargate.outputs import LoadGenerator, read_load_generator
from loadtest.locust_process import LocustPlan
from loadtest.scenarios import get_scenario
from ops.progress import ProgressLine

REGION = "us-east-1"
CLUSTER = "sluice-loadgen"
GENERATOR = LoadGenerator(
    cluster=CLUSTER,
    master_definition="arn:aws:ecs:us-east-1:123456789012:task-definition/sluice-loadgen-master:1",
    worker_definition="arn:aws:ecs:us-east-1:123456789012:task-definition/sluice-loadgen-worker:1",
    bucket="sluice-loadgen-123456789012-us-east-1",
    security_group="sg-0123456789abcdef0",
    subnets=("subnet-0aaa", "subnet-0bbb"),
    assign_public_ip="ENABLED",
    cpu_units=1024,
    memory_mib=2048,
)
MASTER_ARN = "arn:aws:ecs:us-east-1:123456789012:task/sluice-loadgen/master0"


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def ecs() -> Iterator[tuple[Any, Stubber]]:
    ecs = client("ecs")
    with Stubber(ecs) as stubber:
        yield ecs, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def s3() -> Iterator[tuple[Any, Stubber]]:
    s3 = client("s3")
    with Stubber(s3) as stubber:
        yield s3, stubber
        stubber.assert_no_pending_responses()


def worker_arn(index: int) -> str:
    return f"arn:aws:ecs:us-east-1:123456789012:task/sluice-loadgen/worker{index}"


def run_task_params(definition: str, count: int) -> dict[str, Any]:
    return {
        "cluster": CLUSTER,
        "taskDefinition": definition,
        "count": count,
        "launchType": "FARGATE",
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": ["subnet-0aaa", "subnet-0bbb"],
                "securityGroups": ["sg-0123456789abcdef0"],
                "assignPublicIp": "ENABLED",
            }
        },
        "overrides": ANY,
        "startedBy": "sluice-load",
    }


def placed(arns: list[str], failures: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"tasks": [{"taskArn": arn, "lastStatus": "PROVISIONING"} for arn in arns], "failures": failures or []}


def described(statuses: dict[str, str], address: str | None = None, exit_code: int | None = None) -> dict[str, Any]:
    tasks = []
    for arn, status in statuses.items():
        task: dict[str, Any] = {"taskArn": arn, "lastStatus": status}
        if address:
            task["attachments"] = [
                {
                    "id": "eni-attachment",
                    "type": "ElasticNetworkInterface",
                    "status": "ATTACHED",
                    "details": [{"name": "privateIPv4Address", "value": address}],
                }
            ]
        if exit_code is not None:
            task["containers"] = [{"name": "locust", "exitCode": exit_code}]
        tasks.append(task)
    return {"tasks": tasks, "failures": []}


def expect_describe(stubber: Stubber, arns: list[str], response: dict[str, Any]) -> None:
    stubber.add_response("describe_tasks", response, {"cluster": CLUSTER, "tasks": arns})


def expect_start(stubber: Stubber, workers: list[str]) -> None:
    """The master, its address, then the workers pointed at it."""
    stubber.add_response("run_task", placed([MASTER_ARN]), run_task_params(GENERATOR.master_definition, 1))
    expect_describe(stubber, [MASTER_ARN], described({MASTER_ARN: "PENDING"}, address="10.0.1.23"))
    stubber.add_response("run_task", placed(workers), run_task_params(GENERATOR.worker_definition, len(workers)))


def expect_upload(stubber: Stubber) -> None:
    stubber.add_response("put_object", {}, {"Bucket": GENERATOR.bucket, "Key": ANY, "Body": b"the bundle"})


def expect_collect(stubber: Stubber, prefix: str, files: dict[str, bytes]) -> None:
    stubber.add_response(
        "list_objects_v2",
        {
            "Contents": [{"Key": prefix + name, "Size": len(body)} for name, body in files.items()],
            "KeyCount": len(files),
        },
        {"Bucket": GENERATOR.bucket, "Prefix": prefix},
    )
    for name, body in files.items():
        stubber.add_response(
            "get_object", {"Body": io.BytesIO(body)}, {"Bucket": GENERATOR.bucket, "Key": prefix + name}
        )


def expect_stop(stubber: Stubber, arns: list[str]) -> None:
    for arn in arns:
        stubber.add_response("stop_task", {"task": {"taskArn": arn}}, {"cluster": CLUSTER, "task": arn, "reason": ANY})


class Clock:
    """A clock the sleeps move: the flow's waits run in no time."""

    def __init__(self, interrupt_at_sleep: int | None = None) -> None:
        self.now = 0.0
        self.sleeps = 0
        self.interrupt_at_sleep = interrupt_at_sleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        if self.sleeps == self.interrupt_at_sleep:
            raise KeyboardInterrupt
        self.now += seconds


def plan(folder: Path) -> LocustPlan:
    return LocustPlan(get_scenario("smoke"), "https://api.example", "dev", 4, 8.0, 30.0, 2, folder)


def launcher(ecs: Any, s3: Any, clock: Clock, workers: int = 2) -> FargateLauncher:
    return FargateLauncher(
        EcsTasks(ecs, GENERATOR),
        s3,
        GENERATOR.bucket,
        FargateSettings(workers=workers),
        ProgressLine(None),
        bundle=lambda: b"the bundle",
        clock=clock,
        sleep=clock.sleep,
    )


def results_prefix(folder: Path) -> str:
    return f"runs/{folder.name}/results/"


def test_a_run_that_ends_by_itself_collects_every_tasks_results(ecs, s3, tmp_path: Path) -> None:
    (ecs_client, ecs_stub), (s3_client, s3_stub) = ecs, s3
    folder = tmp_path / "20261207-120000-smoke"
    workers = [worker_arn(0), worker_arn(1)]
    everyone = [MASTER_ARN, *workers]
    # GIVEN a master that finishes with exit code 0 while its workers run, and results each task uploaded
    expect_upload(s3_stub)
    expect_start(ecs_stub, workers)
    expect_describe(
        ecs_stub, everyone, described({MASTER_ARN: "STOPPED", worker_arn(0): "RUNNING", worker_arn(1): "RUNNING"})
    )
    expect_describe(ecs_stub, [MASTER_ARN], described({MASTER_ARN: "STOPPED"}, exit_code=0))
    expect_describe(ecs_stub, everyone, described({arn: "STOPPED" for arn in everyone}))
    files = {
        "master-a-1/locust_stats.csv": b"stats",
        "master-a-1/locust-master.log": b"master log",
        "worker-b-1/ids-b-7.jsonl": b'{"ids": ["one"]}\n',
        "worker-b-1/locust-worker.log": b"log b",
        "worker-c-1/ids-c-7.jsonl": b'{"ids": ["two"]}\n',
        "worker-c-1/locust-worker.log": b"log c",
    }
    expect_collect(s3_stub, results_prefix(folder), files)
    # WHEN the launcher runs the plan
    outcome = launcher(ecs_client, s3_client, Clock())(plan(folder), "the-api-key")
    # THEN the master's exit code is the outcome, no StopTask was needed, and every file is in the run's folder
    assert outcome.exit_code == 0
    assert sorted(path.name for path in folder.iterdir()) == [
        "ids-b-7.jsonl",
        "ids-c-7.jsonl",
        "locust-master.log",
        "locust_stats.csv",
        "worker-b-1-locust-worker.log",  # the name both workers wrote keeps its task's name
        "worker-c-1-locust-worker.log",
    ]


def test_a_worker_placement_failure_stops_the_master(ecs, s3, tmp_path: Path) -> None:
    (ecs_client, ecs_stub), (s3_client, s3_stub) = ecs, s3
    folder = tmp_path / "run"
    # GIVEN a master placed, then RunTask refusing the workers
    expect_upload(s3_stub)
    ecs_stub.add_response("run_task", placed([MASTER_ARN]), run_task_params(GENERATOR.master_definition, 1))
    expect_describe(ecs_stub, [MASTER_ARN], described({MASTER_ARN: "PENDING"}, address="10.0.1.23"))
    ecs_stub.add_response(
        "run_task",
        placed([], [{"arn": GENERATOR.worker_definition, "reason": "RESOURCE:MEMORY"}]),
        run_task_params(GENERATOR.worker_definition, 2),
    )
    # THEN the master gets its StopTask and is waited for, and what it uploaded is still collected
    expect_describe(ecs_stub, [MASTER_ARN], described({MASTER_ARN: "RUNNING"}))
    expect_stop(ecs_stub, [MASTER_ARN])
    expect_describe(ecs_stub, [MASTER_ARN], described({MASTER_ARN: "STOPPED"}))
    expect_collect(s3_stub, results_prefix(folder), {})
    # WHEN the launcher runs the plan
    with pytest.raises(LoadTestError, match="RESOURCE:MEMORY"):
        launcher(ecs_client, s3_client, Clock())(plan(folder), "the-api-key")


def test_ctrl_c_stops_every_task(ecs, s3, tmp_path: Path) -> None:
    (ecs_client, ecs_stub), (s3_client, s3_stub) = ecs, s3
    folder = tmp_path / "run"
    workers = [worker_arn(0), worker_arn(1)]
    everyone = [MASTER_ARN, *workers]
    # GIVEN a run under way, interrupted (Ctrl-C) while it waits between two looks
    expect_upload(s3_stub)
    expect_start(ecs_stub, workers)
    expect_describe(ecs_stub, everyone, described({arn: "RUNNING" for arn in everyone}))
    # THEN every task gets its StopTask, the flow waits for them to stop, and collects what they uploaded
    expect_describe(ecs_stub, everyone, described({arn: "RUNNING" for arn in everyone}))
    expect_stop(ecs_stub, everyone)
    expect_describe(ecs_stub, everyone, described({arn: "STOPPED" for arn in everyone}))
    expect_collect(s3_stub, results_prefix(folder), {"worker-b-1/ids-b-7.jsonl": b'{"ids": ["one"]}\n'})
    # WHEN the interrupt arrives
    with pytest.raises(KeyboardInterrupt):
        launcher(ecs_client, s3_client, Clock(interrupt_at_sleep=1))(plan(folder), "the-api-key")
    assert (folder / "ids-b-7.jsonl").exists()


def test_the_hard_time_limit_stops_every_task(ecs, s3, tmp_path: Path) -> None:
    (ecs_client, ecs_stub), (s3_client, s3_stub) = ecs, s3
    folder = tmp_path / "run"
    workers = [worker_arn(0)]
    everyone = [MASTER_ARN, *workers]
    # GIVEN a master that never ends: the limit is 30 s of load + 300 s for the workers + Locust's stop + 60 s
    flow = launcher(ecs_client, s3_client, Clock(), workers=1)
    flow.settings = FargateSettings(workers=1, poll_seconds=250.0)
    expect_upload(s3_stub)
    expect_start(ecs_stub, workers)
    for _ in range(3):  # looks at 0, 250 and 500 s: the third is past the limit
        expect_describe(ecs_stub, everyone, described({arn: "RUNNING" for arn in everyone}))
    expect_describe(ecs_stub, everyone, described({arn: "RUNNING" for arn in everyone}))
    expect_stop(ecs_stub, everyone)
    expect_describe(ecs_stub, everyone, described({arn: "STOPPED" for arn in everyone}))
    expect_collect(s3_stub, results_prefix(folder), {})
    # WHEN the launcher runs the plan
    outcome = flow(plan(folder), "the-api-key")
    # THEN the outcome says Locust did not end by itself, and the note says why
    assert outcome.exit_code is None
    assert any("hard time limit of 400 s" in note for note in flow.notes), flow.notes


def test_more_than_ten_workers_take_several_run_task_calls(ecs) -> None:
    ecs_client, ecs_stub = ecs
    # GIVEN twelve workers (RunTask places at most ten per call)
    first = [worker_arn(index) for index in range(10)]
    second = [worker_arn(index) for index in range(10, 12)]
    ecs_stub.add_response("run_task", placed(first), run_task_params(GENERATOR.worker_definition, 10))
    ecs_stub.add_response("run_task", placed(second), run_task_params(GENERATOR.worker_definition, 2))
    # WHEN they start THEN both calls are made and every task is remembered for the stop
    tasks = EcsTasks(ecs_client, GENERATOR)
    assert tasks.start("worker", 12, {"SLUICE_API_KEY": "key"}) == first + second
    assert tasks.started == first + second


def test_overrides_beyond_runtasks_limit_are_refused_before_any_call() -> None:
    # GIVEN an environment too large for RunTask's 8,192 characters of overrides THEN a clear error
    with pytest.raises(LoadTestError, match="RunTask allows 8192"):
        environment_override({"SLUICE_LOCUST_ARGS": "x" * 9000})


@pytest.mark.parametrize(("quota", "refused"), [(4.0, True), (6.0, False)])
def test_the_vcpu_quota_is_checked_before_the_run(quota: float, refused: bool) -> None:
    quotas = client("service-quotas")
    with Stubber(quotas) as stubber:
        # GIVEN the account's Fargate On-Demand vCPU quota
        stubber.add_response(
            "get_service_quota",
            {"Quota": {"QuotaName": "Fargate On-Demand vCPU resource count", "Value": quota}},
            {"ServiceCode": "fargate", "QuotaCode": "L-3032A538"},
        )
        # WHEN a run needs five vCPUs (a master and four one-vCPU workers)
        if refused:
            with pytest.raises(LoadTestError, match="needs 5 Fargate vCPUs but the account's quota"):
                check_vcpu_quota(quotas, 5)
        else:
            assert "quota 6, this run 5" in check_vcpu_quota(quotas, 5)


def test_the_load_generator_is_read_from_its_stack_or_named_missing() -> None:
    cloudformation = client("cloudformation")
    outputs = {
        "ClusterName": CLUSTER,
        "MasterTaskDefinition": GENERATOR.master_definition,
        "WorkerTaskDefinition": GENERATOR.worker_definition,
        "BucketName": GENERATOR.bucket,
        "SecurityGroupId": GENERATOR.security_group,
        "SubnetIds": "subnet-0aaa,subnet-0bbb",
        "AssignPublicIp": "ENABLED",
        "TaskCpuUnits": "1024",
        "TaskMemoryMiB": "2048",
    }
    with Stubber(cloudformation) as stubber:
        # GIVEN the deployed stack, then no stack of that name
        stubber.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": CLUSTER,
                        "CreationTime": "2026-12-07T12:00:00Z",
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
                    }
                ]
            },
            {"StackName": CLUSTER},
        )
        stubber.add_client_error(
            "describe_stacks",
            "ValidationError",
            "Stack with id nope does not exist",
            expected_params={"StackName": "nope"},
        )
        # THEN the outputs become the load generator, and a missing stack is one clear line
        assert read_load_generator(cloudformation, CLUSTER) == GENERATOR
        with pytest.raises(LoadTestError, match="load generator stack 'nope' not found: deploy it first"):
            read_load_generator(cloudformation, "nope")
