"""Fresh memory without huge pages while the batch engine runs.

numpy asks the kernel for transparent huge pages on every array of 4 MiB or more
(``madvise(MADV_HUGEPAGE)``). Where the kernel then compacts memory to find them as it
first touches the pages (``/sys/kernel/mm/transparent_hugepage/defrag`` set to
``madvise``, a common default), each fresh megabyte costs far more than the arithmetic on
it. The batch engine makes many short-lived arrays of one value per line, each pass over
them streaming once: on a million purchases a cold evaluation spent about a quarter of
its time in those page faults (docs/performance.md). :func:`small_pages` turns the advice
off while evaluations run and puts numpy's own setting back when the last one ends; only
speed depends on it, never a result.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _switch() -> Callable[[bool], bool] | None:
    """numpy's (private) switch of the advice, which returns the previous setting."""
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            found = getattr(importlib.import_module(module), "_set_madvise_hugepage", None)
        except ImportError:
            continue
        if callable(found):
            return found  # type: ignore[no-any-return]
    return None


_SWITCH = _switch()
_LOCK = threading.Lock()
_running = 0
_saved = False


@contextmanager
def small_pages() -> Iterator[None]:
    """No huge-page advice for numpy's arrays inside; numpy's setting back after the last
    of the evaluations running at once (threads) ends."""
    global _running, _saved  # noqa: PLW0603 -- one setting per process, as numpy's
    if _SWITCH is None:
        yield
        return
    with _LOCK:
        if _running == 0:
            _saved = _SWITCH(False)
        _running += 1
    try:
        yield
    finally:
        with _LOCK:
            _running -= 1
            if _running == 0:
                _SWITCH(_saved)
