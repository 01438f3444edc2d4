"""A program compiled for evaluation: every rule as integers and sets, in running order.

The table :data:`COMPILERS` is the one place that maps a rule kind to its compiled plan;
``steps`` maps each plan type to its step function. A test checks that every kind of the
``Rule`` union has an entry in both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from rewardrules.kinds.birthday import BirthdayPlan
from rewardrules.kinds.bonus_points import BonusPlan
from rewardrules.kinds.every_nth_free import PunchCardPlan
from rewardrules.kinds.partner_gift_card import GiftCardPlan
from rewardrules.kinds.points_per_spend import PointsPlan
from rewardrules.kinds.referral import ReferralPlan
from rewardrules.kinds.signup_bonus import SignupPlan
from rewardrules.kinds.tiered_discount import TieredDiscountPlan
from rewardrules.limits import LimitPlan
from rewardrules.lots import Duration, PointsPolicy
from rewardrules.money import Currency
from rewardrules.program import (
    Birthday,
    BonusPoints,
    EveryNthFree,
    PartnerGiftCard,
    PointsPerSpend,
    Program,
    Referral,
    SignupBonus,
    TieredDiscount,
)
from rewardrules.tiers import TierPlan

RulePlan = (
    PointsPlan
    | PunchCardPlan
    | GiftCardPlan
    | TieredDiscountPlan
    | BonusPlan
    | BirthdayPlan
    | SignupPlan
    | ReferralPlan
)
DatedPlan = BirthdayPlan | SignupPlan
"""A rule that gives at a date rather than at a purchase."""

COMPILERS: dict[type[Any], Callable[[Any, Program, TierPlan | None], RulePlan]] = {
    PointsPerSpend: lambda rule, program, tiers: PointsPlan.compile(
        rule, program.money, tiers, program.points.name, program.points.earn_on == "gross"
    ),
    EveryNthFree: lambda rule, program, _tiers: PunchCardPlan.compile(rule, program.money),
    PartnerGiftCard: lambda rule, program, _tiers: GiftCardPlan.compile(rule, program.money),
    TieredDiscount: lambda rule, program, _tiers: TieredDiscountPlan.compile(rule, program.money),
    BonusPoints: lambda rule, program, _tiers: BonusPlan.compile(
        rule, program.money, program.points.name
    ),
    Birthday: lambda rule, program, _tiers: BirthdayPlan.compile(
        rule, program.money, program.points.name, program.zone
    ),
    SignupBonus: lambda rule, program, _tiers: SignupPlan.compile(
        rule, program.money, program.points.name, program.zone
    ),
    Referral: lambda rule, program, _tiers: ReferralPlan.compile(
        rule, program.money, program.points.name
    ),
}


def is_dated(plan: RulePlan) -> bool:
    """Whether a rule gives at a date (a birthday window, joining) rather than at a purchase."""
    return isinstance(plan, BirthdayPlan | SignupPlan) and not plan.at_purchase


def changes_prices(plan: RulePlan) -> bool:
    """Price rules change what is paid and run before the rules that earn on it."""
    if isinstance(plan, TieredDiscountPlan):
        return True
    return isinstance(plan, PunchCardPlan) and plan.changes_prices


@dataclass(frozen=True, slots=True)
class ProgramPlan:
    """A program ready to run: price rules then earning rules, each by priority."""

    program: Program
    money: Currency
    zone: ZoneInfo
    points: PointsPolicy
    tiers: TierPlan | None
    price_rules: tuple[RulePlan, ...]
    earning_rules: tuple[RulePlan, ...]
    punch_cards: tuple[PunchCardPlan, ...]
    dated: tuple[DatedPlan, ...] = ()
    """Rules that give at a date, in running order."""
    referrals: dict[str, ReferralPlan] = field(default_factory=dict)
    """Referral rules by id: a referrer's reward is given by the rule its fact names."""
    limits: dict[str, LimitPlan] = field(default_factory=dict)
    """Per rule id, its limits (only rules that have some)."""
    has_groups: bool = False
    """Whether some rule is in an exclusive group."""
    refunds_within: Duration | None = None
    """How long after its purchase a refund is accepted (``refunds.within``); None: always."""
    purchase_steps: tuple[tuple[Callable[..., Any], RulePlan], ...] = ()
    refund_steps: tuple[tuple[Callable[..., Any], RulePlan], ...] = ()
    unit_prices: dict[Decimal, int] = field(default_factory=dict, compare=False, repr=False)
    """A memo of unit prices already converted to minor units (menus repeat prices)."""

    @classmethod
    def compile(cls, program: Program) -> ProgramPlan:
        """Compile every rule; order each phase by priority, then by file order."""
        tiers = TierPlan.compile(program)
        in_file_order = [COMPILERS[type(rule)](rule, program, tiers) for rule in program.rules]
        running = [
            in_file_order[index]
            for index in sorted(
                range(len(program.rules)),
                key=lambda index: (program.rules[index].priority, index),
            )
        ]
        return cls(
            program=program,
            money=program.money,
            zone=program.zone,
            points=PointsPolicy.compile(program),
            tiers=tiers,
            price_rules=tuple(plan for plan in running if changes_prices(plan)),
            earning_rules=tuple(
                plan for plan in running if not changes_prices(plan) and not is_dated(plan)
            ),
            punch_cards=tuple(plan for plan in in_file_order if isinstance(plan, PunchCardPlan)),
            dated=tuple(
                plan
                for plan in running
                if isinstance(plan, BirthdayPlan | SignupPlan) and is_dated(plan)
            ),
            referrals={
                plan.rule.id: plan for plan in in_file_order if isinstance(plan, ReferralPlan)
            },
            has_groups=any(rule.exclusive_group for rule in program.rules),
            refunds_within=(
                None if program.refunds.within is None else Duration.parse(program.refunds.within)
            ),
            limits={
                rule.id: LimitPlan.compile(rule.id, rule.limit, program.money, program.points.name)
                for rule in program.rules
                if rule.limit
            },
        )
