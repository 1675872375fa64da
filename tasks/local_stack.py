"""The local stack (local/): start and stop it, look at it, break it on purpose, run the demo."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke import Context, Exit

from local.services.faults import FAULTS
from local.state import DEFAULT_PATHS
from ops import local_output_keys
from ops.state_folder import STATE_DIR_VARIABLE
from tasks.common import config_of, task

if TYPE_CHECKING:  # the stack's modules are imported when a task runs: `invoke --list` stays fast
    from core.config import Config
    from local.stack.ports import Ports


def local_outputs() -> dict[str, Any]:
    import json

    if not DEFAULT_PATHS.outputs.exists():
        raise Exit("error: no local stack is running (start one with `invoke up`)", code=1)
    outputs: dict[str, Any] = json.loads(DEFAULT_PATHS.outputs.read_text())
    return outputs


def control(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One call of the running stack's control API; a dead stack or a refused call is one line."""
    from local.console.control_client import ControlClient, ControlError, Unreachable
    from local.stack.recovery import crash_hint

    try:
        return ControlClient(local_outputs()[local_output_keys.CONTROL_URL]).call(method, path, body)
    except Unreachable as error:
        raise Exit(f"error: {error}: {crash_hint(DEFAULT_PATHS.root)}", code=1) from None
    except ControlError as error:
        raise Exit(f"error: {error}", code=1) from None


PLACE_HELP = {
    "aws_port": "moto server's port (default: SLUICE_AWS_PORT, else local.aws_port in sluice.toml, 4566)",
    "api_port": "the API gateway's port (default: SLUICE_API_PORT, else local.api_port, 3000)",
    "console_port": "the console and control API port (default: SLUICE_CONSOLE_PORT, else local.console_port, 3001)",
    "state_dir": f"the stack's state folder (default: {STATE_DIR_VARIABLE}, else .local); other tasks read "
    f"{STATE_DIR_VARIABLE}",
}


def placement(
    config: Config, aws_port: str | None, api_port: str | None, console_port: str | None, state_dir: str | None
) -> tuple[Ports, Path]:
    """The ports and the state folder `invoke up`/`demo` use: flag, else environment, else sluice.toml."""
    import os

    from local.stack.ports import PortChoiceError, chosen_ports

    flags = {"aws": aws_port, "api": api_port, "control": console_port}
    try:
        ports = chosen_ports(config, flags, os.environ)
    except PortChoiceError as error:
        raise Exit(f"error: {error}", code=2) from None
    return ports, Path(state_dir).expanduser().resolve() if state_dir else DEFAULT_PATHS.root


@task(
    help={
        "env": "configuration environment to run locally (default: local)",
        "detach": "run in the background: return once the stack is healthy; `invoke down` stops it",
        **PLACE_HELP,
    }
)
def up(
    c: Context,
    env: str = "local",
    detach: bool = False,
    aws_port: str | None = None,
    api_port: str | None = None,
    console_port: str | None = None,
    state_dir: str | None = None,
) -> None:
    """Start the local stack (moto server, the template, the handlers, gateway, alarms); Ctrl-C stops it."""
    from local.stack.runtime import run_foreground

    config = config_of(env)
    ports, folder = placement(config, aws_port, api_port, console_port, state_dir)
    try:
        if detach:
            from local.stack.detach import up_detached

            print("starting the local stack in the background (about 15 s) …", flush=True)
            print(up_detached(config, ports, folder))
            return
        run_foreground(config, ports, folder)
    except Exception as error:  # one line for the operator; details are in the state folder's logs
        raise Exit(f"error: {error}", code=1) from None


@task
def down(c: Context) -> None:
    """Stop the local stack started by `invoke up` in another shell."""
    from local.emulation.process import stop_from_pidfile

    runtime, moto = DEFAULT_PATHS.pidfile, DEFAULT_PATHS.moto_pidfile
    if not runtime.exists() and not moto.exists():
        print(
            f"no local stack is running on the state folder {DEFAULT_PATHS.root} ({STATE_DIR_VARIABLE} names another)"
        )
        return
    # The runtime stops moto itself; moto's own pidfile catches a runtime that died without cleaning up.
    stopped = stop_from_pidfile(runtime, timeout=30) and stop_from_pidfile(moto, timeout=10)
    if not stopped:
        raise Exit("error: the local stack did not stop; see .local/logs/runtime.log", code=1)
    for path in (DEFAULT_PATHS.outputs, DEFAULT_PATHS.stack):  # stack.json: how a restart resumes on a surviving moto
        path.unlink(missing_ok=True)
    print("local stack stopped")


