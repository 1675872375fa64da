"""Sluice operator tasks. `invoke --list` shows them; `invoke --help TASK` shows a task's options."""

from __future__ import annotations

from invoke import Collection, Exit, task

from cloudformation.config import ConfigError, load_config
from ops.invoke_cli import install as install_cli_errors

# Argument errors in our words (one line, the usage when something is missing); `| head` ends quietly.
install_cli_errors()


def _config(env: str):
    try:
        return load_config(env)
    except ConfigError as error:
        raise Exit(f"error: {error}", code=2) from None


@task(help={"env": "environment: a table of sluice.toml (default: local)"})
def synth(c, env="local"):
    """Write build/<env>/template.json and print the resource count by type."""
    from cloudformation.synth import synthesize

    print(synthesize(_config(env)).summary())


@task(help={"env": "environment to synthesize and scan (default: local)"})
def validate(c, env="local"):
    """Scan the template with cfn-lint (serverless rules) and checkov; fail on any unexcepted finding."""
    from cloudformation.scan_exceptions import SCAN_EXCEPTIONS
    from cloudformation.synth import synthesize
    from cloudformation.validate import ScannerError, scan

    synthesized = synthesize(_config(env))
    print(synthesized.summary())
    try:
        report = scan(synthesized.path)
    except ScannerError as error:
        raise Exit(f"error: {error}", code=2) from None
    for finding in report.excepted:
        print(f"  excepted {finding.check_id:<12} {finding.resource}: {SCAN_EXCEPTIONS[finding.check_id]}")
    for finding in report.failures:
        print(f"  FAILED   {finding.check_id:<12} {finding.resource}: {finding.message}")
    print(report.summary())
    if report.failures:
        raise Exit(f"validate: {len(report.failures)} finding(s) not on the justified list", code=1)


namespace = Collection(synth, validate)


# --- the local stack (local/) ---


def _local_outputs() -> dict:
    import json

    from local.state import DEFAULT_PATHS

    if not DEFAULT_PATHS.outputs.exists():
        raise Exit("error: no local stack is running (start one with `invoke up`)", code=1)
    return json.loads(DEFAULT_PATHS.outputs.read_text())


def _control(method: str, path: str, body: dict | None = None) -> dict | list:
    from local.control_client import ControlClient, ControlError, Unreachable
    from local.recovery import crash_hint

    try:
        return ControlClient(_local_outputs()["ControlUrl"]).call(method, path, body)
    except Unreachable as error:
        raise Exit(f"error: {error}: {crash_hint(_state_dir())}", code=1) from None
    except ControlError as error:
        raise Exit(f"error: {error}", code=1) from None


@task(
    help={
        "env": "configuration environment to run locally (default: local)",
        "detach": "run in the background: return once the stack is healthy; `invoke down` stops it",
    }
)
def up(c, env="local", detach=False):
    """Start the local stack (moto server, the template, the handlers, gateway, alarms); Ctrl-C stops it."""
    from local.runtime import Ports, run_foreground

    config = _config(env)
    try:
        if detach:
            from local.detach import up_detached

            print("starting the local stack in the background (about 15 s) …", flush=True)
            print(up_detached(config, Ports.from_config(config), _state_dir()))
            return
        run_foreground(config, Ports.from_config(config), _state_dir())
    except Exception as error:  # one line for the operator; details are in .local/logs
        raise Exit(f"error: {error}", code=1) from None


def _state_dir():
    from local.state import DEFAULT_STATE_DIR

    return DEFAULT_STATE_DIR


