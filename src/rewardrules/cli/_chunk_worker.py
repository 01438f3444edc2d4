"""What each worker process of ``dry-run --jobs N`` does with a chunk of whole customers.

The main process (:mod:`rewardrules.cli.dry_run_jobs`) reads and checks the history and
sends each chunk here as an Arrow IPC stream. A worker evaluates it with the batch engine,
turns its ledger into the ledger file's columns (``tools.ledger_sums.ledger_pieces``) and
counts them into a summary of its own, exactly as the one-process stream does for that
chunk (``DryRunOutput.stream``), and sends back the ledger as an IPC stream, the summary's
sums and the totals: what the main process writes and adds up, in input order.

The IPC streams go through a **spool folder** in shared memory (``/dev/shm``, when it has
:data:`SPOOL_FREE_BYTES` free) as files, each read back memory-mapped and removed at once:
a chunk's ledger (about 290 bytes an entry, mostly reason texts) then costs the main
process no copy, where bytes through the pool's pipe cost it three (measured: 0.7 CPU s
for the ledgers of 1,000,000 purchases). Without such a folder they go through the pipe.

A worker is started before the program is read (:mod:`rewardrules.cli._job_workers`); each
chunk comes with a :class:`Setup` (the program, ``--as-of``, the history's name and the
spool folder), compiled once by each worker. A worker keeps, across the chunks of a setup,
the reason texts already formatted and the months of the days already seen, as the
one-process run does across all chunks: caches only, the output is the same whichever
worker a chunk goes to.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from rewardrules.cli.chunk_company import ChunkCompany, evaluate_in_company
from rewardrules.engine.ledger import Evaluation
from rewardrules.errors import HistoryError
from rewardrules.histories._checked import CheckedFacts, remember
from rewardrules.program.model import Program
from rewardrules.tools.ledger_files import ledger_schema
from rewardrules.tools.ledger_sums import ledger_pieces
from rewardrules.tools.summary import CountedSums, SummaryBuilder

__all__ = [
    "ChunkDone",
    "ChunkState",
    "Setup",
    "carry",
    "evaluate_chunk",
    "evaluate_here",
    "next_key",
    "spool_folder",
    "table_bytes",
    "table_of",
    "unpack",
]

SPOOL_FREE_BYTES = 1 << 30
"""Free space that ``/dev/shm`` must have to be used as the spool folder (a container's is
often 64 MiB: a few chunks in flight would fill it)."""
_SHARED_MEMORY = "/dev/shm"  # noqa: S108 -- a folder made in it with mkdtemp, owner-only

Carried = bytes | str
"""A table on its way between processes: an Arrow IPC stream, or the path of a spool file
holding one."""


@dataclass(frozen=True, slots=True)
class ChunkDone:
    """A chunk's results, or the error its evaluation raised (not yet located in the file).

    Attributes:
        error: the batch engine's error about an event of the chunk, or None.
        ledger: the chunk's ledger entries (``ledger_schema``): a table in the process that
            evaluated it, carried (:data:`Carried`) on the way back from a worker.
        entries: how many entries ``ledger`` holds.
        counted: the chunk's summary sums (``SummaryBuilder.counted``).
        evaluation: the chunk's evaluation without its customers (its totals).
        rows: the history rows of the chunk.
        customers: the customers of the chunk.
    """

    error: HistoryError | None = None
    ledger: pa.Table | Carried | None = None
    entries: int = 0
    counted: CountedSums | None = None
    evaluation: Evaluation | None = None
    rows: int = 0
    customers: int = 0


@dataclass(slots=True)
class ChunkState:
    """What one process keeps between the chunks it evaluates (caches only)."""

    program: Program
    as_of: date | datetime | None
    source: str
    reasons: dict[Any, Any] = dataclasses.field(default_factory=dict)
    days: dict[int, tuple[str, str]] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Setup:
    """What a worker is told with each chunk: the program to evaluate it with (compiled
    once by each worker for each :attr:`key`, :data:`_STATES`) and where the ledger goes."""

    key: str
    program: Program
    as_of: date | datetime | None
    source: str
    spool: str | None


_STATES: dict[str, ChunkState] = {}  # a worker process's own, by Setup.key
_NAMES = itertools.count()  # spool files made by this process
_KEYS = itertools.count()  # setups made by this process


def next_key() -> str:
    """A new :attr:`Setup.key` (this process's id and a count)."""
    return f"{os.getpid()}-{next(_KEYS)}"


def table_bytes(table: pa.Table) -> bytes:
    """A table as an Arrow IPC stream (its columns' buffers, no row made)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def table_of(data: bytes) -> pa.Table:
    """The table of an Arrow IPC stream (:func:`table_bytes`)."""
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def spool_folder() -> str | None:
    """A new folder in ``/dev/shm`` for the spool files, or None where there is none with
    :data:`SPOOL_FREE_BYTES` free (the caller removes it)."""
    try:
        status = os.statvfs(_SHARED_MEMORY)
        if status.f_bavail * status.f_frsize < SPOOL_FREE_BYTES:
            return None
        return tempfile.mkdtemp(prefix=f"rewardrules-jobs-{os.getpid()}-", dir=_SHARED_MEMORY)
    except (OSError, AttributeError):  # no /dev/shm, or no statvfs (Windows)
        return None


def carry(table: pa.Table, spool: str | None) -> Carried:
    """A table to send: a spool file's path, or the IPC stream itself without a spool."""
    if spool is None:
        return table_bytes(table)
    path = os.path.join(spool, f"{os.getpid()}-{next(_NAMES)}.arrow")
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return path


def unpack(carried: Carried) -> pa.Table:
    """A table sent (:func:`carry`); a spool file is read memory-mapped and removed (its
    memory stays until the table is gone)."""
    if isinstance(carried, bytes):
        return table_of(carried)
    table = pa.ipc.open_stream(pa.memory_map(carried)).read_all()
    os.unlink(carried)
    return table


def evaluate_chunk(  # pragma: no cover - runs in the worker processes (tests/test_cli_jobs.py)
    setup: Setup,
    chunk: Carried,
    size: int,
    facts: CheckedFacts | None = None,
    company: ChunkCompany | None = None,
) -> ChunkDone:
    """In a worker process: :func:`evaluate_here` of a chunk sent by :func:`carry`, its
    ledger carried back the same way. ``facts`` are what the history checks found of the
    chunk in the main process (``facts_of``), kept for the table read here, which holds the
    same rows: the engine then does not check and search them again. ``company``: the
    chunk's customer profiles and referral facts (``chunk_company``)."""
    state = _STATES.get(setup.key)
    if state is None:
        state = _STATES[setup.key] = ChunkState(setup.program, setup.as_of, setup.source)
    table = unpack(chunk)
    if facts is not None:
        remember(table, facts)
    done = evaluate_here(state, table, size, company)
    if isinstance(done.ledger, pa.Table):
        return dataclasses.replace(done, ledger=carry(done.ledger, setup.spool))
    return done


def evaluate_here(
    worker: ChunkState, table: pa.Table, size: int, company: ChunkCompany | None = None
) -> ChunkDone:
    """Evaluate a chunk of whole customers (a checked history table) with their profiles
    and referral facts (``chunk_company``): its ledger in pieces of ``size`` entries,
    counted into the chunk's summary as they come."""
    program = worker.program
    company = company or ChunkCompany()
    try:
        evaluation = evaluate_in_company(program, table, company, worker.as_of, worker.source)
    except HistoryError as error:
        return ChunkDone(error=error)
    builder = SummaryBuilder(program)
    if company.profiles:  # migrated customers' opening lots go to the months they were earned
        builder.note_openings(company.profiles)
    if company.facts is not None:  # a referral program's second pass
        builder.note_referral_facts(company.facts)
    made: list[tuple[pa.Array[Any], pa.Array[Any]]] = []

    def months() -> tuple[pa.Array[Any], pa.Array[Any]]:
        if not made:  # only for a piece without the engine's dates
            # The history checks' modules, imported only then: not by every worker's start.
            from rewardrules.cli.customer_chunks import event_month_columns  # noqa: PLC0415

            made.append(event_month_columns(table, program, worker.days))
        return made[0]

    tables = []
    for piece in ledger_pieces(evaluation.customers, evaluation.money, size, worker.reasons):
        tables.append(piece.table)
        builder.count_piece(piece, months)
    schema = ledger_schema(evaluation.money)
    ledger = pa.concat_tables(tables) if tables else schema.empty_table()
    return ChunkDone(
        ledger=ledger,
        entries=ledger.num_rows,
        counted=builder.counted(),
        evaluation=dataclasses.replace(evaluation, customers=()),
        rows=table.num_rows,
        customers=len(evaluation.customers),
    )
