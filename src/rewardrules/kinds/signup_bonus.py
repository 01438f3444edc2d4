"""``signup_bonus``: points when the customer joins.

Business rule: a customer whose profile has ``joined_at`` gets ``points`` at that moment.
With ``min_first_purchase`` they get them instead at their first purchase at or after
joining that pays at least that much (after price rules) on the lines the filter admits
and has an eligible line priced above zero; ``0`` means any such purchase.

Edges: without a profile or a ``joined_at`` there is no bonus and no error. Given once
per customer and rule. The bonus is given only if the moment it is given falls between
the rule's ``starts`` and ``ends``. Points given at joining are available at once; points
given at a purchase are that purchase's points (they wait with it, and a refund of every
eligible unit takes them back without giving them again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from rewardrules.kinds._gifts import (
    GiftPlan,
    dated_event_id,
    eligible_priced_units,
    paid_on_eligible,
)
from rewardrules.ledger import LedgerEntry
from rewardrules.money import Currency
from rewardrules.program import SignupBonus
from rewardrules.scope import PurchaseContext, Scope


@dataclass(frozen=True, slots=True)
class SignupPlan:
    """A sign-up bonus with its minimum in minor units."""

    rule: SignupBonus
    scope: Scope
    gift: GiftPlan
    min_paid: int | None
    points_name: str
    money: Currency
    zone: ZoneInfo

    @classmethod
    def compile(
        cls, rule: SignupBonus, money: Currency, points_name: str, zone: ZoneInfo
    ) -> SignupPlan:
        """Compile the filter and minimum."""
        minimum = rule.min_first_purchase
        return cls(
            rule=rule,
            scope=Scope.compile(rule.when, money, rule.starts, rule.ends),
            gift=GiftPlan(rule.points, 0, ""),
            min_paid=None if minimum is None else money.to_minor(minimum),
            points_name=points_name,
            money=money,
            zone=zone,
        )

    @property
    def at_purchase(self) -> bool:
        """Whether the bonus waits for a first purchase."""
        return self.min_paid is not None

    def active_at(self, moment: datetime) -> bool:
        """Whether the rule's ``starts`` and ``ends`` admit this moment's local date."""
        local = moment.astimezone(self.zone).date()
        rule = self.rule
        return (rule.starts is None or rule.starts <= local) and (
            rule.ends is None or local <= rule.ends
        )

    def why(self) -> str:
        """The reason's opening words."""
        what = self.rule.description or "welcome bonus"
        if self.min_paid is None:
            return f"{what}, for joining"
        minimum = self.money.format(self.min_paid)
        return f"{what}, at the first purchase of at least {minimum} after joining"


def signup_at_purchase(
    plan: SignupPlan,
    joined_at: datetime | None,
    context: PurchaseContext,
    amounts: Sequence[int],
) -> list[LedgerEntry]:
    """The bonus of a first qualifying purchase after joining (nothing otherwise)."""
    purchase = context.purchase
    if joined_at is None or purchase.at < joined_at or plan.min_paid is None:
        return []
    if eligible_priced_units(plan.scope, context) == 0:
        return []
    if paid_on_eligible(plan.scope, context, amounts) < plan.min_paid:
        return []
    entry = plan.gift.entry(
        purchase.id, purchase.customer_id, plan.rule.id, plan.money, plan.points_name, plan.why()
    )
    return [entry]


def signup_at_joining(plan: SignupPlan, customer_id: str, joined_at: datetime) -> LedgerEntry:
    """The entry of a bonus given at the moment of joining."""
    return plan.gift.entry(
        dated_event_id(plan.rule.id, joined_at, plan.zone),
        customer_id,
        plan.rule.id,
        plan.money,
        plan.points_name,
        plan.why(),
    )