@task
def down(c):
    """Stop the local stack started by `invoke up` in another shell."""
    from local.emulator import stop_from_pidfile
    from local.state import DEFAULT_PATHS

    runtime, moto = DEFAULT_PATHS.pidfile, DEFAULT_PATHS.moto_pidfile
    if not runtime.exists() and not moto.exists():
        print("no local stack is running")
        return
    # The runtime stops moto itself; moto's own pidfile catches a runtime that died without cleaning up.
    stopped = stop_from_pidfile(runtime, timeout=30) and stop_from_pidfile(moto, timeout=10)
    if not stopped:
        raise Exit("error: the local stack did not stop; see .local/logs/runtime.log", code=1)
    for path in (DEFAULT_PATHS.outputs, DEFAULT_PATHS.stack):  # stack.json: how a restart resumes on a surviving moto
        path.unlink(missing_ok=True)
    print("local stack stopped")


@task
def status(c):
    """Endpoints, queue depths, table items, archive objects, every alarm's state and active faults."""
    state = _control("GET", "/status")
    endpoints = state["endpoints"]
    print(f"API        {endpoints['ApiUrl']}/events")
    print(f"AWS        {endpoints['AwsEndpoint']}")
    for name, depth in state["queues"].items():
        print(f"queue      {name:<12} {depth['visible']:>6} waiting {depth['in_flight']:>6} in flight")
    print(f"table      {state['table_items']} items")
    print(f"archive    {state['archive_objects']} objects")
    faults = ", ".join(f"{name} ({seconds:.0f} s left)" for name, seconds in state["chaos"].items())
    print(f"faults     {faults or 'none'}")
    print(f"canary     {state.get('canary', 'off')}")
    for name, alarm_state in sorted(state["alarms"].items()):
        print(f"alarm      {alarm_state:<17} {name}")


@task(
    help={
        "fault": "db-down | db-throttle | archive-down | queue-down | consumer-crash",
        "seconds": "how long the fault lasts (it lifts itself); 0 lifts it now",
    }
)
def chaos(c, fault, seconds=60):
    """Inject a fault at the AWS-call boundary of the running handlers, lifted on time."""
    active = _control("POST", "/chaos", {"fault": fault, "seconds": float(seconds)})["active"]
    print(f"{fault}: {'lifted' if float(seconds) == 0 else f'active for {float(seconds):.0f} s'}")
    print("active faults: " + (", ".join(sorted(active)) or "none"))


@task(help={"env": "configuration environment to run locally (default: local)"})
def demo(c, env="local"):
    """Bring the local stack up, send real traffic, wait for the queue to drain, report, stop."""
    from local.demo import run_demo
    from local.runtime import Ports

    config = _config(env)
    try:
        code = run_demo(config, Ports.from_config(config), _state_dir())
    except Exception as error:
        raise Exit(f"error: {error}", code=1) from None
    if code:
        raise Exit("demo: some accepted events were not stored", code=code)


@task(help={"out": "folder for the PNG and HTML files (default: .local/dashboards)"})
def dashboard(c, out=".local/dashboards"):
    """Render the running local stack's dashboards (data from its CloudWatch) to PNG and HTML."""
    from datetime import UTC, datetime
    from pathlib import Path

    from cloudformation.synth import full_template
    from local.dashboard_render import render_stack_dashboards
    from local.deploy import clients

    outputs = _local_outputs()
    template = full_template(_config("local")).to_dict()
    cloudwatch = clients(outputs["AwsEndpoint"], outputs["Region"])("cloudwatch")
    since = outputs.get("StartedAt")  # the graphs start with the stack, not 30 minutes before it
    evaluated = _control("GET", "/status")["alarms"]  # composites' states live in the local evaluator
    for png, html in render_stack_dashboards(cloudwatch, template, Path(out), datetime.now(UTC), since, evaluated):
        print(f"{png}\n{html}")


@task(
    help={
        "errors": "only errors (with their tracebacks) and alarms going off: why did it fail?",
        "follow": "then keep printing new lines as they are written (Ctrl-C stops)",
        "lines": "last lines per log (default 40)",
    }
)
def logs(c, errors=False, follow=False, lines=40):
    """Show the local stack's logs: the runtime, the handlers (metric lines apart) and alarm notifications."""
    import sys

    from local.logs import show

    folder = _state_dir() / "logs"
    if not folder.is_dir():
        raise Exit(f"error: no logs in {folder} yet (start the stack with `invoke up`)", code=1)
    try:
        shown = show(folder, sys.stdout, errors_only=errors, lines=lines, follow=follow)
    except KeyboardInterrupt:
        return
    if not shown:
        print(f"no errors in {folder}" if errors else f"the logs in {folder} are empty")


