"""Punch cards (``every_nth_free``) over columns: counts from cumulative sums, rewards per card.

A card's count is a cumulative sum of what each purchase adds, per customer; a refund
takes units off it but never below the last completed card, which is not a sum: the
customers with such a refund are counted in a short integer loop instead. The purchases
that complete a card (one in ``every``) choose their cheapest units in a loop of their own,
as ``kinds.every_nth_free`` does; its reason function writes their entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cmp_to_key
from itertools import repeat
from typing import NamedTuple, cast

import numpy as np

from rewardrules.engine.tiers import TierPlan
from rewardrules.evaluation.batch._frame import Flags, Frame, Ints
from rewardrules.evaluation.batch._masks import ScopeColumns, scope_columns
from rewardrules.evaluation.batch._refunds import RefundStep
from rewardrules.kinds.every_nth_free import PunchCardPlan, _worth

# The kind module's own pricing of a freed unit and its reason text, so that both engines
# say and compute the same (private there: no other module of the reference needs them).
from rewardrules.kinds.every_nth_free import _reward_reason as reward_reason  # noqa: F401


class CardReward(NamedTuple):
    """What a purchase that completes cards gets: its count after it, the cards completed,
    and the units and value given (free or discounted). A named tuple: a pass of a long
    history makes one per completed card, and a tuple is made several times faster than
    a frozen dataclass."""

    event: int
    after: int
    completed: int
    units: int
    value: int


@dataclass(frozen=True, slots=True)
class CardCounts:
    """Each event's count before and after it, and each customer's final count."""

    before: Ints
    after: Ints
    final: Ints


@dataclass(frozen=True, slots=True)
class CardColumns:
    """A punch card compiled over a frame."""

    plan: PunchCardPlan
    scope: ScopeColumns
    offset: Ints | None = None
    """Per customer, the count a saved state resumes from (``_resume``); None for none."""
    saved_gone: Mapping[int, int] | None = None
    """Per refund of a purchase a saved state keeps, the units it takes off the card."""

    @classmethod
    def of(cls, plan: PunchCardPlan, frame: Frame, tiers: TierPlan | None) -> CardColumns:
        """Compile the card's scope."""
        return cls(plan, scope_columns(plan.scope, frame, tiers))

    def qualifying(self, frame: Frame, tier: Ints, purchase_lines: Flags) -> Ints:
        """Per line, the units that count toward the card (0 for zero-priced lines)."""
        flags = self.scope.line_flags(tier, frame) & purchase_lines & (frame.unit_price > 0)
        return np.where(flags, frame.quantity, 0).astype(np.int64)

    def counts(self, frame: Frame, qualifying: Ints, steps: list[RefundStep]) -> CardCounts:
        """The card's count around every event, customer by customer."""
        every = self.plan.every
        per_purchase = (
            np.add.reduceat(qualifying, frame.line_start[:-1])
            if frame.events
            else np.zeros(0, dtype=np.int64)
        )
        added = (per_purchase > 0).astype(np.int64) if self.plan.counts_visits else per_purchase
        gone = self._gone(frame, qualifying, steps)
        if self.saved_gone:
            gone.update(self.saved_gone)
        starts = frame.customer_start
        total = np.concatenate(([0], np.cumsum(added)))
        after = total[1:] - total[starts[frame.customer]]
        if self.offset is not None:
            after = after + self.offset[frame.customer]
        before = after - added
        if gone:
            _floor_at_refunds(frame, every, gone, before, after)
        final = after[starts[1:] - 1] if frame.events else np.zeros(0, dtype=np.int64)
        return CardCounts(before, after, final)

    def _gone(self, frame: Frame, qualifying: Ints, steps: list[RefundStep]) -> dict[int, int]:
        """Per refund event, the units (or visit) it takes off the card, when any."""
        gone: dict[int, int] = {}
        for step in steps:
            start, end = (
                int(frame.line_start[step.purchase]),
                int(frame.line_start[step.purchase + 1]),
            )
            units = qualifying[start:end].tolist()
            left_before = sum(u - d for u, d in zip(units, step.units_before) if u)
            left_now = sum(u - d for u, d in zip(units, step.units_after) if u)
            if self.plan.counts_visits:
                taken = 1 if left_before > 0 and left_now == 0 else 0
            else:
                taken = left_before - left_now
            if taken:
                gone[step.event] = taken
        return gone

    def free(
        self,
        frame: Frame,
        counts: CardCounts,
        qualifying: Ints,
        amounts: Ints,
        units_left: Ints,
    ) -> tuple[Ints, Ints, list[CardReward]]:
        """Free (or discount) the cheapest qualifying units of each completed card.

        Over columns (:func:`_cheapest`) when the amounts are int64 whose products fit;
        otherwise one purchase at a time, as ``kinds.every_nth_free`` does (:func:`_give`).
        """
        every = self.plan.every
        completed = counts.after // every - counts.before // every
        events = np.flatnonzero(completed > 0)
        freed = np.array(amounts, copy=True)
        left = np.array(units_left, copy=True)
        if not len(events):
            return freed, left, []
        after = counts.after
        found = _cheapest(self.plan, frame, events, completed[events], qualifying, freed, left)
        if found is not None:
            if not found:
                return freed, left, []
            given_at, units, values = zip(*found, strict=True)
            chosen = np.asarray(given_at, dtype=np.int64)
            rows = zip(given_at, after[chosen].tolist(), completed[chosen].tolist(), units, values)
            # Made by tuple.__new__ over the rows, without a Python call each: a long history
            # completes hundreds of thousands of cards.
            made = map(tuple.__new__, repeat(CardReward), rows)
            return freed, left, cast(list[CardReward], list(made))
        rewards = []
        starts = frame.line_start
        for event in events.tolist():
            start, end = int(starts[event]), int(starts[event + 1])
            line_amounts = freed[start:end].tolist()
            line_left = left[start:end].tolist()
            cards = int(completed[event])
            given, value = _give(
                self.plan, cards, qualifying[start:end].tolist(), line_amounts, line_left
            )
            if given:
                freed[start:end] = line_amounts
                left[start:end] = line_left
                rewards.append(CardReward(event, int(after[event]), cards, given, value))
        return freed, left, rewards


