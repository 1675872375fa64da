"""`invoke alarms.backtest` and `invoke alarms.verify`: the alarm table run over recorded or deployed metrics,
and the deployed alarms' metric math checked against CloudWatch's."""

from __future__ import annotations

from invoke import Collection, Context, Exit

from tasks.common import AWS_HELP, aws_config, config_of, ops_errors, session_of, task


@task(
    name="backtest",
    iterable=["set"],
    help={
        "run": "a run folder of `invoke load` (reports/<run>): run the alarms over its recorded metrics",
        "env": "a deployed environment: run the alarms over its last --days of CloudWatch metrics",
        "days": "with --env: days of history (60-second data is kept 15 days; default: 1)",
        "set": "ROW.TIER=VALUE: try a threshold without deploying (repeatable), e.g. api-5xx-rate.high=2",
        "json": "print the result as JSON instead of the table",
        "suggest": "propose thresholds for the static rows from this history and show what they would have paged",
        "png": "where to write the timeline (default: <run>/backtest.png, or reports/backtest-<name>.png)",
        **AWS_HELP,
    },
)
def alarms_backtest(
    c: Context,
    run: str | None = None,
    env: str | None = None,
    days: float = 1.0,
    set: list[str] | None = None,  # the option is --set
    json: bool = False,
    suggest: bool = False,
    png: str | None = None,
    profile: str | None = None,
    region: str | None = None,
) -> None:
    """Run the alarm table over recorded or deployed metrics: episodes, pages, notifications per alarm."""
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
    with ops_errors():
        if run is not None:
            recorded_env, history = recorded_history(Path(run))
            config = config_of(recorded_env)
            # a run folder keeps its timeline; a recording file may be the repository's: never write beside it
            recording_file = Path(run).suffix == ".json"
            default_png = (
                Path("reports") / f"backtest-{Path(run).stem}.png" if recording_file else Path(run) / "backtest.png"
            )
        else:
            assert env is not None
            config = aws_config(env)
            session = session_of(config, profile, region)
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


@task(
    name="verify",
    help={
        "env": "a deployed environment (local: says why there is nothing to check)",
        "hours": "the window: the last N hours of each alarm's complete periods (default 3)",
        "json": "print the result as JSON instead of one line per alarm",
        **AWS_HELP,
    },
)
def alarms_verify(
    c: Context,
    env: str,
    hours: float = 3.0,
    json: bool = False,
    profile: str | None = None,
    region: str | None = None,
) -> None:
    """Check the deployed alarms' metric math against CloudWatch's: agrees / differs / error / no data per alarm."""
    import json as json_module

    from ops.alarm_verify import local_line, verify_alarms

    if env == "local":
        print(local_line())
        return
    config = aws_config(env)
    session = session_of(config, profile, region)
    with ops_errors():
        result = verify_alarms(session.client("cloudwatch"), session.client("cloudformation"), config, float(hours))
    print(json_module.dumps(result.to_dict(), indent=1) if json else "\n".join(result.lines()))
    if not result.ok:
        raise Exit(code=1)


alarms = Collection("alarms", alarms_backtest, alarms_verify)
