"""Tiers resumed from saved states: what the saved purchases still count, as columns.

A saved state keeps what its purchases count toward tiers: the kept purchases (what each
counts now), and with ``refunds.within`` what the forgotten ones still count (``tier_window``
pairs in a rolling window, ``tier_amounts`` per calendar window). ``engine._state_restore.restore``
loads them into the tier counter before the new history; here they become a *base* per
event: what the saved entries count in the window of that event (a rolling window: those
at or after its start; a calendar window: those of its key), each at its amount after the
refunds of it made before that event (``_saved_refunds``). The window sums of the columns
(``TierWindows.sums_before``) add it; the report adds it at the report's instant.

For ``keep_for``/``keep_until`` the saved window level seeds the level the customer's first
new purchase rises from, and each saved reach holds its level until ``hold_until`` of it
(``Retention``). The level of the last saved purchase is where tier changes are seen from.
The saved state out gets the retention and the forgotten purchases' counts the reference's
``TierCounter.retention`` and ``engine._state_save._forgotten_tiers`` write.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np

from rewardrules.engine._state_columns import SavedPurchase, TierAmount
from rewardrules.engine._state_format import instant, micros
from rewardrules.engine.lots import elapsed
from rewardrules.engine.state import CustomerState
from rewardrules.engine.tiers import TierPlan, calendar_key
from rewardrules.evaluation.batch._frame import Frame, Ints
from rewardrules.evaluation.batch._tiers import span_us

_NONE = np.iinfo(np.int64).min


def row_amount(plan: TierPlan, row: SavedPurchase) -> int:
    """What a saved purchase counts toward tiers now (``state._row_amount``)."""
    if plan.by_spend:
        return sum(line.paid - line.refunded_amount for line in row.lines)
    if plan.by_points:
        return sum(row.points.values())
    return 0 if all(line.refunded_units == line.quantity for line in row.lines) else 1


class _Entries:
    """One customer's saved entries: instants (microseconds), calendar keys, amounts, and
    the kept purchase's id (None for a forgotten one)."""

    def __init__(self, plan: TierPlan, saved: CustomerState) -> None:
        forgotten = saved.forgotten_until is not None
        self.at: list[int] = []
        self.key: list[str] = []
        self.amount: list[int] = []
        self.ids: list[str | None] = []
        if plan.span is not None and forgotten:
            for pair in saved.tier_window:
                self._add(plan, pair.at, 0, pair.amount, None)
        if plan.span is None and forgotten:
            for key, amount in saved.tier_amounts.items():
                self.at.append(_NONE)
                self.key.append(key)
                self.amount.append(amount)
                self.ids.append(None)
        for row in saved.purchases:
            self._add(plan, row.at, row.offset, row_amount(plan, row), row.id)

    def _add(self, plan: TierPlan, at: int, offset: int, amount: int, row_id: str | None) -> None:
        if plan.span is None:  # a rolling window reads instants only
            local = instant(at, offset).astimezone(plan.zone).date()
            self.key.append(calendar_key(plan.window, local))
        self.at.append(at)
        self.amount.append(amount)
        self.ids.append(row_id)

    def total(self, plan: TierPlan, at: int, key: str, amounts: Sequence[int]) -> int:
        """What the entries count in the window of an instant (and its calendar key)."""
        if plan.span is None:
            return sum(
                amount for entry, amount in zip(self.key, amounts, strict=True) if entry == key
            )
        first = bisect_left(self.at, at - span_us(plan))
        return sum(amounts[first:])