@task(help={"only": "run one suite: functions | package | pipeline | sqs | items (default: all)"})
def bench(c, only=""):
    """Run the benchmarks (not tests): each against a baseline measured in the same run, printed as ratios."""
    suites = {
        "functions": "benchmarks.functions_bench",
        "package": "benchmarks.package_bench",
        "pipeline": "benchmarks.pipeline_bench",
        "sqs": "benchmarks.sqs_depth_bench",
        "items": "benchmarks.item_size_bench",
    }
    if only and only not in suites:
        raise Exit(f"error: --only must be one of {', '.join(suites)}, got {only!r}", code=2)
    import importlib

    for name, module in suites.items():
        if only in ("", name):
            print(f"== {name} ==")
            importlib.import_module(module).main()


namespace.add_task(up)
namespace.add_task(down)
namespace.add_task(bench)
namespace.add_task(dashboard)
namespace.add_task(status)
namespace.add_task(chaos)
namespace.add_task(demo)
namespace.add_task(logs)


# --- deploy and operate (ops/) ---
# Thin wrappers: parse, call a function of ops/, print. An OpsError becomes one line, never a traceback.

_TARGET_HELP = "local (the local stack, the default) or an environment name (its deployed stack)"
_AWS_HELP = {"profile": "AWS profile (default: the environment's)", "region": "AWS region (default: the config's)"}


class _OpsErrors:
    """`with _OpsErrors():` turns ops.errors.OpsError into `Exit("error: ...")`."""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        from ops.errors import OpsError

        if isinstance(error, OpsError):
            raise Exit(f"error: {error}", code=1) from None
        return False


def _aws_config(env: str):
    if env == "local":
        raise Exit("error: the local environment is not deployed to AWS: start it with `invoke up`", code=2)
    return _config(env)


def _session(config, profile, region):
    from ops.aws import make_session

    with _OpsErrors():
        return make_session(profile, region or config.region)


def _target(target: str, profile, region):
    from ops.outputs import resolve_target

    with _OpsErrors():
        return resolve_target(target, profile, region)


def _confirmation_possible(yes: bool, action: str) -> None:
    import sys

    if not yes and not sys.stdin.isatty():
        raise Exit(f"error: {action} needs a confirmation and there is no terminal to ask on: pass --yes", code=2)


def _typed(prompt: str, expected: str) -> bool:
    try:
        return input(prompt).strip() == expected
    except EOFError:
        return False


@task(help={"env": "environment to package for", **_AWS_HELP})
def package(c, env, profile=None, region=None):
    """Build reproducible function zips and upload the new ones to the artifacts bucket."""
    from ops.stack import package_environment

    config = _aws_config(env)
    with _OpsErrors():
        published = package_environment(config, _session(config, profile, region))
    print("\n".join(published.summary()))


@task(help={"env": "environment whose stack to compare", **_AWS_HELP})
def diff(c, env, profile=None, region=None):
    """Show what a deploy would change (a change set, deleted afterwards); executes nothing."""
    from ops.deploy import preview_stack
    from ops.stack import environment_stack

    config = _aws_config(env)
    session = _session(config, profile, region)
    with _OpsErrors():
        preview_stack(session.client("cloudformation"), environment_stack(config, session))


def _preflight(config, session, *, subscriptions: bool = True) -> None:
    """Print the read-only account checks, one line each; Exit when one FAILs."""
    from ops.preflight import Clients, deployed_outputs, failed, run_preflight

    with _OpsErrors():
        outputs = deployed_outputs(session.client("cloudformation"), config.stack_name)
        checks = run_preflight(config, Clients.of(session), outputs, subscriptions=subscriptions)
    print(f"preflight of {config.stack_name}:")
    for check in checks:
        print(f"  {check.line()}")
    if failed(checks):
        raise Exit(f"error: preflight: {len(failed(checks))} check(s) FAIL: do what they say, then run again", code=1)


