"""A replayed customer's purchases between its other events, added to its lots as runs.

Between two events that are not purchases (refunds, redemptions, cancellations), a
customer's purchases only open lots (after paying any debt) and let due lots expire. When
the customer's lots never go back in time (neither when their points become available nor
when they expire: a fixed wait and period, or a period rounded up to a calendar one, give
that), the lots that have expired by an event are the first ones whose expiry has come,
found by a bisection when the event needs them; each expired at the customer's first event
after its purchase at or after its expiry (``lots._expire_due`` pops the due lots from the
front before each event), which ``_plain_lots.due_events`` works out over columns once every
customer is replayed. ``_lots.run_integer_accounts`` then visits only a customer's events
that are not purchases, and adds the purchases in between as slices of :class:`Earnings`:
its work grows with the events it visits and the lots, never with a pass over every lot at
every event.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rewardrules.evaluation.batch._plain_lots import Carried

if TYPE_CHECKING:
    from rewardrules.evaluation.batch._frame import Flags, Frame, Ints


@dataclass(frozen=True, slots=True)
class Earnings:
    """The purchases that earn points (more than 0), in event order: their events, when
    their points become available, when they expire (UTC microseconds), and their points."""

    events: list[int]
    available: list[int]
    expires: list[int]
    points: list[int]

    @classmethod
    def of(
        cls, frame: Frame, purchases: Flags, points: Ints, available_at: Ints, expires_at: Ints
    ) -> Earnings:
        """The earning purchases of a frame, from each event's points, availability and
        expiry."""
        chosen = np.flatnonzero(purchases & (points > 0))
        return cls(
            chosen.tolist(),
            available_at[chosen].tolist(),
            expires_at[chosen].tolist(),
            points[chosen].tolist(),
        )

    def add(self, lots: Carried, span: tuple[int, int], debt: int) -> int:
        """Open the lots of the purchases among the events ``span`` (start included, stop
        excluded), oldest first, their points paying ``debt`` first (``lots.earn``);
        return the debt left."""
        start, stop = span
        first = bisect_left(self.events, start)
        last = bisect_left(self.events, stop, first)
        sources, available, expires, lot_points = lots
        while debt and first < last:
            gained = self.points[first]
            repaid = min(debt, gained)
            debt -= repaid
            if gained > repaid:
                sources.append(self.events[first])
                available.append(self.available[first])
                expires.append(self.expires[first])
                lot_points.append(gained - repaid)
            first += 1
        if first < last:
            sources += self.events[first:last]
            available += self.available[first:last]
            expires += self.expires[first:last]
            lot_points += self.points[first:last]
        return debt


def in_time_order(
    frame: Frame, purchases: Flags, points: Ints, columns: tuple[Ints, Ints]
) -> Flags:
    """Per customer, whether its earning purchases' points never become available, nor
    expire, sooner than an earlier purchase's (``columns``: when available, when they
    expire). Any of a customer's lots, opened in event order by some of those purchases,
    then keep that order."""
    chosen = np.flatnonzero(purchases & (points > 0))
    owners = frame.customer[chosen]
    same = owners[1:] == owners[:-1]
    back = np.zeros(len(same), dtype=np.bool_)
    for column in columns:
        instants = column[chosen]
        back |= instants[1:] < instants[:-1]
    ordered = np.ones(len(frame.customer_ids), dtype=np.bool_)
    ordered[owners[1:][same & back]] = False
    return ordered


def visited_events(
    frame: Frame, replayed: list[int], cut: Ints, in_runs: Flags, purchases: Flags
) -> Ints:
    """The events the loop reads: each replayed customer's events from its cut on; only
    those that are not purchases, and its last event, for a customer whose purchases are
    added as runs (``in_runs``)."""
    chosen = np.asarray(replayed, dtype=np.int64)
    first, sizes = cut[chosen], frame.customer_start[chosen + 1] - cut[chosen]
    events = np.arange(int(sizes.sum()), dtype=np.int64) + np.repeat(
        first - np.cumsum(sizes) + sizes, sizes
    )
    customer = frame.customer[events]
    last = events == frame.customer_start[customer + 1] - 1
    read: Ints = events[~in_runs[customer] | ~purchases[events] | last]
    return read
