"""`invoke` as a user runs it: a subprocess in a folder of the test's choosing, without the caller's AWS_ settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.paths import PROJECT_ROOT

PROJECT = PROJECT_ROOT
INVOKE = Path(sys.executable).parent / "invoke"


def run_invoke(
    cwd: Path, *arguments: str, env: dict[str, str] | None = None, timeout: float = 300, **options: Any
) -> subprocess.CompletedProcess:
    """Output captured as text unless `options` say otherwise; never raises on the exit status."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    return subprocess.run(
        [str(INVOKE), "--search-root", str(PROJECT), *arguments],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**environment, **(env or {})},
        timeout=timeout,
        check=False,
        **({"capture_output": True} | options),
    )
