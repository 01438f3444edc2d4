"""Why a rule gave nothing for a purchase, in plain words, and the words the others share.

Each function reads the engine's state around one step (see
:mod:`rewardrules._explain_replay`) and says it in plain words; none changes the state. Why
a rule gave nothing follows the engine's own checks in the engine's order, so the words
never contradict the ledger: first the rule's dates and filter
(:mod:`rewardrules._explain_filter_words`), then what its kind needs; the kinds that read a
profile have words of their own (:mod:`rewardrules._explain_profile_words`). A limit or an
exclusive group that stopped a reward is read from the ledger's own note (``capped``,
``set_aside``).
"""

from __future__ import annotations

from datetime import tzinfo

from rewardrules._explain_filter_words import one_of, scope_refusal
from rewardrules._explain_profile_words import ProfileRulePlan, profile_why_not
from rewardrules.kinds._words import counted
from rewardrules.kinds.bonus_points import BonusPlan
from rewardrules.kinds.every_nth_free import PunchCardPlan
from rewardrules.kinds.partner_gift_card import EMPTY_WINDOW, GiftCardPlan
from rewardrules.kinds.points_per_spend import PointsPlan
from rewardrules.kinds.tiered_discount import TieredDiscountPlan
from rewardrules.ledger import LedgerEntry
from rewardrules.plan import RulePlan
from rewardrules.state import PurchaseRecord, WorkingState

__all__ = ["card_units", "for_window", "in_window", "note_text", "why_not"]

_NOTHING_LEFT = "nothing was left to pay on the matching lines after earlier rules"


def why_not(
    rule: RulePlan,
    record: PurchaseRecord,
    stamps: dict[str, int],
    state: WorkingState,
    zone: tzinfo,
) -> str:
    """Why a rule gave nothing for a purchase: its first unmet condition, or its count.

    ``zone`` is the program's time zone, for the moments the words name.
    """
    if isinstance(rule, ProfileRulePlan):
        return profile_why_not(rule, record, state, zone)
    context = record.context
    refusal = scope_refusal(rule, context)
    if refusal is not None:
        return refusal
    if isinstance(rule, PointsPlan):
        return _points_why_not(rule, record)
    if isinstance(rule, PunchCardPlan):
        rule_id = rule.rule.id
        return _punch_card_why_not(rule, stamps.get(rule_id, 0), state.stamps.get(rule_id, 0))
    if isinstance(rule, GiftCardPlan):
        return _gift_card_why_not(rule, record, state)
    if isinstance(rule, BonusPlan):
        if rule.rule.once_per_customer and rule.rule.id in state.bonuses:
            return "given once already (once per customer)"
        return "no line of the purchase it rewards has a price"
    return _discount_why_not(rule, record)


def note_text(entry: LedgerEntry) -> str:
    """Why a rule gave nothing, from the note the ledger keeps: a limit left nothing of its
    reward (``capped``), or another rule of its exclusive group won (``set_aside``)."""
    reason = entry.reason
    if entry.kind == "capped":
        would, found, note = reason.rpartition(" (limit reached: ")
        if found:
            note = note.removesuffix(")")
            limit = note.rpartition("; ")[0] or note
            return f"limit reached ({limit}); it would have given: {would}"
    if entry.kind == "set_aside":
        return f"lost to another rule of its group: {reason.removeprefix('set aside: ')}"
    return reason


# --- the kinds that read no profile, and the words they share -------------------------


def _points_why_not(rule: PointsPlan, record: PurchaseRecord) -> str:
    weights = rule.weights(record.context)
    paid = sum(amount for amount, weight in zip(record.paid, weights) if weight)
    if paid == 0:
        return _NOTHING_LEFT
    name = rule.points_name
    if rule.cap == 0:
        return f"it gives at most {counted(0, name)} per purchase"
    return f"{rule.money.format(paid)} paid rounds to {counted(0, name)} ({rule.rule.rounding})"


def _punch_card_why_not(rule: PunchCardPlan, before: int, after: int) -> str:
    every = rule.every
    if after // every > before // every:
        # A price rule that completed a card but found every unit already made free.
        return f"completed a card, but every {rule.noun} of the purchase was already free"
    return f"counted {card_units(rule, after - before)}, {after % every}/{every} on the card"


def card_units(rule: PunchCardPlan, number: int, more: str = "") -> str:
    """What a card counts: '2 visits', '1 visit', '3 ice-cream' (the scope's noun as is)."""
    noun = rule.noun
    if rule.counts_visits:
        noun = "visit" if number == 1 else "visits"
    elif noun == "qualifying item" and number != 1:
        noun = "qualifying items"
    return f"{number} {more}{noun}"


def _gift_card_why_not(rule: GiftCardPlan, record: PurchaseRecord, state: WorkingState) -> str:
    spend = rule.qualifying_spend(record.context, record.paid)
    if spend == 0:
        return _NOTHING_LEFT
    key = rule.window_of(record.context)
    net, highest, cards = state.gift_cards.get(rule.rule.id, {}).get(key, EMPTY_WINDOW)
    money = rule.money
    if rule.limit is not None and cards >= rule.limit:
        return f"{money.format(spend)} counted, limit of {rule.limit} reached{for_window(key)}"
    threshold = (highest // rule.every_spend + 1) * rule.every_spend
    shown = f"{money.to_decimal(net)}/{money.format(threshold)}"
    return f"{money.format(spend)} counted, {shown}{in_window(key)}"


def _discount_why_not(rule: TieredDiscountPlan, record: PurchaseRecord) -> str:
    tier = record.context.tier
    if tier is None:
        return f"no tier yet, it needs {one_of(list(rule.percents))}"
    if tier not in rule.percents:
        return f"tier {tier} has no discount in this rule"
    eligible = rule.scope.eligible_lines(record.context)
    if not any(amount for amount, flag in zip(record.paid, eligible) if flag):
        return _NOTHING_LEFT
    return f"the discount rounds to {rule.money.format(0)}"


def in_window(key: str) -> str:
    """' in 2026-Q1' for a calendar window's key; nothing for a lifetime."""
    return "" if key == "lifetime" else f" in {key}"


def for_window(key: str) -> str:
    """' for 2026-Q1' for a calendar window's key; nothing for a lifetime."""
    return "" if key == "lifetime" else f" for {key}"
