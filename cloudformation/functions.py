"""The six Lambda functions, each with its own log group, least-privilege role and triggers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from awacs import awslambda as lambda_actions
from awacs import dynamodb as ddb_actions
from awacs import kms as kms_actions
from awacs import logs as logs_actions
from awacs import s3 as s3_actions
from awacs import sns as sns_actions
from awacs import sqs as sqs_actions
from awacs import sts as sts_actions
from awacs import xray as xray_actions
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals, StringLike
from troposphere import AccountId, GetAtt, Join, Parameter, Ref, apigateway, awslambda, iam, logs, scheduler, sns
from troposphere.validators import integer

from cloudformation.analytics import Analytics
from cloudformation.canary import SCHEDULE_INPUT, canary_environment, canary_statements
from cloudformation.common import allow
from cloudformation.notifications import Notifications
from cloudformation.queues import Queues
from cloudformation.storage import Storage
from core.config import Config
from functions.common import env_names
from functions.common.archive import ARCHIVE_PREFIX
from functions.common.contract import (
    ANALYTICS_CANARY_PREFIX,
    ANALYTICS_PREFIX,
    NOTIFIER_FLUSH_ACTION,
    NOTIFIER_SCHEDULE_KEY,
    NOTIFIER_SCHEDULED_TIME_KEY,
)
from functions.common.parked import PARKING_ROOT

RUNTIME = "python3.12"
# What the notifier's schedule sends (functions/notifier/schedule.py recognises it).
SCHEDULED_TIME_ATTRIBUTE = "<aws.scheduler.scheduled-time>"  # Scheduler replaces it with the time the run was due
NOTIFIER_SCHEDULE_INPUT = {
    NOTIFIER_SCHEDULE_KEY: NOTIFIER_FLUSH_ACTION,
    NOTIFIER_SCHEDULED_TIME_KEY: SCHEDULED_TIME_ATTRIBUTE,
}
RETRIER_SCHEDULE_INPUT = {"sluice": "retry-parked-events"}
ARCHITECTURE = "arm64"
ARTIFACTS_BUCKET_PARAMETER = "ArtifactsBucket"


class MappingScalingConfig(awslambda.ScalingConfig):
    """EventSourceMapping.ScalingConfig. troposphere 4.11 reuses the name for another type whose only
    property is MaxEnvironments, so the mapping's MaximumConcurrency is declared here."""

    props = {"MaximumConcurrency": (integer, False)}  # noqa: RUF012 — troposphere's own convention


def code_key_parameter(name: str) -> str:
    return f"{name.title()}CodeKey"


def logical_id(name: str) -> str:
    """`ingest` → `IngestFunction`: the logical id every other module refers to."""
    return f"{name.title()}Function"


def event_source_mapping_id(name: str) -> str:
    """`consumer` → `ConsumerEventSourceMapping`: the logical id of the function's queue mapping."""
    return f"{name.title()}EventSourceMapping"


def schedule_id(name: str) -> str:
    """`canary` → `CanarySchedule`: the logical id of a function's `rate()` schedule (`_runs_every`)."""
    return f"{name.title()}Schedule"


@dataclass(frozen=True)
class Functions:
    functions: Mapping[str, awslambda.Function]
    parameters: tuple[Parameter, ...]
    supporting: tuple  # roles, log groups, mappings, permissions, triggers

    def resources(self) -> list:
        return [*self.functions.values(), *self.supporting]


