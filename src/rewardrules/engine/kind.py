"""What the engine and the tools know about one rule kind: :class:`KindSpec`, one record.

Each module of ``rewardrules.kinds`` fills one ``SPEC``, and ``rewardrules.kinds.table``
lists them in :data:`~rewardrules.kinds.table.KINDS`; nothing else names a kind. A spec has
no defaults, so a kind that lacks a part (its refund words, its state) cannot be written
down at all, rather than borrowing another kind's by falling through.

The type variables bind a kind's plan to its hooks: the plan ``compile`` returns is the
plan every hook takes, and ``mypy --strict`` checks it at each ``SPEC``. The engine never
sees the type variables: :meth:`KindSpec.bind` checks the rule's model once and returns a
:class:`CompiledRule`, whose hooks are already bound to the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Generic, Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo

from rewardrules.engine.basket import Basket, Slice
from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.scope import PurchaseContext, Scope
from rewardrules.engine.tiers import TierPlan
from rewardrules.engine.working_state import PurchaseRecord, WorkingState
from rewardrules.errors import PathItem
from rewardrules.events import Customer, ReferralQualified, Refund
from rewardrules.money import Currency
from rewardrules.program._rule_base import _Rule
from rewardrules.text import plain_number

if TYPE_CHECKING:
    from rewardrules.program.model import Program

__all__ = [
    "CompiledRule",
    "DatedGifts",
    "Finding",
    "KindPlan",
    "KindSpec",
    "KindTable",
    "Now",
    "ReferenceExamples",
    "Returned",
    "Settings",
]


@dataclass(frozen=True, slots=True)
class Finding:
    """One warning as data: where it points, what is probably wrong, and a likely fix.

    Attributes:
        path: the document path, e.g. ``("rules", 0, "discounts", "gold")``.
        message: what is probably wrong, in plain words.
        suggestion: a likely fix, e.g. "did you mean 'coffee'?".
        at: point at the value (``"value"``) or at its key (``"key"``).
    """

    path: tuple[PathItem, ...]
    message: str
    suggestion: str | None = None
    at: Literal["key", "value"] = "value"


def percent_as_fraction(path: tuple[PathItem, ...], percent: Decimal) -> Iterator[Finding]:
    """``percent-as-fraction``: a percent above 0 and below 1, most likely 15% written 0.15.

    Each kind with a percent yields it from its ``lint`` under that code
    (docs/lint.md), so the words are the same wherever a percent is written.
    """
    if Decimal(0) < percent < 1:
        shown, meant = plain_number(percent), plain_number(percent * 100)
        yield Finding(
            path,
            f"{shown} means {shown}%; did you mean {meant}?",
            f"write {meant} for {meant}% off",
        )


class KindPlan(Protocol):
    """What every compiled rule has: its rule, its dates and filter, and the currency."""

    @property
    def rule(self) -> _Rule:
        """The rule as written."""

    @property
    def scope(self) -> Scope:
        """Its dates and ``when`` filter, compiled."""

    @property
    def money(self) -> Currency:
        """The program's currency."""


RuleT = TypeVar("RuleT", bound=_Rule)
PlanT = TypeVar("PlanT", bound=KindPlan)


@dataclass(frozen=True, slots=True)
class Settings:
    """What a rule's compiler may read of the rest of the program."""

    money: Currency
    points_name: str
    zone: ZoneInfo
    tiers: TierPlan | None
    earn_on_gross: bool

    @classmethod
    def of(cls, program: Program, tiers: TierPlan | None) -> Settings:
        """The settings of a program, with its compiled tiers."""
        return cls(
            money=program.money,
            points_name=program.points.name,
            zone=program.zone,
            tiers=tiers,
            earn_on_gross=program.points.earn_on == "gross",
        )


@dataclass(frozen=True, slots=True)
class Now:
    """When an account ends, for the words on each next reward."""

    instant: datetime
    local_date: date
    tier_index: int | None
    """The tier that applies then (a kept level included); None below the first."""
    tiers: TierPlan | None


@dataclass(frozen=True, slots=True)
class Returned:
    """Units refunded per line before a refund, and the amounts this refund gave back."""

    units_before: list[int]
    amounts: list[int]


