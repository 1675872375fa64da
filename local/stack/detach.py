"""`invoke up --detach`: the local stack in the background, returning once it is healthy.

The runtime runs in a session of its own (Ctrl-C in the shell does not reach it; `invoke down` stops it);
its console — startup progress and alarm transitions — goes to `<state>/console.log`, not the user's shell.
"Healthy" is the runtime's own signal: it writes its outputs file after every part has started, and then its
control API answers a status request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cloudformation import output_keys
from core.config import Config
from local.stack.background import start_background_stack
from local.stack.ports import Ports, ensure_ports_free
from local.stack.recovery import surviving_moto
from local.state import StatePaths
from ops import local_output_keys
from ops.local_credentials import LOCAL_CREDENTIALS_ENVIRONMENT
from ops.state_folder import DEFAULT_STATE_DIR, STATE_DIR_VARIABLE

# AWS CLI v1 pins `aws sqs` to SQS's legacy endpoint unless --endpoint-url is given (its customization
# overridesslcommonname.py), so AWS_ENDPOINT_URL does not reach it; v2 and the SDKs honour the variable.
CLI_V1_SQS_NOTE = "AWS CLI v1's `aws sqs` ignores AWS_ENDPOINT_URL: add --endpoint-url $AWS_ENDPOINT_URL"


def up_detached(config: Config, ports: Ports, state_dir: Path) -> str:
    """Start the stack in the background, wait until it answers, and return where everything is."""
    # A moto server a crashed runtime left running holds the AWS port: the new runtime resumes on it.
    adopting = surviving_moto(StatePaths(state_dir).moto_pidfile) is not None
    ensure_ports_free(ports, ("api", "control") if adopting else ("aws", "api", "control"))
    # A stack that died hard leaves its outputs behind: they must not pass for the new stack's readiness.
    StatePaths(state_dir).outputs.unlink(missing_ok=True)
    try:
        stack = start_background_stack(state_dir, config.env, ports, detached=True)
    except RuntimeError:
        raise RuntimeError(f"the local stack did not start: {_last_error(state_dir / 'console.log')}") from None
    status = stack.status()
    return where_everything_is(stack.outputs, status, state_dir)


def _last_error(console: Path) -> str:
    lines = [line.strip() for line in console.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    detail = (errors or lines or ["no output"])[-1].removeprefix("error: ")
    return f"{detail} (see {console})"


def where_everything_is(outputs: dict[str, Any], status: dict[str, Any], state_dir: Path) -> str:
    alarms = status.get("alarms", {})
    firing = sorted(name for name, state in alarms.items() if state == "ALARM")
    endpoint, console = outputs[local_output_keys.AWS_ENDPOINT], outputs[local_output_keys.CONSOLE_URL]
    api, key_file = outputs[output_keys.API_URL], StatePaths(state_dir).outputs
    environment = (
        f"export AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION={outputs[local_output_keys.REGION]} "
        + " ".join(f"{name}={value}" for name, value in LOCAL_CREDENTIALS_ENVIRONMENT.items())
    )
    state_hint = (
        []
        if state_dir == DEFAULT_STATE_DIR
        else [f"  state      {STATE_DIR_VARIABLE}={state_dir} for every other task"]
    )
    return "\n".join(
        [
            "Sluice local stack is up (in the background)",
            f"  console    {console}   (open it in a browser: dashboards, alarms, faults)",
            f"  API        {api}/events   (x-api-key: {local_output_keys.API_KEY} in {key_file})",
            f"  AWS        {endpoint}   for the aws CLI, paste:",
            f"             {environment}",
            f"             ({CLI_V1_SQS_NOTE})",
            *state_hint,
            f"  table      {outputs[output_keys.TABLE_NAME]}   ({status.get('table_items', 0)} items)",
            f"  alarms     {len(alarms)} evaluated, in ALARM: {', '.join(firing) or 'none'}",
            f"  logs       invoke logs [--errors] [--follow]   (console: {state_dir / 'console.log'})",
            "  next       invoke status | invoke chaos FAULT | invoke dashboard | invoke down",
        ]
    )
