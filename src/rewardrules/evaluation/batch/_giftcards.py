"""Partner gift cards over columns: net spend per window from cumulative sums.

A window's net spend is a cumulative sum of qualifying paid spend (refunds take theirs
off, in the refunded purchase's window); cards follow the highest net spend reached. With
no refund in a window the net only grows, so the highest is the net itself; the few
windows with refunds take the running maximum in a loop.
"""

from __future__ import annotations

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
    ) -> list[CardsIssued]:
        """The cards each purchase issues, in event order."""
        plan = self.plan
        eligible = self.scope.line_flags(tier, frame) & purchase_lines
        spend = np.add.reduceat(np.where(eligible, paid, 0), frame.line_start[:-1])
        keys = calendar_keys(plan.rule.window, frame.local_date)
        delta = spend.astype(np.int64)
        refunded_windows = set()
        for step in steps:
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
        due = highest // plan.every_spend
        if plan.limit is not None:
            due = np.minimum(due, plan.limit)
        before = np.where(starts, 0, np.concatenate(([0], due[:-1])))
        issued = []
        for position in np.flatnonzero(due > before).tolist():
            issued.append(
                CardsIssued(
                    int(order[position]),
                    int(before[position]) + 1,
                    int(due[position]),
                    int(highest[position]),
                )
            )
        issued.sort(key=lambda cards: cards.event)
        return issued
