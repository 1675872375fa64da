"""The load generator's stack: a Locust master and workers on ECS Fargate, on the public Locust image.

Never part of the product's template: the operator deploys it beside the product (see loadtest/README.md),
and `invoke load --fargate-workers N` reads its outputs.

Master discovery: the flow starts the master first, reads its private IP from the task's network interface
(DescribeTasks) and passes it to the workers on their command line. Cloud Map is not needed: RunTask cannot
register a task in it (only an ECS service's `serviceRegistries` can), so the flow would register the IP by
hand anyway, through one more service and its private DNS namespace.

The containers get the scenario bundle and return their results through presigned S3 URLs (a GET for the
bundle, a POST policy limited to the run's results prefix, both expiring with the run): the public image has
no AWS SDK, so a task role would be a permission nobody uses. The tasks run without one; the execution role
may only write the stack's logs.
"""

from __future__ import annotations

import json
from typing import Any

from awacs import aws as iam
from awacs import kms as kms_actions
from awacs import logs as logs_actions
from awacs.sts import AssumeRole
from troposphere import (
    AccountId,
    GetAtt,
    Join,
    Output,
    Parameter,
    Ref,
    Region,
    StackName,
    Sub,
    Template,
    ec2,
    ecs,
    kms,
    logs,
    s3,
)
from troposphere import iam as iam_resources

from cloudformation.common import logs_may_use_key
from cloudformation.storage import encrypted_private_bucket, tls_only_policy

LOCUST_IMAGE = "locustio/locust"
DEFAULT_LOCUST_TAG = "2.47.0"  # the Locust this project's tests run (tests pin it to the installed one)
MASTER_PORT = 5557  # Locust's default --master-bind-port
TASK_CPU_UNITS = 1024  # one vCPU: a Locust process is one gevent loop, one core
TASK_MEMORY_MIB = 2048  # the smallest memory Fargate allows with one vCPU
CONTAINER = "locust"
MASTER = "master"
WORKER = "worker"
BUNDLE_URL_ENV = "SLUICE_BUNDLE_URL"
BUNDLE_DIR = "sluice-bundle"

# The whole container command: fetch the bundle (stdlib only: the image has no AWS SDK), unpack it in the
# working directory, and hand over to loadtest/fargate/container.py inside it. The local rehearsal runs this
# very list as a process.
BOOTSTRAP = (
    "import io, os, sys, urllib.request, zipfile; "
    f"home = os.path.abspath({BUNDLE_DIR!r}); "
    f"data = urllib.request.urlopen(os.environ[{BUNDLE_URL_ENV!r}], timeout=60).read(); "
    "zipfile.ZipFile(io.BytesIO(data)).extractall(home); "
    "sys.path.insert(0, home); os.chdir(home); "
    "from loadtest.fargate.container import main; "
    "sys.exit(main(sys.argv[1:]))"
)


def container_command(role: str) -> list[str]:
    """EntryPoint and Command of a task definition, joined: what the container runs."""
    return ["python", "-c", BOOTSTRAP, role]


