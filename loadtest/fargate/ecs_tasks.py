"""The load generator's tasks on ECS Fargate: RunTask, DescribeTasks, StopTask, and the vCPU quota.

API facts (botocore's ecs 2014-11-13 and service-quotas 2019-06-24 models): RunTask places up to 10 tasks per
call and allows 8,192 characters of overrides, JSON included; DescribeTasks takes up to 100 tasks; RunTask has
no service registry (Cloud Map) member. The Fargate On-Demand vCPU quota is service code `fargate`, quota code
L-3032A538; it counts every running Fargate task of the account in the region.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from loadtest.errors import LoadTestError
from loadtest.fargate.outputs import LoadGenerator
from loadtest.fargate.stack import CONTAINER, MASTER

RUN_TASK_MAX = 10
DESCRIBE_TASKS_MAX = 100
OVERRIDES_MAX_CHARACTERS = 8192
FARGATE_SERVICE_CODE = "fargate"
ON_DEMAND_VCPU_QUOTA = "L-3032A538"
STARTED_BY = "sluice-load"


def check_vcpu_quota(service_quotas: Any, vcpus: float) -> str:
    """Refuse a run the account's Fargate On-Demand vCPU quota cannot hold; say what was checked."""
    quota = service_quotas.get_service_quota(ServiceCode=FARGATE_SERVICE_CODE, QuotaCode=ON_DEMAND_VCPU_QUOTA)["Quota"]
    value = float(quota["Value"])
    if vcpus > value:
        raise LoadTestError(
            f"the run needs {vcpus:g} Fargate vCPUs but the account's quota {quota.get('QuotaName', '')} "
            f"({ON_DEMAND_VCPU_QUOTA}) is {value:g} in this region: fewer workers, or raise the quota"
        )
    return (
        f"Fargate On-Demand vCPU quota {value:g}, this run {vcpus:g} (tasks already running elsewhere in the "
        "account count against it too)"
    )


def environment_override(environment: Mapping[str, str]) -> dict[str, Any]:
    overrides = {
        "containerOverrides": [
            {"name": CONTAINER, "environment": [{"name": key, "value": value} for key, value in environment.items()]}
        ]
    }
    size = len(json.dumps(overrides, separators=(",", ":")))
    if size > OVERRIDES_MAX_CHARACTERS:
        raise LoadTestError(f"the task overrides take {size} characters; RunTask allows {OVERRIDES_MAX_CHARACTERS}")
    return overrides


class EcsTasks:
    """Starts, watches and stops the load generator's tasks; remembers every task it started."""

    def __init__(self, ecs: Any, generator: LoadGenerator) -> None:
        self.ecs = ecs
        self.generator = generator
        self.started: list[str] = []

    def start(self, role: str, count: int, environment: Mapping[str, str]) -> list[str]:
        definition = self.generator.master_definition if role == MASTER else self.generator.worker_definition
        overrides = environment_override(environment)
        arns: list[str] = []
        while len(arns) < count:
            response = self.ecs.run_task(
                cluster=self.generator.cluster,
                taskDefinition=definition,
                count=min(RUN_TASK_MAX, count - len(arns)),
                launchType="FARGATE",
                networkConfiguration={
                    "awsvpcConfiguration": {
                        "subnets": list(self.generator.subnets),
                        "securityGroups": [self.generator.security_group],
                        "assignPublicIp": self.generator.assign_public_ip,
                    }
                },
                overrides=overrides,
                startedBy=STARTED_BY,
            )
            placed = [task["taskArn"] for task in response.get("tasks", [])]
            arns += placed
            self.started += placed  # stopped in the end even if the next call fails
            if response.get("failures") or not placed:
                reasons = "; ".join(f"{item.get('reason')} {item.get('detail') or ''}" for item in response["failures"])
                raise LoadTestError(f"RunTask could not place the {role} tasks: {reasons or 'no task placed'}")
        return arns

    def describe(self, arns: Sequence[str]) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = []
        for start in range(0, len(arns), DESCRIBE_TASKS_MAX):
            chunk = list(arns[start : start + DESCRIBE_TASKS_MAX])
            tasks += self.ecs.describe_tasks(cluster=self.generator.cluster, tasks=chunk)["tasks"]
        return tasks

    def statuses(self, arns: Sequence[str]) -> dict[str, str]:
        return {task["taskArn"]: task["lastStatus"] for task in self.describe(arns)}

    def address(self, arn: str) -> str | None:
        """The task's private IPv4 address, once its network interface is attached."""
        for task in self.describe([arn]):
            for attachment in task.get("attachments", []):
                for detail in attachment.get("details", []):
                    if detail.get("name") == "privateIPv4Address" and detail.get("value"):
                        return str(detail["value"])
        return None

    def exit_code(self, arn: str) -> int | None:
        for task in self.describe([arn]):
            for container in task.get("containers", []):
                if container.get("name") == CONTAINER and "exitCode" in container:
                    return int(container["exitCode"])
        return None

    def stop(self, arns: Sequence[str], reason: str) -> list[str]:
        """StopTask for each; the failures as lines (one failed stop must not keep the others running)."""
        problems = []
        for arn in arns:
            try:
                self.ecs.stop_task(cluster=self.generator.cluster, task=arn, reason=reason[:255])
            except Exception as error:
                problems.append(f"StopTask {arn}: {error}")
        return problems