@task(help={"env": "environment to check", **_AWS_HELP})
def preflight(c, env, profile=None, region=None):
    """Read-only checks of the AWS account for an environment: one line each, ok / warn / FAIL and what to do."""
    config = _aws_config(env)
    _preflight(config, _session(config, profile, region))


@task(
    help={
        "env": "environment to deploy",
        "yes": "execute without asking (needed when there is no terminal)",
        "timeout_minutes": "give up waiting for the stack after this long (default 60)",
        **_AWS_HELP,
    }
)
def deploy(c, env, yes=False, profile=None, region=None, timeout_minutes=60):
    """Preflight, package, create a change set, confirm, execute it and stream the events; print the outputs."""
    from ops.deploy import deploy_stack
    from ops.stack import environment_stack

    config = _aws_config(env)
    _confirmation_possible(yes, f"deploying {config.stack_name}")
    session = _session(config, profile, region)
    _preflight(config, session, subscriptions=False)  # subscriptions: reported once the stack is up
    with _OpsErrors():
        outcome = deploy_stack(
            session.client("cloudformation"),
            environment_stack(config, session),
            confirm=lambda change_set: (
                yes or _typed(f"type 'yes' to deploy these changes to {config.stack_name}: ", "yes")
            ),
            timeout_seconds=timeout_minutes * 60,
        )
    if not outcome.ok:
        raise Exit(f"error: deploy of {config.stack_name} failed (see the reasons above)", code=1)
    if outcome.outputs.get("ApiKeyId"):
        print(f"API key value: aws apigateway get-api-key --api-key {outcome.outputs['ApiKeyId']} --include-value")
    if outcome.outputs.get("HighTopicArn"):
        from ops.preflight import subscription_check

        print(subscription_check(session.client("sns"), outcome.outputs["HighTopicArn"]).line())


@task(help={"env": "environment to destroy", "yes": "delete without asking for the stack name", **_AWS_HELP})
def destroy(c, env, yes=False, profile=None, region=None):
    """Delete the environment's stack; the table, the archive and their KMS key are kept and listed."""
    from ops.deploy import destroy_stack

    config = _aws_config(env)
    _confirmation_possible(yes, f"destroying {config.stack_name}")
    session = _session(config, profile, region)
    with _OpsErrors():
        outcome = destroy_stack(
            session.client("cloudformation"),
            config.stack_name,
            confirm=lambda retained: (
                yes or _typed(f"type the stack name ({config.stack_name}) to delete it: ", config.stack_name)
            ),
        )
    if outcome.result == "failed":
        raise Exit(f"error: destroying {config.stack_name} failed (see the reasons above)", code=1)


@task(
    help={
        "file": "JSON Lines file of events (one JSON object per line), or - for stdin",
        "target": _TARGET_HELP,
        "ids_out": "write the accepted event ids here, one per line",
        "batch": "events per request (default and maximum: api.max_batch_events)",
        **_AWS_HELP,
    }
)
def send(c, file, target="local", ids_out=None, batch=0, profile=None, region=None):
    """Send events to the API in batches; print how many were accepted and why any were rejected."""
    import sys
    from pathlib import Path

    from ops.progress import Progress
    from ops.send import Sender, read_events, send_events, write_ids

    if ids_out and not Path(ids_out).resolve().parent.is_dir():
        raise Exit(f"error: --ids-out: directory {Path(ids_out).parent} does not exist", code=2)
    with _OpsErrors():
        events = read_events(file)
        resolved = _target(target, profile, region)
        api = resolved.config.api
        size = batch or api.max_batch_events
        if not 1 <= size <= api.max_batch_events:
            raise Exit(f"error: --batch: expected 1–{api.max_batch_events}, got {batch}", code=2)
        sender = Sender(resolved.require("ApiUrl"), resolved.api_key())
        result = send_events(
            events,
            sender,
            max_events=size,
            max_body_bytes=api.max_body_bytes,
            max_event_bytes=api.max_event_bytes,
            progress=Progress("send", total=len(events), stream=sys.stderr),
        )
        if ids_out:
            write_ids(ids_out, result.accepted_ids)
    print("\n".join(result.summary()))
    if ids_out:
        print(f"accepted ids written to {ids_out}")
    if result.rejected:
        raise Exit(code=1)


