"""``points_per_spend``: points for money paid on eligible lines.

Business rule: a purchase earns ``points`` per ``per`` currency units paid on its eligible
lines; each line is weighted by the largest multiplier factor whose filter matches it (1
when none does); the sum is multiplied by the tier's ``points_multiplier`` and rounded once
per purchase (floor, half_up or ceil), then capped by ``max_per_purchase``.

Edges: the arithmetic is exact integer rational arithmetic on minor units, so ``1.10`` per
point is not approximated. A refund recomputes the purchase's points on what is left of its
paid amounts, at the tier and factors it was made with, and takes back the difference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, tzinfo
from decimal import Decimal

from rewardrules.engine.basket import Basket
from rewardrules.engine.kind import Finding, KindSpec, Now, ReferenceExamples, Returned, Settings
from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.scope import PurchaseContext, Scope
from rewardrules.engine.scope_words import scope_refusal
from rewardrules.engine.tiers import TierPlan
from rewardrules.engine.working_state import PurchaseRecord, WorkingState
from rewardrules.events import Refund
from rewardrules.money import (
    Currency,
    as_fraction,
    divide_ceil,
    divide_floor,
    divide_half_up,
)
from rewardrules.program.model import PointsPerSpend, Program
from rewardrules.text import NOTHING_LEFT, counted, plain_number

ROUNDINGS: dict[str, Callable[[int, int], int]] = {
    "floor": divide_floor,
    "half_up": divide_half_up,
    "ceil": divide_ceil,
}


REFUND_REASON = "refund of purchase {0}: {1} recomputed on {2:money} left, {3} now instead of {4}"
"""The reason of a refund's points entry: purchase, points name, amount left, now, before."""


