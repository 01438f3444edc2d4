"""The rule kinds over columns: each computes, for every purchase at once, what the kind's
step in ``rewardrules.kinds`` computes for one purchase.

Integers stay exact: a computation whose bound might pass int64 runs on Python integers
(numpy object arrays) instead, with the same formulas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardrules.engine.tiers import TierPlan
from rewardrules.evaluation.batch._amounts import LARGEST_HELD, wanted_points
from rewardrules.evaluation.batch._frame import Flags, Frame, Ints
from rewardrules.evaluation.batch._masks import ScopeColumns, scope_columns
from rewardrules.kinds.order_discount import AMOUNT_REASON, PERCENT_REASON, OrderDiscountPlan
from rewardrules.kinds.points_per_spend import PointsPlan
from rewardrules.kinds.tiered_discount import TieredDiscountPlan
from rewardrules.money import divide_ceil, divide_floor, divide_half_up
from rewardrules.text import plain_number

Numbers = npt.NDArray[Any]
"""int64, or Python integers (object) where int64 could overflow."""

_SAFE = 2**62


def _exact(values: Ints, bound: int) -> Numbers:
    """The values as int64 when ``bound`` fits, else as Python integers."""
    return values if bound < _SAFE else values.astype(object)


def _largest(values: Ints) -> int:
    return int(values.max()) if len(values) else 0


def per_event(frame: Frame, line_values: Numbers) -> Numbers:
    """Sum line values per event (every event has at least one row)."""
    if frame.events == 0:
        return line_values[:0]
    return np.add.reduceat(line_values, frame.line_start[:-1])


def _tier_fractions(
    tiers: TierPlan | None, fractions: dict[str, tuple[int, int]]
) -> tuple[Ints, Ints, Flags]:
    """Per tier index (the last position: no tier), numerator, denominator, and whether any."""
    names = () if tiers is None else tiers.names
    numerators = [fractions.get(name, (0, 1))[0] for name in names] + [0]
    denominators = [fractions.get(name, (0, 1))[1] for name in names] + [1]
    present = [name in fractions for name in names] + [False]
    return (
        np.asarray(numerators, dtype=object if max(numerators) >= _SAFE else np.int64),
        np.asarray(denominators, dtype=object if max(denominators) >= _SAFE else np.int64),
        np.asarray(present, dtype=np.bool_),
    )


@dataclass(frozen=True, slots=True)
class DiscountColumns:
    """A tiered discount compiled over a frame."""

    plan: TieredDiscountPlan
    scope: ScopeColumns
    numerators: Ints
    denominators: Ints
    present: Flags

    @classmethod
    def of(cls, plan: TieredDiscountPlan, frame: Frame, tiers: TierPlan | None) -> DiscountColumns:
        """Compile the rule's scope and percentages."""
        numerators, denominators, present = _tier_fractions(tiers, plan.percents)
        return cls(plan, scope_columns(plan.scope, frame, tiers), numerators, denominators, present)

    def apply(
        self, frame: Frame, tier: Ints, amounts: Numbers, purchase_lines: Flags
    ) -> tuple[Numbers, Numbers]:
        """The amounts after the discount, and each line's discount (``tiered_discount``).

        Each eligible line with something left gets the tier's percentage off, rounded
        half-up per line.
        """
        # The event's conditions and tier once per event, then the rounding only on the
        # lines that get a discount (the tier iteration runs this once per pass).
        admitted = self.scope.admits(tier) & self.present[tier]
        flags = self.scope.lines & admitted[frame.line_event] & purchase_lines
        flags &= amounts > 0
        chosen = np.flatnonzero(flags)
        line_tier = tier[frame.line_event[chosen]]
        exact = _exact(np.asarray(amounts)[chosen], self.bound(amounts))
        rounded = self.off(exact, line_tier)
        discount = np.zeros(len(flags), dtype=rounded.dtype)
        discount[chosen] = rounded
        return amounts - discount, discount

    def bound(self, amounts: Numbers) -> int:
        """What the rounding's products stay below, over these amounts."""
        largest = _largest(np.asarray(amounts, dtype=np.int64))
        return 2 * largest * max(int(self.numerators.max()), 1) + 2 * 100 * int(
            self.denominators.max()
        )

    def off(self, exact: Numbers, line_tier: Ints) -> Numbers:
        """What comes off each of these amounts at its line's tier, rounded half-up."""
        numerator = self.numerators[line_tier]
        scale = 100 * self.denominators[line_tier]
        return (2 * exact * numerator + scale) // (2 * scale)


