"""Who may talk to a server of the local stack (the control API and the emulator): local tools and the pages
the server itself serves — never another web page the developer happens to have open.

One rule for both, from the request's Host, Origin and Sec-Fetch-Site headers:
- Host must name this server (`127.0.0.1:PORT` or `localhost:PORT`): a DNS-rebinding page resolves its own
  name to 127.0.0.1, and the browser sends that name.
- Origin, when present, must be this server's own: a cross-origin fetch or form POST carries the page's
  origin, a sandboxed frame or a `data:` page `Origin: null`.
- Sec-Fetch-Site, when present, must be `same-origin` or `none` (typed in, a bookmark): a browser sends no
  Origin on a cross-site GET (an image, a script, a link followed), but every current browser sends this.
Local tools (botocore and the AWS CLI, requests, Locust) send a matching Host and neither of the others.
"""

from __future__ import annotations

# what a browser sends for a request the user made themselves or a page of this very origin made
OWN_FETCH_SITES = frozenset({"same-origin", "none"})


def own_hosts(port: int) -> frozenset[str]:
    """The Host values that name a server of the local stack listening on `port`."""
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})


def refusal(port: int, host: str | None, origin: str | None, fetch_site: str | None) -> str | None:
    """Why a request to the local server on `port` does not come from a local tool or its own page; None
    when it does. The arguments are the request's Host, Origin and Sec-Fetch-Site headers (None: absent)."""
    hosts = own_hosts(port)
    if host is None or host.lower() not in hosts:
        return f"Host must be 127.0.0.1:{port} or localhost:{port}"
    if origin is not None and origin.lower() not in {f"http://{name}" for name in hosts}:
        return "cross-origin requests are refused"
    if fetch_site is not None and fetch_site.lower() not in OWN_FETCH_SITES:
        return "requests from another site's page are refused: open the address directly"
    return None
