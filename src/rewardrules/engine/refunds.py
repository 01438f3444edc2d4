"""Which units and amounts a refund gives back.

Refund lines fill the purchase's lines of that sku in order; a refund without lines gives
back everything not yet refunded. Units are refunded at their line's paid amount per unit
(the paid amount divided by the quantity, rounded half-up to the minor unit); the refund
that reaches a line's last unit takes the rounding remainder, so a line refunded in full
always gives back exactly what was paid for it.
"""

from __future__ import annotations

from typing import Protocol

from rewardrules.events import Purchase, Refund
from rewardrules.money import divide_half_up


class _Refundable(Protocol):
    paid: list[int]
    refunded_units: list[int]

    @property
    def purchase(self) -> Purchase:
        """The purchase refunded."""
        ...


class RefundError(ValueError):
    """A refund that cannot be applied; ``path`` is the refund's field at fault."""

    def __init__(self, message: str, *path: str | int) -> None:
        super().__init__(message)
        self.path = path


def refunded_amount(paid: int, quantity: int, units: int) -> int:
    """What the first ``units`` refunded units of a line give back, in minor units."""
    if units >= quantity:
        return paid
    return min(units * divide_half_up(paid, quantity), paid)


def refunded_lines(record: _Refundable, refund: Refund) -> tuple[list[int], list[int]]:
    """Units refunded per line and amounts refunded per line, after this refund.

    Raises:
        RefundError: the refund returns a sku the purchase does not have, more units than
            are left, or a purchase already refunded in full.
    """
    purchase = record.purchase
    lines = purchase.lines
    units = list(record.refunded_units)
    if refund.lines is None:
        if all(done == line.quantity for done, line in zip(units, lines)):
            message = f"purchase {purchase.id} is already refunded in full"
            raise RefundError(message, "purchase_id")
        units = [line.quantity for line in lines]
    else:
        for position, returned in enumerate(refund.lines):
            wanted = returned.quantity
            matching = [index for index, line in enumerate(lines) if line.sku == returned.sku]
            if not matching:
                raise RefundError(
                    f"it returns sku {returned.sku}, which purchase {purchase.id} does not have",
                    *("lines", position, "sku"),
                )
            for index in matching:
                take = min(wanted, lines[index].quantity - units[index])
                units[index] += take
                wanted -= take
            if wanted:
                left = returned.quantity - wanted
                raise RefundError(
                    f"it returns {returned.quantity} x {returned.sku}, but purchase "
                    f"{purchase.id} has only {left} x {returned.sku} left to refund",
                    *("lines", position, "quantity"),
                )
    amounts = [
        refunded_amount(paid, line.quantity, done)
        for paid, line, done in zip(record.paid, lines, units)
    ]
    return units, amounts
