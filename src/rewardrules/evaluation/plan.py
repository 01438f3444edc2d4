"""A program compiled for evaluation: every rule as integers and sets, in running order.

Each rule is compiled by its kind's spec (:data:`rewardrules.kinds.table.KINDS`, or a table
the caller passes), which binds the kind's steps and words to the rule's plan; nothing here
names a kind. A test checks that every kind of the ``Rule`` union has a spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from zoneinfo import ZoneInfo

from rewardrules.engine.kind import (
    CompiledRule,
    Kind,
    KindPlan,
    KindTable,
    PurchaseStep,
    Settings,
)
from rewardrules.engine.limits import LimitPlan
from rewardrules.engine.lots import Duration, PointsPolicy
from rewardrules.engine.tiers import TierPlan
from rewardrules.kinds.table import KINDS
from rewardrules.money import Currency
from rewardrules.program._rule_base import _Rule
from rewardrules.program.model import Program

__all__ = ["ProgramPlan", "UnknownKindError", "compile_rules", "spec_of"]


class UnknownKindError(TypeError):
    """A rule whose model the kind table does not list."""


def compile_rules(
    program: Program, tiers: TierPlan | None, kinds: KindTable
) -> tuple[CompiledRule, ...]:
    """Each rule compiled by its kind's spec, in file order."""
    settings = Settings.of(program, tiers)
    return tuple(spec_of(rule, kinds).bind(rule, settings) for rule in program.rules)


def spec_of(rule: _Rule, kinds: KindTable) -> Kind:
    """The spec of a rule's kind in a table; an :class:`UnknownKindError` if it has none."""
    spec = kinds.get(type(rule))
    if spec is None:
        known = ", ".join(sorted(model.__name__ for model in kinds))
        raise UnknownKindError(
            f"rule '{rule.id}' is a {type(rule).__name__}, which the kind table does not "
            f"list (it lists {known}); add its spec to the table"
        )
    return spec


@dataclass(frozen=True, slots=True)
class ProgramPlan:
    """A program ready to run: price rules then earning rules, each by priority."""

    program: Program
    money: Currency
    zone: ZoneInfo
    points: PointsPolicy
    tiers: TierPlan | None
    price_rules: tuple[KindPlan, ...]
    """The plans of the rules that change prices, in running order (the batch engine's)."""
    earning_rules: tuple[KindPlan, ...]
    """The plans of the rules that earn at a purchase, in running order."""
    stamp_cards: tuple[tuple[str, int], ...]
    """Each punch card's rule id and units or visits per card, in file order."""
    running: tuple[CompiledRule, ...] = ()
    """The rules that run at a purchase (price rules, then earning rules), compiled."""
    dated: tuple[CompiledRule, ...] = ()
    """Rules that give at dates, in running order."""
    referrals: Mapping[str, CompiledRule] = field(default_factory=dict)
    """Referral rules by id: a referrer's reward is given by the rule its fact names."""
    limits: Mapping[str, LimitPlan] = field(default_factory=dict)
    """Per rule id, its limits (only rules that have some)."""
    has_groups: bool = False
    """Whether some rule is in an exclusive group."""
    by_payment_method: bool = False
    """Whether some rule earns by payment method (``when.payment_methods``)."""
    refunds_within: Duration | None = None
    """How long after its purchase a refund is accepted (``refunds.within``); None: always."""
    purchase_steps: tuple[PurchaseStep, ...] = ()
    """The steps of a purchase in running order: a rule's own, within its limits, or its
    exclusive group's."""
    purchase_order: tuple[CompiledRule, ...] = ()
    """The rules as a purchase runs them: a group's members where its first member runs."""
    stage_rules: tuple[tuple[str, ...], ...] = ()
    """The rule ids of each of ``purchase_steps``: one rule, or an exclusive group's members."""
    final_rules: frozenset[str] = frozenset()
    """The rules with ``final: true``: when one gives something, the later stages do not run."""

    @classmethod
    def compile(cls, program: Program, kinds: KindTable = KINDS) -> ProgramPlan:
        """Compile every rule; order each phase by priority, then by file order."""
        tiers = TierPlan.compile(program)
        in_file_order = compile_rules(program, tiers, kinds)
        running = [
            in_file_order[index]
            for index in sorted(
                range(len(program.rules)),
                key=lambda index: (program.rules[index].priority, index),
            )
        ]
        price = tuple(rule for rule in running if rule.changes_prices)
        earning = tuple(rule for rule in running if not rule.changes_prices and rule.dated is None)
        return cls(
            program=program,
            money=program.money,
            zone=program.zone,
            points=PointsPolicy.compile(program),
            tiers=tiers,
            price_rules=tuple(rule.plan for rule in price),
            earning_rules=tuple(rule.plan for rule in earning),
            stamp_cards=tuple(
                (rule.id, rule.stamps_every)
                for rule in in_file_order
                if rule.stamps_every is not None
            ),
            running=(*price, *earning),
            dated=tuple(rule for rule in running if rule.dated is not None),
            referrals=MappingProxyType(
                {rule.id: rule for rule in in_file_order if rule.rewards_referrer is not None}
            ),
            has_groups=any(rule.exclusive_group for rule in program.rules),
            by_payment_method=any(rule.when.payment_methods is not None for rule in program.rules),
            refunds_within=(
                None if program.refunds.within is None else Duration.parse(program.refunds.within)
            ),
            limits=MappingProxyType(
                {
                    rule.id: LimitPlan.compile(
                        rule.id, rule.limit, program.money, program.points.name
                    )
                    for rule in program.rules
                    if rule.limit
                }
            ),
        )
