"""The accepted-ids log: every id the API accepted, one JSON line per request.

Each Locust process writes its own file (`ids-<host>-<pid>.jsonl` in the run's folder), so workers never
share a file; `merge_id_logs` joins them into one `accepted-ids.jsonl` after the run.

Line: {"t": epoch seconds, "ids": [...], "key": Idempotency-Key or null, "retry": true when the request
resent an earlier body with the same key}.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

PART_GLOB = "ids-*.jsonl"
MERGED_NAME = "accepted-ids.jsonl"


@dataclass(frozen=True)
class AcceptedRequest:
    ids: tuple[str, ...]
    key: str | None = None
    retry: bool = False
    time: float = 0.0

    def to_json(self) -> str:
        return json.dumps({"t": round(self.time, 3), "ids": list(self.ids), "key": self.key, "retry": self.retry})


class IdLog:
    """Appends accepted requests to this process's file; line-buffered so a killed worker loses nothing."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"ids-{socket.gethostname()}-{os.getpid()}.jsonl"
        self._file: TextIO = self.path.open("a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    def record(self, ids: Sequence[str], key: str | None = None, retry: bool = False) -> None:
        if not ids:
            return
        line = AcceptedRequest(tuple(ids), key, retry, time.time()).to_json()
        with self._lock:
            self._file.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()


def read_id_log(lines: Iterable[str]) -> Iterator[AcceptedRequest]:
    """The requests of a log; a torn last line (a worker killed mid-write) is skipped."""
    for line in lines:
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("ids"), list):
            yield AcceptedRequest(
                tuple(str(item) for item in data["ids"]), data.get("key"), bool(data.get("retry")), data.get("t", 0.0)
            )


def merge_id_logs(folder: Path) -> tuple[Path, list[AcceptedRequest]]:
    """Join the per-process files into MERGED_NAME (time order) and remove the parts."""
    parts = sorted(folder.glob(PART_GLOB))
    requests: list[AcceptedRequest] = []
    for part in parts:
        with part.open(encoding="utf-8") as lines:
            requests.extend(read_id_log(lines))
    requests.sort(key=lambda request: request.time)
    merged = folder / MERGED_NAME
    merged.write_text("".join(request.to_json() + "\n" for request in requests), encoding="utf-8")
    for part in parts:
        part.unlink()
    return merged, requests
