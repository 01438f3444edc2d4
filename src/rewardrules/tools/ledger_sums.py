"""A ledger as Arrow tables, and its figures summed column by column, with no entry made.

Writing, totalling or summarising millions of ledger entries one ``LedgerEntry`` at a time
costs more than evaluating them. This module keeps a ledger as columns from end to end:

* :func:`ledger_pieces` turns per-customer results into tables of the Parquet ledger's
  columns (:func:`rewardrules.tools.ledger_files.ledger_schema`), at most ``size`` entries
  each. The batch engine's results come straight from its columns
  (:class:`rewardrules.evaluation.batch.ResultColumns`): no entry, no reason made twice. Any
  other result (the reference engine's) is read entry by entry.
* :func:`entry_figures` gives each entry's share of every ledger figure of the program
  totals (``entries``, ``rewards`` and :data:`rewardrules.engine.ledger.ENTRY_SUMS`) as int64
  columns, counted as :func:`rewardrules.engine.ledger.total` counts them (a test holds them
  equal).
* :func:`grouped_figures` sums such columns per group of key columns (a rule, a tier, a
  month, or anything else of one value per entry): exactly, in integers.

``rewardrules dry-run --summary`` and ``--output`` and the scale-out partitions
(:mod:`rewardrules.tools.scale`) use them; a report can do the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, get_args

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute

from rewardrules.engine.ledger import ENTRY_SUMS, CustomerResult, EntryKind
from rewardrules.evaluation.batch import BatchCustomerResult, EntryCodes, ResultColumns
from rewardrules.money import Currency
from rewardrules.tools.ledger_files import ROW_GROUP_ENTRIES, append_entry, ledger_schema

__all__ = [
    "FIGURES",
    "LedgerPiece",
    "PieceCodes",
    "coded_figures",
    "entry_figures",
    "grouped_figures",
    "ledger_pieces",
    "minor_units",
]

# pyarrow's stubs type the compute functions too narrowly for masks and numpy arrays.
pc: Any = pyarrow.compute

Ints = npt.NDArray[np.int64]

FIGURES: Final = ("entries", "rewards", *ENTRY_SUMS)
"""The figures of :func:`entry_figures`: an entry count, the rewards given (entries earning
points, discounts, free items, vouchers, gift cards and applied redemptions), then the
totals' sums of ledger entries."""

GIVING_KINDS: Final = frozenset({"discount", "free", "voucher", "gift_card"})
"""Kinds whose every entry is a reward given; besides them a points entry with points > 0
and an applied redemption (points < 0; a cancellation's entry gives nothing) are
(:func:`gives_reward`, and its columnar twin in :func:`entry_figures`)."""


def gives_reward(kind: str, points: int) -> bool:
    """Whether an entry of ``kind`` whose points are ``points`` (or only their sign) is a
    reward given, as the totals, the summary and the report count ``rewards``."""
    return (
        kind in GIVING_KINDS
        or (kind == "points" and points > 0)
        or (kind == "redemption" and points < 0)
    )


_NAMED_KINDS: Final = frozenset(get_args(EntryKind)) - {"referral"}
"""Kinds :func:`rewardrules.engine.ledger.total` counts by name; any other is a referral."""
_SAFE_SUM: Final = float(2**62)
"""A column whose absolute values add up to less than this cannot overflow an int64 sum."""
_EXACT_FLOAT: Final = float(2**53)
"""Integers whose absolute values add up to less than this are summed exactly in float64."""


@dataclass(frozen=True, slots=True)
class PieceCodes:
    """A piece's entries as the batch engine's integer columns (:class:`EntryCodes`), and
    each entry's tier as a code: what sums by group read instead of the table's texts."""

    entries: EntryCodes
    tier: Ints
    """Per entry, its customer's tier as an index into ``tier_names``."""
    tier_names: list[str | None]


