"""AWS clients for the handlers, made by botocore without importing boto3.

`boto3.client(...)` returns a botocore client made the same way; importing boto3 also loads its resource layer and
s3transfer, ~30 ms of every cold start that no handler uses (`invoke bench --only functions` measures it).
Like boto3, botocore reads the region, credentials and AWS_ENDPOINT_URL from the environment.
"""

import threading
from typing import Any

import botocore.session
from botocore.config import Config

# One session per process, as boto3's default session: a session loads botocore's data files once.
_session = botocore.session.get_session()
# Sessions are not thread-safe; the local stack creates execution environments from several threads.
_session_lock = threading.Lock()


def client(service: str, config: Config | None = None) -> Any:
    """A low-level client for `service`, as `boto3.client(service, config=config)` makes it (boto3 only adds
    conveniences such as S3's upload_file, which no handler uses)."""
    with _session_lock:
        return _session.create_client(service, config=config)
