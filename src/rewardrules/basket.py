"""A purchase as the rules of one evaluation change it, and snapshots to try a rule out.

:class:`Basket` holds the line amounts and the units not yet made free as price rules go,
and the points each earning rule gave. :class:`Snapshot` saves what a rule's step can
change (its basket and its slices of the customer's state) so that an exclusive group
can try each member and a limit can re-run a rule within what is left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rewardrules.scope import PurchaseContext

if TYPE_CHECKING:
    from rewardrules.limits import Allowance
    from rewardrules.state import WorkingState


class Basket:
    """A purchase's line amounts and units not yet made free, as price rules go."""

    __slots__ = ("allowance", "amounts", "points", "units_left")

    def __init__(self, context: PurchaseContext) -> None:
        self.amounts = list(context.gross)
        self.units_left = [line.quantity for line in context.purchase.lines]
        self.points: dict[str, int] = {}
        self.allowance: Allowance | None = None
        """Set while a limited price rule runs: what its limits still allow."""


class Snapshot:
    """What a rule's step may change, saved so it can be put back (any number of times)."""

    __slots__ = (
        "amounts",
        "birthdays",
        "bonuses",
        "gift_cards",
        "limit_usage",
        "outbox",
        "points",
        "stamps",
        "units_left",
    )

    def __init__(self, state: WorkingState, basket: Basket) -> None:
        self.stamps = dict(state.stamps)
        self.gift_cards = {rule: dict(windows) for rule, windows in state.gift_cards.items()}
        self.bonuses = dict(state.bonuses)
        self.birthdays = dict(state.birthdays)
        self.limit_usage = dict(state.limit_usage)
        self.outbox = len(state.outbox)
        self.amounts = list(basket.amounts)
        self.units_left = list(basket.units_left)
        self.points = dict(basket.points)

    def restore(self, state: WorkingState, basket: Basket) -> None:
        """Put the state and basket back as they were when the snapshot was taken."""
        state.stamps = dict(self.stamps)
        state.gift_cards = {rule: dict(windows) for rule, windows in self.gift_cards.items()}
        state.bonuses = dict(self.bonuses)
        state.birthdays = dict(self.birthdays)
        state.limit_usage = dict(self.limit_usage)
        del state.outbox[self.outbox :]
        basket.amounts = list(self.amounts)
        basket.units_left = list(self.units_left)
        basket.points = dict(self.points)
