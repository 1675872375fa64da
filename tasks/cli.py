"""How `invoke` talks to the operator: a missing option is one `error: ...` line in our words with the
task's usage, `invoke TASK --help` works for tasks with required options, and a closed pipe
(`invoke status | head`) ends quietly. (A wrong option value is tasks/common.py's OneLineArgument.)

invoke's parser has no hooks for these, so `install()` wraps the two parser methods involved and the
interpreter's last word on a BrokenPipeError; the tasks package calls it once at import.
"""

from __future__ import annotations

import atexit
import os
import sys
from types import TracebackType

from invoke.exceptions import ParseError
from invoke.parser.context import ParserContext, to_flag
from invoke.parser.parser import ParseMachine

_complete_context = ParseMachine.complete_context
_handle = ParseMachine.handle
HELP_FLAGS = ("--help", "-h")
_previous_excepthook = sys.excepthook


def usage(context: ParserContext) -> str:
    """`invoke replay --since SINCE [--until UNTIL] [--dry-run] …`: required options first, in task order."""
    required, optional = [], []
    for name, argument in context.args.items():
        flag = to_flag(name)
        if argument.positional:
            required.append(f"{flag} {name.upper().replace('-', '_')}")
        elif argument.kind is bool:
            optional.append(f"[{flag}]")
        else:
            optional.append(f"[{flag} {name.upper().replace('-', '_')}]")
    return " ".join(["invoke", str(context.name), *required, *optional])


def missing_options_message(context: ParserContext) -> str:
    """`error: replay needs --since: start of the window …` and the usage line."""
    named = "; ".join(
        f"{to_flag(argument.names[0])}: {argument.help}" if argument.help else to_flag(argument.names[0])
        for argument in context.missing_positional_args
    )
    return (
        f"error: {context.name} needs {named}\n"
        f"usage: {usage(context)}   (`invoke --help {context.name}` explains each option)"
    )


def _help_before_required_options(self: ParseMachine, token: str) -> None:
    # invoke takes `--help` in `invoke replay --help` for the value of the missing --since.
    context = self.context
    if token in HELP_FLAGS and context is not None and context.name and context.missing_positional_args:
        self.initial.flags["--help"].value = context.name
        return
    _handle(self, token)


def _complete_context_in_our_words(self: ParseMachine) -> None:
    context = self.context
    if context is not None and context.name and context.missing_positional_args:
        if self.initial.flags["--help"].value == context.name:
            if context not in self.result:  # help asked for: what is missing does not matter
                self.result.append(context)
            return
        raise ParseError(missing_options_message(context), context)
    _complete_context(self)


def _quiet_broken_pipe(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    if issubclass(kind, BrokenPipeError):  # the reader has gone (head): nothing to say, exit status 1
        _silence_stdout()
        return
    _previous_excepthook(kind, error, traceback)


def _flush_or_silence() -> None:
    # A reader that stopped early (head) makes the final flush fail after every except clause has run.
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()


def _silence_stdout() -> None:
    """What Python's documentation advises on EPIPE: point stdout at /dev/null so the exit flush succeeds."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def install() -> None:
    # invoke's parser has no hooks for these two: the methods are wrapped (the originals are kept above)
    ParseMachine.complete_context = _complete_context_in_our_words  # type: ignore[method-assign]
    ParseMachine.handle = _help_before_required_options  # type: ignore[method-assign]
    sys.excepthook = _quiet_broken_pipe
    atexit.register(_flush_or_silence)
