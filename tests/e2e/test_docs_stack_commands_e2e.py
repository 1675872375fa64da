"""The docs' commands that need a running local stack run as written against one (issue 28): every line of the
docs' ```sh blocks (the README's curl to the API, its `aws dynamodb scan` after the export line, `invoke status`,
`invoke chaos … --seconds`, `invoke logs --errors`, the clock curl) and every complete `invoke` command of a task
that talks to the stack, wherever the docs show it. Each must exit 0 and print what the docs say it shows. And the
README's export line alone is enough for an AWS client of the local stack.

tests/e2e/user_shell.py is the reader's shell: the project root with `.local` the test stack's state folder, the
environment `invoke up --detach` prints, `aws` the CLI's grammar over botocore; the one change to a command's text
is the default ports (3000, 4566, 3001) swapped for the test stack's. The runbook's ```sh blocks run in
tests/e2e/test_runbook_e2e.py, each while its section's cause is injected. What does not run here is in SKIPPED,
with the reason.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from invoke.exceptions import ParseError
from invoke.parser import Parser

import tasks
from ops import local_output_keys
from tests.docs.test_docs_commands import DOCS, PROJECT, DocCommand, contexts, doc_commands, runnable
from tests.e2e.user_shell import Ran, UserShell
from tests.load_verdicts import printed_failures_apart_from_latency
from tests.local_stack_harness import HarnessStack

# Commands the docs show that this test does not run, and why (a prefix of the command as written).
SKIPPED = {
    'curl -X POST "$API_URL/events"': "needs the value keys.create printed (shown once); "
    "tests/e2e/test_producers_e2e.py sends with keys it creates",
    "make demo": "starts a stack of its own on the configured ports (4566, 3000, 3001), which a test on a shared "
    "machine cannot take; `invoke demo`'s report is tested in tests/tasks",
    "make test": "the test suite itself",
    ".venv/bin/invoke up --detach": "binds the configured ports as `make demo` does; the fixture's stack is started "
    "by the same code (local.stack.background.start_background_stack) on free ports",
    ".venv/bin/invoke down": "would stop the stack the whole e2e group shares",
    "python -m benchmarks.outage_sim": "needs no stack: tests/docs/test_docs_outage_table.py runs it and compares",
    "invoke load --scenario step": "a load test of minutes (step 180 s, soak 600 s, the others 60-90 s plus the "
    "drain); their measured runs are loadtest/README's table; smoke runs here",
    "invoke load --scenario soak": "as step",
    "invoke load --scenario db-outage": "as step",
    "invoke load --scenario steady": "as step (--target dev needs AWS)",
    "invoke load --scenario spike": "as step",
    "invoke reconcile --ids accepted-ids.txt": "names a file of ids the reader kept from a client",
    "invoke reconcile": "named in passing (docs/configuration.md), without the window or ids it needs",
    "invoke load --web": "an option named in passing; the full command is `invoke load --scenario steady --web`",
}
# `invoke` tasks that talk to a running local stack
STACK_TASKS = {"status", "chaos", "logs", "dashboard", "redrive", "replay", "reconcile", "load"}


@dataclass(frozen=True)
class Documented:
    where: str
    command: str  # as written
    setup: tuple[str, ...] = ()  # the lines of its block that set variables before it (KEY=…, export …)

    def __str__(self) -> str:
        return f"{self.where}: {self.command}"


def _skipped(command: str) -> bool:
    return any(command.startswith(prefix) for prefix in SKIPPED)


def shell_blocks(path: Path) -> Iterator[re.Match[str]]:
    return re.finditer(r"^```sh\n(.*?)^```", path.read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE)


def shell_block_lines() -> Iterator[Documented]:
    """Each command line of the docs' ```sh blocks (the runbook's are walked through apart, in
    tests/e2e/test_runbook_e2e.py), with its block's variable lines before it."""
    for path in DOCS:
        if path.name == "runbook.md":
            continue
        text = path.read_text(encoding="utf-8")
        for block in shell_blocks(path):
            first_line = text[: block.start()].count("\n") + 2
            setup: list[str] = []
            for offset, line in enumerate(block.group(1).splitlines()):
                if re.match(r"^(export |[A-Z_]+=)", line):
                    setup.append(line)
                elif line.strip():
                    yield Documented(f"{path.relative_to(PROJECT)}:{first_line + offset}", line, tuple(setup))


