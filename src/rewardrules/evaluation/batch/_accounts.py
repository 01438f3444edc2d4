"""Points accounts where they are not a sum: the customers who redeem.

Without waiting or expiring points, a customer who never redeems has a balance that is the
sum of their points entries and never owes a point (a refund takes back at most what its
purchase earned, and that is still there). A redemption is different: whether it is
accepted depends on the balance at that moment, and a later refund may then leave a debt
(or a write-off, when the program clamps). So the customers with redemptions run through
the reference engine's own account functions (``lots.earn``, ``take_back``, ``redeem``),
event by event, on the points the rules computed in columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

import numpy as np

from rewardrules.engine.ledger import ExpiryDue, LedgerEntry
from rewardrules.engine.lots import (
    PointsAccount,
    PointsPolicy,
    advance,
    bought,
    cancel_redemption,
    earn,
    redeem,
    refunded_in_full,
    take_back,
    upcoming_expiry,
)
from rewardrules.engine.tiers import TierPlan
from rewardrules.evaluation.batch._cancels import Catalogue
from rewardrules.evaluation.batch._frame import Flags, Frame, Ints
from rewardrules.evaluation.batch._ledger import EntryPart
from rewardrules.evaluation.batch._lots import Expiries, ExpiryReason, run_integer_accounts


@dataclass(slots=True)
class Accounts:
    """The accounts of the customers who redeem, with the entries they wrote."""

    balances: dict[int, int] = field(default_factory=dict)
    """Per customer (index), the balance at the end."""
    available: dict[int, int] = field(default_factory=dict)
    """Per customer, the points available at the report."""
    events: list[int] = field(default_factory=list)
    entries: list[LedgerEntry] = field(default_factory=list)
    """Entries an event writes after the rules' (redemptions, write-offs)."""
    expired_at: list[int] = field(default_factory=list)
    expired: list[LedgerEntry] = field(default_factory=list)
    """Expiries due before an event, written before it."""
    closing_at: list[int] = field(default_factory=list)
    closing: list[LedgerEntry] = field(default_factory=list)
    """Expiries due up to the ``as_of`` cutoff, at each customer's last event."""
    upcoming: dict[int, tuple[ExpiryDue, ...]] = field(default_factory=dict)
    """Per customer whose points expire, the points left that will, per local date."""
    expiring: Expiries = field(default_factory=Expiries)
    closing_expiries: Expiries = field(default_factory=Expiries)
    """The integer accounts' expiries (``_lots``), before events and at the cutoff, as
    columns: ``expired`` and ``closing`` hold those of the accounts replayed as objects."""
    expiry_reason: ExpiryReason | None = None

    def expiry_parts(self, closing_position: int) -> list[tuple[int, EntryPart]]:
        """The integer accounts' expiries as ledger parts, each with its position: 0
        (before the event) or ``closing_position`` (after a customer's last event)."""
        reason = self.expiry_reason
        if reason is None:
            return []
        return [
            (position, found.part(reason))
            for position, found in ((0, self.expiring), (closing_position, self.closing_expiries))
            if found.events
        ]

    @property
    def points_expired(self) -> int:
        """The points the integer accounts' expiries took."""
        return sum(self.expiring.points) + sum(self.closing_expiries.points)


def lasting_purchases(
    policy: PointsPolicy, tiers: TierPlan | None, tier: Ints, purchases: Flags
) -> frozenset[int]:
    """The purchases made at a level whose points never expire (their lots are lasting);
    empty when nothing expires or no level says so."""
    if (
        tiers is None
        or not tiers.lasting
        or (policy.expire_after is None and policy.inactivity is None)
    ):
        return frozenset()
    at_level = np.isin(tier, np.asarray(sorted(tiers.lasting), dtype=np.int64))
    return frozenset(np.flatnonzero(at_level & purchases).tolist())


def _replayed(
    frame: Frame, policy: PointsPolicy, redemptions: Flags, skip: Ints | None, resumed: Ints
) -> Ints:
    """The customers whose accounts are replayed: every one when points wait or expire,
    else those who redeem; and those resumed from a saved account; not those in ``skip``."""
    if policy.has_clock:
        replayed = np.arange(len(frame.customer_ids), dtype=np.int64)
    else:
        replayed = np.unique(frame.customer[redemptions])
    if len(resumed):
        replayed = np.union1d(replayed, resumed)
    if skip is not None and len(skip):
        replayed = np.setdiff1d(replayed, skip)
    return replayed


