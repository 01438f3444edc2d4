"""``order_discount``: an order offer for every customer, on a purchase over a minimum.

Business rule: a purchase that the rule's filter admits (its minimum spend is
``when.min_total``, on the purchase's gross total) gets one of three things: ``percent``
off each eligible line, ``amount`` off the eligible lines together, or ``gift_item``, a
product handed over free with it. Prices are what earlier price rules left of each line.

Edges: a percent is computed and rounded half-up per line, as a tiered discount is. An
amount is shared across the eligible lines in proportion to what each has left, floored,
and the minor units left over go to the lines with the largest remainders (the earlier line
on a tie); it is at most what those lines have left, so a line is never paid below zero. A
limit on value cuts the discount line by line, in order. A refund gives back what was paid
for a line, so the discount is not taken back; nor is a gift item.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, tzinfo

from rewardrules.engine.basket import Basket
from rewardrules.engine.kind import (
    Finding,
    KindSpec,
    Now,
    ReferenceExamples,
    Returned,
    percent_as_fraction,
)
from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.scope import PurchaseContext, Scope
from rewardrules.engine.scope_words import scope_refusal
from rewardrules.engine.working_state import PurchaseRecord, WorkingState
from rewardrules.events import Refund
from rewardrules.kinds._gifts import eligible_priced_units
from rewardrules.money import Currency, as_fraction, divide_half_up
from rewardrules.program.model import OrderDiscount, Program
from rewardrules.text import NOTHING_LEFT, plain_number

PERCENT_REASON = "order offer: {0}% off {1} eligible {2} ({3:money})"
"""The reason of a percent entry: percent, units, 'unit(s)', value."""
AMOUNT_REASON = "order offer: {0:money} off {1} eligible {2} ({3:money})"
"""The reason of an amount entry: the amount written, units, 'unit(s)', value given."""
GIFT_REASON = "order offer: free gift {0} ({1:money})"
"""The reason of a gift item's entry: its name (or sku) and its value."""


@dataclass(frozen=True, slots=True)
class OrderDiscountPlan:
    """An order offer with its percent as an exact fraction and its money in minor units."""

    rule: OrderDiscount
    scope: Scope
    percent: tuple[int, int] | None
    amount: int | None
    gift_value: int | None
    money: Currency

    @classmethod
    def compile(cls, rule: OrderDiscount, money: Currency) -> OrderDiscountPlan:
        """Read the percent into a fraction and the amounts into minor units."""
        gift = rule.gift_item
        return cls(
            rule=rule,
            scope=Scope.compile(rule.when, money, rule.starts, rule.ends),
            percent=None if rule.percent is None else as_fraction(rule.percent),
            amount=None if rule.amount is None else money.to_minor(rule.amount),
            gift_value=None if gift is None else money.to_minor(gift.value),
            money=money,
        )

    @property
    def gives_gift(self) -> bool:
        """Whether it hands over a gift item rather than taking money off."""
        return self.gift_value is not None