def build_template() -> Template:
    template = Template(Description="Sluice load generator: Locust master and workers on ECS Fargate (not the product)")
    vpc = template.add_parameter(Parameter("VpcId", Type="AWS::EC2::VPC::Id", Description="VPC of the tasks"))
    subnets = template.add_parameter(
        Parameter(
            "SubnetIds",
            Type="List<AWS::EC2::Subnet::Id>",
            Description="subnets of the tasks; they need a route to the API, to S3 and to Docker Hub",
        )
    )
    public_ip = template.add_parameter(
        Parameter(
            "AssignPublicIp",
            Type="String",
            AllowedValues=["ENABLED", "DISABLED"],
            Default="ENABLED",
            Description="ENABLED in public subnets (no NAT gateway), DISABLED behind a NAT gateway",
        )
    )
    tag = template.add_parameter(
        Parameter("LocustImageTag", Type="String", Default=DEFAULT_LOCUST_TAG, Description="tag of locustio/locust")
    )
    retention = template.add_parameter(
        Parameter("LogRetentionDays", Type="Number", Default=30, AllowedValues=[7, 14, 30, 90, 365])
    )
    key = template.add_resource(_key())
    log_group = template.add_resource(
        logs.LogGroup(
            "LogGroup",
            LogGroupName=Sub("/ecs/${AWS::StackName}"),
            RetentionInDays=Ref(retention),
            KmsKeyId=GetAtt(key, "Arn"),
        )
    )
    bucket = template.add_resource(_bucket(key))
    template.add_resource(tls_only_policy("BucketPolicy", bucket))
    cluster = template.add_resource(
        ecs.Cluster(
            "Cluster",
            ClusterName=StackName,
            ClusterSettings=[ecs.ClusterSetting(Name="containerInsights", Value="enabled")],
        )
    )
    group = template.add_resource(_security_group(vpc))
    # The group talks to itself on the master's port only: in from its members, and out to them.
    template.add_resource(_master_port_rule(ec2.SecurityGroupIngress, "WorkersReachMaster", group, "Source"))
    template.add_resource(_master_port_rule(ec2.SecurityGroupEgress, "MasterReachable", group, "Destination"))
    execution_role = template.add_resource(_execution_role(log_group))
    definitions = {
        role: template.add_resource(_task_definition(role, tag, execution_role, log_group)) for role in (MASTER, WORKER)
    }
    outputs = {
        "ClusterName": Ref(cluster),
        "MasterTaskDefinition": Ref(definitions[MASTER]),
        "WorkerTaskDefinition": Ref(definitions[WORKER]),
        "BucketName": Ref(bucket),
        "SecurityGroupId": Ref(group),
        "SubnetIds": Join(",", Ref(subnets)),
        "AssignPublicIp": Ref(public_ip),
        "LogGroupName": Ref(log_group),
        "TaskCpuUnits": str(TASK_CPU_UNITS),
        "TaskMemoryMiB": str(TASK_MEMORY_MIB),
    }
    template.add_output([Output(name, Value=value) for name, value in outputs.items()])
    return template


def render_template() -> str:
    """Deterministic JSON, like the product's (cloudformation/template.py)."""
    return json.dumps(build_template().to_dict(), indent=2, sort_keys=True) + "\n"


def _key() -> kms.Key:
    """Encrypts the bucket and the logs; the account administers it, CloudWatch Logs may use it for this group."""
    root = iam.Statement(
        Sid="AccountAdministers",
        Effect=iam.Allow,
        Principal=iam.Principal("AWS", Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")),
        Action=[kms_actions.Action("*")],
        Resource=["*"],
    )
    log_service = logs_may_use_key("LogsEncryptTheGroup", "/ecs/${AWS::StackName}")
    return kms.Key(
        "Key",
        Description=Sub("${AWS::StackName}: encrypts the load generator's bundle, results and logs"),
        EnableKeyRotation=True,
        PendingWindowInDays=7,
        KeyPolicy=iam.PolicyDocument(Version="2012-10-17", Statement=[root, log_service]),
    )


def _bucket(key: kms.Key) -> s3.Bucket:
    """Bundles and results: private, KMS-encrypted, versioned (old versions expire), emptied after two weeks."""
    return encrypted_private_bucket(
        "Bucket",
        Sub("${AWS::StackName}-${AWS::AccountId}-${AWS::Region}"),
        key,
        LifecycleConfiguration=s3.LifecycleConfiguration(
            Rules=[
                s3.LifecycleRule(
                    Id="runs-expire",
                    Status="Enabled",
                    ExpirationInDays=14,  # reports/<run>/ keeps what matters; the bucket is a mailbox
                    NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=1),
                    AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=1),
                )
            ]
        ),
    )


