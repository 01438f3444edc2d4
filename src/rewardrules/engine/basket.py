"""A purchase as the rules of one evaluation change it, and snapshots to try a rule out.

:class:`Basket` holds the line amounts and the units not yet made free as price rules go,
the points each earning rule gave, and the amounts it earned on. :class:`Snapshot` saves
what a rule's step can change (its basket and its slices of the customer's state) so that
an exclusive group can try each member and a limit can re-run a rule within what is left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rewardrules.engine.scope import PurchaseContext

if TYPE_CHECKING:
    from rewardrules.engine.limits import Allowance
    from rewardrules.engine.working_state import WorkingState


class Basket:
    """A purchase's line amounts and units not yet made free, as price rules go."""

    __slots__ = ("allowance", "amounts", "earned_on", "points", "units_left")

    def __init__(self, context: PurchaseContext) -> None:
        self.amounts = list(context.gross)
        self.units_left = [line.quantity for line in context.purchase.lines]
        self.points: dict[str, int] = {}
        self.earned_on: dict[str, list[int]] = {}
        """Per rule that earns on amounts (points, gift cards), the amounts it saw: a
        refund recomputes on them (an exclusive group can run before a price rule)."""
        self.allowance: Allowance | None = None
        """Set while a limited price rule runs: what its limits still allow."""


_ABSENT = object()

Slice = tuple[str, str]
"""A part of the working state a rule's step may change: (attribute, key), such as
``("stamps", "coffee-card")`` or ``("limit_usage", "stars#0")``."""


class Snapshot:
    """What the steps of some rules may change, saved so it can be put back (many times).

    Only the given slices of the state are saved (a punch card's count, a gift card's
    windows, a once-only flag, a birthday year, a limit's usage), with the basket and the
    referral facts waiting to go out: a group of two rules copies a few values, not the
    customer's whole state.
    """

    __slots__ = ("amounts", "earned_on", "outbox", "points", "saved", "units_left")

    def __init__(self, state: WorkingState, basket: Basket, slices: tuple[Slice, ...]) -> None:
        self.saved = [
            (attribute, key, _copy(getattr(state, attribute).get(key, _ABSENT)))
            for attribute, key in slices
        ]
        self.outbox = len(state.outbox)
        self.amounts = list(basket.amounts)
        self.units_left = list(basket.units_left)
        self.points = dict(basket.points)
        self.earned_on = dict(basket.earned_on)

    def restore(self, state: WorkingState, basket: Basket) -> None:
        """Put the slices and the basket back as they were at the snapshot."""
        for attribute, key, value in self.saved:
            part = getattr(state, attribute)
            if value is _ABSENT:
                part.pop(key, None)
            else:
                part[key] = _copy(value)
        del state.outbox[self.outbox :]
        basket.amounts = list(self.amounts)
        basket.units_left = list(self.units_left)
        basket.points = dict(self.points)
        basket.earned_on = dict(self.earned_on)


def _copy(value: Any) -> Any:
    # A gift card rule's windows are a dict the step changes in place; the rest are values.
    return dict(value) if isinstance(value, dict) else value
