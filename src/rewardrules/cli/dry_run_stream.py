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
from rewardrules.cli.referral_passes import (
    FactsByChunk,
    friends_facts,
    largest_customer,
    own_customers,
    referred,
)
from rewardrules.engine.ledger import Evaluation
from rewardrules.errors import HistoryError, Problem
from rewardrules.evaluation.batch import evaluate_table, fact_table, refuse, unsupported
from rewardrules.events import Customer, ReferralQualified
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
    order: the same file and summary. A referral program whose customers file names
    friends (read twice: :mod:`rewardrules.cli.referral_passes`), or a Parquet history of
    at most two chunks, is evaluated here.

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
    if jobs > 1 and not friends and not few:
        with ChunkPool(jobs - 1, program, as_of, name) as pool:
            return _on_jobs(pool, history, reading, source, size, output, profiles)

    def evaluate(
        chunk: pa.Table, given: list[Customer] | None, facts: list[ReferralQualified] | None
    ) -> Evaluation:
        return _evaluate(program, chunk, given, as_of, name, history, reading, facts)

    def evaluated(
        chunks: Iterable[pa.Table], facts: FactsByChunk | None
    ) -> Iterator[tuple[pa.Table, Evaluation]]:
        routed = None if profiles is None else ProfilesByChunk(profiles)
        low: str | None = None  # the largest customer id of the chunks before
        first = True
        for chunk in chunks:
            high = largest_customer(chunk)
            given = None if routed is None else routed.up_to(chunk)
            yield chunk, _covered(program, chunk, given, facts, low, high, evaluate)
            low, first = high, False
        rest = None if routed is None else routed.rest()
        if first or rest or (facts is not None and facts.covered(low, None)):
            # No row at all (the profiles are still checked, the totals still made), or
            # customers with a profile and no event after the last chunk's: their gifts.
            empty = HISTORY_SCHEMA.empty_table()
            yield empty, _covered(program, empty, rest, facts, low, None, evaluate)

    def run(chunks: Callable[[], Iterable[pa.Table]]) -> tuple[Evaluation, Summary]:
        facts = None
        if friends:  # pass one: the friends' referral facts (referral_passes)
            assert profiles is not None  # noqa: S101 -- friends come from the profiles
            found = friends_facts(chunks(), profiles, friends, lambda c, p: evaluate(c, p, None))
            facts = FactsByChunk(found)
            output.note_referral_facts(found)
        # The next chunk is read in a thread while this one is evaluated.
        with ReadAhead(chunks(), threaded=threads_on()) as ahead:
            return output.stream(evaluated(ahead, facts))

    return _on_chunks(run, history, reading, source, size)


def _covered(
    program: Program,
    chunk: pa.Table,
    given: list[Customer] | None,
    facts: FactsByChunk | None,
    low: str | None,
    high: str | None,
    evaluate: Callable[
        [pa.Table, list[Customer] | None, list[ReferralQualified] | None], Evaluation
    ],
) -> Evaluation:
    """A chunk's evaluation: with the referral facts of the referrers it covers, and only
    its own customers, when pass one found facts; else as it is."""
    if facts is None:
        return evaluate(chunk, given, None)
    evaluation = evaluate(chunk, given, facts.covered(low, high) or None)
    return own_customers(program, evaluation, low, high)


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
        lambda chunks: stream_on_jobs(output, pool, chunks(), pieces, locate, profiles),
        history,
        reading,
        source,
        size,
    )


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
    profiles: list[Customer] | None,
    as_of: date | datetime | None,
    name: str,
    history: Path,
    reading: HistoryReading,
    facts: list[ReferralQualified] | None = None,
) -> Evaluation:
    supplied = None if facts is None else fact_table(facts)
    try:
        return evaluate_table(program, chunk, profiles, as_of, source=name, facts=supplied)
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
