"""Bonus points over columns: fixed points for each purchase with an eligible priced unit.

The entries' reasons are the kind module's own: its step and its refund function are run
once on a real purchase context (built for that one purchase), and the bonus entry's text,
which is the same for every purchase of the rule, is shared by all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.scope import PurchaseContext
from rewardrules.engine.tiers import TierPlan
from rewardrules.evaluation.batch._amounts import LARGEST_HELD, wanted_points
from rewardrules.evaluation.batch._frame import Flags, Frame, Ints
from rewardrules.evaluation.batch._masks import ScopeColumns, scope_columns
from rewardrules.evaluation.batch._refunds import RefundStep
from rewardrules.events import Line, Purchase
from rewardrules.kinds._gifts import take_back_fixed
from rewardrules.kinds.bonus_points import BonusPlan, bonus_points


@dataclass(frozen=True, slots=True)
class BonusColumns:
    """A bonus rule compiled over a frame."""

    plan: BonusPlan
    scope: ScopeColumns
    given_before: Flags | None = None
    """Per customer, whether a saved state says the bonus was given once (``_resume``)."""

    @classmethod
    def of(cls, plan: BonusPlan, frame: Frame, tiers: TierPlan | None) -> BonusColumns:
        """Compile the rule's scope."""
        return cls(plan, scope_columns(plan.scope, frame, tiers))

    def priced(self, frame: Frame, tier: Ints, purchase_lines: Flags) -> Flags:
        """Per line, whether it is an eligible line with a price above zero."""
        return self.scope.line_flags(tier, frame) & purchase_lines & (frame.unit_price > 0)

    def given(self, frame: Frame, priced: Flags) -> npt.NDArray[Any]:
        """The points each event gets from the rule (``bonus_points``): int64, or Python
        integers where they might not add up within int64 (:func:`bonus_column`)."""
        units = np.where(priced, frame.quantity, 0)
        qualifies = np.add.reduceat(units, frame.line_start[:-1]) > 0
        if self.plan.rule.once_per_customer:
            if self.given_before is not None:
                qualifies = qualifies & ~self.given_before[frame.customer]
            index = np.flatnonzero(qualifies)
            first = np.ones(len(index), dtype=np.bool_)
            first[1:] = frame.customer[index[1:]] != frame.customer[index[:-1]]
            qualifies = np.zeros(frame.events, dtype=np.bool_)
            qualifies[index[first]] = True
        return bonus_column(qualifies, self.plan.points)

    def taken_back(
        self,
        frame: Frame,
        priced: Flags,
        given: Ints,
        steps: list[RefundStep],
        context_of: PurchaseContextMaker,
    ) -> list[tuple[int, LedgerEntry]]:
        """The entries of refunds that leave none of a bonus purchase's priced units."""
        taken: list[tuple[int, LedgerEntry]] = []
        earned: dict[int, int] = {}
        for step in steps:
            purchase = step.purchase
            points = earned.get(purchase, int(given[purchase]))
            if not points:
                continue
            start = int(frame.line_start[purchase])
            flags = priced[start : start + len(step.units_after)].tolist()
            quantities = frame.quantity[start : start + len(step.units_after)].tolist()
            left = sum(
                q - done for q, done, flag in zip(quantities, step.units_after, flags) if flag
            )
            if left:
                continue
            _, entries = take_back_fixed(
                self.plan.rule.id,
                self.plan.scope,
                context_of(purchase),
                list(step.units_after),
                points,
                str(frame.event_ids[step.event]),
                self.plan.points_name,
                self.plan.money,
            )
            earned[purchase] = 0
            taken += [(step.event, entry) for entry in entries]
        return taken

    def reason(self, context: PurchaseContext) -> str:
        """The bonus entry's reason (the same for every purchase of the rule)."""
        _, entries = bonus_points(self.plan, False, context)
        assert entries  # noqa: S101 -- called on a purchase that earns the bonus
        text = entries[0].template
        assert isinstance(text, str)  # noqa: S101 -- the kind writes its reason eagerly
        return text


class PurchaseContextMaker:
    """Builds the reference's ``PurchaseContext`` of one purchase of the frame, for the
    few places that call a kind function on a whole purchase."""

    def __init__(
        self,
        frame: Frame,
        tier: Ints,
        names: tuple[str, ...],
        written: Callable[[int], datetime],
    ) -> None:
        self.frame, self.tier, self.names, self.written = frame, tier, names, written

    def __call__(self, event: int) -> PurchaseContext:
        """The context of the purchase at ``event``."""
        frame = self.frame
        start, end = int(frame.line_start[event]), int(frame.line_start[event + 1])
        skus, categories = frame.sku.texts(start, end), frame.category.texts(start, end)
        prices = frame.unit_price[start:end].tolist()
        quantities = frame.quantity[start:end].tolist()
        at = self.written(event)
        lines = tuple(
            # The price is not read (the context's unit_prices are): no Decimal to build.
            Line.model_construct(
                sku=sku or "", category=category, quantity=quantity, unit_price=Decimal(0)
            )
            for sku, category, quantity in zip(skus, categories, quantities)
        )
        purchase = Purchase.model_construct(
            id=str(frame.event_ids[event]),
            customer_id=frame.customer_ids[int(frame.customer[event])],
            at=at,
            store=frame.store[event].as_py(),
            lines=lines,
        )
        index = int(self.tier[event])
        local = date.fromordinal(int(frame.local_date[event]))
        gross = [price * quantity for price, quantity in zip(prices, quantities)]
        return PurchaseContext(
            purchase=purchase,
            local_date=local,
            weekday=local.weekday(),
            unit_prices=tuple(prices),
            gross=tuple(gross),
            gross_total=sum(gross),
            tier=None if index < 0 else self.names[index],
            tier_index=None if index < 0 else index,
        )


def bonus_column(qualifies: Flags, points: int) -> npt.NDArray[Any]:
    """``points`` at each event that qualifies, 0 elsewhere: exactly, whatever the figure
    (:func:`~rewardrules.evaluation.batch._amounts.wanted_points`)."""
    column = np.zeros(len(qualifies), dtype=np.int64 if points <= LARGEST_HELD else object)
    column[qualifies] = points
    return wanted_points(column)
