"""Partner gift cards over columns: net spend per window from cumulative sums.

A window's net spend is a cumulative sum of qualifying paid spend (refunds take theirs
off, in the refunded purchase's window); cards follow the highest net spend reached. With
no refund in a window the net only grows, so the highest is the net itself; the few
windows with refunds take the running maximum in a loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rewardrules.engine.tiers import TierPlan
from rewardrules.evaluation.batch._frame import Flags, Frame, Ints
from rewardrules.evaluation.batch._masks import ScopeColumns, scope_columns
from rewardrules.evaluation.batch._refunds import RefundStep
from rewardrules.evaluation.batch._tiers import calendar_keys
from rewardrules.kinds.partner_gift_card import GiftCardPlan


@dataclass(frozen=True, slots=True)
class CardsIssued:
    """Gift cards a purchase issues: numbers ``first`` to ``last`` of its window."""

    event: int
    first: int
    last: int
    highest: int


@dataclass(frozen=True, slots=True)
class GiftCardColumns:
    """A partner gift card rule compiled over a frame."""

    plan: GiftCardPlan
    scope: ScopeColumns
    seeds: Mapping[tuple[int, int], tuple[int, int, int]] | None = None
    """Per (customer, window key) a saved state holds: its net spend, highest spend and
    cards issued, in minor units (``_resume``)."""
    saved_refunds: Mapping[int, tuple[int, int]] | None = None
    """Per refund of a purchase a saved state keeps: that purchase's local date (an
    ordinal) and the qualifying spend it gives back (``_saved_refunds``)."""

    @classmethod
    def of(cls, plan: GiftCardPlan, frame: Frame, tiers: TierPlan | None) -> GiftCardColumns:
        """Compile the rule's scope."""
        return cls(plan, scope_columns(plan.scope, frame, tiers))

    def issue(
        self,
        frame: Frame,
        tier: Ints,
        paid: Ints,
        purchase_lines: Flags,
        steps: list[RefundStep],
        aside: Flags | None = None,
    ) -> list[CardsIssued]:
        """The cards each purchase issues, in event order; ``aside``: the purchases its
        exclusive group set it aside at, whose spend (and refunds) do not count."""
        windows = self._windows(frame, tier, paid, purchase_lines, steps, aside)
        due, before = windows.due, windows.before
        return _issued(windows.order, before, due, windows.highest, due > before)

    def tried(
        self,
        frame: Frame,
        tier: Ints,
        paid: Ints,
        purchase_lines: Flags,
        steps: list[RefundStep],
        aside: Flags,
        tried_on: Ints | None = None,
    ) -> list[CardsIssued]:
        """The cards each purchase would issue were its spend to count (an exclusive group's
        trial), from the window's spend before it without the set-aside purchases.
        ``tried_on``: the amounts its own purchase is tried on (its group's basket, before
        the group's price members), when not ``paid``."""
        windows = self._windows(frame, tier, paid, purchase_lines, steps, aside)
        order, starts = windows.order, windows.starts
        events = order
        spend = windows.spend
        if tried_on is not None and frame.events:
            eligible = self.scope.line_flags(tier, frame) & purchase_lines
            spend = np.add.reduceat(np.where(eligible, tried_on, 0), frame.line_start[:-1])
        own = spend[events] * windows.purchases[events]
        # The net and highest before each position: the purchase's own delta taken off.
        prior_net = windows.net - windows.delta[events]
        prior_highest = np.where(starts, 0, np.concatenate(([0], windows.highest[:-1])))
        highest = np.maximum(prior_highest, prior_net + own)
        due = highest // self.plan.every_spend
        if self.plan.limit is not None:
            due = np.minimum(due, self.plan.limit)
        before = windows.before
        return _issued(events, before, due, highest, (due > before) & (own > 0))

    def _seeded(
        self, starts: Flags, customer: Ints, keys: Ints, net: Ints, highest: Ints
    ) -> list[tuple[int, int, int]]:
        """Start the windows a saved state holds from its net and highest spend (changed in
        place); their groups' (first, end) positions and the cards already issued."""
        if not self.seeds:
            return []
        found = []
        for low in np.flatnonzero(starts).tolist():
            seed = self.seeds.get((int(customer[low]), int(keys[low])))
            if seed is None:
                continue
            end = _group_end(starts, low)
            saved_net, saved_highest, cards = seed
            net[low:end] += saved_net
            highest[low:end] = np.maximum.accumulate(np.maximum(net[low:end], saved_highest))
            found.append((low, end, cards))
        return found

    def _windows(
        self,
        frame: Frame,
        tier: Ints,
        paid: Ints,
        purchase_lines: Flags,
        steps: list[RefundStep],
        aside: Flags | None,
    ) -> _Windows:
        plan = self.plan
        eligible = self.scope.line_flags(tier, frame) & purchase_lines
        spend = np.add.reduceat(np.where(eligible, paid, 0), frame.line_start[:-1])
        keys = calendar_keys(plan.rule.window, frame.local_date)
        delta = spend.astype(np.int64)
        if aside is not None:
            delta = np.where(aside, 0, delta)
        refunded_windows = set()
        for step in steps:
            if aside is not None and aside[step.purchase]:
                delta[step.event] = 0  # the purchase never counted for it
                continue
            start = int(frame.line_start[step.purchase])
            flags = eligible[start : start + len(step.amounts_after)].tolist()
            back = sum(
                after - before
                for after, before, flag in zip(step.amounts_after, step.amounts_before, flags)
                if flag
            )
            delta[step.event] = -back
            keys[step.event] = keys[step.purchase]
            refunded_windows.add((int(frame.customer[step.event]), int(keys[step.purchase])))
        for event, (day, back) in (self.saved_refunds or {}).items():
            keys[event] = calendar_keys(plan.rule.window, np.asarray([day], dtype=np.int64))[0]
            delta[event] = -back
            refunded_windows.add((int(frame.customer[event]), int(keys[event])))
        index = np.arange(frame.events, dtype=np.int64)
        order = np.lexsort((index, keys, frame.customer))
        grouped_keys, grouped_customer = keys[order], frame.customer[order]
        starts = np.ones(frame.events, dtype=np.bool_)
        starts[1:] = (grouped_keys[1:] != grouped_keys[:-1]) | (
            grouped_customer[1:] != grouped_customer[:-1]
        )
        group_start = np.maximum.accumulate(np.where(starts, index, 0))
        total = np.concatenate(([0], np.cumsum(delta[order])))
        net = total[1:] - total[group_start]
        highest = net.copy()
        for low in np.flatnonzero(starts).tolist():
            window = (int(grouped_customer[low]), int(grouped_keys[low]))
            if window in refunded_windows:
                end = low + 1
                while end < frame.events and not starts[end]:
                    end += 1
                highest[low:end] = np.maximum.accumulate(np.maximum(net[low:end], 0))
        seeded = self._seeded(starts, grouped_customer, grouped_keys, net, highest)
        due = highest // plan.every_spend
        if plan.limit is not None:
            due = np.minimum(due, plan.limit)
        for low, end, cards in seeded:
            due[low:end] = np.maximum(due[low:end], cards)
        before = np.where(starts, 0, np.concatenate(([0], due[:-1])))
        for low, _, cards in seeded:
            before[low] = cards
        purchases = np.zeros(frame.events, dtype=np.int64)
        purchases[frame.line_event[purchase_lines]] = 1
        return _Windows(order, starts, net, highest, due, before, delta, spend, purchases)


def _group_end(starts: Flags, low: int) -> int:
    """One past the last position of the window group starting at ``low``."""
    following = np.flatnonzero(starts[low + 1 :])
    return low + 1 + int(following[0]) if len(following) else len(starts)


@dataclass(frozen=True, slots=True)
class _Windows:
    """A rule's windows over the frame, in (customer, window, event) order: where each
    window starts, the net and highest spend after each event, the cards due then and
    before; per event (frame order) its delta, its spend, and whether it is a purchase."""

    order: Ints
    starts: Flags
    net: Ints
    highest: Ints
    due: Ints
    before: Ints
    delta: Ints
    spend: Ints
    purchases: Ints


def _issued(
    events: Ints, before: Ints, due: Ints, highest: Ints, chosen: Flags
) -> list[CardsIssued]:
    """The cards issued at the ``chosen`` positions of a window walk (cards ``before`` + 1 to
    ``due`` at each position's event), in event order."""
    found = [
        CardsIssued(
            int(events[position]),
            int(before[position]) + 1,
            int(due[position]),
            int(highest[position]),
        )
        for position in np.flatnonzero(chosen).tolist()
    ]
    found.sort(key=lambda cards: cards.event)
    return found