def build_functions(
    config: Config,
    notifications: Notifications,
    queues: Queues,
    storage: Storage,
    canary_key: apigateway.ApiKey,
    analytics: Analytics | None = None,
) -> Functions:
    key_arn = GetAtt(notifications.key, "Arn")
    specs = {
        "ingest": (
            {
                env_names.QUEUE_URL: Ref(queues.ingest),
                env_names.MAX_EVENT_BYTES: str(config.api.max_event_bytes),
                env_names.MAX_BODY_BYTES: str(config.api.max_body_bytes),
                env_names.MAX_BATCH_EVENTS: str(config.api.max_batch_events),
                env_names.RETRY_AFTER_SECONDS: str(config.api.retry_after_seconds),
                env_names.CANARY_API_KEY_ID: Ref(canary_key),
                env_names.IDEMPOTENCY_TABLE_NAME: Ref(storage.idempotency),
                env_names.IDEMPOTENCY_SECONDS: str(config.api.idempotency_key_hours * 3600),
            },
            [
                allow([sqs_actions.SendMessage], [GetAtt(queues.ingest, "Arn")]),
                # What Powertools' DynamoDB persistence layer calls.
                allow(
                    [ddb_actions.GetItem, ddb_actions.PutItem, ddb_actions.UpdateItem, ddb_actions.DeleteItem],
                    [GetAtt(storage.idempotency, "Arn")],
                ),
            ],
        ),
        "consumer": (
            {
                **({env_names.TABLE_NAME: Ref(storage.table)} if storage.table else {}),
                env_names.CANARY_TTL_SECONDS: str(config.canary.ttl_hours * 3600),
                env_names.QUEUE_URL: Ref(queues.ingest),
                env_names.DEAD_LETTER_QUEUE_URL: Ref(queues.dead_letter),
                # what the store does not take is parked in S3 behind a circuit breaker (functions/consumer/app.py)
                env_names.PARKING_BUCKET: Ref(storage.archive),
                env_names.RETRY_WINDOW_SECONDS: str(config.queue.retry_window_seconds),
                env_names.BREAKER_PROBE_SECONDS: str(config.queue.probe_interval_seconds),
                env_names.TABLE_TTL_DAYS: str(config.table.ttl_days),
                env_names.SINKS: ",".join(config.sinks),
                **(
                    {env_names.ANALYTICS_BUCKET: Ref(analytics.bucket), env_names.ANALYTICS_PREFIX: ANALYTICS_PREFIX}
                    if analytics
                    else {}
                ),
            },
            [
                allow(
                    [sqs_actions.ReceiveMessage, sqs_actions.DeleteMessage, sqs_actions.GetQueueAttributes],
                    [GetAtt(queues.ingest, "Arn")],
                ),
                # poison, and events whose retry window is spent, go straight to the DLQ with their reason
                allow([sqs_actions.SendMessage], [GetAtt(queues.dead_letter, "Arn")]),
                # parked events (written, and read and deleted when a pointer brings them back) and the breaker's state
                allow(
                    [s3_actions.PutObject, s3_actions.GetObject, s3_actions.DeleteObject], [_parked_objects(storage)]
                ),
                *_consumer_store_statements(storage, analytics),
            ],
        ),
        "archiver": (
            {env_names.ARCHIVE_BUCKET: Ref(storage.archive), env_names.ARCHIVE_PREFIX: ARCHIVE_PREFIX},
            [
                allow(
                    [sqs_actions.ReceiveMessage, sqs_actions.DeleteMessage, sqs_actions.GetQueueAttributes],
                    [GetAtt(queues.dead_letter, "Arn")],
                ),
                allow([s3_actions.PutObject], [Join("", [GetAtt(storage.archive, "Arn"), "/dlq/*"])]),
            ],
        ),
        "notifier": (
            {
                env_names.HELD_TABLE_NAME: Ref(storage.held_notifications),
                env_names.DESTINATION_TOPIC_ARN: Ref(notifications.notify),
                env_names.BUSINESS_DAYS: ",".join(config.notifications.business_days),
                env_names.BUSINESS_HOURS: config.notifications.business_hours,
                env_names.BUSINESS_TIMEZONE: config.notifications.business_timezone,
            },
            [
                allow(
                    [
                        ddb_actions.PutItem,
                        ddb_actions.DeleteItem,
                        ddb_actions.Scan,
                        ddb_actions.BatchWriteItem,
                    ],
                    [GetAtt(storage.held_notifications, "Arn")],
                ),
                allow([sns_actions.Publish], [Ref(notifications.notify)]),
                # Its failed asynchronous invocations go to the failures queue (its OnFailure destination,
                # the one way out: a DeadLetterConfig as well would deliver each failure twice).
                allow([sqs_actions.SendMessage], [GetAtt(queues.failures, "Arn")]),
            ],
        ),
        "canary": (
            canary_environment(config, canary_key, storage, analytics),
            canary_statements(canary_key, storage, analytics),
        ),
        "retrier": (
            {
                env_names.PARKING_BUCKET: Ref(storage.archive),
                env_names.QUEUE_URL: Ref(queues.ingest),
                env_names.RETRY_WINDOW_SECONDS: str(config.queue.retry_window_seconds),
                env_names.UNPARK_QUEUE_DEPTH: str(config.unpark_queue_depth),
                env_names.BREAKER_PROBE_SECONDS: str(config.queue.probe_interval_seconds),
                # a pointer not handled comes back after the queue's visibility timeout: twice that, and it is lost
                env_names.REPOINT_AFTER_SECONDS: str(2 * config.visibility_timeout_seconds),
                env_names.RUN_SECONDS: str(config.retrier_run_seconds),
            },
            [
                allow(
                    [s3_actions.ListBucket],
                    [GetAtt(storage.archive, "Arn")],
                    condition=Condition(StringLike("s3:prefix", [f"{PARKING_ROOT}*"])),
                ),
                # the breaker's state; the objects themselves only by key, in the pointers it sends
                allow([s3_actions.GetObject], [_parked_objects(storage)]),
                allow([sqs_actions.SendMessage, sqs_actions.GetQueueAttributes], [GetAtt(queues.ingest, "Arn")]),
            ],
        ),
    }
    functions: dict[str, awslambda.Function] = {}
    supporting: list = []
    for name, (environment, statements) in specs.items():
        settings = config.functions[name]
        log_group = logs.LogGroup(
            f"{name.title()}LogGroup",
            LogGroupName=f"/aws/lambda/{config.resource_name(name)}",
            RetentionInDays=config.log_retention_days,
            KmsKeyId=key_arn,
        )
        role = _role(name, log_group, key_arn, statements)
        function = awslambda.Function(
            logical_id(name),
            FunctionName=config.resource_name(name),
            Description=f"{config.stack_name}: {name}",
            Runtime=RUNTIME,
            Architectures=[ARCHITECTURE],
            Handler=f"functions.{name}.app.handler",
            Code=awslambda.Code(S3Bucket=Ref(ARTIFACTS_BUCKET_PARAMETER), S3Key=Ref(code_key_parameter(name))),
            MemorySize=settings.memory_mb,
            Timeout=settings.timeout_seconds,
            ReservedConcurrentExecutions=settings.reserved_concurrency,
            Role=GetAtt(role, "Arn"),
            TracingConfig=awslambda.TracingConfig(Mode="Active"),
            LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref(log_group)),
            KmsKeyArn=key_arn,
            Environment=awslambda.Environment(
                Variables={
                    env_names.POWERTOOLS_SERVICE_NAME: name,
                    env_names.POWERTOOLS_METRICS_NAMESPACE: config.metrics_namespace,
                    env_names.LOG_LEVEL: "INFO",
                    **environment,
                }
            ),
        )
        functions[name] = function
        supporting += [log_group, role]
    supporting += _event_source_mappings(config, functions, queues)
    supporting += _notifier_triggers(config, functions["notifier"], notifications, queues, key_arn)
    supporting += _canary_triggers(config, functions["canary"], queues, key_arn)
    supporting += _retrier_triggers(config, functions["retrier"], queues, key_arn)
    parameters = (
        Parameter(ARTIFACTS_BUCKET_PARAMETER, Type="String", Description="Bucket holding the function zips"),
        *(
            Parameter(code_key_parameter(name), Type="String", Description=f"S3 key of the {name} zip")
            for name in specs
        ),
    )
    return Functions(functions=functions, parameters=parameters, supporting=tuple(supporting))


