"""A history's amounts in the batch engine's int64 minor units, and the bounds they keep.

Prices come from the table's decimal128 column (12 decimals): read from its buffer, and the
128-bit integers that do not fit 64 bits (prices from about 9.2 million currency units on)
one by one, exactly, as Python integers. What must then fit (docs/batch-engine.md, "The
bounds on amounts"), checked on the actual values:

- each purchase line's gross amount (quantity times unit price) is at most
  :data:`LARGEST_LINE` minor units: the engine doubles a line's amount, or what is left of
  it, and adds a divisor to round half up (``money.divide_half_up`` over columns). Every
  product of an amount and a rule's figures (a points rate, a percent, a share of the
  payments, a punch card's cheapest unit) has its own bound on the actual values, and runs
  on Python integers where that bound passes int64;
- the gross totals of all the purchases, and their quantities, add up to less than
  :data:`LARGEST_SUM`: the cumulative sums over the whole history (window spend, punch-card
  counts, tiers by spend, customer totals) are int64;
- the points the program's rules give (points per spend, bonuses, gifts at purchases) add
  up, all rules together, to less than :data:`LARGEST_SUM` (:class:`PointsTally`), as
  given: after a rule's cap, limits and exclusive group cut them. The ledger, lots and
  balances hold points in int64. What a rule wants to give before those cuts is held
  exactly (:func:`wanted_points`: Python integers where int64 might not do).

A history beyond one of them is refused by name (``UnsupportedError``, code
``unsupported``): the source, the event and its line (the file's line when the table has
one), the column, the amount, the bound, and what to do. A value past int64 met while
evaluating, which no bound on the history covers (a program's own figures), is refused
naming each figure int64 cannot hold, its rule and its path (:func:`overflow_problems`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from rewardrules.errors import Location, Problem
from rewardrules.evaluation.batch._unsupported import UnsupportedError
from rewardrules.histories.columns import written_amount

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rewardrules.evaluation.batch._frame import Column, Flags, Frame, Ints
    from rewardrules.money import Currency
    from rewardrules.program.model import Program

LARGEST_LINE = 2**61
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


def first_sum_too_large(values: npt.NDArray[Any], start: int = 0) -> int | None:
    """The first index at which ``start`` plus the running sum of ``values`` (non-negative,
    int64 or Python integers) reaches :data:`LARGEST_SUM`, or None: a float sum settles the
    common case, an exact running sum in Python integers the few columns near the bound."""
    if not len(values):
        return None
    if values.dtype != object and start + float(values.sum(dtype=np.float64)) < _SURE:
        return None
    running = start + np.cumsum(values.astype(object))
    over = np.flatnonzero(running >= LARGEST_SUM)
    return int(over[0]) if len(over) else None


def wanted_points(points: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The points a rule wants to give on each event, before its limits and its exclusive
    group cut them: int64 when they surely add up to less than :data:`LARGEST_SUM` (a float
    sum settles the common case), else exact Python integers, so that a limit may still
    bring them within the bound. The caller cuts them, then gives them
    (:meth:`PointsTally.give`)."""
    if first_sum_too_large(np.abs(points)) is None:
        return points.astype(np.int64, copy=False)
    return points.astype(object)


@dataclass(slots=True)
class PointsTally:
    """The points the program's rules have given so far in one evaluation, in all.

    The ledger adds them per event in int64, and the balances, lots and totals add those
    up: they stay exact while everything given adds up to less than :data:`LARGEST_SUM`
    (what refunds take back is never more than was given).
    """

    total: int = 0

    def give(self, frame: Frame, points: npt.NDArray[Any], rule: str) -> Ints:
        """The points ``rule`` gives on each event (after its limits and group), as int64:
        refused, at the event where the tally reaches :data:`LARGEST_SUM`, beyond it."""
        size = np.abs(points)
        _check_points(frame, (points, size, None), rule, self.total)
        self.total += int(size.sum())  # below the bound (checked): no int64 overflow
        return points.astype(np.int64, copy=False)

    def give_at(self, frame: Frame, given: dict[int, int], rule: str) -> None:
        """Points ``rule`` gives at some events (``{event: points}``, Python integers),
        checked as :meth:`give` checks a column."""
        if not given:
            return
        points = np.fromiter(given.values(), dtype=object, count=len(given))
        events = np.fromiter(given, dtype=np.int64, count=len(given))
        size = np.abs(points)
        _check_points(frame, (points, size, events), rule, self.total)
        self.total += int(size.sum())


def _check_points(
    frame: Frame,
    given: tuple[npt.NDArray[Any], npt.NDArray[Any], Ints | None],
    rule: str,
    before: int,
) -> None:
    """Refuse the points a rule gives (per event, or at ``events``; ``size``: their
    absolute values) when, with the ``before`` points the rules before it gave, they add up
    to :data:`LARGEST_SUM` or more: at the event that reaches it."""
    points, size, events = given
    index = first_sum_too_large(size, before)
    if index is None:
        return
    total = before + int(size[: index + 1].astype(object).sum())
    here = f"rule '{rule}' gives {int(points[index])} points here; "
    if before:
        here += f"with the {before} points the rules before it give, "
        here += f"the points the rules give add up to {total} through this event,"
    else:
        here += f"the points it gives add up to {total} through this event,"
    what = (
        here,
        f"which is more than the batch engine's integers allow for a sum over a history "
        f"({_power(LARGEST_SUM)} = {LARGEST_SUM})",
    )
    event = index if events is None else int(events[index])
    path = (f"event {frame.event_ids[event]}",)
    raise UnsupportedError([too_large_problem((None, "<events>"), path, what)])


