"""Tier levels over columns: window sums from prefix sums, and the level each purchase is at.

A purchase's level comes from what the customer's earlier purchases in its window count
(spend paid, or 1 each); the paid amounts depend on the levels (a tiered discount), so the
engine iterates: guess the levels, compute what is paid, recompute the levels, until they
no longer change. Any fixed point is the reference fold's answer (a purchase's level
depends only on earlier purchases, so by induction each level equals the fold's), and the
iteration reaches it in at most one pass more than the longest customer history has
purchases; in practice two or three passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from rewardrules.engine.tiers import TierPlan
from rewardrules.evaluation.batch._frame import Flags, Frame, Ints

_MICROSECOND = timedelta(microseconds=1)


def first_at_or_after(customer: Ints, at: Ints, query_customer: Ints, query_at: Ints) -> Ints:
    """For each query, the index of the first event of its customer at or after its instant.

    Events are sorted by (customer, instant). Queries and events are merged in one sort; a
    query sorts before events at its own instant, so the index counts the events strictly
    before it.
    """
    count = len(customer)
    merged_customer = np.concatenate((customer, query_customer))
    merged_at = np.concatenate((at, query_at))
    is_event = np.concatenate(
        (np.ones(count, dtype=np.int8), np.zeros(len(query_customer), dtype=np.int8))
    )
    order = np.lexsort((is_event, merged_at, merged_customer))
    events_before = np.cumsum(is_event[order]) - is_event[order]
    found = np.empty(len(query_customer), dtype=np.int64)
    queries = order >= count
    found[order[queries] - count] = events_before[queries]
    return found


_ROOM = 2**61
"""How far the instants shifted in one binary search may reach (below int64's 2**63)."""


def window_starts(customer: Ints, customer_start: Ints, at: Ints, span: int) -> Ints:
    """For each event, the index of its customer's first event at or after ``at - span``.

    Events are sorted by (customer, instant). Each customer's instants are shifted so that
    all of them, and every instant ``span`` before them, lie above the previous customer's:
    one binary search then answers every event of a group of customers. A group holds as
    many customers as fit in ``_ROOM`` (the widest customer's history and span, times the
    group's size), so that the shifted instants stay in int64 however many customers there
    are; each group's search reads only its own events, so the work stays linear in them
    (a search over all the events' ranks, as before, cost ten times as much from about
    40,000 customers on, where the shifted instants of one group stopped fitting).
    """
    if len(at) == 0:
        return np.zeros(0, dtype=np.int64)
    first, last = customer_start[:-1], customer_start[1:] - 1
    lowest = at[first]
    width = at[last] - lowest + (span + 1)
    size = max(1, _ROOM // int(width.max()))
    starts = np.empty(len(at), dtype=np.int64)
    for low in range(0, len(first), size):
        high = min(low + size, len(first))
        begin, end = int(customer_start[low]), int(customer_start[high])
        base = np.concatenate(([0], np.cumsum(width[low : high - 1])))
        shift = (base - lowest[low:high])[customer[begin:end] - low]
        shifted = at[begin:end] + shift
        starts[begin:end] = np.searchsorted(shifted, shifted - span, side="left") + begin
    return starts


def calendar_keys(window: str, local_date: Ints) -> Ints:
    """The calendar window of each local date, as an integer (0 for lifetime)."""
    if window == "lifetime":
        return np.zeros(len(local_date), dtype=np.int64)
    days = (local_date - date(1970, 1, 1).toordinal()).astype("datetime64[D]")
    months = days.astype("datetime64[M]").astype(np.int64)
    if window == "calendar_month":
        return months
    if window == "calendar_quarter":
        return months // 3
    return months // 12


def levels(plan: TierPlan, amounts: Ints) -> Ints:
    """The level each amount reaches, -1 below the lowest (``TierPlan.level_for``)."""
    level = np.full(len(amounts), -1, dtype=np.int64)
    for index, threshold in enumerate(plan.thresholds):
        level = np.where(amounts >= threshold, index, level)
    return level


@dataclass(frozen=True, slots=True)
class TierWindows:
    """Each event's window among the customer's events: a permutation that puts the events
    of one window together (in evaluation order), and where each event's window starts in it.
    """

    plan: TierPlan
    order: Ints
    start: Ints
    """In ``order``'s positions: the first position of each position's window."""
    counted: Flags
    """The events a tier counts: purchases."""
    base: Ints | None = None
    """Per event, what saved states' purchases count in its window (``_resumed_tiers``)."""
    report_base: Callable[[Ints, Ints], Ints] | None = None
    """Per customer, what they count at a report's instants and dates."""

    @classmethod
    def of(cls, plan: TierPlan, frame: Frame, counted: Flags) -> TierWindows:
        """Find each event's window once: it does not depend on amounts."""
        index = np.arange(frame.events, dtype=np.int64)
        if plan.span is not None:
            start = window_starts(frame.customer, frame.customer_start, frame.at, span_us(plan))
            return cls(plan, index, start, counted)
        # A calendar key can step back when a zone changes its offset at midnight: group
        # by (customer, key) rather than by runs.
        keys = calendar_keys(plan.window, frame.local_date)
        order = np.lexsort((index, keys, frame.customer))
        grouped_keys, grouped_customer = keys[order], frame.customer[order]
        change = np.ones(frame.events, dtype=np.bool_)
        change[1:] = (grouped_keys[1:] != grouped_keys[:-1]) | (
            grouped_customer[1:] != grouped_customer[:-1]
        )
        start = np.maximum.accumulate(np.where(change, index, 0))
        return cls(plan, order.astype(np.int64), start.astype(np.int64), counted)

    def sums_before(
        self, amounts: Ints, ranges: tuple[Ints, Ints] | None = None, deltas: Ints | None = None
    ) -> Ints:
        """Each event's window sum over the customer's counted events before it.

        ``ranges`` (from :meth:`change_ranges`) and ``deltas``: each change (a refund)
        adds its delta over its range of positions (in ``order``).
        """
        grouped = np.where(self.counted, amounts, 0)[self.order]
        prefix = np.concatenate(([0], np.cumsum(grouped)))
        sums_grouped = prefix[: len(amounts)] - prefix[self.start]
        if ranges is not None and deltas is not None and len(deltas):
            added = np.zeros(len(amounts) + 1, dtype=np.int64)
            np.add.at(added, ranges[0], deltas)
            np.add.at(added, ranges[1], -deltas)
            sums_grouped = sums_grouped + np.cumsum(added)[:-1]
        sums = np.empty(len(amounts), dtype=np.int64)
        sums[self.order] = sums_grouped
        return sums if self.base is None else sums + self.base

    def change_ranges(self, frame: Frame, changes: Sequence[tuple[int, int]]) -> tuple[Ints, Ints]:
        """For each (event, purchase): the positions (in ``order``) of the later events
        whose window holds the purchase, from the first to one past the last (an empty
        range when there are none). They do not depend on amounts: found once."""
        firsts, ends = [], []
        span = None if self.plan.span is None else span_us(self.plan)
        starts = frame.customer_start
        if span is None:
            position = np.empty(len(self.order), dtype=np.int64)
            position[self.order] = np.arange(len(self.order), dtype=np.int64)
            group_end = self._group_ends()
        for event, purchase in changes:
            customer = int(frame.customer[event])
            if span is not None:
                first, end = event + 1, int(starts[customer + 1])
                limit = int(frame.at[purchase]) + span
                end = first + int(np.searchsorted(frame.at[first:end], limit, side="right"))
            else:
                group = int(position[purchase])
                low, end = int(self.start[group]), int(group_end[group])
                first = low + int(np.searchsorted(self.order[low:end], event, side="right"))
            firsts.append(first)
            ends.append(max(first, end))
        return np.asarray(firsts, dtype=np.int64), np.asarray(ends, dtype=np.int64)

    def _group_ends(self) -> Ints:
        """For each position in ``order``, where its window's group ends."""
        count = len(self.order)
        group_starts = np.flatnonzero(np.diff(self.start, prepend=-1) != 0)
        bounds = np.concatenate((group_starts, [count]))
        return np.repeat(bounds[1:], np.diff(bounds)).astype(np.int64)

    def report_sums(self, frame: Frame, amounts: Ints, instant: Ints, local_date: Ints) -> Ints:
        """Per customer, what the window holds at a report instant (and its local date),
        counting every counted event up to it."""
        if self.plan.span is not None:
            inside = frame.at >= (instant - span_us(self.plan))[frame.customer]
        else:
            keys = calendar_keys(self.plan.window, frame.local_date)
            report = calendar_keys(self.plan.window, local_date)
            inside = keys == report[frame.customer]
        kept = np.where(inside & self.counted, amounts, 0)
        sums = np.asarray(np.add.reduceat(kept, frame.customer_start[:-1]), dtype=np.int64)
        return sums if self.report_base is None else sums + self.report_base(instant, local_date)


def span_us(plan: TierPlan) -> int:
    """A rolling window's length in microseconds."""
    assert plan.span is not None  # noqa: S101 -- only rolling windows have a span
    return plan.span // _MICROSECOND


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNKNOWN = np.iinfo(np.int64).min


class Retention:
    """``keep_for`` (or ``keep_until``) over columns: the level that applies is the
    window's, raised to the highest level still held (``TierCounter.level_before``).

    Level ``k`` is reached at a purchase whose window level is ``k`` or above while the
    customer's previous purchase's was below ``k``; it holds while the instant is before
    ``keep_for`` after its *last* reach. Per level, the last reach up to each purchase is
    a running maximum of indices: a few numpy passes per level. Reaches depend only on
    window levels, so the tiers' fixed point (``_compute``) applies the retention in each
    pass and keeps its argument: a purchase's level still depends on earlier purchases
    alone.
    """

    def __init__(self, plan: TierPlan, frame: Frame, counted: Flags) -> None:
        assert plan.holds  # noqa: S101 -- only with keep_for or keep_until
        self.plan = plan
        # Whole days are a sum; calendar months and keep_until are computed per reach.
        self.days = plan.keep_for.days if plan.keep_for and not plan.keep_for.months else None
        self.bought = np.flatnonzero(counted).astype(np.int64)
        self.at = frame.at[self.bought]
        owner = self.owner = frame.customer[self.bought]
        # Each purchase's customer's first purchase (in purchase positions).
        self.first = np.searchsorted(owner, owner, side="left").astype(np.int64)
        self.last = np.searchsorted(owner, np.arange(len(frame.customer_start) - 1), "right") - 1
        self.has_purchase = self.last >= np.searchsorted(
            owner, np.arange(len(frame.customer_start) - 1), "left"
        )
        self.until = np.full(len(self.bought), _UNKNOWN, dtype=np.int64)
        self.saved_window: Ints | None = None
        """Per customer, the window level a saved state left (-1 for none): the first new
        purchase's level rises from it (``_resumed_tiers``)."""
        self.saved_until: list[Ints] | None = None
        """Per level, per customer: until when a saved state's reach holds it."""
        if self.days is not None:
            self.until = self.at + self.days * (timedelta(days=1) // _MICROSECOND)

    def _last_reaches(self, window: Ints) -> list[Ints]:
        """Per level: for each purchase, the position of the last purchase up to it that
        reached the level (-1 when none of its customer's did)."""
        level = window[self.bought]
        previous = np.full(len(level), -1, dtype=np.int64)
        previous[1:] = level[:-1]
        positions = np.arange(len(level), dtype=np.int64)
        first = positions == self.first
        previous[first] = -1 if self.saved_window is None else self.saved_window[self.owner[first]]
        reaches = []
        for index in range(len(self.plan.names)):
            reached = np.where((previous < index) & (level >= index), positions, -1)
            last = np.maximum.accumulate(reached) if len(reached) else reached
            reaches.append(np.where(last >= self.first, last, -1))
        self._fill_until(reaches)
        return reaches

    def _fill_until(self, reaches: list[Ints]) -> None:
        """When each reaching purchase's levels end, for calendar months and keep_until
        (computed once)."""
        if self.days is not None:
            return
        found = np.unique(np.concatenate([*reaches, np.zeros(0, dtype=np.int64)]))
        found = found[found >= 0]
        for position in found[self.until[found] == _UNKNOWN].tolist():
            moment = _EPOCH + timedelta(microseconds=int(self.at[position]))
            ends = self.plan.hold_until(moment)
            self.until[position] = (ends - _EPOCH) // _MICROSECOND

    def levels(self, window: Ints) -> Ints:
        """Each event's level from its window level: retention raises the purchases'."""
        reaches = self._last_reaches(window)
        level = window[self.bought]
        for index, last in enumerate(reaches):
            held = (last >= 0) & (self.until[np.maximum(last, 0)] > self.at)
            if self.saved_until is not None:
                held |= self.saved_until[index][self.owner] > self.at
            level = np.where(held, np.maximum(level, index), level)
        raised = window.copy()
        raised[self.bought] = level
        return raised

    def held_at(self, window: Ints, events: Ints, customer: Ints, instant: Ints) -> Ints:
        """The level at each of ``events`` (not purchases: a redemption asks it) of
        ``customer``, from the window's level there, raised by what the customer's purchases
        before it reached and still hold at its ``instant`` (``TierCounter.level_at``)."""
        reaches = self._last_reaches(window)
        level = window[events].copy()
        # The customer's last purchase before each event, in purchase positions.
        before = np.searchsorted(self.bought, events, side="left") - 1
        clipped = np.maximum(before, 0)
        has_purchase = before >= 0
        if len(self.bought):
            has_purchase &= self.owner[clipped] == customer
        for index, last in enumerate(reaches):
            if not len(last) and self.saved_until is None:
                break
            held = np.zeros(len(level), dtype=np.bool_)
            if len(last):
                reach = np.where(has_purchase, last[clipped], -1)
                held = (reach >= 0) & (self.until[np.maximum(reach, 0)] > instant)
            if self.saved_until is not None:
                held |= self.saved_until[index][customer] > instant
            level = np.where(held, np.maximum(level, index), level)
        return level

    def reported(self, window: Ints, report_window: Ints, instant: Ints) -> Ints:
        """Per customer, the level at a report instant from the window's level there."""
        reaches = self._last_reaches(window)
        level = report_window.copy()
        latest = np.maximum(self.last, 0)
        for index, last in enumerate(reaches):
            if not len(last) and self.saved_until is None:
                break
            held = np.zeros(len(level), dtype=np.bool_)
            if len(last):
                reach = np.where(self.has_purchase, last[latest], -1)
                held = (reach >= 0) & (self.until[np.maximum(reach, 0)] > instant)
            if self.saved_until is not None:
                held |= self.saved_until[index] > instant
            level = np.where(held, np.maximum(level, index), level)
        return level
