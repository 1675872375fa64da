"""The scenario bundle: the project files Locust needs in a container, as one zip.

Which files is measured, not listed by hand: a child Python imports the locustfile, every shape and the
container runner, and names the project modules it loaded. Data files the code reads are added by name.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from loadtest.errors import LoadTestError
from loadtest.locust_process import LOADTEST_DIR, PROJECT_ROOT

DATA_FILES = ("loadtest/profiles.toml",)
ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed: the same files give the same bytes
ENTRY_MODULES = (
    "loadtest.locustfile",
    "loadtest.fargate.container",
    *(f"loadtest.shapes.{path.stem}" for path in sorted((LOADTEST_DIR / "shapes").glob("*.py"))),
)
_LIST_MODULES = """
import importlib, json, sys
root = sys.argv[1]
for name in sys.argv[2:]:
    importlib.import_module(name)
files = {m.__file__ for m in list(sys.modules.values()) if (getattr(m, "__file__", None) or "").startswith(root)}
print(json.dumps(sorted(files)))
"""


def bundle_files(root: Path = PROJECT_ROOT) -> list[str]:
    """Paths relative to the project root: every module the entry modules import, and the data files."""
    environment = dict(os.environ, PYTHONPATH=str(root), LOCUST_SKIP_MONKEY_PATCH="1")
    result = subprocess.run(
        [sys.executable, "-c", _LIST_MODULES, str(root) + os.sep, *ENTRY_MODULES],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise LoadTestError(f"cannot list the scenario bundle's modules: {result.stderr.strip()[-500:]}")
    modules = [Path(path).relative_to(root).as_posix() for path in json.loads(result.stdout)]
    return sorted({*modules, *DATA_FILES})


def build_bundle(root: Path = PROJECT_ROOT) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in bundle_files(root):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (root / name).read_bytes())
    return buffer.getvalue()
