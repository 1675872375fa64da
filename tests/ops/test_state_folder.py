"""Where the local stack's state folder and its outputs file are (ops/state_folder.py)."""

from __future__ import annotations

from pathlib import Path

from local.state import DEFAULT_PATHS, StatePaths
from ops.state_folder import LOCAL_OUTPUTS, OUTPUTS_FILE, state_dir_of


def test_the_state_folder_follows_sluice_state_dir(tmp_path: Path) -> None:
    # GIVEN SLUICE_STATE_DIR naming a folder, then unset
    # WHEN the state folder is chosen
    # THEN it is that folder, else `.local/`
    assert state_dir_of({"SLUICE_STATE_DIR": str(tmp_path)}) == tmp_path.resolve()
    assert state_dir_of({}).name == ".local"


def test_the_tools_read_the_outputs_file_the_local_stack_writes(tmp_path: Path) -> None:
    # GIVEN a state folder
    # WHEN the local stack lays it out
    # THEN its outputs file is the one the operate tools look for, there and in the default folder
    assert StatePaths(tmp_path).outputs == tmp_path / OUTPUTS_FILE
    assert DEFAULT_PATHS.outputs == LOCAL_OUTPUTS
