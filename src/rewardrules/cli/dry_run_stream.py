"""``dry-run --engine batch`` with ``--output`` or ``--summary``: customer chunk by chunk.

The history is read as Arrow tables of whole customers (:mod:`rewardrules.cli.customer_chunks`),
each evaluated by the batch engine and written out (:meth:`DryRunOutput.stream`) before the
next is read, so memory holds one chunk, its evaluation and the totals. A Parquet history
sorted by customer id streams from the file; any other history is read whole into one table
(much smaller than its evaluation) and evaluated chunk by chunk. A Parquet history that is
not sorted is read whole when it has at most ``WHOLE_ROWS`` rows, and refused otherwise
with a message that says how to sort it (docs/histories.md, "Large histories").

Customer profiles (``--customers``) go with the chunk of customers they belong to
(:class:`ProfilesByChunk`). A referral program whose customers file names friends is read
twice, the friends' referral facts first (:mod:`rewardrules.cli.referral_passes`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa

from rewardrules.cli._overlap import ReadAhead, threads_on
from rewardrules.cli._support import STDIN, HistoryReading, located_events
from rewardrules.cli.chunk_company import ChunkCompany, Companions, evaluate_in_company
from rewardrules.cli.customer_chunks import (
    NotSortedError,
    ParquetSource,
    chunk_rows,
    parquet_chunks,
    whole_chunks,
    whole_rows,
)
from rewardrules.cli.dry_run_jobs import ChunkPool, stream_on_jobs
from rewardrules.cli.dry_run_output import DryRunOutput, piece_entries
from rewardrules.cli.referral_passes import FactsByChunk, friends_facts, referred
from rewardrules.engine.ledger import Evaluation
from rewardrules.errors import HistoryError, Problem
from rewardrules.evaluation.batch import refuse, unsupported
from rewardrules.events import Customer
from rewardrules.histories.columns import HISTORY_SCHEMA
from rewardrules.histories.read import _format_of
from rewardrules.program.model import Program
from rewardrules.tools.summary import Summary

_STDIN_NAME = "<stdin>"


def streamed_dry_run(
    program: Program,
    history: Path,
    reading: HistoryReading,
    profiles: list[Customer] | None,
    as_of: date | datetime | None,
    output: DryRunOutput,
    jobs: int = 1,
) -> tuple[Evaluation, Summary]:
    """Evaluate and write a history chunk of customers by chunk; the totals and the summary.

    With ``jobs`` above 1 the chunks are evaluated by that many processes, this one and
    ``jobs - 1`` workers (:mod:`rewardrules.cli.dry_run_jobs`), and written in input
    order: the same file and summary; a referral program whose customers file names
    friends is read twice, the friends' pass here (:mod:`rewardrules.cli.referral_passes`).
    A Parquet history of at most two chunks is evaluated here.

    Raises:
        HistoryError: a problem of the history, located; ``NotSortedError`` for a Parquet
            history of more than ``WHOLE_ROWS`` rows not sorted by customer id.
        UnsupportedError: the program uses what the batch engine does not evaluate yet.
    """
    features = unsupported(program)
    if features:  # before any row is read, as the whole-history run refuses it
        refuse(features)
    size = chunk_rows()
    friends = referred(program, profiles)
    source = _parquet_source(history, reading)
    name = source.name if source is not None else _name(history)
    few = source is not None and source.rows <= _FEW_CHUNKS * size  # not worth a worker
    if jobs > 1 and not few:
        with ChunkPool(jobs - 1, program, as_of, name) as pool:
            return _on_jobs(pool, history, reading, source, size, output, profiles, friends)

    def evaluated(
        chunks: Iterable[pa.Table], facts: FactsByChunk | None
    ) -> Iterator[tuple[pa.Table, Evaluation]]:
        companions = Companions(profiles, facts)
        first = True
        for chunk in chunks:
            company = companions.of(chunk)
            yield chunk, _evaluate(program, chunk, company, as_of, name, history, reading)
            first = False
        last = companions.last()
        if first or last is not None:
            # No row at all (the profiles are still checked, the totals still made), or
            # customers with a profile or a friend's fact and no event after the last
            # chunk's: their gifts and rewards.
            empty = HISTORY_SCHEMA.empty_table()
            last = last or ChunkCompany(profiles)
            yield empty, _evaluate(program, empty, last, as_of, name, history, reading)

    def run(chunks: Callable[[], Iterable[pa.Table]]) -> tuple[Evaluation, Summary]:
        facts = _friends_pass(program, chunks, profiles, friends, as_of, name, history, reading)
        if facts is not None:
            output.note_referral_facts(facts.facts)
        # The next chunk is read in a thread while this one is evaluated.
        with ReadAhead(chunks(), threaded=threads_on()) as ahead:
            return output.stream(evaluated(ahead, facts))

    return _on_chunks(run, history, reading, source, size)


def _friends_pass(
    program: Program,
    chunks: Callable[[], Iterable[pa.Table]],
    profiles: list[Customer] | None,
    friends: set[str],
    as_of: date | datetime | None,
    name: str,
    history: Path,
    reading: HistoryReading,
) -> FactsByChunk | None:
    """Pass one of a referral program whose customers file names friends: their facts
    (:mod:`rewardrules.cli.referral_passes`); None without friends."""
    if not friends or profiles is None:
        return None

    def alone(rows: pa.Table, given: list[Customer]) -> Evaluation:
        return _evaluate(program, rows, ChunkCompany(given), as_of, name, history, reading)

    return FactsByChunk(friends_facts(chunks(), profiles, friends, alone))


def _on_jobs(
    pool: ChunkPool,
    history: Path,
    reading: HistoryReading,
    source: ParquetSource | None,
    size: int,
    output: DryRunOutput,
    profiles: list[Customer] | None,
    friends: set[str],
) -> tuple[Evaluation, Summary]:
    """:func:`streamed_dry_run`'s chunks on a pool of worker processes, read as there
    (after the friends' pass in this process, for a referral program)."""

    def locate(error: HistoryError) -> HistoryError:
        return located_events(error, history, reading)

    pieces = piece_entries()
    program, as_of, name = pool.program, pool.as_of, pool.source

    def run(chunks: Callable[[], Iterable[pa.Table]]) -> tuple[Evaluation, Summary]:
        facts = _friends_pass(program, chunks, profiles, friends, as_of, name, history, reading)
        companions = Companions(profiles, facts)
        return stream_on_jobs(output, pool, chunks(), pieces, locate, companions)

    return _on_chunks(run, history, reading, source, size)


def _on_chunks(
    run: Callable[[Callable[[], Iterable[pa.Table]]], tuple[Evaluation, Summary]],
    history: Path,
    reading: HistoryReading,
    source: ParquetSource | None,
    size: int,
) -> tuple[Evaluation, Summary]:
    """``run`` over the history's chunks of whole customers (given as a function that
    starts reading them, once a pass): a Parquet history streamed by row groups, or, if it
    turns out not sorted by customer and has at most ``whole_rows()`` rows, read whole and
    cut (more rows: ``NotSortedError``); any other history read whole and cut."""
    if source is not None:
        try:
            return run(lambda: parquet_chunks(source, size))
        except NotSortedError:
            if source.rows > whole_rows():
                raise
        table = source.read_whole()
    else:
        table = reading.read_table(history)
    return run(lambda: whole_chunks(table, size))


_FEW_CHUNKS = 2
"""A Parquet history of at most this many chunks' rows is evaluated in this process even
with ``--jobs``: starting a worker costs about a CPU second, more than it would save."""


def _name(history: Path) -> str:
    return _STDIN_NAME if str(history) == STDIN else str(history)


def _evaluate(
    program: Program,
    chunk: pa.Table,
    company: ChunkCompany,
    as_of: date | datetime | None,
    name: str,
    history: Path,
    reading: HistoryReading,
) -> Evaluation:
    try:
        return evaluate_in_company(program, chunk, company, as_of, name)
    except HistoryError as error:
        raise located_events(error, history, reading) from None


def _parquet_source(history: Path, reading: HistoryReading) -> ParquetSource | None:
    """The history as a Parquet file to stream, or None when it is not Parquet."""
    if str(history) == STDIN:
        data = reading.stdin_bytes()
        told = reading.format
        if told == "parquet" or (told is None and data.startswith(b"PAR1")):
            return ParquetSource(None, data, _STDIN_NAME)
        return None
    if not history.is_file() or _format_of(str(history), reading.format) != "parquet":
        return None  # the whole-file reader says what is wrong with it
    if reading.encoding != "utf-8":
        raise HistoryError([Problem("encoding applies to text files only", code="bad-option")])
    return ParquetSource(history, None, str(history))
