"""The state saved after resuming (``_resume``): the new history's state merged with the
saved one, as ``engine._state_save.save`` writes it.

The saved purchases come first (refunded ones as they are now, those ``refunds.within``
now forgets left out), then the new ones; the saved refunds, redemptions and
cancellations before the new; a rule's slice where the saved state put it; the tiers'
retention and forgotten counts carried on (``_resumed_tiers``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rewardrules.engine._state_columns import SavedPurchase, purchase_columns, window_columns
from rewardrules.engine._state_format import instant
from rewardrules.engine.lots import PointsAccount, settle
from rewardrules.engine.state import CustomerState, GiftCardWindow
from rewardrules.evaluation.batch._slices import keeps_slices

if TYPE_CHECKING:
    from rewardrules.evaluation.batch._resume import Resumed


def merged_state(
    resumed: Resumed,
    customer_id: str,
    state: CustomerState,
    account: PointsAccount,
    counts: Mapping[str, int],
    bought: Sequence[tuple[datetime, int]] = (),
) -> CustomerState:
    """The state the reference saves after resuming: ``state`` is the batch engine's
    state of the new history (its account seeded from the saved one, as ``account``
    still is; ``counts``: every punch card's final count), merged with the saved
    state; ``bought``: the new purchases' instants and window levels)."""
    saved = resumed.saved.get(customer_id)
    if saved is None:
        return state
    plan = resumed.plan
    new_rows = state.purchases
    refunded = resumed.refunds.rows.get(customer_id, {})
    rows = [refunded.get(row.id, row) for row in saved.purchases]
    gone: list[SavedPurchase] = []
    forgotten_until, settled_purchase_at = saved.forgotten_until, saved.settled_purchase_at
    within, now = plan.refunds_within, state.last_event_at
    if within is not None and now is not None:
        # Forgotten from the front, never the newest (``WorkingState.forget``).
        while rows and (new_rows or len(rows) > 1):
            at = instant(rows[0].at, rows[0].offset)
            if within.after(at, plan.zone) >= now:
                break
            gone.append(rows.pop(0))
            if any(line.refunded_units < line.quantity for line in gone[-1].lines):
                settled_purchase_at = at
            forgotten_until = at
            settle(account, gone[-1].id)
    if state.forgotten_until is not None:
        forgotten_until = state.forgotten_until
    if state.settled_purchase_at is not None:
        settled_purchase_at = state.settled_purchase_at
    kept = (*rows, *new_rows)
    stamps = {rule: counts.get(rule, count) for rule, count in saved.stamps.items()}
    stamps.update((rule, count) for rule, count in state.stamps.items() if rule not in stamps)
    gift_cards = {rule: dict(windows) for rule, windows in saved.gift_cards.items()}
    for rule, windows in state.gift_cards.items():
        gift_cards.setdefault(rule, {}).update(windows)
    _given_back(resumed, customer_id, state, gift_cards)
    bonuses = dict.fromkeys(saved.bonuses)
    bonuses.update(dict.fromkeys(state.bonuses))
    if keeps_slices(plan):  # counted on from the saved marks (``_slices``): a reversal takes one
        bonuses = dict.fromkeys(state.bonuses)
    referrals, holds = saved.referrals, saved.referral_holds
    if plan.referrals:  # counted on from the saved ones (``_slices``, ``_resumed_referrals``)
        referrals, holds = state.referrals, state.referral_holds
    tiers: dict[str, Any] = {}
    if plan.tiers is not None and saved.tier_granted_until is not None:
        tiers = {
            "tier_granted": saved.tier_granted,
            "tier_granted_until": saved.tier_granted_until,
        }
    if resumed.saved_tiers is not None:
        window_tier, reached = resumed.saved_tiers.retention(customer_id, bought)
        amounts, window = (
            ({}, ())
            if forgotten_until is None or now is None
            else resumed.saved_tiers.forgotten(
                customer_id, gone, (state.tier_amounts, state.tier_window), now
            )
        )
        tiers |= {
            "window_tier": window_tier,
            "tier_reached": reached,
            "tier_amounts": amounts,
            "window_columns": window_columns(window),
        }
    return CustomerState.model_construct(
        **{
            **state.__dict__,
            "points": account.balance,
            "settled_active_at": account.settled_at,
            "stamps": stamps,
            "gift_cards": gift_cards,
            "exponent": plan.money.exponent if kept else None,
            "purchase_columns": purchase_columns(kept),
            "refunds": (*saved.refunds, *state.refunds),
            "redemptions": (*saved.redemptions, *state.redemptions),
            "cancellations": {**saved.cancellations, **state.cancellations},
            "bonuses": tuple(bonuses),
            "first_event_at": saved.first_event_at or state.first_event_at,
            "birthdays": {**saved.birthdays, **state.birthdays},
            "limits": state.limits,
            "referrals": referrals,
            "referral_holds": holds,
            "forgotten_until": forgotten_until,
            "settled_purchase_at": settled_purchase_at,
            **tiers,
        }
    )


def _given_back(
    resumed: Resumed, customer_id: str, state: CustomerState, gift_cards: dict[str, dict[str, Any]]
) -> None:
    """The spend refunds of saved purchases gave back, in the windows of a gift card
    rule that ran on no new purchase (the state of the new history has none of it)."""
    money = resumed.plan.money
    for rule_id, backs in resumed.refunds.windows.items():
        if rule_id in state.gift_cards:
            continue  # the new history's windows count them (``_states``)
        customer = [
            (key, back)
            for event, (key, _, back) in sorted(backs.items())
            if _owner_of(resumed, event) == customer_id
        ]
        if not customer:
            continue
        windows = gift_cards.setdefault(rule_id, {})
        for key, back in customer:
            window = windows.get(key)
            net, highest, cards = (
                (0, 0, 0)
                if window is None
                else (
                    money.to_minor(window.net_spend),
                    money.to_minor(window.highest_spend),
                    window.cards,
                )
            )
            windows[key] = GiftCardWindow(
                net_spend=money.to_decimal(net - back),
                highest_spend=money.to_decimal(highest),
                cards=cards,
            )


def _owner_of(resumed: Resumed, event: int) -> str:
    assert resumed.frame is not None  # noqa: S101 -- set by ``check``
    return resumed.frame.customer_ids[int(resumed.frame.customer[event])]
