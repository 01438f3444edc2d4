"""The words of an explanation: why a rule gave nothing, what a refund took back, what comes next.

Each function reads the engine's state around one step (see :mod:`rewardrules.explain`) and
says it in plain words; none changes the state. Why a rule gave nothing follows the engine's
own checks in the engine's order, so the words never contradict the ledger; a limit or an
exclusive group that stopped a reward is read from the ledger's own note (``capped``,
``set_aside``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from rewardrules.events import MonthDay
from rewardrules.kinds._gifts import paid_on_eligible
from rewardrules.kinds._words import counted, plain_number
from rewardrules.kinds.birthday import BirthdayPlan
from rewardrules.kinds.bonus_points import BonusPlan
from rewardrules.kinds.every_nth_free import PunchCardPlan
from rewardrules.kinds.partner_gift_card import EMPTY_WINDOW, GiftCardPlan
from rewardrules.kinds.points_per_spend import PointsPlan
from rewardrules.kinds.referral import ReferralPlan
from rewardrules.kinds.signup_bonus import SignupPlan
from rewardrules.kinds.tiered_discount import TieredDiscountPlan
from rewardrules.ledger import LedgerEntry
from rewardrules.plan import ProgramPlan, RulePlan
from rewardrules.program import Filter, PercentOff, VoucherReward, gives_points
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
    rule: RulePlan,
    record: PurchaseRecord,
    stamps: dict[str, int],
    state: WorkingState,
    zone: tzinfo,
) -> str:
    """Why a rule gave nothing for a purchase: its first unmet condition, or its count.

    ``zone`` is the program's time zone, for the moments the words name.
    """
    if isinstance(rule, BirthdayPlan | SignupPlan | ReferralPlan):
        return _gift_why_not(rule, record, state, zone)
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


# --- the birthday, sign-up and referral kinds -----------------------------------------


def _gift_why_not(
    rule: BirthdayPlan | SignupPlan | ReferralPlan,
    record: PurchaseRecord,
    state: WorkingState,
    zone: tzinfo,
) -> str:
    """The engine's checks in its order: the profile and what was given before, then the
    filter, then what the purchase pays on the rule's lines."""
    refusal = _profile_refusal(rule, record, state, zone)
    if refusal is None:
        refusal = _scope_refusal(rule, record.context)
    if refusal is None and not isinstance(rule, BirthdayPlan):
        refusal = _minimum_refusal(rule, record)
    return refusal or "it gave nothing for this purchase"


def _profile_refusal(
    rule: BirthdayPlan | SignupPlan | ReferralPlan,
    record: PurchaseRecord,
    state: WorkingState,
    zone: tzinfo,
) -> str | None:
    profile, context, rule_id = state.profile, record.context, rule.rule.id
    if isinstance(rule, BirthdayPlan):
        if profile is None:
            return "no customer profile, so no birthday"
        if profile.birthday is None:
            return "no birthday in the profile"
        if profile.joined_at is not None and context.purchase.at < profile.joined_at:
            return _not_joined(profile.joined_at, zone)
        year = rule.year_of(profile.birthday, context.local_date)
        if year is None:
            _, first, last = _next_window(rule, profile.birthday, context.local_date, None)
            return f"not in the birthday window {first} to {last}"
        given = state.birthdays.get(rule_id)
        if given is not None and year <= given:
            return f"already given for {given}"
        return None
    if isinstance(rule, SignupPlan):
        if profile is None:
            return "no customer profile, so no joined_at"
        if rule_id in state.bonuses:
            return "bonus already given"
        if profile.joined_at is None:
            return "no joined_at in the profile"
    else:
        if profile is None or profile.referred_by is None:
            return "not a referred customer (no referred_by in the profile)"
        if rule_id in state.bonuses:
            return f"friend already qualified (referred by {profile.referred_by}; once per rule)"
        if profile.joined_at is None:
            return None
    if context.purchase.at < profile.joined_at:
        return _not_joined(profile.joined_at, zone)
    return None


def _not_joined(joined_at: datetime, zone: tzinfo) -> str:
    return f"not joined yet (joins {joined_at.astimezone(zone).strftime('%Y-%m-%d %H:%M')})"


