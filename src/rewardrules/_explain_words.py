"""The words of an explanation: why a rule gave nothing, what a refund took back, what comes next.

Each function reads the engine's state around one step (see :mod:`rewardrules.explain`) and
says it in plain words; none changes the state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from rewardrules.kinds._words import counted, plain_number
from rewardrules.kinds.bonus_points import BonusPlan
from rewardrules.kinds.every_nth_free import PunchCardPlan
from rewardrules.kinds.partner_gift_card import EMPTY_WINDOW, GiftCardPlan
from rewardrules.kinds.points_per_spend import PointsPlan
from rewardrules.kinds.tiered_discount import TieredDiscountPlan
from rewardrules.plan import ProgramPlan, RulePlan
from rewardrules.program import Filter, PercentOff, VoucherReward
from rewardrules.scope import PurchaseContext
from rewardrules.state import PurchaseRecord, WorkingState
from rewardrules.tiers import calendar_key

_NOTHING_LEFT = "nothing was left to pay on the matching lines after earlier rules"


@dataclass(frozen=True, slots=True)
class Returned:
    """Units refunded per line before a refund, and the amounts this refund gave back."""

    units_before: list[int]
    amounts: list[int]


# --- why a rule gave nothing for a purchase -------------------------------------------


def why_not(
    rule: RulePlan, record: PurchaseRecord, stamps: dict[str, int], state: WorkingState
) -> str:
    """Why a rule gave nothing for a purchase: its first unmet condition, or its count."""
    context = record.context
    refusal = _scope_refusal(rule, context)
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


def _scope_refusal(rule: RulePlan, context: PurchaseContext) -> str | None:
    """The first condition of the rule's dates and filter that the purchase fails."""
    scope, when, money = rule.scope, rule.rule.when, rule.money
    local_date, purchase = context.local_date, context.purchase
    if scope.starts is not None and local_date < scope.starts:
        return f"outside its dates (it starts {scope.starts})"
    if scope.ends is not None and local_date > scope.ends:
        return f"outside its dates (it ended {scope.ends})"
    if scope.min_total is not None and context.gross_total < scope.min_total:
        return (
            f"the purchase total {money.format(context.gross_total)} is below the minimum "
            f"{money.format(scope.min_total)}"
        )
    if when.stores is not None and purchase.store not in when.stores:
        if purchase.store is None:
            return f"made in no store, it needs {_one_of(when.stores)}"
        return f"made in store {purchase.store}, not one of {', '.join(when.stores)}"
    if scope.weekdays is not None and context.weekday not in scope.weekdays:
        return f"not on a listed weekday ({', '.join(when.weekdays or ())})"
    if when.dates is not None and local_date not in when.dates:
        return f"not on one of its dates ({', '.join(str(day) for day in when.dates)})"
    if when.tiers is not None and context.tier not in when.tiers:
        if context.tier is None:
            return f"no tier yet, it needs {_one_of(when.tiers)}"
        return f"tier {context.tier} is not one of {', '.join(when.tiers)}"
    if not scope.admits(context):  # the engine's own check decides; the words above explain
        return "the purchase does not pass its filter"
    matching = [scope.matches_line(line) for line in purchase.lines]
    if not any(matching):
        return f"no line of the purchase matches ({_line_filter_words(when)})"
    if not any(price for price, match in zip(context.unit_prices, matching) if match):
        return "the matching lines cost nothing (zero-priced lines never count)"
    return None


