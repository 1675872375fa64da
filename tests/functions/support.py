"""Builders and fault injection shared by the function tests (imported as tests.functions.support)."""

import base64
import copy
import functools
import importlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from hypothesis import strategies as st

from core.paths import PROJECT_ROOT
from functions.common.envelope import Envelope
from tests.aws_helpers import create_hash_table

EVENTS = PROJECT_ROOT / "tests" / "data" / "aws-events"
# The notifier's business hours in the function tests: Monday to Friday, 09:00–17:00 in Berlin.
BUSINESS_HOURS_ENVIRONMENT = {
    "BUSINESS_DAYS": "Mon,Tue,Wed,Thu,Fri",
    "BUSINESS_HOURS": "09:00-17:00",
    "BUSINESS_TIMEZONE": "Europe/Berlin",
}


@functools.cache
def plain_client(service: str) -> Any:
    """A client without fault hooks, for setting up and checking. moto intercepts clients whenever a
    mock is active, so one per service is enough (creating clients is slow)."""
    return boto3.client(service, region_name="us-east-1")


def load_module(name: str) -> ModuleType:
    """(Re)import a handler module: they read the environment and create clients at import. Its function's
    POWERTOOLS_SERVICE_NAME is set meanwhile, as the template sets it (the function's name: `functions.<name>.app`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POWERTOOLS_SERVICE_NAME", name.split(".")[1])
        if name in sys.modules:
            return importlib.reload(sys.modules[name])
        return importlib.import_module(name)


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@dataclass
class FakeContext:
    function_name: str = "sluice-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:sluice-test"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def sqs_event(bodies: list[str], message_ids: list[str] | None = None, *, sent_ms: int | None = None) -> dict[str, Any]:
    """An SQS batch built from the real sample's first record, one record per body; `sent_ms` replaces the
    sample's SentTimestamp (from 2018: a retry window counted from it is long spent)."""
    template = load_event("sqs-receive.json")["Records"][0]
    ids = message_ids or [f"msg-{index:04d}" for index in range(len(bodies))]
    records = []
    for message_id, body in zip(ids, bodies, strict=True):
        record = copy.deepcopy(template)
        record["messageId"] = message_id
        record["body"] = body
        if sent_ms is not None:
            record["attributes"]["SentTimestamp"] = str(sent_ms)
        records.append(record)
    return {"Records": records}


def emf_blobs(output: str) -> list[dict[str, Any]]:
    """The EMF metric objects among the JSON lines a handler printed."""
    blobs = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blobs.append(json.loads(line))
    return blobs


def metric_values(output: str, name: str) -> list[float]:
    values: list[float] = []
    for blob in emf_blobs(output):
        if name in blob:
            value = blob[name]
            values.extend(value if isinstance(value, list) else [value])
    return values


def _event_name(stage: str, client: Any, operation: str) -> str:
    return f"{stage}.{client.meta.service_model.service_id.hyphenize()}.{operation}"


def count_calls(client: Any, operation: str) -> list[dict[str, Any]]:
    """Record the parameters of each call of `operation` made through `client`."""
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(copy.deepcopy(params))

    client.meta.events.register(_event_name("before-parameter-build", client, operation), record)
    return calls


def fail_calls(
    client: Any, operation: str, error: Callable[[], Exception] | str, *, when: Callable[[int], bool] = lambda _: True
) -> None:
    """Make calls of `operation` raise, as the local runtime's fault injection does. `error` is an
    error code (raised as ClientError) or an exception factory; `when(n)` picks the n-th calls (from 1)."""
    seen = [0]

    def raise_error(**_: Any) -> None:
        seen[0] += 1
        if not when(seen[0]):
            return
        if callable(error):
            raise error()
        raise ClientError({"Error": {"Code": error, "Message": "injected fault"}}, operation)

    client.meta.events.register(_event_name("before-call", client, operation), raise_error)


