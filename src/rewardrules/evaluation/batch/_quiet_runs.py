"""A walked customer's events between two gifts at dates, taken in bulk where that is exact.

``_timeline`` walks a customer who gets a gift at a date (a birthday, a sign-up, opening
points) or a referrer's reward, because these change their points account between
events. Most of what lies between two of them is purchases and refunds, and where the
points neither wait nor expire
(``not policy.has_clock``) and the account holds no lot that expires (``not
account.dated``), the reference's account functions keep all of a customer's points in one
lot that never expires (``lots.earn`` merges into it, ``lots.take_back`` takes from it
first): the account is then a single number, its points less its debt, and a run of
purchases and refunds only adds to it (a purchase its points, a refund minus the points
it takes back). This module replays such a run with two prefix sums over the whole frame
instead of event by event, and builds a datetime only where the account keeps one: the
lot the run opens (its first purchase that takes the balance above 0) and the last
purchase (``last_purchase_at``).

It declines (the walk then takes the run event by event, as before) when the account is
not that single number (a second lot, a lot that expires, purchases still counting as
activity, points and a debt at once), and under ``negative_balance: clamp`` when a refund
in the run might find too few points (the reference then writes a write-off at that
refund). Redemptions, cancellations, refunds that add points and refunds that give a
friend's gift back to a referral rule's limits are never in a run: the walk visits them.

A birthday's ``purchase_within`` reads the latest purchase before the gift not refunded in
full: :meth:`QuietRuns.latest_kept` finds it from the gift's place among the events
(searched on the instants), not by noting every purchase.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from rewardrules.engine.lots import Lot, PointsAccount, PointsPolicy
from rewardrules.evaluation.batch._frame import Flags, Frame, Ints


@dataclass(frozen=True, slots=True)
class QuietRuns:
    """What a run of purchases and refunds reads, for every event of the frame at once."""

    frame: Frame
    policy: PointsPolicy
    change: Ints
    """Prefix sums of what each event adds to a plain account: ``change[e]`` is the sum
    over the events before ``e`` (a purchase its points, never below 0; a refund minus
    what it takes back)."""
    taken: Ints
    """Prefix sums of what each refund takes back (0 elsewhere)."""
    visited: list[int]
    """The events a run never holds, in order: redemptions and cancellations, refunds that
    add points, refunds that release a friend's gift to a referral rule's limits."""
    purchases: Ints
    """The purchases, in order (an array: a history is mostly purchases)."""
    refunds: list[int]
    """The refunds, in order."""
    emptied: Collection[int]
    """The refunds that refund their purchase in full."""

    @classmethod
    def of(
        cls,
        frame: Frame,
        policy: PointsPolicy,
        points: Ints,
        flags: tuple[Flags, Flags, Flags],
        released: Collection[int],
        emptied: Collection[int],
    ) -> QuietRuns:
        """The prefix sums and event lists of a frame (``points``: the rules' points per
        event, negative at refunds; ``released``: the refunds ``Walker.released`` holds)."""
        purchases, refunds, _ = flags
        points = np.asarray(points, dtype=np.int64)
        earned = np.where(purchases, np.maximum(points, 0), 0)
        back = np.where(refunds, np.minimum(points, 0), 0)
        change = np.zeros(len(points) + 1, dtype=np.int64)
        np.cumsum(earned + back, out=change[1:])
        taken = np.zeros(len(points) + 1, dtype=np.int64)
        np.cumsum(-back, out=taken[1:])
        visited = ~(purchases | refunds) | (refunds & (points > 0))
        if released:
            visited[np.asarray(sorted(released), dtype=np.int64)] = True
        return cls(
            frame,
            policy,
            change,
            taken,
            np.flatnonzero(visited).tolist(),
            np.flatnonzero(purchases),
            np.flatnonzero(refunds).tolist(),
            emptied,
        )

    def visits(self, start: int, stop: int) -> list[int]:
        """The events of ``[start, stop)`` a run never holds, in order."""
        visited = self.visited
        return visited[bisect_left(visited, start) : bisect_left(visited, stop)]

    def is_plain(self, account: PointsAccount) -> bool:
        """Whether an account is a single number (its points less its debt)."""
        lots = account.lots
        return (
            not self.policy.has_clock
            and not account.dated
            and not account.counting
            and len(lots) <= 1
            and all(lot.expires_at is None for lot in lots)
            and (not lots or not lots[0].points or not account.debt)
        )

    def replay(
        self,
        account: PointsAccount,
        start: int,
        stop: int,
        written: Callable[[int], datetime],
    ) -> bool:
        """Replay the purchases and refunds ``[start, stop)`` (none of them visited) on a
        plain account as the reference would event by event; False, and nothing done,
        where that is not exact (see the module)."""
        if start >= stop:
            return True
        if not self.is_plain(account):
            return False
        lots = account.lots
        balance = (lots[0].points if lots else 0) - account.debt
        base = int(self.change[start])
        if self.policy.clamp and balance < int(self.taken[stop] - self.taken[start]):
            # A refund might find too few points (a write-off): only if the balance ever
            # goes below 0 in the run.
            lowest = int(self.change[start + 1 : stop + 1].min()) - base
            if balance + lowest < 0:
                return False
        if not lots:  # the first purchase that takes the balance above 0 opens the lot
            above = np.flatnonzero(self.change[start + 1 : stop + 1] - base + balance > 0)
            if len(above):
                event = start + int(above[0])
                moment = written(event)
                lots.append(Lot(str(self.frame.event_ids[event]), moment, moment, None, 0))
        balance += int(self.change[stop]) - base
        if lots:
            lots[0].points = max(balance, 0)
        account.debt = max(-balance, 0)
        purchases = self.purchases
        last = int(purchases.searchsorted(stop)) - 1
        if last >= 0 and purchases[last] >= start:
            account.last_purchase_at = written(int(purchases[last]))
        return True

    def latest_kept(
        self,
        start: int,
        stop: int,
        saved: Mapping[str, datetime],
        written: Callable[[int], datetime],
    ) -> datetime | None:
        """The latest purchase not refunded in full among a customer's saved purchases
        (``saved``, by id) and their events ``[start, stop)``: what a birthday's
        ``purchase_within`` reads at a gift before event ``stop``."""
        refunds, purchases = self.refunds, self.purchases
        emptied = {
            self.frame.purchase_id[refund].as_py()
            for refund in refunds[bisect_left(refunds, start) : bisect_left(refunds, stop)]
            if refund in self.emptied
        }
        ids = self.frame.event_ids
        for place in range(int(purchases.searchsorted(stop)) - 1, -1, -1):
            purchase = int(purchases[place])
            if purchase < start:
                break
            if str(ids[purchase]) not in emptied:
                return written(purchase)  # later than every saved purchase
        kept = [moment for key, moment in saved.items() if key not in emptied]
        return max(kept, default=None)
