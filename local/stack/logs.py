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
_SHOWN_OR_NOISE |= {"exception_name", "stack_trace"}  # the exception's last line says both, in one line
# Libraries whose INFO records are chatter for the operator ("Found endpoint for sqs via: environment_global").
QUIET_LOGGERS = ("botocore", "boto3", "urllib3")


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
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # A warning is a log record of the runtime, not a line in the operator's shell.
    logging.captureWarnings(True)


def is_error(file: str, line: str) -> bool:
    """A line that answers "why did it fail?": an ERROR record (or a handler's record with an exception), or an
    alarm going off. A runtime record's traceback lines are grouped with it (`_records`)."""
    if file == "functions.log":
        record = _json(line)
        return record is not None and (record.get("level") in ERROR_LEVELS or "exception" in record)
    if file == "runtime.log":
        return any(f" {level} " in line for level in ERROR_LEVELS)
    if file == "notifications.log":
        return "-> ALARM" in line
    return False


def readable(file: str, line: str) -> str:
    """A handler's JSON record as one line: `time service LEVEL message key=value … — its exception's last line`."""
    record = _json(line) if file == "functions.log" else None
    if record is None:
        return line
    details = " ".join(f"{key}={value}" for key, value in record.items() if key not in _SHOWN_OR_NOISE)
    parts = [record.get(key, "") for key in ("timestamp", "service", "level", "message")]
    text = " ".join(str(part) for part in [*parts, details] if part)
    return with_cause(text, str(record.get("exception", "")).split("\n"))


def with_cause(line: str, traceback: list[str]) -> str:
    """`line — KeyError: 'x'`: a record and the last line of its traceback (what was raised), on one line."""
    last = next((text.strip() for text in reversed(traceback) if text.strip()), "")
    return f"{line} — {last}" if last else line


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

    def new_lines(self) -> Iterator[tuple[str, str]]:
        """(file, line) for every complete line added since the last call, file by file; with `errors_only`,
        one line per error (a runtime record's traceback becomes its last line, after the record)."""
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
            for record in _records(name, complete.decode("utf-8", errors="replace").split("\n")):
                if not self.errors_only:
                    yield from ((name, readable(name, line)) for line in record)
                elif is_error(name, record[0]):
                    yield name, with_cause(readable(name, record[0]), record[1:])


def _records(name: str, lines: list[str]) -> Iterator[list[str]]:
    """The lines grouped by record: a runtime record is its line and the traceback lines under it (they do not
    start with the record's date); every other log has one line per record."""
    record: list[str] = []
    for line in filter(None, lines):
        if record and (name != "runtime.log" or line[:4].isdigit()):
            yield record
            record = []
        record.append(line)
    if record:
        yield record


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
