"""A Lambda function run in-process: the handler, a Lambda-like context, reserved concurrency, metrics.

The caller sets the function's environment variables before resolving its handler (modules read
their configuration at import, as on Lambda). The functions share one process, so a variable whose value differs
between them (POWERTOOLS_SERVICE_NAME) goes in `FunctionSettings.environment`: it is set while that function's
module is imported, one import at a time. `invoke` runs the handler in the calling thread — the
gateway's request thread or a poller's worker — so concurrency is the number of callers at once.
"""

from __future__ import annotations

import contextvars
import importlib
import importlib.util
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, Protocol

from local.services.metrics import MetricSink

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
    # the function's own variables, set while its module is imported (see the module docstring)
    environment: Mapping[str, str] = field(default_factory=dict)

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

    @classmethod
    def starting_now(cls, settings: FunctionSettings, log_stream_name: str) -> LambdaContext:
        """The context of an invocation of `settings`' function that starts now, with a new request id."""
        return cls(
            function_name=settings.name,
            function_version="$LATEST",
            invoked_function_arn=settings.arn,
            memory_limit_in_mb=settings.memory_mb,
            aws_request_id=str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{settings.name}",
            log_stream_name=log_stream_name,
            deadline_monotonic=time.monotonic() + settings.timeout_seconds,
        )

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


def load_environment(path: str) -> tuple[ModuleType, Handler]:
    """A fresh copy of the handler's module, as a new Lambda execution environment would import it.

    Lambda runs concurrent invocations in separate environments, each with its own module-level state
    (clients, Powertools metrics); the local stack runs them as threads of one process, so each
    concurrent invocation gets its own copy of the module. Shared helper modules are imported once."""
    module_name, attribute = _split_handler_path(path)
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.loader is None:
        raise ValueError(f"handler {path!r}: no module {module_name}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, _handler_of(module, path, attribute)


# One import at a time: the process environment holds one function's own variables while its module reads them.
_IMPORT_LOCK = threading.Lock()


@contextmanager
def function_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """The process environment with `variables` set, as they were before once the block ends."""
    with _IMPORT_LOCK:
        saved = {name: os.environ.get(name) for name in variables}
        os.environ.update(variables)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _split_handler_path(path: str) -> tuple[str, str]:
    module_name, _, attribute = path.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {path!r}: expected module.function")
    return module_name, attribute


def _handler_of(module: ModuleType, path: str, attribute: str) -> Handler:
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise ValueError(f"handler {path!r}: {module.__name__} has no callable {attribute!r}")
    return handler


@dataclass
class LocalFunction:
    """One Lambda function: `invoke(event)` returns the handler's result or raises.

    Raises TooManyRequestsException when throttled, FunctionTimeoutError when the handler overran its
    timeout (it cannot be stopped, only disowned), or whatever the handler raised.

    Built from a handler path, each concurrent invocation runs in an execution environment of its own
    (a fresh copy of the handler module, see `load_environment`), reused by later invocations as on
    Lambda; `on_environment` is called with each new environment's module (fault injection and the
    metrics observers hook its clients). Built from a handler callable, all invocations share it.
    """

    settings: FunctionSettings
    handler: Handler | None = None
    sink: MetricSink | None = None
    handler_path: str | None = None
    on_environment: Callable[[ModuleType], None] | None = None
    _stats: FunctionStats = field(default_factory=FunctionStats, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _idle: list[Handler] = field(default_factory=list, init=False)
    _log_stream: str = field(init=False)

    def __post_init__(self) -> None:
        if (self.handler is None) == (self.handler_path is None):
            raise ValueError("give a handler or a handler path, not both")
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        self._log_stream = f"{day}/[$LATEST]{uuid.uuid4().hex}"
        if self.handler_path is not None:
            self._idle.append(self._new_environment())  # the first cold start happens at deploy time

    @classmethod
    def from_handler_path(
        cls,
        settings: FunctionSettings,
        path: str,
        sink: MetricSink | None = None,
        on_environment: Callable[[ModuleType], None] | None = None,
    ) -> LocalFunction:
        return cls(settings, sink=sink, handler_path=path, on_environment=on_environment)

    def _new_environment(self) -> Handler:
        assert self.handler_path is not None
        # The hook runs in the function's variables too: it may import modules (ingest's keyed requests) whose
        # Powertools child logger takes its service from POWERTOOLS_SERVICE_NAME at import; outside the block a
        # neighbour's import could be holding the process environment (ingest's lines logged as "retrier").
        with function_environment(self.settings.environment):
            module, handler = load_environment(self.handler_path)
            if self.on_environment is not None:
                self.on_environment(module)
        return handler

    def _checkout(self) -> Handler:
        if self.handler is not None:
            return self.handler
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._new_environment()

    def _checkin(self, handler: Handler) -> None:
        if self.handler is None:
            with self._lock:
                self._idle.append(handler)

    @property
    def name(self) -> str:
        return self.settings.name

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
            handler = self._checkout()
            try:
                result = handler(event, context)
            finally:
                self._checkin(handler)
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
        return LambdaContext.starting_now(self.settings, self._log_stream)

    def _record(self, metric: str, value: float, unit: str = "Count") -> None:
        if self.sink is not None:
            self.sink.record("AWS/Lambda", metric, value, unit, {"FunctionName": self.name})
