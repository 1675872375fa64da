"""Judging one response against the API contract: pure functions, so they are tested without Locust."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loadtest.badinput import BadCase

SHOWN_BODY_CHARS = 200


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""
    ids: tuple[str, ...] = ()  # ids the API says it accepted (also on a partial 503)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name), None)


def _ids(body: Any) -> tuple[str, ...]:
    ids = body.get("ids") if isinstance(body, dict) else None
    if isinstance(ids, list) and all(isinstance(item, str) for item in ids):
        return tuple(ids)
    return ()


def _shown(text: str) -> str:
    return " ".join(text.split())[:SHOWN_BODY_CHARS]


def judge_ingest(status: int, text: str, headers: Mapping[str, str], events_sent: int) -> Verdict:
    """A request of `events_sent` valid events: 202 with one id per event, or a documented error."""
    body = _json(text)
    if status == 202:
        ids = _ids(body)
        if not isinstance(body, dict) or body.get("accepted") != events_sent or len(ids) != events_sent:
            return Verdict(False, f"202 without {events_sent} ids: {_shown(text)}")
        return Verdict(True, ids=ids)
    error = body.get("error") if isinstance(body, dict) else None
    if status == 503 and error in ("queue_unavailable", "partially_accepted"):
        retry_after = _header(headers, "retry-after")
        note = f"503 {error}" + (f" (Retry-After {retry_after})" if retry_after else " without Retry-After")
        return Verdict(False, note, ids=_ids(body) if error == "partially_accepted" else ())
    if status == 429:
        return Verdict(False, "429 throttled")
    if status == 0:
        return Verdict(False, "connection failed")
    return Verdict(False, f"unexpected {status}: {_shown(text)}")


def judge_bad(case: BadCase, status: int, text: str) -> Verdict:
    """A bad request passes when it gets exactly its documented status and answer."""
    body = _json(text)
    ids = _ids(body) if status == 202 else ()  # accepted by mistake: still accepted, so tracked
    if status != case.status:
        return Verdict(False, f"expected {case.status}, got {status}: {_shown(text)}", ids=ids)
    if isinstance(body, dict) and (body.get("error") in case.codes or body.get("message") in case.gateway_messages):
        return Verdict(True)
    return Verdict(False, f"{status} with an undocumented body: {_shown(text)}")