class SavedTiers:
    """The saved states' tier entries over a frame, for the resumed customers."""

    def __init__(
        self,
        plan: TierPlan,
        frame: Frame,
        saved: Mapping[str, CustomerState],
        adjusted: Mapping[int, tuple[str, int]],
    ) -> None:
        """``adjusted``: per refund (event) of a saved purchase, that purchase and what it
        counts after the refund."""
        self.plan, self.frame = plan, frame
        self.customers = {
            customer: (customer_id, _Entries(plan, saved[customer_id]))
            for customer, customer_id in enumerate(frame.customer_ids)
            if customer_id in saved
        }
        self.saved = saved
        self.adjusted = adjusted
        self.index = {
            customer_id: customer for customer, (customer_id, _) in self.customers.items()
        }
        self.windows: Any = None
        """The frame's tier windows with the saved entries' base (set by ``_resume``)."""

    def base(self) -> Ints:
        """Per event, what the saved entries count in its window (after the refunds of
        them before it)."""
        frame, plan = self.frame, self.plan
        base = np.zeros(frame.events, dtype=np.int64)
        for customer, (_, entries) in self.customers.items():
            amounts = list(entries.amount)
            start, end = (
                int(frame.customer_start[customer]),
                int(frame.customer_start[customer + 1]),
            )
            for event in range(start, end):
                day = date.fromordinal(int(frame.local_date[event]))
                key = calendar_key(plan.window, day) if plan.span is None else ""
                base[event] = entries.total(plan, int(frame.at[event]), key, amounts)
                self._adjust(entries, amounts, event)
        return base

    def _adjust(self, entries: _Entries, amounts: list[int], event: int) -> None:
        change = self.adjusted.get(event)
        if change is not None:
            purchase_id, amount = change
            amounts[entries.ids.index(purchase_id)] = amount

    def _final_amounts(self, customer: int, entries: _Entries) -> list[int]:
        amounts = list(entries.amount)
        frame = self.frame
        start, end = int(frame.customer_start[customer]), int(frame.customer_start[customer + 1])
        for event in range(start, end):
            self._adjust(entries, amounts, event)
        return amounts

    def report_base(self, at: Ints, local_date: Ints) -> Ints:
        """Per customer, what the saved entries count at a report instant (and date)."""
        plan = self.plan
        base = np.zeros(len(self.frame.customer_ids), dtype=np.int64)
        for customer, (_, entries) in self.customers.items():
            day = date.fromordinal(int(local_date[customer]))
            key = calendar_key(plan.window, day) if plan.span is None else ""
            amounts = self._final_amounts(customer, entries)
            base[customer] = entries.total(plan, int(at[customer]), key, amounts)
        return base

    def last_level(self) -> Ints:
        """Per customer, the level of the last saved purchase (-1 for none or no state)."""
        found = np.full(len(self.frame.customer_ids), -1, dtype=np.int64)
        for customer, (customer_id, _) in self.customers.items():
            rows = self.saved[customer_id].purchases
            if rows and rows[-1].tier is not None:
                found[customer] = self.plan.index_of(rows[-1].tier)
        return found

    def window_level(self) -> Ints:
        """Per customer, the saved window level (``keep_for``; -1 for none)."""
        found = np.full(len(self.frame.customer_ids), -1, dtype=np.int64)
        for customer, (customer_id, _) in self.customers.items():
            window = self.saved[customer_id].window_tier
            if window is not None:
                found[customer] = self.plan.index_of(window)
        return found

    def held_until(self) -> list[Ints]:
        """Per level, per customer: until when the saved reach holds it (microseconds;
        the lowest int64 for none)."""
        plan = self.plan
        found = [np.full(len(self.frame.customer_ids), _NONE, dtype=np.int64) for _ in plan.names]
        for customer, (customer_id, _) in self.customers.items():
            for name, at in self.saved[customer_id].tier_reached.items():
                found[plan.index_of(name)][customer] = micros(plan.hold_until(at))
        return found

    # --- the saved state out ------------------------------------------------------------

    def retention(
        self, customer_id: str, bought: Sequence[tuple[datetime, int]]
    ) -> tuple[str | None, dict[str, datetime]]:
        """``TierCounter.retention`` after the new purchases (instant, window level)."""
        plan, saved = self.plan, self.saved[customer_id]
        if not plan.holds:
            return None, {}
        names = plan.names
        reached = {plan.index_of(name): at for name, at in saved.tier_reached.items()}
        previous = -1 if saved.window_tier is None else plan.index_of(saved.window_tier)
        window: int | None = None if saved.window_tier is None else previous
        for at, level in bought:
            for index in range(previous + 1, level + 1):
                reached[index] = at
            previous = level
            window = None if level < 0 else level
        name = None if window is None else names[window]
        return name, {names[index]: at for index, at in sorted(reached.items())}

    def forgotten(
        self,
        customer_id: str,
        forgotten_rows: Sequence[SavedPurchase],
        new: tuple[dict[str, int], tuple[TierAmount, ...]],
        now: datetime,
    ) -> tuple[dict[str, int], tuple[TierAmount, ...]]:
        """What the forgotten purchases count in the window read next, saved ones first
        (``engine._state_save._forgotten_tiers``); ``new`` is the new forgotten purchases'."""
        plan = self.plan
        customer = self.index[customer_id]
        _, entries = self.customers[customer]
        saved = self.saved[customer_id]
        amounts = dict(zip(entries.ids, self._final_amounts(customer, entries), strict=True))
        if plan.span is None:
            key = calendar_key(plan.window, now.astimezone(plan.zone).date())
            amount = saved.tier_amounts.get(key, 0) if saved.forgotten_until else 0
            amount += sum(
                amounts[row.id]
                for row in forgotten_rows
                if calendar_key(plan.window, instant(row.at).astimezone(plan.zone).date()) == key
            )
            amount += new[0].get(key, 0)
            return ({key: amount} if amount else {}), ()
        start = micros(elapsed(now, -plan.span))
        pairs = [pair for pair in saved.tier_window if pair.at >= start]
        if saved.forgotten_until is None:
            pairs = []
        pairs += [TierAmount(row.at, amounts[row.id]) for row in forgotten_rows if row.at >= start]
        return {}, (*pairs, *new[1])
