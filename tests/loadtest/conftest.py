"""Load-test fixtures. Importing Locust in this process would patch the standard library with gevent
(and upset every other test in the worker): the shape tests import it with the patching switched off.
Locust runs for real only in subprocesses, whose environment drops this switch again."""

from __future__ import annotations

import os

os.environ.setdefault("LOCUST_SKIP_MONKEY_PATCH", "1")
