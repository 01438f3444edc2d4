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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

from rewardrules.engine.basket import Basket
from rewardrules.engine.kind import DatedGifts, KindSpec, Now, ReferenceExamples
from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.scope import PurchaseContext, Scope
from rewardrules.engine.scope_words import scope_refusal
from rewardrules.engine.working_state import PurchaseRecord, WorkingState
from rewardrules.events import Customer
from rewardrules.kinds._gifts import (
    GiftPlan,
    at_least,
    dated_event_id,
    eligible_priced_units,
    keep_points,
    minimum_refusal,
    not_joined,
    paid_on_eligible,
    refund_fixed_points,
    refund_words_of_gift,
)
from rewardrules.money import Currency
from rewardrules.program.model import SignupBonus
from rewardrules.text import counted


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


# --- the kind's spec: its steps on the customer state, and its words ------------------


def _purchase(
    plan: SignupPlan, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    rule_id = plan.rule.id
    profile = state.profile
    if profile is None or rule_id in state.bonuses:
        return []
    entries = signup_at_purchase(plan, profile.joined_at, context, basket.amounts)
    if entries:
        state.bonuses[rule_id] = None
        keep_points(basket, rule_id, entries)
    return entries


def _due(
    plan: SignupPlan, state: WorkingState, profile: Customer, horizon: datetime
) -> list[tuple[datetime, int]]:
    joined = profile.joined_at
    if joined is None or plan.rule.id in state.bonuses:
        return []
    if joined <= horizon and plan.active_at(joined):
        return [(joined, 0)]
    return []


def _give(
    plan: SignupPlan, state: WorkingState, profile: Customer, moment: datetime, tag: int
) -> LedgerEntry:
    state.bonuses[plan.rule.id] = None
    return signup_at_joining(plan, state.customer_id, moment)


def _why_not(
    plan: SignupPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    state: WorkingState,
    zone: tzinfo,
) -> str:
    # The engine's checks in its order: the profile and what was given, then the filter,
    # then what the purchase pays on the rule's lines.
    refusal = _profile_refusal(plan, record, state, zone)
    if refusal is None:
        refusal = scope_refusal(plan, record.context)
    if refusal is None:
        refusal = minimum_refusal(plan.scope, plan.money, plan.min_paid, record)
    return refusal or "it gave nothing for this purchase"


def _profile_refusal(
    plan: SignupPlan, record: PurchaseRecord, state: WorkingState, zone: tzinfo
) -> str | None:
    profile = state.profile
    if profile is None:
        return "no customer profile, so no joined_at"
    if plan.rule.id in state.bonuses:
        return "bonus already given"
    if profile.joined_at is None:
        return "no joined_at in the profile"
    if record.context.purchase.at < profile.joined_at:
        return not_joined(profile.joined_at, zone)
    return None


def _next_reward(plan: SignupPlan, state: WorkingState, now: Now) -> tuple[str, date | None]:
    """The bonus at joining or at the first purchase, and the first local date it can come
    (None once given or when it cannot come)."""
    profile, instant, local_date = state.profile, now.instant, now.local_date
    if plan.rule.id in state.bonuses:
        return "already given", None
    if profile is None:
        return "no customer profile, so no joined_at", None
    joined = profile.joined_at
    if joined is None:
        return "no joined_at in the profile", None
    gift = counted(plan.rule.points, plan.points_name)
    joins = joined.astimezone(plan.zone).date()
    if plan.min_paid is None:
        if joined > instant:
            return f"{gift} at joining on {joins}", joins
        return f"not given: joined on {joins}, outside its dates", None
    first = f"a first purchase{at_least(plan.money.format(plan.min_paid), plan.min_paid)}"
    if joined > instant:
        return f"{gift} at {first} from joining on {joins}", max(joins, local_date)
    return f"{gift} at {first}", local_date


SPEC: KindSpec[SignupBonus, SignupPlan] = KindSpec(
    model=SignupBonus,
    compile=lambda rule, settings: SignupPlan.compile(
        rule, settings.money, settings.points_name, settings.zone
    ),
    purchase=_purchase,
    refund=refund_fixed_points,
    state_slices=lambda plan: (("bonuses", plan.rule.id),),
    changes_prices=lambda plan: False,
    dated=DatedGifts(applies=lambda plan: not plan.at_purchase, due=_due, give=_give),
    rewards_referrer=None,
    units_are_rewards=False,
    stamps_every=lambda plan: None,
    why_not=_why_not,
    next_reward=_next_reward,
    refund_words=refund_words_of_gift,
    gives_fixed_gifts=True,
    lint={},
    reference=ReferenceExamples(
        rule_id="welcome-bonus",
        keys={},
        apart=(),
        refused=frozenset(),
    ),
)
"""What the engine and the tools know about ``signup_bonus``."""
