"""A saved state's purchases and rolling tier window as columns (format 6).

A state keeps what a refund needs of each purchase it can still refund, and what the
forgotten purchases still count in a rolling tier window. Format 6 saves each as columns,
one JSON array per field (docs/api.md, "Saved states"): a few dozen arrays of numbers and
short texts load and dump in C, where a JSON array per purchase and per line made a Python
object of each. The rows (:class:`SavedPurchase`, :class:`SavedLine`, :class:`TierAmount`)
stay the way to read them one purchase at a time: :func:`purchase_rows` and
:func:`window_pairs` build them from the columns, and :func:`purchase_columns` the columns
from rows, in one canonical form: a state's content has one spelling, and so one digest.

The purchase columns: per purchase ``id``, ``at``, ``offset``, ``store``, ``tier`` and
``lines``, the number of its lines, which are the next that many of the line columns
``sku``, ``category``, ``quantity``, ``unit_price``, ``paid``, ``refunded_units`` and
``refunded_amount``; ``points``, per rule (sorted), what it gave each purchase (null where
it gave nothing); ``set_aside`` and ``earned_on`` only for the purchases that have one, by
purchase id, in the purchases' order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from itertools import accumulate
from operator import gt, sub
from typing import Any, NamedTuple

from pydantic import ConfigDict, Field, StrictInt, StrictStr

from rewardrules._model_errors import PlainErrors
from rewardrules.engine._trusted import trusted


class SavedLine(NamedTuple):
    """One line of a saved purchase; amounts are whole minor units of the program's
    currency (``CustomerState.exponent``)."""

    sku: StrictStr
    category: StrictStr | None
    quantity: StrictInt
    unit_price: StrictInt
    paid: StrictInt
    refunded_units: StrictInt
    refunded_amount: StrictInt


class SavedPurchase(NamedTuple):
    """A purchase kept in the state so a later refund can undo what it earned: only what a
    refund needs (one row of the purchase columns; docs/api.md).

    ``at`` is the instant in microseconds since 1970-01-01 UTC and ``offset`` the UTC
    offset it was written with, in seconds. ``points`` holds the points each rule gave it,
    net; ``set_aside`` the rules an exclusive group set aside at it; ``earned_on``, per rule
    that earned on amounts other than the lines' ``paid`` (an exclusive group's member that
    ran before a later price rule), each line's amount it saw, in minor units.
    """

    id: StrictStr
    at: StrictInt
    offset: StrictInt
    store: StrictStr | None
    tier: StrictStr | None
    lines: tuple[SavedLine, ...]
    points: dict[str, StrictInt]
    set_aside: tuple[StrictStr, ...]
    earned_on: dict[str, tuple[StrictInt, ...]]


class TierAmount(NamedTuple):
    """What a forgotten purchase still counts in a rolling tier window: its instant in
    microseconds since 1970-01-01 UTC, and its paid amount left in minor units (or 1
    purchase)."""

    at: StrictInt
    amount: StrictInt


Ints = tuple[StrictInt, ...]
Texts = tuple[StrictStr, ...]
MaybeTexts = tuple[StrictStr | None, ...]


class _Columns(PlainErrors):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PurchaseColumns(_Columns):
    """The saved purchases, oldest first, one array per field (see the module's docstring)."""

    id: Texts = Field(default=(), description="Per purchase, its id.")
    at: Ints = Field(default=(), description="Per purchase, microseconds since 1970 UTC.")
    offset: Ints = Field(default=(), description="Per purchase, its UTC offset in seconds.")
    store: MaybeTexts = Field(default=(), description="Per purchase, its store, if any.")
    tier: MaybeTexts = Field(default=(), description="Per purchase, the tier it was made at.")
    lines: Ints = Field(
        default=(), description="Per purchase, how many lines it has: the next in the line columns."
    )
    points: dict[str, tuple[StrictInt | None, ...]] = Field(
        default_factory=dict,
        description="Per rule, the points it gave each purchase, net (null: it gave none).",
    )
    set_aside: dict[str, Texts] = Field(
        default_factory=dict,
        description="Per purchase id, the rules an exclusive group set aside at it.",
    )
    earned_on: dict[str, dict[str, Ints]] = Field(
        default_factory=dict,
        description=(
            "Per purchase id, per rule that earned on other amounts than paid, each line's "
            "amount it saw, in minor units."
        ),
    )
    sku: Texts = Field(default=(), description="Per line, its sku.")
    category: MaybeTexts = Field(default=(), description="Per line, its category, if any.")
    quantity: Ints = Field(default=(), description="Per line, the units bought.")
    unit_price: Ints = Field(default=(), description="Per line, the unit price in minor units.")
    paid: Ints = Field(default=(), description="Per line, the amount paid in minor units.")
    refunded_units: Ints = Field(default=(), description="Per line, the units refunded.")
    refunded_amount: Ints = Field(
        default=(), description="Per line, the amount given back in minor units."
    )


class WindowColumns(_Columns):
    """The forgotten purchases still in a rolling tier window, oldest first."""

    at: Ints = Field(default=(), description="Per purchase, microseconds since 1970 UTC.")
    amount: Ints = Field(
        default=(), description="Per purchase, what it counts: minor units left, or 1 purchase."
    )


PER_PURCHASE = ("id", "at", "offset", "store", "tier", "lines")
"""The purchase columns with one value per purchase (``points`` has one per rule too)."""

PER_LINE = (
    "sku",
    "category",
    "quantity",
    "unit_price",
    "paid",
    "refunded_units",
    "refunded_amount",
)
"""The purchase columns with one value per line, in the order of :class:`SavedLine`."""

_FIELDS = tuple(PurchaseColumns.model_fields)
_CONSTRUCT_FIELDS = frozenset(_FIELDS)


def trusted_columns(values: dict[str, Any]) -> PurchaseColumns:
    """Purchase columns the engine made, unvalidated: ``values`` are every field, in order."""
    return trusted(PurchaseColumns, values, set(_CONSTRUCT_FIELDS))


def trusted_window(at: tuple[int, ...], amount: tuple[int, ...]) -> WindowColumns:
    """Window columns the engine made, unvalidated."""
    return trusted(WindowColumns, {"at": at, "amount": amount}, {"at", "amount"})


_MAPPINGS = frozenset({"points", "set_aside", "earned_on"})
NO_PURCHASES = trusted_columns({name: {} if name in _MAPPINGS else () for name in _FIELDS})
"""No saved purchase (shared: frozen, and its mappings are never changed)."""
NO_WINDOW = trusted_window((), ())


def line_starts(columns: PurchaseColumns) -> list[int]:
    """Where each purchase's lines start in the line columns, and where the last ends."""
    return [0, *accumulate(columns.lines)]


def purchase_rows(columns: PurchaseColumns) -> tuple[SavedPurchase, ...]:
    """The saved purchases as rows, oldest first (for reading one at a time)."""
    if not columns.id:
        return ()
    line_values = [getattr(columns, name) for name in PER_LINE]
    lines = list(map(partial(tuple.__new__, SavedLine), zip(*line_values, strict=True)))
    starts = line_starts(columns)
    return tuple(
        SavedPurchase(
            purchase_id,
            columns.at[index],
            columns.offset[index],
            columns.store[index],
            columns.tier[index],
            tuple(lines[starts[index] : starts[index + 1]]),
            points_of(columns, index),
            columns.set_aside.get(purchase_id, ()),
            columns.earned_on.get(purchase_id, {}),
        )
        for index, purchase_id in enumerate(columns.id)
    )


def points_of(columns: PurchaseColumns, index: int) -> dict[str, int]:
    """The points each rule gave the saved purchase ``index``, net."""
    points = {}
    for rule, given in columns.points.items():
        value = given[index]
        if value is not None:
            points[rule] = value
    return points


def window_pairs(window: WindowColumns) -> tuple[TierAmount, ...]:
    """The saved rolling window as ``(at, amount)`` pairs, oldest first."""
    return tuple(map(partial(tuple.__new__, TierAmount), zip(window.at, window.amount)))


class ColumnsBuilder:
    """Purchase columns put together from slices of saved columns and from rows, in order."""

    __slots__ = ("count", "earned_on", "lines", "per_line", "per_purchase", "points", "set_aside")

    def __init__(self) -> None:
        self.count = 0
        self.per_purchase: list[list[Any]] = [[] for _ in PER_PURCHASE]
        self.per_line: list[list[Any]] = [[] for _ in PER_LINE]
        self.points: dict[str, list[int | None]] = {}
        self.set_aside: dict[str, tuple[str, ...]] = {}
        self.earned_on: dict[str, dict[str, tuple[int, ...]]] = {}

    def add_slice(self, columns: PurchaseColumns, start: int, stop: int) -> None:
        """Add the saved purchases ``start`` to ``stop`` (exclusive) of ``columns``."""
        if start >= stop:
            return
        for kept, name in zip(self.per_purchase, PER_PURCHASE, strict=True):
            kept.extend(getattr(columns, name)[start:stop])
        counts = columns.lines
        first = sum(counts[:start])
        end = first + sum(counts[start:stop])
        for kept, name in zip(self.per_line, PER_LINE, strict=True):
            kept.extend(getattr(columns, name)[first:end])
        for rule, given in columns.points.items():
            self._points_of(rule).extend(given[start:stop])
        self.count += stop - start
        for points in self.points.values():  # the rules the slice did not name: none given
            points.extend((None,) * (self.count - len(points)))
        if columns.set_aside or columns.earned_on:
            ids = set(columns.id[start:stop])
            self.set_aside |= {key: value for key, value in columns.set_aside.items() if key in ids}
            self.earned_on |= {key: value for key, value in columns.earned_on.items() if key in ids}

    def add_row(self, row: SavedPurchase) -> None:
        """Add one purchase, after those added before."""
        for kept, value in zip(self.per_purchase[:5], row[:5], strict=True):
            kept.append(value)
        self.per_purchase[5].append(len(row.lines))
        if row.lines:  # none only in a damaged state, which the checks then refuse
            for kept, values in zip(self.per_line, zip(*row.lines, strict=True), strict=True):
                kept.extend(values)
        for rule, given in row.points.items():
            self._points_of(rule).append(given)
        self.count += 1
        for points in self.points.values():
            if len(points) < self.count:
                points.append(None)
        if row.set_aside:
            self.set_aside[row.id] = tuple(row.set_aside)
        if row.earned_on:
            self.earned_on[row.id] = {rule: tuple(seen) for rule, seen in row.earned_on.items()}

    def _points_of(self, rule: str) -> list[int | None]:
        found = self.points.get(rule)
        if found is None:
            found = self.points[rule] = [None] * self.count
        return found

    def build(self) -> PurchaseColumns:
        """The columns of every purchase added, in the one canonical form."""
        if not self.count:
            return NO_PURCHASES
        ids, at, offset, store, tier, lines = map(tuple, self.per_purchase)
        sku, category, quantity, unit_price, paid, units, back = map(tuple, self.per_line)
        points = {
            rule: tuple(given)
            for rule, given in sorted(self.points.items())
            if any(value is not None for value in given)
        }
        return trusted_columns(
            {
                "id": ids,
                "at": at,
                "offset": offset,
                "store": store,
                "tier": tier,
                "lines": lines,
                "points": points,
                "set_aside": self.set_aside,
                "earned_on": self.earned_on,
                "sku": sku,
                "category": category,
                "quantity": quantity,
                "unit_price": unit_price,
                "paid": paid,
                "refunded_units": units,
                "refunded_amount": back,
            }
        )


def purchase_columns(rows: Iterable[SavedPurchase]) -> PurchaseColumns:
    """The columns of saved purchases given as rows, oldest first."""
    if isinstance(rows, PurchaseColumns):
        return rows
    builder = ColumnsBuilder()
    for row in rows:
        builder.add_row(row if isinstance(row, SavedPurchase) else _row(row))
    return builder.build()


def _row(values: Sequence[Any]) -> SavedPurchase:
    """A row given as a plain sequence (a format 5 purchase array)."""
    purchase = SavedPurchase(*values)
    return purchase._replace(lines=tuple(SavedLine(*line) for line in purchase.lines))


def window_columns(pairs: Iterable[Sequence[int]] | WindowColumns) -> WindowColumns:
    """The columns of a rolling window given as ``(at, amount)`` pairs, oldest first."""
    if isinstance(pairs, WindowColumns):
        return pairs
    listed = list(pairs)
    if not listed:
        return NO_WINDOW
    at, amount = zip(*listed, strict=True)
    return trusted_window(tuple(at), tuple(amount))


def purchase_sums(columns: PurchaseColumns, values: Sequence[int]) -> list[int]:
    """Per saved purchase, the sum of a line column's values over its lines, in C loops."""
    running = [0, *accumulate(values)]
    ends = map(running.__getitem__, accumulate(columns.lines))
    starts = map(running.__getitem__, accumulate(columns.lines, initial=0))
    return list(map(sub, ends, starts))


def spend_left(columns: PurchaseColumns) -> list[int]:
    """Per saved purchase, its paid amount not refunded, in minor units."""
    paid = purchase_sums(columns, columns.paid)
    if not any(columns.refunded_amount):
        return paid  # nothing refunded: the way most saved purchases are
    return list(map(sub, paid, purchase_sums(columns, columns.refunded_amount)))


def points_given(columns: PurchaseColumns) -> list[int]:
    """Per saved purchase, the points its rules gave it, net."""
    if not columns.points:
        return [0] * len(columns.id)
    return [sum(filter(None, given)) for given in zip(*columns.points.values(), strict=True)]


def units_left(columns: PurchaseColumns) -> list[int]:
    """Per saved purchase, its units not refunded (0: refunded in full)."""
    units = purchase_sums(columns, columns.quantity)
    if not any(columns.refunded_units):
        return units
    return list(map(sub, units, purchase_sums(columns, columns.refunded_units)))


def not_refunded_in_full(columns: PurchaseColumns, starts: Sequence[int], index: int) -> bool:
    """Whether a unit of a saved purchase is not refunded (``starts``: :func:`line_starts`)."""
    first, end = starts[index], starts[index + 1]
    return any(map(gt, columns.quantity[first:end], columns.refunded_units[first:end]))


def newest_then(
    columns: PurchaseColumns, start: int, rows: Sequence[SavedPurchase]
) -> PurchaseColumns:
    """The saved purchases from ``start`` on, then ``rows``: what a step saves when no
    saved purchase was opened, in C slices, transpositions and concatenations (a step
    saves at every event)."""
    if not rows and start == 0:
        return columns
    saved = columns.__dict__  # the fields read once, not through the model's attributes
    ids = saved["id"]
    if start >= len(ids) and not rows:
        return NO_PURCHASES
    first = sum(saved["lines"][:start]) if start else 0
    count = len(ids) - start + len(rows)
    saved_points: dict[str, tuple[int | None, ...]] = saved["points"]
    points: dict[str, tuple[int | None, ...]] = {}
    lines: Sequence[SavedLine]
    new_ids: tuple[Any, ...]
    at: tuple[Any, ...]
    offset: tuple[Any, ...]
    store: tuple[Any, ...]
    tier: tuple[Any, ...]
    if len(rows) == 1:  # a step's purchase: its fields as columns of one, without walks
        row = rows[0]
        new_ids, at, offset, store, tier = zip(row[:5])
        lines = row.lines
        counts: tuple[int, ...] = (len(lines),)
        given_now = row.points
        for rule, given in saved_points.items():
            now = given_now.get(rule)
            kept = given[start:] + (now,)  # noqa: RUF005  # faster than unpacking
            # A rule of forgotten purchases only is left out.
            if now is not None or kept.count(None) < count:
                points[rule] = kept
        fresh = [rule for rule in given_now if rule not in saved_points] if given_now else []
        new_aside = {row.id: row.set_aside} if row.set_aside else None
        new_earned = {row.id: row.earned_on} if row.earned_on else None
    else:
        # The rows' fields as columns: one transposition of the purchases, one of the lines.
        new_ids, at, offset, store, tier = zip(*(row[:5] for row in rows)) if rows else ((),) * 5
        lines = [line for row in rows for line in row.lines]
        counts = tuple(len(row.lines) for row in rows)
        for rule, given in saved_points.items():
            kept = given[start:] + tuple(row.points.get(rule) for row in rows)
            if kept.count(None) < count:  # a rule of forgotten purchases only is left out
                points[rule] = kept
        fresh = list(
            {rule: None for row in rows for rule in row.points if rule not in saved_points}
        )
        new_aside = {row.id: row.set_aside for row in rows if row.set_aside} or None
        new_earned = {row.id: row.earned_on for row in rows if row.earned_on} or None
    sku, category, quantity, unit_price, paid, units, back = (
        zip(*lines, strict=True) if lines else ((),) * 7
    )
    for rule in fresh:
        gave = tuple(row.points.get(rule) for row in rows)
        points[rule] = (None,) * (count - len(rows)) + gave
    set_aside, earned_on = saved["set_aside"], saved["earned_on"]
    if start and (set_aside or earned_on):
        kept_ids = set(ids[start:])
        set_aside = {key: value for key, value in set_aside.items() if key in kept_ids}
        earned_on = {key: value for key, value in earned_on.items() if key in kept_ids}
    if new_aside:
        set_aside = {**set_aside, **new_aside}
    if new_earned:
        earned_on = {**earned_on, **new_earned}
    return trusted_columns(
        {
            "id": ids[start:] + new_ids,
            "at": saved["at"][start:] + at,
            "offset": saved["offset"][start:] + offset,
            "store": saved["store"][start:] + store,
            "tier": saved["tier"][start:] + tier,
            "lines": saved["lines"][start:] + counts,
            "points": dict(sorted(points.items())) if fresh else points,
            "set_aside": set_aside,
            "earned_on": earned_on,
            "sku": saved["sku"][first:] + sku,
            "category": saved["category"][first:] + category,
            "quantity": saved["quantity"][first:] + quantity,
            "unit_price": saved["unit_price"][first:] + unit_price,
            "paid": saved["paid"][first:] + paid,
            "refunded_units": saved["refunded_units"][first:] + units,
            "refunded_amount": saved["refunded_amount"][first:] + back,
        }
    )
