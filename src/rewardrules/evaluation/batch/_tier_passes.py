"""The tier fixed point's later passes, on the events whose level moved.

``_compute`` iterates levels and prices to their fixed point: each pass prices every line
at the latest levels. After the first pass or two only a few events' levels still move
(on a million purchases: tens of thousands, then hundreds, then a handful), yet a full
pass prices every line again.

When every price rule is a tiered discount, and there is no exclusive group, no limited
or final rule and no saved state, what a line pays is a chain of per-line discounts from
its gross, each at its own event's level: a line whose event kept its level pays what it
paid at the last pass, and each rule takes off it what it took. So a later pass reprices
only the lines of the events whose level changed, with the very arithmetic of
:meth:`DiscountColumns.apply` (``off``), and keeps every other line's amounts; the
refunds already rerun only on the purchases whose paid amounts changed (``_refunds``).
The tiers' fixed point, hence every result, is the one full passes reach.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardrules.evaluation.batch._frame import Flags, Frame, Ints
from rewardrules.evaluation.batch._rules import _SAFE, DiscountColumns, per_event

REPRICE_SHARE = 4
"""A later pass reprices only the changed events when they are at most one in this many
events; beyond that a full pass costs less."""


class DiscountPasses:
    """What the last pass gave, per line and per discount, to reprice changed events on."""

    def __init__(self, stages: list[DiscountColumns]) -> None:
        self.stages = stages
        self.paid: Ints | None = None
        self.given: list[tuple[Ints, Ints]] = []
        self.event_paid: Ints | None = None
        """What each event paid (its lines' sum), at the last pass."""

    @classmethod
    def of(cls, computation: Any) -> DiscountPasses | None:
        """The passes for a computation whose prices allow them, else None."""
        stages = computation.price_stages
        plan, frame = computation.plan, computation.frame
        plain = (
            bool(stages)
            and all(type(stage) is DiscountColumns for stage in stages)
            and not computation.groups.groups
            and not any(stage.plan.rule.id in computation.limited for stage in stages)
            and not plan.final_rules
            and computation.finals is None
            and computation.resumed is None
        )
        # Every amount is int64 in a full pass too: the same dtype, the same arithmetic.
        if not plain or any(stage.bound(frame.gross) >= _SAFE for stage in stages):
            return None
        return cls(stages)

    @staticmethod
    def worth(moved: Ints | None, events: int) -> bool:
        """Whether to reprice only ``moved`` (None before the first pass) rather than all."""
        return moved is not None and len(moved) * REPRICE_SHARE <= events

    def keep(self, frame: Frame, paid: Any, given: list[Any]) -> None:
        """Remember a full pass's amounts and what each discount took."""
        self.paid = np.asarray(paid, dtype=np.int64)
        self.event_paid = np.asarray(per_event(frame, self.paid), dtype=np.int64)
        self.given = [(np.asarray(taken), np.asarray(units)) for taken, units in given]

    def reprice(
        self, computation: Any, events: Ints, purchase_lines: Flags
    ) -> tuple[Ints, list[Any]]:
        """The amounts and what each discount gave at ``computation.tier``, where only
        ``events`` (sorted) changed level since the last pass; then the refunds on them."""
        assert self.paid is not None  # noqa: S101 -- kept after a full pass
        assert self.event_paid is not None  # noqa: S101 -- kept with it
        frame: Frame = computation.frame
        tier: Ints = computation.tier
        first = frame.line_start[events]
        sizes = frame.line_start[events + 1] - first
        offsets = np.cumsum(sizes) - sizes
        rows = np.repeat(first - offsets, sizes) + np.arange(int(sizes.sum()), dtype=np.int64)
        row_tier = np.repeat(tier[events], sizes)
        row_event = np.repeat(events, sizes)
        quantity = frame.quantity[rows]
        purchase = purchase_lines[rows]
        amounts = frame.gross[rows]
        given: list[tuple[Ints, Ints]] = []
        for stage, (last_taken, last_units) in zip(self.stages, self.given, strict=True):
            scope = stage.scope
            admitted = scope.events[row_event] & scope.tiers[row_tier] & stage.present[row_tier]
            flags = scope.lines[rows] & admitted & purchase & (amounts > 0)
            chosen = np.flatnonzero(flags)
            discount = np.zeros(len(rows), dtype=np.int64)
            discount[chosen] = stage.off(amounts[chosen], row_tier[chosen])
            amounts = amounts - discount
            taken, units = last_taken.copy(), last_units.copy()
            taken[rows] = discount
            if len(events):
                units[events] = np.add.reduceat(np.where(discount > 0, quantity, 0), offsets)
            given.append((taken, units))
        paid, event_paid = self.paid.copy(), self.event_paid.copy()
        paid[rows] = amounts
        if len(events):
            event_paid[events] = np.add.reduceat(amounts, offsets)
        computation.refunds.apply(frame, paid)
        self.paid, self.given, self.event_paid = paid, given, event_paid
        return paid, list(given)
