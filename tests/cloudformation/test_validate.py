"""cfn-lint (with the serverless rules) and checkov judge every environment's template."""

import pytest

from cloudformation.scan_exceptions import SCAN_EXCEPTIONS
from cloudformation.validate import Finding, ScanReport, scan
from core.config import environment_names, load_config
from core.paths import PROJECT_ROOT
from synth.synthesize import synthesize

REAL_CONFIG = PROJECT_ROOT / "sluice.toml"


def test_the_exception_list_is_short_and_justified():
    assert len(SCAN_EXCEPTIONS) <= 6  # CKV_AWS_116 (no idle function DLQs) made it six
    assert all(len(reason) > 20 for reason in SCAN_EXCEPTIONS.values())


@pytest.mark.parametrize("env", environment_names())
def test_template_has_no_finding_beyond_the_justified_list(env, tmp_path):
    # GIVEN the synthesized template WHEN both scanners run
    report = scan(synthesize(load_config(env), build_dir=tmp_path).path)
    # THEN checkov ran real checks, and nothing failed that is not on the list
    assert report.checkov_passed > 50
    assert report.failures == [], report.summary()


def test_an_s3_only_template_has_no_finding_beyond_the_justified_list(tmp_path):
    # GIVEN an environment whose only sink is the S3 analytics store (no events table)
    path = tmp_path / "sluice.toml"
    path.write_text(REAL_CONFIG.read_text() + '\n[test]\nsinks = ["s3"]\n')
    # WHEN both scanners judge its template
    report = scan(synthesize(load_config("test", path), build_dir=tmp_path / "build").path)
    # THEN nothing failed that is not on the list
    assert report.checkov_passed > 50
    assert report.failures == [], report.summary()


def test_the_closing_line_gives_the_verdict_first():
    # GIVEN a scan whose every finding is justified, and one with a finding that is not
    justified = Finding("checkov", "CKV_AWS_117", "AWS::Lambda::Function.Ingest", "not in a VPC")
    clean = ScanReport([justified], checkov_passed=162)
    dirty = ScanReport([justified, Finding("cfn-lint", "W3005", "Queue", "obsolete DependsOn")], checkov_passed=162)
    # THEN the line says ok or FAILED before any count ("15 failed" alone read like a failed scan)
    assert clean.summary().startswith("ok: every finding is on the justified list (")
    assert dirty.summary().startswith("FAILED: 1 finding(s) not on the justified list (")
