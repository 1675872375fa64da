"""Crash recovery, without a whole stack: the state folder's lock, what a refused start leaves alone, and how a
restart recognises the moto server a crashed runtime left behind (tests/e2e/test_crash_recovery_e2e.py runs
the whole kill -9 and restart)."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import load_config
from local.emulation.process import MotoServer, free_port, start_moto, write_pidfile
from local.stack.ports import Ports
from local.stack.recovery import StateFolderInUse, crash_hint, lock_state_folder, surviving_moto
from local.stack.runtime import LocalRuntime
from local.state import StatePaths

HOLD_LOCK = """
import sys
from pathlib import Path
from local.stack.recovery import lock_state_folder
held = lock_state_folder(Path(sys.argv[1]))
print("locked", flush=True)
input()
"""


def test_one_runtime_per_state_folder(tmp_path: Path) -> None:
    # GIVEN a runtime holding the state folder's lock
    held = lock_state_folder(tmp_path)
    # WHEN a second one tries to take it, then the first lets go
    with pytest.raises(StateFolderInUse, match=r"another local stack \(pid \d+\) is running on the state folder"):
        lock_state_folder(tmp_path)
    held.close()
    # THEN the second is refused while the first holds it, and gets it afterwards
    lock_state_folder(tmp_path).close()


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    # GIVEN a process that took the lock and was killed with SIGKILL
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait(30)
    # WHEN a new runtime takes the folder
    # THEN it gets it: a lock held means a live runtime, never a crashed one
    lock_state_folder(tmp_path).close()


@pytest.fixture
def live_stack_files(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A state folder as a live stack keeps it: its lock held, its files written, its AWS port taken."""
    lock = lock_state_folder(tmp_path)
    files = {"runtime.pid": '{"pid": 1}', "moto.pid": '{"pid": 2}', "outputs.json": "{}", "stack.json": "{}"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield tmp_path, files
    lock.close()


def test_a_refused_start_leaves_the_live_stacks_files_alone(live_stack_files: tuple[Path, dict[str, str]]) -> None:
    # GIVEN a live stack's state folder
    folder, files = live_stack_files
    runtime = LocalRuntime(
        config=load_config("local"),
        ports=Ports(aws=free_port(), api=free_port(), control=free_port()),
        paths=StatePaths(folder),
        console=io.StringIO(),
    )
    # WHEN a second runtime is started on it (and, as run_foreground does, stopped after the failure)
    with pytest.raises(StateFolderInUse, match=str(folder)):
        runtime.start()
    runtime.stop()
    # THEN it says which stack holds the folder, and every file of the live stack is still there, unchanged
    assert {name: (folder / name).read_text() for name in files} == files


@pytest.fixture
def orphan(tmp_path: Path) -> Iterator[MotoServer]:
    server = start_moto(port=free_port(), log_path=tmp_path / "moto.log")
    yield server
    server.stop()


def test_a_surviving_moto_is_found_by_its_pidfile_with_its_port(orphan: MotoServer, tmp_path: Path) -> None:
    # GIVEN the pidfile of a moto server whose runtime is gone
    write_pidfile(tmp_path / "moto.pid", orphan.pid)
    # WHEN a restart looks for it
    found = surviving_moto(tmp_path / "moto.pid")
    # THEN it is found, on the port it really listens on
    assert found is not None and (found.pid, found.port) == (orphan.pid, orphan.port)
    assert found.client("sqs").list_queues().get("QueueUrls", []) == []


def test_a_stale_or_recycled_pidfile_finds_nothing(tmp_path: Path) -> None:
    # GIVEN a pidfile of a process that exited, and one whose pid now belongs to another process (this one)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(30)
    (tmp_path / "gone.pid").write_text(json.dumps({"pid": gone.pid, "create_time": 1.0}))
    (tmp_path / "recycled.pid").write_text(json.dumps({"pid": os.getpid(), "create_time": 1.0}))
    # THEN neither is taken for a surviving moto
    assert surviving_moto(tmp_path / "gone.pid") is None
    assert surviving_moto(tmp_path / "recycled.pid") is None


def test_when_the_runtime_is_gone_the_hint_names_the_moto_it_left(orphan: MotoServer, tmp_path: Path) -> None:
    # GIVEN a state folder whose runtime died, once with its moto server still running and once without
    write_pidfile(tmp_path / "moto.pid", orphan.pid)
    # WHEN `invoke status` or `invoke chaos` find no runtime to answer
    # THEN the hint names the surviving moto and both ways out; without one, it says how to start
    assert crash_hint(tmp_path) == (
        f"its runtime is gone but its moto server (pid {orphan.pid}) still holds the stack's data: "
        "`invoke up` resumes on it, `invoke down` stops it"
    )
    assert crash_hint(tmp_path / "elsewhere") == "is it still running? start it with `invoke up`"
