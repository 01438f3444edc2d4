"""A hand-written int loop for ``lifecycle-program.yaml``, over the columns of ``baselines.py``.

The program, written out from docs/semantics.md and docs/lifecycle.md (not from the
engine's code), for the histories of ``synthetic.py`` (prices above zero, distinct skus
per purchase):

* **Punch card** ``coffee-card``: counts coffee units; a purchase that takes the count from
  ``before`` to ``after`` completes ``k = after // 10 - before // 10`` cards and the k
  cheapest coffee units of the purchase are free (by unit price, ties to the earlier line).
  A refund takes its coffee units off the count, never below the last completed card.
* **Exclusive group** with ``weekend-bonus`` (40 points on a local Saturday or Sunday when
  the gross total is at least 10.00): a free unit (at least 2.95) is always worth more than
  40 points at 0.01, so the card wins whenever it completes a card and the bonus is then
  set aside; otherwise the bonus, if it applies, is given. The card counts either way. A
  refund takes the bonus back once every unit of the purchase is refunded.
* **Points** ``points``: 2 per 1.00 paid, floored per purchase, at most 300 a local month:
  cut to what the month leaves (nothing given: a ``capped`` entry). A refund recomputes the
  points on what is left, held to what was given, and gives what it takes back to the
  allowance if the limit still counts in the purchase's month.
* **Lots**: a purchase's points (its points and bonus) pay any debt first, then become a
  lot available 14 days later and expiring at the first local midnight of the month after
  the month six months on. Before each event, lots whose expiry has come (at or before the
  event's instant) expire, oldest first. A refund takes points from the purchase's own lot,
  then from available lots oldest first, then from pending ones, then leaves a debt. A
  redemption of ``free-drink`` (150 points) spends available lots oldest first, or is
  rejected when the available balance (less any debt) is short.

The outcome per customer: the balance, the available balance at the last event (in
``available``), no tier, and the value of the units made free (in ``discounts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from baselines import (  # beside this script
    COFFEE,
    MICROSECONDS,
    PURCHASE,
    REDEMPTION,
    REFUND,
    ZONE,
    Columns,
    Outcome,
)

Ints = npt.NDArray[np.int64]
HOUR = 3_600 * MICROSECONDS
DAY_SECONDS = 86_400
EVERY = 10
BONUS, BONUS_MINIMUM = 40, 1_000
MONTHLY_POINTS = 300
REDEMPTION_COST = 150
PENDING = 14 * DAY_SECONDS * MICROSECONDS
EXPIRY_MONTHS = 6


@dataclass(frozen=True, slots=True)
class LocalColumns:
    """Per event, from its instant in New York: weekend or not, its month (year x 12 +
    month - 1), and when points earned then expire (UTC microseconds)."""

    weekend: Ints
    month: Ints
    expires: Ints


def _offset_seconds(epoch_seconds: int) -> int:
    """New York's offset from UTC at an instant, in seconds."""
    offset = datetime.fromtimestamp(epoch_seconds, ZONE).utcoffset()
    return 0 if offset is None else int(offset.total_seconds())


