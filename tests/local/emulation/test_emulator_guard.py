"""The guard in front of the local stack's moto server (issue 32): a web page in the developer's browser
reaches nothing through the emulator's port — not by DNS rebinding, a cross-origin fetch or form, `Origin:
null`, a CORS preflight, nor a cross-site GET — while local tools (botocore, the AWS CLI) pass unchanged."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from local.emulation.guard import LocalOnly
from local.emulation.process import MotoServer, aws_client
from ops.local_credentials import LOCAL_CREDENTIALS_ENVIRONMENT
from tests.raw_http import exact_request

KEY_VALUE = "guarded-key-value-0123456789"
# what botocore signs with; moto reads the service from it (the signature itself is never checked)
AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/apigateway/aws4_request, SignedHeaders=host, Signature=0"
)


def request(moto: MotoServer, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, str]:
    """One raw request to the server, with exactly these headers (Host too, when given)."""
    return exact_request(moto.host, moto.port, method, path, headers, body, timeout=10)


@pytest.fixture(scope="module")
def keyed(moto: MotoServer) -> MotoServer:
    """The session's moto server holding an API key, as the local stack's holds the client's and the canary's."""
    moto.client("apigateway").create_api_key(name="guarded", enabled=True, value=KEY_VALUE)
    return moto


@pytest.mark.parametrize(
    "page",
    [
        pytest.param({"Host": "rebind.example:{port}"}, id="dns-rebinding"),
        pytest.param({"Origin": "https://evil.example"}, id="cross-origin-fetch"),
        pytest.param({"Origin": "null"}, id="origin-null"),
        pytest.param({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, id="cross-site-get"),
    ],
)
def test_a_web_page_cannot_read_the_api_keys(keyed: MotoServer, page: dict[str, str]) -> None:
    # GIVEN a request for the API keys with their values, as a page in the browser would send it
    headers = {"Authorization": AUTHORIZATION, **{k: v.format(port=keyed.port) for k, v in page.items()}}
    # WHEN it reaches the emulator's port
    status, body = request(keyed, "GET", "/apikeys?includeValues=true", headers)
    # THEN a 403 with a JSON reason, and no key in it
    assert status == 403 and json.loads(body)["error"] == "forbidden"
    assert KEY_VALUE not in body


def test_a_cross_origin_text_plain_post_plants_no_dashboard(keyed: MotoServer) -> None:
    # GIVEN a simple cross-origin POST (no preflight: text/plain) carrying a CloudWatch PutDashboard
    form = "Action=PutDashboard&Version=2010-08-01&DashboardName=planted&DashboardBody=%7B%22widgets%22%3A%5B%5D%7D"
    headers = {
        "Origin": "https://evil.example",
        "Content-Type": "text/plain",
        "Authorization": AUTHORIZATION.replace("apigateway", "monitoring"),
    }
    # WHEN it is sent
    status, _ = request(keyed, "POST", "/", headers, form.encode())
    # THEN it is refused and the dashboard does not exist
    assert status == 403
    dashboards = keyed.client("cloudwatch").list_dashboards()["DashboardEntries"]
    assert "planted" not in [dashboard["DashboardName"] for dashboard in dashboards]


def test_a_cors_preflight_is_refused_and_grants_nothing(keyed: MotoServer) -> None:
    # GIVEN the preflight a page sends before a JSON or signed request
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    connection = http.client.HTTPConnection(keyed.host, keyed.port, timeout=10)
    connection.request("OPTIONS", "/", headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    # THEN it is a 403 without any Access-Control-Allow-* header (moto alone answers `*`)
    assert response.status == 403
    assert not [name for name in response.headers if name.lower().startswith("access-control-allow")]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_botocore_reaches_the_emulator_by_either_local_name(keyed: MotoServer, host: str) -> None:
    # GIVEN a botocore client for http://127.0.0.1:PORT or http://localhost:PORT (the AWS CLI's own library)
    client = aws_client("apigateway", f"http://{host}:{keyed.port}")
    # WHEN it reads the keys THEN it gets them
    values = [item["value"] for item in client.get_api_keys(includeValues=True)["items"]]
    assert KEY_VALUE in values


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed here")
def test_the_aws_cli_reaches_the_emulator(keyed: MotoServer) -> None:
    # GIVEN the AWS CLI pointed at the emulator as the README's `export` line does
    environment = {
        **os.environ,
        **LOCAL_CREDENTIALS_ENVIRONMENT,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    command = ["aws", "--endpoint-url", keyed.endpoint_url, "apigateway", "get-api-keys", "--include-values"]
    # WHEN it reads the keys
    answer = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120, check=False)
    # THEN it gets them
    assert answer.returncode == 0, answer.stderr
    assert KEY_VALUE in answer.stdout


def test_the_guard_passes_a_local_request_through_untouched() -> None:
    # GIVEN the guard around an app that echoes what it got
    seen: list[dict[str, Any]] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(environ)
        return Response("moto", status=200)(environ, start_response)

    client = Client(LocalOnly(app, 4566))
    # WHEN a local tool posts, and a page posts
    local = client.post("/", data=b"Action=X", headers={"Host": "127.0.0.1:4566"})
    page = client.post("/", data=b"Action=X", headers={"Host": "127.0.0.1:4566", "Origin": "https://evil.example"})
    # THEN the first reaches the app with its body, the second never does
    assert (local.status_code, local.get_data()) == (200, b"moto")
    assert page.status_code == 403 and len(seen) == 1
    assert seen[0]["wsgi.input"].read() == b"Action=X"