@dataclass(frozen=True, slots=True)
class LedgerPiece:
    """Some ledger entries as a table, with the tier of each entry's customer.

    Attributes:
        table: the entries, in ledger order, in the columns of ``ledger_schema``.
        tiers: per entry, the tier its customer is reported at (null: none).
        customer_tiers: per customer whose entries start in this piece (or who has none),
            the tier reported: across the pieces of some results, every customer once.
        codes: the same entries as integer columns, for the batch engine's results
            (None for results read entry by entry).
    """

    table: pa.Table
    tiers: pa.Array[Any]
    customer_tiers: pa.Array[Any]
    codes: PieceCodes | None = None


def ledger_pieces(
    results: Iterable[CustomerResult],
    money: Currency,
    size: int = ROW_GROUP_ENTRIES,
    reasons: dict[Any, Any] | None = None,
) -> Iterator[LedgerPiece]:
    """The ledger of some results as tables of at most ``size`` entries, in ledger order.

    A run of the batch engine's results that follow each other in its columns is read from
    those columns; any other result is read entry by entry. ``reasons`` keeps the batch
    engine's reason texts for later calls on evaluations of the same program (the chunks
    of a streamed history), so that each distinct reason is written once in all.
    """
    schema = ledger_schema(money)
    run: list[Any] = []  # [columns, first customer, one past the last]
    plain: list[CustomerResult] = []
    for result in results:
        place = result.place() if isinstance(result, BatchCustomerResult) else None
        if place is None:
            if run:
                yield from _column_pieces(schema, size, reasons, *run)
                run = []
            plain.append(result)
            if len(plain) >= size:
                yield from _entry_pieces(schema, size, plain)
                plain = []
            continue
        columns, index = place
        if run and run[0] is columns and run[2] == index:
            run[2] = index + 1
            continue
        if plain:
            yield from _entry_pieces(schema, size, plain)
            plain = []
        if run:
            yield from _column_pieces(schema, size, reasons, *run)
        run = [columns, index, index + 1]
    if run:
        yield from _column_pieces(schema, size, reasons, *run)
    if plain:
        yield from _entry_pieces(schema, size, plain)


def _column_pieces(
    schema: pa.Schema,
    size: int,
    reasons: dict[Any, Any] | None,
    columns: ResultColumns,
    first: int,
    end: int,
) -> Iterator[LedgerPiece]:
    """Customers ``first`` to ``end`` of the batch engine's columns."""
    ledger = columns.ledger
    bounds = np.asarray(ledger.bounds[first : end + 1], dtype=np.int64)
    tiers = columns.tiers_of(first, end)
    start, stop = int(bounds[0]), int(bounds[-1])
    starts = bounds[:-1]
    if start == stop:
        yield LedgerPiece(schema.empty_table(), pa.nulls(0, pa.string()), tiers)
        return
    encoded: Any = pc.dictionary_encode(tiers)
    tier_names: list[str | None] = [*encoded.dictionary.to_pylist(), None]
    tier_codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(), dtype=np.int64)
    tier_codes[tier_codes < 0] = len(tier_names) - 1
    for low in range(start, stop, size):
        high = min(low + size, stop)
        table, codes = ledger.coded_table(low, high, columns.customer_ids, schema, reasons)
        owners = codes.customer - first
        # Each customer is counted in the piece that holds the place where their entries
        # start; one with no entry at the very end, in the last piece.
        since = int(np.searchsorted(starts, low, side="left"))
        until = len(starts) if high == stop else int(np.searchsorted(starts, high, side="left"))
        counted = tiers[since:until]
        coded = PieceCodes(codes, tier_codes[owners], tier_names)
        yield LedgerPiece(table, tiers.take(owners), counted, coded)


def _entry_pieces(
    schema: pa.Schema, size: int, results: list[CustomerResult]
) -> Iterator[LedgerPiece]:
    """Results read entry by entry (any engine's)."""
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    tiers: list[str | None] = []
    customers: list[str | None] = []
    for result in results:
        customers.append(result.tier)
        for entry in result.ledger:
            append_entry(columns, entry)
            tiers.append(result.tier)
        if len(tiers) >= size:
            yield _piece(schema, columns, tiers, customers)
            columns = {name: [] for name in schema.names}
            tiers, customers = [], []
    if tiers or customers:
        yield _piece(schema, columns, tiers, customers)