def _parked_objects(storage: Storage) -> Join:
    return Join("", [GetAtt(storage.archive, "Arn"), f"/{PARKING_ROOT}*"])


def _consumer_store_statements(storage: Storage, analytics: Analytics | None) -> list[Statement]:
    """Write the table and/or the analytics store; without the table, canary events go under their own prefix."""
    statements = []
    if storage.table:
        statements += [
            allow([ddb_actions.BatchWriteItem, ddb_actions.PutItem], [GetAtt(storage.table, "Arn")]),
            # functions/consumer/first_write.py: an event stored once keeps its first metadata.
            allow([ddb_actions.BatchGetItem], [GetAtt(storage.table, "Arn")]),
        ]
    if analytics:
        prefixes = [ANALYTICS_PREFIX] if storage.table else [ANALYTICS_PREFIX, ANALYTICS_CANARY_PREFIX]
        statements.append(allow([s3_actions.PutObject], [analytics.object_arns(prefix) for prefix in prefixes]))
    return statements


def _role(name: str, log_group: logs.LogGroup, key_arn: GetAtt, statements: list[Statement]) -> iam.Role:
    base = [
        allow([logs_actions.CreateLogStream, logs_actions.PutLogEvents], [GetAtt(log_group, "Arn")]),
        # The stack key decrypts the function's settings and encrypts what it sends to encrypted queues.
        allow([kms_actions.Decrypt, kms_actions.GenerateDataKey], [key_arn]),
        # X-Ray takes no resource-level permissions: "*" is the only resource it accepts.
        allow([xray_actions.PutTraceSegments, xray_actions.PutTelemetryRecords], ["*"]),
    ]
    return service_role(f"{name.title()}Role", "lambda.amazonaws.com", f"{name}-least-privilege", [*base, *statements])


