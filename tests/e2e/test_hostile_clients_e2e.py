"""Careless and hostile clients against the local stack over real HTTP (issue 13's findings, end to end):
a reused Idempotency-Key destroys nothing, deep nesting pages nobody, oversized headers never reach an item,
bytes that are not UTF-8 are refused by ingest's own 400, a 4,301-digit integer is stored as sent, and a request
head that two HTTP parsers could frame differently is refused whole (issue 32). And a web page in the developer's
browser reaches nothing through the emulator's port, a planted dashboard link is text in the console, and a
planted S3 key never makes `invoke events.query` write outside its scratch folder (issue 32). Each test judges
only its own requests: the stack is shared, and the canary and other tests call ingest meanwhile."""

from __future__ import annotations

import json
import socket
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from cloudformation import output_keys
from functions.common.item import decode
from ops import local_output_keys
from ops.query import query_local
from ops.reconcile import reconcile_ids_s3
from tests.e2e.clients import drained
from tests.e2e.stack_helpers import assert_never_stored
from tests.raw_http import exact_request

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack-c")]


def stored_item(local_stack, event_id: str) -> dict:
    """The stored event's fields as the operators' tools read them (the item codec decoded)."""
    table = local_stack.client("dynamodb")
    item = table.get_item(TableName=local_stack.outputs[output_keys.TABLE_NAME], Key={"event_id": {"S": event_id}})[
        "Item"
    ]
    return decode(item)


def test_a_reused_idempotency_key_is_a_422_and_the_stored_events_are_untouched(local_stack):
    # GIVEN two events accepted and stored under one Idempotency-Key
    headers = {"Idempotency-Key": "e2e-reuse-1"}
    first = local_stack.post_events([{"order": 1}, {"order": 2}], headers=headers)
    assert first.status_code == 202
    ids = first.json()["ids"]
    local_stack.wait_until(lambda status: drained(status) and local_stack.stored_ids(ids) == set(ids), 60, "storage")
    before = {event_id: stored_item(local_stack, event_id) for event_id in ids}
    # WHEN the key comes back with other events, fewer, and more; then as a true retry
    reused = [
        local_stack.post_events(body, headers=headers)
        for body in ([{"order": 9}, {"order": 8}], {"order": 1}, [{"order": 1}, {"order": 2}, {"order": 3}])
    ]
    retry = local_stack.post_events([{"order": 1}, {"order": 2}], headers=headers)
    local_stack.wait_until(drained, 60, "the ingest queue to drain")
    # THEN each reuse is a 422 with a JSON error, the retry gets the first answer, and the items are unchanged
    assert [(r.status_code, r.json()["error"]) for r in reused] == [(422, "idempotency_key_reused")] * 3
    assert (retry.status_code, retry.json()) == (202, first.json())
    assert {event_id: stored_item(local_stack, event_id) for event_id in ids} == before


def test_deep_nesting_is_a_400_never_a_5xx(local_stack):
    # GIVEN bodies nested 600 levels (past ingest's limit) and 1,000 levels (past the parser's recursion)
    for depth in (600, 1000):
        body = '{"e":' + "[" * depth + "]" * depth + "}"
        # WHEN posted
        response = local_stack.post_events(body)
        # THEN a documented 400
        assert response.status_code == 400, (depth, response.text)


def test_a_4301_digit_integer_is_stored_as_sent(local_stack):
    body = '{"n": ' + "9" * 4301 + "}"
    response = local_stack.post_events(body)
    assert response.status_code == 202
    [event_id] = response.json()["ids"]
    local_stack.wait_until(lambda status: local_stack.stored_ids([event_id]) == {event_id}, 60, "storage")
    assert stored_item(local_stack, event_id)["raw"] == body


def test_an_event_holding_unicode_line_breaks_is_stored_as_sent_and_reconciled(local_stack):
    # GIVEN an event whose text holds NEL, U+2028 and U+2029 unescaped (JSON allows them raw inside strings;
    # str.splitlines() takes each for a line end)
    body = json.dumps({"text": "a\x85b\u2028c\u2029d"}, ensure_ascii=False)
    response = local_stack.post_events(body.encode("utf-8"))
    assert response.status_code == 202, response.text
    [event_id] = response.json()["ids"]
    # WHEN it is stored
    local_stack.wait_stored([event_id], 60)
    # THEN the table holds its text as sent, and reconciling against the whole S3 analytics store (which read it
    # as several broken lines and stopped) finds it there once
    assert stored_item(local_stack, event_id)["raw"] == body
    s3, bucket = local_stack.client("s3"), local_stack.outputs[output_keys.ANALYTICS_BUCKET]
    deadline = time.monotonic() + 60
    while (copy := reconcile_ids_s3(s3, bucket, [event_id])).missing and time.monotonic() < deadline:
        time.sleep(1)  # the consumer writes the S3 copy beside the table's: poll until it is there
    assert (copy.found, copy.duplicated) == (1, {})


