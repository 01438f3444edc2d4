"""Points accounts in integers: lots as parallel lists of microseconds and points.

The same rules as the reference's ``engine.lots`` (``earn``, ``advance``, ``take_back``,
``redeem``), written over ints instead of ``Lot`` objects and datetimes: a lot's instants
are UTC microseconds, and the instants it waits to and expires at are worked out once per
purchase (once per local date when the expiry is rounded up to a calendar period, since it
then depends on nothing else). ``_accounts`` uses it for every program without
``points.expire_on_inactivity``; the inactivity deadline moves with each purchase and is
left to the reference's functions there.

The reasons and entries are the reference's, word for word (``lots._entry``); a test
compares the two on drawn histories. The expiries, most of the entries an account writes
on a long history, are kept as columns (:class:`Expiries`) and become ledger entries, with
their reasons, only when they are read.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from itertools import chain, pairwise
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

from rewardrules.engine.ledger import ExpiryDue, LedgerEntry
from rewardrules.engine.lots import (
    PointsPolicy,
    RedeemTerms,
    Spent,
    WriteOff,
    _entry,
    cancellation_reason,
    recover_written_off,
    redemption_refusal,
    redemption_terms,
)
from rewardrules.evaluation.batch._cancels import Catalogue
from rewardrules.evaluation.batch._ledger import EntryPart, column_keys
from rewardrules.evaluation.batch._plain_lots import (
    NEVER,
    due_events,
    loop_columns,
    plain_accounts,
    plain_customers,
)
from rewardrules.evaluation.batch._purchase_runs import Earnings, in_time_order, visited_events
from rewardrules.money import Currency

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from rewardrules.evaluation.batch._accounts import Accounts
    from rewardrules.evaluation.batch._frame import Flags, Frame, Ints

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INSTANT = timedelta(microseconds=1)
_DAY_US = 86_400_000_000
_NO_CATALOGUE = Catalogue()


def microseconds(moment: datetime) -> int:
    """An aware datetime as UTC microseconds since the epoch."""
    return (moment - _EPOCH) // _INSTANT


@dataclass(frozen=True, slots=True)
class ExpiryReason:
    """The reason of an expiry entry, as ``lots._expire_due`` writes it, from the points,
    the local date (ordinal) the lot was earned on and the instant (UTC microseconds) it
    expired at. Equal for equal programs, so a ledger's memo of reasons holds across the
    chunks of one program's history."""

    name: str
    why: str
    zone: ZoneInfo

    def __call__(self, _money: Currency, left: int, earned: int, expires: int) -> str:
        moment = _EPOCH + timedelta(microseconds=expires)
        gone = moment.astimezone(self.zone).date()
        day = date.fromordinal(earned)
        return f"{left} {self.name} earned on {day} expired on {gone} ({self.why})"


@dataclass(slots=True)
class Expiries:
    """Expired lots as columns, in the order they expired: where each entry goes (the
    event it is written before, or the customer's last event at the ``as_of`` cutoff), the
    purchase that earned the lot (the entry's event id), the points, the local date the
    lot was earned on (an ordinal) and the instant it expired at."""

    events: list[int] = field(default_factory=list)
    sources: list[int] = field(default_factory=list)
    points: list[int] = field(default_factory=list)
    earned: list[int] = field(default_factory=list)
    expires: list[int] = field(default_factory=list)
    arrays: tuple[Ints, Ints, Ints, Ints, Ints] | None = None
    """The five lists again as int64 columns, when :func:`_settle` made them (which
    :meth:`part` reads rather than converting hundreds of thousands of items again)."""

    def part(self, reason: ExpiryReason) -> EntryPart:
        """The entries, as a ledger part (rule ``points.expire_after``, kind ``expiry``)."""
        arrays = self.arrays
        if arrays is None:
            arrays = (
                np.asarray(self.events, dtype=np.int64),
                np.asarray(self.sources, dtype=np.int64),
                np.asarray(self.points, dtype=np.int64),
                np.asarray(self.earned, dtype=np.int64),
                np.asarray(self.expires, dtype=np.int64),
            )
        events, sources, points, earned, expires = arrays
        return EntryPart(
            events,
            "points.expire_after",
            "expiry",
            (-points).tolist(),
            None,
            None,
            reason,
            partial(_expiry_arguments, self.points, self.earned, self.expires),
            keys=partial(column_keys, (points, earned, expires)),
            sources=sources,
        )


