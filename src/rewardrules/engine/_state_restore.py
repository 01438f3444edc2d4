"""A saved state made a working state again, for the engine to fold new events over.

:func:`restore` reads what a :class:`~rewardrules.engine.state.CustomerState` keeps into a
:class:`~rewardrules.engine.working_state.WorkingState`: points, counters, referrals and the
tier counter. The saved purchases stay columns: an :class:`Opener` turns one into a
:class:`~rewardrules.engine.working_state.PurchaseRecord` when a refund names it, so that
resuming reads none of them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import date, datetime, tzinfo
from operator import mul

from rewardrules.engine._state_columns import (
    NO_WINDOW,
    PurchaseColumns,
    line_starts,
    not_refunded_in_full,
    points_given,
    points_of,
    spend_left,
    units_left,
)
from rewardrules.engine._state_format import instant, micros
from rewardrules.engine.lots import OPENING, Lot, PointsAccount, Spent, Taken, WriteOff
from rewardrules.engine.scope import PurchaseContext
from rewardrules.engine.state import CustomerState
from rewardrules.engine.tiers import TierPlan, calendar_key
from rewardrules.engine.working_state import PurchaseRecord, WorkingState, tier_amount
from rewardrules.events import Line, Purchase
from rewardrules.money import Currency


def _saved_amounts(columns: PurchaseColumns, plan: TierPlan | None) -> list[int]:
    """What each saved purchase counts toward tiers now (as :func:`tier_amount`)."""
    if plan is None or plan.by_spend:
        return spend_left(columns)
    if plan.by_points:
        return points_given(columns)
    return [1 if left else 0 for left in units_left(columns)]


class Opener:
    """Turns a saved purchase into a record when a refund needs it, in a program's terms."""

    __slots__ = ("_starts", "columns", "money", "tiers", "zone")

    def __init__(
        self, money: Currency, zone: tzinfo, tiers: TierPlan | None, columns: PurchaseColumns
    ) -> None:
        self.money = money
        self.zone = zone
        self.tiers = tiers
        self.columns = columns
        self._starts: list[int] | None = None

    @property
    def starts(self) -> list[int]:
        """Where each saved purchase's lines start in the line columns (worked out once)."""
        if self._starts is None:
            self._starts = line_starts(self.columns)
        return self._starts

    def counted(self, indexes: Iterable[int]) -> list[tuple[date, int]]:
        """Each saved purchase's local date and what it counts toward tiers."""
        columns, zone = self.columns, self.zone
        amounts = _saved_amounts(columns, self.tiers)
        return [
            (instant(columns.at[index]).astimezone(zone).date(), amounts[index])
            for index in indexes
        ]

    def kept(self, index: int) -> bool:
        """Whether a unit of the saved purchase ``index`` is not refunded."""
        return not_refunded_in_full(self.columns, self.starts, index)

    def instant(self, index: int) -> datetime:
        """The instant of the saved purchase ``index``, at the offset it was written with."""
        return instant(self.columns.at[index], self.columns.offset[index])

    def open(self, state: WorkingState, index: int) -> PurchaseRecord:
        """The record of a saved purchase, with its place in the saved tier window."""
        columns = self.columns
        show = self.money.to_decimal
        first, end = self.starts[index], self.starts[index + 1]
        quantities = columns.quantity[first:end]
        prices = columns.unit_price[first:end]
        purchase_id = columns.id[index]
        purchase = Purchase.model_construct(
            id=purchase_id,
            customer_id=state.customer_id,
            at=self.instant(index),
            lines=tuple(
                Line.model_construct(
                    sku=sku, category=category, quantity=quantity, unit_price=show(price)
                )
                for sku, category, quantity, price in zip(
                    columns.sku[first:end], columns.category[first:end], quantities, prices
                )
            ),
            store=columns.store[index],
        )
        tiers = self.tiers
        tier = columns.tier[index]
        tier_index = None if tier is None or tiers is None else tiers.names.index(tier)
        local = purchase.at.astimezone(self.zone)
        gross = tuple(map(mul, prices, quantities))
        context = PurchaseContext(
            purchase, local.date(), local.weekday(), prices, gross, sum(gross), tier, tier_index
        )
        record = PurchaseRecord(
            context,
            list(columns.paid[first:end]),
            points_of(columns, index),
            0,
            list(columns.refunded_units[first:end]),
            list(columns.refunded_amount[first:end]),
        )
        record.tier_amount = tier_amount(record, tiers)
        record.set_aside = tuple(columns.set_aside.get(purchase_id, ()))
        earned_on = columns.earned_on.get(purchase_id)
        if earned_on:
            record.earned_on = {rule: list(amounts) for rule, amounts in earned_on.items()}
        if tiers is not None and tiers.span is not None:
            record.tier_slot = state.tiers.slot_of(purchase_id)
        return record


def _restore_activity(saved: CustomerState, account: PointsAccount, purchases_count: bool) -> None:
    """The activity ``expire_on_inactivity`` counts from, as saved: the settled activity,
    and (when purchases count) the kept purchases after it not refunded in full. A state
    saved before activity was kept (format 3) has no settled activity: its kept purchases
    are read the same way."""
    account.settled_at = saved.settled_active_at
    if purchases_count:
        account.counting = _counting(saved.purchase_columns, saved.settled_active_at)
    account.active_at = active_at(saved, purchases_count)


def active_at(saved: CustomerState, purchases_count: bool) -> datetime | None:
    """The last activity that keeps a saved state's points alive: the settled activity, or
    (when purchases count) the last kept purchase after it not refunded in full."""
    settled = saved.settled_active_at
    if not purchases_count:
        return settled
    newest = max(_counting(saved.purchase_columns, settled).values(), default=None)
    if newest is None or (settled is not None and settled >= newest):
        return settled
    return newest


