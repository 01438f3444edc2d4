"""A history's amounts in the batch engine's int64 minor units, and the bounds they keep.

Prices come from the table's decimal128 column (12 decimals): read from its buffer, the
128-bit integers that do not fit 64 bits (prices from about 9.2 million currency units on)
exactly, one by one, with Python integers. Two bounds are checked on the actual values
(docs/batch-engine.md, "The bounds on amounts"):

- each purchase line's gross amount (quantity times unit price) is at most
  :data:`LARGEST_LINE` minor units, so that every product the rules form on one line (a
  points rate, a percent, a share of the payments, doubled to round half up) either fits
  int64 or is detected by its own check, which then computes with Python integers;
- the gross totals of all the purchases, and their quantities, add up to less than
  :data:`LARGEST_SUM`, so that the engine's cumulative sums over the whole history (window
  spend, punch-card counts, tiers by spend) fit int64.

A history beyond either is refused by name: the source, the event and its line (the file's
line when the table has one), the column, the value, and what to do.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from rewardrules.errors import Location, Problem

if TYPE_CHECKING:
    from rewardrules.evaluation.batch._frame import Column, Flags, Ints
    from rewardrules.money import Currency

LARGEST_LINE = 2**53
"""The largest gross amount of a purchase line, in minor units."""
LARGEST_SUM = 2**62
"""What the gross totals (and the quantities) of all the purchases add up to less than."""

_SCALE = 12  # the decimals of the table's amounts (``_frame.AMOUNT``)
_SURE = 2.0**61
"""A float sum of non-negative int64 values below this is surely below ``LARGEST_SUM``
(its rounding is far smaller than the gap)."""


def minor_units(prices: Column, money: Currency) -> tuple[Ints, Flags, Flags]:
    """Each price in minor units (0 where it is too large or null), with flags of prices
    finer than the minor unit and of prices beyond :data:`LARGEST_LINE` (or negative).

    Read from the decimal128 buffer: 16 bytes per value, a little-endian two's complement
    integer of 10^-12 currency units. Values that fit 63 bits are divided as int64 columns;
    the few others are read as Python integers, exactly.
    """
    count = len(prices)
    words = np.frombuffer(prices.buffers()[1], dtype=np.uint64)
    words = words[2 * prices.offset : 2 * (prices.offset + count)].reshape(count, 2)
    valid = np.asarray(prices.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    low, high = words[:, 0], words[:, 1]
    wide = valid & ((high != 0) | (low >= np.uint64(2**63)))
    raw = np.where(valid & ~wide, low, np.uint64(0)).astype(np.int64)
    step = 10 ** (_SCALE - money.exponent)
    minor, rest = np.divmod(raw, step)
    too_large = minor > LARGEST_LINE
    if wide.any():
        for row in np.flatnonzero(wide).tolist():
            value = (int(high[row]) << 64) | int(low[row])
            if value >= 2**127:  # two's complement: a negative price
                value -= 2**128
            whole, part = divmod(value, step)
            rest[row] = part
            if 0 <= whole <= LARGEST_LINE:
                minor[row] = whole
            else:
                too_large[row] = True
    return np.where(too_large, 0, minor), rest != 0, too_large


def lines_too_large(unit_price: Ints, quantity: Ints, price_too_large: Flags) -> Flags:
    """The purchase lines whose gross amount is beyond :data:`LARGEST_LINE`: exactly, by
    dividing the bound rather than multiplying (which could overflow)."""
    return price_too_large | (
        (unit_price > 0) & (quantity > LARGEST_LINE // np.maximum(unit_price, 1))
    )


def first_sum_too_large(values: Ints) -> int | None:
    """The first index at which the running sum of ``values`` (non-negative int64) reaches
    :data:`LARGEST_SUM`, or None: a float sum settles the common case, an exact running
    sum in Python integers the few histories near the bound."""
    if not len(values) or float(values.sum(dtype=np.float64)) < _SURE:
        return None
    running = np.cumsum(values.astype(object))
    over = np.flatnonzero(running >= LARGEST_SUM)
    return int(over[0]) if len(over) else None


EVENTS = "<events>"
"""The source of a history handed in as events with no file behind them."""


def too_large_problem(
    where: tuple[Location | None, str],
    path: tuple[str | int, ...],
    what: tuple[str, str],
) -> Problem:
    """The refusal of an amount beyond the batch engine's bounds, located.

    ``where`` is the row's place in its file (None when the table does not know it) and the
    source's name; ``path`` the event and its field (``event p1``, ``lines``, 0,
    ``unit_price``); ``what`` the amount refused and why. Without a place the amount names
    its source (but not ``<events>``: the command line then finds the event's line).
    """
    location, source = where
    amount, reason = what
    if location is None and source != EVENTS:
        amount += f" in {source}"
    message = f"{amount} {reason}; evaluate this history with engine='reference'"
    return Problem(message=message, path=path, location=location, code="unsupported")


def line_refusal(price: Decimal, quantity: int, gross: int, money: Currency) -> tuple[str, str]:
    """What a refusal of a line says: its quantity, price and gross, and the bound."""
    shown = price.normalize()
    if shown == shown.to_integral():
        shown = shown.quantize(Decimal(1))
    return (
        f"the line's gross amount, {quantity} x {shown} {money.code} = {gross} minor units,",
        f"is larger than the batch engine's integers allow for one line (2**53 = "
        f"{LARGEST_LINE} minor units)",
    )


def sum_refusal(total: int, column: str) -> tuple[str, str]:
    """What a refusal of the history's total of a column says."""
    what = "gross totals" if column == "unit_price" else "quantities"
    return (
        f"the purchases' {what} add up to {total} through this event",
        f"which is more than the batch engine's integers allow for a sum over a history "
        f"(2**62 = {LARGEST_SUM})",
    )