def _complete(command: DocCommand) -> bool:
    """No placeholder, no optional part, every required argument given: runnable as it stands."""
    if not command.concrete or re.search(r"[<\[|…]|\.\.\.", command.text):
        return False
    initial, _ = contexts()
    try:
        Parser(initial=initial, contexts=tasks.namespace.to_contexts()).parse_argv(command.tokens)
    except ParseError:
        return False
    return True


def invoke_commands() -> Iterator[Documented]:
    """Complete `invoke …` commands of the stack's tasks, outside ```sh blocks (inline, or in a plain block)."""
    in_sh = [line for path in DOCS for block in shell_blocks(path) for line in block.group(1).splitlines()]
    seen = set()
    for command in doc_commands():
        tokens = command.tokens
        task = next((token for token in tokens if not token.startswith("-")), "")
        text = command.text.split("  ")[0].strip()
        if task not in STACK_TASKS or runnable(command) or text in seen or any(text in line for line in in_sh):
            continue  # not the stack's, run by test_docs_commands (no stack needed), shown twice, or in a block
        if not _complete(command):
            continue
        seen.add(text)
        yield Documented(command.where, text)


DOCUMENTED = [*shell_block_lines(), *invoke_commands()]
TO_RUN = [item for item in DOCUMENTED if not _skipped(item.command)]


def expected_output(command: str) -> str | None:
    """A regular expression the command's output must match: what the docs say it shows."""
    checks = [
        (r"^curl .*/v1/events ", r'"accepted": ?2, ?"ids": ?\["[\w-]+", ?"[\w-]+"\]'),
        (r"^curl .*/clock .*\"at\": \"", r'"shifted": ?true'),
        (r"^curl .*/clock .*\"at\": null", r'"shifted": ?false'),
        (r"^aws dynamodb scan --table-name sluice-local-events", r'"Count": [1-9]'),
        (r"invoke status\b", r"(?ms)^queue +ingest .*^alarm +(OK|ALARM|INSUFFICIENT_DATA) +sluice-local-"),
        (r"invoke chaos (\S+) --seconds 0\b", r"^(\S+): lifted"),
        (r"invoke chaos (\S+) --seconds (\d+)", r"^(\S+): active for \d+ s"),
        (r"invoke logs --errors", r"(?m)^== \S+/logs/\S+\.log ==$|^no errors in "),
        (r"invoke dashboard", r"sluice-local-operations\.png"),
        (r"invoke redrive", r"^moved \d+ messages from the DLQ to the ingest queue"),
        (r"invoke replay .*--dry-run", r"^read \d+ archived messages from \d+ objects\nwould send \d+ events"),
        # FAILED only on its p99, this machine's (the test checks that first: tests/load_verdicts.py)
        (r"invoke load --scenario smoke", r"(?m)^smoke on local: (PASSED|FAILED)$"),
        (r"invoke keys\.create \S+", r"^created key \S+ \(id \w+, class [\w-]+\)\nvalue \(shown once"),
        (r"invoke keys\.list", r"(?m)^NAME +CLASS +STATE +CREATED \(UTC\) +REQUESTS 30D\n(.*\n)*default-key +default"),
        (r"invoke keys\.rotate \S+", r"(?m)^new key \S+ \(id \w+, class [\w-]+\) is active now"),
        (r"invoke keys\.revoke \S+", r"(?m)^(disabled|deleted) \S+ \(id \w+\)"),
    ]
    return next((expected for pattern, expected in checks if re.search(pattern, command)), None)


def test_the_docs_show_stack_commands_to_run() -> None:
    # a broken extractor would run nothing below
    shown = " ".join(item.command for item in TO_RUN)
    for expected in ("curl -s -XPOST", "/clock", "aws dynamodb scan", "invoke status", "invoke chaos", "logs --errors"):
        assert expected in shown, expected


@pytest.mark.parametrize("item", TO_RUN, ids=str)
def test_every_stack_command_has_an_expected_output(item: Documented) -> None:
    # GIVEN a documented command this module runs THEN it says what its output must show
    assert expected_output(item.command) is not None, f"{item}: add what it prints to expected_output (or SKIPPED)"


@pytest.fixture(scope="module")
def shell(local_stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UserShell]:
    yield UserShell(local_stack, tmp_path_factory.mktemp("reader"))
    local_stack.control("POST", "/clock", {"at": None})


