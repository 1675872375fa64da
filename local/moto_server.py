"""`python -m local.moto_server [moto.server's arguments]`: moto server whose standard SQS queues are indexed.

The local stack starts this instead of `python -m moto.server` (see local/fast_sqs). On a moto version
the index was not written for it prints one line and exits 2 before listening.
"""

from __future__ import annotations

import sys

from moto.server import main as serve

from local.fast_sqs import MotoVersionError, install


def main(argv: list[str] | None = None) -> int:
    try:
        install()
    except MotoVersionError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    serve(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
