"""Finding the runtime's interpreter, and compiling with it: one clear line when it cannot."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ops.bytecode import Compiler, probe, runtime_cache_tag, runtime_compiler
from ops.errors import OpsError


def fake_python(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


def test_the_cache_tag_is_named_after_the_runtime() -> None:
    assert runtime_cache_tag("python3.12") == "cpython-312"
    assert runtime_cache_tag("python3.9") == "cpython-39"


def test_an_interpreter_of_the_runtimes_version_on_path_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a python3.12 on PATH that reports cpython-312
    fake_python(tmp_path / "bin", "python3.12", "echo cpython-312")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    # WHEN the compiler for python3.12 is looked up THEN it is that interpreter
    assert runtime_compiler("python3.12") == Compiler(str(tmp_path / "bin" / "python3.12"), "cpython-312")


@pytest.mark.parametrize(
    "body",
    [
        "echo cpython-311",  # another version under that name
        "echo 'pyenv: python3.12: command not found' >&2; exit 127",  # a pyenv shim of a version not selected
    ],
)
def test_anything_else_on_path_means_source_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    fake_python(tmp_path / "bin", "python3.12", body)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert runtime_compiler("python3.12") is None


def test_no_interpreter_at_all_means_source_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert runtime_compiler("python3.12") is None
    assert probe(str(tmp_path / "missing-python")) is None


def test_a_file_the_runtime_cannot_compile_stops_the_build_with_one_line(tmp_path: Path) -> None:
    # GIVEN a tree with a module this Python cannot parse
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "broken.py").write_text("def broken(:\n")
    # WHEN it is compiled THEN one line names the file
    with pytest.raises(OpsError) as raised:
        Compiler(sys.executable, sys.implementation.cache_tag).compile_tree(tmp_path / "tree")
    assert "broken.py" in str(raised.value)
    assert "\n" not in str(raised.value)