def local_columns(at: Ints) -> LocalColumns:
    """The local calendar of each instant, with zoneinfo asked once per distinct hour.

    New York changes its offset only on the hour, so the offset of an instant is that of
    its hour.
    """
    hours, which = np.unique(at // HOUR, return_inverse=True)
    offsets = np.array([_offset_seconds(hour * 3_600) for hour in hours.tolist()], np.int64)
    local_seconds = at // MICROSECONDS + offsets[which.reshape(-1)]
    days = local_seconds // DAY_SECONDS  # days since 1970-01-01, a Thursday
    weekend = ((days + 3) % 7 >= 5).astype(np.int64)
    dates = days.astype("datetime64[D]")
    months = dates.astype("datetime64[M]").astype(np.int64) + 1970 * 12
    firsts = np.unique(months) + EXPIRY_MONTHS + 1
    starts = {
        int(month): int(datetime(int(month) // 12, int(month) % 12 + 1, 1, tzinfo=ZONE).timestamp())
        * MICROSECONDS
        for month in firsts.tolist()
    }
    expires = np.array([starts[int(month) + EXPIRY_MONTHS + 1] for month in months.tolist()])
    return LocalColumns(weekend, months, expires.astype(np.int64))


def lifecycle_int_loop(columns: Columns, local: LocalColumns) -> Outcome:  # noqa: PLR0915
    """The lifecycle program as one loop over plain ints (see the module docstring).

    One function on purpose: the state lives in local variables of one hot loop.
    """
    c = columns
    at_of = c.at.tolist()
    kind_of = c.kind.tolist()
    target_of = c.target.tolist()
    first_of = c.first.tolist()
    sku_of = c.sku.tolist()
    quantity_of = c.quantity.tolist()
    gross_of = c.gross.tolist()
    coffee_of = (c.category == COFFEE).tolist()
    weekend_of = local.weekend.tolist()
    month_of = local.month.tolist()
    expires_of = local.expires.tolist()
    events, rows = len(kind_of), len(sku_of)

    paid = gross_of.copy()  # per purchase line: what was paid
    units_back = [0] * rows
    points_of = [0] * events  # per purchase: points the points rule gave and keeps
    bonus_of = [0] * events  # per purchase: the bonus it keeps
    lot_of = [-1] * events  # per purchase: its lot's index in the customer's lots
    customers = len(c.customers)
    balances, availables, freed = [0] * customers, [0] * customers, [0] * customers

    changes = np.flatnonzero(np.diff(c.customer)) + 1
    bounds = [0, *changes.tolist(), events] if events else [0]
    for number, current in enumerate(c.customer[bounds[:-1]].tolist()):
        stop = bounds[number + 1]
        count = period = used = debt = head = free_value = 0
        lot_points: list[int] = []
        lot_available: list[int] = []
        lot_expires: list[int] = []
        for event in range(bounds[number], stop):
            at = at_of[event]
            while head < len(lot_points) and lot_expires[head] <= at:
                lot_points[head] = 0
                head += 1
            kind = kind_of[event]
            begin, end = first_of[event], first_of[event + 1]
            if kind == PURCHASE:
                coffee_units = gross = 0
                for row in range(begin, end):
                    gross += gross_of[row]
                    if coffee_of[row]:
                        coffee_units += quantity_of[row]
                cards = (count + coffee_units) // EVERY - count // EVERY
                count += coffee_units
                bonus = 0
                if cards:
                    coffee = sorted(
                        (gross_of[row] // quantity_of[row], row)
                        for row in range(begin, end)
                        if coffee_of[row]
                    )
                    for price, row in coffee:
                        take = min(cards, quantity_of[row])
                        paid[row] -= take * price
                        free_value += take * price
                        cards -= take
                        if not cards:
                            break
                elif weekend_of[event] and gross >= BONUS_MINIMUM:
                    bonus = BONUS
                points = sum(paid[begin:end]) // 50
                given = 0
                if points:
                    month = month_of[event]
                    left = MONTHLY_POINTS - used if used and period == month else MONTHLY_POINTS
                    given = min(points, max(left, 0))
                    if given:
                        used = (used if period == month else 0) + given
                        period = month
                points_of[event], bonus_of[event] = given, bonus
                earned = given + bonus
                if earned:
                    repaid = min(debt, earned)
                    debt -= repaid
                    earned -= repaid
                    if earned:
                        lot_of[event] = len(lot_points)
                        lot_points.append(earned)
                        lot_available.append(at + PENDING)
                        lot_expires.append(expires_of[event])
            elif kind == REFUND:
                purchase = target_of[event]
                lines = range(first_of[purchase], first_of[purchase + 1])
                coffee_back = 0
                for row in range(begin, end):
                    sku, wanted = sku_of[row], quantity_of[row]
                    for line in lines:
                        if sku < 0:
                            take = quantity_of[line] - units_back[line]
                        elif sku_of[line] == sku and wanted:
                            take = min(wanted, quantity_of[line] - units_back[line])
                            wanted -= take
                        else:
                            continue
                        units_back[line] += take
                        if coffee_of[line]:
                            coffee_back += take
                count = max(count - coffee_back, count // EVERY * EVERY)
                taken = 0
                if bonus_of[purchase] and all(
                    units_back[line] == quantity_of[line] for line in lines
                ):
                    taken, bonus_of[purchase] = bonus_of[purchase], 0
                earned = points_of[purchase]
                if earned:
                    left = 0
                    for line in lines:
                        amount, units, back = paid[line], quantity_of[line], units_back[line]
                        if back < units:
                            unit = (2 * amount + units) // (2 * units)
                            left += amount - min(back * unit, amount)
                    now = min(left // 50, earned)
                    if now < earned:
                        taken += earned - now
                        if period == month_of[purchase]:
                            used = max(used - (earned - now), 0)
                        points_of[purchase] = now
                if taken:
                    own = lot_of[purchase]
                    if own >= head:
                        take = min(lot_points[own], taken)
                        lot_points[own] -= take
                        taken -= take
                    for waiting in (False, True):
                        index = head
                        while taken and index < len(lot_points):
                            if lot_points[index] and (lot_available[index] > at) == waiting:
                                take = min(lot_points[index], taken)
                                lot_points[index] -= take
                                taken -= take
                            index += 1
                    debt += taken
            elif kind == REDEMPTION:
                available = -debt
                for index in range(head, len(lot_points)):
                    if lot_available[index] <= at:
                        available += lot_points[index]
                if available >= REDEMPTION_COST:
                    wanted = REDEMPTION_COST
                    index = head
                    while wanted:
                        if lot_points[index] and lot_available[index] <= at:
                            take = min(lot_points[index], wanted)
                            lot_points[index] -= take
                            wanted -= take
                        index += 1
        last = at_of[stop - 1]
        balance = sum(lot_points[head:]) - debt
        pending = sum(
            points
            for points, available in zip(lot_points[head:], lot_available[head:])
            if available > last
        )
        balances[current], availables[current] = balance, balance - pending
        freed[current] = free_value
    return Outcome(
        dict(zip(c.customers, balances)),
        dict.fromkeys(c.customers),
        dict(zip(c.customers, freed)),
        dict(zip(c.customers, availables)),
    )
