"""The allowed import directions between the packages (pyproject.toml's [tool.importlinter]) hold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core.paths import PROJECT_ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_the_packages_import_only_in_the_allowed_directions() -> None:
    assert LINT_IMPORTS.exists(), f"{LINT_IMPORTS} not found: install the dev extras (pip install -e '.[dev]')"
    # GIVEN this tree's code (first on the path: the editable install maps the packages to another checkout)
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    }
    # WHEN import-linter checks the contracts of pyproject.toml (no cache: nothing is left in the tree)
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(PROJECT_ROOT / "pyproject.toml")],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # THEN every contract is kept
    assert result.returncode == 0, result.stdout + result.stderr
