"""`build_template(config)`: the whole stack, composed from one builder per service."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from troposphere import AWSObject, GetAtt, Output, Ref, Sub, Template

from cloudformation import output_keys
from cloudformation.analytics import Analytics, build_analytics, database_name, workgroup_name
from cloudformation.api import Api, build_api
from cloudformation.canary import build_canary_key
from cloudformation.common import tag_all
from cloudformation.functions import Functions, build_functions, logical_id
from cloudformation.notifications import Notifications, build_notifications, people_subscriptions
from cloudformation.queues import Queues, build_queues
from cloudformation.storage import Storage, build_storage
from core.config import Config


@dataclass(frozen=True)
class Stack:
    """The built resources, for the monitoring builders that add alarms and dashboards on top."""

    config: Config
    notifications: Notifications
    queues: Queues
    storage: Storage
    functions: Functions
    api: Api
    analytics: Analytics | None = None  # the analytics store, when `sinks` holds "s3"


# A monitoring builder takes the stack and returns the resources it adds (alarms, dashboards, budget).
MonitoringBuilder = Callable[[Stack], Iterable[AWSObject]]


def build_stack(config: Config) -> Stack:
    notifications = build_notifications(config)
    queues = build_queues(config, notifications.key, (notifications.low, notifications.high, notifications.notify))
    # The people's subscriptions' redrive policies send what SNS cannot deliver to the failures queue: built after
    # the topics.
    notifications = replace(notifications, subscriptions=people_subscriptions(config, notifications, queues.failures))
    storage = build_storage(config, notifications.key)
    canary_key = build_canary_key(config)
    analytics = build_analytics(config, notifications.key)
    functions = build_functions(config, notifications, queues, storage, canary_key, analytics)
    api = build_api(config, functions.functions["ingest"], notifications.key, canary_key)
    return Stack(config, notifications, queues, storage, functions, api, analytics)


def build_template(config: Config, monitoring: Iterable[MonitoringBuilder] = ()) -> Template:
    stack = build_stack(config)
    template = Template(Description=f"Sluice event ingestion pipeline ({config.env})")
    template.set_version("2010-09-09")
    resources = [
        *stack.notifications.resources(),
        *stack.queues.resources(),
        *stack.storage.resources(),
        *(stack.analytics.resources() if stack.analytics else ()),
        *stack.functions.resources(),
        *stack.api.resources(),
    ]
    for builder in monitoring:
        resources.extend(builder(stack))
    tag_all(resources, config)
    for parameter in (*stack.functions.parameters, *stack.storage.parameters):
        template.add_parameter(parameter)
    for name, condition in stack.storage.conditions.items():
        template.add_condition(name, condition)
    for resource in resources:
        template.add_resource(resource)
    for output in _outputs(stack):
        template.add_output(output)
    return template


def _outputs(stack: Stack) -> list[Output]:
    config = stack.config
    return [
        Output(
            output_keys.API_URL,
            Description="Base URL of the API stage",
            Value=Sub(f"https://${{Api}}.execute-api.${{AWS::Region}}.amazonaws.com/{config.api.stage_name}"),
        ),
        Output(output_keys.API_ID, Value=Ref(stack.api.rest_api)),
        Output(
            output_keys.API_KEY_ID,
            Description="Id of the default API key (its value: aws apigateway get-api-key)",
            Value=Ref(stack.api.api_key),
        ),
        Output(
            output_keys.CANARY_API_KEY_ID, Description="Id of the canary's API key", Value=Ref(stack.api.canary_key)
        ),
        *([Output(output_keys.TABLE_NAME, Value=Ref(stack.storage.table))] if stack.storage.table else []),
        Output(output_keys.QUEUE_URL, Value=Ref(stack.queues.ingest)),
        Output(output_keys.QUEUE_ARN, Value=GetAtt(stack.queues.ingest, "Arn")),
        Output(output_keys.DEAD_LETTER_QUEUE_URL, Value=Ref(stack.queues.dead_letter)),
        Output(output_keys.DEAD_LETTER_QUEUE_ARN, Value=GetAtt(stack.queues.dead_letter, "Arn")),
        Output(output_keys.FAILURES_QUEUE_URL, Value=Ref(stack.queues.failures)),
        Output(output_keys.ARCHIVE_BUCKET, Value=Ref(stack.storage.archive)),
        Output(output_keys.HELD_NOTIFICATIONS_TABLE, Value=Ref(stack.storage.held_notifications)),
        Output(output_keys.HIGH_TOPIC_ARN, Value=Ref(stack.notifications.high)),
        Output(output_keys.LOW_TOPIC_ARN, Value=Ref(stack.notifications.low)),
        Output(output_keys.NOTIFY_TOPIC_ARN, Value=Ref(stack.notifications.notify)),
        *(
            Output(output_keys.function_name_key(logical_id(name)), Value=Ref(function))
            for name, function in stack.functions.functions.items()
        ),
        *_analytics_outputs(stack),
    ]


def _analytics_outputs(stack: Stack) -> list[Output]:
    if stack.analytics is None:
        return []
    return [
        Output(output_keys.ANALYTICS_BUCKET, Value=Ref(stack.analytics.bucket)),
        Output(output_keys.ANALYTICS_DATABASE, Value=database_name(stack.config)),
        Output(output_keys.ANALYTICS_WORK_GROUP, Value=workgroup_name(stack.config)),
    ]


def render(template: Template) -> str:
    """Deterministic JSON: the same configuration always gives the same bytes."""
    return json.dumps(template.to_dict(), indent=2, sort_keys=True) + "\n"


def resource_counts(template: Template) -> Counter[str]:
    return Counter(resource.resource_type for resource in template.resources.values())
