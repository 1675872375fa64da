"""Reading the environment once, at import, with one clear line when something is wrong."""

import os

from functions.common import env_names, metric_names
from functions.common.errors import ConfigError


def require(name: str) -> str:
    """The value of a variable that must be set and non-empty."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is not set")
    return value


def optional(name: str, default: str) -> str:
    """The value of a variable, or `default` when it is unset or empty."""
    return os.environ.get(name, "").strip() or default


def integer(name: str, default: int | None, *, minimum: int, maximum: int) -> int:
    """An integer variable within [minimum, maximum], or `default` when unset (None: it must be set)."""
    text = require(name) if default is None else optional(name, str(default))
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be an integer, got {text!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"environment variable {name} must be between {minimum} and {maximum}, got {value}")
    return value


def service_name() -> str:
    """The function's name for Powertools (log field, trace and metric dimension `service`): POWERTOOLS_SERVICE_NAME,
    which the template sets (cloudformation/functions.py), so the name has one source."""
    return require(env_names.POWERTOOLS_SERVICE_NAME)


def metrics_namespace() -> str:
    return optional(env_names.POWERTOOLS_METRICS_NAMESPACE, metric_names.DEFAULT_NAMESPACE)
