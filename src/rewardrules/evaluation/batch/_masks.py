"""A rule's compiled ``Scope`` as boolean columns: which lines it matches, which events it admits.

The conditions that do not depend on the customer's tier are computed once over every line
or event; the tier condition (``when.tiers``) is a look-up by tier index, done per pass of
the tier iteration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute

from rewardrules.engine.scope import Scope
from rewardrules.engine.tiers import TierPlan
from rewardrules.evaluation.batch._frame import Column, Flags, Frame, Ints, pc


def _is_in(values: Column, members: frozenset[str]) -> Flags:
    found = pc.is_in(values, value_set=pa.array(sorted(members), pa.string()))
    return np.asarray(found.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.bool_)


@dataclass(frozen=True, slots=True)
class ScopeColumns:
    """A scope over a frame: lines matched, events admitted whatever the tier, and which
    tier indexes the tier condition admits (position ``len(names)`` is 'no tier')."""

    lines: Flags
    events: Flags
    tiers: Flags

    def admits(self, tier: Ints) -> Flags:
        """Events admitted, given each event's tier index (-1 for no tier)."""
        return self.events & self.tiers[tier]

    def line_flags(self, tier: Ints, frame: Frame) -> Flags:
        """Lines covered: matched, of an admitted event."""
        return self.lines & self.admits(tier)[frame.line_event]


def scope_columns(scope: Scope, frame: Frame, tiers: TierPlan | None) -> ScopeColumns:
    """Evaluate a scope's conditions over every line and event of the frame."""
    lines = _lines(scope, frame)
    return ScopeColumns(lines, _events(scope, frame, lines), _tiers(scope, tiers))


def _lines(scope: Scope, frame: Frame) -> Flags:
    count = len(frame.line_event)
    if scope.every_line:
        return np.ones(count, dtype=np.bool_)
    matched = np.ones(count, dtype=np.bool_)
    if scope.categories is not None or scope.skus is not None:
        included = np.zeros(count, dtype=np.bool_)
        if scope.categories is not None:
            included |= frame.category.is_in(scope.categories)
        if scope.skus is not None:
            included |= frame.sku.is_in(scope.skus)
        matched &= included
    if scope.exclude_skus:
        matched &= ~frame.sku.is_in(scope.exclude_skus)
    if scope.exclude_categories:
        matched &= ~frame.category.is_in(scope.exclude_categories)
    return matched


def _events(scope: Scope, frame: Frame, lines: Flags) -> Flags:
    admitted = np.ones(frame.events, dtype=np.bool_)
    local = frame.local_date
    if scope.starts is not None:
        admitted &= local >= scope.starts.toordinal()
    if scope.ends is not None:
        admitted &= local <= scope.ends.toordinal()
    if scope.min_total is not None:
        if scope.min_total_eligible and not scope.every_line:
            # min_total_of: eligible adds up only the lines the scope matches.
            admitted &= _matched_totals(frame, lines) >= scope.min_total
        else:
            admitted &= frame.gross_total >= scope.min_total
    if scope.stores is not None:
        admitted &= _is_in(frame.store, scope.stores)
    if scope.weekdays is not None:
        admitted &= np.isin(frame.weekday, sorted(scope.weekdays))
    if scope.dates is not None:
        admitted &= np.isin(local, sorted(day.toordinal() for day in scope.dates))
    return admitted


def _matched_totals(frame: Frame, lines: Flags) -> Ints:
    """Per event, the gross of its lines the scope matches (``min_total_of: eligible``)."""
    if len(frame.gross) == 0:
        return np.zeros(frame.events, dtype=np.int64)
    matched = np.where(lines, frame.gross, 0).astype(np.int64)
    totals = np.add.reduceat(matched, frame.line_start[:-1])
    # reduceat gives an event without lines (a refund) the next event's first line: none.
    return np.where(np.diff(frame.line_start) > 0, totals, 0)


def _tiers(scope: Scope, tiers: TierPlan | None) -> Flags:
    names = () if tiers is None else tiers.names
    if scope.tiers is None:
        return np.ones(len(names) + 1, dtype=np.bool_)
    # The last position is index -1: no tier, which no tier condition admits.
    return np.array([name in scope.tiers for name in names] + [False], dtype=np.bool_)
