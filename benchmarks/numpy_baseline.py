"""The coffee club vectorised with numpy: the upper reference of ``replay.py``.

The same program as :func:`baselines.coffee_int_loop`, over the same
:class:`baselines.Columns`. Lines are priced at every tier in whole arrays; the tiers come
from rolling-window sums (cumulative sums and binary searches) iterated to their fixed
point; refunds are differences over index ranges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from baselines import (  # beside this script
    COFFEE,
    GOLD_CENTS,
    MERCH,
    MICROSECONDS,
    PERCENT_BY_TIER,
    PURCHASE,
    REFUND,
    SILVER_CENTS,
    WINDOW,
    Columns,
    Outcome,
    outcome_of,
)

Ints = npt.NDArray[np.int64]


def _segment_sums(values: Ints, starts: Ints) -> Ints:
    """Sums of ``values`` over the segments that begin at ``starts`` (none empty)."""
    if len(values) == 0:
        return np.zeros(0, np.int64)
    return np.add.reduceat(values, starts).astype(np.int64)


@dataclass(frozen=True, slots=True)
class NumpyRun:
    """The numpy baseline's outcome and how many fixed-point passes it took."""

    outcome: Outcome
    passes: int


def _returned(units: Ints, paid: Ints, quantity: Ints) -> Ints:
    """What ``units`` returned units of lines give back: round_half_up(paid / quantity) each,
    and the whole paid amount once every unit is back."""
    whole = np.maximum(quantity, 1)
    share = np.minimum(units * ((2 * paid + whole) // (2 * whole)), paid)
    return np.where(units >= whole, paid, share)


def _by_tier(tier: Ints, values: list[Ints]) -> Ints:
    """Per element, the value of its tier (0, 1, 2): arithmetic, cheaper than a gather."""
    none, silver, gold = values
    return none + (silver - none) * (tier >= 1) + (gold - silver) * (tier == 2)


def _window_key(customer: Ints, at: Ints) -> tuple[Ints, Callable[[Ints, Ints], Ints]]:
    """A key sorted like (customer, instant), and how to make the key of any instant.

    customer x span + instant when that fits in 64 bits (in seconds when every instant is
    a whole second); otherwise the instant's rank among all instants.
    """
    unit = MICROSECONDS if len(at) and not (at % MICROSECONDS).any() else 1
    low = (int(at.min(initial=0)) - WINDOW - 1) // unit * unit
    span = (int(at.max(initial=0)) + WINDOW + 2 - low) // unit + 1
    if span * (int(customer.max(initial=0)) + 1) < 2**62:

        def shift(customer: Ints, at: Ints) -> Ints:
            # ceil((at - low) / unit): exact for whole units, and never merges two
            # instants that differ by a whole unit
            return customer * span - ((low - at) // unit)

        return shift(customer, at), shift
    instants = np.sort(at)
    ranks = len(instants) + 1

    def rank(customer: Ints, at: Ints) -> Ints:
        return customer * ranks + np.searchsorted(instants, at)

    return rank(customer, at), rank


def _level(spend: Ints) -> Ints:
    return (spend >= SILVER_CENTS).astype(np.int64) + (spend >= GOLD_CENTS)


def coffee_numpy(columns: Columns) -> NumpyRun:  # noqa: PLR0915 (one pipeline, in order)
    """The coffee club with numpy arrays (see the module docstring).

    A purchase's tier depends only on earlier purchases, so iterating "price every line at
    the tiers found so far, then find the tiers from the window sums" from all-none reaches
    the one fixed point, and stops there. Assumes, like the generator, that the skus of a
    purchase are distinct (a refund line matches one line).
    """
    c = columns
    events = len(c.kind)
    first = c.first[:-1]
    row_event = np.repeat(np.arange(events, dtype=np.int64), np.diff(c.first))
    is_purchase = c.kind == PURCHASE
    is_line = is_purchase[row_event]
    weight = np.where(c.appreciation[row_event] == 1, 3, np.where(c.category == COFFEE, 2, 1))
    discountable = is_line & (c.category != MERCH)

    # rolling windows: (customer, instant) as one sortable integer key
    key, shift = _window_key(c.customer, c.at)
    lo = np.searchsorted(key, shift(c.customer, c.at - WINDOW))

    # refunds: which purchase line each refund row touches, in time order per line
    refund_rows = np.flatnonzero(c.kind[row_event] == REFUND)
    touched_line, touched_event, touched_units = _refund_touches(c, row_event, refund_rows)
    order = np.lexsort((touched_event, touched_line))
    touched_line, touched_event = touched_line[order], touched_event[order]
    touched_units = touched_units[order]
    new_line = np.ones(len(touched_line), np.bool_)
    new_line[1:] = touched_line[1:] != touched_line[:-1]
    cumulative = np.cumsum(touched_units)
    segment = np.maximum.accumulate(np.where(new_line, np.arange(len(touched_line)), 0))
    cumulative = cumulative - (cumulative[segment] - touched_units[segment])
    units_after = np.minimum(cumulative, c.quantity[touched_line])
    units_before = np.where(new_line, 0, np.roll(units_after, 1))
    refunded_purchase = row_event[touched_line]
    # a refund takes spend off the purchases evaluated after it whose window still holds
    # the refunded purchase: event indexes (refund, end), end the first at > purchase + 365 d
    window_end = np.searchsorted(
        key, shift(c.customer[refunded_purchase], c.at[refunded_purchase] + WINDOW + 1)
    )

    # each line's discount and paid amount at each tier; each event's and refund's total
    off_by_tier = [np.where(discountable, (c.gross * p + 50) // 100, 0) for p in PERCENT_BY_TIER]
    paid_by_tier = [np.where(is_line, c.gross - off, 0) for off in off_by_tier]
    event_paid = [_segment_sums(paid, first) for paid in paid_by_tier]
    line_units = c.quantity[touched_line]
    taken_by_tier = [
        _returned(units_after, paid[touched_line], line_units)
        - _returned(units_before, paid[touched_line], line_units)
        for paid in paid_by_tier
    ]
    applies = window_end > touched_event + 1
    starts_taking, stops_taking = touched_event[applies] + 1, window_end[applies]

    tier = np.zeros(events, np.int64)
    passes = 0
    while True:
        passes += 1
        cumulative_paid = np.zeros(events + 1, np.int64)
        np.cumsum(_by_tier(tier, event_paid), out=cumulative_paid[1:])
        taken = _by_tier(tier[refunded_purchase], taken_by_tier)[applies]
        change = np.zeros(events + 1, np.int64)
        np.add.at(change, starts_taking, -taken)
        np.add.at(change, stops_taking, taken)
        before = cumulative_paid[:-1] - cumulative_paid[lo] + np.cumsum(change[:-1])
        found = np.where(is_purchase, _level(before), 0)
        if np.array_equal(found, tier):
            break
        tier = found
    off = _by_tier(tier[row_event], off_by_tier)
    paid = _by_tier(tier[row_event], paid_by_tier)

    # what is left of each line after every refund, and the stars on it
    last_of_line = np.append(new_line[1:], True)[: len(new_line)]
    final_line = touched_line[last_of_line]
    left = paid.copy()
    left[final_line] -= _returned(
        units_after[last_of_line], paid[final_line], c.quantity[final_line]
    )
    weighted = _segment_sums(left * weight, first)
    earned = np.where(tier == 2, weighted * 3 // 100, weighted // 50)
    earned = np.where(is_purchase, earned, 0)

    customer_first = np.flatnonzero(np.diff(c.customer, prepend=-1) != 0)
    stars = _segment_sums(earned, customer_first)
    discounts = _segment_sums(_segment_sums(off, first), customer_first)
    last = np.append(customer_first[1:], events) - 1
    cumulative_left = np.zeros(events + 1, np.int64)
    np.cumsum(_segment_sums(left, first), out=cumulative_left[1:])
    final = cumulative_left[last + 1] - cumulative_left[lo[last]]
    outcome = outcome_of(c.customers, stars.tolist(), _level(final).tolist(), discounts.tolist())
    return NumpyRun(outcome, passes)


def _refund_touches(c: Columns, row_event: Ints, refund_rows: Ints) -> tuple[Ints, Ints, Ints]:
    """(purchase line, refund event, units asked) for every line each refund row touches."""
    purchase = c.target[row_event[refund_rows]]
    whole = c.sku[refund_rows] < 0
    # a refund of everything touches every line of its purchase, asking for all its units
    whole_rows = refund_rows[whole]
    counts = np.diff(c.first)[c.target[row_event[whole_rows]]]
    whole_event = np.repeat(row_event[whole_rows], counts)
    whole_start = np.repeat(c.first[c.target[row_event[whole_rows]]], counts)
    whole_line = (
        whole_start + np.arange(len(whole_start)) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    # a refund line touches the line of its purchase with the same sku
    part_rows = refund_rows[~whole]
    part_purchase = purchase[~whole]
    counts = np.diff(c.first)[part_purchase]
    candidate = (
        np.repeat(c.first[part_purchase], counts)
        + np.arange(int(counts.sum()))
        - (np.repeat(np.cumsum(counts) - counts, counts))
    )
    owner = np.repeat(np.arange(len(part_rows)), counts)
    match = c.sku[candidate] == c.sku[part_rows][owner]
    part_line, part_owner = candidate[match], owner[match]
    if len(np.unique(part_owner)) != len(part_owner):
        raise ValueError("a purchase has two lines of one sku; the numpy baseline assumes not")
    lines = np.concatenate([whole_line, part_line])
    events = np.concatenate([whole_event, row_event[part_rows][part_owner]])
    units = np.concatenate([c.quantity[whole_line], c.quantity[part_rows][part_owner]])
    return lines.astype(np.int64), events.astype(np.int64), units.astype(np.int64)