@dataclass(frozen=True, slots=True)
class OrderDiscountColumns:
    """An order offer's percent or amount compiled over a frame (a gift item is refused)."""

    plan: OrderDiscountPlan
    scope: ScopeColumns

    @classmethod
    def of(
        cls, plan: OrderDiscountPlan, frame: Frame, tiers: TierPlan | None
    ) -> OrderDiscountColumns:
        """Compile the rule's scope."""
        return cls(plan, scope_columns(plan.scope, frame, tiers))

    @property
    def template(self) -> str:
        """Its entries' reason (``order_discount``'s)."""
        return PERCENT_REASON if self.plan.percent is not None else AMOUNT_REASON

    def first_argument(self) -> object:
        """What its reason says first: the percent, or the amount written."""
        rule = self.plan.rule
        return plain_number(rule.percent) if rule.percent is not None else self.plan.amount

    def apply(
        self, frame: Frame, tier: Ints, amounts: Numbers, purchase_lines: Flags
    ) -> tuple[Numbers, Numbers]:
        """The amounts after the offer, and each line's discount (``order_discount``).

        A percent comes off each eligible line with something left, rounded half-up per
        line; an amount is shared by what each has left (``share_amount``): floored
        shares, then a minor unit each to the largest remainders, the earlier line first.
        """
        flags = self.scope.line_flags(tier, frame) & purchase_lines
        flags &= np.asarray(amounts) > 0
        paid = np.asarray(amounts, dtype=np.int64)
        left = np.where(flags, paid, 0)
        plan = self.plan
        if plan.percent is not None:
            numerator, denominator = plan.percent
            scale = 100 * denominator
            bound = 2 * _largest(left) * numerator + 2 * scale
            exact = _exact(left, bound)
            discount = (2 * exact * numerator + scale) // (2 * scale)
            return amounts - discount, discount
        assert plan.amount is not None  # noqa: S101 -- a gift item is refused before
        shares = self._shares(frame, left, plan.amount)
        return amounts - shares, shares

    def _shares(self, frame: Frame, left: Ints, amount: int) -> Numbers:
        total = np.asarray(per_event(frame, left))
        given = np.minimum(total, amount)
        line_event = frame.line_event
        bound = max(_largest(left), 1) * amount
        exact = _exact(left, bound)
        line_total = np.maximum(total[line_event], 1)
        line_given = given[line_event]
        shares = exact * line_given // line_total
        remainders = exact * line_given % line_total
        over = given - np.asarray(per_event(frame, shares))
        count = len(left)
        order = np.lexsort((np.arange(count), -np.asarray(remainders, dtype=np.int64), line_event))
        rank = np.empty(count, dtype=np.int64)
        rank[order] = np.arange(count) - frame.line_start[line_event[order]]
        shares = shares + (rank < over[line_event])
        return np.where(left > 0, shares, 0)


@dataclass(frozen=True, slots=True)
class GiftItemColumns:
    """An order offer's gift item compiled over a frame (outside groups and limits)."""

    plan: OrderDiscountPlan
    scope: ScopeColumns

    @classmethod
    def of(cls, plan: OrderDiscountPlan, frame: Frame, tiers: TierPlan | None) -> GiftItemColumns:
        """Compile the rule's scope."""
        return cls(plan, scope_columns(plan.scope, frame, tiers))

    def given(self, frame: Frame, tier: Ints, purchase_lines: Flags) -> Ints:
        """The events given the gift (``gift_item``): each purchase the filter admits with
        an eligible line priced above zero."""
        priced = self.scope.line_flags(tier, frame) & purchase_lines & (frame.unit_price > 0)
        units = np.where(priced, frame.quantity, 0)
        return np.flatnonzero(np.asarray(per_event(frame, units)) > 0)

    def label(self) -> str:
        """What its reason names: the gift's name, or its sku."""
        gift = self.plan.rule.gift_item
        assert gift is not None  # noqa: S101 -- compiled only for a gift item
        return gift.name or gift.sku