def test_a_body_that_is_not_utf8_gets_ingests_own_400(local_stack):
    response = local_stack.post_events(b'{"name": "caf\xe9"}')
    assert (response.status_code, response.json()["error"]) == (400, "malformed_json")
    assert "not UTF-8" in response.json()["message"]


def test_a_60_kb_header_is_a_431_and_never_stored(local_stack):
    # GIVEN an event marked as this test's own, sent with a 60 KB header
    marker = f"oversized-header-{uuid.uuid4()}"
    # WHEN it is posted
    response = local_stack.post_events({"marker": marker}, headers={"User-Agent": "u" * 60_000})
    # THEN a 431, and the event is never stored
    assert response.status_code == 431
    assert_never_stored(local_stack, marker)


def raw_exchange(local_stack, request: bytes) -> bytes:
    """Send raw bytes to the local gateway on one connection, close our side, and read until it closes."""
    host, port = local_stack.api_url.removeprefix("http://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def event_request(local_stack, body: str, line: str = "") -> str:
    """A POST of `body` to the events resource, with `line` (if any) just before its Content-Type and
    Content-Length: where a line that ends the headers early hides them."""
    host = local_stack.api_url.removeprefix("http://").split("/")[0]
    stage = local_stack.api_url.rstrip("/").rsplit("/", 1)[1]
    return (
        f"POST /{stage}/events HTTP/1.1\r\nHost: {host}\r\nx-api-key: {local_stack.outputs['ApiKey']}\r\n{line}"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    )


def test_a_smuggled_request_is_never_stored(local_stack):
    # GIVEN a request whose second Content-Length hides another request, marked as this test's, in its body
    marker = f"smuggled-content-length-{uuid.uuid4()}"
    inner = event_request(local_stack, json.dumps({"marker": marker}))
    outer = event_request(local_stack, "{}").replace(
        "Content-Length: 2", f"Content-Length: 2\r\nContent-Length: {2 + len(inner)}"
    )
    # WHEN it is sent
    received = raw_exchange(local_stack, (outer + inner).encode())
    # THEN one 400 answers it, the connection is closed before the hidden request is read, and it is never stored
    assert received.startswith(b"HTTP/1.1 400") and received.count(b"HTTP/1.1 ") == 1
    assert_never_stored(local_stack, marker)


# Header lines a lenient parser (Python's own) and a strict one frame differently (RFC 9112 sections 2.2, 5.1,
# 5.2): a bare CR, a line ended by a bare LF, a line without a colon, and obsolete line folding.
MALFORMED_LINES = {
    "bare-cr": "X-Note: a\rX-Other: b\r\n",
    "bare-lf": "X-Note: a\n",
    "no-colon": "X-Note just text\r\n",
    "obs-fold": "X-Note: a\r\n folded\r\n",
}


def test_a_request_with_a_malformed_header_line_is_refused_whole_with_what_follows_it(local_stack):
    # GIVEN for each kind of malformed header line, a bodiless request carrying one, and behind it on the same
    # connection a well-formed event marked as this test's (a lenient server answered the first 400, for its
    # empty body, kept the connection and stored the second: the "400, then a stored 202")
    run = uuid.uuid4()
    answers = {}
    for kind, line in MALFORMED_LINES.items():
        behind = event_request(local_stack, json.dumps({"marker": f"malformed-head-{kind}-{run}"}))
        # WHEN it is sent
        answers[kind] = raw_exchange(local_stack, (event_request(local_stack, "", line) + behind).encode())
    # THEN each connection gets one answer, a 400, and is closed: the event behind it is never stored
    assert {kind: (answer[:12], answer.count(b"HTTP/1.1 ")) for kind, answer in answers.items()} == {
        kind: (b"HTTP/1.1 400", 1) for kind in MALFORMED_LINES
    }
    assert_never_stored(local_stack, f"-{run}")


def emulator_request(
    local_stack, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, str]:
    """One request to the emulator's port with exactly these headers (Host too, when given)."""
    endpoint = urlsplit(local_stack.outputs[local_output_keys.AWS_ENDPOINT])
    assert endpoint.hostname is not None and endpoint.port is not None
    return exact_request(endpoint.hostname, endpoint.port, method, path, headers, body)


def signed_as(service: str) -> dict[str, str]:
    """The Authorization header botocore sends (moto reads the service from it and checks no signature)."""
    scope = f"testing/20260101/us-east-1/{service}/aws4_request"
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"}


# what a page can make the browser send: its own name as Host after rebinding DNS, its Origin on a fetch or a
# form POST (`null` from a sandboxed frame), or no Origin at all on a cross-site GET (Sec-Fetch-Site says so)
PAGE_HEADERS = {
    "dns-rebinding": {"Host": "rebind.example:{port}"},
    "cross-origin": {"Origin": "https://evil.example"},
    "origin-null": {"Origin": "null"},
    "cross-site-get": {"Sec-Fetch-Site": "cross-site"},
}


def test_a_web_page_reaches_nothing_through_the_emulators_port(local_stack):
    # GIVEN the stack's API keys (the clients' and the canary's), as a local tool reads them
    keys = local_stack.client("apigateway").get_api_keys(includeValues=True)["items"]
    values = [key["value"] for key in keys]
    assert local_stack.outputs[local_output_keys.API_KEY] in values
    port = str(urlsplit(local_stack.outputs[local_output_keys.AWS_ENDPOINT]).port)
    scan = json.dumps({"TableName": local_stack.outputs[output_keys.TABLE_NAME]}).encode()
    answers = {}
    for kind, page in PAGE_HEADERS.items():
        headers = {name: value.format(port=port) for name, value in page.items()}
        # WHEN a page asks the emulator for the keys with their values, and for a scan of the events table
        answers[kind, "keys"] = emulator_request(
            local_stack, "GET", "/apikeys?includeValues=true", {**headers, **signed_as("apigateway")}
        )
        answers[kind, "scan"] = emulator_request(
            local_stack,
            "POST",
            "/",
            {
                **headers,
                **signed_as("dynamodb"),
                "Content-Type": "text/plain",
                "X-Amz-Target": "DynamoDB_20120810.Scan",
            },
            scan,
        )
    # THEN every request is a 403 with a JSON reason, and no key is in any answer
    assert {request: (status, json.loads(body)["error"]) for request, (status, body) in answers.items()} == {
        request: (403, "forbidden") for request in answers
    }
    assert not [request for request, (_, body) in answers.items() if any(value in body for value in values)]


def test_a_planted_dashboard_link_is_text_in_the_console(local_stack):
    # GIVEN the summary dashboard in the local CloudWatch with a text widget planted in it, whose link would
    # read /status (the API keys) and inject a fault
    console = local_stack.outputs[local_output_keys.CONSOLE_URL].rstrip("/")
    name = requests.get(f"{console}/console/api/dashboards", timeout=30).json()[0]
    cloudwatch = local_stack.client("cloudwatch")
    original = cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"]
    marker = f"planted-{uuid.uuid4()}"
    script = "javascript:fetch('/status').then(r=>r.json()).then(s=>fetch('/chaos',{method:'POST'}))"
    planted = {
        "type": "text",
        "x": 0,
        "y": 0,
        "width": 24,
        "height": 2,
        "properties": {"markdown": f"[{marker}]({script})"},
    }
    body = json.loads(original)
    cloudwatch.put_dashboard(
        DashboardName=name, DashboardBody=json.dumps({**body, "widgets": [*body["widgets"], planted]})
    )
    try:
        # WHEN the console page reads that dashboard
        page = requests.get(f"{console}/", timeout=30)
        shown = requests.get(f"{console}/console/api/dashboard", params={"name": name}, timeout=60).json()
    finally:
        cloudwatch.put_dashboard(DashboardName=name, DashboardBody=original)
    # THEN the planted link is its text only, and the page would run no inline or javascript: script anyway
    [html] = [widget["html"] for widget in shown["widgets"] if marker in widget.get("html", "")]
    assert "<a" not in html and "javascript:" not in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_a_planted_s3_key_never_makes_events_query_write_outside_its_scratch_folder(local_stack, tmp_path):
    # GIVEN an object in the S3 analytics store whose key climbs out of the folder a query copies into
    s3, bucket = local_stack.client("s3"), local_stack.outputs[output_keys.ANALYTICS_BUCKET]
    planted = f"events/../../planted-{uuid.uuid4()}.jsonl.gz"
    s3.put_object(Bucket=bucket, Key=planted, Body=b"planted")
    scratch = tmp_path / "work" / "scratch"
    try:
        # WHEN `invoke events.query` runs (its local path, in a scratch folder of the test's choosing)
        result = query_local(s3, bucket, "SELECT count(*) AS n FROM events", workdir=scratch)
    finally:
        s3.delete_object(Bucket=bucket, Key=planted)
    # THEN nothing was written outside the scratch folder, the query answered, and it names the key it skipped
    assert [path for path in tmp_path.rglob("*") if path.is_file() and not path.is_relative_to(scratch)] == []
    assert result.columns == ["n"] and f"e.g. {planted!r}" in result.notes[-1]