def _floor_at_refunds(
    frame: Frame, every: int, gone: dict[int, int], before: Ints, after: Ints
) -> None:
    """The counts around each event (``before`` and ``after``, in place: the running sums
    of what each purchase added) with the refunds in ``gone`` taken off, each flooring the
    count at the customer's last completed card; a refund adds nothing itself.

    Only the refunds are visited, in order: each shifts the counts of its customer's later
    events by what it changed against the running sum (one difference array for all),
    rather than a walk through every event of a customer who refunds.
    """
    customer_of, starts = frame.customer, frame.customer_start
    shift_of: dict[int, int] = {}  # per customer, what its refunds so far took off
    change = np.zeros(frame.events + 1, dtype=np.int64)
    floored = []
    for event in sorted(gone):
        customer = int(customer_of[event])
        shift = shift_of.get(customer, 0)
        count = int(before[event]) + shift
        now = max(count - gone[event], count // every * every)
        moved = now - int(after[event])
        floored.append((event, count, now))
        change[event + 1] += moved - shift
        change[int(starts[customer + 1])] -= moved - shift
        shift_of[customer] = moved
    shifts = np.cumsum(change[:-1])
    before += shifts
    after += shifts
    for event, count, now in floored:
        before[event], after[event] = count, now


_FITS = 2**61
"""Products below this, doubled and added to, still fit in int64."""


def _cheapest(
    plan: PunchCardPlan,
    frame: Frame,
    events: Ints,
    cards: Ints,
    qualifying: Ints,
    amounts: Ints,
    units_left: Ints,
) -> list[tuple[int, int, int]] | None:
    """:func:`_give` for every completing purchase at once: ``amounts`` and ``units_left``
    changed in place; each purchase that gives units, with the units and their value.

    Each purchase's lines with units to free are put in ``_give``'s order (the cheapest
    unit first, then line order) by a sort on the unit price as a float, checked exactly
    by cross-multiplying each neighbouring pair; a card takes from them in that order.
    None (nothing changed) when the amounts are not int64, when the products might not
    fit, or when the floats got the order wrong: the caller then runs ``_give``.
    """
    if amounts.dtype != np.int64 or units_left.dtype != np.int64:
        return None
    starts = frame.line_start
    first, sizes = starts[events], starts[events + 1] - starts[events]
    owner = np.repeat(np.arange(len(events)), sizes)
    lines = np.arange(int(sizes.sum()), dtype=np.int64) + np.repeat(
        first - np.cumsum(sizes) + sizes, sizes
    )
    available = np.minimum(qualifying[lines], units_left[lines])
    usable = available > 0
    owner, lines, available = owner[usable], lines[usable], available[usable]
    if not len(lines):
        return []
    amount, left = amounts[lines], units_left[lines]
    numerator, denominator = (1, 1) if plan.reward == "free" else plan.percent
    biggest = int(left.max())
    if (
        int(np.abs(amount).max()) * biggest * numerator >= _FITS
        or biggest * 100 * denominator >= _FITS
    ):
        return None
    order = np.lexsort((lines, amount / left, owner))
    owner, lines, available = owner[order], lines[order], available[order]
    amount, left = amount[order], left[order]
    same = owner[1:] == owner[:-1]
    if np.any(same & (amount[:-1] * left[1:] > amount[1:] * left[:-1])):
        return None
    heads = np.flatnonzero(np.concatenate(([True], ~same)))
    group = np.cumsum(np.concatenate(([True], ~same))) - 1
    before = np.cumsum(available) - available
    before -= before[heads][group]
    take = np.clip(cards[owner] - before, 0, available)
    if plan.reward == "free":
        top, bottom = amount * take, left
    else:
        top, bottom = amount * take * numerator, left * 100 * denominator
    # money.divide_half_up, over columns
    worth = np.where(
        top >= 0, (2 * top + bottom) // (2 * bottom), -((-2 * top + bottom) // (2 * bottom))
    )
    if plan.reward == "free":
        worth = np.where(take == left, amount, worth)
        units_left[lines] -= take
    amounts[lines] -= worth
    given = np.add.reduceat(take, heads)
    value = np.add.reduceat(worth, heads)
    gives = given > 0
    return list(
        zip(
            events[owner[heads][gives]].tolist(),
            given[gives].tolist(),
            value[gives].tolist(),
            strict=True,
        )
    )


def _give(
    plan: PunchCardPlan,
    completed: int,
    qualifying: list[int],
    amounts: list[int],
    units_left: list[int],
) -> tuple[int, int]:
    """``every_nth_free`` on one purchase's lines (changed in place): units given, value."""
    available = [min(units, left) for units, left in zip(qualifying, units_left)]
    order = [index for index, units in enumerate(available) if units]
    if len(order) > 1:  # the cheapest unit first (most purchases have one such line)

        def cheaper(first: int, second: int) -> int:
            # amounts[i] / units_left[i] compared exactly, by cross-multiplying; then line order
            difference = amounts[first] * units_left[second] - amounts[second] * units_left[first]
            return difference or first - second

        order.sort(key=cmp_to_key(cheaper))
    to_give, given, value = completed, 0, 0
    for index in order:
        if to_give == 0:
            break
        take = min(to_give, available[index])
        amount, left = amounts[index], units_left[index]
        worth = _worth(plan, amount, left, take)
        if plan.reward == "free":
            units_left[index] = left - take
        amounts[index] = amount - worth
        value += worth
        given += take
        to_give -= take
    return given, value