@dataclass(frozen=True, slots=True)
class PointsPlan:
    """A points rule in integers: weights per factor, one denominator for everything."""

    rule: PointsPerSpend
    scope: Scope
    multipliers: tuple[tuple[Scope, int, Decimal], ...]
    base_weight: int
    numerator: int
    denominator: int
    round: Callable[[int, int], int]
    cap: int | None
    points_name: str
    money: Currency
    tiers: TierPlan | None
    on_gross: bool = False

    @classmethod
    def compile(
        cls,
        rule: PointsPerSpend,
        money: Currency,
        tiers: TierPlan | None,
        points_name: str,
        on_gross: bool = False,
    ) -> PointsPlan:
        """Bring every factor over one denominator and the rate to minor units."""
        factors = [as_fraction(multiplier.factor) for multiplier in rule.multipliers]
        factor_denominator = math.lcm(1, *(denominator for _, denominator in factors))
        weights = [
            numerator * (factor_denominator // denominator) for numerator, denominator in factors
        ]
        ordered = sorted(
            (
                (Scope.compile(multiplier.when, money), weight, multiplier.factor)
                for multiplier, weight in zip(rule.multipliers, weights)
            ),
            key=lambda item: -item[1],
        )
        points_numerator, points_denominator = as_fraction(rule.points)
        per_minor = money.to_minor(rule.per)
        return cls(
            rule=rule,
            scope=Scope.compile(rule.when, money, rule.starts, rule.ends),
            multipliers=tuple(ordered),
            base_weight=factor_denominator,
            numerator=points_numerator,
            denominator=factor_denominator * points_denominator * per_minor,
            round=ROUNDINGS[rule.rounding],
            cap=rule.max_per_purchase,
            points_name=points_name,
            money=money,
            tiers=tiers,
            on_gross=on_gross,
        )

    def weights(self, context: PurchaseContext) -> tuple[int, ...]:
        """Each line's factor over the common denominator; 0 for lines the rule ignores."""
        eligible = self.scope.eligible_lines(context)
        if not self.multipliers:
            return tuple(self.base_weight if flag else 0 for flag in eligible)
        admitted = [
            (scope, weight) for scope, weight, _ in self.multipliers if scope.admits(context)
        ]
        weights = []
        for line, flag in zip(context.purchase.lines, eligible):
            weight = 0
            if flag:
                weight = self.base_weight
                for scope, factor_weight in admitted:
                    if scope.matches_line(line):
                        weight = factor_weight
                        break
            weights.append(weight)
        return tuple(weights)

    def points(self, context: PurchaseContext, paid: Sequence[int], weights: Sequence[int]) -> int:
        """The purchase's points on these paid amounts: rounded once, then capped."""
        weighted = 0
        for amount, weight in zip(paid, weights):
            if weight:
                weighted += amount * weight
        if not weighted:
            return 0
        numerator, denominator = self.numerator * weighted, self.denominator
        if self.tiers is not None and context.tier_index is not None:
            tier_numerator, tier_denominator = self.tiers.multipliers[context.tier_index]
            numerator *= tier_numerator
            denominator *= tier_denominator
        points = self.round(numerator, denominator)
        if self.cap is not None and points > self.cap:
            return self.cap
        return points


def points_per_spend(
    plan: PointsPlan, context: PurchaseContext, paid: Sequence[int]
) -> tuple[int, list[LedgerEntry]]:
    """Points a purchase earns on its paid amounts, with the entry that explains them."""
    weights = plan.weights(context)
    points = plan.points(context, paid, weights)
    if points == 0:
        return 0, []
    purchase = context.purchase
    entry = LedgerEntry(
        purchase.id,
        purchase.customer_id,
        plan.rule.id,
        "points",
        points,
        None,
        None,
        plan.money,
        earn_reason,
        (plan, context, tuple(paid), weights, points),
    )
    return points, [entry]


def refund_points_per_spend(
    plan: PointsPlan,
    context: PurchaseContext,
    paid_left: Sequence[int],
    earned: int,
    refund_id: str,
) -> tuple[int, list[LedgerEntry]]:
    """Recompute a refunded purchase's points on what is left; take back the difference.

    Never more than the purchase was given: when a limit cut its points, a refund takes
    back only what the rest of the purchase no longer earns beyond that.
    """
    now = min(plan.points(context, paid_left, plan.weights(context)), earned)
    taken = now - earned
    if taken == 0:
        return now, []
    purchase = context.purchase
    entry = LedgerEntry(
        refund_id,
        purchase.customer_id,
        plan.rule.id,
        "points",
        taken,
        None,
        None,
        plan.money,
        REFUND_REASON,
        (purchase.id, plan.points_name, sum(paid_left), now, earned),
    )
    return now, [entry]


def earn_reason(
    money: Currency,
    plan: PointsPlan,
    context: PurchaseContext,
    paid: tuple[int, ...],
    weights: tuple[int, ...],
    points: int,
) -> str:
    """The reason of a points entry (the batch engine writes its entries with it too)."""
    eligible = sum(amount for amount, weight in zip(paid, weights) if weight)
    boosted: dict[int, int] = {}
    for weight in weights:
        if weight and weight != plan.base_weight:
            boosted[weight] = boosted.get(weight, 0) + 1
    lines = sorted(boosted.items(), reverse=True)
    return earn_text(money, plan, eligible, lines, context.tier_index, context.tier, points)


def earn_text(
    money: Currency,
    plan: PointsPlan,
    eligible: int,
    boosted: Sequence[tuple[int, int]],
    tier_index: int | None,
    tier: str | None,
    points: int,
) -> str:
    """:func:`earn_reason` from what it reads of a purchase: the amount paid on lines that
    earn, the count of lines of each boosted weight (weights in falling order, counts
    above 0), the tier (index and name; None for none) and the points."""
    words = _rule_words(money, plan)
    text = f"{money.format(eligible)} paid{words.rate}"
    for weight, count in boosted:
        factor, described = words.boosts[weight]
        text += f", x{factor} on {counted(count, 'lines')}{described}"
    if plan.tiers is not None and tier_index is not None:
        text += words.at_tier(tier_index, tier)
    if plan.cap is not None and points == plan.cap:
        text += f" (at most {plan.cap} per purchase)"
    return f"{text}: {counted(points, plan.points_name)}"


def earn_texts(
    money: Currency,
    plan: PointsPlan,
    eligible: Sequence[int],
    boosted: Sequence[tuple[int, Sequence[int]]],
    tiers: Sequence[tuple[int | None, str | None]],
    points: Sequence[int],
) -> list[str]:
    """:func:`earn_text` of many purchases at once (integer amounts and points): per
    purchase the amount paid on lines that earn, its tier (index and name; None for none)
    and its points; ``boosted`` gives per boosted weight (in falling order) each purchase's
    count of lines of that weight (0 for none). Each piece of text is written with
    ``earn_text``'s own words, once per distinct value, and joined in its order."""
    words = _rule_words(money, plan)
    paid: dict[int, str] = {}
    texts = []
    for amount in eligible:
        shown = paid.get(amount)
        if shown is None:
            shown = paid[amount] = f"{money.format(amount)} paid{words.rate}"
        texts.append(shown)
    for weight, counts in boosted:
        factor, described = words.boosts[weight]
        pieces: dict[int, str] = {}
        for row, count in enumerate(counts):
            if count:
                piece = pieces.get(count)
                if piece is None:
                    piece = pieces[count] = f", x{factor} on {counted(count, 'lines')}{described}"
                texts[row] += piece
    if plan.tiers is not None:
        for row, (index, tier) in enumerate(tiers):
            if index is not None:
                texts[row] += words.at_tier(index, tier)
    cap = plan.cap
    ends: dict[int, str] = {}
    for row, given in enumerate(points):
        end = ends.get(given)
        if end is None:
            capped = f" (at most {cap} per purchase)" if cap is not None and given == cap else ""
            end = ends[given] = f"{capped}: {counted(given, plan.points_name)}"
        texts[row] += end
    return texts


class _RuleWords:
    """The words of a points rule's reasons that do not change from entry to entry,
    written once per plan: a reason is written for every distinct purchase."""

    def __init__(self, money: Currency, plan: PointsPlan) -> None:
        self.plan = plan
        rule = plan.rule
        methods = rule.when.payment_methods
        by = "" if methods is None else f" by {' or '.join(methods)}"
        self.rate = (
            f"{by} at {counted(rule.points, plan.points_name)} "
            f"per {money.format(money.to_minor(rule.per))}"
        )
        self.boosts: dict[int, tuple[str, str]] = {}
        for multiplier in rule.multipliers:  # the first multiplier of a weight names it
            described = f" ({multiplier.description})" if multiplier.description else ""
            words = (plain_number(multiplier.factor), described)
            self.boosts.setdefault(_weight(plan, multiplier.factor), words)
        self.tiers: dict[tuple[int, str | None], str] = {}

    def at_tier(self, index: int, tier: str | None) -> str:
        found = self.tiers.get((index, tier))
        if found is None:
            multiplier = rule_tier_multiplier(self.plan, index)
            found = "" if multiplier == 1 else f", x{plain_number(multiplier)} at tier {tier}"
            self.tiers[(index, tier)] = found
        return found


_WORDS: dict[tuple[int, Currency], _RuleWords] = {}
_WORDS_KEPT = 64  # plans; a long-lived process (serve) compiles programs again and again


def _rule_words(money: Currency, plan: PointsPlan) -> _RuleWords:
    key = (id(plan), money)
    found = _WORDS.get(key)
    if found is None or found.plan is not plan:
        if len(_WORDS) >= _WORDS_KEPT:
            _WORDS.clear()
        found = _WORDS[key] = _RuleWords(money, plan)
    return found


def _weight(plan: PointsPlan, factor: Decimal) -> int:
    numerator, denominator = as_fraction(factor)
    return numerator * plan.base_weight // denominator


def rule_tier_multiplier(plan: PointsPlan, tier_index: int) -> Decimal:
    """The tier's points multiplier as a Decimal, for reasons."""
    assert plan.tiers is not None  # noqa: S101 -- only called when the program has tiers
    numerator, denominator = plan.tiers.multipliers[tier_index]
    return Decimal(numerator) / Decimal(denominator)


# --- the kind's spec: its steps on the customer state, and its words ------------------


def _purchase(
    plan: PointsPlan, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    amounts = list(context.gross) if plan.on_gross else basket.amounts
    shares = plan.scope.paid_by(context, amounts)
    if shares is None:  # no payment by the rule's payment methods
        return []
    points, entries = points_per_spend(plan, context, shares)
    if points:
        basket.points[plan.rule.id] = points
        if not plan.on_gross or shares is not amounts:
            basket.earned_on[plan.rule.id] = shares
    return entries


def _refund(
    plan: PointsPlan,
    state: WorkingState,
    record: PurchaseRecord,
    refund: Refund,
    before: list[int],
    refunded: list[int],
) -> list[LedgerEntry]:
    earned = record.points.get(plan.rule.id, 0)
    if earned == 0:
        return []
    by_method = plan.scope.payment_methods is not None  # it earned on shares: left_of them
    left = record.gross_left() if plan.on_gross and not by_method else record.left_of(plan.rule.id)
    now, entries = refund_points_per_spend(plan, record.context, left, earned, refund.id)
    record.points[plan.rule.id] = now
    return entries


def _why_not(
    plan: PointsPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    state: WorkingState,
    zone: tzinfo,
) -> str:
    refusal = scope_refusal(plan, record.context)
    if refusal is not None:
        return refusal
    weights = plan.weights(record.context)
    paid = sum(amount for amount, weight in zip(record.paid, weights) if weight)
    if paid == 0:
        return NOTHING_LEFT
    name = plan.points_name
    if plan.cap == 0:
        return f"it gives at most {counted(0, name)} per purchase"
    return f"{plan.money.format(paid)} paid rounds to {counted(0, name)} ({plan.rule.rounding})"


def _next_reward(plan: PointsPlan, state: WorkingState, now: Now) -> tuple[str | None, date]:
    return None, now.local_date  # the balance says it


def _refund_words(
    plan: PointsPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    returned: Returned,
    state: WorkingState,
) -> str:
    kept = record.points.get(plan.rule.id, 0)
    if kept == 0:
        return f"no {plan.points_name} left to take back on purchase {record.purchase.id}"
    return f"nothing to take back, {counted(kept, plan.points_name)} still earned"


def _compile(rule: PointsPerSpend, settings: Settings) -> PointsPlan:
    return PointsPlan.compile(
        rule, settings.money, settings.tiers, settings.points_name, settings.earn_on_gross
    )


def _worthless(rule: PointsPerSpend, program: Program) -> Iterator[Finding]:
    """At most 0 points a purchase, or a multiplier of 1 (``worthless-reward``)."""
    if rule.max_per_purchase == 0:
        yield Finding(
            ("max_per_purchase",),
            f"at most 0 {program.points.name} per purchase: the rule never gives any",
        )
    for position, multiplier in enumerate(rule.multipliers):
        if multiplier.factor == 1:
            yield Finding(
                ("multipliers", position, "factor"),
                "a factor of 1 changes nothing: the lines it matches earn the same without it",
            )


SPEC: KindSpec[PointsPerSpend, PointsPlan] = KindSpec(
    model=PointsPerSpend,
    compile=_compile,
    purchase=_purchase,
    refund=_refund,
    state_slices=lambda plan: (),  # it changes only the basket
    changes_prices=lambda plan: False,
    dated=None,
    rewards_referrer=None,
    units_are_rewards=False,
    stamps_every=lambda plan: None,
    why_not=_why_not,
    next_reward=_next_reward,
    refund_words=_refund_words,
    gives_fixed_gifts=False,
    lint={"worthless-reward": _worthless},
    reference=ReferenceExamples(
        rule_id="coffee-stars",
        keys={
            "multipliers": [{"factor": Decimal(2), "when": {"categories": ["coffee"]}}],
            "max_per_purchase": 500,
        },
        apart=(),
        refused=frozenset(),
    ),
)
"""What the engine and the tools know about ``points_per_spend``."""
