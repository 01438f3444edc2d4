"""``tiered_discount``: a percentage off eligible lines, by the customer's tier.

Business rule: a purchase made at a tier the rule lists gets that tier's percentage off
each eligible line, on what earlier price rules left of the line.

Edges: the discount is computed and rounded half-up per line, so a basket of many lines
can differ by a minor unit from the percentage of its total. A customer below every tier,
or at a tier the rule does not list, gets nothing and no entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rewardrules.kinds._words import plain_number
from rewardrules.ledger import LedgerEntry
from rewardrules.money import Currency, as_fraction, divide_half_up
from rewardrules.program import TieredDiscount
from rewardrules.scope import PurchaseContext, Scope

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