def _piece(
    schema: pa.Schema,
    columns: dict[str, list[Any]],
    tiers: list[str | None],
    customers: list[str | None],
) -> LedgerPiece:
    table = pa.Table.from_pydict(columns, schema=schema)
    return LedgerPiece(table, pa.array(tiers, pa.string()), pa.array(customers, pa.string()))


def minor_units(values: pa.Array[Any] | pa.ChunkedArray[Any]) -> npt.NDArray[Any]:
    """A ledger's ``value`` column (decimals of the currency's scale) as minor units, 0 for
    null: int64, or Python ints (an object array) when a value does not fit in int64."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    count = len(array)
    if not count:
        return np.zeros(0, dtype=np.int64)
    data = array.buffers()[1]
    assert data is not None  # noqa: S101 -- a decimal128 array always has its data buffer
    words = np.frombuffer(memoryview(data), dtype=np.int64).reshape(-1, 2)[
        array.offset : array.offset + count
    ]
    low, high = words[:, 0], words[:, 1]
    nulls = np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
    if np.array_equal(high, low >> 63):
        return np.where(nulls, 0, low)
    unscaled = [
        0 if value is None else int(value.scaleb(-value.as_tuple().exponent))
        for value in array.to_pylist()
    ]
    return np.asarray(unscaled, dtype=object)


def _integers(values: pa.ChunkedArray[Any]) -> Ints:
    return np.asarray(pc.fill_null(values, 0).to_numpy(), dtype=np.int64)


def entry_figures(table: pa.Table) -> dict[str, npt.NDArray[Any]]:
    """Each entry's share of every figure of :data:`FIGURES`, a column per figure.

    ``table`` has a ledger's ``kind``, ``points``, ``value`` and ``units`` columns. Columns
    are int64 (object, of Python ints, where a value does not fit).
    """
    encoded: Any = pc.dictionary_encode(table["kind"].combine_chunks())
    kind_names: list[str] = encoded.dictionary.to_pylist()
    kind_codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    points = _integers(table["points"])
    units = _integers(table["units"])
    return _figures(kind_codes, kind_names, points, minor_units(table["value"]), units)


_COUNTED: Final = frozenset(
    {
        "entries",
        "rewards",
        "redemptions",
        "rejected_redemptions",
        "rewards_capped",
        "rewards_set_aside",
        "referrals",
    }
)
"""The figures of :func:`_figures` that count entries: an entry's share of each is told
by its kind and the signs of its points and units alone. Every other figure is one of the
entry's amounts (or its negation) where its kind and signs say so, else 0."""


