"""One step function per plan type: the kind's pure function applied to the state's slice.

:data:`PURCHASE_STEPS` and :data:`REFUND_STEPS` map each compiled plan type to the
function that runs it on a purchase (with the basket as earlier rules left it) or undoes
it on a refund. ``engine.compile_program`` binds every rule to its step once, so the fold
does no look-up; a test checks that every rule kind has an entry in both tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rewardrules.basket import Basket
from rewardrules.events import Refund
from rewardrules.kinds._gifts import take_back_fixed
from rewardrules.kinds.birthday import BirthdayPlan, birthday_at_purchase
from rewardrules.kinds.bonus_points import BonusPlan, bonus_points
from rewardrules.kinds.every_nth_free import (
    PunchCardPlan,
    every_nth_free,
    every_nth_voucher,
    refund_every_nth,
)
from rewardrules.kinds.partner_gift_card import (
    EMPTY_WINDOW,
    GiftCardPlan,
    partner_gift_card,
    refund_partner_gift_card,
)
from rewardrules.kinds.points_per_spend import PointsPlan, points_per_spend, refund_points_per_spend
from rewardrules.kinds.referral import ReferralPlan, referral_at_purchase
from rewardrules.kinds.signup_bonus import SignupPlan, signup_at_purchase
from rewardrules.kinds.tiered_discount import TieredDiscountPlan, tiered_discount
from rewardrules.ledger import LedgerEntry
from rewardrules.scope import PurchaseContext
from rewardrules.state import PurchaseRecord, WorkingState

__all__ = ["PURCHASE_STEPS", "REFUND_STEPS"]


# --- one adapter per plan type: the kind's pure function on the state's slice ----------


def _purchase_points(
    plan: PointsPlan, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    amounts = context.gross if plan.on_gross else basket.amounts
    points, entries = points_per_spend(plan, context, amounts)
    if points:
        basket.points[plan.rule.id] = points
        if not plan.on_gross:
            basket.earned_on[plan.rule.id] = basket.amounts
    return entries


def _purchase_punch_card(
    plan: PunchCardPlan, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    count = state.stamps.get(plan.rule.id, 0)
    if plan.changes_prices:
        allowance = basket.allowance
        count, basket.amounts, basket.units_left, entries = every_nth_free(
            plan,
            count,
            context,
            basket.amounts,
            basket.units_left,
            most_units=None if allowance is None else allowance.rewards,
            most_value=None if allowance is None else allowance.value,
        )
    else:
        count, entries = every_nth_voucher(plan, count, context)
    state.stamps[plan.rule.id] = count
    return entries


def _purchase_gift_card(
    plan: GiftCardPlan, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    windows = state.gift_cards.setdefault(plan.rule.id, {})
    key = plan.window_of(context)
    windows[key], entries = partner_gift_card(
        plan, windows.get(key, EMPTY_WINDOW), context, basket.amounts
    )
    basket.earned_on[plan.rule.id] = basket.amounts
    return entries


def _purchase_tiered_discount(
    plan: TieredDiscountPlan, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    allowance = basket.allowance
    if allowance is not None and allowance.rewards == 0:
        return []
    most_value = None if allowance is None else allowance.value
    basket.amounts, entries = tiered_discount(
        plan, context, basket.amounts, basket.units_left, most_value
    )
    return entries


def _purchase_bonus(
    plan: BonusPlan, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    rule_id = plan.rule.id
    points, entries = bonus_points(plan, rule_id in state.bonuses, context)
    if points:
        basket.points[rule_id] = points
        state.bonuses[rule_id] = None
    return entries


def _keep_points(basket: Basket, rule_id: str, entries: list[LedgerEntry]) -> None:
    points = sum(entry.points or 0 for entry in entries if entry.kind == "points")
    if points:
        basket.points[rule_id] = points


def _purchase_birthday(
    plan: BirthdayPlan, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    profile = state.profile
    if profile is None or profile.birthday is None:
        return []
    rule_id = plan.rule.id
    year, entries = birthday_at_purchase(
        plan, profile.birthday, state.birthdays.get(rule_id), context, profile.joined_at
    )
    if year is not None:
        state.birthdays[rule_id] = year
        _keep_points(basket, rule_id, entries)
    return entries


def _purchase_signup(
    plan: SignupPlan, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    rule_id = plan.rule.id
    profile = state.profile
    if profile is None or rule_id in state.bonuses:
        return []
    entries = signup_at_purchase(plan, profile.joined_at, context, basket.amounts)
    if entries:
        state.bonuses[rule_id] = None
        _keep_points(basket, rule_id, entries)
    return entries


def _purchase_referral(
    plan: ReferralPlan, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    rule_id = plan.rule.id
    profile = state.profile
    if profile is None or profile.referred_by is None or rule_id in state.bonuses:
        return []
    if profile.joined_at is not None and context.purchase.at < profile.joined_at:
        return []
    fact, entries = referral_at_purchase(plan, profile.referred_by, context, basket.amounts)
    if fact is not None:
        state.bonuses[rule_id] = None
        state.outbox.append(fact)
        _keep_points(basket, rule_id, entries)
    return entries


PURCHASE_STEPS: dict[
    type[Any], Callable[[Any, WorkingState, PurchaseContext, Basket], list[LedgerEntry]]
] = {
    PointsPlan: _purchase_points,
    PunchCardPlan: _purchase_punch_card,
    GiftCardPlan: _purchase_gift_card,
    TieredDiscountPlan: _purchase_tiered_discount,
    BonusPlan: _purchase_bonus,
    BirthdayPlan: _purchase_birthday,
    SignupPlan: _purchase_signup,
    ReferralPlan: _purchase_referral,
}


def _refund_points(
    plan: PointsPlan,
    state: WorkingState,
    record: PurchaseRecord,
    refund: Refund,
    before: list[int],
    refunded: list[int],
) -> list[LedgerEntry]:
    earned = record.points.get(plan.rule.id, 0)
    if earned == 0:
        return []
    left = record.gross_left() if plan.on_gross else record.left_of(plan.rule.id)
    now, entries = refund_points_per_spend(plan, record.context, left, earned, refund.id)
    record.points[plan.rule.id] = now
    return entries


def _refund_punch_card(
    plan: PunchCardPlan,
    state: WorkingState,
    record: PurchaseRecord,
    refund: Refund,
    before: list[int],
    refunded: list[int],
) -> list[LedgerEntry]:
    count = state.stamps.get(plan.rule.id, 0)
    state.stamps[plan.rule.id] = refund_every_nth(
        plan, count, record.context, before, record.refunded_units
    )
    return []


def _refund_gift_card(
    plan: GiftCardPlan,
    state: WorkingState,
    record: PurchaseRecord,
    refund: Refund,
    before: list[int],
    refunded: list[int],
) -> list[LedgerEntry]:
    if plan.rule.id in record.earned_on:
        refunded = record.refunded_of(plan.rule.id, record.refunded_units, before)
    spend = plan.qualifying_spend(record.context, refunded)
    if spend:
        windows = state.gift_cards.setdefault(plan.rule.id, {})
        key = plan.window_of(record.context)
        windows[key] = refund_partner_gift_card(windows.get(key, EMPTY_WINDOW), spend)
    return []


def _refund_nothing(
    plan: TieredDiscountPlan,
    state: WorkingState,
    record: PurchaseRecord,
    refund: Refund,
    before: list[int],
    refunded: list[int],
) -> list[LedgerEntry]:
    # A discount was given at the till; the refund pays back only what was paid.
    return []


def _refund_fixed_points(
    plan: BonusPlan | BirthdayPlan | SignupPlan | ReferralPlan,
    state: WorkingState,
    record: PurchaseRecord,
    refund: Refund,
    before: list[int],
    refunded: list[int],
) -> list[LedgerEntry]:
    # Fixed points given at the purchase go when nothing eligible is left; vouchers stay.
    rule_id = plan.rule.id
    earned = record.points.get(rule_id, 0)
    if earned == 0:
        return []
    now, entries = take_back_fixed(
        rule_id,
        plan.scope,
        record.context,
        record.refunded_units,
        earned,
        refund.id,
        plan.points_name,
        plan.money,
    )
    record.points[rule_id] = now
    return entries


REFUND_STEPS: dict[type[Any], Callable[..., list[LedgerEntry]]] = {
    PointsPlan: _refund_points,
    PunchCardPlan: _refund_punch_card,
    GiftCardPlan: _refund_gift_card,
    TieredDiscountPlan: _refund_nothing,
    BonusPlan: _refund_fixed_points,
    BirthdayPlan: _refund_fixed_points,
    SignupPlan: _refund_fixed_points,
    ReferralPlan: _refund_fixed_points,
}
