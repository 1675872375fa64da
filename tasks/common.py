"""What every task shares: the typed `task` decorator, configuration and targets, errors as one line."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from invoke import Exit, Task
from invoke import task as invoke_task
from invoke.exceptions import ParseError
from invoke.parser.argument import Argument

from core.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    import boto3

    from ops.outputs import Target

TARGET_HELP = "local (the local stack, the default) or an environment name (its deployed stack)"
AWS_HELP = {"profile": "AWS profile (default: the environment's)", "region": "AWS region (default: the config's)"}


class OneLineArgument(Argument):
    """An option whose wrong value is one `error:` line: invoke casts an option with an int default by
    int(value) and lets the ValueError out as a traceback (`invoke cost --rate 1 --batch abc`)."""

    def set_value(self, value: Any, cast: bool = True) -> None:
        try:
            super().set_value(value, cast=cast)
        except ValueError:
            expected = "a whole number" if self.kind is int else f"a {getattr(self.kind, '__name__', 'value')}"
            option = (self.name or "").replace("_", "-")
            raise ParseError(f"error: --{option}: expected {expected}, got {value!r}") from None


class SluiceTask(Task):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.option_help = dict(self.help)  # invoke's get_arguments() pops each option's help out of self.help

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        from tasks.cli import short_flags

        self.help = dict(self.option_help)  # so that asking twice (a parser, then `--help`) keeps every help text
        arguments = super().get_arguments(ignore_unknown_help)
        short_flags(arguments)
        for argument in arguments:
            argument.__class__ = OneLineArgument  # the same state; only set_value differs
        return arguments


def task(*args: Any, **kwargs: Any) -> Callable[..., Any]:
    """invoke's `@task`, building our tasks (their options fail in one line)."""
    return invoke_task(*args, klass=SluiceTask, **kwargs)


def config_of(env: str) -> Config:
    try:
        return load_config(env)
    except ConfigError as error:
        raise Exit(f"error: {error}", code=2) from None


def aws_config(env: str) -> Config:
    if env == "local":
        raise Exit("error: the local environment is not deployed to AWS: start it with `invoke up`", code=2)
    return config_of(env)


@contextmanager
def ops_errors() -> Iterator[None]:
    """`with ops_errors():` turns an OpsError (a failure the operator can fix) into `Exit("error: ...")`."""
    from ops.errors import OpsError

    try:
        yield
    except OpsError as error:
        raise Exit(f"error: {error}", code=1) from None


def session_of(config: Config, profile: str | None, region: str | None) -> boto3.Session:
    from ops.aws import make_session

    with ops_errors():
        return make_session(profile, region or config.region)


def target_of(target: str, profile: str | None, region: str | None) -> Target:
    from ops.outputs import resolve_target

    with ops_errors():
        return resolve_target(target, profile, region)


def confirmation_possible(yes: bool, action: str) -> None:
    if not yes and not sys.stdin.isatty():
        raise Exit(f"error: {action} needs a confirmation and there is no terminal to ask on: pass --yes", code=2)


def typed(prompt: str, expected: str) -> bool:
    try:
        return input(prompt).strip() == expected
    except EOFError:
        return False
