"""Make Locust importable next to urllib3 1.26.

checkov (a dev dependency) pins urllib3==1.26.20, while Locust 2.47's `locust.clients` imports
`create_urllib3_context` from `urllib3.util`, which only urllib3 2 exports there. urllib3 1.26 has the
same function in `urllib3.util.ssl_`: expose it where Locust looks. A no-op once urllib3 2 is installed.
"""

from __future__ import annotations


def ensure_locust_importable() -> None:
    import urllib3.util

    if not hasattr(urllib3.util, "create_urllib3_context"):
        from urllib3.util import ssl_

        urllib3.util.create_urllib3_context = ssl_.create_urllib3_context  # type: ignore[attr-defined]
