"""What every partition of a scaled-out evaluation runs: the engine on a slice of customers.

Dask (:mod:`rewardrules.dask`) and Spark (:mod:`rewardrules.spark`) only move rows; the
work is here, in functions of Arrow tables that import neither. A customer belongs to
partition ``crc32(customer_id) % n`` (:func:`partition_of`), so any process, given only a
customer id and ``n``, knows where that customer lives: Spark computes the same number with
its ``crc32`` function. The program travels as its YAML text (``dump_program``) and is read
once per process (:func:`program_of`).

Referrals cross partitions in two passes (docs/scale-out.md). Pass one evaluates each
partition and keeps the referral facts (``ReferralQualified``) whose referrer lives in
another partition (:func:`remote_facts`). Pass two evaluates each partition with the facts
routed to it (:func:`evaluate_partition`); a referrer who lives elsewhere but was rewarded
inline by a friend here is dropped from this partition's results, since their own
partition gets the same fact.
"""

from __future__ import annotations

import itertools
import json
import unicodedata
import zlib
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Final, Literal

import pyarrow as pa
import pyarrow.compute as pc

from rewardrules.engine.ledger import ENTRY_SUMS, CustomerResult, Evaluation, Totals
from rewardrules.errors import Problem, RewardRulesError
from rewardrules.evaluation.batch import BatchCustomerResult
from rewardrules.evaluation.fold import compile_program, evaluate
from rewardrules.events import AnyEvent, ReferralQualified
from rewardrules.histories.columns import (
    CUSTOMERS_SCHEMA,
    HISTORY_SCHEMA,
    INSTANT,
    table_to_customers,
    table_to_events,
)
from rewardrules.kinds.referral import referral_facts
from rewardrules.money import Currency
from rewardrules.program.model import Program
from rewardrules.rulefiles.dump import dump_program
from rewardrules.rulefiles.loader import load_program_text
from rewardrules.tools.ledger_files import ledger_schema
from rewardrules.tools.ledger_sums import entry_figures, grouped_figures, ledger_pieces

__all__ = [
    "FACTS_SCHEMA",
    "ORDER",
    "PART",
    "RESULTS_SCHEMA",
    "TOTALS_FIELDS",
    "CustomerRanges",
    "Engine",
    "MissingExtraError",
    "Placement",
    "add_totals",
    "check_engine",
    "customer_ranges",
    "evaluate_partition",
    "has_referrals",
    "history_rows",
    "partition_of",
    "program_of",
    "program_text",
    "remote_facts",
    "totals_of",
]

Engine = Literal["batch", "reference"]

PART: Final = "_part"
"""The column holding a row's partition: ``crc32(customer_id) % n``."""
ORDER: Final = "_order"
"""The column keeping the input's row order through a shuffle (lines of an event in order)."""

_FACT_FIELDS: list[pa.Field[Any]] = [
    pa.field("event_id", pa.string(), nullable=False),
    pa.field("customer_id", pa.string(), nullable=False),
    pa.field("at", INSTANT, nullable=False),
    pa.field("utc_offset", pa.int32()),
    pa.field("referred", pa.string(), nullable=False),
    pa.field("rule", pa.string(), nullable=False),
    pa.field("reversed_by", pa.string()),
    pa.field(ORDER, pa.int64(), nullable=False),
]
FACTS_SCHEMA = pa.schema(_FACT_FIELDS)
"""Referral facts on their way to the referrer's partition; ``customer_id`` is the referrer.
``reversed_by`` is set on the fact that reverses a held referral (the friend's refund)."""

_RESULT_FIELDS: list[pa.Field[Any]] = [
    pa.field("customer_id", pa.string(), nullable=False),
    pa.field("points", pa.int64(), nullable=False),
    pa.field("available_points", pa.int64(), nullable=False),
    pa.field("pending_points", pa.int64(), nullable=False),
    pa.field("tier", pa.string()),
    pa.field("stamps", pa.string(), nullable=False),
    pa.field("tier_changes", pa.string(), nullable=False),
    pa.field("next_tier", pa.string()),
    pa.field("entries", pa.int64(), nullable=False),
]
RESULTS_SCHEMA = pa.schema(_RESULT_FIELDS)
"""One row per customer: ``CustomerResult.to_dict()`` without the ledger; ``stamps``,
``tier_changes`` and ``next_tier`` are JSON text, ``entries`` counts the ledger rows."""

