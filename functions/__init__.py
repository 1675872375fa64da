"""Sluice's Lambda functions. Each sub-package is one function; `common` is shared by all of them.

This package imports nothing from the rest of the repository: a function's zip holds only `functions/`
and the runtime dependencies listed in `functions/requirements.txt`.
"""
