"""The console's routes on an HTTP server, with the stack's reads faked: the page and its files, and the
answers to requests the page never makes (a path outside static/, an unknown dashboard, a remote link)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from local.console.json_reply import reply_json
from local.console.routes import serve_get, serve_post


class FakeViews:
    locust: dict[str, Any] | None = None

    def dashboard_names(self) -> list[str]:
        return ["summary"]

    def dashboard(self, name: str, minutes: float | None = None) -> dict[str, Any]:
        if name != "summary":
            raise KeyError(name)
        return {"name": name, "minutes": minutes}


@pytest.fixture
def console() -> Iterator[str]:
    views = FakeViews()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if not serve_get(self, views, url.path, url.query):
                reply_json(self, 404, {"error": "not_found"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if not serve_post(self, views, urlsplit(self.path).path, body):
                reply_json(self, 404, {"error": "not_found"})

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_the_page_and_its_own_files_are_served(console):
    page = requests.get(console + "/", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    # THEN everything the page loads comes from the stack itself: no CDN
    assert "http" not in page.text.replace('href="data:,"', "")
    assert requests.get(console + "/console/static/console.js", timeout=10).headers["Content-Type"] == "text/javascript"
    assert requests.get(console + "/console/static/console.css", timeout=10).status_code == 200
    runbook = requests.get(console + "/runbook", timeout=10).text
    assert 'id="dlq-visible"' in runbook and "file://" not in runbook


def test_only_the_files_of_static_are_served(console):
    for path in ("/console/static/../routes.py", "/console/static/%2e%2e/routes.py", "/console/static/nope.js"):
        assert requests.get(console + path, timeout=10).status_code == 404, path


def test_a_dashboard_by_name_with_a_chosen_window(console):
    assert requests.get(console + "/console/api/dashboards", timeout=10).json() == ["summary"]
    answer = requests.get(console + "/console/api/dashboard?name=summary&minutes=15", timeout=10).json()
    assert answer == {"name": "summary", "minutes": 15.0}
    assert requests.get(console + "/console/api/dashboard?name=summary", timeout=10).json()["minutes"] is None
    assert requests.get(console + "/console/api/dashboard?name=other", timeout=10).status_code == 404
    assert requests.get(console + "/console/api/dashboard?name=summary&minutes=x", timeout=10).status_code == 400


def test_only_a_local_locust_ui_is_linked(console):
    ok = requests.post(
        console + "/console/api/locust", json={"url": "http://127.0.0.1:8089/", "seconds": 60}, timeout=10
    )
    assert ok.status_code == 200 and ok.json()["url"] == "http://127.0.0.1:8089/"
    refused = (
        {"url": "https://evil.example/", "seconds": 60},
        {"url": "http://127.0.0.1:8089/"},
        {"url": "http://127.0.0.1:@evil.example/", "seconds": 60},  # starts like a local address; is not one
        {"url": "http://127.0.0.1:8089@evil.example/", "seconds": 60},
        {"url": "http://127.0.0.1:x/", "seconds": 60},
    )
    for body in refused:
        assert requests.post(console + "/console/api/locust", json=body, timeout=10).status_code == 400, body


def test_the_console_pages_run_only_their_own_script(console):
    # GIVEN the page and the runbook, which show text the stack stores (dashboard bodies, alarm reasons)
    for path in ("/", "/runbook"):
        # WHEN they are served
        policy = requests.get(console + path, timeout=10).headers["Content-Security-Policy"]
        # THEN a policy lets them run their own script file only: no inline script, no javascript: link
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        assert "object-src 'none'" in policy


def test_the_runbook_reads_in_paragraphs_and_every_link_on_it_resolves(console):
    # GIVEN the runbook as the console serves it
    runbook = requests.get(console + "/runbook", timeout=10).text
    # THEN a paragraph of the source, written over several lines, is one paragraph
    (tiers,) = re.findall(r"<p><strong>Tiers\.</strong>.*?</p>", runbook)
    assert "business hours" in tiers and "composite" in tiers
    # AND every link leads somewhere: an anchor of a page the console serves, or a web address
    pages = {"/runbook": runbook}
    links = re.findall(r'<a href="([^"]+)">', runbook)
    assert any(link.startswith("/docs/") for link in links)
    for target in links:
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        if path not in pages:
            answer = requests.get(console + path, timeout=10)
            assert answer.status_code == 200, target
            pages[path] = answer.text
        assert not anchor or f'id="{anchor}"' in pages[path], target
    # AND only the pages of docs/ are served there, never a path
    for path in ("/docs/../README.md", "/docs/%2e%2e/README.md", "/docs/nope.md"):
        assert requests.get(console + path, timeout=10).status_code == 404, path
