"""Reproducible Lambda zips, uploaded under content-hashed keys to a locked-down artifacts bucket.

Same sources and dependencies → same zip bytes → same sha256 → same S3 key, so a deploy with nothing changed
uploads nothing and CloudFormation sees no change. The zip is made reproducible by fixed timestamps, sorted
entries, fixed permissions and a fixed compression level; the pip install is cached by requirements hash.
When an interpreter of the runtime's version is on PATH, the zips also carry its bytecode (ops/bytecode.py),
so Lambda does not compile them at every cold start.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from cloudformation.functions import ARCHITECTURE, ARTIFACTS_BUCKET_PARAMETER, RUNTIME, code_key_parameter
from core.config import FUNCTION_NAMES
from core.paths import PROJECT_ROOT
from ops.aws import aws_errors, error_code
from ops.bytecode import Compiler, runtime_compiler
from ops.errors import OpsError

BUILD_DIR = PROJECT_ROOT / "build"

# The Lambda runtime (python3.12 on arm64) decides which wheels fit, not the machine that packages.
PIP_PLATFORM = ("--platform", "manylinux2014_aarch64", "--implementation", "cp", "--python-version", "3.12")
# The runtime ships the AWS SDK and the SDK's own dependencies (import and distribution names). A copy in the
# zip comes first on sys.path: it would shadow the runtime's (another version under the runtime's botocore)
# and, without bytecode, be compiled at every cold start.
RUNTIME_PROVIDED = (
    "boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "python_dateutil", "six", "six.py",
)  # fmt: skip
# 1980-01-01 is the earliest time a zip can record; any fixed value works, this one is the convention.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # a regular file, rw-r--r--: Lambda only needs to read the code
COMPRESS_LEVEL = 6  # part of the reproducibility contract: another level gives other bytes
JUNK_NAMES = (".DS_Store",)
BYTECODE_DIR = "__pycache__"
BYTECODE_SUFFIXES = (".pyc", ".pyo")
SOURCE_ONLY = "source"  # the bytecode tag of a build without a runtime interpreter

Installer = Callable[[Path, Path], None]
"""`installer(requirements_file, target_dir)` fills target_dir with the runtime dependencies."""


@dataclass(frozen=True)
class Artifact:
    name: str
    path: Path
    sha256: str
    size: int
    bytecode: str = SOURCE_ONLY  # the cache tag of the bytecode inside (cpython-312), or "source"

    @property
    def key(self) -> str:
        return f"{self.name}/{self.sha256}.zip"


def pip_installer(requirements: Path, target: Path) -> None:
    """The real dependency step: wheels for the Lambda platform only, no bytecode (it would embed mtimes)."""
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--target", str(target), *PIP_PLATFORM, "--only-binary=:all:", "-r", str(requirements),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise OpsError(f"pip could not install {requirements.name} for {RUNTIME}/{ARCHITECTURE}: {last}")


def requirements_hash(requirements: Path, bytecode: str = SOURCE_ONLY) -> str:
    """The cache key: the requirements text, the target platform (a new runtime means new wheels) and the
    bytecode the directory holds."""
    digest = hashlib.sha256()
    digest.update(requirements.read_bytes())
    digest.update(" ".join(PIP_PLATFORM).encode())
    digest.update(bytecode.encode())
    return digest.hexdigest()


def cached_dependencies(
    requirements: Path, build_dir: Path, installer: Installer = pip_installer, compiler: Compiler | None = None
) -> Path:
    """The dependency directory for these requirements, installed (and compiled) once and reused while they
    are unchanged."""
    if not requirements.is_file():
        raise OpsError(f"{requirements}: requirements file not found")
    bytecode = compiler.cache_tag if compiler else SOURCE_ONLY
    target = build_dir / "deps" / requirements_hash(requirements, bytecode)[:16]
    if target.is_dir():
        return target
    staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        installer(requirements, staging)
        _prune_runtime_provided(staging)
        if compiler:
            compiler.compile_tree(staging)
        # A rename is atomic: a concurrent or interrupted run never sees a half-installed cache.
        staging.rename(target)
    except OSError:
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _prune_runtime_provided(directory: Path) -> None:
    for entry in directory.iterdir():
        base = entry.name.split("-")[0].lower() if entry.name.endswith(".dist-info") else entry.name.lower()
        if base in RUNTIME_PROVIDED or entry.name == "bin":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def _tree(root: Path, prefix: str) -> dict[str, Path]:
    """`{archive name: file}` for the files under root, without junk. Bytecode is kept: the trees packaged
    are ours (staged sources, the dependency cache), so any bytecode in them is what we compiled."""
    files = {}
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if any(part in JUNK_NAMES for part in relative.parts):
            continue
        if path.is_file():
            files[f"{prefix}{relative.as_posix()}"] = path
    return files


def function_files(name: str, source_root: Path, dependencies: Path) -> dict[str, Path]:
    """What one function's zip holds: its folder, the shared helpers, the package marker and the deps."""
    functions = source_root / "functions"
    for required in (functions / "__init__.py", functions / "common", functions / name):
        if not required.exists():
            raise OpsError(f"{required.relative_to(source_root)}: missing (the {name} zip needs it)")
    files = _tree(dependencies, "")
    for arcname in files:
        if arcname.split("/")[0] == "functions":
            raise OpsError(f"a dependency installs {arcname!r}, which would shadow our own code")
    files["functions/__init__.py"] = functions / "__init__.py"
    for compiled in (functions / BYTECODE_DIR).glob("__init__.*.pyc"):
        files[f"functions/{BYTECODE_DIR}/{compiled.name}"] = compiled
    files.update(_tree(functions / "common", "functions/common/"))
    files.update(_tree(functions / name, f"functions/{name}/"))
    return files