def coded_figures(
    kinds: Ints,
    kind_names: Sequence[str],
    amounts: tuple[Ints, Ints, Ints],
    keys: Sequence[Ints],
    sizes: Sequence[int],
) -> list[tuple[tuple[int, ...], str, dict[str, int], tuple[int, int, int]]]:
    """The sums of :func:`entry_figures` for each group of entries with equal keys and
    kind, from integer columns: what :func:`grouped_figures` gives, without the texts.

    Entries are grouped by kind, keys and the signs of their points and units; within
    such a group each figure is a count or a sum of one amount (:data:`_COUNTED`), so
    the figures of the group's summed amounts, scaled for the counts, are the group's.

    Args:
        kinds: each entry's kind, an index into ``kind_names``.
        kind_names: the kinds.
        amounts: each entry's points, value (minor units) and units (0 where none),
            int64.
        keys: integer key columns, each of values ``0 <= value < size``.
        sizes: each key's size.

    Returns:
        Per group (in no particular order): its key values, its kind, its figures' sums
        and its amounts' sums (points, value, units), exact Python ints. A kind and key
        values may come in several groups (by sign): add them up.
    """
    points, _, units = amounts
    key = np.asarray(kinds, dtype=np.int64)
    for column, size in zip(keys, sizes, strict=True):
        key = key * size + column
    key = (key * 3 + np.sign(points) + 1) * 2 + (units < 0)
    count = len(key)
    if not count:
        return []
    span = int(key.max()) + 1
    small = all(float(np.abs(column.astype(np.float64)).sum()) < _EXACT_FLOAT for column in amounts)
    if small and span <= 4 * count + 4096:
        # Few possible keys and small sums: counted by key with no sort (float64 sums of
        # integers below 2**53 are exact).
        counted = np.bincount(key, minlength=span)
        group_keys = np.flatnonzero(counted)
        sizes_of = counted[group_keys]
        summed: list[npt.NDArray[Any]] = [
            np.bincount(key, weights=column, minlength=span)[group_keys].astype(np.int64)
            for column in amounts
        ]
    else:
        order = np.argsort(key, kind="stable")
        ordered = key[order]
        heads = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
        group_keys = ordered[heads]
        sizes_of = np.diff(np.append(heads, count))
        summed = [_sums(column[order], heads) for column in amounts]
    rest = group_keys // 6
    places = []
    for size in reversed(sizes):
        places.append(rest % size)
        rest = rest // size
    places.reverse()
    kind_of = rest
    figures = _figures(kind_of, list(kind_names), *summed)
    # A group's counted figures are one entry's times its size (the group's entries are
    # alike in them); made in numpy, then read a group at a time.
    names = list(figures)
    figure_rows = zip(
        *(
            (figures[name] * sizes_of if name in _COUNTED else figures[name]).tolist()
            for name in names
        ),
        strict=True,
    )
    groups = len(group_keys)
    key_rows = (
        zip(*(column.tolist() for column in places), strict=True) if places else [()] * groups
    )
    amount_rows = zip(*(column.tolist() for column in summed), strict=True)
    return [
        (
            tuple(keys),
            kind_names[kind],
            dict(zip(names, map(int, row), strict=True)),
            (int(points_sum), int(value_sum), int(units_sum)),
        )
        for keys, kind, row, (points_sum, value_sum, units_sum) in zip(
            key_rows, kind_of.tolist(), figure_rows, amount_rows, strict=True
        )
    ]


def _sums(values: Ints, heads: Ints) -> npt.NDArray[Any]:
    """The sums of sorted runs starting at ``heads``: int64 when it surely cannot
    overflow, else Python ints (an object array)."""
    if float(np.abs(values.astype(np.float64)).sum()) >= _SAFE_SUM:
        return np.add.reduceat(values.astype(object), heads)
    return np.add.reduceat(values, heads)


