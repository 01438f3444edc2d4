"""Spare a ``dry-run`` process the import of pandas, which it never uses.

pyarrow asks, on its first conversion of a Python list (``pa.array([...])``,
``pa.scalar``), whether the list is a pandas object, and imports pandas to ask: 0.25-0.3
CPU s on the machine of docs/performance.md, about a twentieth of a 1M-purchase streamed
dry-run. :func:`spare_pandas` makes that first question find no pandas (pyarrow then
answers "not a pandas object" for good), and only that one: pandas stays importable, and
pyarrow still imports it when asked to convert to or from pandas (``to_pandas``,
``from_pandas``).

Only for a process that is the ``rewardrules`` command (:func:`rewardrules.cli.entry.main`),
and not for a run on a Dask cluster, whose partitions are pandas frames; never in a
process that hosts the command (tests, a notebook), where pandas may be in use.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from typing import Final

_COMMANDS: Final = frozenset({"dry-run"})
"""The commands that may spare pandas: those that hand pyarrow no pandas object."""
_CLUSTER: Final = ("--workers", "--scheduler")
"""``dry-run`` options that evaluate on Dask (pandas frames)."""


class _NoPandas:
    """A finder that refuses ``import pandas`` (while pyarrow asks its first question)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is not needed by this command", name=name)
        return None


def spare_pandas(args: Sequence[str]) -> None:
    """Have pyarrow settle that there is no pandas, if ``args`` (the command line after
    ``rewardrules``) run a command in :data:`_COMMANDS` with no cluster option."""
    if not args or args[0] not in _COMMANDS or "pandas" in sys.modules:
        return
    if any(arg.split("=", 1)[0] in _CLUSTER for arg in args):
        return
    spare_now()


def spare_now() -> None:
    """Have pyarrow settle, in this process, that there is no pandas (unless imported)."""
    global spared  # noqa: PLW0603 -- one flag per process
    if "pandas" in sys.modules:
        return
    import pyarrow as pa  # noqa: PLC0415 -- the command imports it anyway, --help does not

    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])  # pyarrow's first question: is this a pandas object?
    finally:
        sys.meta_path.remove(finder)
    spared = True


spared = False
"""Whether :func:`spare_now` ran in this process (``dry-run --jobs`` then spares its
worker processes too: :mod:`rewardrules.cli._pandas_spared`)."""