def _expired(
    out: Expiries,
    event: int | None,
    span: tuple[int, int],
    lots: tuple[list[int], list[int], list[int]],
) -> None:
    """Lots ``span`` (a range of a customer's lots, oldest first: ``lots`` are their
    purchases, expiries and points) expire before ``event`` (None: placed later, by
    :func:`_settle`), with the points they have left. :func:`_settle` drops those left with
    none (``lots._expire_due`` writes nothing for them) and fills in the local dates the
    lots were earned on."""
    start, stop = span
    sources, expires, lot_points = lots
    if event is not None:
        out.events += [event] * (stop - start)
    out.sources += sources[start:stop]
    out.points += lot_points[start:stop]
    out.expires += expires[start:stop]


def _settle(frame: Frame, out: Expiries, placed_later: Expiries | None = None) -> None:
    """Expiries as the ledger reads them: ``placed_later`` (lots of customers whose
    purchases were added in runs) added, each before its customer's first event after its
    purchase at or after its expiry (it expired by the customer's last event); those with
    no points left dropped; the local date each lot was earned on; all in event order
    (stable: a customer's lots keep their order). Every column fits int64: the points the
    rules give add up to less than 2**62 (docs/batch-engine.md, "The bounds on amounts")."""
    names = ("sources", "points", "expires")
    events = np.asarray(out.events, dtype=np.int64)
    sources, points, expires = (np.asarray(getattr(out, name), dtype=np.int64) for name in names)
    if placed_later is not None and placed_later.sources:
        more = [np.asarray(getattr(placed_later, name), dtype=np.int64) for name in names]
        owners = frame.customer[more[0]]
        where = due_events(frame, more[0], owners, more[2], frame.customer_start[owners + 1])
        assert not np.any(where < 0)  # noqa: S101 -- each expired by its customer's last event
        events = np.concatenate((events, where))
        sources, points, expires = (
            np.concatenate((column, added))
            for column, added in zip((sources, points, expires), more, strict=True)
        )
    order = np.flatnonzero(points)
    if np.any(events[order][1:] < events[order][:-1]):
        order = order[np.argsort(events[order], kind="stable")]
    sources = sources[order]
    out.arrays = (
        events[order],
        sources,
        points[order],
        frame.local_date[sources].astype(np.int64),
        expires[order],
    )
    out.events, out.sources, out.points, out.earned, out.expires = (
        column.tolist() for column in out.arrays
    )


def _held(
    lots: tuple[list[int], list[int], list[int]],
    head: int,
    report: int,
    wanted: tuple[bool, bool],
) -> tuple[int, int, dict[int, int]]:
    """What a customer's lots from ``head`` on (``lots``: when available, when they
    expire, their points) hold at the end: the points, those still waiting at ``report``,
    and, when asked (``wanted``: whether the lots keep their time order, whether the
    upcoming expiries are), the points per instant they expire at (not the lots that
    never expire). Lots in time order are summed a slice at a time."""
    available, expires, lot_points = lots
    in_order, upcoming = wanted
    count = len(lot_points)
    held = sum(lot_points[head:])
    by_instant: dict[int, int] = {}
    if in_order:
        waiting = sum(lot_points[bisect_right(available, report, head) :])
        index = head
        while upcoming and index < count:
            instant = expires[index]
            stop = bisect_right(expires, instant, index)
            left = sum(lot_points[index:stop])
            if left and instant != NEVER:
                by_instant[instant] = left
            index = stop
        return held, waiting, by_instant
    waiting = sum(lot_points[lot] for lot in range(head, count) if available[lot] > report)
    for lot in range(head, count) if upcoming else ():
        if lot_points[lot] and expires[lot] != NEVER:
            by_instant[expires[lot]] = by_instant.get(expires[lot], 0) + lot_points[lot]
    return held, waiting, by_instant


def _own_lot(bought: int | None, sources: list[int], head: int) -> list[int]:
    """The lot (from ``head`` on) that purchase ``bought`` (its event, if the customer made
    it) opened, as a list of at most one: event ids are unique, and a customer's lots are
    opened in event order, so a bisection finds it."""
    if bought is None:
        return []
    lot = bisect_left(sources, bought, head)
    return [lot] if lot < len(sources) and sources[lot] == bought else []


