"""A working state turned back into a saved one, at the end of an evaluation or a step.

:func:`save` writes a :class:`~rewardrules.engine.working_state.WorkingState` as the
:class:`~rewardrules.engine.state.CustomerState` an application keeps: integers back to
decimals where the saved shape has them, the kept purchases as columns (the untouched saved
ones as the slices of the saved columns they were, :func:`kept_columns`), and what the
forgotten purchases still count toward tiers. The engine's own states skip the checks a
state from outside passes (``trusted_state``, :func:`_trusted_lot`).
"""

from __future__ import annotations

from bisect import bisect_left

from rewardrules.engine._state_columns import (
    NO_PURCHASES,
    NO_WINDOW,
    ColumnsBuilder,
    PurchaseColumns,
    SavedLine,
    SavedPurchase,
    WindowColumns,
    newest_then,
    trusted_window,
)
from rewardrules.engine._state_format import FORMAT, micros, offset_seconds
from rewardrules.engine._state_rows import (
    GiftCardWindow,
    LimitUsage,
    SavedHold,
    SavedLot,
    SavedReferral,
    SavedSpent,
    SavedTaken,
    SavedWriteOff,
)
from rewardrules.engine.lots import Lot, PointsAccount, elapsed
from rewardrules.engine.state import CustomerState, trusted_state
from rewardrules.engine.tiers import TierPlan, calendar_key
from rewardrules.engine.working_state import PurchaseRecord, WorkingState
from rewardrules.money import Currency


def save(
    state: WorkingState, program_id: str, money: Currency, tiers: TierPlan | None = None
) -> CustomerState:
    """The saved, JSON-friendly form of a working state."""
    show = money.to_decimal
    window_tier, tier_reached = state.tiers.retention()
    granted = state.tiers.granted
    tier_amounts, tier_window = _forgotten_tiers(state, tiers)
    purchases = kept_columns(state)
    # Most of a state's collections are empty: an empty one is not walked (a comprehension
    # costs a call even over nothing, and a step saves at every event).
    lots, spent, referrals = state.account.lots, state.account.spent, state.referrals
    # The engine's own state: the checks are for states that come from outside, and the
    # laws over drawn histories check that every state made here passes them.
    return trusted_state(
        format=FORMAT,
        program=program_id,
        customer_id=state.customer_id,
        points=state.points,
        lots=tuple(map(_trusted_lot, lots)) if lots else (),
        debt=state.account.debt,
        written_off=saved_written_off(state.account) if state.account.written_off else (),
        last_purchase_at=state.account.last_purchase_at,
        settled_active_at=state.account.settled_at,
        last_event_at=state.last_event_at,
        stamps=dict(state.stamps),
        gift_cards={
            rule: {
                key: GiftCardWindow(net_spend=show(net), highest_spend=show(highest), cards=cards)
                for key, (net, highest, cards) in windows.items()
            }
            for rule, windows in state.gift_cards.items()
        }
        if state.gift_cards
        else {},
        exponent=money.exponent if purchases.id else None,
        purchase_columns=purchases,
        refunds=tuple(state.refunds),
        redemptions=tuple(state.redemptions),
        spent=saved_spent(state.account) if spent else (),
        cancellations=dict(state.cancellations),
        bonuses=tuple(state.bonuses),
        first_event_at=state.first_event_at,
        birthdays=dict(state.birthdays),
        limits={
            key: LimitUsage(period=period, used=used)
            for key, (period, used) in state.limit_usage.items()
        }
        if state.limit_usage
        else {},
        referrals=tuple(
            SavedReferral(
                id=fact_id,
                rule=rule,
                referred=friend,
                held_until=state.held.get((fact_id, rule)),
            )
            for (fact_id, rule), friend in referrals.items()
        )
        if referrals
        else (),
        referral_holds=tuple(
            SavedHold(rule=rule, purchase=purchase, until=until, reversed_by=by, gift_kept=kept)
            for rule, (purchase, until, by, kept) in state.friend_holds.items()
        )
        if state.friend_holds
        else (),
        window_tier=window_tier,
        tier_reached=tier_reached,
        forgotten_until=state.forgotten_until,
        settled_purchase_at=state.settled_purchase_at,
        tier_amounts=tier_amounts,
        window_columns=tier_window,
        tier_granted=None if granted is None or tiers is None else tiers.names[granted],
        tier_granted_until=None if granted is None else state.tiers.granted_until,
        digest=None,
    )


def kept_columns(state: WorkingState) -> PurchaseColumns:
    """The kept purchases as saved, oldest first: untouched saved ones as the slices of
    the saved columns they were, the others written from their records."""
    saved, purchases, order = state.saved, state.purchases, state.saved_order
    if not purchases and (state.opener is None or len(saved) == len(order)):
        return NO_PURCHASES if state.opener is None else state.opener.columns
    opener = state.opener
    if opener is not None and not any(map(purchases.__contains__, order)):
        # No saved purchase was opened (by a refund): the untouched ones are the newest
        # of the saved columns, the forgotten ones left out, then the new ones.
        first = len(order) - len(saved)
        return newest_then(opener.columns, first, list(map(saved_row, purchases.values())))
    builder = ColumnsBuilder()
    start: int | None = None  # the first of a run of untouched saved purchases
    index = -1
    for purchase_id in state.order:
        found = saved.get(purchase_id)
        if found is not None:
            if start is None:
                start = found
            index = found
            continue
        if opener is not None and start is not None:
            builder.add_slice(opener.columns, start, index + 1)
        start = None
        builder.add_row(saved_row(purchases[purchase_id]))
    if opener is not None and start is not None:
        builder.add_slice(opener.columns, start, index + 1)
    return builder.build()


