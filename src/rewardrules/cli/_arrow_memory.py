"""Arrow's memory pool for ``dry-run``: jemalloc, which gives freed memory back sooner.

pyarrow allocates from mimalloc by default, which keeps the pages of freed buffers for
later ones. A streamed dry-run frees each chunk's columns, evaluation and ledger before
the next, and held about 90 MiB more at its peak with mimalloc than with pyarrow's
jemalloc pool on the 1,000,000-purchase history of docs/performance.md ("`--jobs`, ninth
session"), for no more CPU time; with ``--jobs`` each process holds that much more.

The pool is chosen by Arrow once, at its first allocation, from the environment variable
``ARROW_DEFAULT_MEMORY_POOL``: :func:`lean_memory` sets it before pyarrow is imported,
for a ``dry-run`` process on Linux (pyarrow's Linux wheels have jemalloc; elsewhere Arrow
would warn about a pool it lacks), unless it is set already. The worker processes of
``--jobs`` inherit it. Only for a process that is the ``rewardrules`` command
(:func:`rewardrules.cli.entry.main`), like :mod:`rewardrules.cli._pandas`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Final

__all__ = ["POOL_VARIABLE", "lean_memory"]

POOL_VARIABLE: Final = "ARROW_DEFAULT_MEMORY_POOL"
_COMMANDS: Final = frozenset({"dry-run"})


def lean_memory(args: Sequence[str]) -> None:
    """Have Arrow allocate from jemalloc if ``args`` (the command line after
    ``rewardrules``) run a command in :data:`_COMMANDS`, on Linux, before pyarrow is
    imported, and the environment does not choose a pool already."""
    if not args or args[0] not in _COMMANDS or not sys.platform.startswith("linux"):
        return
    if "pyarrow" in sys.modules or POOL_VARIABLE in os.environ:
        return
    os.environ[POOL_VARIABLE] = "jemalloc"
