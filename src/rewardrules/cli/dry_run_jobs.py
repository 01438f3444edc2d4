"""``dry-run --engine batch --jobs N``: the streamed dry-run on N processes of one machine.

N processes evaluate: the main one and N - 1 workers. The main process reads and checks
the history in chunks of whole customers, as the one-process stream does
(:mod:`rewardrules.cli.customer_chunks`), and sends each chunk, as an Arrow IPC stream, to
a pool of worker processes (:mod:`rewardrules.cli._chunk_worker`, started as soon as the
command line is read: :mod:`rewardrules.cli._job_workers`) while they have fewer than
:data:`IN_FLIGHT_PER_JOB` chunks each; otherwise (and while the workers are starting) it
evaluates the chunk itself, the same way. A worker sends back the chunk's ledger (an IPC
stream) and its summary's sums; the main process writes the ledgers to the one ledger file
and adds up the sums **in input order**, so the file, the summary and the totals are those
of ``--jobs 1``, byte for byte.

At most :data:`IN_FLIGHT_PER_JOB` x N chunks are read and not yet written at any time:
memory is bounded by that many chunks, their evaluations and their ledgers on their way
back, whatever the length of the history.

Errors come out as in one process. A problem found while reading chunk k is raised only
after the chunks before k are evaluated, and the first of their own errors wins; an
evaluation error of chunk k is raised when chunk k's turn to be written comes, and nothing
of a later chunk is written. On any failure (an error, Ctrl-C, a worker that died) the
partial ledger file is removed (``LedgerFile.discard``), the workers are stopped and the
spool folder is removed; the ledger file, the spool folder and the workers are made with
Ctrl-C held (``_job_workers.ctrl_c_held``), so that none is made and left behind.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from datetime import date, datetime
from types import TracebackType
from typing import Final, cast

import pyarrow as pa

from rewardrules.cli._chunk_worker import (
    ChunkDone,
    ChunkState,
    Setup,
    carry,
    evaluate_chunk,
    evaluate_here,
    next_key,
    spool_folder,
    unpack,
)
from rewardrules.cli._job_workers import Workers, ctrl_c_held, take_early
from rewardrules.cli.customer_chunks import ProfilesByChunk
from rewardrules.cli.dry_run_output import DryRunOutput, summed_totals
from rewardrules.engine.ledger import Evaluation
from rewardrules.errors import HistoryError, Problem, RewardRulesError
from rewardrules.events import Customer
from rewardrules.histories._checked import facts_of
from rewardrules.histories.columns import HISTORY_SCHEMA
from rewardrules.program.model import Program
from rewardrules.tools.ledger_files import LedgerFile
from rewardrules.tools.summary import Summary, SummaryBuilder

__all__ = ["IN_FLIGHT_PER_JOB", "MAIN_EVALUATES", "ChunkPool", "stream_on_jobs"]

IN_FLIGHT_PER_JOB: Final = 3
"""Chunks given to a worker and not yet done, at most: one being evaluated, two waiting.
The main process evaluates a chunk itself only when every worker has that many, so that
a worker still has work when the main process is done with its own chunk and has read
the next: with one waiting (two in flight) the worker of ``--jobs 2`` ran dry during the
main process's evaluations (docs/performance.md, "`--jobs`, ninth session"). Chunks read
and not yet written: at most this many per process that evaluates."""

MAIN_EVALUATES = True
"""Whether the main process evaluates a chunk itself when the workers have enough or are
still starting (tests set it False, so that every chunk goes to a worker)."""


class ChunkPool:
    """Worker processes that evaluate chunks of one program; a context manager.

    The workers are those started early by the command's entry point
    (:func:`rewardrules.cli._job_workers.start_early`), or else started here. Until each
    has imported the engine (its start's future is done), :attr:`ready` is False and this
    process evaluates the chunks it reads itself (:meth:`evaluate_here`), so that the start
    of the workers costs no wall time.

    Args:
        workers: how many worker processes.
        program: the program, sent with each chunk (compiled once by each worker).
        as_of: ``--as-of``.
        source: the history's name, for the engine's located errors.
    """

    def __init__(
        self, workers: int, program: Program, as_of: date | datetime | None, source: str
    ) -> None:
        self.workers = workers
        self._here = ChunkState(program, as_of, source)
        self._spool: str | None = None
        self._workers = take_early(workers)
        try:
            # Ctrl-C held until the spool folder and the workers are there to be removed
            # and stopped.
            with ctrl_c_held():
                if self._workers is None:
                    self._workers = Workers(workers)
                self._spool = spool_folder()
                self._setup = Setup(next_key(), program, as_of, source, self._spool)
        except BaseException:
            self._stop()
            raise

    @property
    def ready(self) -> bool:
        """Whether the workers have started, each having imported the engine (before that,
        chunks are evaluated here)."""
        starts = cast(Workers, self._workers).starts
        return all(start.done() for start in starts)

    def submit(
        self, chunk: pa.Table, size: int, profiles: list[Customer] | None = None
    ) -> Future[ChunkDone]:
        """Send a chunk and its customers' profiles to be evaluated, its ledger in pieces of
        ``size`` entries (a worker that died makes the pool refuse it: the future holds that
        error)."""
        try:
            executor = cast(Workers, self._workers).executor
            if executor is None:  # pragma: no cover - made in __init__ or raised there
                raise BrokenProcessPool("no worker processes")
            carried = carry(chunk, self._spool)
            facts = facts_of(chunk)
            return executor.submit(evaluate_chunk, self._setup, carried, size, facts, profiles)
        except BrokenProcessPool as error:
            lost: Future[ChunkDone] = Future()
            lost.set_exception(error)
            return lost

    def evaluate_here(
        self, chunk: pa.Table, size: int, profiles: list[Customer] | None = None
    ) -> Future[ChunkDone]:
        """Evaluate a chunk in this process, as a worker would: a future already done."""
        done: Future[ChunkDone] = Future()
        done.set_result(evaluate_here(self._here, chunk, size, profiles))
        return done

    def __enter__(self) -> ChunkPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None and self._workers is not None:
            self._workers.close()
        self._stop()

    def _stop(self) -> None:
        """Drop the chunks still queued and stop the workers at once (after a failure; they
        ignore Ctrl-C, which is the main process's to handle); remove the spool folder
        (the files of chunks never read back)."""
        try:
            if self._workers is not None:
                self._workers.stop()
        finally:
            if self._spool is not None:
                shutil.rmtree(self._spool, ignore_errors=True)


def _lost(error: BaseException) -> RewardRulesError:
    message = (
        f"a worker process of --jobs stopped before it finished ({error}); no ledger file "
        "was written: run again, or with --jobs 1 to see the failure in one process"
    )
    return RewardRulesError([Problem(message, code="worker-lost")])


class _InOrder:
    """The results of a stream's chunks, taken in input order: written and counted."""

    def __init__(
        self, output: DryRunOutput, locate: Callable[[HistoryError], HistoryError]
    ) -> None:
        program = output.program
        self.output = output
        self.locate = locate
        self.builder = SummaryBuilder(program)
        self.ledger = None if output.output is None else LedgerFile(output.output, program.money)
        self.evaluations: list[Evaluation] = []
        self.rows = self.customers = 0

    def result(self, future: Future[ChunkDone]) -> ChunkDone:
        """A chunk's results, once evaluated; its error (located) if it had one."""
        try:
            found = future.result()
        except BrokenProcessPool as error:
            raise _lost(error) from None
        if found.error is not None:
            raise self.locate(found.error)
        return found

    def write(self, found: ChunkDone) -> None:
        """Write a chunk's ledger, count its summary, keep its totals, move the bar."""
        ledger = found.ledger
        if ledger is not None and not isinstance(ledger, pa.Table):
            ledger = unpack(ledger)
        if self.ledger is not None and ledger is not None and found.entries:
            self.ledger.write_table(ledger)
        if found.counted is not None:
            self.builder.add_counted(found.counted)
        if found.evaluation is not None:
            self.evaluations.append(found.evaluation)
        self.rows += found.rows
        self.customers += found.customers
        self.output.progress.chunk(self.rows, self.customers)

    def fail(self) -> None:
        """Remove the partial ledger and take the bar down."""
        if self.ledger is not None:
            self.ledger.discard()
        self.output.progress.close()

    def finish(self) -> tuple[Evaluation, Summary]:
        """Move the ledger into place; the evaluation of all chunks and the summary."""
        if self.ledger is not None:
            self.ledger.close()
            self.output.entries = self.ledger.entries
        self.output.progress.close()
        totals = summed_totals(evaluation.totals for evaluation in self.evaluations)
        first = self.evaluations[0]
        return dataclasses.replace(first, customers=(), totals=totals), self.builder.finish(totals)


def stream_on_jobs(
    output: DryRunOutput,
    pool: ChunkPool,
    chunks: Iterable[pa.Table],
    size: int,
    locate: Callable[[HistoryError], HistoryError],
    profiles: list[Customer] | None = None,
) -> tuple[Evaluation, Summary]:
    """Evaluate chunks of whole customers on the pool; write and count them in input order.

    What :meth:`DryRunOutput.stream` does in one process, with the same file, summary and
    totals. ``size``: entries per ledger piece; ``locate``: points an engine error at the
    history's rows; ``profiles``: customer profiles, each sent with its customer's chunk
    (those of customers without events after the last: :class:`ProfilesByChunk`).

    Returns:
        The evaluation with no customers and the totals of all chunks, and the summary.
    """
    made: list[_InOrder] = []
    pending: deque[Future[ChunkDone]] = deque()
    limit = IN_FLIGHT_PER_JOB * (pool.workers + 1)
    read = iter(chunks)
    routed = None if profiles is None else ProfilesByChunk(profiles)

    def send(chunk: pa.Table, given: list[Customer] | None) -> Future[ChunkDone]:
        """To a worker if one has room, else evaluated here (a future already done)."""
        if not MAIN_EVALUATES:
            return pool.submit(chunk, size, given)
        busy = sum(not future.done() for future in pending)  # at the workers
        if pool.ready and busy < IN_FLIGHT_PER_JOB * pool.workers:
            return pool.submit(chunk, size, given)
        return pool.evaluate_here(chunk, size, given)

    try:
        with ctrl_c_held():  # the ledger file made, and known to be removed on a failure
            made.append(_InOrder(output, locate))
        taken = made[0]
        while True:
            try:
                chunk = next(read, None)
            except Exception:
                # A problem of this chunk's rows: the chunks before it are evaluated first,
                # and the first of their errors is the one a single process would show.
                while pending:
                    taken.result(pending.popleft())
                raise
            if chunk is None:
                break
            pending.append(send(chunk, None if routed is None else routed.up_to(chunk)))
            while pending and (len(pending) >= limit or pending[0].done()):
                taken.write(taken.result(pending.popleft()))
        rest = None if routed is None else routed.rest()
        if rest or (not taken.evaluations and not pending):
            # No row at all (still the totals, the profiles still checked), or customers
            # with a profile and no event after the last chunk's.
            pending.append(send(HISTORY_SCHEMA.empty_table(), rest))
        while pending:
            taken.write(taken.result(pending.popleft()))
    except BaseException:
        for future in pending:
            future.cancel()
        if made:
            made[0].fail()
        raise
    return taken.finish()
