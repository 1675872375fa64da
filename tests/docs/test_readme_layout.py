"""README's layout table names every top-level folder of the repository, and only those."""

from __future__ import annotations

import re
import subprocess

from core.paths import PROJECT_ROOT

ROOT = PROJECT_ROOT


def layout_table_folders() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## Layout", 1)[1].split("\n\n", 2)[1]
    first_cells = [row.split("|")[1] for row in table.splitlines() if row.startswith("| `")]
    return {name for cell in first_cells for name in re.findall(r"`([\w.-]+)/`", cell)}


def test_the_layout_table_matches_the_tree():
    # GIVEN the folders git tracks at the top of the repository (dot-folders are tooling, not layout)
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    folders = {path.split("/", 1)[0] for path in tracked.splitlines() if "/" in path and not path.startswith(".")}
    # WHEN README's layout table is read THEN it names exactly those
    assert layout_table_folders() == folders
