"""The template: synthesize it, and judge it with cfn-lint and checkov."""

from __future__ import annotations

from invoke import Context, Exit

from tasks.common import config_of, task


@task(help={"env": "environment: a table of sluice.toml (default: local)"})
def synth(c: Context, env: str = "local") -> None:
    """Write build/<env>/template.json and print the resource count by type."""
    from synth.synthesize import synthesize

    print(synthesize(config_of(env)).summary())


@task(help={"env": "environment to synthesize and scan (default: local)"})
def validate(c: Context, env: str = "local") -> None:
    """Scan the template with cfn-lint (serverless rules) and checkov; fail on any unexcepted finding."""
    from cloudformation.scan_exceptions import SCAN_EXCEPTIONS
    from cloudformation.validate import ScannerError, scan
    from synth.synthesize import synthesize

    synthesized = synthesize(config_of(env))
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