TOTALS_FIELDS: Final = (
    "customers",
    "purchases",
    "refunds",
    "refunded_purchases",
    "fully_refunded_purchases",
    "gross_spend",
    *ENTRY_SUMS,
)
"""The figures of :class:`~rewardrules.engine.ledger.Totals`, all sums over partitions."""


class MissingExtraError(RewardRulesError, ImportError):
    """An optional dependency (an extra) is not installed."""

    exit_code = 1

    def __init__(self, extra: str, module: str) -> None:
        module = module.partition(".")[0]  # the package to install, not its submodule
        message = (
            f"{module} is not installed; install rewardrules with the '{extra}' extra: "
            f"pip install 'rewardrules[{extra}]'"
        )
        super().__init__([Problem(message=message, code="missing-extra")])
        self.extra, self.module = extra, module

    def __reduce__(self) -> Any:
        return type(self), (self.extra, self.module)


def check_engine(engine: str) -> Engine:
    """The engine name, checked (``evaluate`` accepts the same two)."""
    if engine not in ("batch", "reference"):
        raise ValueError(f"engine must be 'reference' or 'batch' (got {engine!r})")
    return "batch" if engine == "batch" else "reference"


def refuse_early(program: Program, engine: Engine) -> None:
    """The batch engine's refusal, raised before any work is sent to a worker."""
    if engine == "batch":
        from rewardrules.evaluation.batch import refuse, unsupported  # noqa: PLC0415 -- one engine

        features = unsupported(program)
        if features:
            refuse(features)


def program_text(program: Program) -> str:
    """The program as the YAML text the workers read (never a pickled object)."""
    return dump_program(program)


@lru_cache(maxsize=16)
def program_of(text: str) -> Program:
    """The program of a YAML text, read once per process."""
    return load_program_text(text, "<program>")


def has_referrals(program: Program) -> bool:
    """Whether the program has a rule that rewards referrers (and so needs the first pass)."""
    return compile_program(program).rewards_referrers


@dataclass(frozen=True, slots=True)
class CustomerRanges:
    """Where customers live when the input partitions hold disjoint ranges of customer ids.

    Then no shuffle is needed: a customer lives in the input partition whose range holds
    their id. An id in no range (a referrer without events, a profile without history) has
    no rows anywhere, and lives in the first partition whose highest id is above it, or
    the last: any choice every process agrees on would do.

    Attributes:
        highs: the highest customer id of each input partition that has rows, ascending.
        parts: the number of each of those partitions, in the same order.
    """

    highs: tuple[str, ...]
    parts: tuple[int, ...]

    def part(self, customer: str) -> int:
        """The partition of one customer."""
        return self.parts[min(bisect_left(self.highs, customer), len(self.parts) - 1)]


Placement = int | CustomerRanges
"""Where customers live: ``n`` for ``crc32(customer_id) % n`` after a shuffle, or the
input partitions' ranges when they are already partitioned by customer."""


def customer_ranges(
    ranges: Sequence[tuple[str | None, str | None, bool]],
) -> CustomerRanges | tuple[int, int]:
    """The placement of input partitions that hold disjoint ranges of customer ids.

    Args:
        ranges: for each input partition in order, its lowest and highest customer id
            (``None`` for an empty partition) and whether it has a row without one.

    Returns:
        The ranges; otherwise the numbers of two partitions whose ranges overlap, or
        ``(k, k)`` for a partition with a row without a customer id, or ``(0, 0)`` when no
        partition has rows: such input is shuffled.
    """
    found = []
    for number, (low, high, missing) in enumerate(ranges):
        if missing:
            return number, number
        if low is not None and high is not None:
            found.append((low, high, number))
    found.sort()
    for (_, high, before), (low, _, after) in itertools.pairwise(found):
        if low <= high:
            return min(before, after), max(before, after)
    if not found:
        return 0, 0
    return CustomerRanges(
        highs=tuple(high for _, high, _ in found), parts=tuple(number for *_, number in found)
    )