def share_amount(amount: int, left: Sequence[int]) -> list[int]:
    """Share ``amount`` across lines in proportion to what each has ``left``.

    Each line gets its floored share; the minor units this leaves go one each to the lines
    with the largest remainders, the earlier line on a tie. The amount is first bounded by
    the lines' total, so no line gets more than it has left.
    """
    total = sum(left)
    if total <= 0 or amount <= 0:
        return [0] * len(left)
    amount = min(amount, total)
    shares = [amount * value // total for value in left]
    remainders = [amount * value % total for value in left]
    over = amount - sum(shares)
    for index in sorted(range(len(left)), key=lambda index: -remainders[index])[:over]:
        shares[index] += 1
    return shares


def line_discounts(
    plan: OrderDiscountPlan, context: PurchaseContext, amounts: Sequence[int]
) -> list[int]:
    """Each line's discount on these amounts (0 for a line the rule does not cover)."""
    eligible = plan.scope.eligible_lines(context)
    left = [amount if flag and amount > 0 else 0 for amount, flag in zip(amounts, eligible)]
    if plan.percent is not None:
        numerator, denominator = plan.percent
        return [divide_half_up(value * numerator, 100 * denominator) for value in left]
    assert plan.amount is not None  # noqa: S101 -- a percent, an amount or a gift
    return share_amount(plan.amount, left)


def order_discount(
    plan: OrderDiscountPlan,
    context: PurchaseContext,
    amounts: Sequence[int],
    units_left: Sequence[int],
    most_value: int | None = None,
) -> tuple[list[int], list[LedgerEntry]]:
    """Take the percent or the amount off the eligible lines; return the new amounts.

    ``most_value`` (a rule's limit) bounds the discount: lines keep their discount in
    order until it is used up.
    """
    amounts = list(amounts)
    value = units = 0
    for index, wanted in enumerate(line_discounts(plan, context, amounts)):
        discount = wanted if most_value is None else min(wanted, most_value - value)
        if discount:
            amounts[index] -= discount
            value += discount
            units += units_left[index]
    if value == 0:
        return amounts, []
    noun = "unit" if units == 1 else "units"
    first: object
    if plan.rule.percent is not None:
        template, first = PERCENT_REASON, plain_number(plan.rule.percent)
    else:
        template, first = AMOUNT_REASON, plan.amount
    purchase = context.purchase
    entry = LedgerEntry(
        purchase.id,
        purchase.customer_id,
        plan.rule.id,
        "discount",
        None,
        value,
        units,
        plan.money,
        template,
        (first, units, noun, value),
    )
    return amounts, [entry]


def gift_item(plan: OrderDiscountPlan, context: PurchaseContext) -> list[LedgerEntry]:
    """The gift item's entry when the purchase qualifies: admitted, with a priced eligible
    line (a free unit, counted as one reward, worth the gift's value)."""
    gift = plan.rule.gift_item
    assert gift is not None  # noqa: S101 -- a gift rule
    assert plan.gift_value is not None  # noqa: S101 -- compiled from it
    if eligible_priced_units(plan.scope, context, None) == 0:
        return []
    purchase = context.purchase
    return [
        LedgerEntry(
            purchase.id,
            purchase.customer_id,
            plan.rule.id,
            "free",
            None,
            plan.gift_value,
            1,
            plan.money,
            GIFT_REASON,
            (gift.name or gift.sku, plan.gift_value),
        )
    ]


# --- the kind's spec: its steps on the customer state, and its words ------------------


def _purchase(
    plan: OrderDiscountPlan, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    if plan.gives_gift:
        return gift_item(plan, context)
    allowance = basket.allowance
    if allowance is not None and allowance.rewards == 0:
        return []
    most_value = None if allowance is None else allowance.value
    basket.amounts, entries = order_discount(
        plan, context, basket.amounts, basket.units_left, most_value
    )
    return entries


def _refund(
    plan: OrderDiscountPlan,
    state: WorkingState,
    record: PurchaseRecord,
    refund: Refund,
    before: list[int],
    refunded: list[int],
) -> list[LedgerEntry]:
    # A discount or a gift was given at the till; the refund pays back only what was paid.
    return []


def _why_not(
    plan: OrderDiscountPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    state: WorkingState,
    zone: tzinfo,
) -> str:
    refusal = scope_refusal(plan, record.context)
    if refusal is not None:
        return refusal
    eligible = plan.scope.eligible_lines(record.context)
    if not plan.gives_gift and not any(
        amount for amount, flag in zip(record.paid, eligible) if flag
    ):
        return NOTHING_LEFT
    return f"the discount rounds to {plan.money.format(0)}"


def _offer_words(plan: OrderDiscountPlan) -> str:
    rule, money = plan.rule, plan.money
    if rule.gift_item is not None:
        what = f"free gift {rule.gift_item.name or rule.gift_item.sku} with"
    elif rule.percent is not None:
        what = f"{plain_number(rule.percent)}% off"
    else:
        assert plan.amount is not None  # noqa: S101 -- a percent, an amount or a gift
        what = f"{money.format(plan.amount)} off"
    minimum = plan.scope.min_total
    if minimum:
        return f"{what} a purchase of at least {money.format(minimum)}"
    return f"{what} every purchase"


def _next_reward(plan: OrderDiscountPlan, state: WorkingState, now: Now) -> tuple[str, date]:
    return _offer_words(plan), now.local_date


def _refund_words(
    plan: OrderDiscountPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    returned: Returned,
    state: WorkingState,
) -> str:
    if plan.gives_gift:
        return "a gift item handed over at the till is not taken back"
    return "a discount given at the till is not taken back"


def _everything_free(rule: OrderDiscount, program: Program) -> Iterator[Finding]:
    """A percent of 100 (``discount-100``)."""
    if rule.percent == 100:
        yield Finding(("percent",), "100% off: every line the rule covers is free")


def _fraction_percent(rule: OrderDiscount, program: Program) -> Iterator[Finding]:
    """A percent written as a fraction (``percent-as-fraction``)."""
    if rule.percent is not None:
        yield from percent_as_fraction(("percent",), rule.percent)


def _amount_over_minimum(rule: OrderDiscount, program: Program) -> Iterator[Finding]:
    """An amount of at least the minimum spend (``discount-over-minimum``): a purchase at the
    minimum, or of lines worth less than the amount, is free."""
    if rule.amount is None:
        return
    minimum = rule.when.min_total
    if minimum is None or rule.amount >= minimum:
        shown = program.money.format(program.money.to_minor(rule.amount))
        floor = "no minimum spend" if minimum is None else f"a minimum spend of {minimum}"
        yield Finding(
            ("amount",),
            f"{shown} off with {floor}: a purchase whose lines come to {shown} or less is free",
            suggestion=f"set when.min_total above {rule.amount}",
        )


SPEC: KindSpec[OrderDiscount, OrderDiscountPlan] = KindSpec(
    model=OrderDiscount,
    compile=lambda rule, settings: OrderDiscountPlan.compile(rule, settings.money),
    purchase=_purchase,
    refund=_refund,
    state_slices=lambda plan: (),  # it changes only the basket
    changes_prices=lambda plan: not plan.gives_gift,
    dated=None,
    rewards_referrer=None,
    units_are_rewards=False,
    stamps_every=lambda plan: None,
    why_not=_why_not,
    next_reward=_next_reward,
    refund_words=_refund_words,
    gives_fixed_gifts=False,
    lint={
        "discount-100": _everything_free,
        "percent-as-fraction": _fraction_percent,
        "discount-over-minimum": _amount_over_minimum,
    },
    reference=ReferenceExamples(
        rule_id="big-basket",
        keys={},
        apart=(("percent", "amount", "gift_item"),),
        refused=frozenset(),
    ),
)
"""What the engine and the tools know about ``order_discount``."""
