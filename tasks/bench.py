"""`invoke bench`: the benchmarks (benchmarks/), each against a baseline measured in the same run."""

from __future__ import annotations

from invoke import Context, Exit

from tasks.common import task

SUITES = {
    "functions": "benchmarks.functions_bench",
    "package": "benchmarks.package_bench",
    "pipeline": "benchmarks.pipeline_bench",
    "sqs": "benchmarks.sqs_depth_bench",
    "items": "benchmarks.item_size_bench",
}


@task(help={"only": f"run one suite: {' | '.join(SUITES)} (default: all)"})
def bench(c: Context, only: str = "") -> None:
    """Run the benchmarks (not tests): each against a baseline measured in the same run, printed as ratios."""
    import importlib

    if only and only not in SUITES:
        raise Exit(f"error: --only must be one of {', '.join(SUITES)}, got {only!r}", code=2)
    for name, module in SUITES.items():
        if only in ("", name):
            print(f"== {name} ==")
            importlib.import_module(module).main()
