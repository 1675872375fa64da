"""One source for what a handler reads from its environment: the template sets it (cloudformation/functions.py),
the handler reads it. Each handler is imported with exactly the variables the template gives its function."""

import importlib.util
from types import ModuleType

import pytest
from moto import mock_aws

from cloudformation.functions import logical_id
from core.config import FUNCTION_NAMES, load_config
from functions.common import env_names
from functions.common.errors import ConfigError
from synth.synthesize import full_template

CONFIG = load_config("dev")


def template_environment(name: str) -> dict[str, str]:
    """The function's variables in the dev template; a reference (Ref, GetAtt) stands in as a placeholder string."""
    template = full_template(CONFIG).to_dict()
    variables = template["Resources"][logical_id(name)]["Properties"]["Environment"]["Variables"]
    return {
        key: value if isinstance(value, str) else f"https://example.test/{key.lower()}"
        for key, value in variables.items()
    }


def fresh_import(name: str) -> ModuleType:
    """A new copy of the handler's module, as a cold start imports it (nothing else sees this copy)."""
    spec = importlib.util.find_spec(f"functions.{name}.app")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_each_handler_takes_its_service_name_from_the_variable_the_template_sets(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the function's environment as the template sets it, its service name changed to tell it apart
    environment = template_environment(name)
    assert environment["POWERTOOLS_SERVICE_NAME"] == name
    for key, value in {**environment, "POWERTOOLS_SERVICE_NAME": f"{name}-from-template"}.items():
        monkeypatch.setenv(key, value)
    # WHEN the handler is imported
    with mock_aws():
        module = fresh_import(name)
    # THEN its logs and its metrics carry the template's name, not one of its own
    assert module.logger.service == f"{name}-from-template"
    assert module.metrics.service == f"{name}-from-template"


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_a_handler_without_its_service_name_stops_with_one_line(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the function's environment without POWERTOOLS_SERVICE_NAME
    for key, value in template_environment(name).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("POWERTOOLS_SERVICE_NAME")
    # WHEN imported THEN it stops at once, naming the variable
    with mock_aws(), pytest.raises(ConfigError, match=r"^environment variable POWERTOOLS_SERVICE_NAME is not set$"):
        fresh_import(name)


def test_the_retry_after_of_a_503_is_the_configured_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN ingest's environment as the template sets it, from api.retry_after_seconds
    environment = template_environment("ingest")
    assert environment["RETRY_AFTER_SECONDS"] == str(CONFIG.api.retry_after_seconds)
    for key, value in {**environment, "RETRY_AFTER_SECONDS": "42"}.items():
        monkeypatch.setenv(key, value)
    # WHEN ingest is imported THEN it answers a 503 with that Retry-After (no default of its own)
    with mock_aws():
        assert fresh_import("ingest").settings.retry_after_seconds == 42
    monkeypatch.delenv("RETRY_AFTER_SECONDS")
    with mock_aws(), pytest.raises(ConfigError, match="RETRY_AFTER_SECONDS is not set"):
        fresh_import("ingest")


def named_variables() -> list[str]:
    """The names functions/common/env_names.py defines."""
    return [value for name, value in vars(env_names).items() if name.isupper()]


def variables_set_in(env: str) -> set[str]:
    """Every variable some function's environment has in the environment's template."""
    resources = full_template(load_config(env)).to_dict()["Resources"]
    return {
        variable
        for name in FUNCTION_NAMES
        for variable in resources[logical_id(name)]["Properties"]["Environment"]["Variables"]
    }


def test_the_template_sets_exactly_the_variables_named_once_in_env_names() -> None:
    # GIVEN every function's environment in the dev, local (both sinks) and prod templates
    set_by_template = variables_set_in("dev") | variables_set_in("local") | variables_set_in("prod")
    # THEN each variable is one of the names the functions read theirs by, and each name is used
    assert set_by_template == set(named_variables())
    # AND no name is spelled by two constants
    assert len(set(named_variables())) == len(named_variables())