def _never_back(instants: list[int]) -> bool:
    """Whether a customer's lots' instants (when available, when due) never go back."""
    return all(earlier <= later for earlier, later in pairwise(instants))


def _expiry_arguments(
    points: list[int], earned: list[int], expires: list[int], index: int
) -> tuple[Any, ...]:
    return (points[index], earned[index], expires[index])


class _Clock:
    """When a purchase's points become available and when they expire, in microseconds."""

    def __init__(self, policy: PointsPolicy, frame: Frame, moment: Callable[[int], datetime]):
        self.policy, self.frame, self.moment = policy, frame, moment
        pending, expiry = policy.pending_for, policy.expire_after
        self.wait = 0 if pending is None else pending.days * _DAY_US
        self.wait_months = pending is not None and pending.months != 0
        self.lasts = NEVER if expiry is None else expiry.days * _DAY_US
        self.by_date = expiry is not None and expiry.months != 0 and policy.round_up_to is not None
        self.exact = expiry is not None and (expiry.months != 0 or policy.round_up_to is not None)
        self.days: dict[int, date] = {}

    def available_at(self, event: int, at: int) -> int:
        """When points earned at ``event`` can be spent (``Duration.after`` of the wait)."""
        if self.wait_months:
            pending = self.policy.pending_for
            assert pending is not None  # noqa: S101 -- wait_months says it is set
            return microseconds(pending.after(self.moment(event), self.policy.zone))
        return at + self.wait

    def columns(self, purchases: Flags) -> tuple[Ints, Ints]:
        """When each purchase's points become available and when they expire
        (``PointsPolicy.expiry_of``, or NEVER), at once (0 at other events).

        Months, rounded up to the end of a month, quarter or year, land on the first local
        midnight of a period that the local date of the purchase alone decides: those are
        worked out once per local date.
        """
        frame = self.frame
        at, local = frame.at, frame.local_date
        bought = np.flatnonzero(purchases)
        if self.wait_months:
            available = np.zeros(len(at), dtype=np.int64)
            moments = at[bought].tolist()
            available[bought] = [
                self.available_at(event, moment)
                for event, moment in zip(bought.tolist(), moments, strict=True)
            ]
        else:
            available = at + self.wait
        if not self.exact:
            expires = np.full(len(at), NEVER, dtype=np.int64)
            if self.lasts != NEVER:
                expires = at + self.lasts
        elif self.by_date:
            days, first = np.unique(local[bought], return_index=True)
            ends = [self._expiry(event) for event in bought[first].tolist()]
            expires = np.zeros(len(at), dtype=np.int64)
            if len(days):
                found = np.asarray(ends, dtype=np.int64)
                expires[bought] = found[np.searchsorted(days, local[bought])]
        else:
            expires = np.zeros(len(at), dtype=np.int64)
            expires[bought] = [self._expiry(event) for event in bought.tolist()]
        return available, expires

    def _expiry(self, event: int) -> int:
        expires = self.policy.expiry_of(self.moment(event))
        assert expires is not None  # noqa: S101 -- exact says the points expire
        return microseconds(expires)

    def local_day(self, instant: int) -> date:
        """The local date of an instant in the program's zone."""
        found = self.days.get(instant)
        if found is None:
            moment = _EPOCH + timedelta(microseconds=instant)
            found = self.days[instant] = moment.astimezone(self.policy.zone).date()
        return found