AnyDiscount = DiscountColumns | OrderDiscountColumns
"""A price rule that takes money off lines (not a punch card): one entry per purchase."""


@dataclass(frozen=True, slots=True)
class PointsColumns:
    """A points rule compiled over a frame: its scope and its multipliers' scopes."""

    plan: PointsPlan
    scope: ScopeColumns
    multipliers: tuple[tuple[ScopeColumns, int], ...]
    tier_numerators: Ints
    tier_denominators: Ints

    @classmethod
    def of(cls, plan: PointsPlan, frame: Frame, tiers: TierPlan | None) -> PointsColumns:
        """Compile the rule's scopes and its tiers' multipliers."""
        multipliers = tuple(
            (scope_columns(scope, frame, tiers), weight) for scope, weight, _ in plan.multipliers
        )
        levels = () if plan.tiers is None else plan.tiers.multipliers
        numerators = [numerator for numerator, _ in levels] + [1]
        denominators = [denominator for _, denominator in levels] + [1]
        return cls(
            plan,
            scope_columns(plan.scope, frame, tiers),
            multipliers,
            np.asarray(numerators, dtype=object),
            np.asarray(denominators, dtype=object),
        )

    def weights(self, frame: Frame, tier: Ints, purchase_lines: Flags) -> Ints:
        """Each line's factor over the common denominator; 0 for lines the rule ignores.

        The largest factor whose filter matches the line wins (``PointsPlan.weights``).
        """
        eligible = self.scope.line_flags(tier, frame) & purchase_lines
        # Weights past int64 (a factor of 20 digits) as Python integers: an int64 column
        # would wrap them around silently.
        largest = max([self.plan.base_weight, *(weight for _, weight in self.multipliers)])
        kind = np.int64 if largest <= LARGEST_HELD else object
        weights = np.where(eligible, self.plan.base_weight, 0).astype(kind)
        # The multipliers are ordered by falling weight: the first that matches wins, so
        # apply them from the last, each overriding those after it.
        for scope, weight in reversed(self.multipliers):
            weights = np.where(eligible & scope.line_flags(tier, frame), weight, weights)
        return weights

    def points(self, frame: Frame, tier: Ints, paid: Numbers, weights: Ints) -> Numbers:
        """Each purchase's points on these amounts: rounded once, then capped
        (``max_per_purchase``). What the rule wants to give, before its limits and its
        group (:func:`~rewardrules.evaluation.batch._amounts.wanted_points`): int64, or
        Python integers when they might not add up within int64."""
        plan = self.plan
        largest_weight = max(_largest(weights), 1)
        tier_bound = max(int(max(self.tier_numerators)), int(max(self.tier_denominators)))
        line_bound = _largest(np.asarray(paid, dtype=np.int64)) * largest_weight
        event_bound = line_bound * max(_largest(np.diff(frame.line_start)), 1)
        bound = 2 * event_bound * plan.numerator * tier_bound + 2 * plan.denominator * tier_bound
        weighted = per_event(frame, _exact(np.asarray(paid), bound) * weights)
        numerator: Numbers
        denominator: Numbers | int
        if bound < _SAFE:
            # Every product fits in int64 (the bound covers them): no Python integers.
            numerator = plan.numerator * np.asarray(weighted, dtype=np.int64)
            denominator = plan.denominator
            if plan.tiers is not None:
                numerator *= self.tier_numerators.astype(np.int64)[tier]
                denominator = plan.denominator * self.tier_denominators.astype(np.int64)[tier]
        else:
            numerator = plan.numerator * weighted
            denominator = np.full(frame.events, plan.denominator, dtype=object)
            if plan.tiers is not None:
                numerator = numerator * self.tier_numerators[tier]
                denominator = denominator * self.tier_denominators[tier]
        rounding = plan.round
        if rounding is divide_floor:
            points = numerator // denominator
        elif rounding is divide_ceil:
            points = -(-numerator // denominator)
        else:
            assert rounding is divide_half_up  # noqa: S101 -- the three roundings
            points = (2 * numerator + denominator) // (2 * denominator)
        if plan.cap is not None:
            points = np.minimum(points, plan.cap)
        return wanted_points(np.asarray(points))
