"""Where a local stack keeps its state: one folder, `.local/` at the project root unless SLUICE_STATE_DIR names
another (every local task and tool reads it, so they all find the stack `SLUICE_STATE_DIR=… invoke up` started).

The operate tools find the local stack by the outputs file in that folder, which the local stack writes: its place
is defined here, below both, so the tools need nothing of the emulator (local/state.py lays out the rest)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from core.paths import PROJECT_ROOT

STATE_DIR_VARIABLE = "SLUICE_STATE_DIR"
OUTPUTS_FILE = "outputs.json"  # the stack's outputs: how every tool finds it


def state_dir_of(environment: Mapping[str, str]) -> Path:
    """SLUICE_STATE_DIR's folder, or `.local/` at the project root when it is unset or empty."""
    text = environment.get(STATE_DIR_VARIABLE, "").strip()
    return Path(text).expanduser().resolve() if text else PROJECT_ROOT / ".local"


DEFAULT_STATE_DIR = state_dir_of(os.environ)
LOCAL_OUTPUTS = DEFAULT_STATE_DIR / OUTPUTS_FILE
