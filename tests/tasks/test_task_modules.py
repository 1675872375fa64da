"""The task modules' names: invoke puts tasks/ itself on sys.path, so a module there named like a top-level
package or a standard module would be imported in its place (`import alarms` finding tasks/alarms.py)."""

from __future__ import annotations

import sys

from core.paths import PROJECT_ROOT

TASKS = PROJECT_ROOT / "tasks"


def test_no_task_module_shadows_a_package_of_the_project_or_the_standard_library() -> None:
    # GIVEN the project's top-level packages and the standard library's modules
    packages = {path.parent.name for path in TASKS.parent.glob("*/__init__.py")}
    taken = packages | set(sys.stdlib_module_names)
    # WHEN the task modules are listed
    modules = {path.stem for path in TASKS.glob("*.py")} - {"__init__"}
    # THEN none takes one of their names
    assert modules and not modules & taken, sorted(modules & taken)
