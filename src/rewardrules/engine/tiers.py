"""Tiers: which level a customer is at, from their qualifying purchases in a window.

The tier that applies to a purchase comes from the purchases evaluated before it (in the
engine's order) that lie in the window: the purchase that crosses a threshold is not yet
treated at the new level. Spend counts paid amounts (after discounts, less refunds);
``qualify_by: purchases`` counts purchases that are not fully refunded.

With ``keep_for``, a level is *reached* at the first purchase evaluated at it (its window
level rose to it or above from below) and then holds for that long even if the window drops:
the level that applies is never lower than a level reached less than ``keep_for`` ago.
``keep_until`` holds it instead to the first local midnight of the year after the one it
was reached in (``end_of_year``) or of the year after that (``end_of_next_year``).
``qualify_by: points`` counts the points each purchase earned, less what refunds took back.

A migrated customer may start with a granted level (``Customer.tier`` until
``Customer.tier_until``): until then the level that applies is never lower than it; after
it, the window (and ``keep_for``) decide alone. A grant is not a level reached.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from rewardrules._types import fixed_offset
from rewardrules.engine._state_format import micros
from rewardrules.engine.lots import Duration, elapsed
from rewardrules.money import Currency, as_fraction
from rewardrules.program.model import Program, RollingWindow


class Qualifying(Protocol):
    """What the tier counter needs of a purchase record."""

    at: datetime
    local_date: date
    tier_amount: int
    in_window: bool
    tier_slot: int | None


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
    """A program's tiers with thresholds in minor units (spend) or counts (purchases, points)."""

    names: tuple[str, ...]
    thresholds: tuple[int, ...]
    multipliers: tuple[tuple[int, int], ...]
    by_spend: bool
    window: str
    span: timedelta | None
    keep_for: Duration | None
    zone: ZoneInfo
    keep_until: str | None = None
    """``end_of_year`` or ``end_of_next_year``: a level reached is held to that local New Year."""
    by_points: bool = False
    lasting: frozenset[int] = frozenset()
    """The levels whose points never expire."""

    @property
    def holds(self) -> bool:
        """Whether a level reached is held after the window drops it (keep_for, keep_until)."""
        return self.keep_for is not None or self.keep_until is not None

    def hold_until(self, at: datetime) -> datetime:
        """Until when a level reached at ``at`` is held (``holds`` must be true)."""
        if self.keep_for is not None:
            return self.keep_for.after(at, self.zone)
        years = 1 if self.keep_until == "end_of_year" else 2
        year = at.astimezone(self.zone).year + years
        return fixed_offset(datetime(year, 1, 1, tzinfo=self.zone))

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
            keep_for=None if tiers.keep_for is None else Duration.parse(tiers.keep_for),
            zone=program.zone,
            keep_until=tiers.keep_until,
            by_points=tiers.qualify_by == "points",
            lasting=frozenset(
                index for index, level in enumerate(tiers.levels) if level.points_never_expire
            ),
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

    def index_of(self, name: str) -> int:
        """The index of a level name.

        Raises:
            ValueError: the program has no such level.
        """
        if name not in self.names:
            raise ValueError(f"'{name}' is not one of the tiers ({', '.join(self.names)})")
        return self.names.index(name)

    def next_tier(self, amount: int, money: Currency) -> NextTier | None:
        """The level above the one ``amount`` reaches and what is missing, or None at the top."""
        level = self.level_for(amount)
        above = 0 if level is None else level + 1
        if above == len(self.names):
            return None
        needs = self.thresholds[above] - amount
        return NextTier(self.names[above], money.to_decimal(needs) if self.by_spend else needs)


@dataclass(frozen=True, slots=True)
class TierChange:
    """A change of the tier that applies to a customer, as seen at a purchase or a report."""

    at: datetime
    before: str | None
    after: str | None

    def to_dict(self) -> dict[str, Any]:
        """The change in the JSON output contract."""
        return {"at": self.at.isoformat(), "from": self.before, "to": self.after}


@dataclass(frozen=True, slots=True)
class NextTier:
    """The next level above a customer's window level, and the spend or purchases it needs."""

    tier: str
    needs: Decimal | int

    def to_dict(self) -> dict[str, Any]:
        """The next tier in the JSON output contract: money as text, purchases as a number."""
        needs = self.needs
        return {"tier": self.tier, "needs": str(needs) if isinstance(needs, Decimal) else needs}


