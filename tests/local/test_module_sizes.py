"""Every module of the local stack stays small enough to hold one job: a module past the limit is split (as the
gateway was into proxy.py and server.py, the runtime into runtime.py, read_model.py and event_sources.py)."""

from __future__ import annotations

from pathlib import Path

from core.paths import PROJECT_ROOT

MAX_MODULE_LINES = 450


def oversized_modules(root: Path, limit: int) -> dict[str, int]:
    """Each module under `root` longer than `limit` lines, by its path relative to root, with its line count."""
    sizes = {path: len(path.read_text(encoding="utf-8").splitlines()) for path in sorted(root.rglob("*.py"))}
    return {str(path.relative_to(root)): lines for path, lines in sizes.items() if lines > limit}


def test_no_module_under_local_exceeds_the_limit() -> None:
    # GIVEN the local stack's package
    local = PROJECT_ROOT / "local"
    assert (local / "stack" / "runtime.py").is_file()  # the right folder, not an empty one
    # WHEN every module's lines are counted
    oversized = oversized_modules(local, MAX_MODULE_LINES)
    # THEN none is over the limit
    assert oversized == {}, f"split these modules (over {MAX_MODULE_LINES} lines): {oversized}"


def test_a_module_over_the_limit_is_reported_with_its_size(tmp_path: Path) -> None:
    # GIVEN a package with one module at the limit and one a line over it, in a subpackage
    (tmp_path / "fits.py").write_text("x = 1\n" * 3, encoding="utf-8")
    (tmp_path / "part").mkdir()
    (tmp_path / "part" / "too_long.py").write_text("x = 1\n" * 4, encoding="utf-8")
    # WHEN the modules are measured against a limit of 3 lines
    oversized = oversized_modules(tmp_path, 3)
    # THEN only the longer one is reported, with its line count
    assert oversized == {"part/too_long.py": 4}
