"""Where the load goes: the local stack (its outputs file) or a deployed environment (its stack outputs),
found by the operators' resolver as the operators' Target (ops/outputs.py), so both tools always point at the
same stack, and checked for what a load run needs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cloudformation import output_keys
from loadtest.errors import LoadTestError
from local.state import DEFAULT_PATHS
from ops import local_output_keys

if TYPE_CHECKING:
    from ops.outputs import Target

LOCAL_KEYS = (
    output_keys.API_URL,
    local_output_keys.API_KEY,
    local_output_keys.AWS_ENDPOINT,
    local_output_keys.REGION,
    output_keys.TABLE_NAME,
    output_keys.QUEUE_URL,
    output_keys.DEAD_LETTER_QUEUE_URL,
    local_output_keys.CONTROL_URL,
)
DEPLOYED_KEYS = (
    output_keys.API_URL,
    output_keys.API_KEY_ID,
    output_keys.TABLE_NAME,
    output_keys.QUEUE_URL,
    output_keys.DEAD_LETTER_QUEUE_URL,
)
LOOPBACK = ("127.0.0.1", "localhost", "::1")
API_KEY_ENV = "SLUICE_API_KEY"  # how the key reaches Locust: never on a command line


def resolve_load_target(
    name: str, outputs_path: Path = DEFAULT_PATHS.outputs, profile: str | None = None, region: str | None = None
) -> Target:
    """`local` (the outputs file of `invoke up`) or a deployed environment, through the operators' one
    resolver (ops/outputs.py): the same outputs, configuration and API key the ops tasks use."""
    # Imported here: Locust's processes import this module for API_KEY_ENV only, and need no boto3.
    from ops.errors import OpsError
    from ops.outputs import resolve_target

    try:
        return from_stack(resolve_target(name, profile, region, local_outputs=outputs_path))
    except OpsError as error:
        raise LoadTestError(str(error)) from None


def local_target(outputs: Mapping[str, Any]) -> Target:
    """The local stack from its outputs (a background stack's, in the tests)."""
    from ops.errors import OpsError
    from ops.outputs import local_target_from

    try:
        return from_stack(local_target_from(outputs))
    except OpsError as error:
        raise LoadTestError(str(error)) from None


def from_stack(stack: Target) -> Target:
    """The stack, checked for a load run: it has what a run reads; a local one is entirely on this machine."""
    from ops.outputs import LOCAL

    outputs = stack.outputs
    local = stack.name == LOCAL
    missing = [key for key in (LOCAL_KEYS if local else DEPLOYED_KEYS) if not outputs.get(key)]
    if missing:
        where = "local stack outputs" if local else f"stack {stack.config.stack_name}"
        raise LoadTestError(f"{where} lack {', '.join(missing)}")
    if local:
        for key in (output_keys.API_URL, local_output_keys.AWS_ENDPOINT, local_output_keys.CONTROL_URL):
            if urlsplit(outputs[key]).hostname not in LOOPBACK:
                raise LoadTestError(f"local stack output {key}={outputs[key]!r} is not on 127.0.0.1")
    stack.api_key()  # looked up now (and kept): a key that cannot be read stops the run before it starts
    return stack
