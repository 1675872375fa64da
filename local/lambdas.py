"""A Lambda function run in-process: the handler, a Lambda-like context, reserved concurrency, metrics.

The caller sets the function's environment variables before resolving its handler (modules read
their configuration at import, as on Lambda). `invoke` runs the handler in the calling thread — the
gateway's request thread or a poller's worker — so concurrency is the number of callers at once.
"""

from __future__ import annotations

import contextvars
import importlib
import inspect
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, Protocol

from local.metrics import MetricSink

log = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]

_current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "sluice_lambda_request_id", default=None
)


def current_request_id() -> str | None:
    """The aws_request_id of the invocation running in this thread, if any (used by fault injection)."""
    return _current_request_id.get()


class TooManyRequestsException(RuntimeError):
    """Lambda's throttle: every reserved-concurrency slot is busy (Reason ReservedFunctionConcurrent…)."""


class FunctionTimeoutError(RuntimeError):
    """The handler ran past the function's timeout; like Lambda, its result is discarded."""


class Invoker(Protocol):
    """What the gateway and the pollers need from a function."""

    @property
    def name(self) -> str: ...

    def invoke(self, event: Any) -> Any: ...


@dataclass(frozen=True)
class FunctionSettings:
    name: str
    timeout_seconds: float = 3.0
    memory_mb: int = 128
    reserved_concurrency: int | None = None  # None: only the account's unreserved pool (not limited here)
    region: str = "us-east-1"
    account_id: str = "123456789012"

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"


@dataclass
class LambdaContext:
    """The attributes and method of the Python runtime's context object."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_monotonic: float
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_monotonic - time.monotonic()) * 1000))


@dataclass
class FunctionStats:
    """Totals since start, for the status display and tests."""

    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


def resolve_handler(path: str) -> Handler:
    """Import "package.module.function" and return the function (as Lambda's Handler setting does)."""
    module_name, _, attribute = path.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {path!r}: expected module.function")
    handler = getattr(importlib.import_module(module_name), attribute, None)
    if not callable(handler):
        raise ValueError(f"handler {path!r}: {module_name} has no callable {attribute!r}")
    return handler


@dataclass
class LocalFunction:
    """One Lambda function: `invoke(event)` returns the handler's result or raises.

    Raises TooManyRequestsException when throttled, FunctionTimeoutError when the handler overran its
    timeout (it cannot be stopped, only disowned), or whatever the handler raised.
    """

    settings: FunctionSettings
    handler: Handler
    sink: MetricSink | None = None
    _stats: FunctionStats = field(default_factory=FunctionStats, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _log_stream: str = field(init=False)

    def __post_init__(self) -> None:
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        self._log_stream = f"{day}/[$LATEST]{uuid.uuid4().hex}"

    @classmethod
    def from_handler_path(cls, settings: FunctionSettings, path: str, sink: MetricSink | None = None) -> LocalFunction:
        return cls(settings, resolve_handler(path), sink)

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def module(self) -> ModuleType | None:
        """The module that defines the handler (where fault injection looks for AWS clients)."""
        return inspect.getmodule(self.handler)

    def stats(self) -> FunctionStats:
        with self._lock:
            return FunctionStats(**vars(self._stats))

    def invoke(self, event: Any) -> Any:
        concurrent = self._acquire()
        context = self._new_context()
        self._record("Invocations", 1)
        self._record("ConcurrentExecutions", concurrent)
        token = _current_request_id.set(context.aws_request_id)
        started = time.monotonic()
        failed = True
        try:
            result = self.handler(event, context)
            failed = False
        except Exception:
            log.exception("%s %s: handler raised", self.name, context.aws_request_id)
            raise
        finally:
            elapsed = time.monotonic() - started
            _current_request_id.reset(token)
            timed_out = elapsed > self.settings.timeout_seconds
            self._release(failed or timed_out)
            self._record("Duration", min(elapsed, self.settings.timeout_seconds) * 1000, "Milliseconds")
            self._record("Errors", 1 if failed or timed_out else 0)
        if timed_out:
            message = f"Task timed out after {self.settings.timeout_seconds:.2f} seconds"
            log.error("%s %s: %s", self.name, context.aws_request_id, message)
            raise FunctionTimeoutError(message)
        return result

    def _acquire(self) -> int:
        """Take a concurrency slot and return how many are busy now; throttle if none is free."""
        limit = self.settings.reserved_concurrency
        with self._lock:
            stats = self._stats
            if limit is None or stats.in_flight < limit:
                stats.invocations += 1
                stats.in_flight += 1
                stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
                return stats.in_flight
            stats.throttles += 1
        self._record("Throttles", 1)
        raise TooManyRequestsException(
            f"Rate Exceeded. (Reason: ReservedFunctionConcurrentInvocationLimitExceeded, {self.name})"
        )

    def _release(self, failed: bool) -> None:
        with self._lock:
            self._stats.in_flight -= 1
            self._stats.errors += int(failed)

    def _new_context(self) -> LambdaContext:
        return LambdaContext(
            function_name=self.name,
            function_version="$LATEST",
            invoked_function_arn=self.settings.arn,
            memory_limit_in_mb=self.settings.memory_mb,
            aws_request_id=str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{self.name}",
            log_stream_name=self._log_stream,
            deadline_monotonic=time.monotonic() + self.settings.timeout_seconds,
        )

    def _record(self, metric: str, value: float, unit: str = "Count") -> None:
        if self.sink is not None:
            self.sink.record("AWS/Lambda", metric, value, unit, {"FunctionName": self.name})
