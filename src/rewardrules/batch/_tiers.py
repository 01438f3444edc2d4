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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from rewardrules.batch._frame import Flags, Frame, Ints
from rewardrules.tiers import TierPlan

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


def window_starts(customer: Ints, customer_start: Ints, at: Ints, span: int) -> Ints:
    """For each event, the index of its customer's first event at or after ``at - span``.

    Events are sorted by (customer, instant). Each customer's instants are shifted so that
    all of them, and every instant ``span`` before them, lie above the previous customer's:
    one global binary search then answers every event. When the shifted instants would not
    fit in int64, one merge sort does (``first_at_or_after``).
    """
    if len(at) == 0:
        return np.zeros(0, dtype=np.int64)
    first, last = customer_start[:-1], customer_start[1:] - 1
    lowest, highest = at[first], at[last]
    room = (highest - lowest).astype(np.float64).sum() + len(first) * (span + 1.0)
    if room >= 2.0**62:
        return first_at_or_after(customer, at, customer, at - span)
    base = np.concatenate(([0], np.cumsum(highest - lowest + span + 1)[:-1]))
    shift = (base - lowest)[customer]
    return np.searchsorted(at + shift, at - span + shift, side="left").astype(np.int64)


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
        return sums

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
        return np.asarray(np.add.reduceat(kept, frame.customer_start[:-1]), dtype=np.int64)


def span_us(plan: TierPlan) -> int:
    """A rolling window's length in microseconds."""
    assert plan.span is not None  # noqa: S101 -- only rolling windows have a span
    return plan.span // _MICROSECOND
