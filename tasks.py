"""Sluice operator tasks. `invoke --list` shows them; `invoke --help TASK` shows a task's options."""

from __future__ import annotations

from invoke import Collection, Exit, task

from cloudformation.config import ENVIRONMENTS, ConfigError, load_config


def _config(env: str):
    try:
        return load_config(env)
    except ConfigError as error:
        raise Exit(f"error: {error}", code=2) from None


@task(help={"env": f"environment: one of {', '.join(ENVIRONMENTS)} (default: local)"})
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
