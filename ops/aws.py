"""boto3 sessions from standard profiles and regions, and AWS errors turned into one readable line.

boto3 reads `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) itself, which is how the tests point every
call at moto server; nothing here knows whether it talks to AWS or to an emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, ProfileNotFound

from ops.errors import OpsError


def make_session(profile: str | None = None, region: str | None = None) -> boto3.Session:
    """A session for `--profile`/`--region`, falling back to the environment and ~/.aws like the AWS CLI."""
    try:
        return boto3.Session(profile_name=profile or None, region_name=region or None)
    except ProfileNotFound as error:
        # The name botocore looked for: --profile, or AWS_PROFILE when --profile was not given.
        name = error.kwargs.get("profile", profile)
        source = "--profile" if profile else "AWS_PROFILE"
        raise OpsError(f"AWS profile {name!r} ({source}) not found in ~/.aws/config or ~/.aws/credentials") from None


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: ClientError) -> str:
    """`Code: message` on one line (moto's HTML 500 pages included)."""
    details = error.response.get("Error", {})
    message = " ".join(str(details.get("Message", "")).split())
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = details.get("Code") or (f"HTTP {status}" if status else "error")
    if message.startswith("<"):  # an HTML error page says nothing useful on one line
        message = ""
    return f"{code}: {message}" if message else str(code)


def account_id(session: boto3.Session) -> str:
    with aws_errors("looking up the AWS account"):
        return session.client("sts").get_caller_identity()["Account"]


def region_of(session: boto3.Session) -> str:
    if not session.region_name:
        raise OpsError("no AWS region: pass --region, set AWS_REGION or configure the profile's region")
    return session.region_name


@contextmanager
def aws_errors(doing: str) -> Iterator[None]:
    """Turn credential, region and service errors into an OpsError: `<doing>: <Code>: <message>`."""
    try:
        yield
    except NoCredentialsError:
        raise OpsError(f"{doing}: no AWS credentials (use --profile, AWS_PROFILE or `aws sso login`)") from None
    except NoRegionError:
        raise OpsError(f"{doing}: no AWS region (pass --region or set AWS_REGION)") from None
    except ClientError as error:
        raise OpsError(f"{doing}: {error_message(error)}") from None
    except BotoCoreError as error:
        raise OpsError(f"{doing}: {' '.join(str(error).split())}") from None
