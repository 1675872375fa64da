"""The stack's customer-managed KMS key and the alarm topics: high (page now), low (business hours) and
notify (the people behind the low tier, fed by the notifier function), and who each tier reaches.

Outside `local` every tier reaches a person: the configuration requires a high-tier subscriber, and the low tier
falls back to the high-tier people when it has none of its own (`tier_recipients`; `invoke synth` prints both)."""

from __future__ import annotations

from dataclasses import dataclass

from awacs import aws as iam
from awacs import kms as kms_actions
from awacs import sns as sns_actions
from troposphere import AccountId, GetAtt, Join, Partition, Ref, kms, sns, sqs

from cloudformation.common import kept_outside_local, logs_may_use_key
from core.config import Config

# Services that publish alarm and budget notifications into our encrypted topics. With the AWS-managed
# alias/aws/sns key their publishes are silently dropped: they need grants on a key we own.
NOTIFYING_SERVICES = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com")


@dataclass(frozen=True)
class Notifications:
    key: kms.Key
    alias: kms.Alias
    high: sns.Topic
    low: sns.Topic
    notify: sns.Topic
    policies: tuple[sns.TopicPolicy, ...]
    subscriptions: tuple[sns.SubscriptionResource, ...] = ()  # the people's: `people_subscriptions`

    def resources(self) -> list:
        return [self.key, self.alias, self.high, self.low, self.notify, *self.policies, *self.subscriptions]


def build_notifications(config: Config) -> Notifications:
    key = stack_key(config)
    high = _topic("HighTopic", config.resource_name("high"), key)
    low = _topic("LowTopic", config.resource_name("low"), key)
    notify = _topic("NotifyTopic", config.resource_name("notify"), key)
    policies = (
        _topic_policy("HighTopicPolicy", high),
        _topic_policy("LowTopicPolicy", low),
        # pages-undelivered publishes straight to the low tier's people, past the notifier (alarms.table: at_once)
        _topic_policy("NotifyTopicPolicy", notify, ("cloudwatch.amazonaws.com",)),
    )
    alias = kms.Alias("StackKeyAlias", AliasName=f"alias/{config.stack_name}", TargetKeyId=Ref(key))
    return Notifications(key, alias, high, low, notify, policies)


def stack_key(config: Config) -> kms.Key:
    account_root = Join("", ["arn:", Partition, ":iam::", AccountId, ":root"])
    statements = [
        iam.Statement(
            Sid="AccountAdministers",
            Effect=iam.Allow,
            Principal=iam.AWSPrincipal(account_root),
            Action=[kms_actions.Action("*")],
            Resource=["*"],
        ),
        iam.Statement(
            Sid="AlarmsAndBudgetsPublishToEncryptedTopics",
            Effect=iam.Allow,
            Principal=iam.Principal("Service", list(NOTIFYING_SERVICES)),
            Action=[kms_actions.Decrypt, kms_actions.GenerateDataKey],
            Resource=["*"],
            Condition=iam.Condition(iam.StringEquals("aws:SourceAccount", AccountId)),
        ),
        iam.Statement(
            Sid="SnsRedrivesIntoEncryptedFailuresQueue",
            Effect=iam.Allow,
            Principal=iam.Principal("Service", "sns.amazonaws.com"),
            Action=[kms_actions.Decrypt, kms_actions.GenerateDataKey],
            Resource=["*"],
            Condition=iam.Condition(iam.StringEquals("aws:SourceAccount", AccountId)),
        ),
        logs_may_use_key("LogsEncryptStackLogGroups", "*"),
    ]
    return kms.Key(
        "StackKey",
        Description=f"{config.stack_name}: encrypts topics, table, archive, logs and function settings",
        EnableKeyRotation=True,
        KeyPolicy=iam.PolicyDocument(Version="2012-10-17", Statement=statements),
        PendingWindowInDays=7 if config.is_local else 30,
        # The table and archive it encrypts are kept: without the key they could never be read again.
        **kept_outside_local(config),
    )


def _topic(title: str, name: str, key: kms.Key) -> sns.Topic:
    return sns.Topic(title, TopicName=name, KmsMasterKeyId=Ref(key))


def _topic_policy(title: str, topic: sns.Topic, services: tuple[str, ...] = NOTIFYING_SERVICES) -> sns.TopicPolicy:
    statement = iam.Statement(
        Sid="AlarmsAndBudgetsPublish" if services == NOTIFYING_SERVICES else "AlarmsPublish",
        Effect=iam.Allow,
        Principal=iam.Principal("Service", list(services)),
        Action=[sns_actions.Publish],
        Resource=[Ref(topic)],
        Condition=iam.Condition(iam.StringEquals("aws:SourceAccount", AccountId)),
    )
    return sns.TopicPolicy(
        title,
        Topics=[Ref(topic)],
        PolicyDocument=iam.PolicyDocument(Version="2012-10-17", Statement=[statement]),
    )


@dataclass(frozen=True)
class Recipients:
    """Who a tier reaches: e-mail addresses and HTTPS endpoints; `fallback` when they are the high tier's."""

    emails: tuple[str, ...]
    https_endpoints: tuple[str, ...]
    fallback: bool = False

    @property
    def endpoints(self) -> tuple[str, ...]:
        return (*self.emails, *self.https_endpoints)

    def describe(self) -> str:
        if not self.endpoints:
            return "nobody"
        people = ", ".join(self.endpoints)
        return f"no low-tier subscriber, so the high-tier people as fallback: {people}" if self.fallback else people


def tier_recipients(config: Config) -> dict[str, Recipients]:
    """The people each tier reaches: high on the high topic; low on the notify topic (the notifier forwards to it),
    its own subscribers or, when none is configured, the high-tier people, so that no tier reaches nobody."""
    settings = config.notifications
    high = Recipients(settings.high_emails, settings.high_https_endpoints)
    low = Recipients(settings.low_emails, settings.low_https_endpoints)
    if not low.endpoints:
        low = Recipients(high.emails, high.https_endpoints, fallback=bool(high.endpoints))
    return {"high": high, "low": low}


def people_subscriptions(
    config: Config, notifications: Notifications, failures: sqs.Queue
) -> tuple[sns.SubscriptionResource, ...]:
    """The people's e-mail and HTTPS subscriptions: high tier on the high topic, low tier on the notify topic
    (`tier_recipients`). What SNS cannot deliver to them lands in the failures queue (alarmed) instead of vanishing."""
    recipients = tier_recipients(config)
    topics = {"high": notifications.high, "low": notifications.notify}
    wanted = [
        (tier.title(), topics[tier], protocol, endpoint)
        for tier in ("high", "low")
        for protocol, endpoints in (("email", recipients[tier].emails), ("https", recipients[tier].https_endpoints))
        for endpoint in endpoints
    ]
    return tuple(
        sns.SubscriptionResource(
            f"{tier}{protocol.title()}Subscription{index}",
            TopicArn=Ref(topic),
            Protocol=protocol,
            Endpoint=endpoint,
            RedrivePolicy={"deadLetterTargetArn": GetAtt(failures, "Arn")},
        )
        for index, (tier, topic, protocol, endpoint) in enumerate(wanted)
    )
