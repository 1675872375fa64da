"""The AWS-facing tasks talk to AWS only. The local stack's export line (`invoke up --detach`) leaves
AWS_ENDPOINT_URL pointing at moto on this machine, and every SDK in that shell follows it: `invoke preflight` and
`invoke deploy` would check and "deploy" into the emulator and report success. So before any call they resolve
the endpoints their clients would use (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>, a profile's endpoint_url)
and refuse, in one line, an endpoint on this machine.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import psutil

from ops.errors import OpsError

# The services preflight and deploy call (ops/preflight.py's Clients, CloudFormation, S3 for the artifacts).
GUARDED_SERVICES = ("sts", "cloudformation", "lambda", "apigateway", "sns", "s3")


def this_machine(host: str) -> bool:
    """Whether `host` names this machine: localhost, a loopback or unspecified address, or one of its own."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost") or name == socket.gethostname().lower():
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    own = {item.address.split("%")[0] for items in psutil.net_if_addrs().values() for item in items}
    return address.is_loopback or address.is_unspecified or str(address) in own


def ensure_aws_endpoints(session: Any) -> None:
    """OpsError (one line) if a client of `session` would send its calls to this machine instead of AWS."""
    for service in GUARDED_SERVICES:
        url = session.client(service).meta.endpoint_url
        host = urlsplit(url).hostname or ""
        if this_machine(host):
            raise OpsError(
                f"the AWS endpoint points at this machine ({service}: {url}), not AWS: this shell still has the local "
                "stack's export line; `unset AWS_ENDPOINT_URL` (and any AWS_ENDPOINT_URL_<SERVICE> or the profile's "
                "endpoint_url), then run again"
            )