PurchaseStep = Callable[[WorkingState, PurchaseContext, Basket], list[LedgerEntry]]
"""A rule's step on a purchase, bound to its plan: the basket as earlier rules left it."""
RefundStep = Callable[
    [WorkingState, PurchaseRecord, Refund, list[int], list[int]], list[LedgerEntry]
]
"""A rule's step on a refund, bound to its plan: (state, record, refund, units refunded
before it per line, amounts it gives back per line)."""


@dataclass(frozen=True, slots=True)
class DatedGifts(Generic[PlanT]):
    """How a kind gives at dates rather than at a purchase (a birthday window, joining)."""

    applies: Callable[[PlanT], bool]
    """Whether this rule gives at dates (a birthday that needs a purchase does not)."""
    due: Callable[[PlanT, WorkingState, Customer, datetime], Iterable[tuple[datetime, int]]]
    """The moments of its gifts up to a horizon, each with a tag ``give`` is passed back
    (a birthday's year)."""
    give: Callable[[PlanT, WorkingState, Customer, datetime, int], LedgerEntry | str]
    """Give the gift due at a moment and record it in the state; or, for a customer not
    eligible then, why not (a birthday's ``member_for``), the gift then used up as well."""


@dataclass(frozen=True, slots=True)
class ReferenceExamples:
    """How the rule reference shows a kind: its example rule's id and its keys' examples.

    Examples are plain data, as a rule file gives them (``Decimal`` for amounts).
    """

    rule_id: str
    """The id of the kind's example rule."""
    keys: Mapping[str, object]
    """Examples of the keys the kind adds whose field gives none (``examples=``) and whose
    type suggests none. Empty: its fields' own examples are enough."""
    apart: tuple[tuple[str, ...], ...]
    """Groups of its keys that cannot all be set at once: the example sets the first of a
    group, and a further example swaps in each other one (a birthday's voucher for its
    points)."""
    refused: frozenset[str]
    """Keys every rule has that this kind refuses whatever their value (left out)."""


@dataclass(frozen=True, slots=True)
class BoundDated:
    """A rule's gifts at dates, bound to its plan."""

    due: Callable[[WorkingState, Customer, datetime], Iterable[tuple[datetime, int]]]
    give: Callable[[WorkingState, Customer, datetime, int], LedgerEntry | str]


