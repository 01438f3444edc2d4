"""A birthday or sign-up gift given at a purchase, as a member of an exclusive group.

The reference tries the gift's step on the group's basket and state (``stacking.group_step``)
and puts the state back: the gift is used up (its birthday year given, the sign-up bonus
given) only where it wins. Where the group sets it aside, nothing of it is used: a later
purchase in the same window (or, for a sign-up, any later qualifying purchase) may give it,
and competes again.

Over columns: the purchases that qualify for the gift, in its windows and eligible, are its
candidates (``GiftColumns.candidates``); of a customer's candidates of one birthday year
(or of all their candidates, for a sign-up), the gift's *trial* rewards every one up to the
first it is not set aside at, where it is given (``_gifts`` gives it at the first candidate
the group left it). The group decides on those trials with its other members'
(``_groups``), to the masks' fixed point.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardrules.engine.ledger import NOTE_KINDS, LedgerEntry
from rewardrules.evaluation.batch._dated import GiftColumns
from rewardrules.evaluation.batch._frame import Flags, Ints
from rewardrules.evaluation.batch._groups import Trial
from rewardrules.evaluation.batch._limits import LimitColumns, bonus_releases
from rewardrules.evaluation.batch._rules import Numbers


def gift_trial(run: Any, stage: GiftColumns, paid: Numbers, lines: Flags) -> Trial:
    """What a grouped gift would give at each purchase, from its state before it: at its
    candidates up to the first one it is not set aside at, per customer and birthday year.

    ``run`` is the computation (``_compute.Computation``): its frame, tiers, groups and
    gifts (``_gifts.GiftLedger``: the profiles, and a birthday's standing).
    """
    frame, gifts = run.frame, run.gifts
    # Beside a price member, a sign-up reads what is paid on the group's basket.
    paid = run.groups.earns_on(stage.plan.rule.id, paid, tried=True)
    found = stage.qualifying(frame, run.tier, lines, paid, gifts.columns)
    standing = gifts.standing_now(stage.plan, run.tier, paid)
    events, years, first = stage.candidates(frame, found, gifts.columns, standing)
    kept = ~run.groups.aside[stage.plan.rule.id][events]
    # Candidates kept before each one, within its customer and year: the gift is given at
    # the first kept one, so a later candidate tries nothing.
    before = np.cumsum(kept) - kept
    start = np.flatnonzero(first)
    run_of = np.cumsum(first) - 1
    tried = before - before[start][run_of] == 0 if len(events) else first
    chosen = events[tried]
    built = [
        stage.entry(frame, gifts.columns, event, year)
        for event, year in zip(chosen.tolist(), years[tried].tolist())
    ]
    limited = run.limited.get(stage.plan.rule.id)
    if limited is not None and built:
        built = _within_limits(run, stage, lines, limited, chosen, built)
    rewarding = np.zeros(frame.events, dtype=np.bool_)
    money = np.zeros(frame.events, dtype=np.int64)
    points = np.zeros(frame.events, dtype=np.int64)
    for event, entry in zip(chosen.tolist(), built, strict=True):
        rewarding[event] = entry.kind not in NOTE_KINDS  # a limit may leave it nothing
        money[event] = entry.value_minor or 0
        points[event] = entry.points or 0
    return Trial(rewarding, money, points, dict(zip(chosen.tolist(), built, strict=True)))


def _within_limits(
    run: Any,
    stage: GiftColumns,
    lines: Flags,
    limited: LimitColumns,
    events: Ints,
    built: list[LedgerEntry],
) -> list[LedgerEntry]:
    """A limited gift's trial within what its limits leave, noted where they cut it (as
    ``stacking.limited_step`` gives it): its limits count where it is given, not where the
    group sets it aside; the points a refund takes back return to them (``_gifts``)."""
    frame = run.frame
    aside = run.groups.aside[stage.plan.rule.id]
    zeros = np.zeros(frame.events, dtype=np.int64)
    if built[0].kind == "points":
        wanted = zeros.copy()
        wanted[events] = [entry.points or 0 for entry in built]
        priced = stage.priced(frame, run.tier, lines)
        given = np.where(aside, 0, wanted)
        releases = bonus_releases(frame, priced, given, run.refunds.steps)
        _, cuts = limited.cut_points_column(frame, wanted, releases, aside)
        noted: list[LedgerEntry] = limited.noted(events, built, cuts, "points")
        return noted
    units, values = zeros.copy(), zeros.copy()
    units[events] = 1
    values[events] = [entry.value_minor or 0 for entry in built]
    _, cuts = limited.cut_counted(frame, units, values, aside)
    counted: list[LedgerEntry] = limited.noted(events, built, cuts, "counted")
    return counted
