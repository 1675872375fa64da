"""The ingest queue and its dead-letter queue, with a redrive policy and a TLS-only policy, and the queue that
catches what the asynchronous paths (SNS → notifier, the schedule, async invokes) fail to deliver."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from awacs import aws as iam
from awacs import sqs as sqs_actions
from awacs.aws import PolicyDocument
from troposphere import GetAtt, NoValue, Ref, kms, sns, sqs

from cloudformation.common import deny_insecure_transport
from core.config import Config


@dataclass(frozen=True)
class Queues:
    ingest: sqs.Queue
    dead_letter: sqs.Queue
    failures: sqs.Queue
    policies: tuple[sqs.QueuePolicy, ...]

    def resources(self) -> list:
        return [self.ingest, self.dead_letter, self.failures, *self.policies]


def build_queues(config: Config, key: kms.Key, redriving_topics: Sequence[sns.Topic]) -> Queues:
    """`redriving_topics`: the topics whose undeliverable notifications land in the failures queue."""
    dead_letter = sqs.Queue(
        "DeadLetterQueue",
        QueueName=config.resource_name("dead-letter"),
        MessageRetentionPeriod=config.queue.dlq_retention_seconds,
        VisibilityTimeout=config.dlq_visibility_timeout_seconds,
        **_encryption(config, key),
    )
    ingest = sqs.Queue(
        "IngestQueue",
        QueueName=config.resource_name("ingest"),
        MessageRetentionPeriod=config.queue.retention_seconds,
        VisibilityTimeout=config.visibility_timeout_seconds,
        ReceiveMessageWaitTimeSeconds=20,
        RedrivePolicy=sqs.RedrivePolicy(
            deadLetterTargetArn=GetAtt(dead_letter, "Arn"), maxReceiveCount=config.max_receive_count
        ),
        **_encryption(config, key),
    )
    failures = sqs.Queue(
        "FailuresQueue",
        QueueName=config.resource_name("failures"),
        MessageRetentionPeriod=config.queue.dlq_retention_seconds,
        **_encryption(config, key),
    )
    policy = sqs.QueuePolicy(
        "QueuesTlsOnlyPolicy",
        Queues=[Ref(ingest), Ref(dead_letter)],
        PolicyDocument=PolicyDocument(
            Version="2012-10-17",
            Statement=[
                deny_insecure_transport(
                    [sqs_actions.Action("*")],
                    [GetAtt(ingest, "Arn"), GetAtt(dead_letter, "Arn")],
                    sid="DenyInsecureTransport",
                )
            ],
        ),
    )
    failures_policy = sqs.QueuePolicy(
        "FailuresQueuePolicy",
        Queues=[Ref(failures)],
        PolicyDocument=PolicyDocument(
            Version="2012-10-17",
            Statement=[
                deny_insecure_transport(
                    [sqs_actions.Action("*")], [GetAtt(failures, "Arn")], sid="DenyInsecureTransport"
                ),
                iam.Statement(
                    Sid="TopicsRedriveUndeliveredNotifications",
                    Effect=iam.Allow,
                    Principal=iam.Principal("Service", "sns.amazonaws.com"),
                    Action=[sqs_actions.SendMessage],
                    Resource=[GetAtt(failures, "Arn")],
                    Condition=iam.Condition(iam.ArnEquals("aws:SourceArn", [Ref(topic) for topic in redriving_topics])),
                ),
            ],
        ),
    )
    return Queues(ingest, dead_letter, failures, (policy, failures_policy))


def _encryption(config: Config, key: kms.Key) -> dict:
    if config.queue.kms == "kms":
        return {
            "KmsMasterKeyId": Ref(key),
            "KmsDataKeyReusePeriodSeconds": 300,
            "SqsManagedSseEnabled": NoValue,
        }
    return {"SqsManagedSseEnabled": True}
