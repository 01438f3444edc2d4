"""The worker processes of ``dry-run --jobs N``, started as soon as the command line is read.

A worker imports the engine when it starts (about 0.65 CPU s) and is then told, with each
chunk, which program to evaluate it with (:mod:`rewardrules.cli._chunk_worker`). So it can
start before the program is read: :func:`start_early`, called by the command's entry point
with the command line, starts the workers of ``dry-run ... --jobs N`` while the main
process still imports the command's own modules (about 0.8 CPU s), on the core that would
otherwise wait; ``dry-run --jobs`` then takes them (:func:`take_early`), and the entry
point stops any not taken (:func:`stop_early`: a history evaluated in one process, an
error before the first chunk). A run without them (a test that runs the command in its own
process) starts its own (:class:`Workers`).

This module imports nothing of the engine: it runs before the command's imports.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from importlib import import_module
from multiprocessing import resource_tracker
from typing import Any, Final

from rewardrules.cli import _pandas

__all__ = ["Workers", "ctrl_c_held", "start_early", "stop_early", "take_early"]

WORKER_MODULE: Final = "rewardrules.cli._chunk_worker"
_CLUSTER: Final = ("--workers", "--scheduler")


def boot(spare: bool) -> None:  # pragma: no cover - runs in the worker processes
    """A worker's start: leave Ctrl-C to the main process, spare pandas if the main process
    did (:mod:`rewardrules.cli._pandas`), import the engine."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if spare:
        _pandas.spare_now()
    import_module(WORKER_MODULE)


class Workers:
    """``count`` worker processes being started (a process pool); stop or close them.

    They start with Ctrl-C blocked, and keep it so: Ctrl-C is the main process's to
    handle, and a worker still importing would otherwise print a traceback of its own.
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self.executor: ProcessPoolExecutor | None = None
        self.starts: list[Future[Any]] = []
        if os.name == "posix":
            # Started first: starting it unblocks Ctrl-C in this thread, which the workers
            # started below would then not inherit blocked.
            resource_tracker.ensure_running()
        try:
            with ctrl_c_held():
                self.executor = ProcessPoolExecutor(
                    max_workers=count,
                    mp_context=_context(count),
                    initializer=boot,
                    initargs=(_pandas.spared,),
                )
                # Each submit starts a worker while none is idle.
                self.starts = [self.executor.submit(int) for _ in range(count)]
        except BaseException:
            self.stop()
            raise

    def close(self) -> None:
        """Wait for the chunks given, then for the workers to end."""
        if self.executor is not None:
            self.executor.shutdown(wait=True)

    def stop(self) -> None:
        """Drop the chunks still queued and stop the workers at once."""
        if self.executor is None:
            return
        self.executor.shutdown(wait=False, cancel_futures=True)
        processes: dict[int, Any] = getattr(self.executor, "_processes", None) or {}
        for process in list(processes.values()):
            process.terminate()
        for process in list(processes.values()):
            process.join(5)


_EARLY: list[Workers] = []


def start_early(args: Sequence[str]) -> None:
    """Start the workers of ``dry-run ... --jobs N`` (N > 1), if ``args`` (the command line
    after ``rewardrules``) are that; the command takes them or :func:`stop_early` stops them."""
    count = _jobs(args) - 1
    if count < 1 or _EARLY:
        return
    _EARLY.append(Workers(count))


def take_early(count: int) -> Workers | None:
    """The workers started early, if there are ``count`` of them (else they are stopped)."""
    if not _EARLY:
        return None
    workers = _EARLY.pop()
    if workers.count == count:
        return workers
    workers.stop()
    return None


def stop_early() -> None:
    """Stop the workers started early and not taken."""
    while _EARLY:
        _EARLY.pop().stop()


def _jobs(args: Sequence[str]) -> int:
    """``--jobs``' number in a ``dry-run`` command line (1 if none, or not one to start
    workers for: help, a cluster option, a value that is not a number)."""
    if not args or args[0] != "dry-run" or any(arg in ("-h", "--help") for arg in args):
        return 1
    if any(arg.split("=", 1)[0] in _CLUSTER for arg in args):
        return 1
    found = "1"
    for place, arg in enumerate(args):
        if arg == "--jobs" and place + 1 < len(args):
            found = args[place + 1]
        elif arg.startswith("--jobs="):
            found = arg.split("=", 1)[1]
    return int(found) if found.isdigit() else 1


def _context(workers: int) -> Any:
    """``spawn`` for one worker, ``forkserver`` for several where the platform has it:
    never a plain fork of a process whose Arrow threads may hold locks.

    One worker imports the engine itself: a forkserver would import it once for that one
    fork and stay beside it (about 100 MiB of resident memory and a process for nothing).
    Several workers share the forkserver's imports (the worker module imported once, in
    the server), which is started here with Ctrl-C blocked (it keeps that, and so do the
    workers it forks).
    """
    if workers == 1 or "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # A command that spared pandas (cli._pandas) spares its workers too, first thing.
    spared = ["rewardrules.cli._pandas_spared"] if _pandas.spared else []
    context.set_forkserver_preload([*spared, WORKER_MODULE])
    with ctrl_c_held():
        multiprocessing.forkserver.ensure_running()
    return context


@contextmanager
def ctrl_c_held() -> Iterator[None]:
    """Ctrl-C held back while the block runs, then raised (as ``KeyboardInterrupt``) if it
    came: for what must not be cut in two (a file made and not yet known to be removed).
    Processes started in the block start with it blocked, and keep it so.

    In the main thread only (where Python handles signals); elsewhere the block just runs.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, _frame: came.append(number))
    masked = hasattr(signal, "pthread_sigmask")
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if masked else set()
    try:
        yield
    finally:
        if masked:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        signal.signal(signal.SIGINT, previous)
    if came and callable(previous):
        previous(signal.SIGINT, None)
    elif came and previous == signal.SIG_DFL:
        raise KeyboardInterrupt
