"""The batch engine's per-customer results, read from columns when asked for.

An evaluation of a million customers would otherwise spend most of its time making a
million ``CustomerResult``s, each with its ledger entries, tier changes, next tier and
stamps, that the caller may never read (a total, a Parquet ledger, one customer). A
:class:`BatchCustomerResult` is a ``CustomerResult`` that holds only its place in the
evaluation's columns (:class:`ResultColumns`); each field is worked out the first time it
is read, then kept. It reads, compares, prints and serialises as any ``CustomerResult``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import partial
from itertools import repeat
from typing import Any

import numpy as np
import pyarrow as pa

from rewardrules.engine.ledger import CustomerResult, ExpiryDue
from rewardrules.engine.state import CustomerState
from rewardrules.engine.tiers import NextTier, TierChange, TierPlan
from rewardrules.evaluation.batch._ledger import LedgerColumns
from rewardrules.money import Currency


@dataclass(frozen=True, slots=True)
class TierReports:
    """Per customer: the tier at the report, the changes seen, and the next tier.

    Changes at purchases are kept as rows (the purchase's event, the levels before and
    after), grouped by customer (``change_start``); ``report_change`` is the moment of a
    change at the report (None when the level there is the last purchase's).
    """

    plan: TierPlan
    money: Currency
    names: tuple[str | None, ...]
    """The level names, then None (for level -1)."""
    reported: list[int]
    amounts: list[int]
    final: list[int]
    change_event: list[int]
    change_before: list[int]
    change_after: list[int]
    change_start: list[int]
    report_change: list[datetime | None]
    written: Callable[[int], datetime]
    """An event's instant at the offset it was written with."""

    def tier(self, customer: int) -> str | None:
        """The tier at the report."""
        return self.names[self.reported[customer]]

    def changes(self, customer: int) -> tuple[TierChange, ...]:
        """The changes of the tier that applies, oldest first."""
        names, start, end = self.names, *self.change_start[customer : customer + 2]
        seen = [
            TierChange(self.written(event), names[before], names[after])
            for event, before, after in zip(
                self.change_event[start:end],
                self.change_before[start:end],
                self.change_after[start:end],
            )
        ]
        moment = self.report_change[customer]
        if moment is not None:
            seen.append(
                TierChange(moment, names[self.final[customer]], names[self.reported[customer]])
            )
        return tuple(seen)

    def next_tier(self, customer: int) -> NextTier | None:
        """The level above the window's and what it still needs."""
        return self.plan.next_tier(self.amounts[customer], self.money)


@dataclass(frozen=True, slots=True)
class ResultColumns:
    """What every customer's result is read from."""

    customer_ids: list[str]
    ledger: LedgerColumns
    balances: list[int]
    available: list[int]
    cards: list[tuple[str, int, list[int]]]
    """Per punch card: its rule, its size and each customer's final count."""
    tiers: TierReports | None
    save: Callable[[int], CustomerState]
    """A customer's saved state, by index (``batch._states``)."""
    upcoming: dict[int, tuple[ExpiryDue, ...]]
    """Per customer whose points expire, the points left that will, per local date."""

    def results(self) -> tuple[BatchCustomerResult, ...]:
        """One result per customer, in customer order."""
        return tuple(map(BatchCustomerResult.at, repeat(self), range(len(self.customer_ids))))

    def tiers_of(self, start: int, end: int) -> pa.Array[Any]:
        """The tier at the report of customers ``start`` to ``end`` (null: below every
        level, or a program without tiers), one string each, with no result made."""
        if self.tiers is None:
            return pa.nulls(end - start, pa.string())
        names = self.tiers.names
        codes = np.asarray(self.tiers.reported[start:end], dtype=np.int64)
        codes[codes < 0] += len(names)  # level -1 is the last name, None
        return pa.array(list(names), pa.string()).take(codes)


def _ledger(columns: ResultColumns, index: int) -> Any:
    return columns.ledger.entries(index, columns.customer_ids[index])


def _stamps(columns: ResultColumns, index: int) -> dict[str, int]:
    return {rule_id: final[index] % every for rule_id, every, final in columns.cards}


def _pending(columns: ResultColumns, index: int) -> int:
    return columns.balances[index] - columns.available[index]


def _tier(columns: ResultColumns, index: int) -> str | None:
    return None if columns.tiers is None else columns.tiers.tier(index)


def _changes(columns: ResultColumns, index: int) -> tuple[TierChange, ...]:
    return () if columns.tiers is None else columns.tiers.changes(index)


def _upcoming(columns: ResultColumns, index: int) -> tuple[ExpiryDue, ...]:
    return columns.upcoming.get(index, ())


def _next_tier(columns: ResultColumns, index: int) -> NextTier | None:
    return None if columns.tiers is None else columns.tiers.next_tier(index)


_FIELDS: dict[str, Callable[[ResultColumns, int], Any]] = {
    "customer_id": lambda columns, index: columns.customer_ids[index],
    "ledger": _ledger,
    "points": lambda columns, index: columns.balances[index],
    "available_points": lambda columns, index: columns.available[index],
    "pending_points": _pending,
    "tier": _tier,
    "stamps": _stamps,
    "save": lambda columns, index: partial(columns.save, index),
    "tier_changes": _changes,
    "next_tier": _next_tier,
    "upcoming_expiry": _upcoming,
}
"""How each field of ``CustomerResult`` is read from the columns (every field has one:
``tests/test_batch_results.py`` checks it)."""


class _ReadWhenAsked:
    """A field of ``CustomerResult`` worked out from the columns on first read, then kept
    in the field's own slot."""

    def __init__(self, name: str, read: Callable[[ResultColumns, int], Any]) -> None:
        self.slot: Any = CustomerResult.__dict__[name]
        self.read = read

    def __get__(self, result: BatchCustomerResult | None, owner: type | None = None) -> Any:
        if result is None:
            return self
        try:
            return self.slot.__get__(result, owner)
        except AttributeError:
            value = self.read(result._columns, result._index)
            self.slot.__set__(result, value)
            return value

    def __set__(self, result: BatchCustomerResult, value: Any) -> None:
        self.slot.__set__(result, value)


class BatchCustomerResult(CustomerResult):
    """A ``CustomerResult`` whose fields are read from the evaluation's columns when asked.

    Built by :meth:`at`; built with ``CustomerResult``'s own arguments (as
    ``dataclasses.replace`` does) it holds them as given.
    """

    __slots__ = ("_columns", "_index")
    _columns: ResultColumns
    _index: int

    @classmethod
    def at(cls, columns: ResultColumns, index: int) -> BatchCustomerResult:
        """Customer ``index`` of ``columns``, nothing read yet."""
        result = object.__new__(cls)
        _set_columns(result, columns)
        _set_index(result, index)
        return result

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CustomerResult):
            return NotImplemented
        return all(
            getattr(self, field.name) == getattr(other, field.name)
            for field in fields(CustomerResult)
            if field.compare
        )

    __hash__ = CustomerResult.__hash__

    def place(self) -> tuple[ResultColumns, int] | None:
        """The columns this result is read from and its index there; None for a result
        built with ``CustomerResult``'s own arguments."""
        columns = getattr(self, "_columns", None)
        return None if columns is None else (columns, self._index)

    def ledger_rows(self) -> tuple[LedgerColumns, int, int, Sequence[str]] | None:
        """Where this customer's entries are in the evaluation's ledger columns (the
        columns, the first and one past the last position, and the customer ids), or None
        once the entries were built or given (``ledger_files`` then writes those)."""
        try:
            CustomerResult.__dict__["ledger"].__get__(self, CustomerResult)
        except AttributeError:
            columns = getattr(self, "_columns", None)
            if columns is not None:
                bounds = columns.ledger.bounds
                index = self._index
                return columns.ledger, bounds[index], bounds[index + 1], columns.customer_ids
        return None


_set_columns = BatchCustomerResult.__dict__["_columns"].__set__
_set_index = BatchCustomerResult.__dict__["_index"].__set__
"""The slots' own setters: what ``object.__setattr__`` finds, without looking (a million
customers of one purchase each build a million results)."""

for _name, _read in _FIELDS.items():
    setattr(BatchCustomerResult, _name, _ReadWhenAsked(_name, _read))
