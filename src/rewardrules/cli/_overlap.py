"""Two threads beside the one-process streamed dry-run: one reads ahead, one writes behind.

pyarrow lets go of the GIL while it decodes a Parquet file's pages and while it encodes,
compresses and writes one, and numpy and Arrow's compute functions while they work on
long arrays. So the next chunk can be read while this one is evaluated, and the last
one's ledger written meanwhile (docs/performance.md, "Overlapping reading and writing in
one process"):

* :class:`ReadAhead` runs an iterator of chunks in a thread of its own, **one** chunk
  ahead of the thread that takes them (at most one waiting, one being read);
* :class:`WriteBehind` runs a function on each item handed to it, in a thread of its
  own, **in the order given**, with at most one item waiting besides the one at work.

Errors keep the order of the input. A reader's error is raised where its chunk would have
been taken; a writer's error by the next hand-over, or by :meth:`WriteBehind.stop`, which
the giver calls on any error of its own: it lets the writer finish what it was given
(the chunks before the failing one) and returns the writer's error if that came first.
Ctrl-C reaches the main thread only (the threads block it): :meth:`WriteBehind.stop` after
a ``KeyboardInterrupt`` drops what waits; either thread ends once its current item is
done, and is joined before the caller goes on, so that no thread outlives the run and the
ledger file is removed only once nothing writes to it.

They are used where the process may run on two cores or more. ``REWARDRULES_THREADS=0``
in the environment turns them off (``1`` on): the reader's iterator and the writer's
function then run in the calling thread, one after the other, as before.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Generic, TypeVar

from rewardrules.cli._job_workers import ctrl_c_held

__all__ = ["ReadAhead", "WriteBehind", "threads_on"]

_Item = TypeVar("_Item")


def threads_on() -> bool:
    """Whether the streamed run reads ahead and writes behind in threads: when this process
    may run on two cores or more (on one, the threads would only add their switching);
    ``REWARDRULES_THREADS=1`` or ``0`` says so instead (for comparisons and measurements)."""
    told = os.environ.get("REWARDRULES_THREADS", "").strip()
    if told in ("0", "1"):
        return told == "1"
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return (len(cores) if cores is not None else os.cpu_count() or 1) >= 2


class _Channel(Generic[_Item]):
    """At most ``size`` items between two threads. The giver ends it (the taker takes what
    waits, then hears the end) or either side closes it (what waits is dropped, both hear
    it at once)."""

    def __init__(self, size: int) -> None:
        self._items: deque[_Item] = deque()
        self._size = size
        self._turn = threading.Condition()
        self._ended = self._closed = False

    def put(self, item: _Item) -> bool:
        """Give an item once there is room; False if the channel was closed."""
        with self._turn:
            while len(self._items) >= self._size and not self._closed:
                self._turn.wait()
            if self._closed:
                return False
            self._items.append(item)
            self._turn.notify_all()
            return True

    def get(self) -> list[_Item]:
        """The next item, once there is one (in a list); an empty list once the channel is
        closed, or ended with nothing left."""
        with self._turn:
            while not self._items and not self._ended and not self._closed:
                self._turn.wait()
            if self._closed or not self._items:
                return []
            item = self._items.popleft()
            self._turn.notify_all()
            return [item]

    def end(self) -> None:
        """No more items: the taker takes those waiting, then stops."""
        with self._turn:
            self._ended = True
            self._turn.notify_all()

    def close(self) -> None:
        """Drop what waits; both sides stop."""
        with self._turn:
            self._closed = True
            self._items.clear()
            self._turn.notify_all()


class _Raised:
    """An error of the reader's iterator, on its way to the taker."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _started(name: str, run: Callable[[], None]) -> threading.Thread:
    """A thread running ``run``, with Ctrl-C blocked in it from its start (it inherits the
    mask of the thread that starts it, blocked for that moment): the signal then goes to
    the main thread, which handles it (a wait of the main thread is cut short by it only
    if the signal is delivered to that thread)."""
    # A daemon only in case of a bug: every thread is joined before the run ends.
    thread = threading.Thread(target=run, name=name, daemon=True)
    if not hasattr(signal, "pthread_sigmask"):
        thread.start()
        return thread
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
    return thread


