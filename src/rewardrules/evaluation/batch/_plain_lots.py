"""The points accounts of customers who only buy, over columns.

A customer whose events are all purchases never owes points and never spends a lot: each
purchase that earns points opens a lot that stays whole until it expires. When the lots'
expiries do not go back in time (later purchases expire no sooner, as a fixed period or one
rounded up to a calendar period gives), each lot expires at the customer's first later
event at or after its expiry (``lots._expire_due`` pops the due lots from the front before
each event) or else at the ``as_of`` cutoff, and a search over the events' instants tells
which. ``_lots.run_integer_accounts`` leaves these customers to :func:`plain_accounts`
and replays the others event by event; the two write the same columns. A customer who
also refunds or redeems has the lots before that first other event worked out the same way
(the expiries among them, and the lots left), and the loop goes on from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from rewardrules.engine.ledger import ExpiryDue

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import date

    from rewardrules.evaluation.batch._accounts import Accounts
    from rewardrules.evaluation.batch._frame import Flags, Frame, Ints
    from rewardrules.evaluation.batch._lots import Expiries

_FITS = 2**62
_MAPPED_SHARE = 8
"""The loop reads maps of the events it replays when they are fewer than one in this many
of the history's events, else whole columns (a map's entry costs several list items)."""
NEVER = 2**62
"""A lot that does not expire: later than any instant a datetime can hold."""


@dataclass(frozen=True, slots=True)
class Lots:
    """The lots opened before each replayed customer's first event other than a purchase,
    oldest first within each customer: the purchase that opened each, its customer, its
    points and when they expire; per customer, that first other event (``cut``: the end
    of the customer's events when all are purchases: those customers are ``plain``)."""

    plain: Ints
    cut: Ints
    events: Ints
    customers: Ints
    points: Ints
    expires: Ints


Carried = tuple[list[int], list[int], list[int], list[int]]
"""A customer's lots left at its cut, as the event loop keeps them: the purchases that
earned them, when available, when they expire, and the points."""


def plain_customers(
    frame: Frame, purchases: Flags, replayed: list[int], points: Ints, expires: Ints
) -> tuple[list[int], Lots | None]:
    """Which of ``replayed`` are left to the event loop (from their cut on), and the lots
    opened before the cuts: a customer's first event other than a purchase, when the
    expiries of the lots before it never go back in time (else the customer's first
    event). None (every customer replayed by the loop) when the points might overflow
    int64 sums."""
    if not len(replayed) or not frame.events or points.dtype != np.int64:
        return replayed, None
    if int(np.abs(points).sum(dtype=np.float64)) >= _FITS:
        return replayed, None
    customer, starts = frame.customer, frame.customer_start
    others = np.flatnonzero(~purchases)
    after = np.concatenate((others, [frame.events]))[np.searchsorted(others, starts[:-1])]
    cut = np.minimum(after, starts[1:])
    chosen = np.asarray(replayed, dtype=np.int64)
    wanted = np.zeros(len(frame.customer_ids), dtype=np.bool_)
    wanted[chosen] = True
    before = np.arange(frame.events) < cut[customer]
    lots = np.flatnonzero(purchases & (points > 0) & wanted[customer] & before)
    owners, ends = customer[lots], expires[lots]
    back = (owners[1:] == owners[:-1]) & (ends[1:] < ends[:-1])
    if back.any():
        cut[owners[1:][back]] = starts[owners[1:][back]]
        kept = lots < cut[owners]
        lots, owners, ends = lots[kept], owners[kept], ends[kept]
    plain = cut[chosen] == starts[chosen + 1]
    return chosen[~plain].tolist(), Lots(chosen[plain], cut, lots, owners, points[lots], ends)


def plain_accounts(
    frame: Frame,
    lots: Lots,
    available_of: Ints,
    until: tuple[int, bool, int] | None,
    local_day: Callable[[int], date],
    upcoming: bool,
    accounts: Accounts,
) -> dict[int, Carried]:
    """The expiries before the cuts (:func:`plain_customers`), added to
    ``accounts.expiring`` (the caller puts it in event order once the loop has added its
    own), and the plain customers' whole accounts: their expiries at the ``as_of`` cutoff,
    balances, available points and upcoming expiries (when ``upcoming``: the program's
    points expire). Returns the lots the other customers have left at their cuts."""
    at, starts = frame.at, frame.customer_start
    events, owners, ends = lots.events, lots.customers, lots.expires
    last = starts[owners + 1] - 1
    due = due_events(frame, events, owners, ends, lots.cut[owners])
    whole = lots.cut[owners] == starts[owners + 1]
    if until is None:
        closing = np.zeros(len(events), dtype=np.bool_)
    else:
        instant, inclusive, _ = until
        closing = whole & (due < 0) & ((ends < instant) | (inclusive & (ends == instant)))
    expired = due >= 0
    local = frame.local_date
    for chosen, where, out in (
        (expired, due, accounts.expiring),
        (closing, last, accounts.closing_expiries),
    ):
        if chosen.any():
            _add(out, where[chosen], events[chosen], lots.points[chosen], local, ends[chosen])
    kept = ~(expired | closing)
    carried = _carried(lots, kept & ~whole, available_of)
    kept &= whole
    events, owners, points, ends = events[kept], owners[kept], lots.points[kept], ends[kept]
    report = at[last[kept]] if until is None else np.full(len(events), until[2], dtype=np.int64)
    balance = np.zeros(len(frame.customer_ids), dtype=np.int64)
    np.add.at(balance, owners, points)
    waiting = np.zeros(len(frame.customer_ids), dtype=np.int64)
    pending = available_of[events] > report
    np.add.at(waiting, owners[pending], points[pending])
    plain = lots.plain.tolist()
    for index, total, spendable in zip(
        plain, balance[lots.plain].tolist(), (balance - waiting)[lots.plain].tolist(), strict=True
    ):
        accounts.balances[index] = total
        accounts.available[index] = spendable
    if upcoming:
        _upcoming(accounts, plain, owners, points, ends, local_day)
    return carried


def _carried(lots: Lots, chosen: Flags, available_of: Ints) -> dict[int, Carried]:
    """Per customer, its chosen lots as the event loop's lists."""
    events, owners = lots.events[chosen], lots.customers[chosen]
    if not len(events):
        return {}
    columns = (
        events.tolist(),
        available_of[events].tolist(),
        lots.expires[chosen].tolist(),
        lots.points[chosen].tolist(),
    )
    heads = np.flatnonzero(np.concatenate(([True], owners[1:] != owners[:-1])))
    bounds = [*heads.tolist(), len(events)]
    return {
        owner: tuple(column[start:end] for column in columns)
        for owner, start, end in zip(owners[heads].tolist(), bounds, bounds[1:], strict=False)
    }


def loop_columns(
    frame: Frame, events: Ints, columns: tuple[np.ndarray[Any, Any], ...]
) -> list[dict[int, Any]] | list[list[Any]]:
    """Each column's values at the events the loop reads (``events``, in order), by event:
    a few of the history's events, not a list of them all; when they are a good share of
    them (long histories of customers who redeem or refund), the whole columns as lists,
    quicker to make and to read than maps."""
    if len(events) * _MAPPED_SHARE >= frame.events:
        return [column.tolist() for column in columns]
    keys = events.tolist()
    return [dict(zip(keys, column[events].tolist(), strict=True)) for column in columns]


def due_events(frame: Frame, events: Ints, owners: Ints, ends: Ints, cut: Ints) -> Ints:
    """Per lot, the event before which it expires: the customer's first event after the
    purchase at or after the expiry; -1 when there is none before the lot's ``cut``."""
    at, starts = frame.at, frame.customer_start
    # Each customer's instants as one increasing key: the customer's own span, offset by
    # the spans of the customers before (an expiry past the last event lands in between).
    if np.any(starts[1:] == starts[:-1]):
        return _due_sorted(frame, events, owners, ends, cut)
    span = at[starts[1:] - 1] - at[starts[:-1]] + 2
    if int(span.sum(dtype=np.float64)) >= _FITS:
        return _due_sorted(frame, events, owners, ends, cut)
    base = np.concatenate(([0], np.cumsum(span)[:-1]))
    opening = at[starts[:-1]]
    keys = base[frame.customer] + (at - opening[frame.customer])
    wanted = base[owners] + np.clip(ends - opening[owners], 0, span[owners] - 1)
    found = np.searchsorted(keys, wanted, side="left")
    found = np.maximum(found, events + 1)
    return np.where(found < cut, found, -1)


def _due_sorted(frame: Frame, events: Ints, owners: Ints, ends: Ints, cut: Ints) -> Ints:
    """:func:`due_events` by one sort of the events and the expiries together (customer,
    instant, expiries before events at the same instant)."""
    at, customer = frame.at, frame.customer
    count = frame.events
    times = np.concatenate((at, ends))
    whose = np.concatenate((customer, owners))
    kind = np.concatenate((np.ones(count, dtype=np.int8), np.zeros(len(ends), dtype=np.int8)))
    order = np.lexsort((kind, times, whose))
    never = np.iinfo(np.int64).max
    index = np.where(order < count, order, never)
    following = np.minimum.accumulate(index[::-1])[::-1]
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    found = following[position[count:]]
    found = np.maximum(found, events + 1)
    return np.where(found < cut, found, -1)


def _add(out: Expiries, where: Ints, sources: Ints, points: Ints, local: Ints, ends: Ints) -> None:
    """Add expiries to ``out`` (``_lots`` sorts them in with the loop's)."""
    out.events += where.tolist()
    out.sources += sources.tolist()
    out.points += points.tolist()
    out.earned += local[sources].tolist()
    out.expires += ends.tolist()


def _upcoming(
    accounts: Accounts,
    plain: list[int],
    owners: Ints,
    points: Ints,
    ends: Ints,
    local_day: Callable[[int], date],
) -> None:
    """Per plain customer, the points of the lots left that expire, summed per local date
    of their expiry, soonest first (``upcoming_expiry``; the lots' expiries, and so their
    dates, never go back within a customer)."""
    for index in plain:
        accounts.upcoming[index] = ()
    expiring = ends != NEVER
    owners, points, ends = owners[expiring], points[expiring], ends[expiring]
    if not len(ends):
        return
    instants, which = np.unique(ends, return_inverse=True)
    days = [local_day(instant) for instant in instants.tolist()]
    ordinal = np.asarray([day.toordinal() for day in days], dtype=np.int64)[which]
    heads = np.flatnonzero(
        np.concatenate(([True], (owners[1:] != owners[:-1]) | (ordinal[1:] != ordinal[:-1])))
    )
    sums = np.add.reduceat(points, heads).tolist()
    # Many customers have the same points due on the same date: one (frozen) object each.
    made: dict[tuple[date, int], ExpiryDue] = {}
    dues = []
    for instant, left in zip(which[heads].tolist(), sums, strict=True):
        key = (days[instant], left)
        found = made.get(key)
        if found is None:
            found = made[key] = ExpiryDue(*key)
        dues.append(found)
    whose = owners[heads]
    firsts = np.flatnonzero(np.concatenate(([True], whose[1:] != whose[:-1])))
    bounds = [*firsts.tolist(), len(dues)]
    for owner, start, end in zip(whose[firsts].tolist(), bounds, bounds[1:], strict=False):
        accounts.upcoming[owner] = tuple(dues[start:end])