def _security_group(vpc: Parameter) -> ec2.SecurityGroup:
    return ec2.SecurityGroup(
        "SecurityGroup",
        GroupDescription="Sluice load generator: workers reach their master; all reach the API, S3, Docker Hub",
        VpcId=Ref(vpc),
        SecurityGroupEgress=[
            ec2.SecurityGroupRule(
                IpProtocol="tcp",
                FromPort=443,
                ToPort=443,
                CidrIp="0.0.0.0/0",
                Description="HTTPS: the API under test, the S3 presigned URLs, the image registry",
            )
        ],
    )


def _master_port_rule(
    kind: type[ec2.SecurityGroupIngress] | type[ec2.SecurityGroupEgress],
    title: str,
    group: ec2.SecurityGroup,
    peer: str,
) -> ec2.SecurityGroupIngress | ec2.SecurityGroupEgress:
    """A rule of `group` for the master's port whose peer (`peer`: "Source" or "Destination") is the group itself."""
    return kind(
        title,
        GroupId=Ref(group),
        IpProtocol="tcp",
        FromPort=MASTER_PORT,
        ToPort=MASTER_PORT,
        Description="Locust workers to their master",
        **{f"{peer}SecurityGroupId": Ref(group)},
    )


def _execution_role(log_group: logs.LogGroup) -> iam_resources.Role:
    """What ECS needs to start the containers: write their logs (the public image needs no registry rights)."""
    trust = iam.PolicyDocument(
        Version="2012-10-17",
        Statement=[
            iam.Statement(
                Effect=iam.Allow,
                Principal=iam.Principal("Service", "ecs-tasks.amazonaws.com"),
                Action=[AssumeRole],
                Condition=iam.Condition(iam.StringEquals("aws:SourceAccount", AccountId)),
            )
        ],
    )
    write_logs = iam.PolicyDocument(
        Version="2012-10-17",
        Statement=[
            iam.Statement(
                Effect=iam.Allow,
                Action=[logs_actions.CreateLogStream, logs_actions.PutLogEvents],
                Resource=[GetAtt(log_group, "Arn")],
            )
        ],
    )
    return iam_resources.Role(
        "ExecutionRole",
        AssumeRolePolicyDocument=trust,
        Policies=[iam_resources.Policy(PolicyName="write-logs", PolicyDocument=write_logs)],
    )


def _task_definition(
    role: str, tag: Parameter, execution_role: iam_resources.Role, log_group: logs.LogGroup
) -> ecs.TaskDefinition:
    command = container_command(role)
    container: dict[str, Any] = {
        "Name": CONTAINER,
        "Image": Sub(f"{LOCUST_IMAGE}:${{{tag.title}}}"),
        "Essential": True,
        "EntryPoint": command[:3],
        "Command": command[3:],
        "Environment": [ecs.Environment(Name="PYTHONUNBUFFERED", Value="1")],
        "LogConfiguration": ecs.LogConfiguration(
            LogDriver="awslogs",
            Options={"awslogs-group": Ref(log_group), "awslogs-region": Region, "awslogs-stream-prefix": role},
        ),
        "StopTimeout": 60,  # after StopTask's SIGTERM: Locust stops, the results go up to S3
    }
    if role == MASTER:
        container["PortMappings"] = [ecs.PortMapping(ContainerPort=MASTER_PORT, Protocol="tcp")]
    return ecs.TaskDefinition(
        f"{role.title()}TaskDefinition",
        Family=Sub(f"${{AWS::StackName}}-{role}"),
        Cpu=str(TASK_CPU_UNITS),
        Memory=str(TASK_MEMORY_MIB),
        NetworkMode="awsvpc",
        RequiresCompatibilities=["FARGATE"],
        RuntimePlatform=ecs.RuntimePlatform(CpuArchitecture="X86_64", OperatingSystemFamily="LINUX"),
        ExecutionRoleArn=GetAtt(execution_role, "Arn"),
        ContainerDefinitions=[ecs.ContainerDefinition(**container)],
    )


if __name__ == "__main__":  # `python -m loadtest.fargate.stack > loadgen.json`: the template to deploy
    print(render_template(), end="")