def _join(thread: threading.Thread | None) -> None:
    """Wait for a thread that was told to stop, Ctrl-C held (and raised after), so that
    it cannot be left running."""
    if thread is not None:
        with ctrl_c_held():
            thread.join()


class ReadAhead(Generic[_Item]):
    """Iterate ``items`` in a thread of its own, one item ahead; a context manager whose
    iteration gives the items in order, then raises the iterator's error, if any, where
    it came. Leaving the block stops the thread (after the item it is reading) and closes
    the iterator there."""

    def __init__(self, items: Iterable[_Item], *, threaded: bool = True) -> None:
        self._items = items
        self._channel: _Channel[_Item | _Raised] = _Channel(1)
        self._thread = _started("rewardrules-read-ahead", self._read) if threaded else None

    def _read(self) -> None:
        iterator = iter(self._items)
        try:
            for item in iterator:
                if not self._channel.put(item):
                    return  # the taker stopped
            self._channel.end()
        except BaseException as error:  # handed to the taker, raised there
            self._channel.put(_Raised(error))
            self._channel.end()
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[_Item]:
        if self._thread is None:
            yield from self._items
            return
        while True:
            found = self._channel.get()
            if not found:
                return
            item = found[0]
            if isinstance(item, _Raised):
                raise item.error
            yield item

    def close(self) -> None:
        """Stop the thread and wait for it."""
        self._channel.close()
        _join(self._thread)

    def __enter__(self) -> ReadAhead[_Item]:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class WriteBehind(Generic[_Item]):
    """Run ``work`` on each item :meth:`put`, in the order given, in a thread of its own,
    with at most one item waiting besides the one at work. :meth:`finish` waits for all of
    them; :meth:`stop`, after an error of the giver's, ends the thread."""

    def __init__(self, work: Callable[[_Item], None], *, threaded: bool = True) -> None:
        self._work = work
        self._channel: _Channel[_Item] = _Channel(1)
        self._error: BaseException | None = None
        self._thread = _started("rewardrules-write-behind", self._write) if threaded else None

    def _write(self) -> None:
        while True:
            found = self._channel.get()
            if not found:
                return
            try:
                self._work(found[0])
            except BaseException as error:  # handed to the giver, raised there
                self._error = error
                self._channel.close()
                return

    def put(self, item: _Item) -> None:
        """Hand over an item (wait while one waits already).

        Raises:
            BaseException: what ``work`` raised on an earlier item.
        """
        if self._thread is None:
            self._work(item)
            return
        if not self._channel.put(item) or self._error is not None:
            self._thread.join()  # it stopped on the error
            raise self._failure()

    def finish(self) -> None:
        """Wait until every item is done.

        Raises:
            BaseException: what ``work`` raised, if it did.
        """
        if self._thread is None:
            return
        self._channel.end()
        self._thread.join()
        if self._error is not None:
            raise self._failure()

    def stop(self, error: BaseException) -> BaseException | None:
        """End the thread after the giver's ``error``; the error to raise instead, if any.

        After an ``Exception`` the items given are done first, since they come before the
        one that failed: an error of theirs is the one to show. After Ctrl-C (or any other
        ``BaseException``) what waits is dropped.
        """
        if self._thread is None:
            return None
        if isinstance(error, Exception):
            self._channel.end()
        else:
            self._channel.close()
        _join(self._thread)
        found = self._error
        return found if found is not None and found is not error else None

    def _failure(self) -> BaseException:
        found = self._error
        if found is None:  # pragma: no cover - put fails only after an error
            return RuntimeError("the ledger writer stopped")
        return found
