"""Migrated customers in the batch engine: opening lots and granted tiers from profiles.

The reference starts a migrated customer (``evaluation._opening``) once, before their first
event: each lot of ``Customer.opening_points`` becomes a lot available at once, with an
``opening`` entry, and ``Customer.tier`` holds until ``Customer.tier_until``. Here:

- the profiles are checked as the reference checks them, in its order: every migrated
  profile's tier first (:func:`check_tiers`), then, customer by customer in id order, the
  lots earned after the customer's first event or supplied referral fact
  (:func:`check_late`);
- a granted tier is two columns per customer of the frame (:class:`Grants`): the level and
  the instant it stops holding, which raise the purchases' levels inside the tiers' fixed
  point and the level at the report;
- the opening lots are given by ``_timeline``'s walk, which replays a migrated customer's
  points account with the reference's own functions (:func:`open_lots`), and by the saved
  states' replay (``_states``); a customer with a profile and no event is reported (and
  saved, :func:`profile_state`) only with ``as_of`` or a referral fact (supplied, or
  raised by a friend's purchase: opened right before the first one, its lots checked there
  by ``_timeline.late_opening``), as by the reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa

from rewardrules.engine._state_save import save
from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.lots import PointsAccount, open_lot
from rewardrules.engine.state import CustomerState
from rewardrules.engine.working_state import WorkingState
from rewardrules.errors import HistoryError
from rewardrules.evaluation._opening import opening_problems
from rewardrules.evaluation.batch._frame import Flags, Frame, Ints
from rewardrules.evaluation.batch._lots import microseconds
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.events import Customer

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def check_tiers(plan: ProgramPlan, profiles: Mapping[str, Customer]) -> None:
    """Every migrated profile's granted tier, checked against the program's tiers.

    Raises:
        HistoryError: every profile's problem, in customer id order.
    """
    names = None if plan.tiers is None else plan.tiers.names
    problems = [
        problem
        for customer_id in sorted(profiles)
        if profiles[customer_id].opens
        for problem in opening_problems(profiles[customer_id], names)
    ]
    if problems:
        raise HistoryError(problems)


def check_late(
    plan: ProgramPlan,
    frame: Frame,
    profiles: Mapping[str, Customer],
    supplied: pa.Table | None,
    until: tuple[int, bool] | None,
) -> None:
    """The opening lots earned after their customer's first event, as the reference finds
    them: customer by customer in id order, the first customer's lots.

    ``supplied``: the referral facts supplied with the history (a referrer's first event
    may be one); ``until``: the ``as_of`` cutoff in microseconds and whether it is
    included.

    Raises:
        HistoryError: the lots of the first customer with one earned too late.
    """
    opening = sorted(
        customer_id for customer_id, profile in profiles.items() if profile.opening_points
    )
    if not opening:
        return
    firsts: dict[str, tuple[int, str, datetime]] = {}
    index = {customer: position for position, customer in enumerate(frame.customer_ids)}
    for customer_id in opening:
        position = index.get(customer_id)
        if position is not None:
            event = int(frame.customer_start[position])
            firsts[customer_id] = (
                int(frame.at[event]),
                frame.event_ids[event],
                _moment(frame, event),
            )
    if supplied is not None and supplied.num_rows:
        from rewardrules.evaluation.batch._referrals import facts_of  # noqa: PLC0415 -- rare

        wanted = set(opening)
        for fact in facts_of(supplied):
            if fact.referrer not in wanted or not _admitted(fact.at, until):
                continue
            key = (fact.at, fact.event_id, fact.written)
            known = firsts.get(fact.referrer)
            if known is None or key[:2] < known[:2]:
                firsts[fact.referrer] = key
    names = None if plan.tiers is None else plan.tiers.names  # the tiers are checked
    for customer_id in opening:
        first = firsts.get(customer_id)
        if first is None:
            continue
        problems = list(opening_problems(profiles[customer_id], names, first[2]))
        if problems:
            raise HistoryError(problems)


def _admitted(at: int, until: tuple[int, bool] | None) -> bool:
    return until is None or at < until[0] or (until[1] and at == until[0])


def _moment(frame: Frame, event: int) -> datetime:
    """An event's instant at the UTC offset it was written with."""
    moment = _EPOCH + timedelta(microseconds=int(frame.at[event]))
    offset = int(frame.utc_offset[event])
    return moment.astimezone(timezone(timedelta(seconds=offset))) if offset else moment


@dataclass(frozen=True, slots=True)
class Grants:
    """The granted tiers of the frame's customers: per customer, the level (-1 for none)
    and the instant (microseconds) it stops holding."""

    level: Ints
    until: Ints

    @classmethod
    def of(cls, plan: ProgramPlan, frame: Frame, profiles: Mapping[str, Customer]) -> Grants | None:
        """The grants of the frame's customers; None when no customer of it has one."""
        tiers = plan.tiers
        if tiers is None:
            return None
        granted = {
            customer_id: profile
            for customer_id, profile in profiles.items()
            if profile.tier is not None and profile.tier_until is not None
        }
        if not granted:
            return None
        count = len(frame.customer_ids)
        level = np.full(count, -1, dtype=np.int64)
        until = np.zeros(count, dtype=np.int64)
        found = False
        for position, customer_id in enumerate(frame.customer_ids):
            profile = granted.get(customer_id)
            if profile is None or profile.tier is None or profile.tier_until is None:
                continue
            level[position] = tiers.index_of(profile.tier)
            until[position] = microseconds(profile.tier_until)
            found = True
        return cls(level, until) if found else None

    def at_purchases(self, frame: Frame, purchases: Flags, tier: Ints) -> Ints:
        """Each purchase's level raised to its customer's grant while it holds
        (``TierCounter._granted``: before ``tier_until``, not at it)."""
        level = self.level[frame.customer]
        held = purchases & (level > tier) & (frame.at < self.until[frame.customer])
        return np.where(held, level, tier)

    def at_events(self, customer: Ints, at: Ints, level: Ints) -> Ints:
        """Each event's level (of its customer, at its instant) raised to the grant while
        it holds: the tier a redemption is asked at, as a purchase then would be."""
        granted = self.level[customer]
        held = (granted > level) & (at < self.until[customer])
        return np.where(held, granted, level)

    def at_report(self, reported: Ints, instant: Ints) -> Ints:
        """Each customer's level at the report raised to the grant while it holds."""
        held = (self.level > reported) & (instant < self.until)
        return np.where(held, self.level, reported)


def open_lots(plan: ProgramPlan, account: PointsAccount, profile: Customer) -> list[LedgerEntry]:
    """Give a migrated customer's opening lots to their account, oldest first, as
    ``evaluation._opening.open_customer`` does; return their entries."""
    lots = sorted(enumerate(profile.opening_points, start=1), key=lambda item: item[1].earned_at)
    return [
        open_lot(
            plan.points,
            account,
            profile.customer_id,
            number,
            lot.earned_at,
            lot.expires_at,
            lot.points,
        )
        for number, lot in lots
    ]


def profile_state(
    plan: ProgramPlan, account: PointsAccount, profile: Customer | None, customer_id: str
) -> CustomerState:
    """The saved state of a customer with no event of their own: their account (opening
    lots, expired up to ``as_of``) and granted tier, as the reference saves it."""
    state = WorkingState(customer_id)
    state.account = account
    tiers = plan.tiers
    if (
        tiers is not None
        and profile is not None
        and profile.tier is not None
        and profile.tier_until is not None
    ):
        state.tiers.grant(tiers, profile.tier, profile.tier_until)
    return save(state, plan.program.program, plan.money, tiers)
