"""A big history table cut into parts of whole customers, to be evaluated one by one.

Each pass of the batch engine makes arrays of one value per row. On a table of several
million rows each is larger than what glibc's allocator keeps for reuse (its blocks of
more than 32 MiB go back to the kernel as they are freed), so every fresh array is fresh
pages, zeroed by the kernel as they are first touched: the evaluation's time then grew
faster than its rows (6,000,000 purchases cost 11 times 1,000,000; docs/performance.md).
In parts of about :data:`PART_ROWS` rows the arrays are reused and the time grows with
the rows; a table of at most :data:`WHOLE_ROWS` rows stays whole.

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
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from rewardrules.engine.ledger import Evaluation, Totals
from rewardrules.events import Customer
from rewardrules.histories._checked import CheckedFacts, facts_of, remember
from rewardrules.histories._table_rules import nfc

PART_ROWS = 1_000_000
"""About how many rows a part holds (a customer is never split: a part may hold more)."""

WHOLE_ROWS = 4_000_000
"""A table of at most this many rows is evaluated in one piece: its arrays of int64 per
row are at most 32 MiB, which the allocator reuses, and cutting it (a copy of every row
when the table is not sorted by customer) would cost more than it saves."""


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
    if table.num_rows <= max(rows, WHOLE_ROWS) or facts is None or facts.starts is None:
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
    # Each part's rows in the table's order, and where its events start among them: for a
    # table sorted by customer (as big histories should be) each part is a slice.
    count, starts = len(highs), facts.starts
    in_order = bool(np.all(row_part[1:] >= row_part[:-1]))
    by_part = None if in_order else np.argsort(row_part, kind="stable")
    bounds = np.searchsorted(
        row_part if by_part is None else row_part[by_part], np.arange(count + 1)
    )
    starts_part = row_part[starts]
    starts_by_part = None if in_order else np.argsort(starts_part, kind="stable")
    start_bounds = np.searchsorted(
        starts_part if starts_by_part is None else starts_part[starts_by_part],
        np.arange(count + 1),
    )
    place = None
    if by_part is not None:  # each row's place in its part
        place = np.empty(table.num_rows, dtype=np.int64)
        place[by_part] = np.arange(table.num_rows, dtype=np.int64) - bounds[row_part[by_part]]
    parts = []
    for part, wanted in enumerate(routed):
        low, high = int(bounds[part]), int(bounds[part + 1])
        begin, end = int(start_bounds[part]), int(start_bounds[part + 1])
        if by_part is None or starts_by_part is None or place is None:
            kept: npt.NDArray[np.int64] | slice = slice(low, high)
            piece = table.slice(low, high - low)
            own_starts = starts[begin:end] - low
        else:
            kept = by_part[low:high]
            piece = table.take(kept)
            own_starts = place[starts[starts_by_part[begin:end]]]
        known = CheckedFacts(own_starts, facts.plain, facts.types[kept], facts.source)
        parts.append(Part(remember(piece, known), wanted))
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
