"""``bonus_points``: fixed points for a purchase that matches a filter.

Business rule: a purchase that the rule's filter admits and that has at least one eligible
line with a price above zero earns ``points`` ("50 bonus stars for buying the new blend",
"100 points on appreciation day", "25 points for a basket over 30.00"). With
``once_per_customer`` only the customer's first such purchase does (a first-purchase bonus).

Edges: the points are fixed: the tier's ``points_multiplier`` does not apply to them. A
refund takes them back when none of the purchase's eligible priced units is left; a
once-per-customer bonus taken back this way is not given again.
"""

from __future__ import annotations

from dataclasses import dataclass

from rewardrules.kinds._gifts import eligible_priced_units
from rewardrules.kinds._words import counted
from rewardrules.ledger import LedgerEntry
from rewardrules.money import Currency
from rewardrules.program import BonusPoints
from rewardrules.scope import PurchaseContext, Scope


@dataclass(frozen=True, slots=True)
class BonusPlan:
    """A bonus rule with its filter compiled."""

    rule: BonusPoints
    scope: Scope
    points: int
    points_name: str
    money: Currency

    @classmethod
    def compile(cls, rule: BonusPoints, money: Currency, points_name: str) -> BonusPlan:
        """Compile the filter and dates."""
        return cls(
            rule=rule,
            scope=Scope.compile(rule.when, money, rule.starts, rule.ends),
            points=rule.points,
            points_name=points_name,
            money=money,
        )

    def eligible_units(self, context: PurchaseContext, refunded: list[int] | None = None) -> int:
        """Priced units of eligible lines (less those refunded)."""
        return eligible_priced_units(self.scope, context, refunded)


def bonus_points(
    plan: BonusPlan, already_given: bool, context: PurchaseContext
) -> tuple[int, list[LedgerEntry]]:
    """The bonus a purchase earns, with its entry; nothing when it does not qualify."""
    if already_given and plan.rule.once_per_customer:
        return 0, []
    if plan.eligible_units(context) == 0:
        return 0, []
    purchase = context.purchase
    what = plan.rule.description or "bonus"
    first = " (once per customer)" if plan.rule.once_per_customer else ""
    entry = LedgerEntry(
        purchase.id,
        purchase.customer_id,
        plan.rule.id,
        "points",
        plan.points,
        None,
        None,
        plan.money,
        f"{what}{first}: {counted(plan.points, plan.points_name)}",
        (),
    )
    return plan.points, [entry]
