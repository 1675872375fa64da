"""When the load really started and stopped, written by Locust's master (or single process).

Starting Locust and connecting workers takes seconds; the fault schedule, the progress and the plot
count from the moment the first users start, which only Locust knows.
"""

from __future__ import annotations

import time
from pathlib import Path

LOAD_STARTED = "load-started"
LOAD_STOPPED = "load-stopped"


def write_marker(folder: Path, name: str, when: float | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"{time.time() if when is None else when:.3f}\n", encoding="utf-8")


def read_marker(folder: Path, name: str) -> float | None:
    try:
        return float((folder / name).read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        return None