def partition_of(customer_ids: Iterable[str], partitions: Placement) -> list[int]:
    """Each customer's partition: the CRC-32 of its UTF-8 id modulo ``partitions`` when it
    is a number, or the input partition whose range holds the id (:class:`CustomerRanges`).

    The id is taken in composed form (NFC), as the engines read it: a customer whose id is
    spelt two ways in the input (``caf\u00e9``, ``cafe\u0301``) is one customer in one
    partition, and a result (whose id is composed) is kept by the partition that held its
    rows."""
    found: dict[str, int] = {}
    parts = []
    for written in customer_ids:
        part = found.get(written)
        if part is None:
            customer = written if written.isascii() else unicodedata.normalize("NFC", written)
            if isinstance(partitions, CustomerRanges):
                part = found[written] = partitions.part(customer)
            else:
                part = found[written] = zlib.crc32(customer.encode()) % partitions
        parts.append(part)
    return parts


def history_rows(table: pa.Table) -> pa.Table:
    """A partition's history rows in input order, in the columns of ``HISTORY_SCHEMA``."""
    if ORDER in table.schema.names and table.num_rows:
        table = table.take(pc.sort_indices(table[ORDER]))
    columns = []
    for field in HISTORY_SCHEMA:
        if field.name in table.schema.names:
            columns.append(table[field.name].cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=HISTORY_SCHEMA)


def _customers(table: pa.Table | None) -> list[Any] | None:
    if table is None:
        return None
    columns = [
        table[field.name].cast(field.type)
        if field.name in table.schema.names
        else pa.nulls(table.num_rows, field.type)
        for field in CUSTOMERS_SCHEMA
    ]
    return list(table_to_customers(pa.Table.from_arrays(columns, schema=CUSTOMERS_SCHEMA)))


def _facts(table: pa.Table | None) -> list[ReferralQualified]:
    if table is None or not table.num_rows:
        return []
    table = table.take(pc.sort_indices(table[ORDER]))
    facts = []
    for row in table.to_pylist():
        at: datetime = row["at"]
        offset = row["utc_offset"]
        if offset:
            at = at.astimezone(timezone(timedelta(seconds=offset)))
        facts.append(
            ReferralQualified(
                id=row["event_id"],
                customer_id=row["customer_id"],
                at=at,
                referred=row["referred"],
                rule=row["rule"],
                reversed_by=row.get("reversed_by"),
            )
        )
    return facts


def _run(
    program: Program,
    history: pa.Table,
    customers: pa.Table | None,
    facts: pa.Table | None,
    as_of: date | datetime | None,
    engine: Engine,
) -> Evaluation:
    table = history_rows(history)
    profiles = _customers(customers)
    supplied = _facts(facts)
    if not supplied:
        return evaluate(program, table, profiles, as_of, engine=engine)
    events: list[AnyEvent] = [*table_to_events(table), *supplied]
    return evaluate(program, events, profiles, as_of, engine=engine)


def remote_facts(
    text: str,
    part: int,
    partitions: Placement,
    history: pa.Table,
    customers: pa.Table | None,
    as_of: date | datetime | None,
    engine: Engine,
) -> pa.Table:
    """Pass one: the referral facts of this partition's friends whose referrer lives elsewhere.

    The table has ``FACTS_SCHEMA`` plus ``PART``, the referrer's partition.
    """
    program = program_of(text)
    evaluation = _run(program, history, customers, None, as_of, engine)
    rows: dict[str, list[Any]] = {name: [] for name in (*FACTS_SCHEMA.names, PART)}
    for result in evaluation.customers:
        if partition_of([result.customer_id], partitions)[0] != part:
            continue
        for fact in referral_facts(result.ledger):
            referrer_part = partition_of([fact.customer_id], partitions)[0]
            if referrer_part == part:
                continue  # the referrer is here: rewarded inline, as on one machine
            offset = fact.at.utcoffset()
            rows["event_id"].append(fact.id)
            rows["customer_id"].append(fact.customer_id)
            rows["at"].append(fact.at)
            rows["utc_offset"].append(None if offset is None else int(offset.total_seconds()))
            rows["referred"].append(fact.referred)
            rows["rule"].append(fact.rule)
            rows["reversed_by"].append(fact.reversed_by)
            rows[ORDER].append(len(rows[ORDER]))
            rows[PART].append(referrer_part)
    schema = FACTS_SCHEMA.append(pa.field(PART, pa.int64(), nullable=False))
    return pa.table(rows, schema=schema)


