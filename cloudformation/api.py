"""The REST API: POST /events (Lambda proxy, API key, validated body), GET /health (mock), one stage."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from troposphere import AWSObject, GetAtt, Join, NoValue, Ref, Sub, apigateway, awslambda, kms, logs, wafv2

from core.config import Config

# The canary sends one request a run (every few seconds at most, locally).
CLIENT_API_KEY_ID = "ApiKey"  # the logical id of the clients' key (the canary has its own)
CANARY_RATE_LIMIT = 1.0
CANARY_BURST_LIMIT = 2
OPENAPI_PATH = Path(__file__).with_name("openapi.json")
# API Gateway's access log line, as JSON: one object per request, keys as CloudWatch Logs Insights likes.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "ip": "$context.identity.sourceIp",
        "apiKeyId": "$context.identity.apiKeyId",
        "requestTime": "$context.requestTimeEpoch",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "latency": "$context.responseLatency",
        "integrationLatency": "$context.integrationLatency",
        "integrationStatus": "$context.integrationStatus",
        "errorMessage": "$context.error.message",
        "xrayTraceId": "$context.xrayTraceId",
    },
    sort_keys=True,
)


def events_request_schema() -> dict:
    """The request body schema, read from the OpenAPI document the API is described by."""
    openapi = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        **openapi["components"]["schemas"]["EventsRequest"],
    }


@dataclass(frozen=True)
class Api:
    rest_api: apigateway.RestApi
    stage: apigateway.Stage
    api_key: apigateway.ApiKey
    canary_key: apigateway.ApiKey
    resources_list: tuple[AWSObject, ...]

    def resources(self) -> list:
        return list(self.resources_list)


def build_api(config: Config, ingest: awslambda.Function, key: kms.Key, canary_key: apigateway.ApiKey) -> Api:
    rest_api = apigateway.RestApi(
        "Api",
        Name=config.resource_name("api"),
        Description=f"{config.stack_name}: event ingestion",
        ApiKeySourceType="HEADER",
        EndpointConfiguration=apigateway.EndpointConfiguration(Types=["REGIONAL"]),
    )
    model = apigateway.Model(
        "EventsModel",
        RestApiId=Ref(rest_api),
        ContentType="application/json",
        Name="EventsRequest",
        Schema=events_request_schema(),
    )
    validator = apigateway.RequestValidator(
        "EventsRequestValidator",
        RestApiId=Ref(rest_api),
        Name="validate-body",
        ValidateRequestBody=True,
        ValidateRequestParameters=False,
    )
    events_resource = apigateway.Resource(
        "EventsResource",
        RestApiId=Ref(rest_api),
        ParentId=GetAtt(rest_api, "RootResourceId"),
        PathPart="events",
    )
    health_resource = apigateway.Resource(
        "HealthResource",
        RestApiId=Ref(rest_api),
        ParentId=GetAtt(rest_api, "RootResourceId"),
        PathPart="health",
    )
    post_events = apigateway.Method(
        "EventsPostMethod",
        RestApiId=Ref(rest_api),
        ResourceId=Ref(events_resource),
        HttpMethod="POST",
        AuthorizationType="NONE",
        ApiKeyRequired=True,
        RequestValidatorId=Ref(validator),
        RequestModels={"application/json": Ref(model)},
        Integration=apigateway.Integration(
            Type="AWS_PROXY",
            IntegrationHttpMethod="POST",
            Uri=Sub(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                "${IngestFunction.Arn}/invocations"
            ),
        ),
    )
    get_health = apigateway.Method(
        "HealthGetMethod",
        RestApiId=Ref(rest_api),
        ResourceId=Ref(health_resource),
        HttpMethod="GET",
        AuthorizationType="NONE",
        ApiKeyRequired=True,  # nothing on this API answers an anonymous caller
        Integration=apigateway.Integration(
            Type="MOCK",
            RequestTemplates={"application/json": '{"statusCode": 200}'},
            IntegrationResponses=[
                apigateway.IntegrationResponse(
                    StatusCode="200", ResponseTemplates={"application/json": '{"status": "ok"}'}
                )
            ],
        ),
        MethodResponses=[apigateway.MethodResponse(StatusCode="200")],
    )
    methods = [model, validator, events_resource, health_resource, post_events, get_health]
    deployment = apigateway.Deployment(
        # A new logical id whenever the API changes, so CloudFormation deploys it again.
        f"ApiDeployment{_fingerprint(methods)}",
        RestApiId=Ref(rest_api),
        Description="Sluice API",
        DependsOn=[post_events.title, get_health.title],
    )
    access_logs = logs.LogGroup(
        "ApiAccessLogGroup",
        LogGroupName=access_log_group_name(config),
        RetentionInDays=config.log_retention_days,
        KmsKeyId=GetAtt(key, "Arn"),
    )
    stage = apigateway.Stage(
        "ApiStage",
        RestApiId=Ref(rest_api),
        DeploymentId=Ref(deployment),
        StageName=config.api.stage_name,
        TracingEnabled=True,
        CacheClusterEnabled=False,
        AccessLogSetting=apigateway.AccessLogSetting(
            DestinationArn=GetAtt(access_logs, "Arn"), Format=ACCESS_LOG_FORMAT
        ),
        MethodSettings=[
            apigateway.MethodSetting(
                ResourcePath="/*",
                HttpMethod="*",
                MetricsEnabled=True,
                DataTraceEnabled=False,
                ThrottlingRateLimit=float(config.api.stage_rate_limit),
                ThrottlingBurstLimit=config.api.stage_burst_limit,
            )
        ],
    )
    api_key = apigateway.ApiKey(
        CLIENT_API_KEY_ID, Name=config.resource_name("default-key"), Enabled=True, Description="Default client key"
    )
    usage_plan = apigateway.UsagePlan(
        "UsagePlan",
        UsagePlanName=usage_plan_name(config, "default"),
        ApiStages=[apigateway.ApiStage(ApiId=Ref(rest_api), Stage=Ref(stage))],
        Throttle=apigateway.ThrottleSettings(RateLimit=float(config.api.rate_limit), BurstLimit=config.api.burst_limit),
    )
    usage_plan_key = apigateway.UsagePlanKey(
        "UsagePlanKey", KeyId=Ref(api_key), KeyType="API_KEY", UsagePlanId=Ref(usage_plan)
    )
    canary_plan, canary_plan_key = _canary_usage_plan(config, rest_api, stage, canary_key)
    producer_plans = _producer_usage_plans(config, rest_api, stage)
    permission = awslambda.Permission(
        "IngestInvokeFromApi",
        FunctionName=Ref(ingest),
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=Join(
            "",
            [
                "arn:",
                Ref("AWS::Partition"),
                ":execute-api:",
                Ref("AWS::Region"),
                ":",
                Ref("AWS::AccountId"),
                ":",
                Ref(rest_api),
                "/*/POST/events",
            ],
        ),
    )
    extras: list[AWSObject] = []
    if config.api.waf_web_acl_arn:
        extras.append(
            wafv2.WebACLAssociation(
                "ApiWebAclAssociation",
                ResourceArn=Sub("arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/${ApiStage}"),
                WebACLArn=config.api.waf_web_acl_arn,
            )
        )
    resources = (
        rest_api,
        *methods,
        deployment,
        access_logs,
        stage,
        api_key,
        usage_plan,
        usage_plan_key,
        *producer_plans,
        canary_key,
        canary_plan,
        canary_plan_key,
        permission,
        *extras,
    )
    return Api(rest_api=rest_api, stage=stage, api_key=api_key, canary_key=canary_key, resources_list=resources)


def _canary_usage_plan(
    config: Config, rest_api: apigateway.RestApi, stage: apigateway.Stage, canary_key: apigateway.ApiKey
) -> tuple[apigateway.UsagePlan, apigateway.UsagePlanKey]:
    """The canary's own plan: a run is one request, so it never eats into a client's quota, nor they into its."""
    plan = apigateway.UsagePlan(
        "CanaryUsagePlan",
        UsagePlanName=config.resource_name("canary-plan"),
        ApiStages=[apigateway.ApiStage(ApiId=Ref(rest_api), Stage=Ref(stage))],
        Throttle=apigateway.ThrottleSettings(RateLimit=CANARY_RATE_LIMIT, BurstLimit=CANARY_BURST_LIMIT),
    )
    plan_key = apigateway.UsagePlanKey(
        "CanaryUsagePlanKey", KeyId=Ref(canary_key), KeyType="API_KEY", UsagePlanId=Ref(plan)
    )
    return plan, plan_key


def access_log_group_name(config: Config) -> str:
    """The API's access log (ACCESS_LOG_FORMAT): the operations dashboard's "Refused at the gateway" table reads it."""
    return f"/aws/apigateway/{config.resource_name('api')}/access"


def usage_plan_name(config: Config, producer_class: str) -> str:
    """The usage plan of a producer class, by name: how `invoke keys.*` finds it (the default class's plan is the
    template's `UsagePlan`, named so since before classes existed)."""
    return config.resource_name(f"{producer_class}-plan")


def _producer_usage_plans(
    config: Config, rest_api: apigateway.RestApi, stage: apigateway.Stage
) -> list[apigateway.UsagePlan]:
    """One usage plan per configured producer class (producers.<class>); keys join them at run time (keys.create)."""
    plans = []
    for name, producer in config.producers.items():
        quota = (
            apigateway.QuotaSettings(Limit=producer.quota_limit, Period=producer.quota_period_or_day)
            if producer.quota_limit
            else NoValue
        )
        plans.append(
            apigateway.UsagePlan(
                f"Producer{''.join(part.title() for part in name.split('-'))}UsagePlan",
                UsagePlanName=usage_plan_name(config, name),
                Description=f"Producer class {name}",
                ApiStages=[apigateway.ApiStage(ApiId=Ref(rest_api), Stage=Ref(stage))],
                Throttle=apigateway.ThrottleSettings(RateLimit=producer.rate_limit, BurstLimit=producer.burst_limit),
                Quota=quota,
            )
        )
    return plans


def _fingerprint(resources: list[AWSObject]) -> str:
    body = json.dumps([resource.to_dict() for resource in resources], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:10]
