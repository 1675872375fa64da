"""The local API gateway over real HTTP: the proxy event it builds and what it enforces first."""

from __future__ import annotations

import base64
import http.client
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from local.emulation.process import PortInUseError
from local.services.gateway.proxy import ApiGateway, GatewaySettings, ThrottleLimits
from local.services.gateway.server import LocalGateway
from local.services.lambdas import LocalFunction
from local.services.metrics import MetricSink
from tests.local.helpers import aws_event, named, stub_function

API_KEY = "local-key-value"
ACCEPTED = {"statusCode": 202, "headers": {"Content-Type": "application/json"}, "body": '{"accepted": 1}'}

GatewayFactory = Callable[..., tuple[LocalGateway, list[dict[str, Any]]]]


@pytest.fixture
def start_gateway() -> Iterator[GatewayFactory]:
    """Start a gateway on a free port around a stub ingest; returns it and the events it received."""
    started: list[LocalGateway] = []

    def start(
        result: Any = ACCEPTED,
        function: LocalFunction | None = None,
        sink: MetricSink | None = None,
        validator: Callable[[str | None], bool] | None = None,
        **settings: Any,
    ) -> tuple[LocalGateway, list[dict[str, Any]]]:
        events: list[dict[str, Any]] = []

        def handler(event: Any, context: Any) -> Any:
            events.append(event)
            return result

        ingest = function or stub_function(handler, name="ingest")
        api = ApiGateway(GatewaySettings(**settings), ingest, {API_KEY: "key-id-1"}, validator, sink)
        gateway = LocalGateway(api, port=0).start()
        started.append(gateway)
        return gateway, events

    yield start
    for gateway in started:
        gateway.stop()


def post(gateway: LocalGateway, path: str = "/v1/events", **kwargs: Any) -> requests.Response:
    headers = {"x-api-key": API_KEY, "Content-Type": "application/json", **kwargs.pop("headers", {})}
    return requests.post(gateway.url + path, headers=headers, timeout=10, **kwargs)


