"""Every `invoke ...` command the docs show exists, with options it has — checked with invoke's own parser
against the tasks package's collection — and the ones that run locally without a stack run, and print what the docs
say they print (ops/README's cost table, the prod template's size)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from invoke import Program
from invoke.exceptions import ParseError
from invoke.parser import Parser, ParserContext

import tasks
from core.config import load_config
from core.paths import PROJECT_ROOT
from ops.changeset import MAX_TEMPLATE_BODY_BYTES
from tests.tasks.helpers import run_invoke

PROJECT = PROJECT_ROOT
DOCS = [
    PROJECT / "README.md",
    *sorted((PROJECT / "docs").glob("*.md")),
    PROJECT / "ops/README.md",
    PROJECT / "loadtest/README.md",
]
# Commands that need neither a stack nor AWS and finish in seconds: run them as the docs show them.
RUNS_LOCALLY = {"synth", "cost", "capacity --env local", "load -s list", "load --scenario list", "--list"}

_INLINE = re.compile(r"`((?:[\w./$()]*/)?invoke [^`]+)`")
# the command ends before a pipe (`invoke logs | grep …`), a trailing `&` or a comment
_IN_BLOCK = re.compile(r"(?:^|\s)((?:[\w./$()]*/)?invoke\s.*?)(?:\s*&)?(?:\s+\|.*)?(?:\s+#.*)?\s*$")
_PLACEHOLDER = re.compile(r"^(?:<.*>|[A-Z][A-Z0-9_]*|\.\.\.|…|.*\|.*)$")


@dataclass(frozen=True)
class DocCommand:
    where: str
    text: str
    in_block: bool  # in a code block: meant to be pasted, so complete

    @property
    def tokens(self) -> list[str]:
        """After `invoke`; `[optional]` brackets and `a\\|b` table escapes removed."""
        text = self.text.replace("\\|", "|")
        try:
            words = shlex.split(text)
        except ValueError:
            words = text.split()
        words = [word.strip("[]") for word in words[1:]]
        return [word for word in words if word and word not in ("...", "…")]

    @property
    def concrete(self) -> bool:
        return not any(_PLACEHOLDER.match(token) for token in self.tokens)

    def __str__(self) -> str:
        return f"{self.where}: {self.text}"


def doc_commands() -> list[DocCommand]:
    found = []
    for path in DOCS:
        in_block = False
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            where = f"{path.relative_to(PROJECT)}:{number}"
            if line.lstrip().startswith("```"):
                in_block = not in_block
                continue
            if in_block:
                match = _IN_BLOCK.search(line)
                if match:
                    found.append(DocCommand(where, match.group(1).strip(), True))
            else:
                found += [DocCommand(where, text.strip(), False) for text in _INLINE.findall(line)]
    return found


COMMANDS = doc_commands()


def contexts() -> tuple[ParserContext, dict[str, ParserContext]]:
    initial = ParserContext(args=Program(namespace=tasks.namespace).core_args())
    by_name = {}
    for context in tasks.namespace.to_contexts():
        for name in (context.name, *context.aliases):
            by_name[name] = context
    return initial, by_name


def with_sample_values(tokens: list[str]) -> list[str]:
    """Placeholders of whole-number options become 1, so the parser checks everything else."""
    _, by_name = contexts()
    context, sample = None, []
    for index, token in enumerate(tokens):
        if token in by_name:
            context = by_name[token]
        previous = tokens[index - 1] if index else ""
        flag = context.flags.get(previous) if context is not None and previous.startswith("-") else None
        placeholder = _PLACEHOLDER.match(token) and not token.startswith("-")
        sample.append("1" if flag is not None and flag.kind is int and placeholder else token)
    return sample


def test_the_docs_show_commands_at_all() -> None:
    # a broken extractor would make every check below pass on nothing
    assert len(COMMANDS) > 40
    assert any(command.in_block for command in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_every_documented_task_and_option_exists(command: DocCommand) -> None:
    # GIVEN a command shown in the docs
    initial, by_name = contexts()
    tokens = with_sample_values(command.tokens)
    # THEN its task exists and every option it uses is one of that task's (or invoke's own)
    task = next((token for token in tokens if token in by_name), None)
    named = [token for token in tokens if not token.startswith("-")]
    assert task is not None or tokens[:1] in (["--list"], ["--help"]), f"{command}: no such task {named[:1]}"
    flags = [token for token in tokens if token.startswith("-")]
    for flag in flags:
        own = task is not None and (flag in by_name[task].flags or flag in by_name[task].inverse_flags)
        assert own or flag in initial.flags, f"{command}: {task} has no {flag}"
    # AND a command in a code block (meant to be pasted) parses completely: required options given, numbers
    # where numbers go
    if command.in_block:
        parser = Parser(initial=initial, contexts=tasks.namespace.to_contexts())
        try:
            parser.parse_argv(tokens)
        except ParseError as error:
            pytest.fail(f"{command}: {error}")


def runnable(command: DocCommand) -> bool:
    joined = " ".join(command.tokens)
    return command.concrete and any(joined == name or joined.startswith(f"{name} ") for name in RUNS_LOCALLY)


LOCAL_COMMANDS = [command for command in COMMANDS if runnable(command)]


def test_some_documented_commands_run_locally() -> None:
    assert {" ".join(command.tokens).split()[0] for command in LOCAL_COMMANDS} >= {"synth", "cost", "load"}


@pytest.mark.parametrize("command", LOCAL_COMMANDS, ids=str)
def test_documented_commands_that_need_no_stack_run_as_shown(command: DocCommand, tmp_path: Path) -> None:
    # GIVEN a documented command that needs neither a stack nor AWS WHEN run as shown
    result = run_invoke(tmp_path, *command.tokens)
    # THEN it succeeds
    assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}{result.stderr[-2000:]}"


def _dollars(text: str) -> list[str]:
    return re.findall(r"\$\s*([\d,]+\.?\d*)", text)


def test_ops_readme_cost_table_is_what_invoke_cost_prints(tmp_path: Path) -> None:
    # GIVEN the cost table in ops/README.md and the command its heading names
    readme = (PROJECT / "ops/README.md").read_text(encoding="utf-8")
    heading = re.search(r"## Cost figures \(`invoke (cost [^`]+)`", readme)
    assert heading is not None
    table = readme[heading.end() :].split("\n\n## ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| naive") or line.startswith("| ours")]
    # WHEN the command runs
    result = run_invoke(tmp_path, *heading.group(1).split())
    assert result.returncode == 0, result.stderr
    printed = [line for line in result.stdout.splitlines() if re.match(r"^(naive|ours)\b.*\$.*\$.*\$", line)]
    # THEN each row's per month, per million and budget figures are the printed ones
    assert len(rows) == len(printed) == 3
    for documented, line in zip(rows, printed, strict=True):
        assert _dollars(documented) == _dollars(line), f"ops/README.md is stale; `invoke cost` prints:\n{line}"


def test_ops_readme_states_the_prod_template_size(tmp_path: Path) -> None:
    # GIVEN the size ops/README.md gives for the prod template
    readme = (PROJECT / "ops/README.md").read_text(encoding="utf-8")
    stated = re.search(r"prod's is ~(\d+) KB: `invoke synth --env prod`", readme)
    assert stated is not None
    # WHEN the template is synthesized
    result = run_invoke(tmp_path, "synth", "--env", "prod")
    assert result.returncode == 0, result.stderr
    written = re.match(r"^(\S+template\.json):", result.stdout)
    assert written is not None, result.stdout
    size = Path(written.group(1)).stat().st_size
    # THEN the stated size is within 5 % of the real one, and the template is indeed too large to send inline
    assert abs(int(stated.group(1)) * 1000 - size) <= 0.05 * size, f"the prod template is {size / 1000:.0f} KB"
    assert size > MAX_TEMPLATE_BODY_BYTES


def test_readme_aws_cli_example_carries_the_environment_it_needs() -> None:
    # GIVEN the local stack's endpoint and region from the configuration
    local = load_config("local")
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    # THEN the README's aws CLI example exports the endpoint, the region and the dummy credentials
    export = next(line for line in readme.splitlines() if line.startswith("export AWS_ENDPOINT_URL="))
    assert f"AWS_ENDPOINT_URL=http://127.0.0.1:{local.local.aws_port}" in export
    assert f"AWS_DEFAULT_REGION={local.region}" in export
    assert "AWS_ACCESS_KEY_ID=" in export and "AWS_SECRET_ACCESS_KEY=" in export
    assert re.search(r"^aws dynamodb scan --table-name sluice-local-events", readme, re.MULTILINE)


def test_ops_readme_sink_table_is_what_invoke_cost_prints(tmp_path: Path) -> None:
    # GIVEN the per-sink rows of ops/README.md's cost figures and the command its heading names
    readme = (PROJECT / "ops/README.md").read_text(encoding="utf-8")
    heading = re.search(r"## Cost figures \(`invoke (cost [^`]+)`", readme)
    assert heading is not None
    section = readme[heading.end() :].split("\n\n## ")[0]
    rows = {
        match.group(1): _dollars(line)
        for line in section.splitlines()
        if (match := re.match(r"^\| (dynamodb|dynamodb \+ s3|s3) \(consumer batches of \d+\) \|", line))
    }
    # WHEN the command runs
    result = run_invoke(tmp_path, *heading.group(1).split())
    assert result.returncode == 0, result.stderr
    printed = {
        match.group(1): _dollars(line)
        for line in result.stdout.splitlines()
        if (match := re.match(r"^  sinks (.+?) \(consumer batches of \d+\)", line))
    }
    # THEN each sink configuration's per month and per million figures are the printed ones
    assert rows == printed
    assert set(printed) == {"dynamodb", "dynamodb + s3", "s3"}