@task(
    help={
        "since": "start of the window (ISO 8601, UTC unless an offset is given), by archive time",
        "until": "end of the window (default: now)",
        "dry_run": "read and count, send nothing",
        "target": _TARGET_HELP,
        **_AWS_HELP,
    }
)
def replay(c, since, until=None, dry_run=False, target="local", profile=None, region=None):
    """Send archived DLQ messages in a time window back to the ingest queue, with their original event ids."""
    import sys

    from ops.replay import replay as run_replay
    from ops.timeparse import parse_window

    with _OpsErrors():
        start, end = parse_window(since, until)
        resolved = _target(target, profile, region)
        result = run_replay(
            resolved.client("s3"),
            resolved.client("sqs"),
            resolved.require("ArchiveBucket"),
            resolved.require("QueueUrl"),
            start,
            end,
            dry_run=dry_run,
            progress_stream=sys.stderr,
        )
    print("\n".join(result.summary(dry_run)))
    if result.failed:
        raise Exit(code=1)


@task(
    help={
        "target": _TARGET_HELP,
        "limit": "move at most this many messages (by hand, not with a move task); 0: all",
        **_AWS_HELP,
    }
)
def redrive(c, target="local", limit=0, profile=None, region=None):
    """Move the dead-letter queue's messages back to the ingest queue."""
    import sys

    from botocore.config import Config as BotoConfig

    from ops.redrive import redrive as run_redrive

    with _OpsErrors():
        resolved = _target(target, profile, region)
        result = run_redrive(
            resolved.client("sqs"),
            resolved.require("DeadLetterQueueUrl"),
            resolved.require("QueueUrl"),
            limit=limit or None,
            progress_stream=sys.stderr,
            # No retries for the move-task call: an endpoint without it should say so at once.
            move_client=resolved.client("sqs", config=BotoConfig(retries={"total_max_attempts": 1})),
        )
    print("\n".join(result.summary()))
    if result.failed:
        raise Exit(code=1)