def service_role(
    title: str,
    service: str,
    policy_name: str,
    statements: list[Statement],
    condition: Condition | None = None,
) -> iam.Role:
    """A role that only `service` can assume (on the `condition`, if any), with one inline policy."""
    trust = Statement(Effect=Allow, Principal=Principal("Service", service), Action=[sts_actions.AssumeRole])
    if condition is not None:
        trust.Condition = condition
    return iam.Role(
        title,
        AssumeRolePolicyDocument=PolicyDocument(Version="2012-10-17", Statement=[trust]),
        Policies=[
            iam.Policy(
                PolicyName=policy_name, PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=statements)
            )
        ],
    )


def _event_source_mappings(config: Config, functions: Mapping[str, awslambda.Function], queues: Queues) -> list:
    sources = {"consumer": queues.ingest, "archiver": queues.dead_letter}
    mappings = []
    for name, queue in sources.items():
        settings = config.mapping(name)
        mappings.append(
            awslambda.EventSourceMapping(
                event_source_mapping_id(name),
                EventSourceArn=GetAtt(queue, "Arn"),
                FunctionName=Ref(functions[name]),
                BatchSize=settings.batch_size,
                MaximumBatchingWindowInSeconds=settings.batching_window_seconds,
                FunctionResponseTypes=["ReportBatchItemFailures"],
                ScalingConfig=MappingScalingConfig(MaximumConcurrency=settings.maximum_concurrency),
                # The mapping's own counts (AWS/Lambda, by EventSourceMappingUUID: polled, invoked, deleted,
                # failed-invoke, dropped events); ErrorCount and KafkaMetrics are for Kafka sources only.
                MetricsConfig=awslambda.MetricsConfig(Metrics=["EventCount"]),
                Enabled=True,
            )
        )
    return mappings


def _notifier_triggers(
    config: Config,
    notifier: awslambda.Function,
    notifications: Notifications,
    queues: Queues,
    key_arn: GetAtt,
) -> list:
    """Low-tier alarms reach the notifier through SNS; a schedule at the start of business hours (in the
    configured time zone) delivers what was held overnight. Whatever cannot be delivered lands in the
    failures queue."""
    failures_arn = GetAtt(queues.failures, "Arn")
    scheduler_role = service_role(
        "NotifierScheduleRole",
        "scheduler.amazonaws.com",
        "invoke-notifier",
        [
            allow([lambda_actions.InvokeFunction], [GetAtt(notifier, "Arn")]),
            allow([sqs_actions.SendMessage], [failures_arn]),
            allow([kms_actions.Decrypt, kms_actions.GenerateDataKey], [key_arn]),
        ],
        # Only schedules of this account may use the role (the confused-deputy guard).
        condition=Condition(StringEquals("aws:SourceAccount", AccountId)),
    )
    start = config.notifications.business_hours.split("-")[0]
    hour, minute = (int(part) for part in start.split(":"))
    days = ",".join(day.upper() for day in config.notifications.business_days)
    schedule = scheduler.Schedule(
        "NotifierSchedule",
        Description="Delivers held low-tier notifications when business hours start",
        ScheduleExpression=f"cron({minute} {hour} ? * {days} *)",
        ScheduleExpressionTimezone=config.notifications.business_timezone,
        FlexibleTimeWindow=scheduler.FlexibleTimeWindow(Mode="OFF"),
        State="ENABLED",
        Target=scheduler.Target(
            Arn=GetAtt(notifier, "Arn"),
            RoleArn=GetAtt(scheduler_role, "Arn"),
            # Without an Input, Scheduler sends its own envelope (`"detail": "{}"`, a string): an explicit
            # input the notifier recognises, with the time it was scheduled for (a Scheduler context attribute).
            Input=json.dumps(NOTIFIER_SCHEDULE_INPUT, sort_keys=True),
            DeadLetterConfig=scheduler.DeadLetterConfig(Arn=failures_arn),
            RetryPolicy=scheduler.RetryPolicy(MaximumRetryAttempts=5, MaximumEventAgeInSeconds=3600),
        ),
    )
    return [
        sns.SubscriptionResource(
            "LowTopicNotifierSubscription",
            TopicArn=Ref(notifications.low),
            Protocol="lambda",
            Endpoint=GetAtt(notifier, "Arn"),
            RedrivePolicy={"deadLetterTargetArn": failures_arn},
        ),
        awslambda.Permission(
            "NotifierInvokeFromLowTopic",
            FunctionName=Ref(notifier),
            Action="lambda:InvokeFunction",
            Principal="sns.amazonaws.com",
            SourceArn=Ref(notifications.low),
        ),
        awslambda.EventInvokeConfig(
            "NotifierAsyncInvokeConfig",
            FunctionName=Ref(notifier),
            Qualifier="$LATEST",
            MaximumRetryAttempts=2,
            DestinationConfig=awslambda.DestinationConfig(OnFailure=awslambda.OnFailure(Destination=failures_arn)),
        ),
        scheduler_role,
        schedule,
    ]