def _forgotten_tiers(
    state: WorkingState, plan: TierPlan | None
) -> tuple[dict[str, int], WindowColumns]:
    """What the forgotten purchases count in the tier windows still to be read."""
    until, now = state.forgotten_until, state.last_event_at
    if plan is None or until is None or now is None:
        return {}, NO_WINDOW
    if plan.span is None:
        key = calendar_key(plan.window, now.astimezone(plan.zone).date())
        kept = sum(
            record.tier_amount
            for record in state.purchases.values()
            if calendar_key(plan.window, record.local_date) == key
        )
        if state.saved and state.opener is not None:
            kept += sum(
                amount
                for local_date, amount in state.opener.counted(state.saved.values())
                if calendar_key(plan.window, local_date) == key
            )
        amount = state.tiers.by_key.get(key, 0) - kept
        return ({key: amount} if amount else {}), NO_WINDOW
    start = micros(elapsed(now, -plan.span))
    saved, purchases, counter = state.saved, state.purchases, state.tiers
    # The window's records that are not a kept purchase: a kept purchase at the same
    # instant as a forgotten one is saved with its purchase, and must not count twice.
    # The saved window's forgotten pairs come first and are written back as they were.
    first = bisect_left(counter.saved_at, start, lo=counter.saved_next)
    window = state.saved_window
    moments: list[int] = []  # the pairs after the saved window's, to append to it
    amounts: list[int] = []
    for index in range(max(first, len(window.at)), len(counter.saved_at)):
        purchase_id = counter.saved_ids[index]
        if purchase_id in saved or purchase_id in purchases:
            break  # purchases are forgotten oldest first: the rest are kept
        moments.append(counter.saved_at[index])
        amounts.append(counter.saved_amount[index])
    live = {id(record) for record in purchases.values()}
    for record in state.tiers.recent:
        if id(record) not in live and (moment := micros(record.at)) >= start:
            moments.append(moment)
            amounts.append(record.tier_amount)
    if first >= len(window.at) and not moments:
        return {}, NO_WINDOW
    return {}, trusted_window(
        window.at[first:] + tuple(moments), window.amount[first:] + tuple(amounts)
    )


_LOT_FIELDS = frozenset(SavedLot.model_fields)


def _trusted_lot(lot: Lot) -> SavedLot:
    """A lot as a saved state keeps it, without validating what the engine made (a
    program whose points expire keeps a lot per purchase, and a step saves them all):
    the fields, fields set and extras ``SavedLot(...)`` would leave
    (``tests/test_step_speed.py`` compares the two)."""
    saved = SavedLot.__new__(SavedLot)
    object.__setattr__(
        saved,
        "__dict__",
        {
            "source": lot.source,
            "earned_at": lot.earned_at,
            "available_at": lot.available_at,
            "expires_at": lot.expires_at,
            "points": lot.points,
            "lasting": lot.lasting,
        },
    )
    object.__setattr__(saved, "__pydantic_fields_set__", set(_LOT_FIELDS))
    object.__setattr__(saved, "__pydantic_extra__", None)
    object.__setattr__(saved, "__pydantic_private__", None)
    return saved


def saved_row(record: PurchaseRecord) -> SavedPurchase:
    """What a state saves of a purchase: what a refund needs, in integers."""
    context = record.context
    purchase = context.purchase
    at = purchase.at
    return SavedPurchase(
        purchase.id,
        micros(at),
        offset_seconds(at),
        purchase.store,
        context.tier,
        tuple(
            SavedLine(line.sku, line.category, line.quantity, price, paid, units, back)
            for line, price, paid, units, back in zip(
                purchase.lines,
                context.unit_prices,
                record.paid,
                record.refunded_units,
                record.refunded_amount,
                strict=True,
            )
        ),
        dict(record.points),
        record.set_aside,
        {rule: tuple(amounts) for rule, amounts in record.earned_on.items()},
    )


def saved_spent(account: PointsAccount) -> tuple[SavedSpent, ...]:
    """The account's applied redemptions not cancelled, as a saved state keeps them."""
    return tuple(
        SavedSpent(
            id=key,
            reward=spent.reward,
            quantity=spent.quantity,
            value=spent.value,
            taken=tuple(
                SavedTaken(source=part.source, earned_at=part.earned_at, points=part.points)
                for part in spent.taken
            ),
        )
        for key, spent in account.spent.items()
    )


def saved_written_off(account: PointsAccount) -> tuple[SavedWriteOff, ...]:
    """The write-offs a cancellation may still recover, as a saved state keeps them."""
    return tuple(
        SavedWriteOff(refund=found.refund, points=found.points, redemptions=found.redemptions)
        for found in account.written_off
    )
