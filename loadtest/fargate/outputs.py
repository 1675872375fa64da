"""The deployed load generator, from its stack's outputs (loadtest/fargate/stack.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from loadtest.errors import LoadTestError

DEFAULT_STACK_NAME = "sluice-loadgen"
REQUIRED_OUTPUTS = (
    "ClusterName",
    "MasterTaskDefinition",
    "WorkerTaskDefinition",
    "BucketName",
    "SecurityGroupId",
    "SubnetIds",
    "AssignPublicIp",
    "TaskCpuUnits",
    "TaskMemoryMiB",
)
CPU_UNITS_PER_VCPU = 1024


@dataclass(frozen=True)
class LoadGenerator:
    cluster: str
    master_definition: str
    worker_definition: str
    bucket: str
    security_group: str
    subnets: tuple[str, ...]
    assign_public_ip: str
    cpu_units: int
    memory_mib: int

    @property
    def vcpu(self) -> float:
        return self.cpu_units / CPU_UNITS_PER_VCPU

    @property
    def memory_gb(self) -> float:
        return self.memory_mib / 1024


def from_outputs(outputs: Mapping[str, str], where: str) -> LoadGenerator:
    missing = [key for key in REQUIRED_OUTPUTS if not outputs.get(key)]
    if missing:
        raise LoadTestError(f"{where} lacks the outputs {', '.join(missing)}: is it the load generator's stack?")
    return LoadGenerator(
        cluster=outputs["ClusterName"],
        master_definition=outputs["MasterTaskDefinition"],
        worker_definition=outputs["WorkerTaskDefinition"],
        bucket=outputs["BucketName"],
        security_group=outputs["SecurityGroupId"],
        subnets=tuple(subnet for subnet in outputs["SubnetIds"].split(",") if subnet),
        assign_public_ip=outputs["AssignPublicIp"],
        cpu_units=int(outputs["TaskCpuUnits"]),
        memory_mib=int(outputs["TaskMemoryMiB"]),
    )


def read_load_generator(cloudformation: Any, stack_name: str) -> LoadGenerator:
    """DescribeStacks of the load generator's stack; one clear line when it is not there."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ValidationError":
            raise LoadTestError(
                f"load generator stack {stack_name!r} not found: deploy it first (loadtest/README.md, "
                "'Workers on Fargate')"
            ) from None
        raise
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stacks[0].get("Outputs", [])}
    return from_outputs(outputs, f"stack {stack_name}")
