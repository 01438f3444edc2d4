"""Per-rule limits: at most so many points, rewards or so much value per period.

A rule's limits are compiled into :class:`LimitPlan`. The engine asks it what is still
allowed before a rule rewards an event (:meth:`LimitPlan.allowance`), cuts what the rule
would give to fit (:func:`cut_points`, :func:`cut_entries`), and records what was given
(:meth:`LimitPlan.record`). Usage lives in the customer's state as one running total per
limit and the period it belongs to; a new period starts again from zero.

Points taken back by a refund are given back to the allowance of the purchase's period
(if it is still the current one); rewards and value given are counted as given, because a
refund does not take discounts, free units, vouchers or gift cards back.

A reward a limit does not give is lost, not postponed: the punch card still completes its
card, the gift card window still counts the card as issued, a once-per-customer bonus or
a birthday year counts as given. Periods are local dates of the program's zone: a day, an
ISO week (Monday to Sunday), a calendar month or year; ``purchase`` limits each purchase
(or each gift) on its own, ``lifetime`` never starts again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple

from rewardrules.engine.ledger import LedgerEntry
from rewardrules.money import Currency
from rewardrules.program.model import Limit
from rewardrules.text import counted

_UNUSED = ("", 0)

Usage = dict[str, tuple[str, int]]
"""Per limit (``<rule>#<position>``): the period it counts in, and what it counted there."""

_PERIOD_WORDS = {
    "purchase": "per purchase",
    "day": "a day",
    "week": "a week",
    "month": "a month",
    "year": "a calendar year",
    "lifetime": "in all",
}


def period_key(per: str, local_date: date) -> str:
    """The period a local date falls in, for a limit ``per`` day, week, month, year."""
    if per == "day":
        return local_date.isoformat()
    if per == "week":
        year, week, _ = local_date.isocalendar()
        return f"{year}-W{week:02d}"
    if per == "month":
        return f"{local_date.year}-{local_date.month:02d}"
    if per == "year":
        return str(local_date.year)
    return "lifetime"


@dataclass(frozen=True, slots=True)
class CompiledLimit:
    """One limit: its key in the state, its period, what it counts and how much."""

    key: str
    per: str
    measure: str
    most: int

    def words(self, money: Currency, points_name: str) -> str:
        """'at most 500 points a month'."""
        if self.measure == "points":
            amount = counted(self.most, points_name)
        elif self.measure == "value":
            amount = money.format(self.most)
        else:
            amount = counted(self.most, "rewards")
        return f"at most {amount} {_PERIOD_WORDS[self.per]}"


class Allowance(NamedTuple):
    """What a rule may still give now, per measure (None: not limited).

    A named tuple: one is made for every purchase a limited rule sees.
    """

    points: int | None
    rewards: int | None
    value: int | None
    limits: tuple[CompiledLimit, ...]
    remaining: tuple[int, ...]
    """What each of ``limits`` leaves."""

    @property
    def binding(self) -> dict[str, CompiledLimit]:
        """Per measure, the limit that leaves the least (the first of equals); worked out
        only when a reward is cut, which is rare."""
        least: dict[str, tuple[int, CompiledLimit]] = {}
        for limit, left in zip(self.limits, self.remaining):
            if limit.measure not in least or left < least[limit.measure][0]:
                least[limit.measure] = (left, limit)
        return {measure: limit for measure, (_, limit) in least.items()}


@dataclass(frozen=True, slots=True)
class LimitPlan:
    """A rule's limits, in minor units and counts."""

    rule_id: str
    limits: tuple[CompiledLimit, ...]
    money: Currency
    points_name: str

    def period(self, per: str, local_date: date) -> str:
        """The period of ``local_date`` for a limit ``per`` day, week... (memoised)."""
        return _period(per, local_date)

    @classmethod
    def compile(
        cls, rule_id: str, limits: Sequence[Limit], money: Currency, points_name: str
    ) -> LimitPlan:
        """Bring value limits to minor units."""
        compiled = []
        for position, limit in enumerate(limits):
            if limit.value is not None:
                most = money.to_minor(limit.value)
            else:
                most = limit.points if limit.points is not None else limit.rewards or 0
            compiled.append(CompiledLimit(f"{rule_id}#{position}", limit.per, limit.measure, most))
        return cls(rule_id, tuple(compiled), money, points_name)

    def allowance(self, usage: Usage, local_date: date) -> Allowance:
        """What is left of every limit in the periods of ``local_date``."""
        least: dict[str, int] = {}
        remaining = []
        for limit in self.limits:
            left = limit.most
            if limit.per != "purchase":
                period, used = usage.get(limit.key, _UNUSED)
                if used and period == self.period(limit.per, local_date):
                    left = max(left - used, 0)
            remaining.append(left)
            if left < least.get(limit.measure, left + 1):
                least[limit.measure] = left
        return Allowance(
            least.get("points"),
            least.get("rewards"),
            least.get("value"),
            self.limits,
            tuple(remaining),
        )

    def record(self, usage: Usage, local_date: date, points: int, rewards: int, value: int) -> None:
        """Count what the rule gave in the periods of ``local_date``."""
        for limit in self.limits:
            measure = limit.measure
            given = points if measure == "points" else rewards if measure == "rewards" else value
            if not given or limit.per == "purchase":
                continue
            period = self.period(limit.per, local_date)
            previous, used = usage.get(limit.key, _UNUSED)
            usage[limit.key] = (period, (used if previous == period else 0) + given)

    def release_points(self, usage: Usage, local_date: date, points: int) -> None:
        """Give points a refund took back to the allowance of their period, if current."""
        for limit in self.limits:
            if limit.measure != "points" or limit.per == "purchase":
                continue
            period, used = usage.get(limit.key, ("", 0))
            if period == self.period(limit.per, local_date):
                usage[limit.key] = (period, max(used - points, 0))


def measure(entries: Sequence[LedgerEntry], units_are_rewards: bool) -> tuple[int, int, int]:
    """(points, rewards, value) of what a rule gave: a reward is a unit of a punch card's
    free or discounted units, a voucher or a gift card (an entry's ``units`` of them), and
    one per other entry."""
    points = rewards = value = 0
    for entry in entries:
        kind = entry.kind
        if kind not in ("points", "discount", "free", "voucher", "gift_card"):
            continue
        points += entry.points or 0
        value += entry.value_minor or 0
        if (units_are_rewards and kind in ("free", "discount")) or kind in _COUNTED:
            rewards += entry.units or 0
        else:
            rewards += 1
    return points, rewards, value


_COUNTED = ("voucher", "gift_card")
"""Kinds whose entry gives ``units`` rewards of the same value each."""


def fits(allowance: Allowance, points: int, rewards: int, value: int) -> bool:
    """Whether a rule's whole reward fits what is left."""
    return (
        (allowance.points is None or points <= allowance.points)
        and (allowance.rewards is None or rewards <= allowance.rewards)
        and (allowance.value is None or value <= allowance.value)
    )


def cut_points(
    plan: LimitPlan, allowance: Allowance, entries: list[LedgerEntry], wanted: int
) -> tuple[int, list[LedgerEntry]]:
    """Cut a points rule's entries to what the allowance leaves; return the points given.

    The rule's single points entry keeps its reason with a note of the cut; a rule cut to
    nothing leaves a ``capped`` entry instead.
    """
    most = wanted
    limit = None
    if allowance.points is not None and allowance.points < most:
        most, limit = allowance.points, allowance.binding["points"]
    if allowance.rewards is not None and allowance.rewards < 1:
        most, limit = 0, allowance.binding["rewards"]
    if limit is None:
        return wanted, entries
    kept: list[LedgerEntry] = []
    for entry in entries:
        if entry.kind != "points" or not entry.points:
            kept.append(entry)
            continue
        # Cut to nothing, the reward is not given at all, whichever limit cut it.
        given = "not given" if most == 0 else f"{most} of {entry.points} given"
        note = _note(plan, limit, given)
        if most == 0:
            kept.append(_capped(entry, note))
        else:
            kept.append(_with_points(entry, most, note))
    return most, kept


def cut_entries(
    plan: LimitPlan, allowance: Allowance, entries: list[LedgerEntry]
) -> list[LedgerEntry]:
    """Give as many of the vouchers or gift cards of each entry as the allowance leaves.

    Each is given whole or not: an entry of n alike is cut to the most that fit, with a
    note on its reason; one cut to none becomes a ``capped`` entry.
    """
    rewards_left = allowance.rewards
    value_left = allowance.value
    kept: list[LedgerEntry] = []
    for entry in entries:
        worth = entry.value_minor or 0
        units = (entry.units or 1) if entry.kind in _COUNTED else 1
        each = worth // units
        give, limit = units, None
        if rewards_left is not None and rewards_left < give:
            give, limit = rewards_left, allowance.binding["rewards"]
        if value_left is not None and each * give > value_left:
            give, limit = value_left // each, allowance.binding["value"]
        if limit is None:
            kept.append(entry)
        elif give == 0:
            kept.append(_capped(entry, _note(plan, limit, "not given")))
            continue
        else:
            note = _note(plan, limit, f"{give} of {units} given")
            kept.append(
                replace(
                    entry,
                    value_minor=each * give,
                    units=give,
                    template=_noted,
                    arguments=(entry, note),
                )
            )
        if rewards_left is not None:
            rewards_left -= give
        if value_left is not None:
            value_left -= each * give
    return kept


def note_cut(
    plan: LimitPlan,
    allowance: Allowance,
    wanted: tuple[int, int, int],
    entries: list[LedgerEntry],
    rule_event: LedgerEntry | None,
) -> list[LedgerEntry]:
    """Say on the entries of a price rule that a limit cut them (or leave a ``capped``)."""
    _, rewards, value = wanted
    if allowance.rewards is not None and rewards > allowance.rewards:
        limit = allowance.binding["rewards"]
    else:
        limit = allowance.binding["value"]
    if not entries:
        assert rule_event is not None  # noqa: S101 -- the unlimited run gave an entry
        return [_capped(rule_event, _note(plan, limit, "not given"))]
    shown = (
        f"cut from {counted(rewards, 'rewards')}"
        if limit.measure == "rewards"
        else (f"cut from {plan.money.format(value)}")
    )
    note = _note(plan, limit, shown)
    return [replace(entry, template=_noted, arguments=(entry, note)) for entry in entries]


def _note(plan: LimitPlan, limit: CompiledLimit, what: str) -> str:
    return f" (limit reached: {limit.words(plan.money, plan.points_name)}; {what})"


def _capped(entry: LedgerEntry, note: str) -> LedgerEntry:
    # Built directly rather than by ``dataclasses.replace`` (which looks up every field):
    # a long history caps a points rule at tens of thousands of purchases.
    return LedgerEntry(
        entry.event_id,
        entry.customer_id,
        entry.rule,
        "capped",
        None,
        None,
        None,
        entry.money,
        _noted,
        (entry, note),
    )


def _with_points(entry: LedgerEntry, points: int, note: str) -> LedgerEntry:
    """A points entry cut to ``points``, its reason noted (see :func:`_capped`)."""
    return LedgerEntry(
        entry.event_id,
        entry.customer_id,
        entry.rule,
        entry.kind,
        points,
        entry.value_minor,
        entry.units,
        entry.money,
        _noted,
        (entry, note),
    )


def _noted(money: Currency, entry: LedgerEntry, note: str, *_: Any) -> str:
    return f"{entry.reason}{note}"


# Histories repeat their days; a shared bounded cache (thread-safe) rather than a memo in
# the plan keeps a compiled program free of mutable state.
_period = lru_cache(maxsize=4096)(period_key)
