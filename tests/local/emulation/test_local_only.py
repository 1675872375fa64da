"""The rule both local servers (the control API and the emulator's guard) apply: a request passes only when
its Host names the server and neither Origin nor Sec-Fetch-Site says another page made it."""

from __future__ import annotations

import pytest

from local.emulation.local_only import refusal

PORT = 4566


@pytest.mark.parametrize(
    ("host", "origin", "fetch_site"),
    [
        ("127.0.0.1:4566", None, None),  # botocore, the AWS CLI, requests, Locust
        ("localhost:4566", None, None),  # the same tools given http://localhost:4566
        ("LOCALHOST:4566", None, None),  # a host name's case means nothing
        ("127.0.0.1:4566", "http://127.0.0.1:4566", "same-origin"),  # a page this server serves, fetching
        ("127.0.0.1:4566", None, "none"),  # the address typed into the browser
    ],
)
def test_local_tools_and_the_servers_own_pages_pass(host: str, origin: str | None, fetch_site: str | None) -> None:
    assert refusal(PORT, host, origin, fetch_site) is None


@pytest.mark.parametrize(
    ("host", "origin", "fetch_site", "reason"),
    [
        ("rebind.example:4566", None, None, "Host must be"),  # DNS rebinding: the page's own name
        ("127.0.0.1:4567", None, None, "Host must be"),  # another port's name
        ("127.0.0.1", None, None, "Host must be"),
        (None, None, None, "Host must be"),  # HTTP/1.0 without a Host
        ("127.0.0.1:4566", "https://evil.example", None, "cross-origin"),  # fetch or form POST from a page
        ("127.0.0.1:4566", "null", None, "cross-origin"),  # a sandboxed frame, a data: or file: page
        ("127.0.0.1:4566", "http://127.0.0.1:3001", None, "cross-origin"),  # another local server's page
        ("127.0.0.1:4566", None, "cross-site", "another site"),  # an <img> or a followed link: no Origin
        ("127.0.0.1:4566", None, "same-site", "another site"),  # a page of another port on 127.0.0.1
    ],
)
def test_a_request_another_page_made_is_refused_with_its_reason(
    host: str | None, origin: str | None, fetch_site: str | None, reason: str
) -> None:
    answer = refusal(PORT, host, origin, fetch_site)
    assert answer is not None and reason in answer and "\n" not in answer
