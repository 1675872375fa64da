"""The Locust users: realistic ingest traffic, and bad input that must get its documented answer.

Run-wide settings come from the custom Locust options the locustfile declares (`--sluice-*`); the API
key from the SLUICE_API_KEY environment variable, so it never shows in a process list or the web UI.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, constant_throughput, task

from loadtest.badinput import CASES, ApiLimits, BadCase
from loadtest.idlog import IdLog
from loadtest.payloads import batch_body, event_json
from loadtest.profiles import LoadProfile, load_profile
from loadtest.target import API_KEY_ENV
from loadtest.verdicts import Verdict, judge_bad, judge_ingest

EVENTS_PATH = "/events"


class RunContext:
    """This process's share of the run: the load profile, the API limits and the accepted-ids log."""

    def __init__(self) -> None:
        self._id_log: IdLog | None = None
        self._bodies: dict[str, bytes] = {}

    def options(self, user: FastHttpUser) -> Any:
        return user.environment.parsed_options

    def profile(self, user: FastHttpUser) -> LoadProfile:
        return profile_for(getattr(self.options(user), "sluice_env", None) or "local")

    def id_log(self, user: FastHttpUser) -> IdLog | None:
        if self._id_log is None:
            folder = getattr(self.options(user), "sluice_run_dir", None)
            self._id_log = IdLog(Path(folder)) if folder else None
        return self._id_log

    def close(self) -> None:
        if self._id_log is not None:
            self._id_log.close()
            self._id_log = None

    def body(self, case: BadCase, limits: ApiLimits) -> bytes:
        # Built once per process: the oversized bodies take a moment and never change.
        if case.name not in self._bodies:
            self._bodies[case.name] = case.body(limits)
        return self._bodies[case.name]


RUN = RunContext()
_profiles: dict[str, LoadProfile] = {}  # one per process: read once


def profile_for(env: str) -> LoadProfile:
    if env not in _profiles:
        _profiles[env] = load_profile(env)
    return _profiles[env]


def api_limits(env: str) -> ApiLimits:
    """The target environment's limits, from the one configuration (sluice.toml)."""
    from core.config import load_config

    api = load_config(env).api
    return ApiLimits(api.max_event_bytes, api.max_body_bytes, api.max_batch_events)


class SluiceUser(FastHttpUser):
    """Paced so that all users together send `--sluice-rate` requests/s at `--sluice-users` users."""

    abstract = True
    # Oversized bodies and a slow local stack must not trip the client's own timeouts first.
    network_timeout = 30.0
    connection_timeout = 10.0

    @cached_property
    def _pacing(self) -> Callable[[Any], float]:
        options = RUN.options(self)
        rate = getattr(options, "sluice_rate", None)
        users = getattr(options, "sluice_users", None)
        if rate and users:
            return constant_throughput(float(rate) / int(users))
        think = RUN.profile(self).think_seconds
        return between(think / 2, think * 1.5)

    def wait_time(self) -> float:
        return self._pacing(self)

    def headers(self, content_type: str = "application/json", api_key: str | None = None) -> dict[str, str]:
        headers = {"Content-Type": content_type}
        key = os.environ.get(API_KEY_ENV, "") if api_key is None else api_key
        if key:
            headers["x-api-key"] = key
        return headers

    def post(self, name: str, body: bytes | str, headers: Mapping[str, str], judge: Callable[..., Verdict]) -> Verdict:
        # Locust sends bytes as they are (bad input is not UTF-8); its annotation names str only.
        with self.client.post(
            EVENTS_PATH,
            data=body,  # type: ignore[arg-type]
            headers=dict(headers),
            name=name,
            catch_response=True,
        ) as r:
            verdict = judge(r.status_code or 0, r.text or "", {k: str(v) for k, v in (r.headers or {}).items()})
            if verdict.ok:
                r.success()
            else:
                r.failure(verdict.reason)
        return verdict


class IngestUser(SluiceUser):
    """Realistic events: sizes and batch lengths from the profile; some with an Idempotency-Key, some
    of those sent twice (a client retrying), which must give the same ids."""

    weight = 3

    def on_start(self) -> None:
        self.rng = random.Random()
        self.profile = RUN.profile(self)

    @task
    def send(self) -> None:
        count = self.profile.batch_size(self.rng)
        body = batch_body([event_json(self.rng, self.profile.event_size(self.rng)) for _ in range(count)])
        kind = "single" if count == 1 else "batch"
        headers = self.headers()
        key = str(uuid.uuid4()) if self.rng.random() < self.profile.idempotency_share else None
        if key:
            headers["Idempotency-Key"] = key

        def judge(status: int, text: str, response_headers: Mapping[str, str]) -> Verdict:
            return judge_ingest(status, text, response_headers, count)

        first = self.post(f"events: {kind}{' (idempotent)' if key else ''}", body, headers, judge)
        self._record(first, key)
        if key and first.ok and self.rng.random() < self.profile.retry_share:
            self._retry(body, headers, key, first, judge)

    def _retry(self, body: str, headers: dict[str, str], key: str, first: Verdict, judge: Callable) -> None:
        def same_ids(status: int, text: str, response_headers: Mapping[str, str]) -> Verdict:
            verdict = judge(status, text, response_headers)
            if verdict.ok and verdict.ids != first.ids:
                return Verdict(False, "idempotent retry got different ids", verdict.ids)
            return verdict

        self._record(self.post("events: idempotent retry", body, headers, same_ids), key, retry=True)

    def _record(self, verdict: Verdict, key: str | None, retry: bool = False) -> None:
        log = RUN.id_log(self)
        if log is not None and verdict.ids:
            log.record(verdict.ids, key, retry)


class BadInputUser(SluiceUser):
    """Cycles through the bad-input cases; each must get exactly its documented status and body."""

    weight = 1

    def on_start(self) -> None:
        env = getattr(RUN.options(self), "sluice_env", None) or "local"
        self.limits = api_limits(env)
        start = random.randrange(len(CASES))
        self.cases = itertools.islice(itertools.cycle(CASES), start, None)

    @task
    def send(self) -> None:
        case: BadCase = next(self.cases)
        api_key = {"valid": None, "missing": "", "wrong": f"wrong-{uuid.uuid4().hex}"}[case.api_key]
        verdict = self.post(
            f"bad: {case.name}",
            RUN.body(case, self.limits),
            self.headers(case.content_type, api_key),
            lambda status, text, _headers: judge_bad(case, status, text),
        )
        if verdict.ids:
            log = RUN.id_log(self)
            if log is not None:
                log.record(verdict.ids)
