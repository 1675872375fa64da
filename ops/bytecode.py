"""Bytecode for the function zips, compiled by an interpreter of the Lambda runtime's Python version.

Lambda cannot write into /var/task, so a zip without bytecode is compiled again at every cold start: for
ingest that was ~120 ms on python3.12 (1.34× → 1.03× of `import boto3; boto3.client("sqs")`), measured by
importing it from the unpacked zip with and without (`invoke bench --only package`). Bytecode only helps
when it is the runtime's own version (`cpython-312` for python3.12), which the Python running this code may
not be; the runtime's interpreter is looked up on PATH. The bytecode is "unchecked-hash" (no source mtime in
it, never re-validated: the zip is immutable) and names its sources under /var/task, so the same sources and
interpreter version give the same bytes.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ops.errors import OpsError

LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks the zip: the paths tracebacks show
PROBE_SECONDS = 30
COMPILE_SECONDS = 600


@dataclass(frozen=True)
class Compiler:
    python: str  # an interpreter's path
    cache_tag: str  # e.g. cpython-312: the name of the bytecode files it writes and reads

    def compile_tree(self, directory: Path) -> None:
        """Write bytecode beside every .py under `directory`, as if `directory` were /var/task."""
        # A file the runtime's Python cannot compile would fail on Lambda too: stop the build and say which.
        command = [
            self.python, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash",
            "-d", LAMBDA_TASK_ROOT, str(directory),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=COMPILE_SECONDS)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip().splitlines() or ["(no output)"]
            failed = [line.split("'")[1] for line in output if line.startswith("*** Error compiling '")]
            raise OpsError(f"{self.python} could not compile {failed[0] if failed else directory}: {output[-1]}")


def runtime_cache_tag(runtime: str) -> str:
    """`python3.12` → `cpython-312`."""
    return "cpython-" + runtime.removeprefix("python").replace(".", "")


def probe(python: str) -> str | None:
    """The cache tag of the interpreter at `python`, or None when it does not run (e.g. a pyenv shim)."""
    try:
        result = subprocess.run(
            [python, "-c", "import sys; print(sys.implementation.cache_tag)"],
            capture_output=True,
            text=True,
            check=False,
            timeout=PROBE_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def runtime_compiler(runtime: str) -> Compiler | None:
    """A compiler for `runtime` (e.g. python3.12) from the interpreter of that name on PATH, if it is one."""
    python = shutil.which(runtime)
    if python is None:
        return None
    tag = probe(python)
    return Compiler(python, tag) if tag == runtime_cache_tag(runtime) else None