class SavedAmounts:
    """What each entry of a rolling window resumed from a saved state counts
    (``TierCounter.saved_amount``): the saved window's forgotten purchases' amounts as they
    were saved, then each kept purchase's, worked out by ``amount_of`` (its index among the
    kept purchases) when first read. A step reads one or two of them (a purchase forgotten
    or refunded); working out every kept purchase's at each resume was a tenth of it."""

    __slots__ = ("_amount_of", "_forgotten", "_known")

    def __init__(self, forgotten: Sequence[int], kept: int, amount_of: Callable[[int], int]):
        self._forgotten = len(forgotten)
        self._known: list[int | None] = [*forgotten, *(None,) * kept]
        self._amount_of = amount_of

    def __len__(self) -> int:
        return len(self._known)

    def __getitem__(self, index: int) -> int:
        found = self._known[index]
        if found is None:
            found = self._known[index] = self._amount_of(index - self._forgotten)
        return found

    def __setitem__(self, index: int, amount: int) -> None:
        self._known[index] = amount


class TierCounter:
    """A customer's qualifying amounts, kept per window as purchases come and go.

    It also remembers the level that applied at the last purchase (to see changes), and for
    ``keep_for`` the window level at the last purchase and when each level was last reached.
    """

    __slots__ = (
        "by_key",
        "changes",
        "granted",
        "granted_until",
        "held_until",
        "level",
        "names",
        "reached",
        "recent",
        "recent_total",
        "saved_amount",
        "saved_at",
        "saved_ids",
        "saved_next",
        "window_level",
    )

    def __init__(self) -> None:
        self.by_key: dict[str, int] = {}
        self.recent: deque[Qualifying] = deque()
        self.recent_total = 0
        # A rolling window resumed from a saved state, before ``recent``: instants in
        # microseconds, amounts, and the kept purchase's id (None for a forgotten one), so
        # that resuming makes no object per purchase. ``saved_next`` is the first still in.
        self.saved_at: list[int] = []
        self.saved_amount: list[int] | SavedAmounts = []
        self.saved_ids: list[str | None] = []
        self.saved_next = 0
        self.level: int | None = None
        self.names: tuple[str, ...] = ()  # the plan's level names, once retention is kept
        self.window_level: int | None = None
        self.reached: dict[int, datetime] = {}
        self.held_until: dict[int, datetime] = {}
        # A granted level (a migrated customer's status) and when it stops holding.
        self.granted: int | None = None
        self.granted_until: datetime | None = None
        # (instant, from, to) for each change seen in this evaluation, oldest first.
        self.changes: list[tuple[datetime, int | None, int | None]] = []

    def level_before(self, plan: TierPlan, at: datetime, local_date: date) -> int | None:
        """The level that applies to a purchase about to be evaluated; remembers it.

        The window's level, raised to any level reached less than ``keep_for`` before
        ``at``. Levels the window rises to here are reached at ``at``.
        """
        window = plan.level_for(self.amount_before(plan, at, local_date))
        level = window
        if plan.holds:
            self.names = plan.names
            top = -1 if window is None else window
            previous = self.window_level
            for index in range(0 if previous is None else previous + 1, top + 1):
                self.reached[index] = at
                self.held_until[index] = plan.hold_until(at)
            self.window_level = window
            level = self._held(plan, window, at)
        if self.granted is not None:
            level = self._granted(level, at)
        if level != self.level:
            self.changes.append((at, self.level, level))
            self.level = level
        return level

    def grant(self, plan: TierPlan, name: str, until: datetime) -> None:
        """Hold level ``name`` until ``until`` whatever the window says.

        Raises:
            ValueError: the program has no such level.
        """
        self.granted = plan.index_of(name)
        self.granted_until = until

    def _granted(self, level: int | None, at: datetime) -> int | None:
        """``level``, raised to the granted level while the grant holds at ``at``."""
        granted, until = self.granted, self.granted_until
        if granted is None or until is None or until <= at:
            return level
        return granted if level is None or granted > level else level

    def level_at(self, plan: TierPlan, at: datetime, local_date: date) -> int | None:
        """The level a purchase at ``at`` would be made at, remembering nothing: no tier
        change, no level reached (a redemption asks it; only purchases move tiers)."""
        window = plan.level_for(self.amount_before(plan, at, local_date))
        level = self._held(plan, window, at) if plan.holds else window
        return self._granted(level, at) if self.granted is not None else level

    def _held(self, plan: TierPlan, window: int | None, at: datetime) -> int | None:
        """The highest level above ``window`` still held at ``at``, else ``window``."""
        held_until = self.held_until
        for index in range(len(plan.names) - 1, -1 if window is None else window, -1):
            until = held_until.get(index)
            if until is not None and until > at:
                return index
        return window

    def amount_before(self, plan: TierPlan, at: datetime, local_date: date) -> int:
        """The qualifying amount in the window of a purchase about to be evaluated.

        For a rolling window this forgets purchases older than the window; later purchases
        never come earlier, so they are not needed again.
        """
        if plan.span is None:
            return self.by_key.get(calendar_key(plan.window, local_date), 0)
        start = elapsed(at, -plan.span)
        if self.saved_next < len(self.saved_at):
            self._leave_saved(micros(start))
        recent = self.recent
        while recent and recent[0].at < start:
            gone = recent.popleft()
            gone.in_window = False
            self.recent_total -= gone.tier_amount
        return self.recent_total

    def _leave_saved(self, start: int) -> None:
        """Forget the saved window's purchases before ``start`` (microseconds)."""
        index, saved_at, saved_amount = self.saved_next, self.saved_at, self.saved_amount
        while index < len(saved_at) and saved_at[index] < start:
            self.recent_total -= saved_amount[index]
            index += 1
        self.saved_next = index

    def load_window(
        self, at: list[int], amounts: list[int] | SavedAmounts, ids: list[str | None], total: int
    ) -> None:
        """Resume a rolling window from a saved state: instants (microseconds, oldest
        first), what each counts and their ``total``, and each kept purchase's id (None for
        a forgotten one)."""
        self.saved_at, self.saved_amount, self.saved_ids = at, amounts, ids
        self.saved_next = 0
        self.recent_total += total

    def slot_of(self, purchase_id: str) -> int:
        """Where a kept purchase of the saved window is (see :meth:`load_window`)."""
        return self.saved_ids.index(purchase_id)

    def saved_window(self, start: int) -> list[tuple[int, int, str | None]]:
        """The saved window's (instant, amount, id) still in it from ``start`` (microseconds)."""
        saved_at, amounts, ids = self.saved_at, self.saved_amount, self.saved_ids
        return [
            (saved_at[index], amounts[index], ids[index])
            for index in range(self.saved_next, len(saved_at))
            if saved_at[index] >= start
        ]

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
        elif record.tier_slot is not None:  # opened from the saved window
            self.saved_amount[record.tier_slot] = new_amount
            if record.tier_slot >= self.saved_next:
                self.recent_total += delta
        elif record.in_window:
            self.recent_total += delta

    def amount_at(self, plan: TierPlan, instant: datetime, local_date: date) -> int:
        """The qualifying amount as of an instant, without forgetting anything."""
        if plan.span is None:
            return self.by_key.get(calendar_key(plan.window, local_date), 0)
        start = elapsed(instant, -plan.span)
        saved = sum(amount for _, amount, _ in self.saved_window(micros(start)))
        return saved + sum(record.tier_amount for record in self.recent if record.at >= start)

    def report(
        self,
        plan: TierPlan,
        money: Currency,
        instant: datetime,
        local_date: date,
        moment: datetime,
    ) -> tuple[str | None, tuple[TierChange, ...], NextTier | None]:
        """Where a customer stands at a report: tier, changes and next tier, changing nothing.

        The tier is the one that applies at ``instant``; a change from the tier of the last
        purchase is dated ``moment`` (the report's instant). The next tier is the level above
        the window's, from the qualifying amount at ``instant``.
        """
        amount = self.amount_at(plan, instant, local_date)
        window = plan.level_for(amount)
        level = self._held(plan, window, instant) if plan.holds else window
        if self.granted is not None:
            level = self._granted(level, instant)
        changes = self.changes
        if level != self.level:
            changes = [*changes, (moment, self.level, level)]
        name_of = plan.name_of
        return (
            name_of(level),
            tuple(TierChange(at, name_of(before), name_of(after)) for at, before, after in changes),
            plan.next_tier(amount, money),
        )

    def resume(
        self,
        plan: TierPlan,
        level: str | None,
        window_level: str | None,
        reached: dict[str, datetime],
    ) -> None:
        """Restore the level of the last purchase and the retention from a saved state.

        Without ``keep_for`` the saved retention is dropped: nothing is held.

        Raises:
            ValueError: a saved name is not one of the program's levels.
        """
        self.level = None if level is None else plan.index_of(level)
        if not plan.holds:
            return
        self.names = plan.names
        self.window_level = None if window_level is None else plan.index_of(window_level)
        for name, at in reached.items():
            index = plan.index_of(name)
            self.reached[index] = at
            self.held_until[index] = plan.hold_until(at)

    def retention(self) -> tuple[str | None, dict[str, datetime]]:
        """What the saved state keeps for ``keep_for``: the window level at the last purchase
        and when each level was last reached, by name (None and {} without ``keep_for``).
        """
        names = self.names
        window = None if self.window_level is None else names[self.window_level]
        return window, {names[index]: at for index, at in sorted(self.reached.items())}
