"""Fault injection at the AWS-call boundary of the running handlers.

`Chaos.attach(module)` finds the handler module's botocore clients (module-level clients, boto3
resources, and those of modules it imports from its own package) and hooks their event emitters.
While a fault is active, matching calls fail the way the real outage would make them fail:

- connection faults and throttling act on `before-send`, which botocore emits for every HTTP
  *attempt*: the fault goes through botocore's retry logic (retries, backoff, then the final error),
  exactly as a real outage would — and DynamoDbObserver counts each throttled attempt, as DynamoDB does;
- `consumer-paused` touches no call: the consumer's event source mapping asks `paused()` before each poll and
  receives nothing while it is active — a stuck mapping: no error anywhere, its state still Enabled (a disabled
  one is the real thing: UpdateEventSourceMapping switches the local poller, local/services/mapping_state.py);
- `consumer-crash` acts on `after-call`: the write has landed, then the function dies with a
  RuntimeError (a crash, not a ClientError) — once per invocation, so part of a batch is written and
  nothing is acknowledged; the redelivery must overwrite, not duplicate.

Faults expire on their own: each has a deadline checked on every call and by `active()`.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.client import BaseClient
from botocore.exceptions import EndpointConnectionError

from local.services.faults import FAULTS, MAX_FAULT_SECONDS, FaultKind, UnknownFaultError
from local.services.lambdas import current_request_id


class InjectedCrash(RuntimeError):
    """The consumer-crash fault: the function process dies mid-batch."""


def find_clients(module: ModuleType) -> list[BaseClient]:
    """The botocore clients a module holds at module level (boto3 resources' too), and those of the
    modules of its own top-level package it uses (e.g. `from functions.shared.aws import write`)."""
    package = module.__name__.split(".", 1)[0]
    found: dict[int, BaseClient] = {}
    seen: set[str] = set()
    pending = [module]
    while pending:
        current = pending.pop()
        if current.__name__ in seen:
            continue
        seen.add(current.__name__)
        for value in list(vars(current).values()):
            for client in _clients_of(value):
                found[id(client)] = client
            owner = value if isinstance(value, ModuleType) else sys.modules.get(_module_name_of(value))
            if owner is not None and owner.__name__.split(".", 1)[0] == package:
                pending.append(owner)
    return list(found.values())


def _module_name_of(value: Any) -> str:
    name = getattr(value, "__module__", None)
    return name if isinstance(name, str) else ""


def _clients_of(value: Any) -> Iterator[BaseClient]:
    if isinstance(value, BaseClient):
        yield value
        return
    client = getattr(getattr(value, "meta", None), "client", None)  # boto3 resources and Table objects
    if isinstance(client, BaseClient):
        yield client


class Chaos:
    """The faults active in this process; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deadlines: dict[str, float] = {}
        self._crashed_invocations: set[str] = set()
        self._hooked: list[BaseClient] = []

    def attach(self, *targets: ModuleType | BaseClient) -> int:
        """Hook the clients of handler modules (or clients given directly); returns how many."""
        clients = [c for t in targets for c in ([t] if isinstance(t, BaseClient) else find_clients(t))]
        for client in clients:
            for event, hook in self._hooks().items():
                client.meta.events.register(event, hook, unique_id=self._hook_id(event))
            with self._lock:
                if all(client is not hooked for hooked in self._hooked):
                    self._hooked.append(client)
        return len(clients)

    def detach(self) -> None:
        """Remove every hook and fault."""
        with self._lock:
            hooked, self._hooked = self._hooked, []
            self._deadlines.clear()
        for client in hooked:
            for event in self._hooks():
                client.meta.events.unregister(event, unique_id=self._hook_id(event))

    def _hooks(self) -> dict[str, Callable[..., Any]]:
        return {"before-send": self._before_send, "after-call": self._after_call}

    def _hook_id(self, event: str) -> str:
        # unique_id is per emitter, not per event: one id per (Chaos, event).
        return f"sluice-chaos-{id(self)}-{event}"

    def inject(self, name: str, seconds: float) -> None:
        """Activate fault `name` for `seconds` (at most an hour); re-injecting resets its clock."""
        if name not in FAULTS:
            raise UnknownFaultError(name)
        if not 0 < seconds <= MAX_FAULT_SECONDS:
            raise ValueError(f"fault duration must be in (0, {MAX_FAULT_SECONDS:.0f}] seconds, got {seconds}")
        with self._lock:
            self._deadlines[name] = time.monotonic() + seconds

    def lift(self, name: str) -> None:
        """End fault `name` now (no error if it is not active)."""
        if name not in FAULTS:
            raise UnknownFaultError(name)
        with self._lock:
            self._deadlines.pop(name, None)
            if name == "consumer-crash":
                self._crashed_invocations.clear()

    def is_active(self, name: str) -> bool:
        return name in self.active()

    def active(self) -> dict[str, float]:
        """Active faults and their seconds left."""
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            return {name: deadline - now for name, deadline in self._deadlines.items()}

    def _expire(self, now: float) -> None:
        for name in [n for n, deadline in self._deadlines.items() if deadline <= now]:
            del self._deadlines[name]
            if name == "consumer-crash":
                self._crashed_invocations.clear()

    def _matching(self, event_name: str, kind: FaultKind) -> str | None:
        _, service, operation = event_name.split(".", 2)
        with self._lock:
            self._expire(time.monotonic())
            for name in self._deadlines:
                fault = FAULTS[name]
                if (
                    fault.kind == kind
                    and fault.service == service
                    and (fault.operations is None or operation in fault.operations)
                ):
                    return name
        return None

    def _before_send(self, event_name: str, request: Any, **_: Any) -> AWSResponse | None:
        if self._matching(event_name, "connection"):
            raise EndpointConnectionError(endpoint_url=request.url)
        if self._matching(event_name, "throttle"):
            return _throttle_response(request.url)
        return None

    def _after_call(self, event_name: str, http_response: Any, **_: Any) -> None:
        if http_response.status_code >= 300 or not self._matching(event_name, "crash"):
            return
        invocation = current_request_id()
        with self._lock:
            if invocation is not None and invocation in self._crashed_invocations:
                return
            if invocation is not None:
                self._crashed_invocations.add(invocation)
        raise InjectedCrash("consumer-crash: the function died after a write landed")


class _Body:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


def _throttle_response(url: str) -> AWSResponse:
    """DynamoDB's throttling answer (JSON protocol), parsed by botocore like the real one."""
    body = json.dumps(
        {
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "The level of configured provisioned throughput for the table was exceeded.",
        }
    ).encode()
    headers = {
        "x-amzn-RequestId": uuid.uuid4().hex,
        "Content-Type": "application/x-amz-json-1.0",
        "Content-Length": str(len(body)),
    }
    return AWSResponse(url, 400, headers, _Body(body))