@pytest.mark.e2e
@pytest.mark.xdist_group("local-stack")
@pytest.mark.parametrize("item", TO_RUN, ids=str)
def test_documented_stack_command_runs_as_written(shell: UserShell, item: Documented) -> None:
    # GIVEN the reader's shell beside a running local stack, with the lines of the command's block before it
    injected = re.search(r"invoke chaos (\S+) --seconds [1-9]", item.command)
    try:
        # WHEN the command runs as written
        ran: Ran = shell.run("\n".join([*item.setup, item.command]), timeout=600)
    finally:
        if injected:  # the docs' example fault, lifted so the group's next test starts on a quiet stack
            shell.stack.lift(injected.group(1))
    # THEN it succeeds and shows what the docs say it shows (a load run whose only unmet check is its p99 counts as
    # run: tests never judge this machine's latency, tests/load_verdicts.py)
    if item.command.startswith("invoke load") and ran.returncode == 1:
        assert printed_failures_apart_from_latency(ran.stdout) == [], f"{item}\n{ran}"
    else:
        assert ran.returncode == 0, f"{item}\n{ran}"
    expected = expected_output(item.command)
    assert expected is not None and re.search(expected, ran.stdout, re.MULTILINE), f"{item}: /{expected}/\n{ran}"
    if item.command.startswith("curl") and "/v1/events" in item.command:
        # AND the events the README's curl sent are stored (what its aws dynamodb scan then lists)
        ids = json.loads(ran.stdout)["ids"]
        shell.stack.wait_stored(ids, 120)


def test_skipped_commands_are_still_shown_by_the_docs() -> None:
    # GIVEN the skip list THEN each entry still matches a command the docs show (a stale entry hides nothing)
    shown = [item.command for item in DOCUMENTED] + [" ".join(["invoke", *c.tokens]) for c in doc_commands()]
    shown += [line for path in DOCS for line in path.read_text(encoding="utf-8").splitlines()]
    for prefix in SKIPPED:
        assert any(prefix in line for line in shown), f"SKIPPED names {prefix!r}, which no doc shows any more"


def test_the_shell_swaps_only_the_default_ports(tmp_path: Path) -> None:
    # GIVEN a stack on other ports than the docs' defaults
    outputs = {
        "ApiUrl": "http://127.0.0.1:41000/v1",
        "AwsEndpoint": "http://127.0.0.1:41001",
        "ControlUrl": "http://127.0.0.1:41002",
    }
    stack = HarnessStack(process=None, state_dir=tmp_path / "state", outputs=outputs)  # type: ignore[arg-type]
    stack.state_dir.mkdir()
    reader = UserShell(stack, tmp_path / "home")
    # THEN the docs' URLs reach that stack and nothing else of the text changes
    swapped = reader.on_stack_ports("curl http://127.0.0.1:3000/v1/events; AWS=http://127.0.0.1:4566 x:3000")
    assert swapped == "curl http://127.0.0.1:41000/v1/events; AWS=http://127.0.0.1:41001 x:3000"
    # AND `.local` and `.venv/bin/invoke` mean there what they mean in a checkout running `invoke up`
    assert (reader.root / ".local").resolve() == stack.state_dir.resolve()
    assert (reader.root / ".venv/bin/invoke").is_file() and (reader.root / "tasks").resolve() == PROJECT / "tasks"


@pytest.mark.e2e
@pytest.mark.xdist_group("local-stack-b")
def test_readme_aws_environment_is_enough_for_a_client_of_the_local_stack(local_stack, tmp_path: Path) -> None:
    # GIVEN only the variables README's export line sets (the test stack's port in place of 4566)
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    export = next(line for line in readme.splitlines() if line.startswith("export AWS_ENDPOINT_URL="))
    variables = dict(word.split("=", 1) for word in export.removeprefix("export ").split())
    variables["AWS_ENDPOINT_URL"] = local_stack.outputs[local_output_keys.AWS_ENDPOINT]
    clean = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    # WHEN a botocore client (what the aws CLI v1 is built on) is made from the environment alone, no ~/.aws
    script = (
        "import boto3; "
        "print(boto3.client('dynamodb').describe_table(TableName='sluice-local-events')['Table']['TableName'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**clean, **variables, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    # THEN it reaches the local stack's table
    assert result.returncode == 0 and result.stdout.strip() == "sluice-local-events", result.stderr[-1000:]