def zip_bytes(files: Mapping[str, Path]) -> bytes:
    """A zip that depends only on the names and contents of `files`: not on mtimes, modes or walk order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for arcname in sorted(files):
            info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # unix, whatever builds it
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[arcname].read_bytes(), compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()


def default_compiler() -> Compiler | None:
    """The runtime's interpreter (python3.12) when it is on PATH; else the zips ship source only."""
    return runtime_compiler(RUNTIME)


def stage_sources(source_root: Path, staging: Path, compiler: Compiler | None) -> Path:
    """A copy of `functions/` without the bytecode of local runs (another Python's, timestamp-checked), compiled
    by `compiler` when there is one; returns the root that holds the copy."""
    functions = source_root / "functions"
    if not functions.is_dir():
        raise OpsError(f"{functions}: missing (every zip needs it)")
    ignore = shutil.ignore_patterns(BYTECODE_DIR, *(f"*{suffix}" for suffix in BYTECODE_SUFFIXES), *JUNK_NAMES)
    shutil.copytree(functions, staging / "functions", ignore=ignore)
    if compiler:
        compiler.compile_tree(staging)
    return staging


def build_artifacts(
    source_root: Path = PROJECT_ROOT,
    build_dir: Path = BUILD_DIR,
    installer: Installer = pip_installer,
    names: Iterable[str] = FUNCTION_NAMES,
    compiler: Compiler | None = None,
) -> list[Artifact]:
    """One zip per function in `build_dir/artifacts/`, with `compiler`'s bytecode when one is given."""
    requirements = source_root / "functions" / "requirements.txt"
    dependencies = cached_dependencies(requirements, build_dir, installer, compiler)
    out_dir = build_dir / "artifacts"
    out_dir.mkdir(parents=True, exist_ok=True)
    bytecode = compiler.cache_tag if compiler else SOURCE_ONLY
    artifacts = []
    with tempfile.TemporaryDirectory(dir=build_dir, prefix="sources-") as staging:
        staged = stage_sources(source_root, Path(staging), compiler)
        for name in names:
            data = zip_bytes(function_files(name, staged, dependencies))
            path = out_dir / f"{name}.zip"
            path.write_bytes(data)
            digest = hashlib.sha256(data).hexdigest()
            artifacts.append(Artifact(name=name, path=path, sha256=digest, size=len(data), bytecode=bytecode))
    return artifacts


def artifacts_bucket_name(project: str, account: str, region: str) -> str:
    return f"{project}-artifacts-{account}-{region}"


def tls_only_policy(bucket: str, partition: str = "aws") -> dict[str, Any]:
    arn = f"arn:{partition}:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def reaches_over_tls(s3: Any) -> bool:
    """AWS endpoints are https; a plain-http endpoint is an emulator, where a TLS-only policy locks us out."""
    return urlparse(s3.meta.endpoint_url).scheme == "https"


