"""Where a local stack keeps its state: one folder (`.local/` at the project root unless told otherwise)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = PROJECT_ROOT / ".local"


@dataclass(frozen=True)
class StatePaths:
    root: Path

    @property
    def outputs(self) -> Path:
        return self.root / "outputs.json"  # the stack's outputs: how every tool finds it

    @property
    def pidfile(self) -> Path:
        return self.root / "runtime.pid"

    @property
    def moto_pidfile(self) -> Path:
        return self.root / "moto.pid"

    @property
    def stack(self) -> Path:
        return self.root / "stack.json"  # the deployed stack, for resuming after a crash (local/recovery.py)

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def notifications(self) -> Path:
        return self.logs / "notifications.log"


DEFAULT_PATHS = StatePaths(DEFAULT_STATE_DIR)