def _minimum_refusal(rule: SignupPlan | ReferralPlan, record: PurchaseRecord) -> str | None:
    minimum = rule.min_paid
    if minimum is None:
        return "it gives at joining, not at a purchase"
    paid = paid_on_eligible(rule.scope, record.context, record.paid)
    if paid < minimum:
        money = rule.money
        return f"pays {money.format(paid)} on eligible lines, needs {money.format(minimum)}"
    return None


def _next_window(
    rule: BirthdayPlan, birthday: MonthDay, local_date: date, given: int | None
) -> tuple[int, date, date]:
    """The first birthday window not over on ``local_date``, of a year after ``given``."""
    year = local_date.year - 1 if given is None else max(local_date.year - 1, given + 1)
    while True:
        first, last = rule.window(birthday, year)
        if last >= local_date:
            return year, first, last
        year += 1


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
    if isinstance(rule, BirthdayPlan | SignupPlan | ReferralPlan):
        # The engine takes a gift's points back only when nothing eligible is left.
        if record.points.get(rule_id, 0):
            return "the points stay: some of what earned them is still bought"
        gift = rule.referred if isinstance(rule, ReferralPlan) else rule.gift
        if gift is not None and gift.points is None:
            return "a voucher given is not taken back"
        return f"no {rule.points_name} of it to take back on purchase {record.purchase.id}"
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
        return _next_birthday(rule, state, local_date)
    if isinstance(rule, SignupPlan):
        return _next_signup(rule, state, instant, local_date)
    if isinstance(rule, ReferralPlan):
        return _next_referral(rule, state, local_date)
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


def _next_birthday(
    rule: BirthdayPlan, state: WorkingState, local_date: date
) -> tuple[str, date | None]:
    profile = state.profile
    if profile is None:
        return "no customer profile, so no birthday", None
    if profile.birthday is None:
        return "no birthday in the profile", None
    given = state.birthdays.get(rule.rule.id)
    _, first, last = _next_window(rule, profile.birthday, local_date, given)
    gift = rule.gift.words(rule.money, rule.points_name)
    at_purchase = " at a purchase" if rule.at_purchase else ""
    text = f"{gift}{at_purchase} in the birthday window {first} to {last}"
    return text, max(first, local_date)


def _next_signup(
    rule: SignupPlan, state: WorkingState, instant: datetime, local_date: date
) -> tuple[str, date | None]:
    profile = state.profile
    if rule.rule.id in state.bonuses:
        return "already given", None
    if profile is None:
        return "no customer profile, so no joined_at", None
    joined = profile.joined_at
    if joined is None:
        return "no joined_at in the profile", None
    gift = counted(rule.rule.points, rule.points_name)
    joins = joined.astimezone(rule.zone).date()
    if rule.min_paid is None:
        if joined > instant:
            return f"{gift} at joining on {joins}", joins
        return f"not given: joined on {joins}, outside its dates", None
    first = f"a first purchase{_at_least(rule.money.format(rule.min_paid), rule.min_paid)}"
    if joined > instant:
        return f"{gift} at {first} from joining on {joins}", max(joins, local_date)
    return f"{gift} at {first}", local_date


def _next_referral(
    rule: ReferralPlan, state: WorkingState, local_date: date
) -> tuple[str, date | None]:
    """As a referred friend still to qualify, what qualifies; else the referrer's side (its
    limits count the referrer's rewards)."""
    profile, rule_id = state.profile, rule.rule.id
    minimum = _at_least(rule.money.format(rule.min_paid), rule.min_paid)
    if profile is not None and profile.referred_by is not None and rule_id not in state.bonuses:
        text = f"waiting for a qualifying purchase{minimum} (referred by {profile.referred_by})"
        if rule.referred is not None:
            text += f", which gives {rule.referred.words(rule.money, rule.points_name)}"
        return text, None
    gift = rule.referrer.words(rule.money, rule.points_name)
    friends = sum(1 for _, referral in state.referrals if referral == rule_id)
    so_far = f"{counted(friends, 'friends')} qualified so far"
    return f"{gift} for each referred friend's first purchase{minimum} ({so_far})", local_date


def _at_least(shown: str, minor: int) -> str:
    return f" of at least {shown}" if minor else ""


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
