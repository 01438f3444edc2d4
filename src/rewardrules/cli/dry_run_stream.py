"""``dry-run --engine batch`` with ``--output`` or ``--summary``: customer chunk by chunk.

The history is read as Arrow tables of whole customers (:mod:`rewardrules.cli.customer_chunks`),
each evaluated by the batch engine and written out (:meth:`DryRunOutput.stream`) before the
next is read, so memory holds one chunk, its evaluation and the totals. A Parquet history
sorted by customer id streams from the file; any other history is read whole into one table
(much smaller than its evaluation) and evaluated chunk by chunk. A Parquet history that is
not sorted is read whole when it has at most ``WHOLE_ROWS`` rows, and refused otherwise
with a message that says how to sort it (docs/histories.md, "Large histories").

Customer profiles (``--customers``) go with the chunk of customers they belong to
(:class:`ProfilesByChunk`); a referral program, where a friend's purchase rewards a
referrer in another chunk, is evaluated in one piece.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa

from rewardrules.cli._overlap import ReadAhead, threads_on
from rewardrules.cli._support import STDIN, HistoryReading, located_events
from rewardrules.cli.customer_chunks import (
    NotSortedError,
    ParquetSource,
    ProfilesByChunk,
    chunk_rows,
    parquet_chunks,
    whole_chunks,
    whole_rows,
)
from rewardrules.cli.dry_run_jobs import ChunkPool, stream_on_jobs
from rewardrules.cli.dry_run_output import DryRunOutput, piece_entries
from rewardrules.engine.ledger import Evaluation
from rewardrules.errors import HistoryError, Problem
from rewardrules.evaluation.batch import evaluate_table, refuse, unsupported
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
    order: the same file and summary. A history evaluated in one piece (a referral
    program) or a Parquet history of at most two chunks is evaluated here.

    Raises:
        HistoryError: a problem of the history, located; ``NotSortedError`` for a Parquet
            history of more than ``WHOLE_ROWS`` rows not sorted by customer id.
        UnsupportedError: the program uses what the batch engine does not evaluate yet.
    """
    features = unsupported(program)
    if features:  # before any row is read, as the whole-history run refuses it
        refuse(features)
    size = chunk_rows()
    if any(rule.kind == "referral" for rule in program.rules):
        # A friend's purchase rewards a referrer who may be in another chunk: such a
        # history is evaluated in one piece.
        size = _ONE_PIECE
    source = _parquet_source(history, reading)
    name = source.name if source is not None else _name(history)
    few = source is not None and source.rows <= _FEW_CHUNKS * size  # not worth a worker
    if jobs > 1 and size != _ONE_PIECE and not few:
        with ChunkPool(jobs - 1, program, as_of, name) as pool:
            return _on_jobs(pool, history, reading, source, size, output, profiles)

    def evaluated(chunks: Iterable[pa.Table]) -> Iterator[tuple[pa.Table, Evaluation]]:
        routed = None if profiles is None else ProfilesByChunk(profiles)
        first = True
        for chunk in chunks:
            given = None if routed is None else routed.up_to(chunk)
            yield chunk, _evaluate(program, chunk, given, as_of, name, history, reading)
            first = False
        rest = None if routed is None else routed.rest()
        if first or rest:
            # No row at all (the profiles are still checked, the totals still made), or
            # customers with a profile and no event after the last chunk's: their gifts.
            empty = HISTORY_SCHEMA.empty_table()
            yield empty, _evaluate(program, empty, rest, as_of, name, history, reading)

    def run(chunks: Iterable[pa.Table]) -> tuple[Evaluation, Summary]:
        # The next chunk is read in a thread while this one is evaluated.
        with ReadAhead(chunks, threaded=threads_on()) as ahead:
            return output.stream(evaluated(ahead))

    return _on_chunks(run, history, reading, source, size)


def _on_jobs(
    pool: ChunkPool,
    history: Path,
    reading: HistoryReading,
    source: ParquetSource | None,
    size: int,
    output: DryRunOutput,
    profiles: list[Customer] | None,
) -> tuple[Evaluation, Summary]:
    """:func:`streamed_dry_run`'s chunks on a pool of worker processes, read as there."""

    def locate(error: HistoryError) -> HistoryError:
        return located_events(error, history, reading)

    pieces = piece_entries()
    return _on_chunks(
        lambda chunks: stream_on_jobs(output, pool, chunks, pieces, locate, profiles),
        history,
        reading,
        source,
        size,
    )


def _on_chunks(
    run: Callable[[Iterable[pa.Table]], tuple[Evaluation, Summary]],
    history: Path,
    reading: HistoryReading,
    source: ParquetSource | None,
    size: int,
) -> tuple[Evaluation, Summary]:
    """``run`` over the history's chunks of whole customers: a Parquet history streamed by
    row groups, or, if it turns out not sorted by customer and has at most
    ``whole_rows()`` rows, read whole and cut (more rows: ``NotSortedError``); any other
    history read whole and cut."""
    if source is not None:
        try:
            return run(parquet_chunks(source, size))
        except NotSortedError:
            if source.rows > whole_rows():
                raise
        table = source.read_whole()
    else:
        table = reading.read_table(history)
    return run(whole_chunks(table, size))


_FEW_CHUNKS = 2
"""A Parquet history of at most this many chunks' rows is evaluated in this process even
with ``--jobs``: starting a worker costs about a CPU second, more than it would save."""
_ONE_PIECE = 2**62  # rows: more than any history holds


def _name(history: Path) -> str:
    return _STDIN_NAME if str(history) == STDIN else str(history)


def _evaluate(
    program: Program,
    chunk: pa.Table,
    profiles: list[Customer] | None,
    as_of: date | datetime | None,
    name: str,
    history: Path,
    reading: HistoryReading,
) -> Evaluation:
    try:
        return evaluate_table(program, chunk, profiles, as_of, source=name)
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
