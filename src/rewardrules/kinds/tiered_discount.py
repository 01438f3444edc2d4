"""``tiered_discount``: a percentage off eligible lines, by the customer's tier.

Business rule: a purchase made at a tier the rule lists gets that tier's percentage off
each eligible line, on what earlier price rules left of the line.

Edges: the discount is computed and rounded half-up per line, so a basket of many lines
can differ by a minor unit from the percentage of its total. A customer below every tier,
or at a tier the rule does not list, gets nothing and no entry.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, tzinfo
from decimal import Decimal

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
from rewardrules.engine.scope_words import one_of, scope_refusal
from rewardrules.engine.working_state import PurchaseRecord, WorkingState
from rewardrules.events import Refund
from rewardrules.money import Currency, as_fraction, divide_half_up
from rewardrules.program.model import Program, TieredDiscount
from rewardrules.text import NOTHING_LEFT, either, plain_number

DISCOUNT_REASON = "tier {0}: {1}% off {2} eligible {3} ({4:money})"
"""The reason of a discount entry: tier, percent, units, 'unit(s)', value."""


@dataclass(frozen=True, slots=True)
class TieredDiscountPlan:
    """A tiered discount with each tier's percentage as an exact fraction."""

    rule: TieredDiscount
    scope: Scope
    percents: dict[str, tuple[int, int]]
    labels: dict[str, str]
    money: Currency

    @classmethod
    def compile(cls, rule: TieredDiscount, money: Currency) -> TieredDiscountPlan:
        """Read each tier's percentage into a fraction."""
        return cls(
            rule=rule,
            scope=Scope.compile(rule.when, money, rule.starts, rule.ends),
            percents={tier: as_fraction(percent) for tier, percent in rule.discounts.items()},
            labels={tier: plain_number(percent) for tier, percent in rule.discounts.items()},
            money=money,
        )


def tiered_discount(
    plan: TieredDiscountPlan,
    context: PurchaseContext,
    amounts: Sequence[int],
    units_left: Sequence[int],
    most_value: int | None = None,
) -> tuple[list[int], list[LedgerEntry]]:
    """Take the tier's percentage off each eligible line; return the new amounts.

    ``units_left`` are the units of each line not made free by an earlier rule: the
    entry counts those as the units discounted. ``most_value`` (a rule's limit) bounds the
    discount: lines are discounted in order until it is used up.
    """
    amounts = list(amounts)
    tier = context.tier
    if tier is None or tier not in plan.percents:
        return amounts, []
    percent = plan.percents[tier]
    numerator, denominator = percent
    scale = 100 * denominator
    value = units = 0
    for index, eligible in enumerate(plan.scope.eligible_lines(context)):
        amount = amounts[index]
        if eligible and amount > 0:
            discount = divide_half_up(amount * numerator, scale)
            if most_value is not None:
                discount = min(discount, most_value - value)
            if discount:
                amounts[index] = amount - discount
                value += discount
                units += units_left[index]
    if value == 0:
        return amounts, []
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
        DISCOUNT_REASON,
        (
            tier,
            plan.labels[tier],
            units,
            "unit" if units == 1 else "units",
            value,
        ),
    )
    return amounts, [entry]


# --- the kind's spec: its steps on the customer state, and its words ------------------