def ensure_artifacts_bucket(s3: Any, bucket: str, region: str, partition: str = "aws") -> bool:
    """Create the bucket on first use (encrypted, versioned, private, TLS only); True when it was created.

    The TLS-only policy is skipped when the endpoint itself is plain HTTP: every request we make would then
    match its Deny (moto 5.2 also denies on ANY conditional Deny statement, condition or not).
    """
    with aws_errors(f"checking the artifacts bucket {bucket}"):
        try:
            s3.head_bucket(Bucket=bucket)
            return False
        except ClientError as error:
            if error_code(error) in ("403", "Forbidden", "AccessDenied"):
                raise OpsError(
                    f"artifacts bucket {bucket} exists but this account cannot use it (another owner or no access)"
                ) from None
            if error_code(error) not in ("404", "NoSuchBucket", "NotFound"):
                raise
    with aws_errors(f"creating the artifacts bucket {bucket}"):
        location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        try:
            s3.create_bucket(Bucket=bucket, ObjectOwnership="BucketOwnerEnforced", **location)
        except ClientError as error:
            if error_code(error) != "BucketAlreadyOwnedByYou":  # another run created it a moment ago
                raise
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]
            },
        )
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        if reaches_over_tls(s3):
            s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_only_policy(bucket, partition)))
    return True


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as error:
        if error_code(error) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def upload_artifacts(s3: Any, bucket: str, artifacts: Iterable[Artifact]) -> list[str]:
    """Upload the zips whose key is not there yet; return the names uploaded (a key names its content)."""
    uploaded = []
    for artifact in artifacts:
        with aws_errors(f"uploading {artifact.key} to {bucket}"):
            if object_exists(s3, bucket, artifact.key):
                continue
            s3.put_object(
                Bucket=bucket, Key=artifact.key, Body=artifact.path.read_bytes(), ContentType="application/zip"
            )
        uploaded.append(artifact.name)
    return uploaded


def upload_template(s3: Any, bucket: str, region: str, stack_name: str, body: str) -> str:
    """Templates over 51,200 bytes must come from S3; return the URL CloudFormation reads it from."""
    key = f"templates/{stack_name}/{hashlib.sha256(body.encode()).hexdigest()}.json"
    with aws_errors(f"uploading the template to {bucket}"):
        if not object_exists(s3, bucket, key):
            s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


@dataclass(frozen=True)
class Published:
    bucket: str
    created_bucket: bool
    artifacts: tuple[Artifact, ...]
    uploaded: tuple[str, ...]

    def parameters(self) -> dict[str, str]:
        """The template parameters that point each function at its zip."""
        return {
            ARTIFACTS_BUCKET_PARAMETER: self.bucket,
            **{code_key_parameter(artifact.name): artifact.key for artifact in self.artifacts},
        }

    tls_only: bool = True

    def summary(self) -> list[str]:
        lines = [f"artifacts bucket {self.bucket}{' (created)' if self.created_bucket else ''}"]
        if self.created_bucket and not self.tls_only:
            lines.append("  (plain-HTTP endpoint: the TLS-only bucket policy was not applied)")
        for artifact in self.artifacts:
            state = "uploaded" if artifact.name in self.uploaded else "unchanged, already uploaded"
            lines.append(f"  {artifact.name:<9} {artifact.size / 1_048_576:6.1f} MiB  {artifact.key}  ({state})")
        if any(artifact.bytecode == SOURCE_ONLY for artifact in self.artifacts):
            lines.append(
                f"  source only: no {RUNTIME} on PATH, so Lambda compiles the code at every cold start"
                f" (~120 ms for ingest); with {RUNTIME} installed, `invoke package` ships its bytecode"
            )
        return lines


def publish(s3: Any, bucket: str, region: str, artifacts: Iterable[Artifact], partition: str = "aws") -> Published:
    artifacts = tuple(artifacts)
    created = ensure_artifacts_bucket(s3, bucket, region, partition)
    uploaded = upload_artifacts(s3, bucket, artifacts)
    return Published(
        bucket=bucket,
        created_bucket=created,
        artifacts=artifacts,
        uploaded=tuple(uploaded),
        tls_only=reaches_over_tls(s3),
    )