def _one_of(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"one of {', '.join(names)}"


def _line_filter_words(when: Filter) -> str:
    included = []
    if when.categories is not None:
        included.append(f"categories {', '.join(when.categories)}")
    if when.skus is not None:
        included.append(f"skus {', '.join(when.skus)}")
    parts = [" or ".join(included)] if included else []
    if when.exclude_categories:
        parts.append(f"not categories {', '.join(when.exclude_categories)}")
    if when.exclude_skus:
        parts.append(f"not skus {', '.join(when.exclude_skus)}")
    return ", ".join(parts)


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
    return f"counted {_units(rule, after - before)}, {after % every}/{every} on the card"


def _units(rule: PunchCardPlan, number: int, more: str = "") -> str:
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
        return f"{money.format(spend)} counted, limit of {rule.limit} reached{_for(key)}"
    threshold = (highest // rule.every_spend + 1) * rule.every_spend
    shown = f"{money.to_decimal(net)}/{money.format(threshold)}"
    return f"{money.format(spend)} counted, {shown}{_in(key)}"


def _discount_why_not(rule: TieredDiscountPlan, record: PurchaseRecord) -> str:
    tier = record.context.tier
    if tier is None:
        return f"no tier yet, it needs {_one_of(list(rule.percents))}"
    if tier not in rule.percents:
        return f"tier {tier} has no discount in this rule"
    eligible = rule.scope.eligible_lines(record.context)
    if not any(amount for amount, flag in zip(record.paid, eligible) if flag):
        return _NOTHING_LEFT
    return f"the discount rounds to {rule.money.format(0)}"


def _in(key: str) -> str:
    return "" if key == "lifetime" else f" in {key}"


def _for(key: str) -> str:
    return "" if key == "lifetime" else f" for {key}"


# --- what a refund took back ----------------------------------------------------------


def refund_text(
    rule: RulePlan,
    record: PurchaseRecord,
    stamps: dict[str, int],
    returned: Returned,
    state: WorkingState,
) -> str:
    """What a refund did to a rule that took nothing back."""
    rule_id, money = rule.rule.id, rule.money
    if isinstance(rule, PointsPlan):
        kept = record.points.get(rule_id, 0)
        if kept == 0:
            return f"no {rule.points_name} left to take back on purchase {record.purchase.id}"
        return f"nothing to take back, {counted(kept, rule.points_name)} still earned"
    if isinstance(rule, PunchCardPlan):
        count = state.stamps.get(rule_id, 0)
        return _punch_card_refund(rule, record, stamps.get(rule_id, 0), count, returned)
    if isinstance(rule, GiftCardPlan):
        spend = rule.qualifying_spend(record.context, returned.amounts)
        if spend == 0:
            return "no qualifying spend was returned"
        key = rule.window_of(record.context)
        net = state.gift_cards[rule_id][key][0]
        return (
            f"{money.format(spend)} less spend{_in(key)}, {money.format(net)} now; "
            "gift cards already given stay"
        )
    if isinstance(rule, BonusPlan):
        if record.points.get(rule_id, 0):
            return "the bonus stays: some of what earned it is still bought"
        return "no bonus to take back"
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
        return f"{_units(rule, gone)} left the card, {card}"
    if gone == 0:
        return f"{kept}, {card}"
    return f"{gone} of the {_units(rule, back)} returned left the card ({kept}), {card}"


# --- how close the next rewards are ---------------------------------------------------


def next_rewards(
    plan: ProgramPlan, state: WorkingState, instant: datetime, local_date: date
) -> list[str]:
    """One sentence per rule (the tiers first, if any) on how close its next reward is."""
    texts = []
    tier_index = None
    if plan.tiers is not None:
        amount = state.tiers.amount_at(plan.tiers, instant, local_date)
        window_index = plan.tiers.level_for(amount)
        # The tier that applies may be a level kept by tiers.keep_for, above the window's.
        applied = state.tiers.report(plan.tiers, plan.money, instant, local_date, instant)[0]
        tier_index = window_index if applied is None else plan.tiers.index_of(applied)
        texts.append(_next_tier(plan, amount, window_index, tier_index, local_date))
    plans = {rule.rule.id: rule for rule in (*plan.price_rules, *plan.earning_rules)}
    balance_shown = False
    for rule in plan.program.rules:
        rule_plan = plans[rule.id]
        if isinstance(rule_plan, PointsPlan):
            if not balance_shown:
                texts.append(f"balance: {counted(state.points, rule_plan.points_name)}")
                balance_shown = True
        elif rule.ends is not None and rule.ends < local_date:
            texts.append(f"{rule.id}: it ended {rule.ends}")
        elif isinstance(rule_plan, PunchCardPlan):
            texts.append(f"{rule.id}: {_next_card(rule_plan, state.stamps.get(rule.id, 0))}")
        elif isinstance(rule_plan, GiftCardPlan):
            texts.append(f"{rule.id}: {_next_gift_card(rule_plan, state, local_date)}")
        elif isinstance(rule_plan, BonusPlan):
            if rule_plan.rule.once_per_customer and rule.id in state.bonuses:
                texts.append(f"{rule.id}: already given (once per customer)")
            else:
                points = counted(rule_plan.points, rule_plan.points_name)
                texts.append(f"{rule.id}: {points} on the next purchase it rewards")
        else:
            texts.append(f"{rule.id}: {_next_discount(plan, rule_plan, tier_index)}")
    return texts


def _next_tier(
    plan: ProgramPlan, amount: int, index: int | None, applied: int | None, local_date: date
) -> str:
    tiers = plan.tiers
    assert tiers is not None  # noqa: S101 -- called only for a program with tiers
    now = "no tier yet" if applied is None else f"tier {tiers.names[applied]}"
    if applied != index:
        now += " (kept)"
    following = 0 if index is None else index + 1
    if following == len(tiers.names):
        return f"{now}: the highest tier"
    needed = tiers.thresholds[following] - amount
    if tiers.by_spend:
        more = f"{plan.money.format(needed)} more spend"
    else:
        more = f"{needed} more {'purchase' if needed == 1 else 'purchases'}"
    if tiers.span is not None:
        window = f" within {tiers.span.days} days"
    else:
        window = _in(calendar_key(tiers.window, local_date))
    return f"{now}: {more}{window} to reach {tiers.names[following]}"


def _next_card(rule: PunchCardPlan, count: int) -> str:
    left = rule.every - count % rule.every
    reward = rule.rule.reward
    if isinstance(reward, VoucherReward):
        prize = f"a voucher for {reward.voucher.name or reward.voucher.sku}"
    elif isinstance(reward, PercentOff):
        prize = f"{plain_number(reward.percent_off)}% off one"
    else:
        prize = "a free one"
    return f"{_units(rule, left, 'more ')} to {prize}"


def _next_gift_card(rule: GiftCardPlan, state: WorkingState, local_date: date) -> str:
    key = calendar_key(rule.rule.window, local_date)
    net, highest, cards = state.gift_cards.get(rule.rule.id, {}).get(key, EMPTY_WINDOW)
    if rule.limit is not None and cards >= rule.limit:
        return f"limit of {rule.limit} reached{_for(key)}"
    needed = (highest // rule.every_spend + 1) * rule.every_spend - net
    return (
        f"{rule.money.format(needed)} more spend{_in(key)} for the next "
        f"{rule.rule.partner} gift card"
    )


def _next_discount(plan: ProgramPlan, rule: TieredDiscountPlan, index: int | None) -> str:
    tiers = plan.tiers
    assert tiers is not None  # noqa: S101 -- a tiered discount needs tiers to validate
    discounts = rule.rule.discounts
    current = tiers.names[index] if index is not None else None
    percent = discounts.get(current) if current is not None else None
    text = "no discount now" if percent is None else f"{plain_number(percent)}% off now"
    for name in tiers.names[(-1 if index is None else index) + 1 :]:
        if name in discounts and (percent is None or discounts[name] > percent):
            return f"{text}, {plain_number(discounts[name])}% off from {name}"
    return text