@task(
    help={
        "ids": "client log of accepted ids: one per line, or JSON lines with `ids` (the API's 202 bodies)",
        "since": "without --ids: start of the window to compare the EventsAccepted metric over",
        "until": "without --ids: end of the window (default: now)",
        "sink": "dynamodb (the table, default) or s3 (the analytics store: missing and duplicated, with --ids)",
        "target": _TARGET_HELP,
        **_AWS_HELP,
    }
)
def reconcile(c, ids=None, since=None, until=None, sink="dynamodb", target="local", profile=None, region=None):
    """Check that accepted events reached a sink; say where missing ones are and how to bring them back."""
    import sys

    from ops.reconcile import read_ids, reconcile_ids, reconcile_ids_s3, reconcile_window
    from ops.timeparse import parse_window
    from ops.whereabouts import locate

    if sink not in ("dynamodb", "s3"):
        raise Exit(f"error: --sink: expected dynamodb or s3, got {sink!r}", code=2)
    if sink == "s3" and not ids:
        raise Exit("error: reconcile --sink s3 needs --ids FILE (the store has no metric window)", code=2)
    with _OpsErrors():
        if ids and sink == "s3":
            listed = read_ids(ids)
            resolved = _target(target, profile, region)
            result = reconcile_ids_s3(
                resolved.client("s3"), resolved.require("AnalyticsBucket"), listed, progress_stream=sys.stderr
            )
        elif ids:
            listed = read_ids(ids)
            resolved = _target(target, profile, region)
            result = reconcile_ids(
                resolved.client("dynamodb"), resolved.require("TableName"), listed, progress_stream=sys.stderr
            )
            if result.missing:
                result.whereabouts = locate(
                    result.missing,
                    resolved.client("sqs"),
                    resolved.client("s3"),
                    resolved.require("QueueUrl"),
                    resolved.require("DeadLetterQueueUrl"),
                    resolved.require("ArchiveBucket"),
                )
        else:
            if not since:
                raise Exit("error: reconcile needs --ids FILE, or --since ISO to compare metric and table", code=2)
            start, end = parse_window(since, until)
            resolved = _target(target, profile, region)
            result = reconcile_window(
                resolved.client("cloudwatch"),
                resolved.client("dynamodb"),
                resolved.require("TableName"),
                resolved.config.metrics_namespace,
                start,
                end,
                progress_stream=sys.stderr,
            )
            result.whereabouts = locate(
                [],
                resolved.client("sqs"),
                resolved.client("s3"),
                resolved.require("QueueUrl"),
                resolved.require("DeadLetterQueueUrl"),
                resolved.require("ArchiveBucket"),
            )
    print("\n".join(result.summary()))
    if getattr(result, "missing", None) or getattr(result, "duplicated", None):
        raise Exit(code=1)


@task(name="get", help={"event_id": "the event id (the table key)", "target": _TARGET_HELP, **_AWS_HELP})
def events_get(c, event_id, target="local", profile=None, region=None):
    """Print one stored event as JSON."""
    import json

    from ops.events import get_event

    with _OpsErrors():
        resolved = _target(target, profile, region)
        table = resolved.require("TableName")
        item = get_event(resolved.client("dynamodb"), table, event_id)
    if item is None:
        raise Exit(f"error: no event {event_id!r} in {table}", code=1)
    print(json.dumps(item, indent=2, sort_keys=True))


@task(
    name="list",
    help={
        "since": "received at or after (ISO 8601)",
        "until": "received before (default: now)",
        "limit": "at most this many, newest first (default 20)",
        "target": _TARGET_HELP,
        **_AWS_HELP,
    },
)
def events_list(c, since, until=None, limit=20, target="local", profile=None, region=None):
    """Print the newest stored events received in a window, one JSON object per line."""
    import json
    import sys

    from ops.events import list_events
    from ops.timeparse import parse_window

    if limit < 1:
        raise Exit("error: --limit: expected a positive number", code=2)
    with _OpsErrors():
        start, end = parse_window(since, until)
        resolved = _target(target, profile, region)
        items, truncated = list_events(
            resolved.client("dynamodb"),
            resolved.require("TableName"),
            start,
            end,
            limit=limit,
            progress_stream=sys.stderr,
        )
    for item in items:
        print(json.dumps(item, sort_keys=True))
    if truncated:
        print("note: the scan stopped early on a large table; older matches may be missing", file=sys.stderr)


@task(name="query", help={"sql": "the SQL, over table `events`", "env": _TARGET_HELP, **_AWS_HELP})
def events_query(c, sql, env="local", profile=None, region=None):
    """Run SQL over the S3 analytics store: Athena on AWS, DuckDB over the local S3 objects locally."""
    import sys

    from ops.cost import Prices
    from ops.query import format_result, query_athena, query_local

    with _OpsErrors():
        resolved = _target(env, profile, region)
        if "s3" not in resolved.config.sinks:
            raise Exit(f'error: {env} has no S3 analytics store: set sinks = ["dynamodb", "s3"] in sluice.toml', code=2)
        if resolved.name == "local":
            result = query_local(
                resolved.client("s3"), resolved.require("AnalyticsBucket"), sql, progress_stream=sys.stderr
            )
        else:
            result = query_athena(
                resolved.client("athena"),
                sql,
                resolved.require("AnalyticsDatabase"),
                resolved.require("AnalyticsWorkGroup"),
                Prices.load()("athena", "scanned_tb"),
                progress_stream=sys.stderr,
            )
    print("\n".join(format_result(result)))
    for note in result.notes:
        print(note, file=sys.stderr)


