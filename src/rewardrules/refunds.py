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


def refunded_amount(paid: int, quantity: int, units: int) -> int:
    """What the first ``units`` refunded units of a line give back, in minor units."""
    if units >= quantity:
        return paid
    return min(units * divide_half_up(paid, quantity), paid)


def refunded_lines(record: _Refundable, refund: Refund) -> tuple[list[int], list[int]]:
    """Units refunded per line and amounts refunded per line, after this refund.

    Raises:
        ValueError: the refund returns a sku the purchase does not have, more units than
            are left, or a purchase already refunded in full.
    """
    purchase = record.purchase
    lines = purchase.lines
    units = list(record.refunded_units)
    if refund.lines is None:
        if all(done == line.quantity for done, line in zip(units, lines)):
            raise ValueError(f"purchase {purchase.id} is already refunded in full")
        units = [line.quantity for line in lines]
    else:
        for returned in refund.lines:
            wanted = returned.quantity
            matching = [index for index, line in enumerate(lines) if line.sku == returned.sku]
            if not matching:
                raise ValueError(
                    f"it returns sku {returned.sku}, which purchase {purchase.id} does not have"
                )
            for index in matching:
                take = min(wanted, lines[index].quantity - units[index])
                units[index] += take
                wanted -= take
            if wanted:
                left = returned.quantity - wanted
                raise ValueError(
                    f"it returns {returned.quantity} x {returned.sku}, but purchase "
                    f"{purchase.id} has only {left} x {returned.sku} left to refund"
                )
    amounts = [
        refunded_amount(paid, line.quantity, done)
        for paid, line, done in zip(record.paid, lines, units)
    ]
    return units, amounts
