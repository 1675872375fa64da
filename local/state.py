"""What a local stack keeps in its state folder. Which folder that is (SLUICE_STATE_DIR, else `.local/`) and where
its outputs file lies are ops/state_folder.py's: the operate tools find the stack by that file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ops.state_folder import DEFAULT_STATE_DIR, OUTPUTS_FILE


@dataclass(frozen=True)
class StatePaths:
    root: Path

    @property
    def outputs(self) -> Path:
        return self.root / OUTPUTS_FILE

    @property
    def pidfile(self) -> Path:
        return self.root / "runtime.pid"

    @property
    def moto_pidfile(self) -> Path:
        return self.root / "moto.pid"

    @property
    def stack(self) -> Path:
        return self.root / "stack.json"  # the deployed stack, for resuming after a crash (local/stack/recovery.py)

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def notifications(self) -> Path:
        return self.logs / "notifications.log"


DEFAULT_PATHS = StatePaths(DEFAULT_STATE_DIR)