def run_accounts(
    frame: Frame,
    policy: PointsPolicy,
    points: Ints,
    flags: tuple[Flags, Flags, Flags],
    moment: Callable[[int], datetime],
    cutoff: tuple[datetime, bool, datetime] | None,
    skip: Ints | None = None,
    emptied: frozenset[int] = frozenset(),
    lasting: frozenset[int] = frozenset(),
    catalogue: Catalogue | None = None,
    seeds: Callable[[int], PointsAccount | None] | None = None,
    seeded: Ints | None = None,
) -> Accounts:
    """Replay the points accounts of the customers with a redemption (of every customer
    when points wait or expire: their lots are then a matter of time).

    ``points`` are the rules' points per event (negative at refunds); ``flags`` tell
    purchases, refunds and redemptions; ``moment(event)`` is an event's instant;
    ``cutoff`` is the ``as_of`` instant, whether it is included, and the report's moment.
    The customers in ``skip`` are replayed elsewhere (``_timeline``); the refunds in
    ``emptied`` refund their purchase in full (it stops counting as activity); the
    purchases in ``lasting`` earn points that never expire (``lasting_purchases``);
    ``catalogue`` tells the cancellations' redemptions and the tiers redemptions ask at.
    The customers in ``seeded`` resume from a saved account (``seeds(customer)``, a fresh
    copy): they are replayed here, from it.
    """
    catalogue = catalogue or Catalogue()
    purchases, refunds, redemptions = flags
    accounts = Accounts()
    resumed = np.zeros(0, dtype=np.int64) if seeded is None else seeded
    replayed = _replayed(frame, policy, redemptions, skip, resumed)
    if not len(replayed):
        return accounts
    if policy.inactivity is None and not lasting:
        plain = np.setdiff1d(replayed, resumed)
        run_integer_accounts(
            frame, policy, points, flags, moment, cutoff, plain.tolist(), accounts, catalogue
        )
        replayed = np.intersect1d(replayed, resumed)
    at_of = moment
    ids = frame.event_ids
    for customer in replayed.tolist():
        customer_id = frame.customer_ids[customer]
        account = (None if seeds is None else seeds(customer)) or PointsAccount()
        first, end = int(frame.customer_start[customer]), int(frame.customer_start[customer + 1])
        for event in range(first, end):
            written: list[LedgerEntry] = []
            at: datetime = at_of(event)
            if policy.has_clock or account.dated:
                for entry in advance(policy, account, customer_id, at):
                    accounts.expired_at.append(event)
                    accounts.expired.append(entry)
            if purchases[event]:
                earned = int(points[event])
                earn(policy, account, ids[event], at, earned, lasting=event in lasting)
                bought(policy, account, ids[event], at)
            elif refunds[event]:
                back = -int(points[event])
                purchase_id = frame.purchase_id[event].as_py()
                if back:
                    written = take_back(
                        policy, account, customer_id, ids[event], purchase_id, at, back
                    )
                if event in emptied:
                    written += refunded_in_full(policy, account, customer_id, purchase_id, at)
            elif (target := catalogue.cancelled(event, ids)) is not None:
                written = cancel_redemption(policy, account, customer_id, ids[event], target)
            else:
                asked = (frame.reward[event].as_py(), at, int(frame.units[event]))
                written = redeem(
                    policy, account, customer_id, ids[event], *asked, catalogue.tiers.get(event)
                )
            for entry in written:
                accounts.events.append(event)
                accounts.entries.append(entry)
        report = at_of(end - 1)
        if cutoff is not None:
            instant, inclusive, report = cutoff
            for entry in advance(policy, account, customer_id, instant, inclusive):
                accounts.closing_at.append(end - 1)
                accounts.closing.append(entry)
        accounts.balances[customer] = account.balance
        accounts.available[customer] = account.available(report)
        accounts.upcoming[customer] = upcoming_expiry(policy, account.lots, account.active_at)
    return _in_event_order(accounts)


def _in_event_order(accounts: Accounts) -> Accounts:
    """The entries in event order (stable): resumed customers' accounts are replayed
    after the others' (``seeded``), and the ledger reads each list in event order."""
    for events, entries in (
        (accounts.events, accounts.entries),
        (accounts.expired_at, accounts.expired),
        (accounts.closing_at, accounts.closing),
    ):
        if any(later < earlier for earlier, later in pairwise(events)):
            order = sorted(range(len(events)), key=events.__getitem__)
            events[:] = [events[index] for index in order]
            entries[:] = [entries[index] for index in order]
    return accounts
