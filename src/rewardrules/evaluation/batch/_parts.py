"""A big history table cut into parts of whole customers, to be evaluated one by one.

Each pass of the batch engine makes arrays of one value per row. On a table of several
million rows each is larger than what glibc's allocator keeps for reuse (its blocks of
more than 32 MiB go back to the kernel as they are freed), so every fresh array is fresh
pages, zeroed by the kernel as they are first touched: the evaluation's time then grew
faster than its rows (6,000,000 purchases cost 11 times 1,000,000; docs/performance.md).
In parts of about :data:`PART_ROWS` rows the arrays are reused and the time grows with
the rows.

A customer's results depend on their own events and profile alone, unless a rule rewards
referrers for their friends' purchases, so parts of whole customers give the one-piece
results. Parts follow the customer ids' order, the order of an evaluation's results, so
their results are put one after the other.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rewardrules.engine.ledger import Evaluation, Totals
from rewardrules.events import Customer
from rewardrules.histories._checked import CheckedFacts, facts_of, remember
from rewardrules.histories._table_rules import nfc

PART_ROWS = 1_000_000
"""About how many rows a part holds (a customer is never split: a part may hold more)."""


@dataclass(frozen=True, slots=True)
class Part:
    """Some customers' rows, and the profiles of the customers whose ids its range covers."""

    table: pa.Table
    profiles: list[Customer] | None


def customer_parts(table: pa.Table, profiles: Mapping[str, Customer] | None) -> list[Part] | None:
    """``table`` in parts of whole customers in customer id order, each part's rows in the
    table's order; None when it makes one part.

    Only a table the history checks returned (``read_history``, ``history_table``) is cut:
    its events are known to have distinct ids, as the one-piece evaluation would check
    across every customer. Each part keeps those facts for its own rows.
    """
    facts, rows = facts_of(table), PART_ROWS
    if table.num_rows <= rows or facts is None or facts.starts is None:
        return None
    ids = nfc(table["customer_id"]).combine_chunks()
    encoded = pc.dictionary_encode(ids)
    dictionary = encoded.dictionary  # type: ignore[attr-defined]
    indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)  # type: ignore[attr-defined]
    order = np.asarray(pc.sort_indices(dictionary).to_numpy(), dtype=np.int64)
    counts = np.bincount(indices, minlength=len(dictionary))[order]
    # A customer goes to the part where the rows before them (in id order) fall, parts
    # numbered densely (a customer of many rows may span the place of several).
    falls = (np.cumsum(counts) - counts) // rows
    part_in_order = np.cumsum(np.diff(falls, prepend=falls[0]) > 0)
    if part_in_order[-1] == 0:
        return None
    part_of_customer = np.empty(len(order), dtype=np.int64)
    part_of_customer[order] = part_in_order
    row_part = part_of_customer[indices]
    # The highest id of each part, for the profiles of customers without rows.
    last = np.flatnonzero(np.diff(part_in_order, append=part_in_order[-1] + 1))
    highs: list[str] = dictionary.take(pa.array(order[last])).to_pylist()
    routed = _routed_profiles(profiles, highs)
    in_order = bool(np.all(row_part[1:] >= row_part[:-1]))
    parts = []
    for part, wanted in enumerate(routed):
        if in_order:
            start = int(np.searchsorted(row_part, part, side="left"))
            end = int(np.searchsorted(row_part, part, side="right"))
            kept = np.arange(start, end, dtype=np.int64)
            piece = table.slice(start, end - start)
        else:
            mask = row_part == part
            kept = np.flatnonzero(mask)
            piece = table.filter(pa.array(mask))
        parts.append(Part(remember(piece, _facts_of_rows(facts, kept, table.num_rows)), wanted))
    return parts


def _routed_profiles(
    profiles: Mapping[str, Customer] | None, highs: list[str]
) -> list[list[Customer] | None]:
    """Each part's profiles: those whose id is above the previous part's highest, up to
    its own; the last part takes the ids above every part's."""
    if profiles is None:
        return [None] * len(highs)
    routed: list[list[Customer] | None] = [[] for _ in highs]
    for customer_id, profile in profiles.items():
        part = min(bisect_left(highs, customer_id), len(highs) - 1)  # code point order
        routed[part].append(profile)  # type: ignore[union-attr]
    return routed


def _facts_of_rows(facts: CheckedFacts, kept: np.ndarray, rows: int) -> CheckedFacts:
    """The facts of the table's rows ``kept`` (whole events, in the table's order)."""
    place = np.full(rows, -1, dtype=np.int64)
    place[kept] = np.arange(len(kept), dtype=np.int64)
    assert facts.starts is not None  # noqa: S101 -- customer_parts cuts only such tables
    starts = place[facts.starts]
    return CheckedFacts(starts[starts >= 0], facts.plain, facts.types[kept], facts.source)


def joined(evaluations: list[Evaluation]) -> Evaluation:
    """The parts' evaluations as one: their results one after the other, totals added."""
    first = evaluations[0]
    sums = {
        spec.name: sum(getattr(evaluation.totals, spec.name) for evaluation in evaluations)
        for spec in fields(Totals)
        if spec.type in ("int", int)
    }
    totals = Totals(money=first.totals.money, point_value=first.totals.point_value, **sums)
    customers = tuple(result for evaluation in evaluations for result in evaluation.customers)
    return Evaluation(first.program, first.money, first.points_name, customers, totals)
