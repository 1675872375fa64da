"""What DynamoDB would count (AWS/DynamoDB) and moto does not publish: consumed write units, throttled
requests, failed conditions and errors, seen on the clients' calls.

Which 400s are UserErrors: all but throttling and ConditionalCheckFailedException, which have metrics of their
own (AWS knowledge center, "resolve 4xx exceptions or UserErrors in Amazon DynamoDB")."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.client import BaseClient

from functions.common.item import write_units
from local.services.metrics import MetricSink

log = logging.getLogger(__name__)

THROTTLE_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})
CONDITION_FAILED = "ConditionalCheckFailedException"


def _requested_writes(operation: str, body: Mapping[str, Any]) -> dict[str, int]:
    """Write units per table that a request asks for (0 for reads, so the table still gets latency)."""
    if operation == "BatchWriteItem":
        return {table: _batch_units(requests) for table, requests in body.get("RequestItems", {}).items()}
    if "TableName" not in body:
        return {}
    if operation == "PutItem":
        return {body["TableName"]: write_units(body["Item"])}
    if operation in ("UpdateItem", "DeleteItem"):
        return {body["TableName"]: 1}
    return {body["TableName"]: 0}


def _batch_units(requests: Iterable[Mapping[str, Any]]) -> int:
    return sum(write_units(r["PutRequest"]["Item"]) if "PutRequest" in r else 1 for r in requests)


class DynamoDbObserver:
    """Records what DynamoDB would count, per HTTP attempt (so botocore's retries count, as on AWS).

    ConsumedWriteCapacityUnits (TableName): requested writes minus UnprocessedItems;
    SuccessfulRequestLatency, ThrottledRequests, SystemErrors (TableName, Operation);
    ConditionalCheckFailedRequests (TableName); UserErrors (no dimensions: AWS reports it per account and region).
    Connection failures reach no server and count nothing, as on AWS.
    """

    def __init__(self, sink: MetricSink) -> None:
        self._sink = sink

    def attach(self, client: BaseClient) -> None:
        hooks = {
            "before-call.dynamodb": self._before_call,
            "before-send.dynamodb": self._before_send,
            "response-received.dynamodb": self._response_received,
        }
        for event, hook in hooks.items():
            client.meta.events.register(event, hook, unique_id=f"sluice-dynamodb-observer-{id(self)}-{event}")

    @staticmethod
    def _before_call(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        try:
            writes = _requested_writes(model.name, json.loads(params.get("body") or b"{}"))
        except (ValueError, KeyError, TypeError, AttributeError):
            writes = {}  # an observer must never break the call it watches
        context["sluice_ddb_writes"] = writes

    @staticmethod
    def _before_send(request: Any, **_: Any) -> None:
        request.context["sluice_ddb_sent_at"] = time.monotonic()

    def _response_received(
        self,
        event_name: str,
        response_dict: dict[str, Any] | None,
        parsed_response: dict[str, Any] | None,
        context: dict[str, Any],
        exception: Exception | None,
        **_: Any,
    ) -> None:
        if exception is not None or response_dict is None or parsed_response is None:
            return
        try:
            self._observe(event_name.rsplit(".", 1)[-1], response_dict, parsed_response, context)
        except (KeyError, TypeError, ValueError):
            log.warning("DynamoDbObserver: unexpected %s response", event_name, exc_info=True)

    def _observe(
        self, operation: str, response_dict: dict[str, Any], parsed_response: dict[str, Any], context: dict[str, Any]
    ) -> None:
        writes: dict[str, int] = context.get("sluice_ddb_writes", {})
        status = response_dict["status_code"]
        if status < 300:
            elapsed_ms = (time.monotonic() - context.get("sluice_ddb_sent_at", time.monotonic())) * 1000
            unprocessed = parsed_response.get("UnprocessedItems") or {}
            for table, units in writes.items():
                dims = {"TableName": table, "Operation": operation}
                self._sink.record("AWS/DynamoDB", "SuccessfulRequestLatency", elapsed_ms, "Milliseconds", dims)
                consumed = units - _batch_units(unprocessed.get(table, []))
                if consumed > 0:
                    self._sink.record(
                        "AWS/DynamoDB", "ConsumedWriteCapacityUnits", consumed, "Count", {"TableName": table}
                    )
            return
        code = parsed_response.get("Error", {}).get("Code", "")
        if code in THROTTLE_CODES or status >= 500:
            name = "ThrottledRequests" if code in THROTTLE_CODES else "SystemErrors"
            for table in writes:
                self._sink.record("AWS/DynamoDB", name, 1, "Count", {"TableName": table, "Operation": operation})
        elif code == CONDITION_FAILED:
            # A failed condition is a 400 that AWS counts here and not in UserErrors (Powertools' idempotency
            # table answers every true retry with one)
            for table in writes:
                self._sink.record("AWS/DynamoDB", "ConditionalCheckFailedRequests", 1, "Count", {"TableName": table})
        else:
            self._sink.record("AWS/DynamoDB", "UserErrors", 1, "Count")


# --- EMF ---------------------------------------------------------------------------------------------
