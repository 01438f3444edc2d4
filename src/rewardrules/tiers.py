"""Tiers: which level a customer is at, from their qualifying purchases in a window.

The tier that applies to a purchase comes from the purchases evaluated before it (in the
engine's order) that lie in the window: the purchase that crosses a threshold is not yet
treated at the new level. Spend counts paid amounts (after discounts, less refunds);
``qualify_by: purchases`` counts purchases that are not fully refunded.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from rewardrules.money import as_fraction
from rewardrules.program import Program, RollingWindow


class Qualifying(Protocol):
    """What the tier counter needs of a purchase record."""

    at: datetime
    local_date: date
    tier_amount: int
    in_window: bool


def calendar_key(window: str, local_date: date) -> str:
    """The calendar window a local date falls in: '2026', '2026-Q1', '2026-03' or 'lifetime'."""
    if window == "calendar_year":
        return f"{local_date.year}"
    if window == "calendar_quarter":
        return f"{local_date.year}-Q{(local_date.month - 1) // 3 + 1}"
    if window == "calendar_month":
        return f"{local_date.year}-{local_date.month:02d}"
    return "lifetime"


@dataclass(frozen=True, slots=True)
class TierPlan:
    """A program's tiers with thresholds in minor units (spend) or counts (purchases)."""

    names: tuple[str, ...]
    thresholds: tuple[int, ...]
    multipliers: tuple[tuple[int, int], ...]
    by_spend: bool
    window: str
    span: timedelta | None

    @classmethod
    def compile(cls, program: Program) -> TierPlan | None:
        """Compile the program's tiers, or None when it has none."""
        tiers = program.tiers
        if tiers is None:
            return None
        by_spend = tiers.qualify_by == "spend"
        thresholds = tuple(
            program.money.to_minor(level.at_least) if by_spend else int(level.at_least)
            for level in tiers.levels
        )
        if isinstance(tiers.window, RollingWindow):
            window, span = "rolling", timedelta(days=tiers.window.days)
        else:
            window, span = tiers.window, None
        return cls(
            names=tiers.level_names(),
            thresholds=thresholds,
            multipliers=tuple(as_fraction(level.points_multiplier) for level in tiers.levels),
            by_spend=by_spend,
            window=window,
            span=span,
        )

    def level_for(self, amount: int) -> int | None:
        """The highest level whose threshold ``amount`` reaches, or None below the lowest."""
        for index in range(len(self.thresholds) - 1, -1, -1):
            if amount >= self.thresholds[index]:
                return index
        return None

    def name_of(self, index: int | None) -> str | None:
        """The name of a level index (None stays None)."""
        return None if index is None else self.names[index]


class TierCounter:
    """A customer's qualifying amounts, kept per window as purchases come and go."""

    __slots__ = ("by_key", "recent", "recent_total")

    def __init__(self) -> None:
        self.by_key: dict[str, int] = {}
        self.recent: deque[Qualifying] = deque()
        self.recent_total = 0

    def amount_before(self, plan: TierPlan, at: datetime, local_date: date) -> int:
        """The qualifying amount in the window of a purchase about to be evaluated.

        For a rolling window this forgets purchases older than the window; later purchases
        never come earlier, so they are not needed again.
        """
        if plan.span is None:
            return self.by_key.get(calendar_key(plan.window, local_date), 0)
        start = at - plan.span
        recent = self.recent
        while recent and recent[0].at < start:
            gone = recent.popleft()
            gone.in_window = False
            self.recent_total -= gone.tier_amount
        return self.recent_total

    def add(self, plan: TierPlan, record: Qualifying) -> None:
        """Count a purchase just evaluated."""
        if plan.span is None:
            key = calendar_key(plan.window, record.local_date)
            self.by_key[key] = self.by_key.get(key, 0) + record.tier_amount
        else:
            record.in_window = True
            self.recent.append(record)
            self.recent_total += record.tier_amount

    def adjust(self, plan: TierPlan, record: Qualifying, new_amount: int) -> None:
        """Change what a purchase counts for (after a refund), in its own window."""
        delta = new_amount - record.tier_amount
        record.tier_amount = new_amount
        if plan.span is None:
            key = calendar_key(plan.window, record.local_date)
            self.by_key[key] = self.by_key.get(key, 0) + delta
        elif record.in_window:
            self.recent_total += delta

    def amount_at(self, plan: TierPlan, instant: datetime, local_date: date) -> int:
        """The qualifying amount as of an instant, without forgetting anything."""
        if plan.span is None:
            return self.by_key.get(calendar_key(plan.window, local_date), 0)
        start = instant - plan.span
        return sum(record.tier_amount for record in self.recent if record.at >= start)
