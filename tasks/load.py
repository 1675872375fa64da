"""`invoke load`: Locust scenarios against the local stack or a deployed one (loadtest/)."""

from __future__ import annotations

from invoke import Context, Exit

from loadtest.scenarios import SCENARIOS
from tasks.common import task


@task(
    help={
        "scenario": f"{', '.join(SCENARIOS)}; `list` describes them (default: smoke)",
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
        "fargate_workers": "Locust workers as ECS Fargate tasks (a master task too); against local, a local rehearsal",
        "yes": "start a Fargate run without asking (it prints its estimated cost first)",
        "fargate_stack": "the load generator's CloudFormation stack (default: sluice-loadgen)",
    }
)
def load(
    c: Context,
    scenario: str = "smoke",
    target: str = "local",
    users: str | None = None,
    rate: str | None = None,
    duration: str | None = None,
    workers: str | None = None,
    web: bool = False,
    outputs: str | None = None,
    reports: str = "reports",
    profile: str | None = None,
    region: str | None = None,
    fargate_workers: str | None = None,
    yes: bool = False,
    fargate_stack: str = "sluice-loadgen",
) -> None:
    """Run a load scenario, reconcile every accepted id, check SLOs and alarms; exit 1 if any check fails."""
    from loadtest.cli import describe, run_load, scenario_table
    from loadtest.errors import LoadTestError

    if scenario == "list":
        print(scenario_table())
        return
    try:
        result = run_load(
            scenario,
            target,
            users,
            rate,
            duration,
            workers,
            web,
            outputs,
            reports,
            profile,
            region,
            fargate_workers,
            yes,
            fargate_stack,
        )
    except LoadTestError as error:
        raise Exit(f"error: {error}", code=2) from None
    except KeyboardInterrupt:
        message = "interrupted: every task the run started was stopped; what they uploaded is in the run's folder"
        raise Exit(message, code=130) from None
    print(describe(result))
    if not result.passed:
        raise Exit(code=1)
