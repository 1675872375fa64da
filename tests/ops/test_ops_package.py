"""Packaging: reproducible zips (same sources → same bytes), the dependency cache, and the artifacts bucket.

No test here touches PyPI: the dependency step is a fake installer that writes a small fake package."""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest

from core.paths import PROJECT_ROOT
from ops.bytecode import Compiler
from ops.package import (
    SOURCE_ONLY,
    Artifact,
    Published,
    artifacts_bucket_name,
    build_artifacts,
    cached_dependencies,
    function_files,
    publish,
    tls_only_policy,
    zip_bytes,
)
from tests.aws_helpers import unique

PROJECT = PROJECT_ROOT


class FakeInstaller:
    """Writes a pretend dependency (and the SDK the runtime already has, which packaging must drop)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, requirements: Path, target: Path) -> None:
        self.calls += 1
        (target / "fakedep").mkdir()
        (target / "fakedep" / "__init__.py").write_text("VERSION = '1.0'\n")
        (target / "fakedep-1.0.dist-info").mkdir()
        (target / "fakedep-1.0.dist-info" / "METADATA").write_text("Name: fakedep\n")
        # the SDK and its own dependencies, which the runtime has: as directories, a module file, a dist-info
        for package in ("botocore", "urllib3", "dateutil", "jmespath"):
            (target / package).mkdir()
            (target / package / "__init__.py").write_text("")
        (target / "six.py").write_text("")
        (target / "python_dateutil-2.9.0.post0.dist-info").mkdir()
        (target / "python_dateutil-2.9.0.post0.dist-info" / "METADATA").write_text("Name: python-dateutil\n")
        (target / "bin").mkdir()
        (target / "bin" / "tool").write_text("#!/bin/sh\n")


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """A copy of the real functions/ tree (with a stray __pycache__ and .pyc that must not be packaged)."""
    root = tmp_path / "src"
    shutil.copytree(PROJECT / "functions", root / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "functions" / "ingest" / "__pycache__").mkdir()
    (root / "functions" / "ingest" / "__pycache__" / "app.cpython-312.pyc").write_bytes(b"\x00junk")
    return root


# This interpreter stands in for the runtime's: what matters is that its bytecode is the one shipped and used.
THIS_PYTHON = Compiler(sys.executable, sys.implementation.cache_tag)


def build(
    sources: Path, build_dir: Path, installer: FakeInstaller | None = None, compiler: Compiler | None = None
) -> dict[str, Artifact]:
    artifacts = build_artifacts(sources, build_dir, installer or FakeInstaller(), compiler=compiler)
    return {artifact.name: artifact for artifact in artifacts}


def test_same_sources_give_the_same_bytes_whatever_the_mtimes_and_modes(sources: Path, tmp_path: Path) -> None:
    # GIVEN one build
    first = build(sources, tmp_path / "build1")
    first_bytes = {name: artifact.path.read_bytes() for name, artifact in first.items()}
    # WHEN the sources are touched and their modes changed, and everything is built again elsewhere
    for path in (sources / "functions").rglob("*.py"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
        path.chmod(0o600)
    second = build(sources, tmp_path / "build2")
    # THEN every zip has the same bytes and the same hash (and so the same S3 key)
    for name, artifact in second.items():
        assert artifact.path.read_bytes() == first_bytes[name]
        assert artifact.sha256 == first[name].sha256 == hashlib.sha256(first_bytes[name]).hexdigest()
        assert artifact.key == f"{name}/{artifact.sha256}.zip"


def test_a_changed_source_changes_only_the_zips_that_hold_it(sources: Path, tmp_path: Path) -> None:
    # GIVEN one build
    before = build(sources, tmp_path / "build1")
    # WHEN the consumer's code changes
    app = sources / "functions" / "consumer" / "app.py"
    app.write_text(app.read_text() + "\n# a change\n")
    after = build(sources, tmp_path / "build2")
    # THEN the consumer's hash changes and the others' do not
    assert after["consumer"].sha256 != before["consumer"].sha256
    for name in ("ingest", "archiver", "notifier"):
        assert after[name].sha256 == before[name].sha256


def test_a_zip_holds_its_function_the_shared_helpers_and_the_dependencies_only(sources: Path, tmp_path: Path) -> None:
    # WHEN the ingest zip is built
    artifact = build(sources, tmp_path / "build")["ingest"]
    with zipfile.ZipFile(artifact.path) as archive:
        names = archive.namelist()
        infos = archive.infolist()
    # THEN it holds functions/__init__.py, functions/common/**, functions/ingest/** and the fake dependency,
    assert "functions/__init__.py" in names
    assert "functions/ingest/app.py" in names
    assert "functions/common/envelope.py" in names
    # (with the values every function shares with the template, which imports them from there)
    assert {"functions/common/contract.py", "functions/common/env_names.py"} <= set(names)
    assert "fakedep/__init__.py" in names
    # no other function, no bytecode, no SDK the runtime already has (nor its dependencies), no scripts
    runtime_provided = ("botocore/", "urllib3/", "dateutil/", "jmespath/", "six.py", "python_dateutil-")
    assert not any(name.startswith(("functions/consumer/", "bin/", *runtime_provided)) for name in names)
    assert not any(name.endswith(".pyc") or "__pycache__" in name for name in names)
    # in sorted order, with fixed timestamps and permissions
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}


def test_the_zip_builder_is_a_function_of_names_and_contents(tmp_path: Path) -> None:
    # GIVEN the same two files written in a different order, at different times
    a1, b1 = tmp_path / "one" / "a.py", tmp_path / "one" / "b.py"
    a2, b2 = tmp_path / "two" / "a.py", tmp_path / "two" / "b.py"
    for path in (a1, b1, a2, b2):
        path.parent.mkdir(exist_ok=True)
    b2.write_text("b")
    a2.write_text("a")
    a1.write_text("a")
    b1.write_text("b")
    os.utime(a2, (5, 5))
    # THEN the zips are byte for byte the same
    assert zip_bytes({"x/a.py": a1, "x/b.py": b1}) == zip_bytes({"x/b.py": b2, "x/a.py": a2})


def test_dependencies_are_installed_once_per_requirements_hash(sources: Path, tmp_path: Path) -> None:
    installer = FakeInstaller()
    requirements = sources / "functions" / "requirements.txt"
    # WHEN the dependencies are asked for twice
    first = cached_dependencies(requirements, tmp_path / "build", installer)
    second = cached_dependencies(requirements, tmp_path / "build", installer)
    # THEN pip ran once, and the runtime's own SDK was pruned from the cache
    assert first == second
    assert installer.calls == 1
    assert not (first / "botocore").exists()
    # WHEN the requirements change, THEN they are installed again, into another directory
    requirements.write_text(requirements.read_text() + "extra==1.0\n")
    third = cached_dependencies(requirements, tmp_path / "build", installer)
    assert third != first
    assert installer.calls == 2


def test_with_the_runtimes_python_every_module_ships_bytecode_that_is_reproducible(
    sources: Path, tmp_path: Path
) -> None:
    # GIVEN two builds with a compiler, the second after the sources were touched
    first = build(sources, tmp_path / "build1", compiler=THIS_PYTHON)
    for path in (sources / "functions").rglob("*.py"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    second = build(sources, tmp_path / "build2", compiler=THIS_PYTHON)
    # THEN they are the same bytes, marked as compiled
    assert {name: a.sha256 for name, a in first.items()} == {name: a.sha256 for name, a in second.items()}
    assert {a.bytecode for a in second.values()} == {THIS_PYTHON.cache_tag}
    # AND every module, ours and the dependencies', has its bytecode beside it, naming its file under /var/task
    with zipfile.ZipFile(second["ingest"].path) as archive:
        names = set(archive.namelist())
        sources_in_zip = [name for name in names if name.endswith(".py")]
        for name in sources_in_zip:
            folder, _, file = name.rpartition("/")
            compiled = f"{folder}/__pycache__/{file.removesuffix('.py')}.{THIS_PYTHON.cache_tag}.pyc".lstrip("/")
            assert compiled in names, name
        code = marshal.loads(archive.read(f"functions/ingest/__pycache__/app.{THIS_PYTHON.cache_tag}.pyc")[16:])
        # AND no bytecode of a local run (the stray .pyc in the sources) came along
        assert all(archive.read(name) != b"\x00junk" for name in names if name.endswith(".pyc"))
    assert code.co_filename == "/var/task/functions/ingest/app.py"
    # AND a source-only build is another artifact, under another S3 key
    assert first["ingest"].sha256 != build(sources, tmp_path / "build3")["ingest"].sha256


def test_the_shipped_bytecode_is_what_python_runs(sources: Path, tmp_path: Path) -> None:
    # GIVEN the ingest zip with bytecode, unpacked as Lambda unpacks it
    artifact = build(sources, tmp_path / "build", compiler=THIS_PYTHON)["ingest"]
    task = tmp_path / "task"
    with zipfile.ZipFile(artifact.path) as archive:
        archive.extractall(task)
    # WHEN a module's source is changed afterwards and the module is imported from there
    clock = task / "functions" / "common" / "clock.py"
    clock.write_text(clock.read_text() + "\nraise RuntimeError('compiled at import')\n")
    result = subprocess.run(
        [sys.executable, "-B", "-c", "import functions.common.clock as m; print(m.__file__)"],
        cwd=task,
        env={**os.environ, "PYTHONPATH": str(task)},
        capture_output=True,
        text=True,
        check=False,
    )
    # THEN Python ran the shipped bytecode without reading (compiling) the source
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(clock)


def test_the_summary_says_when_the_zips_ship_source_only(sources: Path, tmp_path: Path) -> None:
    # GIVEN one build without and one with the runtime's Python
    for compiler, says_source_only in ((None, True), (THIS_PYTHON, False)):
        artifacts = tuple(build(sources, tmp_path / f"build-{says_source_only}", compiler=compiler).values())
        published = Published(bucket="b", created_bucket=False, artifacts=artifacts, uploaded=())
        # THEN the summary warns about compiling at every cold start only when there is no bytecode
        warned = any("source only" in line for line in published.summary())
        assert warned is says_source_only
        assert all((artifact.bytecode == SOURCE_ONLY) is says_source_only for artifact in artifacts)


def test_a_missing_function_folder_is_named_as_in_the_repository(sources: Path, tmp_path: Path) -> None:
    from ops.errors import OpsError

    # GIVEN sources without the reporter function WHEN its zip is asked for THEN the message names its folder
    with pytest.raises(OpsError, match=r"^functions/reporter: missing \(the reporter zip needs it\)$"):
        build_artifacts(sources, tmp_path / "build", FakeInstaller(), names=["reporter"], compiler=None)


def test_a_dependency_may_not_shadow_our_package(sources: Path, tmp_path: Path) -> None:
    deps = tmp_path / "deps"
    (deps / "functions").mkdir(parents=True)
    (deps / "functions" / "evil.py").write_text("")
    from ops.errors import OpsError

    with pytest.raises(OpsError, match="shadow"):
        function_files("ingest", sources, deps)


def test_publish_creates_a_locked_down_bucket_and_uploads_each_content_once(
    aws: boto3.Session, sources: Path, tmp_path: Path
) -> None:
    s3 = aws.client("s3")
    bucket = artifacts_bucket_name(unique("proj"), "123456789012", "us-east-1")
    artifacts = list(build(sources, tmp_path / "build").values())
    # WHEN the artifacts are published for the first time
    first = publish(s3, bucket, "us-east-1", artifacts)
    # THEN the bucket is created encrypted, versioned and with all public access blocked,
    assert first.created_bucket
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    # every zip is uploaded under its content hash,
    assert sorted(first.uploaded) == sorted(artifact.name for artifact in artifacts)
    for artifact in artifacts:
        body = s3.get_object(Bucket=bucket, Key=artifact.key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == artifact.sha256
    # and the template parameters point at them
    assert first.parameters()["ArtifactsBucket"] == bucket
    assert first.parameters()["IngestCodeKey"] == next(a.key for a in artifacts if a.name == "ingest")
    # WHEN the same artifacts are published again, THEN nothing is uploaded
    second = publish(s3, bucket, "us-east-1", artifacts)
    assert not second.created_bucket
    assert second.uploaded == ()
    # (over plain HTTP — moto — the TLS-only policy would lock us out, so it is left off and said so)
    assert not first.tls_only
    assert any("TLS-only" in line for line in first.summary())


def test_the_tls_only_policy_denies_every_request_without_tls() -> None:
    policy = tls_only_policy("bucket-x")
    [statement] = policy["Statement"]
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*" and statement["Action"] == "s3:*"
    assert statement["Resource"] == ["arn:aws:s3:::bucket-x", "arn:aws:s3:::bucket-x/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    json.dumps(policy)  # a valid JSON document
