"""`python -m loadtest.locust_main ARGS`: Locust's own command line, after the compatibility shim.

Takes exactly `locust`'s arguments. gevent patches the standard library first, as `import locust`
would, so nothing (ssl in particular) is imported unpatched before it.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    if not os.environ.get("LOCUST_SKIP_MONKEY_PATCH"):
        from gevent import monkey

        monkey.patch_all()
    from loadtest.compat import ensure_locust_importable

    ensure_locust_importable()
    from locust.main import main as locust_main

    sys.argv[0] = "locust"
    return int(locust_main() or 0)


if __name__ == "__main__":
    sys.exit(main())
