"""The console's HTTP routes on the control server: `GET /` (the page), `/console/static/*` (its script
and style), `/runbook` and `/docs/NAME` (the pages of docs/ its links lead to),
`/console/api/{dashboards,dashboard,overview}`; `POST /console/api/replay` and
`POST /console/api/locust` (a load test's web UI announces itself). Faults use the control API's /chaos."""

from __future__ import annotations

import html
import logging
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.console.json_reply import reply_json
from local.console.markdown_page import doc_pages, markdown_to_html, runbook_html, safe_target
from local.console.views import CONSOLE_LINKS, ConsoleViews

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}
# the page runs its own script file and nothing else: no inline script, no `javascript:` link, no other site's
# script, even if planted text slipped through as markup (the page sets styles as attributes; the icon is data:)
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# longest a load test may keep its link on the page (a run announces its own, shorter, end)
MAX_LOCUST_SECONDS = 24 * 3600


def serve_get(handler: BaseHTTPRequestHandler, views: ConsoleViews, path: str, query: str) -> bool:
    """Answer a console GET; False when the path is not the console's."""
    if path in ("/", "/console", "/console/"):
        _send(handler, 200, (STATIC / "index.html").read_bytes(), CONTENT_TYPES[".html"])
    elif path.startswith("/console/static/"):
        name = path.removeprefix("/console/static/")
        files = {item.name: item for item in STATIC.iterdir()}
        if name not in files:  # only the files of static/, never a path
            reply_json(handler, 404, {"error": "not_found", "message": f"no {path}"})
        else:
            _send(handler, 200, files[name].read_bytes(), CONTENT_TYPES.get(files[name].suffix, "text/plain"))
    elif path == "/runbook":
        page = f"<!doctype html><meta charset='utf-8'><title>Sluice runbook</title>{runbook_html(CONSOLE_LINKS)}"
        _send(handler, 200, page.encode(), CONTENT_TYPES[".html"])
    elif path.startswith("/docs/"):
        pages = doc_pages()
        name = path.removeprefix("/docs/")
        if name not in pages:  # only a page of docs/, never a path
            reply_json(handler, 404, {"error": "not_found", "message": f"no {html.escape(path)}"})
        else:
            text = markdown_to_html(pages[name].read_text(encoding="utf-8"), CONSOLE_LINKS)
            page = f"<!doctype html><meta charset='utf-8'><title>Sluice: {html.escape(name)}</title>{text}"
            _send(handler, 200, page.encode(), CONTENT_TYPES[".html"])
    elif path == "/console/api/dashboards":
        reply_json(handler, 200, views.dashboard_names())
    elif path == "/console/api/dashboard":
        params = parse_qs(query)
        name = params.get("name", [""])[0]
        try:
            minutes = float(params.get("minutes", ["0"])[0] or 0)
            reply_json(handler, 200, views.dashboard(name, minutes or None))
        except KeyError:
            reply_json(handler, 404, {"error": "not_found", "message": f"no dashboard {html.escape(name)!r}"})
        except ValueError:
            reply_json(handler, 400, {"error": "bad_request", "message": "minutes must be a number"})
    elif path == "/console/api/overview":
        reply_json(handler, 200, views.overview())
    else:
        return False
    return True


def serve_post(handler: BaseHTTPRequestHandler, views: ConsoleViews, path: str, body: dict[str, Any]) -> bool:
    """Answer a console POST; False when the path is not the console's."""
    if path == "/console/api/replay":
        reply_json(handler, 200, views.replay_archive())
    elif path == "/console/api/locust":
        url, seconds = body.get("url"), body.get("seconds")
        if not _is_local_web_ui(url) or not isinstance(seconds, int | float):
            reply_json(
                handler, 400, {"error": "bad_request", "message": "expected url (http://127.0.0.1:…) and seconds"}
            )
            return True
        views.locust = {"url": url, "until": time.time() + min(float(seconds), MAX_LOCUST_SECONDS)}
        reply_json(handler, 200, views.locust)
    else:
        return False
    return True


def _is_local_web_ui(url: Any) -> bool:
    """http://127.0.0.1:PORT/… and nothing that only starts so (`http://127.0.0.1:@evil.example/`)."""
    if not isinstance(url, str) or not url.startswith("http://127.0.0.1:"):
        return False
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return False
    return parts.hostname == "127.0.0.1" and parts.username is None and port is not None and safe_target(url)


def _send(handler: BaseHTTPRequestHandler, status: int, data: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("X-Content-Type-Options", "nosniff")
    if content_type.startswith("text/html"):
        handler.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    handler.send_header("Content-Length", str(len(data)))
    handler.send_header("Cache-Control", "no-store")
    handler.end_headers()
    handler.wfile.write(data)