@task(
    help={
        "rate": "steady events per second",
        "event_bytes": "bytes per event (default 1024)",
        "batch": "events per API request for the batched shape (default 50)",
        "env": "environment whose configuration to price (default: prod)",
        "outage_hours": "also price the retries of a database outage this long (default 1)",
    }
)
def cost(c, rate, event_bytes=1024, batch=50, env="prod", outage_hours=1.0):
    """Estimate the monthly cost line by line, naive shape beside ours, and the budget it suggests."""
    import json

    from cloudformation.synth import full_template
    from cloudformation.template import render
    from ops.cost import (
        Assumptions,
        Inventory,
        Prices,
        Workload,
        check_batch,
        estimate,
        format_comparison,
        format_estimate,
        format_outage,
        format_sinks,
        keyed_request_cost,
        outage_estimate,
        shapes,
        sink_shapes,
    )

    try:
        events_per_second = float(rate)
    except ValueError:
        raise Exit(f"error: --rate: expected events per second (a number), got {rate!r}", code=2) from None
    if events_per_second <= 0:
        raise Exit("error: --rate: expected a positive number of events per second", code=2)
    try:
        outage = float(outage_hours)
    except ValueError:
        raise Exit(f"error: --outage-hours: expected hours (a number), got {outage_hours!r}", code=2) from None
    if outage < 0:
        raise Exit("error: --outage-hours: expected zero or more hours", code=2)
    config = _config(env)
    with _OpsErrors():
        check_batch(config, batch, event_bytes)
        prices = Prices.load()
        workload = Workload(events_per_second, event_bytes, prices("meta", "hours_per_month"))
        inventory = Inventory.from_template(json.loads(render(full_template(config))))
        assumptions = Assumptions()
        estimates = [estimate(config, prices, workload, shape, inventory, assumptions) for shape in shapes(batch)]
        keyed = [
            keyed_request_cost(config, prices, events, event_bytes, assumptions).line(prices)
            for events in sorted({1, batch})
        ]
        by_sinks = [estimate(config, prices, workload, shape, inventory, assumptions) for shape in sink_shapes(batch)]
        outage_cost = outage_estimate(config, prices, workload, outage, assumptions)
        as_of, region = prices.text("meta", "as_of"), prices.text("meta", "region")
    print(
        f"Sluice cost estimate for {config.stack_name}: {events_per_second:g} events/s of {event_bytes} B "
        f"= {workload.events_per_month / 1e6:,.1f} M events per {workload.hours_per_month:g}-hour month"
    )
    print(f"{region} list prices as of {as_of} (ops/prices.toml); no free tier, no discounts")
    for item in estimates:
        print()
        print("\n".join(format_estimate(item)))
    print()
    print("\n".join(format_comparison(estimates, config)))
    print("\n".join(keyed))
    print()
    print("\n".join(format_sinks(by_sinks, ("dynamodb",))))
    print()
    print("\n".join(format_outage(outage_cost, config)))
    print("\nassumptions (estimates, not measurements):")
    print("\n".join(f"  {line}" for line in assumptions.lines()))