LARGEST_HELD = 2**63 - 1
"""The largest value the engine's int64 columns hold (minor units or points)."""


def times(counts: Ints, each: int) -> npt.NDArray[Any]:
    """``counts`` (non-negative) times ``each`` (a reward's value), exactly: int64 when
    the largest product fits, else Python integers (int64 products wrap silently)."""
    largest = int(counts.max()) if len(counts) else 0
    if largest * abs(each) <= LARGEST_HELD:
        return counts * each
    return counts.astype(object) * each


def overflow_problems(program: Program, money: Currency) -> list[Problem]:
    """The refusal of a value the engine met past int64 while evaluating, naming its
    cause: each figure of the program that int64 cannot hold as the engine holds it (a
    whole number as it is, a decimal in minor units), with its rule, its path in the
    program and what to do. A limit's figures are left out: the engine counts limits in
    Python integers. Without such a figure, a reward was given very many times; that
    refusal names no figure."""
    problems = []
    for path, figure in _figures(program, ()):
        held = figure if isinstance(figure, int) else _minor_of(figure, money)
        if abs(held) <= LARGEST_HELD:
            continue
        shown = str(figure)
        if not isinstance(figure, int):
            shown = f"{figure:f} {money.code} ({held} minor units)"
        owner = ""
        if path[0] == "rules":
            owner = f"rule '{program.rules[int(path[1])].id}': "
        problems.append(
            Problem(
                message=f"{owner}{shown} is more than the batch engine's integers hold "
                f"({_power(LARGEST_HELD + 1)} - 1 = {LARGEST_HELD}), and a value or points "
                "the program gives passed them while evaluating; write a smaller figure, or "
                "evaluate this history with engine='reference'",
                path=path,
                code="unsupported",
            )
        )
    if problems:
        return problems
    return [
        Problem(
            message="a reward's value or points passed the batch engine's integers "
            f"({_power(LARGEST_HELD + 1)}) while evaluating: a reward given very many times "
            "adds up past them; evaluate this history with engine='reference'",
            code="unsupported",
        )
    ]


def _minor_of(figure: Decimal, money: Currency) -> int:
    """A decimal figure in whole minor units, exactly (the context's precision aside)."""
    numerator, denominator = figure.as_integer_ratio()
    return numerator * money.minor_per_major // denominator


Path = tuple[str | int, ...]


def _figures(value: object, path: Path) -> Iterator[tuple[Path, int | Decimal]]:
    """Every number of a program's models, with its path (a limit's left out)."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            if name != "limit":
                yield from _figures(getattr(value, name), (*path, name))
    elif isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            yield from _figures(item, (*path, index))
    elif isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        yield path, value


def too_large_problem(
    where: tuple[Location | None, str],
    path: tuple[str | int, ...],
    what: tuple[str, str],
) -> Problem:
    """The refusal of an amount beyond the batch engine's bounds, located.

    ``where`` is the row's place in its file (None when the table does not know it) and the
    source's name; ``path`` the event and its field (``event p1``, ``lines``, 0,
    ``unit_price``); ``what`` the amount refused and why. Without a place the amount names
    its source when that is a file's name (not ``<table>`` or ``<events>``, which a table
    or events handed in are called: the event names them well enough, and the command line
    finds the event's line).
    """
    location, source = where
    amount, reason = what
    if location is None and not (source.startswith("<") and source.endswith(">")):
        amount += f" in {source}"
    message = f"{amount} {reason}; evaluate this history with engine='reference'"
    return Problem(message=message, path=path, location=location, code="unsupported")


def line_refusal(price: Decimal, quantity: int, gross: int, money: Currency) -> tuple[str, str]:
    """What a refusal of a line says: its quantity, price and gross, and the bound."""
    shown = written_amount(price)
    return (
        f"the line's gross amount, {quantity} x {shown} {money.code} = {gross} minor units,",
        f"is larger than the batch engine's integers allow for one line ({_power(LARGEST_LINE)} "
        f"= {LARGEST_LINE} minor units)",
    )


def sum_refusal(total: int, column: str) -> tuple[str, str]:
    """What a refusal of the history's total of a column says."""
    what = "gross totals" if column == "unit_price" else "quantities"
    return (
        f"the purchases' {what} add up to {total} through this event,",
        f"which is more than the batch engine's integers allow for a sum over a history "
        f"({_power(LARGEST_SUM)} = {LARGEST_SUM})",
    )


def _power(bound: int) -> str:
    return f"2**{bound.bit_length() - 1}"