def _purchase(
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


def _refund(
    plan: TieredDiscountPlan,
    state: WorkingState,
    record: PurchaseRecord,
    refund: Refund,
    before: list[int],
    refunded: list[int],
) -> list[LedgerEntry]:
    # A discount was given at the till; the refund pays back only what was paid.
    return []


def _why_not(
    plan: TieredDiscountPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    state: WorkingState,
    zone: tzinfo,
) -> str:
    refusal = scope_refusal(plan, record.context)
    if refusal is not None:
        return refusal
    tier = record.context.tier
    if tier is None:
        return f"no tier yet, it needs {one_of(list(plan.percents))}"
    if tier not in plan.percents:
        return f"tier {tier} has no discount in this rule"
    eligible = plan.scope.eligible_lines(record.context)
    if not any(amount for amount, flag in zip(record.paid, eligible) if flag):
        return NOTHING_LEFT
    return f"the discount rounds to {plan.money.format(0)}"


def _next_reward(plan: TieredDiscountPlan, state: WorkingState, now: Now) -> tuple[str, date]:
    tiers, index = now.tiers, now.tier_index
    assert tiers is not None  # noqa: S101 -- a tiered discount needs tiers to validate
    discounts = plan.rule.discounts
    current = tiers.names[index] if index is not None else None
    percent = discounts.get(current) if current is not None else None
    text = "no discount now" if percent is None else f"{plain_number(percent)}% off now"
    for name in tiers.names[(-1 if index is None else index) + 1 :]:
        if name in discounts and (percent is None or discounts[name] > percent):
            return f"{text}, {plain_number(discounts[name])}% off from {name}", now.local_date
    return text, now.local_date


def _refund_words(
    plan: TieredDiscountPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    returned: Returned,
    state: WorkingState,
) -> str:
    return "a discount given at the till is not taken back"


def _falls_as_tiers_rise(rule: TieredDiscount, program: Program) -> Iterator[Finding]:
    """A higher tier given less than a lower one, or nothing (``tiers-discount-falls``).

    A tier left out is not reported when another tiered_discount gives it a discount: a
    program may write one rule per tier.
    """
    if program.tiers is None:
        return
    discounted = {
        name
        for other in program.rules
        if isinstance(other, TieredDiscount)
        for name in other.discounts
    }
    below: tuple[str, Decimal] | None = None
    left_out: list[str] = []
    for name in program.tiers.level_names():
        percent = rule.discounts.get(name)
        if percent is None:
            if below is not None and name not in discounted:
                left_out.append(name)
            continue
        if below is not None and percent < below[1]:
            yield Finding(
                ("discounts", name),
                f"'{name}' gets {plain_number(percent)}% off, less than the "
                f"{plain_number(below[1])}% of '{below[0]}' below it; "
                "discounts usually rise with the tier",
            )
        below = (name, percent)
    if left_out:
        missing = either([f"'{name}'" for name in left_out], "and")
        lowest = next(name for name in program.tiers.level_names() if name in rule.discounts)
        yield Finding(
            ("discounts",),
            f"{missing} {'gets' if len(left_out) == 1 else 'get'} no discount, but "
            f"'{lowest}' below it gets {plain_number(rule.discounts[lowest])}%: a customer "
            "who moves up loses the discount",
            suggestion=f"give {missing} a discount too",
            at="key",
        )


def _everything_free(rule: TieredDiscount, program: Program) -> Iterator[Finding]:
    """A tier given 100% off (``discount-100``)."""
    for name, percent in rule.discounts.items():
        if percent == 100:
            yield Finding(
                ("discounts", name),
                f"'{name}' gets 100% off: every line the rule covers is free for "
                f"'{name}' customers",
            )


def _never_applying(rule: TieredDiscount, program: Program) -> Iterator[Finding]:
    """A filter on tiers none of which it discounts (``rule-never-applies``)."""
    if rule.when.tiers and not set(rule.when.tiers) & set(rule.discounts):
        yield Finding(
            ("when", "tiers"),
            f"the rule can never apply: it looks only at {either(rule.when.tiers)} customers, "
            f"and its discounts are for {either(list(rule.discounts))}",
        )


def _fraction_percents(rule: TieredDiscount, program: Program) -> Iterator[Finding]:
    """A tier's percent written as a fraction (``percent-as-fraction``)."""
    for name, percent in rule.discounts.items():
        yield from percent_as_fraction(("discounts", name), percent)


SPEC: KindSpec[TieredDiscount, TieredDiscountPlan] = KindSpec(
    model=TieredDiscount,
    compile=lambda rule, settings: TieredDiscountPlan.compile(rule, settings.money),
    purchase=_purchase,
    refund=_refund,
    state_slices=lambda plan: (),  # it changes only the basket
    changes_prices=lambda plan: True,
    dated=None,
    rewards_referrer=None,
    units_are_rewards=False,
    stamps_every=lambda plan: None,
    why_not=_why_not,
    next_reward=_next_reward,
    refund_words=_refund_words,
    gives_fixed_gifts=False,
    lint={
        "tiers-discount-falls": _falls_as_tiers_rise,
        "discount-100": _everything_free,
        "rule-never-applies": _never_applying,
        "percent-as-fraction": _fraction_percents,
    },
    reference=ReferenceExamples(
        rule_id="member-discount",
        keys={"discounts": {"silver": 5, "gold": 10}},
        apart=(),
        refused=frozenset(),
    ),
)
"""What the engine and the tools know about ``tiered_discount``."""