def evaluate_partition(
    text: str,
    part: int,
    partitions: Placement,
    history: pa.Table,
    customers: pa.Table | None,
    facts: pa.Table | None,
    as_of: date | datetime | None,
    engine: Engine,
) -> tuple[pa.Table, pa.Table, dict[str, int]]:
    """Pass two (or the only pass): this partition's ledger rows, results and totals.

    Only the customers of this partition are kept: a referrer living elsewhere whom a
    friend here rewarded inline is evaluated, with the same fact, in their own partition.
    """
    program = program_of(text)
    evaluation = _run(program, history, customers, facts, as_of, engine)
    own_ids = [result.customer_id for result in evaluation.customers]
    own = [
        result
        for result, where in zip(evaluation.customers, partition_of(own_ids, partitions))
        if where == part
    ]
    ledger = ledger_table(own, evaluation.money)
    return ledger, results_table(own), totals_of(evaluation, own, ledger)


def ledger_table(results: Sequence[CustomerResult], money: Currency) -> pa.Table:
    """The ledger rows of some customers, in the columns of a Parquet ledger: the batch
    engine's straight from its columns (``ledger_sums.ledger_pieces``), no entry made."""
    tables = [piece.table for piece in ledger_pieces(results, money)]
    if not tables:
        return ledger_schema(money).empty_table()
    return pa.concat_tables(tables).combine_chunks()


def results_table(results: Sequence[CustomerResult]) -> pa.Table:
    """One row per customer in ``RESULTS_SCHEMA``."""
    columns: dict[str, list[Any]] = {name: [] for name in RESULTS_SCHEMA.names}
    for result in results:
        # Not result.to_dict(): that writes every ledger reason again.
        following = None if result.next_tier is None else result.next_tier.to_dict()
        columns["customer_id"].append(result.customer_id)
        columns["points"].append(result.points)
        columns["available_points"].append(result.available_points)
        columns["pending_points"].append(result.pending_points)
        columns["tier"].append(result.tier)
        columns["stamps"].append(json.dumps(dict(result.stamps), sort_keys=True))
        changes = [change.to_dict() for change in result.tier_changes]
        columns["tier_changes"].append(json.dumps(changes))
        columns["next_tier"].append(None if following is None else json.dumps(following))
        rows = result.ledger_rows() if isinstance(result, BatchCustomerResult) else None
        columns["entries"].append(len(result.ledger) if rows is None else rows[2] - rows[1])
    return pa.table(columns, schema=RESULTS_SCHEMA)


def totals_of(
    evaluation: Evaluation, own: Sequence[CustomerResult], ledger: pa.Table | None = None
) -> dict[str, int]:
    """A partition's figures: entries of its own customers, and the events it evaluated.

    Purchases, refunds and gross spend come from the partition's events alone (a referral
    fact is none of them), so the evaluation's counts are this partition's. The entries'
    figures are summed from ``ledger`` (:func:`ledger_table` of ``own``) column by column.
    """
    if ledger is None:
        ledger = ledger_table(own, evaluation.money)
    totals = evaluation.totals
    sums = dict.fromkeys(TOTALS_FIELDS, 0)
    sums.update(
        customers=len(own),
        purchases=totals.purchases,
        refunds=totals.refunds,
        refunded_purchases=totals.refunded_purchases,
        fully_refunded_purchases=totals.fully_refunded_purchases,
        gross_spend=totals.gross_spend,
    )
    everything = pa.nulls(ledger.num_rows, pa.string())
    for _, figures in grouped_figures(entry_figures(ledger), {"all": everything}):
        sums.update((name, figures[name]) for name in ENTRY_SUMS)
    return sums


def add_totals(program: Program, parts: Iterable[dict[str, int]]) -> Totals:
    """The program's totals: the partitions' figures added up."""
    sums = dict.fromkeys(TOTALS_FIELDS, 0)
    for figures in parts:
        for name in TOTALS_FIELDS:
            sums[name] += figures[name]
    return Totals(money=program.money, point_value=program.points.value, **sums)
