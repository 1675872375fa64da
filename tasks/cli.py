"""How `invoke` talks to the operator: a missing option, an unknown task or option is one `error: ...` line in
our words (with the task's usage, or where to look); `invoke TASK --help` works for tasks with required options;
help shows what each option takes (`--outage-hours HOURS`); a short flag means one thing in every task; a
closed pipe (`invoke status | head`) ends quietly. (A wrong option value is tasks/common.py's OneLineArgument.)

invoke's parser has no hooks for these, so `install()` wraps the parser methods involved and the
interpreter's last word on a BrokenPipeError; the tasks package calls it once at import.
"""

from __future__ import annotations

import atexit
import difflib
import os
import re
import sys
from types import TracebackType

from invoke.exceptions import ParseError
from invoke.parser.argument import Argument
from invoke.parser.context import ParserContext, to_flag
from invoke.parser.parser import ParseMachine
from invoke.program import Program

_complete_context = ParseMachine.complete_context
_handle = ParseMachine.handle
_error = ParseMachine.error
_parse_cleanup = Program.parse_cleanup
_help_for = ParserContext.help_for
HELP_FLAGS = ("--help", "-h")
_previous_excepthook = sys.excepthook

# One meaning per short flag in every task; an option not named here has its long form only.
SHORT_FLAGS = {
    "env": "e",
    "target": "t",
    "profile": "p",
    "region": "r",
    "since": "s",
    "until": "u",
    "yes": "y",
    "detach": "d",
    "follow": "f",
    "json": "j",
}
# What an option's value is, where its name does not say (`--outage-hours HOURS`).
METAVARS = {
    "outage-hours": "HOURS",
    "seconds": "SECONDS",
    "rate": "PER_SECOND",
    "event-bytes": "BYTES",
    "batch": "EVENTS",
    "duration": "SECONDS",
    "users": "COUNT",
    "workers": "COUNT",
    "lines": "COUNT",
    "limit": "COUNT",
    "days": "DAYS",
    "timeout-minutes": "MINUTES",
    "since": "TIME",
    "until": "TIME",
    "set": "ALARM.FIELD=VALUE",
    "ids": "FILE",
    "ids-out": "FILE",
    "file": "FILE",
    "out": "FOLDER",
    "outputs": "FILE",
    "reports": "FOLDER",
    "png": "FILE",
}
_UNKNOWN = re.compile(r"No idea what '(?P<token>.*)' is!")
_NEEDS_VALUE = re.compile(r"Flag <\w+: (?P<name>[\w-]+) .*> needed value and was not given one!")


def short_flags(arguments: list[Argument]) -> None:
    """Give each argument the project's short flag for its name, or none (invoke picks the first free letter,
    so `-e` meant --env, --errors, --event-bytes or --web depending on the task)."""
    for argument in arguments:
        long_name = argument.names[0]
        short = SHORT_FLAGS.get(long_name.replace("_", "-"))
        argument.names = (long_name, short) if short else (long_name,)


def metavar(name: str) -> str:
    """What an option takes, as help and usage lines show it: METAVARS, else the option's name."""
    name = name.replace("_", "-")
    return METAVARS.get(name, name.upper().replace("-", "_"))


def usage(context: ParserContext) -> str:
    """`invoke replay --since SINCE [--until UNTIL] [--dry-run] …`: required options first, in task order."""
    required, optional = [], []
    for name, argument in context.args.items():
        flag = to_flag(name)
        if argument.positional:
            required.append(f"{flag} {metavar(name)}")
        elif argument.kind is bool:
            optional.append(f"[{flag}]")
        else:
            optional.append(f"[{flag} {metavar(name)}]")
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
    # invoke takes `--help` in `invoke replay --help` for the value of the missing --since, and any other
    # unknown `--option` likewise (`invoke cost --bogus 1` priced a rate of "--bogus").
    context = self.context
    missing = context is not None and context.name and context.missing_positional_args
    if missing and token in HELP_FLAGS:
        self.initial.flags["--help"].value = context.name
        return
    if missing and token.startswith("--") and not self.waiting_for_flag_value and token not in context.flags:
        self.error(f"No idea what '{token}' is!")
    _handle(self, token)


def unknown_token_message(context: ParserContext | None, token: str, tasks: list[str]) -> str:
    """`error: cost has no option --bogus; did you mean --batch? (`invoke --help cost` lists them)`."""
    if context is not None and context.name and token.startswith("-"):
        near = difflib.get_close_matches(token, [flag for flag in context.flags if flag.startswith("--")], n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
        return f"error: {context.name} has no option {token}{hint} (`invoke --help {context.name}` lists them)"
    near = difflib.get_close_matches(token, tasks, n=1)
    hint = f"; did you mean {near[0]}?" if near else ""
    where = f" of {context.name}" if context is not None and context.name else ""
    return f"error: no task or option{where} named {token!r}{hint} (`invoke --list` shows the tasks)"


def _error_in_our_words(self: ParseMachine, message: str) -> None:
    if unknown := _UNKNOWN.fullmatch(message):
        raise ParseError(unknown_token_message(self.context, unknown["token"], list(self.contexts)), self.context)
    if needs := _NEEDS_VALUE.fullmatch(message):
        name = needs["name"].replace("_", "-")
        raise ParseError(f"error: --{name} needs a value: --{name} {metavar(name)}", self.context)
    _error(self, message)


def _parse_cleanup_in_our_words(self: Program) -> None:
    # `invoke --help nosuch` is checked here, after parsing.
    try:
        _parse_cleanup(self)
    except ParseError as error:
        unknown = _UNKNOWN.fullmatch(str(error))
        if unknown is None:
            raise
        raise ParseError(unknown_token_message(None, unknown["token"], list(self.parser.contexts))) from None


def _help_with_values(self: ParserContext, flag: str) -> tuple[str, str]:
    """invoke shows `--rate=STRING`, and nothing at all for a float (`-o, --outage-hours`): show `--rate
    PER_SECOND` and `--outage-hours HOURS`."""
    names, help_text = _help_for(self, flag)
    argument = self.flags[flag]
    if argument.kind is bool:
        return names, help_text
    value = metavar(argument.name or flag.lstrip("-"))
    return ", ".join(f"{name} {value}" for name in sorted(self.names_for(flag), key=len)), help_text


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
    # invoke's parser has no hooks for these: the methods are wrapped (the originals are kept above)
    ParseMachine.complete_context = _complete_context_in_our_words  # type: ignore[method-assign]
    ParseMachine.handle = _help_before_required_options  # type: ignore[method-assign]
    ParseMachine.error = _error_in_our_words  # type: ignore[method-assign,assignment]
    Program.parse_cleanup = _parse_cleanup_in_our_words  # type: ignore[method-assign]
    ParserContext.help_for = _help_with_values  # type: ignore[method-assign]
    sys.excepthook = _quiet_broken_pipe
    atexit.register(_flush_or_silence)