def test_event_has_the_shape_api_gateway_sends(start_gateway: GatewayFactory) -> None:
    # GIVEN a gateway and the real REST proxy event of tests/data
    gateway, events = start_gateway()
    real = aws_event("api-gateway-rest-proxy.json")
    # WHEN a client posts with a repeated header and a repeated query parameter
    connection = http.client.HTTPConnection(gateway.host, gateway.port, timeout=10)
    connection.putrequest("POST", "/v1/events?a=1&a=2&b=x")
    for name, value in [("x-api-key", API_KEY), ("X-Multi", "one"), ("X-Multi", "two"), ("Content-Length", "2")]:
        connection.putheader(name, value)
    connection.endheaders(b"{}")
    response = connection.getresponse()
    # THEN the function's proxy response reaches the client
    assert response.status == 202
    assert json.loads(response.read()) == {"accepted": 1}
    connection.close()
    (event,) = events
    # AND the event has the real event's keys, at every level that API Gateway fills for this API
    assert event.keys() == real.keys()
    assert event["requestContext"].keys() == real["requestContext"].keys() - {"authorizer"}
    assert event["requestContext"]["identity"].keys() >= real["requestContext"]["identity"].keys()
    # AND the values are built as API Gateway builds them
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/events", "/events", "POST")
    assert event["headers"]["X-Multi"] == "two"  # the last value wins
    assert event["multiValueHeaders"]["X-Multi"] == ["one", "two"]
    assert event["queryStringParameters"] == {"a": "2", "b": "x"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x"]}
    assert (event["pathParameters"], event["stageVariables"]) == (None, None)
    assert (event["body"], event["isBase64Encoded"]) == ("{}", False)
    context = event["requestContext"]
    assert (context["path"], context["resourcePath"], context["stage"]) == ("/v1/events", "/events", "v1")
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", context["requestTime"])
    assert isinstance(context["requestTimeEpoch"], int)
    assert context["identity"]["apiKey"] == API_KEY
    assert context["identity"]["apiKeyId"] == "key-id-1"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["domainName"] == "local.execute-api.us-east-1.amazonaws.com"


def test_no_query_string_means_null_parameters(start_gateway: GatewayFactory) -> None:
    # GIVEN a gateway WHEN a request has no query string, on the stage-less convenience path
    gateway, events = start_gateway()
    assert post(gateway, "/events", data="{}").status_code == 202
    # THEN both query maps are null, and the request context still names the stage
    (event,) = events
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["requestContext"]["path"] == "/v1/events"


@pytest.mark.parametrize("headers", [{"x-api-key": ""}, {"x-api-key": "not-a-key"}])
def test_missing_or_unknown_api_key_is_forbidden(start_gateway: GatewayFactory, headers: dict[str, str]) -> None:
    # GIVEN a gateway WHEN a request carries no valid key
    gateway, events = start_gateway()
    response = post(gateway, data="{}", headers=headers)
    # THEN API Gateway's 403 comes back and the function never runs
    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    assert events == []


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/nothing"), ("GET", "/v1/events"), ("POST", "/v2/events")])
def test_unknown_route_is_missing_authentication_token(start_gateway: GatewayFactory, method: str, path: str) -> None:
    # GIVEN a gateway WHEN an unknown resource or method is requested
    gateway, _ = start_gateway()
    response = requests.request(method, gateway.url + path, headers={"x-api-key": API_KEY}, timeout=10)
    # THEN the answer is API Gateway's
    assert (response.status_code, response.json()) == (403, {"message": "Missing Authentication Token"})


def test_health_is_a_mock_behind_the_api_key(start_gateway: GatewayFactory) -> None:
    # GIVEN a gateway WHEN /health is requested with the key, with and without the stage
    gateway, events = start_gateway()
    for path in ("/v1/health", "/health"):
        response = requests.get(gateway.url + path, headers={"x-api-key": API_KEY}, timeout=10)
        # THEN the mock integration answers and no function runs
        assert (response.status_code, response.json()) == (200, {"status": "ok"})
    # AND without a key it is refused, as the template's method requires one
    response = requests.get(gateway.url + "/v1/health", timeout=10)
    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    assert events == []


def test_body_over_api_gateways_10_mb_is_rejected_before_the_function(start_gateway: GatewayFactory) -> None:
    # GIVEN a gateway with API Gateway's hard payload limit
    gateway, events = start_gateway()
    # WHEN a body one byte over 10 MB arrives
    response = post(gateway, data=b"x" * (10 * 1024 * 1024 + 1))
    # THEN the client reads a 413, and the function never ran
    assert (response.status_code, response.json()) == (413, {"message": "Request Entity Too Large"})
    assert events == []


def test_usage_plan_throttles_per_key(start_gateway: GatewayFactory) -> None:
    # GIVEN a usage plan allowing a burst of 2 and (practically) no refill
    gateway, events = start_gateway(key_limits=ThrottleLimits(rate_per_second=1e-6, burst=2))
    # WHEN a key sends three requests
    statuses = [post(gateway, data="{}").status_code for _ in range(3)]
    # THEN the third is throttled by the gateway, before the function
    assert statuses == [202, 202, 429]
    assert post(gateway, data="{}").json() == {"message": "Too Many Requests"}
    assert len(events) == 2


def test_request_validator_rejects_before_the_function(start_gateway: GatewayFactory) -> None:
    # GIVEN a validator that accepts only JSON objects
    def is_object(body: str | None) -> bool:
        try:
            return isinstance(json.loads(body or ""), dict)
        except ValueError:
            return False

    gateway, events = start_gateway(validator=is_object)
    # WHEN a body fails it
    response = post(gateway, data="[1]")
    # THEN 400 Invalid request body, and the function never ran
    assert (response.status_code, response.json()) == (400, {"message": "Invalid request body"})
    assert events == []
    assert post(gateway, data="{}").status_code == 202


def test_handler_exception_is_a_502_without_details(start_gateway: GatewayFactory) -> None:
    # GIVEN an ingest function that raises
    def handler(event: Any, context: Any) -> None:
        raise RuntimeError("secret internals")

    gateway, _ = start_gateway(function=stub_function(handler, name="ingest"))
    # WHEN a request reaches it
    response = post(gateway, data="{}")
    # THEN the client sees API Gateway's opaque 502
    assert (response.status_code, response.json()) == (502, {"message": "Internal server error"})
    assert "secret" not in response.text


@pytest.mark.parametrize("result", [None, {"statusCode": "200"}, {"statusCode": 200, "body": {"not": "a string"}}])
def test_malformed_proxy_response_is_a_502(start_gateway: GatewayFactory, result: Any) -> None:
    # GIVEN a function returning something that is not a proxy response WHEN called THEN 502
    gateway, _ = start_gateway(result=result)
    assert post(gateway, data="{}").status_code == 502


def test_throttled_function_is_a_500_as_on_aws(start_gateway: GatewayFactory) -> None:
    # GIVEN an ingest function with reserved concurrency 0 (always throttled)
    gateway, _ = start_gateway(function=stub_function(lambda e, c: ACCEPTED, name="ingest", reserved_concurrency=0))
    # WHEN called THEN API Gateway maps Lambda's 429 to 500
    response = post(gateway, data="{}")
    assert (response.status_code, response.json()) == (500, {"message": "Internal server error"})


def test_proxy_response_headers_and_base64_body(start_gateway: GatewayFactory) -> None:
    # GIVEN a function answering with both header maps and a base64 body
    result = {
        "statusCode": 200,
        "headers": {"X-One": "a", "X-Both": "from-headers"},
        "multiValueHeaders": {"X-Both": ["m1", "m2"]},
        "body": base64.b64encode(b"\x00binary").decode(),
        "isBase64Encoded": True,
    }
    gateway, _ = start_gateway(result=result)
    # WHEN called
    response = post(gateway, data="{}")
    # THEN the body is decoded and multiValueHeaders win for a name in both maps
    assert response.content == b"\x00binary"
    assert response.headers["X-One"] == "a"
    assert response.headers["X-Both"] == "m1, m2"


def test_requests_are_measured(start_gateway: GatewayFactory) -> None:
    # GIVEN a gateway recording metrics
    sink = MetricSink()
    gateway, _ = start_gateway(sink=sink, api_name="sluice-local")
    # WHEN one request succeeds and one is refused
    post(gateway, data="{}")
    post(gateway, data="{}", headers={"x-api-key": "wrong"})
    # THEN the API Gateway metrics count both, by ApiName and Stage
    points = sink.drain()
    assert named(points, "Count") == [1, 1]
    assert named(points, "4XXError") == [0, 1]
    assert named(points, "5XXError") == [0, 0]
    assert len(named(points, "Latency")) == 2
    assert len(named(points, "IntegrationLatency")) == 1  # the refused request never reached the function
    assert {p.dimensions for p in points} == {(("ApiName", "sluice-local"), ("Stage", "v1"))}


def test_taken_port_is_a_clear_error(start_gateway: GatewayFactory) -> None:
    # GIVEN a running gateway WHEN another one is started on its port THEN one clear error
    gateway, _ = start_gateway()
    api = ApiGateway(GatewaySettings(), stub_function(lambda e, c: None), {})
    with pytest.raises(PortInUseError, match=f"port {gateway.port} on 127.0.0.1 is already in use"):
        LocalGateway(api, port=gateway.port)
