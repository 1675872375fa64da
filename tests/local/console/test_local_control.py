"""The control API refuses what a web page in the developer's browser could send: foreign Host or Origin,
and POSTs that are not application/json. Local tools (invoke, the load tests) get through unchanged."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from local.console.control import ControlServer
from local.console.control_client import ControlClient, ControlError, NotOffered, Unreachable
from local.emulation.process import free_port


@dataclass
class FakeChaos:
    injected: list[tuple[str, float]] = field(default_factory=list)

    def inject(self, fault: str, seconds: float) -> None:
        self.injected.append((fault, seconds))

    def lift(self, fault: str) -> None:
        self.injected.append((fault, 0))

    def active(self) -> dict[str, float]:
        return dict(self.injected)


@dataclass
class FakeRuntime:
    chaos: FakeChaos = field(default_factory=FakeChaos)
    transitions: list[Any] = field(default_factory=list)
    stop_requested: bool = False

    def status(self) -> dict[str, Any]:
        return {"ok": True}

    def say(self, message: str) -> None:
        pass

    def request_stop(self) -> None:
        self.stop_requested = True


@pytest.fixture
def control() -> Iterator[tuple[ControlServer, FakeRuntime]]:
    runtime = FakeRuntime()
    server = ControlServer(runtime, port=free_port()).start()  # type: ignore[arg-type]
    yield server, runtime
    server.stop()


def raw(server: ControlServer, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest(method, path, skip_host="Host" in headers)
    for name, value in {**headers, "Content-Length": str(len(body))}.items():
        connection.putheader(name, value)
    connection.endheaders(body)
    response = connection.getresponse()
    answer = response.status, json.loads(response.read())
    connection.close()
    return answer


CHAOS = json.dumps({"fault": "db-down", "seconds": 5}).encode()


def test_local_tools_still_inject_faults_and_read_status(control: tuple[ControlServer, FakeRuntime]) -> None:
    # GIVEN the control API, called as invoke and the load tests call it (requests, json=)
    server, runtime = control
    # WHEN they inject a fault and read the status
    injected = requests.post(server.url + "/chaos", json={"fault": "db-down", "seconds": 5}, timeout=10)
    status = requests.get(server.url + "/status", timeout=10)
    # THEN both work
    assert injected.status_code == 200 and runtime.chaos.injected == [("db-down", 5.0)]
    assert status.json() == {"ok": True}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_post_that_is_not_json_is_refused(control: tuple[ControlServer, FakeRuntime], content_type: str) -> None:
    # GIVEN a POST with a content type any web page may send cross-site without a preflight
    server, runtime = control
    # WHEN it asks for a fault, or for shutdown
    chaos = raw(server, "POST", "/chaos", CHAOS, {"Content-Type": content_type})
    shutdown = raw(server, "POST", "/shutdown", b"{}", {"Content-Type": content_type})
    # THEN both are 415, and nothing happens
    assert (chaos[0], shutdown[0]) == (415, 415)
    assert runtime.chaos.injected == [] and not runtime.stop_requested


def test_a_foreign_origin_is_refused(control: tuple[ControlServer, FakeRuntime]) -> None:
    # GIVEN a JSON POST carrying a web page's Origin
    server, runtime = control
    headers = {"Content-Type": "application/json", "Origin": "https://evil.example"}
    # WHEN it asks for shutdown
    status, body = raw(server, "POST", "/shutdown", b"{}", headers)
    # THEN 403, and the stack keeps running
    assert (status, body["error"]) == (403, "forbidden")
    assert not runtime.stop_requested


def test_a_foreign_host_is_refused_even_for_reads(control: tuple[ControlServer, FakeRuntime]) -> None:
    # GIVEN requests naming another host (a DNS-rebinding page resolves its own name to 127.0.0.1)
    server, runtime = control
    # WHEN it reads the status or injects a fault
    read = raw(server, "GET", "/status", b"", {"Host": "rebind.example:80"})
    write = raw(server, "POST", "/chaos", CHAOS, {"Host": "rebind.example", "Content-Type": "application/json"})
    # THEN both are 403
    assert (read[0], write[0]) == (403, 403)
    assert runtime.chaos.injected == []


def test_a_cross_site_get_without_an_origin_is_refused(control: tuple[ControlServer, FakeRuntime]) -> None:
    # GIVEN a GET another site's page makes (an <img>, a followed link): no Origin, but Sec-Fetch-Site says so
    server, _ = control
    # WHEN it reads the status, which holds the API keys
    status, body = raw(server, "GET", "/status", b"", {"Sec-Fetch-Site": "cross-site"})
    # THEN 403: the control API and the emulator's guard apply the same rule (local/emulation/local_only.py)
    assert (status, body["error"]) == (403, "forbidden")


def test_a_same_origin_request_is_accepted(control: tuple[ControlServer, FakeRuntime]) -> None:
    server, runtime = control
    status, _ = raw(server, "POST", "/chaos", CHAOS, {"Content-Type": "application/json", "Origin": server.url})
    assert status == 200 and runtime.chaos.injected == [("db-down", 5.0)]


def test_a_deeply_nested_body_is_a_400(control: tuple[ControlServer, FakeRuntime]) -> None:
    server, runtime = control
    status, body = raw(server, "POST", "/chaos", b"[" * 2000 + b"]" * 2000, {"Content-Type": "application/json"})
    assert (status, body["error"]) == (400, "bad_request")
    assert runtime.chaos.injected == []


def test_the_control_client_drives_faults_and_reads_the_status(control):
    # GIVEN a running control API and its one client
    server, runtime = control
    client = ControlClient(server.url)
    # WHEN a fault is injected and lifted, and the status read
    client.inject("db-throttle", 5)
    client.lift("db-throttle")
    # THEN the runtime saw both, and the status is the runtime's
    assert runtime.chaos.injected == [("db-throttle", 5.0), ("db-throttle", 0)]
    assert client.status() == {"ok": True}


def test_the_control_client_says_in_one_line_what_went_wrong(control):
    # GIVEN a running control API and a port where nothing listens
    server, _ = control
    client = ControlClient(server.url)
    # WHEN a refused call, an unknown endpoint and a dead stack are asked
    # THEN each is its own error, with the server's message where it gave one
    with pytest.raises(ControlError, match="POST /chaos: seconds must be a number"):
        client.call("POST", "/chaos", {"fault": "db-throttle", "seconds": "soon"})
    with pytest.raises(NotOffered, match="no GET /nothing-here"):
        client.call("GET", "/nothing-here")
    with pytest.raises(Unreachable, match="does not answer"):
        ControlClient(f"http://127.0.0.1:{free_port()}").status()