def _figures(
    kind_codes: Ints,
    kind_names: list[str],
    points: npt.NDArray[Any],
    value: npt.NDArray[Any],
    units: npt.NDArray[Any],
) -> dict[str, npt.NDArray[Any]]:
    """:func:`entry_figures` of entries given as kind codes and amounts (0 for none)."""
    count = len(kind_codes)

    def kind_is(name: str) -> npt.NDArray[np.bool_]:
        if name not in kind_names:
            return np.zeros(count, dtype=np.bool_)
        return np.asarray(kind_codes == kind_names.index(name), dtype=np.bool_)

    zero = np.zeros(count, dtype=np.int64)
    one = np.ones(count, dtype=np.int64)
    is_points = kind_is("points")
    giving = np.zeros(count, dtype=np.bool_)
    for name in sorted(GIVING_KINDS):
        giving |= kind_is(name)
    named = np.isin(
        kind_codes, [code for code, name in enumerate(kind_names) if name in _NAMED_KINDS]
    )
    discount, free, voucher = kind_is("discount"), kind_is("free"), kind_is("voucher")
    gift_card, redemption = kind_is("gift_card"), kind_is("redemption")
    expiry, written_off = kind_is("expiry"), kind_is("written_off")
    issued = (is_points & (points >= 0)) | kind_is("opening")

    def where(mask: npt.NDArray[np.bool_], values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return np.where(mask, values, 0 if values.dtype == object else zero)

    figures: dict[str, npt.NDArray[Any]] = {
        "entries": one,
        "rewards": (
            giving | (is_points & (points > 0)) | (kind_is("redemption") & (points < 0))
        ).astype(np.int64),
        "points_issued": where(issued, points),
        "points_reversed": where(is_points & (points < 0), -points),
        "discount_value": where(discount, value),
        "discount_units": where(discount, units),
        "free_value": where(free, value),
        "free_units": where(free, units),
        "vouchers": where(voucher, units),
        "voucher_value": where(voucher, value),
        "gift_cards": where(gift_card, units),
        "gift_card_value": where(gift_card, value),
        "redemptions": where(redemption, np.where(units < 0, -1, 1)),  # -1: a cancellation
        "points_redeemed": where(redemption, -points),
        "redemption_value": where(redemption, value),
        "rejected_redemptions": kind_is("rejected").astype(np.int64),
        "points_expired": where(expiry, -points),
        "points_written_off": where(written_off, points),
        "rewards_capped": kind_is("capped").astype(np.int64),
        "rewards_set_aside": kind_is("set_aside").astype(np.int64),
        # A referral entry counts one; one reversing a held referral (units -1) minus one.
        "referrals": where(~named, np.where(units < 0, -1, 1)),
    }
    missing = set(FIGURES) - set(figures)
    if missing:  # pragma: no cover - ENTRY_SUMS gained a figure this function does not count
        raise ValueError(f"entry_figures does not count {sorted(missing)}")
    return figures


def grouped_figures(
    figures: Mapping[str, npt.NDArray[Any]],
    keys: Mapping[str, pa.Array[Any] | pa.ChunkedArray[Any]],
    mask: npt.NDArray[np.bool_] | None = None,
) -> list[tuple[tuple[Any, ...], dict[str, int]]]:
    """The sums of some per-entry figures for each group of entries with equal keys.

    Args:
        figures: one column per figure (:func:`entry_figures`, or any integer columns).
        keys: one column per key, as long as the figures; null is a key value too.
        mask: only the entries where this is true.

    Returns:
        Per group (in no particular order): the key values (in ``keys`` order) and the
        figures' sums, exact Python ints.
    """
    count = len(next(iter(figures.values()))) if figures else 0
    if keys:
        count = len(next(iter(keys.values())))
    chosen = np.arange(count) if mask is None else np.flatnonzero(mask)
    group, values = _groups([keys[name] for name in keys], chosen)
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.diff(group[order], prepend=-1))
    found: list[tuple[tuple[Any, ...], dict[str, int]]] = []
    if not len(order):
        return found
    sums: dict[str, list[int]] = {}
    rows = chosen[order]
    for name, column in figures.items():
        picked = np.asarray(column)[rows]
        if picked.dtype == object or float(np.abs(picked.astype(np.float64)).sum()) >= _SAFE_SUM:
            ends = np.append(starts[1:], len(picked)).tolist()
            sums[name] = [
                sum((int(value) for value in picked[start:end]), 0)
                for start, end in zip(starts.tolist(), ends)
            ]
        else:
            sums[name] = np.add.reduceat(picked.astype(np.int64), starts).tolist()
    firsts = rows[starts]  # each group's first row
    for place in np.argsort(firsts).tolist():  # in order of first appearance, as group_by
        added = {name: int(column[place]) for name, column in sums.items()}
        first = int(firsts[place])
        found.append((tuple(column[code[first]] for column, code in values), added))
    return found


def _groups(
    keys: Sequence[pa.Array[Any] | pa.ChunkedArray[Any]], chosen: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.int64], list[tuple[list[Any], Any]]]:
    """The group of each row ``chosen`` (rows with equal key values, null a value too),
    numbered from 0; and per key its distinct values (then None) and each row's code
    into them.

    Without Arrow's ``group_by``, whose engine (``pyarrow.acero``) costs a third of a CPU
    second to import.
    """
    group = np.zeros(len(chosen), np.int64)
    values: list[tuple[list[Any], Any]] = []
    for column in keys:
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if pa.types.is_dictionary(array.type):
            array = array.cast(array.type.value_type)
        encoded = pc.dictionary_encode(array)
        distinct = encoded.dictionary.to_pylist()
        codes = np.asarray(
            encoded.indices.fill_null(len(distinct)).to_numpy(zero_copy_only=False), np.int64
        )
        values.append(([*distinct, None], codes))
        _, group = np.unique(group * (len(distinct) + 1) + codes[chosen], return_inverse=True)
        group = np.asarray(group, np.int64).reshape(-1)
    return group, values
