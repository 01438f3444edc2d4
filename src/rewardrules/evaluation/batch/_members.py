"""Exclusive groups' members that earn on the group's basket, and limited members' trials.

Two things the reference's ``stacking.group_step`` does that ``_groups`` leans on here:

- A group runs where its first member runs: with a price member, among the price rules.
  Its points or gift card member then earns on the basket there (the amounts before the
  price rules after the group lower them again). The reference keeps those amounts in the
  purchase's ``earned_on``, and a refund recomputes the points (or takes the spend off)
  on the share of them the refunded units had: :func:`earns_on` and :func:`steps_on`
  give those amounts and refunds, :func:`points_left` what a refund leaves of points.
- A limited member is tried within what its limits leave (``limited_step``): a points
  rule's points cut, a price rule run again within the allowance. The trial counts
  nothing where the member is set aside (``LimitColumns.run``'s ``probe``), and where it
  is given its count is the member's own run's, so the limits count only where it wins
  (or runs as usual). A member its limits leave nothing does not compete, and its own
  run writes its ``capped`` entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np

from rewardrules.engine.limits import Allowance
from rewardrules.engine.refunds import refunded_amount
from rewardrules.evaluation.batch._cards import CardColumns, CardCounts, CardReward
from rewardrules.evaluation.batch._frame import Flags, Frame, Ints
from rewardrules.evaluation.batch._limits import (
    LimitColumns,
    PriceCut,
    Release,
    limit_card,
    limit_discount,
)
from rewardrules.evaluation.batch._refunds import RefundStep
from rewardrules.evaluation.batch._rules import Numbers, PointsColumns, per_event


class _TierAt(NamedTuple):
    """What a points rule reads of a purchase's context."""

    tier_index: int | None
    tier: str | None


def earns_on(baskets: dict[str, Numbers], group: str | None, paid: Numbers) -> Numbers:
    """The amounts an earning member of ``group`` earns on: the basket where its group
    runs when the group has a price member (``baskets``), else what was paid."""
    if group is None:
        return paid
    return baskets.get(group, paid)


def steps_on(frame: Frame, steps: Sequence[RefundStep], seen: Numbers) -> list[RefundStep]:
    """The refunds as a rule that earned on ``seen`` (not what was paid) sees them: each
    line's refunded amount is the refunded units' share of ``seen``
    (``PurchaseRecord.refunded_of``)."""
    found = []
    for step in steps:
        start = int(frame.line_start[step.purchase])
        count = len(step.units_after)
        amounts = [int(amount) for amount in seen[start : start + count]]
        quantities = frame.quantity[start : start + count].tolist()
        before = tuple(
            refunded_amount(amount, quantity, units)
            for amount, quantity, units in zip(amounts, quantities, step.units_before)
        )
        after = tuple(
            refunded_amount(amount, quantity, units)
            for amount, quantity, units in zip(amounts, quantities, step.units_after)
        )
        found.append(
            replace(
                step,
                amounts_before=before,
                amounts_after=after,
                given_back=sum(after) - sum(before),
            )
        )
    return found


def points_left(
    earning: PointsColumns,
    frame: Frame,
    step: RefundStep,
    source: Numbers,
    weights: Ints,
    tier: tuple[int, str | None],
    shares: bool,
) -> tuple[int, int]:
    """The points a purchase's entry of a points rule is worth on what ``step`` (a refund)
    leaves of it, at the tier and factors it was made with; and what is left.

    ``source`` is what the rule earned on per line; ``shares``: it is not what was paid
    (a share by payment method, or a group's basket before a later price rule), so what
    is left is its own amounts less the refunded units' share of them.
    """
    purchase = step.purchase
    start, end = int(frame.line_start[purchase]), int(frame.line_start[purchase + 1])
    if shares:
        left = [
            int(share) - refunded_amount(int(share), int(quantity), done)
            for share, quantity, done in zip(
                source[start:end], frame.quantity[start:end], step.units_after
            )
        ]
    elif earning.plan.on_gross:
        left = [
            int(price) * (int(quantity) - done)
            for price, quantity, done in zip(
                frame.unit_price[start:end], frame.quantity[start:end], step.units_after
            )
        ]
    else:
        paid = source[start:end]
        left = [int(amount) - refunded for amount, refunded in zip(paid, step.amounts_after)]
    index, name = tier
    context = _TierAt(None, None) if index < 0 else _TierAt(index, name)
    line_weights = [int(weight) for weight in weights[start:end]]
    worth = earning.plan.points(context, left, line_weights)  # type: ignore[arg-type]
    return worth, sum(left)


def earns_on_shares(earning: PointsColumns, beside_price: bool) -> bool:
    """Whether a points rule's refunds take the refunded units' share of what it earned on
    (by payment method, or beside a price rule on paid amounts), rather than paid amounts
    or gross amounts left."""
    if earning.plan.scope.payment_methods is not None:
        return True
    return beside_price and not earning.plan.on_gross


def limited_points(
    limited: LimitColumns,
    earning: PointsColumns,
    frame: Frame,
    points: Ints,
    earned: tuple[Numbers, Ints, Ints, tuple[str, ...], bool],
    steps: Sequence[RefundStep],
    aside: Flags,
) -> tuple[Ints, dict[int, Allowance]]:
    """A limited points member's trial within its limits: the points it would be given at
    each purchase, and the allowance where its limits cut. Its refunds (of the purchases
    it is not set aside at) give points back to the limits. ``earned``: what it earned on
    per line, its weights, each event's tier index, the tiers' names, and whether what it
    earned on is a share (:func:`points_left`)."""
    source, weights, tier, names, shares = earned
    releases = []
    for step in steps:
        purchase = step.purchase
        if not points[purchase] or aside[purchase]:
            continue
        index = int(tier[purchase])
        at = (index, names[index] if index >= 0 else None)
        left = points_left(earning, frame, step, source, weights, at, shares)[0]
        releases.append(Release(step.event, purchase, left))
    return limited.cut_points_column(frame, points, releases, aside)


def limited_discount(
    limited: LimitColumns,
    frame: Frame,
    start: tuple[Any, Ints],
    tried: Numbers,
    aside: Flags,
) -> tuple[Ints, Ints, dict[int, PriceCut]]:
    """A limited discount member's trial on the group's basket within its limits: its
    value and units per event, and the events its limits cut."""
    amounts = np.asarray(start[0], dtype=np.int64)
    taken = np.asarray(tried, dtype=np.int64)
    _, taken, cuts = limit_discount(
        limited, frame, amounts, amounts - taken, taken, start[1], probe=aside
    )
    value = np.asarray(per_event(frame, taken), dtype=np.int64)
    units = np.asarray(per_event(frame, np.where(taken > 0, start[1], 0)), dtype=np.int64)
    return value, units, cuts


def limited_card(
    limited: LimitColumns,
    frame: Frame,
    stage: CardColumns,
    tried: CardCounts,
    qualifying: Ints,
    start: tuple[Ints, Ints],
    ran: tuple[Ints, Ints, list[CardReward]],
    aside: Flags,
) -> tuple[list[CardReward], dict[int, PriceCut]]:
    """A limited punch card member's trial on the group's basket within its limits: its
    rewards, and the events its limits cut."""
    every = stage.plan.every
    _, _, rewards, cuts = limit_card(
        limited,
        frame,
        stage.plan,
        tried.after // every - tried.before // every,
        qualifying,
        start,
        ran[:2],
        ran[2],
        probe=aside,
    )
    return rewards, cuts