@dataclass(frozen=True, slots=True)
class KindSpec(Generic[RuleT, PlanT]):
    """Everything the engine and the tools know about one rule kind.

    No field has a default: a new kind states each part, or it does not type-check.
    """

    model: type[RuleT]
    """The rule's model: its ``kind`` literal tags it in the union of rules."""
    compile: Callable[[RuleT, Settings], PlanT]
    """The rule as integers and sets, ready to run."""
    purchase: Callable[[PlanT, WorkingState, PurchaseContext, Basket], list[LedgerEntry]]
    """Its step on a purchase: the kind's pure function applied to its slice of the state."""
    refund: Callable[
        [PlanT, WorkingState, PurchaseRecord, Refund, list[int], list[int]], list[LedgerEntry]
    ]
    """What a refund takes back (and changes in its slice of the state)."""
    state_slices: Callable[[PlanT], tuple[Slice, ...]]
    """The parts of the customer state its steps change: what an exclusive group saves
    and restores around each member it tries. Empty: it changes only the basket."""
    changes_prices: Callable[[PlanT], bool]
    """Price rules change what is paid and run before the rules that earn on it."""
    dated: DatedGifts[PlanT] | None
    """How it gives at dates; None for a kind that gives only at purchases."""
    rewards_referrer: Callable[[PlanT, ReferralQualified], LedgerEntry] | None
    """The referrer's reward for a friend's qualifying purchase; None for other kinds.
    A kind that has it spends its limits on the referrer's rewards, not at purchases."""
    units_are_rewards: bool
    """Whether each free or discounted unit counts as one reward for a limit."""
    stamps_every: Callable[[PlanT], int | None]
    """The units or visits per card, for a result's ``stamps``; None: not a card."""
    why_not: Callable[[PlanT, PurchaseRecord, Mapping[str, int], WorkingState, tzinfo], str]
    """Why it gave nothing for a purchase, in the engine's order of checks: (plan, the
    purchase's record, punch-card counts before it, the state after it, the zone)."""
    next_reward: Callable[[PlanT, WorkingState, Now], tuple[str | None, date | None]]
    """Its next reward in words (None: the balance says it), and the first local date it
    can come (None: it cannot), where a used-up limit is worth saying."""
    refund_words: Callable[[PlanT, PurchaseRecord, Mapping[str, int], Returned, WorkingState], str]
    """What a refund did to it when it took nothing back."""
    gives_fixed_gifts: bool
    """Whether each time it gives, it gives one gift of a fixed size: a limit per purchase
    then never limits how often (the ``limit-per-purchase`` warning)."""
    lint: Mapping[str, Callable[[RuleT, Program], Iterator[Finding]]]
    """Its own lint warnings, by the code of the warning each belongs to (a key of
    ``rewardrules.tools.lint.warnings.CHECKS``): each yields findings whose paths are below
    the rule. Empty: the warnings every rule gets are all it needs."""
    reference: ReferenceExamples
    """How the rule reference shows it (``rewardrules.tools.reference``)."""

    def lint_findings(self, code: str, rule: _Rule, program: Program) -> Iterator[Finding]:
        """The findings of its own check for a warning's code (none without one)."""
        check = self.lint.get(code)
        if check is not None:
            yield from check(self.own(rule), program)

    @property
    def lint_codes(self) -> Iterable[str]:
        """The codes of the warnings it has checks of its own for."""
        return self.lint.keys()

    def own(self, rule: _Rule) -> RuleT:
        """The rule as this kind's model; a TypeError for a rule of another kind."""
        if not isinstance(rule, self.model):
            raise TypeError(
                f"the kind table maps {type(rule).__name__} to the spec of {self.model.__name__}"
            )
        return rule

    def bind(self, rule: _Rule, settings: Settings) -> CompiledRule:
        """Compile a rule of this kind and bind every hook to its plan."""
        plan = self.compile(self.own(rule), settings)
        dated = self.dated
        referrer = self.rewards_referrer
        return CompiledRule(
            rule=rule,
            plan=plan,
            purchase=partial(self.purchase, plan),
            refund=partial(self.refund, plan),
            slices=self.state_slices(plan),
            changes_prices=self.changes_prices(plan),
            dated=(
                None
                if dated is None or not dated.applies(plan)
                else BoundDated(partial(dated.due, plan), partial(dated.give, plan))
            ),
            rewards_referrer=None if referrer is None else partial(referrer, plan),
            units_are_rewards=self.units_are_rewards,
            stamps_every=self.stamps_every(plan),
            why_not=partial(self.why_not, plan),
            next_reward=partial(self.next_reward, plan),
            refund_words=partial(self.refund_words, plan),
        )


class Kind(Protocol):
    """A :class:`KindSpec` of any kind, as the table holds it: what needs no type variable."""

    @property
    def model(self) -> type[_Rule]:
        """The rule's model."""

    @property
    def gives_fixed_gifts(self) -> bool:
        """Whether it gives one gift of a fixed size each time it gives."""

    @property
    def lint_codes(self) -> Iterable[str]:
        """The codes of the warnings it has checks of its own for."""

    @property
    def reference(self) -> ReferenceExamples:
        """How the rule reference shows it."""

    def bind(self, rule: _Rule, settings: Settings) -> CompiledRule:
        """Compile a rule and bind every hook to its plan."""

    def lint_findings(self, code: str, rule: _Rule, program: Program) -> Iterator[Finding]:
        """The findings of its own check for a warning's code, paths below the rule."""


KindTable = Mapping[type[_Rule], Kind]
"""The kinds a program may use, by model."""


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One rule compiled by its kind, every hook bound to its plan (see :class:`KindSpec`)."""

    rule: _Rule
    plan: KindPlan
    purchase: PurchaseStep
    refund: RefundStep
    slices: tuple[Slice, ...]
    changes_prices: bool
    dated: BoundDated | None
    rewards_referrer: Callable[[ReferralQualified], LedgerEntry] | None
    units_are_rewards: bool
    stamps_every: int | None
    why_not: Callable[[PurchaseRecord, Mapping[str, int], WorkingState, tzinfo], str]
    next_reward: Callable[[WorkingState, Now], tuple[str | None, date | None]]
    refund_words: Callable[[PurchaseRecord, Mapping[str, int], Returned, WorkingState], str]

    @property
    def id(self) -> str:
        """The rule's id."""
        return self.rule.id
