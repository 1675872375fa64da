"""What a load-generator container runs once the bootstrap (loadtest/fargate/stack.py) unpacked the bundle:
Locust with this task's arguments, then every file it wrote goes up to S3 — also after StopTask's SIGTERM, so
a run stopped at its time limit still returns the ids its users were told were accepted.

Standard library only: the public Locust image has no AWS SDK, so the results travel through a presigned
POST policy limited to the run's results prefix.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

LOCUST_ARGS_ENV = "SLUICE_LOCUST_ARGS"  # JSON list: Locust's arguments for this task
RESULTS_POST_ENV = "SLUICE_RESULTS_POST"  # JSON {"url", "fields", "prefix"}: where the results go
RUN_DIR = "results"  # relative to the unpacked bundle; the Locust arguments name it
UPLOAD_TIMEOUT_SECONDS = 60


def main(argv: list[str]) -> int:
    role = argv[0] if argv else "task"
    arguments = json.loads(os.environ[LOCUST_ARGS_ENV])
    post = json.loads(os.environ[RESULTS_POST_ENV])
    Path(RUN_DIR).mkdir(parents=True, exist_ok=True)
    code = run_locust(arguments)
    task_dir = f"{role}-{socket.gethostname()}-{os.getpid()}"
    failed = upload_folder(Path(RUN_DIR), post, task_dir)
    print(f"sluice: Locust exited {code}; uploaded results to {post['prefix']}{task_dir}/ ({failed} failed)")
    return code if not failed else 1


def run_locust(arguments: list[str]) -> int:
    """Locust as a child; SIGTERM and SIGINT reach it, and this process lives on to upload."""
    environment = dict(os.environ, PYTHONPATH=os.getcwd())
    child = subprocess.Popen([sys.executable, "-m", "locust", *arguments], env=environment)

    def forward(signum: int, _frame: Any) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return child.wait()


def upload_folder(folder: Path, post: dict[str, Any], task_dir: str) -> int:
    """Every file of the folder under <prefix><task_dir>/; returns how many uploads failed."""
    failed = 0
    for path in sorted(item for item in folder.rglob("*") if item.is_file()):
        key = f"{post['prefix']}{task_dir}/{path.relative_to(folder).as_posix()}"
        try:
            post_file(post["url"], {**post["fields"], "key": key}, path.read_bytes())
        except OSError as error:
            failed += 1
            print(f"sluice: upload of {path} failed: {error}", file=sys.stderr)
    return failed


def post_file(url: str, fields: dict[str, str], content: bytes) -> None:
    """An S3 POST-policy upload: the form fields, then the file (S3 ignores fields after it)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="file"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        url, data=b"".join(parts), method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with urllib.request.urlopen(request, timeout=UPLOAD_TIMEOUT_SECONDS) as response:
        response.read()
