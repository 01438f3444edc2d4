"""How close a customer is to each next reward, in plain words: the end of an account.

One sentence for the tiers, the balance once, then one per rule in the order of the file,
as of the account's last instant and local date; a limit with nothing left in the period of
the next reward's first possible date adds "limit reached (...)".
"""

from __future__ import annotations

from datetime import date, datetime

from rewardrules._explain_profile_words import next_birthday, next_referral, next_signup
from rewardrules._explain_words import card_units, for_window, in_window
from rewardrules.kinds._words import counted, plain_number
from rewardrules.kinds.birthday import BirthdayPlan
from rewardrules.kinds.bonus_points import BonusPlan
from rewardrules.kinds.every_nth_free import PunchCardPlan
from rewardrules.kinds.partner_gift_card import EMPTY_WINDOW, GiftCardPlan
from rewardrules.kinds.points_per_spend import PointsPlan
from rewardrules.kinds.referral import ReferralPlan
from rewardrules.kinds.signup_bonus import SignupPlan
from rewardrules.kinds.tiered_discount import TieredDiscountPlan
from rewardrules.plan import ProgramPlan, RulePlan
from rewardrules.program import PercentOff, VoucherReward, gives_points
from rewardrules.state import WorkingState
from rewardrules.tiers import calendar_key

__all__ = ["next_rewards"]


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
    running = (*plan.price_rules, *plan.earning_rules, *plan.dated)
    plans = {rule.rule.id: rule for rule in running}
    balance_shown = False
    for rule in plan.program.rules:
        rule_plan = plans[rule.id]
        if gives_points(rule) and not balance_shown:
            texts.append(f"balance: {counted(state.points, plan.program.points.name)}")
            balance_shown = True
        if (
            rule.ends is not None
            and rule.ends < local_date
            and not isinstance(rule_plan, PointsPlan)
        ):
            texts.append(f"{rule.id}: it ended {rule.ends}")
            continue
        text, day = _next_of(plan, rule_plan, state, instant, local_date, tier_index)
        reached = None if day is None else _limit_reached(plan, state, rule.id, day)
        if reached is not None:
            text = reached if text is None else f"{text}; {reached}"
        if text is not None:
            texts.append(f"{rule.id}: {text}")
    return texts


def _next_of(
    plan: ProgramPlan,
    rule: RulePlan,
    state: WorkingState,
    instant: datetime,
    local_date: date,
    tier_index: int | None,
) -> tuple[str | None, date | None]:
    """A rule's next reward (None for a points rule: the balance says it), and the first
    local date it can come, if it can (a limit used up then is worth saying)."""
    if isinstance(rule, PointsPlan):
        return None, local_date
    if isinstance(rule, PunchCardPlan):
        return _next_card(rule, state.stamps.get(rule.rule.id, 0)), local_date
    if isinstance(rule, GiftCardPlan):
        return _next_gift_card(rule, state, local_date), local_date
    if isinstance(rule, BonusPlan):
        if rule.rule.once_per_customer and rule.rule.id in state.bonuses:
            return "already given (once per customer)", None
        points = counted(rule.points, rule.points_name)
        return f"{points} on the next purchase it rewards", local_date
    if isinstance(rule, BirthdayPlan):
        return next_birthday(rule, state, local_date)
    if isinstance(rule, SignupPlan):
        return next_signup(rule, state, instant, local_date)
    if isinstance(rule, ReferralPlan):
        return next_referral(rule, state, local_date)
    return _next_discount(plan, rule, tier_index), local_date


def _limit_reached(
    plan: ProgramPlan, state: WorkingState, rule_id: str, local_date: date
) -> str | None:
    """'limit reached (at most 1 reward a calendar year)' when a limit of the rule has
    nothing left in the period of ``local_date`` (a limit per purchase starts again at
    each)."""
    limits = plan.limits.get(rule_id)
    if limits is None:
        return None
    allowance = limits.allowance(state.limit_usage, local_date)
    left = {"points": allowance.points, "rewards": allowance.rewards, "value": allowance.value}
    for measure, limit in allowance.binding.items():
        if left[measure] == 0 and limit.per != "purchase":
            return f"limit reached ({limit.words(plan.money, plan.program.points.name)})"
    return None


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
        window = in_window(calendar_key(tiers.window, local_date))
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
    return f"{card_units(rule, left, 'more ')} to {prize}"


def _next_gift_card(rule: GiftCardPlan, state: WorkingState, local_date: date) -> str:
    key = calendar_key(rule.rule.window, local_date)
    net, highest, cards = state.gift_cards.get(rule.rule.id, {}).get(key, EMPTY_WINDOW)
    if rule.limit is not None and cards >= rule.limit:
        return f"limit of {rule.limit} reached{for_window(key)}"
    needed = (highest // rule.every_spend + 1) * rule.every_spend - net
    return (
        f"{rule.money.format(needed)} more spend{in_window(key)} for the next "
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