@task
def status(c: Context) -> None:
    """Endpoints, queue depths, table items, archive and parked objects, every alarm's state and active faults."""
    state = control("GET", "/status")
    endpoints = state["endpoints"]
    print(f"API        {endpoints['ApiUrl']}/events")
    print(f"AWS        {endpoints['AwsEndpoint']}")
    for name, depth in state["queues"].items():
        print(f"queue      {name:<12} {depth['visible']:>6} waiting {depth['in_flight']:>6} in flight")
    print(f"in flight  at most {state['in_flight_limit']} per queue (SQS's cap; at it a long poll receives nothing)")
    print(f"table      {state['table_items']} items")
    print(f"archive    {state['archive_objects']} objects")
    print(f"parked     {state['parked_objects']} objects (the store did not take them); breaker {state['breaker']}")
    faults = ", ".join(f"{name} ({seconds:.0f} s left)" for name, seconds in state["chaos"].items())
    print(f"faults     {faults or 'none'}")
    mappings = ", ".join(f"{name} {mapping}" for name, mapping in state.get("mappings", {}).items())
    print(f"mappings   {mappings or 'none'}   (a Disabled one polls nothing: aws lambda update-event-source-mapping)")
    print(f"canary     {state.get('canary', 'off')}")
    for name, alarm_state in sorted(state["alarms"].items()):
        print(f"alarm      {alarm_state:<17} {name}")


@task(
    help={
        "fault": "; ".join(f"{name}: {fault.description}" for name, fault in FAULTS.items()),
        "seconds": "how long the fault lasts (it lifts itself; default 60); 0 lifts it now",
    }
)
def chaos(c: Context, fault: str, seconds: float = 60) -> None:
    """Inject a fault into the running stack (at its handlers' AWS calls, or its consumer's mapping), lifted on time."""
    active = control("POST", "/chaos", {"fault": fault, "seconds": float(seconds)})["active"]
    print(f"{fault}: {'lifted' if float(seconds) == 0 else f'active for {float(seconds):.0f} s'}")
    print("active faults: " + (", ".join(sorted(active)) or "none"))


@task(help={"env": "configuration environment to run locally (default: local)", **PLACE_HELP})
def demo(
    c: Context,
    env: str = "local",
    aws_port: str | None = None,
    api_port: str | None = None,
    console_port: str | None = None,
    state_dir: str | None = None,
) -> None:
    """Bring the local stack up, send real traffic, wait for the queue to drain, report, stop."""
    from local.stack.demo import run_demo

    config = config_of(env)
    ports, folder = placement(config, aws_port, api_port, console_port, state_dir)
    try:
        code = run_demo(config, ports, folder)
    except Exception as error:
        raise Exit(f"error: {error}", code=1) from None
    if code:
        raise Exit("demo: some accepted events were not stored", code=code)


@task(help={"out": "folder for the PNG and HTML files (default: .local/dashboards)"})
def dashboard(c: Context, out: str = ".local/dashboards") -> None:
    """Render the running local stack's dashboards (data from its CloudWatch) to PNG and HTML."""
    from datetime import UTC, datetime
    from pathlib import Path

    from local.console.dashboard_render import render_stack_dashboards
    from local.deploying.deploy import clients
    from synth.synthesize import full_template

    outputs = local_outputs()
    template = full_template(config_of("local")).to_dict()
    cloudwatch = clients(outputs[local_output_keys.AWS_ENDPOINT], outputs[local_output_keys.REGION])("cloudwatch")
    since = outputs.get(local_output_keys.STARTED_AT)  # the graphs start with the stack, not 30 minutes before it
    evaluated = control("GET", "/status")["alarms"]  # composites' states live in the local evaluator
    producers = control("GET", "/producers")  # the local gateway's requests per key ("Who is sending?")
    now = datetime.now(UTC)
    for png, html in render_stack_dashboards(cloudwatch, template, Path(out), now, since, evaluated, producers):
        print(f"{png}\n{html}")


@task(
    help={
        "errors": "only errors, one line each with what was raised, and alarms going off: why did it fail?",
        "follow": "then keep printing new lines as they are written (Ctrl-C stops)",
        "lines": "last lines per log (default 40)",
    }
)
def logs(c: Context, errors: bool = False, follow: bool = False, lines: int = 40) -> None:
    """Show the local stack's logs: the runtime, the handlers (metric lines apart) and alarm notifications."""
    import sys

    from local.stack.logs import show

    folder = DEFAULT_PATHS.logs
    if not folder.is_dir():
        raise Exit(f"error: no logs in {folder} yet (start the stack with `invoke up`)", code=1)
    try:
        shown = show(folder, sys.stdout, errors_only=errors, lines=lines, follow=follow)
    except KeyboardInterrupt:
        return
    if not shown:
        print(f"no errors in {folder}" if errors else f"the logs in {folder} are empty")
