"""Cold start of the ingest zip as Lambda loads it: source only, and with the bytecode `invoke package` ships.

Needs the runtime's interpreter (python3.12) on PATH, and PyPI (the real pip install for the Lambda platform);
says so and stops without them. Builds the ingest zip both ways with ops/package.py and unpacks each as
/var/task; installs the SDK the runtime provides (boto3, compiled, as on Lambda) apart. Then, in fresh python3.12
interpreters that cannot write bytecode (neither can Lambda), with the task directory first on sys.path as on
Lambda: `import functions.ingest.app` from each zip vs `import boto3; boto3.client("sqs")`.
Run: `invoke bench --only package`.
"""

import subprocess
import sys
import tempfile
import zipfile
from importlib.metadata import version
from pathlib import Path

from benchmarks.cold_start import BOTO3_CLIENT, INGEST_ENV, Result, interleaved_medians, print_results
from ops.bytecode import Compiler
from ops.errors import OpsError
from ops.package import RUNTIME, build_artifacts, default_compiler

RUNS = 11
PIP_SECONDS = 600


def runtime_sdk(compiler: Compiler, target: Path) -> Path:
    """boto3 at our pinned version, pure-Python wheels for the runtime's Python, compiled as the runtime's is."""
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--target", str(target), "--only-binary=:all:", "--python-version", RUNTIME.removeprefix("python"),
        f"boto3=={version('boto3')}",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=PIP_SECONDS)
    if result.returncode != 0:
        raise OpsError(f"pip could not install boto3 for {RUNTIME}: {result.stderr.strip().splitlines()[-1:]}")
    compiler.compile_tree(target)
    return target


def unpacked_ingest(root: Path, compiler: Compiler | None) -> Path:
    label = compiler.cache_tag if compiler else "source"
    (artifact,) = build_artifacts(build_dir=root / f"build-{label}", names=["ingest"], compiler=compiler)
    task = root / f"task-{label}"
    with zipfile.ZipFile(artifact.path) as archive:
        archive.extractall(task)
    return task


def main() -> None:
    compiler = default_compiler()
    if compiler is None:
        print(f"skipped: needs {RUNTIME} on PATH, the interpreter of the Lambda runtime")
        return
    with tempfile.TemporaryDirectory(prefix="sluice-package-bench-") as scratch:
        root = Path(scratch)
        print(f"building the ingest zip for {RUNTIME}, source only and with bytecode (pip, for the Lambda platform) …")
        source_only, compiled = unpacked_ingest(root, None), unpacked_ingest(root, compiler)
        print(f"installing the SDK the runtime provides (boto3 {version('boto3')}, compiled) …")
        sdk = runtime_sdk(compiler, root / "runtime")
        env = INGEST_ENV | {"PYTHONDONTWRITEBYTECODE": "1"}
        print(f"timing {RUNS} fresh interpreters of each …\n")
        ingest = "import functions.ingest.app"
        median = interleaved_medians(
            RUNS,
            {
                "source": (compiler.python, ingest, env | {"PYTHONPATH": f"{source_only}:{sdk}"}),
                "bytecode": (compiler.python, ingest, env | {"PYTHONPATH": f"{compiled}:{sdk}"}),
                "boto3": (compiler.python, BOTO3_CLIENT, env | {"PYTHONPATH": str(sdk)}),
            },
        )

    def versus_boto3(variant: str, target: float | None) -> Result:
        detail = f"{median[variant] * 1000:.0f} ms vs {median['boto3'] * 1000:.0f} ms, median of {RUNS} ({RUNTIME})"
        name = f"cold import ingest zip, {variant} / boto3+client"
        return Result(name, median[variant] / median["boto3"], target, "x", detail)

    print_results([versus_boto3("source", None), versus_boto3("bytecode", 1.2)])


if __name__ == "__main__":
    main()