def run_integer_accounts(  # noqa: PLR0915 (one hot loop, on purpose)
    frame: Frame,
    policy: PointsPolicy,
    points: Ints,
    flags: tuple[Flags, Flags, Flags],
    moment: Callable[[int], datetime],
    cutoff: tuple[datetime, bool, datetime] | None,
    replayed: list[int],
    accounts: Accounts,
    catalogue: Catalogue = _NO_CATALOGUE,
) -> None:
    """``_accounts.run_accounts`` for a policy without ``expire_on_inactivity``.

    A redemption keeps which lots (by index) it took its points from, as ``lots.redeem``
    keeps its ``Spent``; a cancellation (``catalogue.cancels``) gives them back to the lots
    still there, those in front of the first unexpired lot having expired.
    """
    assert policy.inactivity is None  # noqa: S101 -- the caller checks
    clock = _Clock(policy, frame, moment)
    has_clock = policy.has_clock
    name = policy.name
    why = f"{policy.expire_after.text if policy.expire_after else ''} after they were earned"
    if policy.round_up_to:
        why += f", to the end of the {policy.round_up_to}"
    accounts.expiry_reason = ExpiryReason(name, why, policy.zone)
    ids = frame.event_ids
    starts = frame.customer_start.tolist()
    until = (
        None if cutoff is None else (microseconds(cutoff[0]), cutoff[1], microseconds(cutoff[2]))
    )
    events_out, entries_out = accounts.events, accounts.entries
    cancels, tier_at = catalogue.cancels, catalogue.tiers

    due, closing = accounts.expiring, accounts.closing_expiries
    available_at, expires_at = clock.columns(flags[0])
    plain, carried = None, {}
    if has_clock:  # the purchases before a customer's first other event, over columns
        replayed, plain = plain_customers(frame, flags[0], replayed, points, expires_at)
        if plain is not None:
            upcoming = policy.expire_after is not None
            carried = plain_accounts(
                frame, plain, available_at, until, clock.local_day, upcoming, accounts
            )
    columns = (
        *flags[:2],
        frame.at,
        frame.local_date,
        points,
        frame.units,
        available_at,
        expires_at,
    )
    # A customer whose lots keep their time order has its purchases added as runs between
    # the other events it visits (``_purchase_runs``); the others visit every event.
    in_runs = np.zeros(len(frame.customer_ids), dtype=np.bool_)
    earnings, non_purchases = None, []
    if plain is None:
        picked: list[Any] = [column.tolist() for column in columns]
    else:
        in_runs = in_time_order(frame, flags[0], points, (available_at, expires_at))
        earnings = Earnings.of(frame, flags[0], points, available_at, expires_at)
        non_purchases = np.flatnonzero(~flags[0]).tolist()
        visited = visited_events(frame, replayed, plain.cut, in_runs, flags[0])
        picked = loop_columns(frame, visited, columns)  # by event: those the loop reads
    purchases, refunds, at_of, local_of, points_of, asked, available_of, expires_of = picked
    cuts = None if plain is None else plain.cut.tolist()
    runs_of = in_runs.tolist()
    terms_of: dict[tuple[str, int], RedeemTerms] = {}
    lazily = Expiries()  # lots of customers in runs that expired at an event: placed after
    for customer in replayed:
        customer_id = frame.customer_ids[customer]
        lots_left = carried.get(customer)
        # the purchases (events) that earned the lots, when available, when they expire,
        # their points
        sources, available, expires, lot_points = lots_left or ([], [], [], [])
        # Lots open in event order. While their availability and their expiry never go
        # back (a fixed wait and period do not), the lots still waiting are the last ones
        # and the lots due the first ones: bisections find them, not scans of every lot.
        in_run = earnings is not None and runs_of[customer]
        ready_in_order = in_run or _never_back(available)
        due_in_order = in_run or _never_back(expires)
        lots_now = (sources, available, expires, lot_points)
        dying = (sources, expires, lot_points)
        head = 0  # the lots before it have expired
        spent_to = 0  # the lots from head to it hold no points (a redemption spent them)
        due_at = expires[0] if has_clock and expires else NEVER  # when the head lot expires
        debt = 0
        written_off: list[WriteOff] = []  # under clamp: what cancellations may recover
        units: dict[str, int] = {}  # per reward, units redeemed (for per_customer)
        spent: dict[int, tuple[Spent, list[tuple[int, int]]]] = {}  # by redemption event
        bought_at: dict[str, int] | None = None
        first, end = starts[customer], starts[customer + 1]
        if cuts is not None:
            first = cuts[customer]
        visits: Iterable[int] = range(first, end)
        if in_run:
            starts_at, ends_at = bisect_left(non_purchases, first), bisect_left(non_purchases, end)
            visits = non_purchases[starts_at:ends_at]
        bought = first  # in runs: the first event whose purchase is not added yet
        for event in visits:
            at = at_of[event]
            if in_run:
                if bought < event:
                    assert earnings is not None  # noqa: S101 -- in_run says it is set
                    debt = earnings.add(lots_now, (bought, event), debt)
                bought = event + 1
                head = bisect_right(expires, at, head)  # the lots due by now have expired
            elif at >= due_at:  # lots._expire_due: pop the due lots from the front
                if due_in_order:
                    stop = bisect_right(expires, at, head)
                else:
                    stop = head + 1
                    while stop < len(expires) and expires[stop] <= at:
                        stop += 1
                _expired(due, event, (head, stop), dying)
                head = stop
                due_at = expires[head] if head < len(expires) else NEVER
            if purchases[event]:
                gained = points_of[event]
                if gained > 0 and debt:
                    repaid = min(debt, gained)
                    debt -= repaid
                    gained -= repaid
                if gained <= 0:
                    continue
                if not has_clock and len(lot_points) > head:
                    lot_points[head] += gained
                    spent_to = head
                    continue
                ready, ends = available_of[event], expires_of[event]
                if lot_points:
                    ready_in_order = ready_in_order and ready >= available[-1]
                    due_in_order = due_in_order and ends >= expires[-1]
                if has_clock and head == len(lot_points):
                    due_at = ends
                sources.append(event)
                available.append(ready)
                expires.append(ends)
                lot_points.append(gained)
                continue
            written: list[LedgerEntry] = []
            if refunds[event]:
                wanted = -points_of[event]
                if wanted:
                    purchase_id = frame.purchase_id[event].as_py()
                    lots = range(head, len(lot_points))
                    if bought_at is None:  # the customer's events by id, at its first refund
                        span = range(starts[customer], end)
                        bought_at = dict(zip(ids[span.start : span.stop].tolist(), span))
                    own = _own_lot(bought_at.get(purchase_id), sources, head)
                    # then the available lots oldest first, then the waiting ones
                    others: Iterable[int] = lots
                    if not ready_in_order:
                        ready = [lot for lot in lots if lot_points[lot] and available[lot] <= at]
                        waiting = [lot for lot in lots if lot_points[lot] and available[lot] > at]
                        others = (*ready, *waiting)
                    for lot in chain(own, others):
                        if not wanted:
                            break
                        taken = min(lot_points[lot], wanted)
                        lot_points[lot] -= taken
                        wanted -= taken
                    if wanted and not policy.clamp:
                        debt += wanted
                    elif wanted:
                        if spent:  # recoverable by cancelling one of these (lots.take_back)
                            redeemed = tuple(ids[key] for key in spent)
                            written_off.append(WriteOff(ids[event], wanted, redeemed))
                        reason = (
                            f"{wanted} {name} of refunded purchase {purchase_id} were already "
                            "spent or expired; written off (the program clamps the balance at 0)"
                        )
                        written = [
                            _entry(
                                policy,
                                ids[event],
                                customer_id,
                                "points.negative_balance",
                                "written_off",
                                wanted,
                                reason,
                            )
                        ]
            elif event in cancels:
                undone = spent.pop(cancels[event], None)
                if undone is not None:
                    kept, taken_from = undone
                    units[kept.reward] -= kept.quantity
                    restored = sum(part for lot, part in taken_from if lot >= head)
                    gone = sum(part for lot, part in taken_from if lot < head)
                    repaid = min(debt, restored)
                    debt -= repaid
                    redemption_id = ids[cancels[event]]
                    recovery: list[LedgerEntry] = []
                    if written_off:
                        recovery, written_off = recover_written_off(
                            policy,
                            written_off,
                            customer_id,
                            ids[event],
                            redemption_id,
                            restored - repaid,
                        )
                    recovered = -sum(entry.points or 0 for entry in recovery)
                    owed = repaid + recovered
                    for lot, part in taken_from:
                        if lot >= head:
                            paid = min(owed, part)
                            owed -= paid
                            lot_points[lot] += part - paid
                            spent_to = min(spent_to, lot)
                    reason = cancellation_reason(
                        policy, redemption_id, kept, (restored, gone, repaid), recovered
                    )
                    written = [
                        _entry(
                            policy,
                            ids[event],
                            customer_id,
                            kept.reward,
                            "redemption",
                            restored,
                            reason,
                            -kept.value,
                            -kept.quantity,
                        )
                    ]
                    written += recovery
            else:
                reward_id = frame.reward[event].as_py()
                reward = policy.rewards.get(reward_id)
                day = date.fromordinal(local_of[event])
                before = units.get(reward_id, 0)
                quantity = asked[event]
                refusal = redemption_refusal(
                    policy, reward_id, day, quantity, tier_at.get(event), before
                )
                if refusal is not None or reward is None:
                    rule = reward_id if reward is None else reward.id
                    written = [
                        _entry(
                            policy, ids[event], customer_id, rule, "rejected", None, refusal or ""
                        )
                    ]
                else:
                    terms = terms_of.get((reward_id, quantity))
                    if terms is None:  # the same for every redemption of these units
                        terms = terms_of[reward_id, quantity] = redemption_terms(
                            policy, reward, quantity
                        )
                    spent_to = max(spent_to, head)
                    if ready_in_order:  # the lots from ``waits`` on are still waiting
                        waits = bisect_right(available, at, spent_to)
                        pending = sum(lot_points[waits:])
                        ready_points = sum(lot_points[spent_to:waits]) - debt
                        spendable: Iterable[int] = range(spent_to, waits)
                    else:
                        lots = range(spent_to, len(lot_points))
                        pending = sum(lot_points[lot] for lot in lots if available[lot] > at)
                        ready_points = sum(lot_points[spent_to:]) - debt - pending
                        spendable = [lot for lot in lots if available[lot] <= at]
                    if ready_points < terms.cost:
                        reason = (
                            f"rejected: {reward.name} costs {terms.cost} {name}, "
                            f"but only {max(ready_points, 0)} are available"
                        )
                        if pending:
                            reason += f" ({pending} more are still pending)"
                        written = [
                            _entry(
                                policy, ids[event], customer_id, reward.id, "rejected", None, reason
                            )
                        ]
                    else:
                        wanted = terms.cost
                        parts: list[tuple[int, int]] = []
                        for lot in spendable:
                            if lot_points[lot]:
                                taken = min(lot_points[lot], wanted)
                                lot_points[lot] -= taken
                                wanted -= taken
                                parts.append((lot, taken))
                                if not wanted:
                                    break
                        if ready_in_order:  # every lot before the last one taken is empty
                            spent_to = parts[-1][0] if parts else spent_to
                        units[reward_id] = before + quantity
                        spent[event] = (Spent(reward.id, quantity, terms.value, ()), parts)
                        written = [
                            _entry(
                                policy,
                                ids[event],
                                customer_id,
                                reward.id,
                                "redemption",
                                -terms.cost,
                                terms.reason,
                                terms.value,
                                quantity,
                            )
                        ]
            for entry in written:
                events_out.append(event)
                entries_out.append(entry)
        report = at_of[end - 1]
        if in_run:
            if bought < end:
                assert earnings is not None  # noqa: S101 -- in_run says it is set
                debt = earnings.add(lots_now, (bought, end), debt)
            stop = bisect_right(expires, report, head)
            if stop > head and sources[stop - 1] == end - 1:
                stop -= 1  # the last event's own lot can only expire at a later one
            _expired(lazily, None, (0, stop), dying)
            head = stop
        if until is not None:
            instant, inclusive, report = until
            if has_clock and head < len(expires):
                stop = head
                while stop < len(expires) and (
                    expires[stop] < instant or (inclusive and expires[stop] == instant)
                ):
                    stop += 1
                _expired(closing, end - 1, (head, stop), dying)
                head = stop
        held, held_waiting, by_instant = _held(
            (available, expires, lot_points),
            head,
            report,
            (ready_in_order and due_in_order, policy.expire_after is not None),
        )
        accounts.balances[customer] = held - debt
        accounts.available[customer] = held - debt - held_waiting
        if policy.expire_after is not None:
            by_day: dict[date, int] = {}
            for instant, left in by_instant.items():
                day = clock.local_day(instant)
                by_day[day] = by_day.get(day, 0) + left
            accounts.upcoming[customer] = tuple(
                ExpiryDue(day, left) for day, left in sorted(by_day.items())
            )
    _settle(frame, due, lazily)
    _settle(frame, closing)
    if plain is not None:
        # in customer order, as one loop over every customer would have written them
        accounts.balances = dict(sorted(accounts.balances.items()))
        accounts.available = dict(sorted(accounts.available.items()))
        accounts.upcoming = dict(sorted(accounts.upcoming.items()))
