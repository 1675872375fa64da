"""The local stack's logs: one set per run, readable lines apart from metric lines, and `invoke logs`.

Each run starts fresh in `.local/logs/`; the previous run's files move to `.local/logs/previous/` (one
generation is kept, so logs never grow across runs). The handlers' EMF metric lines go to `metrics.log`,
their log lines to `functions.log`, so the file people read holds what the handlers said.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

READABLE = ("runtime.log", "functions.log", "notifications.log")  # what `invoke logs` shows, in this order
PREVIOUS = "previous"
ERROR_LEVELS = ("ERROR", "CRITICAL")
# Powertools' standard keys: shown in front of the line, or the same on every line of a function.
_SHOWN_OR_NOISE = {"level", "location", "message", "timestamp", "service", "cold_start", "function_arn", "exception"}
_SHOWN_OR_NOISE |= {"function_memory_size", "function_request_id", "function_name", "xray_trace_id"}


def start_run_logs(logs: Path) -> None:
    """Move the last run's logs to `previous/` (replacing the run before it), then log the runtime's own
    records, and Python warnings (Powertools' "No application metrics to publish"), to `runtime.log`."""
    logs.mkdir(parents=True, exist_ok=True)
    old = [path for path in logs.iterdir() if path.is_file()]
    if old:
        previous = logs / PREVIOUS
        shutil.rmtree(previous, ignore_errors=True)
        previous.mkdir()
        for path in old:
            path.rename(previous / path.name)
    handler = logging.FileHandler(logs / "runtime.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, logging.StreamHandler) and not isinstance(existing, logging.FileHandler):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # A warning is a log record of the runtime, not a line in the operator's shell.
    logging.captureWarnings(True)


def is_error(file: str, line: str) -> bool:
    """A line that answers "why did it fail?": an ERROR record (or a handler's record with an exception), or an
    alarm going off. Traceback lines under a runtime record follow it (LogReader)."""
    if file == "functions.log":
        record = _json(line)
        return record is not None and (record.get("level") in ERROR_LEVELS or "exception" in record)
    if file == "runtime.log":
        return any(f" {level} " in line for level in ERROR_LEVELS)
    if file == "notifications.log":
        return "-> ALARM" in line
    return False


def readable(file: str, line: str) -> str:
    """A handler's JSON record as `time service LEVEL message key=value …` plus its exception's last line."""
    record = _json(line) if file == "functions.log" else None
    if record is None:
        return line
    details = " ".join(f"{key}={value}" for key, value in record.items() if key not in _SHOWN_OR_NOISE)
    parts = [record.get(key, "") for key in ("timestamp", "service", "level", "message")]
    text = " ".join(str(part) for part in [*parts, details] if part)
    exception = str(record.get("exception", "")).strip().splitlines()
    return text + (f"\n    {exception[-1]}" if exception else "")


def _json(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass
class LogReader:
    """The readable logs of one run, from where it last stopped reading (for `--follow`)."""

    logs: Path
    errors_only: bool = False
    offsets: dict[str, int] = field(default_factory=dict)
    _in_error: dict[str, bool] = field(default_factory=dict)  # a record's traceback lines follow its fate

    def new_lines(self) -> Iterator[tuple[str, str]]:
        """(file, line) for every complete line added since the last call, file by file."""
        for name in READABLE:
            path = self.logs / name
            if not path.exists():
                continue
            with path.open("rb") as handle:
                handle.seek(self.offsets.get(name, 0))
                data = handle.read()
            complete = data[: data.rfind(b"\n") + 1]
            self.offsets[name] = self.offsets.get(name, 0) + len(complete)
            # "\n" only: str.splitlines() also splits a JSON record at the NEL or U+2028 inside one of its strings.
            for raw in complete.decode("utf-8", errors="replace").split("\n"):
                if raw and (not self.errors_only or self._wanted(name, raw)):
                    yield name, readable(name, raw)

    def _wanted(self, name: str, line: str) -> bool:
        if name == "runtime.log" and not line[:4].isdigit():  # a traceback line under the last record
            return self._in_error.get(name, False)
        self._in_error[name] = is_error(name, line)
        return self._in_error[name]


def show(
    logs: Path,
    out: TextIO,
    *,
    errors_only: bool = False,
    lines: int = 40,
    follow: bool = False,
    keep_going: Callable[[], bool] = lambda: True,
    interval: float = 1.0,
) -> int:
    """Print the last `lines` of each readable log (or of their errors); with `follow`, then every new line
    as it is written, until `keep_going` says stop (Ctrl-C for a person). Returns the lines printed."""
    reader = LogReader(logs, errors_only)
    shown = 0
    by_file: dict[str, list[str]] = {}
    for name, line in reader.new_lines():
        by_file.setdefault(name, []).append(line)
    for name in READABLE:
        if by_file.get(name):
            print(f"== {logs / name} ==", file=out)
            for line in by_file[name][-lines:]:
                print(line, file=out)
                shown += 1
    if not follow:
        return shown
    out.flush()
    while keep_going():
        for name, line in reader.new_lines():
            print(f"{name.removesuffix('.log'):<13} {line}", file=out, flush=True)
            shown += 1
        time.sleep(interval)
    return shown
