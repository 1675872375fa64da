"""Where a local stack keeps its state: one folder, `.local/` at the project root unless SLUICE_STATE_DIR names
another (every local task and tool reads it, so they all find the stack `SLUICE_STATE_DIR=… invoke up` started)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR_VARIABLE = "SLUICE_STATE_DIR"


def state_dir_of(environment: Mapping[str, str]) -> Path:
    """SLUICE_STATE_DIR's folder, or `.local/` at the project root when it is unset or empty."""
    text = environment.get(STATE_DIR_VARIABLE, "").strip()
    return Path(text).expanduser().resolve() if text else PROJECT_ROOT / ".local"


DEFAULT_STATE_DIR = state_dir_of(os.environ)


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
