"""Judge a synthesized template with cfn-lint (plus the serverless rules) and checkov."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cloudformation.scan_exceptions import SCAN_EXCEPTIONS
from core.paths import PROJECT_ROOT

BIN = Path(sys.executable).parent
# checkov pins urllib3 1.x, which Locust cannot run with, so `make` installs it into a virtualenv of its own.
CHECKOV_CANDIDATES = (PROJECT_ROOT / ".tools" / "bin" / "checkov", BIN / "checkov")


@dataclass(frozen=True)
class Finding:
    scanner: str
    check_id: str
    resource: str
    message: str

    @property
    def excepted(self) -> bool:
        return self.check_id in SCAN_EXCEPTIONS


@dataclass
class ScanReport:
    findings: list[Finding] = field(default_factory=list)
    checkov_passed: int = 0
    checkov_skipped: int = 0

    @property
    def failures(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.excepted]

    @property
    def excepted(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.excepted]

    def summary(self) -> str:
        by_scanner = Counter(finding.scanner for finding in self.findings)
        excepted_ids = sorted({finding.check_id for finding in self.excepted})
        # The verdict first: "15 failed" alone reads like a failed scan when every one is on the justified list.
        verdict = (
            f"FAILED: {len(self.failures)} finding(s) not on the justified list"
            if self.failures
            else "ok: every finding is on the justified list"
        )
        return (
            f"{verdict} (cfn-lint: {by_scanner['cfn-lint']} finding(s); checkov: {self.checkov_passed} checks passed, "
            f"{by_scanner['checkov']} found, {self.checkov_skipped} skipped; {len(self.excepted)} excepted: "
            f"{', '.join(excepted_ids) or 'none'})"
        )


class ScannerError(RuntimeError):
    """A scanner could not run or printed something we cannot read."""


def scan(template_path: Path) -> ScanReport:
    report = ScanReport()
    report.findings += _cfn_lint(template_path)
    checkov_findings, passed, skipped = _checkov(template_path)
    report.findings += checkov_findings
    report.checkov_passed, report.checkov_skipped = passed, skipped
    return report


def _cfn_lint(template_path: Path) -> list[Finding]:
    command = [str(BIN / "cfn-lint"), "--format", "json", "-a", "cfn_lint_serverless.rules", "--", str(template_path)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        matches = json.loads(result.stdout or "[]")
    except json.JSONDecodeError:
        raise ScannerError(f"cfn-lint failed: {(result.stderr or result.stdout).strip()[:500]}") from None
    return [
        Finding(
            scanner="cfn-lint",
            check_id=match["Rule"]["Id"],
            resource="/".join(str(part) for part in match.get("Location", {}).get("Path", [])[:2]),
            message=match["Message"],
        )
        for match in matches
    ]


def checkov_executable() -> Path:
    for candidate in CHECKOV_CANDIDATES:
        if candidate.exists():
            return candidate
    raise ScannerError("checkov is not installed: run `make test` once (it installs checkov into .tools/)")


def _checkov(template_path: Path) -> tuple[list[Finding], int, int]:
    command = [
        str(checkov_executable()),
        "--file",
        str(template_path),
        "--framework",
        "cloudformation",
        "--output",
        "json",
        "--quiet",
        "--compact",
        "--skip-download",  # no network: the bundled checks only
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=template_path.parent)
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise ScannerError(f"checkov failed: {(result.stderr or result.stdout).strip()[:500]}") from None
    if isinstance(document, list):  # one entry per framework
        document = document[0]
    results = document.get("results", {})
    summary = document.get("summary", {})
    findings = [
        Finding(
            scanner="checkov",
            check_id=check["check_id"],
            resource=check["resource"],
            message=check["check_name"],
        )
        for check in results.get("failed_checks", [])
    ]
    return findings, int(summary.get("passed", 0)), int(summary.get("skipped", 0))