def _canary_triggers(config: Config, canary: awslambda.Function, queues: Queues, key_arn: GetAtt) -> list:
    """The canary's schedule: every interval (rounded to Scheduler's minutes; the local stack runs it faster),
    with an explicit Input. A late or retried run proves nothing the next one will not: no retries, and what
    could not be delivered goes to the failures queue. Off in the configuration: the schedule is disabled."""
    return _runs_every(
        canary,
        "Runs the end-to-end canary: one event in through the API, read back from the table",
        config.canary.interval_seconds,
        SCHEDULE_INPUT,
        queues,
        key_arn,
        enabled=config.canary.enabled,
    )


def _retrier_triggers(config: Config, retrier: awslambda.Function, queues: Queues, key_arn: GetAtt) -> list:
    """The retrier's schedule: every retrier interval (whole minutes), one run at a time. A run that could not
    start is not worth retrying: the next one does the same work."""
    return _runs_every(
        retrier,
        "Points the consumer at parked events: once the store answers, or once their retry window is spent",
        config.queue.retrier_interval_seconds,
        json.dumps(RETRIER_SCHEDULE_INPUT, sort_keys=True),
        queues,
        key_arn,
        source_account_only=True,
    )


def _runs_every(
    function: awslambda.Function,
    description: str,
    interval_seconds: int,
    schedule_input: str,
    queues: Queues,
    key_arn: GetAtt,
    *,
    enabled: bool = True,
    source_account_only: bool = False,
) -> list:
    """A `rate()` schedule (whole minutes) that invokes `function` with an explicit Input, never retried (the next
    run does the same work), with what could not be delivered in the failures queue; its role, and the function's
    no-retry asynchronous invocation config. Logical ids from the function's: `Canary` → `CanarySchedule`, …"""
    name = function.title.removesuffix("Function")
    failures_arn = GetAtt(queues.failures, "Arn")
    role = service_role(
        f"{name}ScheduleRole",
        "scheduler.amazonaws.com",
        f"invoke-{name.lower()}",
        [
            allow([lambda_actions.InvokeFunction], [GetAtt(function, "Arn")]),
            allow([sqs_actions.SendMessage], [failures_arn]),
            allow([kms_actions.Decrypt, kms_actions.GenerateDataKey], [key_arn]),
        ],
        # Only schedules of this account may use the role (the confused-deputy guard).
        condition=Condition(StringEquals("aws:SourceAccount", AccountId)) if source_account_only else None,
    )
    minutes = max(1, interval_seconds // 60)
    schedule = scheduler.Schedule(
        schedule_id(name),
        Description=description,
        ScheduleExpression=f"rate({minutes} {'minute' if minutes == 1 else 'minutes'})",
        FlexibleTimeWindow=scheduler.FlexibleTimeWindow(Mode="OFF"),
        State="ENABLED" if enabled else "DISABLED",
        Target=scheduler.Target(
            Arn=GetAtt(function, "Arn"),
            RoleArn=GetAtt(role, "Arn"),
            Input=schedule_input,
            DeadLetterConfig=scheduler.DeadLetterConfig(Arn=failures_arn),
            # 60 s is the least Scheduler accepts (botocore: scheduler MaximumEventAgeInSeconds min 60)
            RetryPolicy=scheduler.RetryPolicy(MaximumRetryAttempts=0, MaximumEventAgeInSeconds=60),
        ),
    )
    no_retries = awslambda.EventInvokeConfig(
        f"{name}AsyncInvokeConfig",
        FunctionName=Ref(function),
        Qualifier="$LATEST",
        MaximumRetryAttempts=0,
        MaximumEventAgeInSeconds=60,
    )
    return [role, schedule, no_retries]