def _counting(columns: PurchaseColumns, settled: datetime | None) -> dict[str, datetime]:
    """The saved purchases after ``settled`` that still count as activity (not refunded in
    full), by id."""
    after = -1 if settled is None else micros(settled)
    # An instant is made only for the purchases that count (microseconds are compared).
    return {
        purchase_id: instant(at, offset)
        for purchase_id, at, offset, left in zip(
            columns.id, columns.at, columns.offset, units_left(columns), strict=True
        )
        if left and at > after
    }


def _restore_referrals(saved: CustomerState, state: WorkingState) -> None:
    """The friends who rewarded the customer (or whose reward is held), and as a friend
    the purchases held under rules with ``hold_for``."""
    state.referrals = {(kept.id, kept.rule): kept.referred for kept in saved.referrals}
    state.held = {
        (kept.id, kept.rule): kept.held_until
        for kept in saved.referrals
        if kept.held_until is not None
    }
    state.friend_holds = {
        kept.rule: (kept.purchase, kept.until, kept.reversed_by, kept.gift_kept)
        for kept in saved.referral_holds
    }


def restore_account(saved: CustomerState, account: PointsAccount, purchases_count: bool) -> None:
    """The points account as saved: lots, debt, points written off not recovered yet,
    activity, and the redemptions' lots."""
    # Most of a state's collections are empty: an empty one is not walked (a comprehension
    # costs a call even over nothing, and a step restores at every event).
    if saved.lots:
        account.lots = [
            Lot(
                lot.source, lot.earned_at, lot.available_at, lot.expires_at, lot.points, lot.lasting
            )
            for lot in saved.lots
        ]
        account.dated = any(
            lot.expires_at is not None and lot.source.startswith(OPENING) for lot in saved.lots
        )
    account.debt = saved.debt
    if saved.written_off:
        account.written_off = [
            WriteOff(found.refund, found.points, found.redemptions) for found in saved.written_off
        ]
    account.last_purchase_at = saved.last_purchase_at
    _restore_activity(saved, account, purchases_count)
    if saved.spent:
        account.spent = {
            kept.id: Spent(
                kept.reward,
                kept.quantity,
                kept.value,
                tuple(Taken(part.source, part.earned_at, part.points) for part in kept.taken),
            )
            for kept in saved.spent
        }


def restore(
    saved: CustomerState,
    money: Currency,
    zone: tzinfo,
    tiers: TierPlan | None,
    purchases_count: bool = False,
) -> WorkingState:
    """Rebuild the working state from a saved one.

    The saved purchases are not opened: a refund opens the one it names.
    ``purchases_count``: purchases count as activity for ``expire_on_inactivity``, so the
    kept ones after the settled activity that are not refunded in full are read for it.

    Raises:
        ValueError: the saved state names a tier the program does not have, or holds
            amounts in other decimal places than the currency's.
    """
    state = WorkingState(saved.customer_id)
    restore_account(saved, state.account, purchases_count)
    state.redemptions = dict.fromkeys(saved.redemptions)
    state.cancellations = dict(saved.cancellations)
    state.bonuses = dict.fromkeys(saved.bonuses)
    state.first_event_at = saved.first_event_at
    state.birthdays = dict(saved.birthdays)
    if saved.limits:
        state.limit_usage = {key: (usage.period, usage.used) for key, usage in saved.limits.items()}
    if saved.referrals or saved.referral_holds:
        _restore_referrals(saved, state)
    state.last_event_at = saved.last_event_at
    state.stamps = dict(saved.stamps)
    state.refunds = dict.fromkeys(saved.refunds)
    state.forgotten_until, state.settled_purchase_at = (
        saved.forgotten_until,
        saved.settled_purchase_at,
    )
    to_minor = money.to_minor
    if saved.gift_cards:
        state.gift_cards = {
            rule: {
                key: (to_minor(window.net_spend), to_minor(window.highest_spend), window.cards)
                for key, window in windows.items()
            }
            for rule, windows in saved.gift_cards.items()
        }
    columns = saved.purchase_columns
    ids = columns.id
    if ids and saved.exponent != money.exponent:
        raise ValueError(
            f"its amounts are in {saved.exponent} decimal places, but the program's currency "
            f"{money.code} has {money.exponent}"
        )
    opener = Opener(money, zone, tiers, columns)
    state.opener = opener
    state.saved = dict(zip(ids, range(len(ids))))
    state.saved_order = ids
    state.order = deque(ids)
    if tiers is not None:
        if not {*columns.tier} <= {None, *tiers.names}:
            unknown = next(
                purchase_id
                for purchase_id, tier in zip(ids, columns.tier, strict=True)
                if tier not in {None, *tiers.names}
            )
            raise ValueError(f"the saved purchase {unknown} names an unknown tier")
        forgotten = saved.forgotten_until is not None
        if tiers.span is None:
            if forgotten:
                state.tiers.by_key = dict(saved.tier_amounts)
            by_key = state.tiers.by_key
            for local_date, amount in opener.counted(range(len(ids))):
                key = calendar_key(tiers.window, local_date)
                by_key[key] = by_key.get(key, 0) + amount
        else:
            window = saved.window_columns if forgotten else NO_WINDOW
            state.saved_window = window
            state.tiers.load_window(
                [*window.at, *columns.at],
                [*window.amount, *_saved_amounts(columns, tiers)],
                [*(None,) * len(window.at), *ids],
            )
        last_tier = columns.tier[-1] if ids else None
        state.tiers.resume(tiers, last_tier, saved.window_tier, saved.tier_reached)
        if saved.tier_granted is not None and saved.tier_granted_until is not None:
            state.tiers.grant(tiers, saved.tier_granted, saved.tier_granted_until)
    return state