def _partial_failure(
    client: Any,
    operation: str,
    split: Callable[[int, dict[str, Any]], tuple[dict[str, Any] | None, list[Any]]],
    merge: Callable[[dict[str, Any], list[Any]], None],
    empty_response: dict[str, Any],
) -> None:
    """Answer calls of `operation` as a partial failure: `split(call_number, params)` gives the
    params to really send (None when nothing is left) and the entries to fail; a plain client sends
    the former to moto and `merge` reports the latter in the response, as AWS does."""
    method = getattr(plain_client(client.meta.service_model.service_name), xform_name(operation))
    calls = [0]
    pending: dict[str, Any] = {}

    def keep_params(params: dict[str, Any], **_: Any) -> None:
        calls[0] += 1
        pending["params"] = copy.deepcopy(params)

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        sent, failed = split(calls[0], pending.pop("params"))
        parsed = method(**sent) if sent is not None else copy.deepcopy(empty_response)
        merge(parsed, failed)
        return AWSResponse("https://injected-fault.invalid", 200, {}, None), parsed

    client.meta.events.register(_event_name("before-parameter-build", client, operation), keep_params)
    client.meta.events.register(_event_name("before-call", client, operation), answer)


def fail_batch_entries(sqs_client: Any, failing: Callable[[int, str], bool]) -> None:
    """SendMessageBatch entries with failing(call_number, entry Id) are not queued and come back in Failed."""

    def split(call: int, params: dict[str, Any]) -> tuple[dict[str, Any] | None, list[Any]]:
        kept = [entry for entry in params["Entries"] if not failing(call, entry["Id"])]
        dropped = [entry for entry in params["Entries"] if failing(call, entry["Id"])]
        return ({**params, "Entries": kept} if kept else None), dropped

    def merge(parsed: dict[str, Any], dropped: list[Any]) -> None:
        parsed.setdefault("Failed", []).extend(
            {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError", "Message": "injected"}
            for entry in dropped
        )

    _partial_failure(sqs_client, "SendMessageBatch", split, merge, {"Successful": [], "Failed": []})


def leave_unprocessed(dynamodb_client: Any, table: str, unprocessed: Callable[[int, str], bool]) -> None:
    """BatchWriteItem puts with unprocessed(call_number, event_id) are not written and come back in
    UnprocessedItems (moto itself never returns any)."""

    def key(request: dict[str, Any]) -> str:
        return request["PutRequest"]["Item"]["event_id"]["S"]

    def split(call: int, params: dict[str, Any]) -> tuple[dict[str, Any] | None, list[Any]]:
        requests = params["RequestItems"][table]
        kept = [request for request in requests if not unprocessed(call, key(request))]
        dropped = [request for request in requests if unprocessed(call, key(request))]
        return ({"RequestItems": {table: kept}} if kept else None), dropped

    def merge(parsed: dict[str, Any], dropped: list[Any]) -> None:
        parsed["UnprocessedItems"] = {table: dropped} if dropped else {}

    _partial_failure(dynamodb_client, "BatchWriteItem", split, merge, {"UnprocessedItems": {}})


API_KEY_ID = "key-id-1"
API_KEY_VALUE = "SECRET-API-KEY-VALUE-never-stored"
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"


def api_request(
    body: str | None,
    *,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """A `POST /events` proxy event built from the real API Gateway REST sample."""
    event = load_event("api-gateway-rest-proxy.json")
    all_headers = {"User-Agent": "sluice-tests/1.0", "x-api-key": API_KEY_VALUE, "X-Amzn-Trace-Id": TRACE_HEADER}
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    all_headers.update(headers or {})
    if base64_body and body is not None:
        body = base64.b64encode(body.encode()).decode()
    event.update(
        httpMethod="POST",
        path="/events",
        resource="/events",
        body=body,
        isBase64Encoded=base64_body,
        headers=all_headers,
        multiValueHeaders={name: [value] for name, value in all_headers.items()},
        queryStringParameters=None,
        multiValueQueryStringParameters=None,
    )
    event["requestContext"].update(
        httpMethod="POST", path="/prod/events", resourcePath="/events", requestId="7f6a1c1e-request-id"
    )
    event["requestContext"]["identity"].update(
        apiKey=API_KEY_VALUE, apiKeyId=API_KEY_ID, sourceIp="198.51.100.7", userAgent="sluice-tests/1.0"
    )
    return event


def drain(url: str) -> list[str]:
    """Receive and delete every message of a queue; return their bodies."""
    sqs = plain_client("sqs")
    bodies: list[str] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [message["Body"] for message in messages]
        entries = [{"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    return bodies


_DELETE = object()
_MUTANTS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=12)
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2)
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    found = [prefix] if prefix else []
    for key, child in children:
        found += _paths(child, (*prefix, key))
    return found


def _apply(event: dict[str, Any], mutations: list[tuple[tuple[Any, ...], Any]]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    for path, replacement in mutations:
        parent: Any = event
        for key in path[:-1]:
            try:
                parent = parent[key]
            except (KeyError, IndexError, TypeError):
                break
        else:
            if isinstance(parent, dict | list):
                try:
                    if replacement is _DELETE:
                        del parent[path[-1]]
                    else:
                        parent[path[-1]] = replacement
                except (KeyError, IndexError, TypeError):
                    pass
    return event


def mutated(event: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """`event` with up to four fields removed or replaced by values of the wrong type."""
    mutation = st.tuples(st.sampled_from(_paths(event)), st.just(_DELETE) | _MUTANTS)
    return st.lists(mutation, min_size=1, max_size=4).map(lambda mutations: _apply(event, mutations))


def envelope_body(event_id: str, raw: str = '{"n": 1}', received_at: str = "2026-11-25T19:20:03.123Z") -> str:
    """An SQS message body as ingest writes it."""
    return Envelope(
        event_id=event_id,
        raw=raw,
        received_at=received_at,
        source_ip="198.51.100.7",
        user_agent="sluice-tests/1.0",
        api_key_id=API_KEY_ID,
        request_id="7f6a1c1e-request-id",
    ).to_json()


def create_table(name: str, key: str) -> None:
    create_hash_table(plain_client("dynamodb"), name, key)


def forget_keys(table: str) -> None:
    """Empty an idempotency table (key attribute `id`, as Powertools names it)."""
    for item in scan(table):
        plain_client("dynamodb").delete_item(TableName=table, Key={"id": item["id"]})


def scan(table: str) -> list[dict[str, Any]]:
    return plain_client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]


# tests/data has no SNS or EventBridge samples: these follow the shapes AWS documents for Lambda's
# SNS trigger, CloudWatch alarm notifications and EventBridge scheduled events.
LOW_TIER_TOPIC = "arn:aws:sns:us-east-1:123456789012:sluice-low"


def sns_event(message: str, *, subject: str | None, message_id: str, timestamp: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{LOW_TIER_TOPIC}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": LOW_TIER_TOPIC,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": timestamp,
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
                    "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def alarm_event(name: str, state: str, reason: str, at: str, message_id: str) -> dict[str, Any]:
    """A CloudWatch alarm notification as SNS delivers it: JSON message, generated subject."""
    message = {
        "AlarmName": name,
        "AlarmDescription": "low tier",
        "AWSAccountId": "123456789012",
        "NewStateValue": state,
        "NewStateReason": reason,
        "StateChangeTime": at,
        "Region": "EU (Frankfurt)",
        "OldStateValue": "OK",
        "Trigger": {"MetricName": "Errors", "Namespace": "AWS/Lambda", "Statistic": "SUM"},
    }
    subject = f'{state}: "{name}" in EU (Frankfurt)'
    return sns_event(json.dumps(message), subject=subject, message_id=message_id, timestamp=at.replace("+0000", "Z"))


def scheduled_event(at: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": at,
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/sluice-notifier-hourly"],
        "detail": {},
    }
