"""What a refund did to each rule that took nothing back, in plain words.

A rule that took something back is explained by its ledger entries; the others say what
the refund changed for them (a punch card's count, a window's spend) or why it leaves their
reward be. The rules behind each are in docs/semantics.md, "Refunds".
"""

from __future__ import annotations

from dataclasses import dataclass

from rewardrules._explain_profile_words import ProfileRulePlan, profile_refund_text
from rewardrules._explain_words import card_units, in_window
from rewardrules.kinds._words import counted
from rewardrules.kinds.bonus_points import BonusPlan
from rewardrules.kinds.every_nth_free import PunchCardPlan
from rewardrules.kinds.partner_gift_card import GiftCardPlan
from rewardrules.kinds.points_per_spend import PointsPlan
from rewardrules.plan import RulePlan
from rewardrules.state import PurchaseRecord, WorkingState

__all__ = ["Returned", "refund_text"]


@dataclass(frozen=True, slots=True)
class Returned:
    """Units refunded per line before a refund, and the amounts this refund gave back."""

    units_before: list[int]
    amounts: list[int]


def refund_text(
    rule: RulePlan,
    record: PurchaseRecord,
    stamps: dict[str, int],
    returned: Returned,
    state: WorkingState,
) -> str:
    """What a refund did to a rule that took nothing back."""
    rule_id, money = rule.rule.id, rule.money
    if rule_id in record.set_aside:
        return (
            f"set aside at purchase {record.purchase.id} by its exclusive group, "
            "so the refund leaves it be"
        )
    if isinstance(rule, PointsPlan):
        kept = record.points.get(rule_id, 0)
        if kept == 0:
            return f"no {rule.points_name} left to take back on purchase {record.purchase.id}"
        return f"nothing to take back, {counted(kept, rule.points_name)} still earned"
    if isinstance(rule, PunchCardPlan):
        count = state.stamps.get(rule_id, 0)
        return _punch_card_refund(rule, record, stamps.get(rule_id, 0), count, returned)
    if isinstance(rule, GiftCardPlan):
        amounts = returned.amounts
        if rule_id in record.earned_on:  # the spend it counted, before a later price rule
            amounts = record.refunded_of(rule_id, record.refunded_units, returned.units_before)
        spend = rule.qualifying_spend(record.context, amounts)
        if spend == 0:
            return "no qualifying spend was returned"
        key = rule.window_of(record.context)
        net = state.gift_cards[rule_id][key][0]
        return (
            f"{money.format(spend)} less spend{in_window(key)}, {money.format(net)} now; "
            "gift cards already given stay"
        )
    if isinstance(rule, BonusPlan):
        if record.points.get(rule_id, 0):
            return "the bonus stays: some of what earned it is still bought"
        return "no bonus to take back"
    if isinstance(rule, ProfileRulePlan):
        return profile_refund_text(rule, record)
    return "a discount given at the till is not taken back"


def _punch_card_refund(
    rule: PunchCardPlan, record: PurchaseRecord, before: int, after: int, returned: Returned
) -> str:
    card = f"{after % rule.every}/{rule.every} on the card"
    qualifying = rule.qualifying_units(record.context)
    now = record.refunded_units
    units = zip(qualifying, now, returned.units_before)
    back = sum(done - then for counts, done, then in units if counts)
    if back == 0:
        return f"no {rule.noun} was returned, {card}"
    gone, kept = before - after, "a completed card stays completed"
    if rule.counts_visits:
        if gone:
            return f"the visit left the card, {card}"
        if any(counts - done for counts, done in zip(qualifying, now) if counts):
            return f"the visit still has a {rule.noun}, {card}"
        return f"{kept}, {card}"
    if gone == back:
        return f"{card_units(rule, gone)} left the card, {card}"
    if gone == 0:
        return f"{kept}, {card}"
    return f"{gone} of the {card_units(rule, back)} returned left the card ({kept}), {card}"