@task(
    name="backtest",
    iterable=["set"],
    help={
        "run": "a run folder of `invoke load` (reports/<run>): replay its recorded metrics",
        "env": "a deployed environment: replay its last --days of CloudWatch metrics",
        "days": "with --env: days of history (60-second data is kept 15 days; default: 1)",
        "set": "ROW.TIER=VALUE: try a threshold without deploying (repeatable), e.g. api-5xx-rate.high=2",
        "json": "print the result as JSON instead of the table",
        "suggest": "propose thresholds for the static rows from this history and show what they would have paged",
        "png": "where to write the timeline (default: <run>/backtest.png, or reports/backtest-<env>.png)",
        **_AWS_HELP,
    },
)
def alarms_backtest(
    c, run=None, env=None, days=1.0, set=None, json=False, suggest=False, png=None, profile=None, region=None
):
    """Replay the alarm table over recorded or deployed metrics: episodes, pages, notifications per alarm."""
    import json as json_module
    from pathlib import Path

    from ops.aws import aws_errors
    from ops.backtest import (
        deployed_history,
        format_suggestions,
        format_table,
        recorded_history,
        run_backtest,
        suggestions,
        to_json,
    )
    from ops.backtest_plot import plot_backtest

    if (run is None) == (env is None):
        raise Exit("error: give either --run reports/<run> or --env NAME", code=2)
    with _OpsErrors():
        if run is not None:
            recorded_env, history = recorded_history(Path(run))
            config = _config(recorded_env)
            default_png = (Path(run).parent if Path(run).suffix == ".json" else Path(run)) / "backtest.png"
        else:
            config = _aws_config(env)
            session = _session(config, profile, region)
            with aws_errors("GetMetricData"):
                history = deployed_history(session.client("cloudwatch"), config, float(days))
            default_png = Path("reports") / f"backtest-{env}.png"
        result = run_backtest(config, history, set or [])
    image = Path(png) if png else default_png
    plot_backtest(result, image)
    proposals, proposed = suggestions(config, history, result) if suggest else ([], None)
    if json:
        document = {**to_json(result), "png": str(image)}
        if proposed is not None:
            document["suggestions"] = [item.__dict__ for item in proposals]
            document["with_suggestions"] = to_json(proposed)["alarms"]
        print(json_module.dumps(document, indent=1))
    else:
        print(format_table(result))
        print(f"timeline: {image}")
        if proposed is not None:
            print(format_suggestions(proposals, result, proposed))


alarms = Collection("alarms")
alarms.add_task(alarms_backtest)
namespace.add_collection(alarms)

events = Collection("events")
events.add_task(events_get)
events.add_task(events_list)
events.add_task(events_query)
for _ops_task in (preflight, package, diff, deploy, destroy, send, replay, redrive, reconcile, cost):
    namespace.add_task(_ops_task)
namespace.add_collection(events)


# --- load tests (loadtest/) ---


@task(
    help={
        "scenario": "smoke, steady, bad-input, db-outage, spike, step or soak; `list` describes them (default: smoke)",
        "target": "local (the stack of `invoke up`) or a deployed environment of sluice.toml (default: local)",
        "users": "users at full load (default: the scenario's)",
        "rate": "requests/s with every user running (default: the scenario's)",
        "duration": "seconds of load (default: the scenario's)",
        "workers": "Locust worker processes under one master; 0 runs a single process (default: 0)",
        "web": "show Locust's web UI on 127.0.0.1 while the run goes (it still starts and stops by itself)",
        "outputs": "the local stack's outputs file (default: .local/outputs.json at the project root)",
        "reports": "where the run's folder is written (default: reports)",
        "profile": "AWS profile, for a deployed target",
        "region": "AWS region, for a deployed target (default: the environment's)",
    }
)
def load(
    c,
    scenario="smoke",
    target="local",
    users=None,
    rate=None,
    duration=None,
    workers=None,
    web=False,
    outputs=None,
    reports="reports",
    profile=None,
    region=None,
):
    """Run a load scenario, reconcile every accepted id, check SLOs and alarms; exit 1 if any check fails."""
    from loadtest.cli import describe, run_load, scenario_table
    from loadtest.errors import LoadTestError

    if scenario == "list":
        print(scenario_table())
        return
    try:
        result = run_load(scenario, target, users, rate, duration, workers, web, outputs, reports, profile, region)
    except LoadTestError as error:
        raise Exit(f"error: {error}", code=2) from None
    print(describe(result))
    if not result.passed:
        raise Exit(code=1)


namespace.add_task(load)
