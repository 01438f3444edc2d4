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

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, tzinfo

from rewardrules.engine.basket import Basket
from rewardrules.engine.kind import KindSpec, Now, ReferenceExamples, Returned
from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.scope import PurchaseContext, Scope
from rewardrules.engine.scope_words import scope_refusal
from rewardrules.engine.working_state import PurchaseRecord, WorkingState
from rewardrules.kinds._gifts import eligible_priced_units, refund_fixed_points
from rewardrules.money import Currency
from rewardrules.program.model import BonusPoints
from rewardrules.text import counted


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


# --- the kind's spec: its steps on the customer state, and its words ------------------


def _purchase(
    plan: BonusPlan, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    rule_id = plan.rule.id
    points, entries = bonus_points(plan, rule_id in state.bonuses, context)
    if points:
        basket.points[rule_id] = points
        state.bonuses[rule_id] = None
    return entries


def _why_not(
    plan: BonusPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    state: WorkingState,
    zone: tzinfo,
) -> str:
    refusal = scope_refusal(plan, record.context)
    if refusal is not None:
        return refusal
    if plan.rule.once_per_customer and plan.rule.id in state.bonuses:
        return "given once already (once per customer)"
    return "no line of the purchase it rewards has a price"


def _next_reward(plan: BonusPlan, state: WorkingState, now: Now) -> tuple[str, date | None]:
    if plan.rule.once_per_customer and plan.rule.id in state.bonuses:
        return "already given (once per customer)", None
    points = counted(plan.points, plan.points_name)
    return f"{points} on the next purchase it rewards", now.local_date


def _refund_words(
    plan: BonusPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    returned: Returned,
    state: WorkingState,
) -> str:
    if record.points.get(plan.rule.id, 0):
        return "the bonus stays: some of what earned it is still bought"
    return "no bonus to take back"


SPEC: KindSpec[BonusPoints, BonusPlan] = KindSpec(
    model=BonusPoints,
    compile=lambda rule, settings: BonusPlan.compile(rule, settings.money, settings.points_name),
    purchase=_purchase,
    refund=refund_fixed_points,
    state_slices=lambda plan: (("bonuses", plan.rule.id),),
    changes_prices=lambda plan: False,
    dated=None,
    rewards_referrer=None,
    units_are_rewards=False,
    stamps_every=lambda plan: None,
    why_not=_why_not,
    next_reward=_next_reward,
    refund_words=_refund_words,
    gives_fixed_gifts=True,
    lint={},
    reference=ReferenceExamples(
        rule_id="my-bonus_points",
        keys={},
        apart=(),
        refused=frozenset(),
    ),
)
"""What the engine and the tools know about ``bonus_points``."""
