"""``every_nth_free``: a punch card, every N qualifying units or visits earn a reward.

Business rule: the card counts qualifying units (``counts: items``: units of lines the
filter matches whose unit price is above zero) or visits (``counts: visits``: purchases with
at least one such line). A purchase that brings the count from ``before`` to ``after``
completes ``k = after // every - before // every`` cards. With ``reward: free`` the k
cheapest qualifying units of that purchase are free; with ``{percent_off: P}`` they get P%
off; with ``{voucher: {sku, value}}`` each completed card issues a voucher for later. The
k rewards of one purchase are one ledger entry (``units`` k, ``value`` their total).

Edges: the rewarded unit is the last unit of the card it completes, so it counts toward
the card. Units are priced by what earlier price rules left (a line's amount spread evenly
over its units not yet made free; ties keep line order); a unit another rule already made
free cannot be freed again. Money is rounded half-up per line. A refund takes refunded
qualifying units (or a visit whose qualifying units are all refunded) off the count, but
never below the last completed card, and takes no reward back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, tzinfo
from decimal import Decimal
from fractions import Fraction

from rewardrules.engine.basket import Basket
from rewardrules.engine.kind import (
    Finding,
    KindSpec,
    Now,
    ReferenceExamples,
    Returned,
    percent_as_fraction,
)
from rewardrules.engine.ledger import EntryKind, LedgerEntry
from rewardrules.engine.scope import PurchaseContext, Scope
from rewardrules.engine.scope_words import scope_refusal
from rewardrules.engine.working_state import PurchaseRecord, WorkingState
from rewardrules.events import Refund
from rewardrules.money import Currency, as_fraction, divide_half_up
from rewardrules.program.model import EveryNthFree, PercentOff, Program, VoucherReward
from rewardrules.text import ordinal, plain_number


@dataclass(frozen=True, slots=True)
class PunchCardPlan:
    """A punch card rule with its reward in integers."""

    rule: EveryNthFree
    scope: Scope
    every: int
    counts_visits: bool
    reward: str
    percent: tuple[int, int]
    voucher_value: int
    noun: str
    money: Currency

    @classmethod
    def compile(cls, rule: EveryNthFree, money: Currency) -> PunchCardPlan:
        """Read the reward into one of 'free', 'percent_off' or 'voucher'."""
        reward, percent, voucher_value = "free", (0, 1), 0
        if isinstance(rule.reward, PercentOff):
            reward, percent = "percent_off", as_fraction(rule.reward.percent_off)
        elif isinstance(rule.reward, VoucherReward):
            reward, voucher_value = "voucher", money.to_minor(rule.reward.voucher.value)
        scope = Scope.compile(rule.when, money, rule.starts, rule.ends)
        return cls(
            rule=rule,
            scope=scope,
            every=rule.every,
            counts_visits=rule.counts == "visits",
            reward=reward,
            percent=percent,
            voucher_value=voucher_value,
            noun=scope.noun(),
            money=money,
        )

    @property
    def changes_prices(self) -> bool:
        """Free units and percentages change what is paid; vouchers are for later."""
        return self.reward != "voucher"

    def qualifying_units(self, context: PurchaseContext) -> tuple[int, ...]:
        """Per line, the units that count toward the card (0 for zero-priced lines)."""
        eligible = self.scope.eligible_lines(context)
        return tuple(
            line.quantity if flag and price > 0 else 0
            for line, flag, price in zip(context.purchase.lines, eligible, context.unit_prices)
        )

    def counted(self, units: Sequence[int]) -> int:
        """What a purchase with these qualifying units adds to the count."""
        total = sum(units)
        if self.counts_visits:
            return 1 if total else 0
        return total


def every_nth_free(
    plan: PunchCardPlan,
    count: int,
    context: PurchaseContext,
    amounts: Sequence[int],
    units_left: Sequence[int],
    most_units: int | None = None,
    most_value: int | None = None,
) -> tuple[int, list[int], list[int], list[LedgerEntry]]:
    """Count a purchase on the card and free (or discount) the units of completed cards.

    Returns the new count, the line amounts and units not yet free after the reward, and
    the entry that explains it. ``most_units`` and ``most_value`` (a rule's limits) bound
    the reward: the cards still complete, the rewards beyond them are not given.
    """
    qualifying = plan.qualifying_units(context)
    after = count + plan.counted(qualifying)
    completed = after // plan.every - count // plan.every
    amounts, units_left = list(amounts), list(units_left)
    if completed == 0:
        return after, amounts, units_left, []
    given, value = card_within(
        plan, completed, qualifying, amounts, units_left, most_units, most_value
    )
    if given == 0:
        return after, amounts, units_left, []
    purchase = context.purchase
    kind: EntryKind = "free" if plan.reward == "free" else "discount"
    entry = LedgerEntry(
        purchase.id,
        purchase.customer_id,
        plan.rule.id,
        kind,
        None,
        value,
        given,
        plan.money,
        _reward_reason,
        (plan, after, completed, given, value),
    )
    return after, amounts, units_left, [entry]


def card_within(
    plan: PunchCardPlan,
    completed: int,
    qualifying: Sequence[int],
    amounts: list[int],
    units_left: list[int],
    most_units: int | None,
    most_value: int | None,
) -> tuple[int, int]:
    """The rewards of ``completed`` cards on one purchase's lines (changed in place), the
    cheapest units first, within a limit's ``most_units`` and ``most_value``: the units and
    value given. The batch engine frees its cards with it too."""
    available = [min(units, left) for units, left in zip(qualifying, units_left)]
    order = sorted(
        (index for index, units in enumerate(available) if units),
        key=lambda index: (Fraction(amounts[index], units_left[index]), index),
    )
    to_give, given, value = completed, 0, 0
    if most_units is not None:
        to_give = min(to_give, most_units)
    for index in order:
        if to_give == 0:
            break
        take = min(to_give, available[index])
        amount, left = amounts[index], units_left[index]
        worth = _worth(plan, amount, left, take)
        if most_value is not None and worth > most_value - value:
            take = _most_within(plan, amount, left, take, most_value - value)
            worth = _worth(plan, amount, left, take)
        if take == 0:
            continue
        if plan.reward == "free":
            units_left[index] = left - take
        amounts[index] = amount - worth
        value += worth
        given += take
        to_give -= take
    return given, value


def _worth(plan: PunchCardPlan, amount: int, left: int, take: int) -> int:
    """What ``take`` of a line's ``left`` units not yet free are worth as the reward."""
    if plan.reward == "free":
        return amount if take == left else divide_half_up(amount * take, left)
    numerator, denominator = plan.percent
    return divide_half_up(amount * take * numerator, left * 100 * denominator)


def _most_within(plan: PunchCardPlan, amount: int, left: int, take: int, budget: int) -> int:
    """The most units (at most ``take``) whose worth fits ``budget``.

    A binary search: worth grows with the units, and a line may hold a billion of them.
    """
    low, high = 0, take  # worth(low) fits; worth(high) does not
    while high - low > 1:
        middle = (low + high) // 2
        if _worth(plan, amount, left, middle) <= budget:
            low = middle
        else:
            high = middle
    return low


def every_nth_voucher(
    plan: PunchCardPlan, count: int, context: PurchaseContext
) -> tuple[int, list[LedgerEntry]]:
    """Count a purchase on the card and issue a voucher per completed card.

    The vouchers of one purchase are one ``voucher`` entry: ``units`` is how many, ``value``
    their total, so a basket completing a million cards costs what one card costs.
    """
    after = count + plan.counted(plan.qualifying_units(context))
    completed = after // plan.every - count // plan.every
    if completed == 0:
        return after, []
    purchase = context.purchase
    value = plan.voucher_value * completed
    entry = LedgerEntry(
        purchase.id,
        purchase.customer_id,
        plan.rule.id,
        "voucher",
        None,
        value,
        completed,
        plan.money,
        _reward_reason,
        (plan, after // plan.every * plan.every, completed, completed, value),
    )
    return after, [entry]


def refund_every_nth(
    plan: PunchCardPlan,
    count: int,
    context: PurchaseContext,
    refunded_before: Sequence[int],
    refunded_now: Sequence[int],
) -> int:
    """The count after a refund: refunded units leave it, never below the last card."""
    qualifying = plan.qualifying_units(context)
    left_before = _units_left(qualifying, refunded_before)
    left_now = _units_left(qualifying, refunded_now)
    if plan.counts_visits:
        gone = 1 if left_before > 0 and left_now == 0 else 0
    else:
        gone = left_before - left_now
    floor = count // plan.every * plan.every
    return max(count - gone, floor)


def _units_left(qualifying: Sequence[int], refunded: Sequence[int]) -> int:
    return sum(units - done for units, done in zip(qualifying, refunded) if units)


def _reward_reason(
    money: Currency, plan: PunchCardPlan, after: int, completed: int, units: int, value: int
) -> str:
    counted = "visit" if plan.counts_visits else plan.noun
    noun = plan.noun
    if plan.reward == "voucher":
        voucher = plan.rule.reward
        assert isinstance(voucher, VoucherReward)  # noqa: S101 -- reward is 'voucher' here
        name = voucher.voucher.name or voucher.voucher.sku
        if completed == 1:
            return (
                f"{ordinal(after)} {counted} of the card: a voucher for {name} "
                f"({money.format(value)}) to use on a later visit"
            )
        return (
            f"{completed} cards completed (every {plan.every} {counted}): {completed} "
            f"vouchers for {name} of {money.format(value // completed)} "
            f"({money.format(value)}) to use on later visits"
        )
    if completed == 1:
        card = f"{ordinal(after // plan.every * plan.every)} {counted} of the card"
    else:
        card = f"{completed} cards completed (every {plan.every} {counted})"
    cheapest = "cheapest" if units == 1 else f"{units} cheapest"
    if plan.reward == "free":
        return f"{card}: {cheapest} {noun} free ({money.format(value)})"
    percent = plain_number(Decimal(plan.percent[0]) / Decimal(plan.percent[1]))
    return f"{card}: {percent}% off the {cheapest} {noun} ({money.format(value)})"


# --- the kind's spec: its steps on the customer state, and its words ------------------


def _purchase(
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


def _refund(
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


def card_units(plan: PunchCardPlan, number: int, more: str = "") -> str:
    """What a card counts: '2 visits', '1 visit', '3 ice-cream' (the scope's noun as is)."""
    noun = plan.noun
    if plan.counts_visits:
        noun = "visit" if number == 1 else "visits"
    elif noun == "qualifying item" and number != 1:
        noun = "qualifying items"
    return f"{number} {more}{noun}"


def _why_not(
    plan: PunchCardPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    state: WorkingState,
    zone: tzinfo,
) -> str:
    refusal = scope_refusal(plan, record.context)
    if refusal is not None:
        return refusal
    rule_id, every = plan.rule.id, plan.every
    before, after = stamps.get(rule_id, 0), state.stamps.get(rule_id, 0)
    if after // every > before // every:
        # A price rule that completed a card but found every unit already made free.
        return f"completed a card, but every {plan.noun} of the purchase was already free"
    return f"counted {card_units(plan, after - before)}, {after % every}/{every} on the card"


def _next_reward(plan: PunchCardPlan, state: WorkingState, now: Now) -> tuple[str, date]:
    count = state.stamps.get(plan.rule.id, 0)
    left = plan.every - count % plan.every
    reward = plan.rule.reward
    if isinstance(reward, VoucherReward):
        prize = f"a voucher for {reward.voucher.name or reward.voucher.sku}"
    elif isinstance(reward, PercentOff):
        prize = f"{plain_number(reward.percent_off)}% off one"
    else:
        prize = "a free one"
    return f"{card_units(plan, left, 'more ')} to {prize}", now.local_date


def _refund_words(
    plan: PunchCardPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    returned: Returned,
    state: WorkingState,
) -> str:
    rule_id = plan.rule.id
    before, after = stamps.get(rule_id, 0), state.stamps.get(rule_id, 0)
    card = f"{after % plan.every}/{plan.every} on the card"
    qualifying = plan.qualifying_units(record.context)
    now = record.refunded_units
    units = zip(qualifying, now, returned.units_before)
    back = sum(done - then for counts, done, then in units if counts)
    if back == 0:
        return f"no {plan.noun} was returned, {card}"
    gone, kept = before - after, "a completed card stays completed"
    if plan.counts_visits:
        if gone:
            return f"the visit left the card, {card}"
        if any(counts - done for counts, done in zip(qualifying, now) if counts):
            return f"the visit still has a {plan.noun}, {card}"
        return f"{kept}, {card}"
    if gone == back:
        return f"{card_units(plan, gone)} left the card, {card}"
    if gone == 0:
        return f"{kept}, {card}"
    return f"{gone} of the {card_units(plan, back)} returned left the card ({kept}), {card}"


def _everything_free(rule: EveryNthFree, program: Program) -> Iterator[Finding]:
    """100% off the rewarded units (``discount-100``): ``free`` says it plainly."""
    if isinstance(rule.reward, PercentOff) and rule.reward.percent_off == 100:
        yield Finding(
            ("reward", "percent_off"),
            "100% off gives the rewarded units away",
            suggestion="if they are meant to be free, write `reward: free`",
        )


def _fraction_percent(rule: EveryNthFree, program: Program) -> Iterator[Finding]:
    """A percent off written as a fraction (``percent-as-fraction``)."""
    if isinstance(rule.reward, PercentOff):
        yield from percent_as_fraction(("reward", "percent_off"), rule.reward.percent_off)


SPEC: KindSpec[EveryNthFree, PunchCardPlan] = KindSpec(
    model=EveryNthFree,
    compile=lambda rule, settings: PunchCardPlan.compile(rule, settings.money),
    purchase=_purchase,
    refund=_refund,
    state_slices=lambda plan: (("stamps", plan.rule.id),),
    changes_prices=lambda plan: plan.changes_prices,
    dated=None,
    rewards_referrer=None,
    units_are_rewards=True,
    stamps_every=lambda plan: plan.every,
    why_not=_why_not,
    next_reward=_next_reward,
    refund_words=_refund_words,
    gives_fixed_gifts=False,
    lint={"discount-100": _everything_free, "percent-as-fraction": _fraction_percent},
    reference=ReferenceExamples(
        rule_id="tenth-coffee-free",
        keys={"every": 10, "reward": {"percent_off": 30}},
        apart=(),
        refused=frozenset(),
    ),
)
"""What the engine and the tools know about ``every_nth_free``."""
