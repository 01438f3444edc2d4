"""What a change to a program would do: :func:`compare`, behind ``rewardrules compare``.

Both programs run over the same history (:func:`rewardrules.tools.report.report` each), and every
number of a comparison is a number of the new report less the same number of the old one:
per program, per rule (matched by the group's source and id), per month, per customer.
docs/cost.md defines the figures.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal

from rewardrules.events import AnyEvent, Customer
from rewardrules.histories.read import read_history
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program
from rewardrules.tools.report import QUANTILES, TOP, Report, report

__all__ = ["Comparison", "Difference", "compare"]

PROGRAM_FIGURES: Final = (
    "cost",
    "value_given",
    "liability",
    "breakage",
    "points_issued",
    "points_redeemed",
    "points_expired",
    "points_outstanding",
    "customers_earning",
)
"""The program's figures a comparison shows side by side (money in minor units)."""
MONEY_FIGURES: Final = frozenset({"cost", "value_given", "liability", "breakage"})


def program_figures(found: Report) -> dict[str, int]:
    """The figures of :data:`PROGRAM_FIGURES` of one report."""
    points = found.points
    return {
        "cost": found.cost,
        "value_given": found.value_given,
        "liability": points.liability,
        "breakage": points.breakage,
        "points_issued": points.issued,
        "points_redeemed": points.redeemed,
        "points_expired": points.expired,
        "points_outstanding": points.outstanding,
        "customers_earning": found.customers_earning,
    }


@dataclass(frozen=True, slots=True)
class Difference:
    """One figure in the old and the new program, and new less old.

    Attributes:
        key: what the figure is of: a figure name, rule, month or customer id.
        old: its value with the old program (0 where the old report has no such row).
        new: its value with the new program (0 likewise).
        status: ``both``, ``added`` (only in the new report) or ``removed`` (only in the old).
    """

    key: str
    old: int
    new: int
    status: str = "both"

    @property
    def change(self) -> int:
        """New less old."""
        return self.new - self.old


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two reports of the same history, and their differences (docs/cost.md).

    Attributes:
        old: the old program's report.
        new: the new program's report.
        program: the program figures (:data:`PROGRAM_FIGURES`).
        rules: per rule (``source:id`` for catalogue rewards and points settings), cost.
        rewards: per rule, rewards given.
        months: per month, cost.
        customers: per customer, cost.
        tiers: (old tier, new tier) -> customers, over the customers of both reports.
    """

    old: Report
    new: Report
    program: tuple[Difference, ...]
    rules: tuple[Difference, ...]
    rewards: tuple[Difference, ...]
    months: tuple[Difference, ...]
    customers: tuple[Difference, ...]
    tiers: Mapping[tuple[str | None, str | None], int]

    @property
    def gaining(self) -> tuple[Difference, ...]:
        """Customers who cost more with the new program (who get more), most first."""
        found = [customer for customer in self.customers if customer.change > 0]
        return tuple(sorted(found, key=lambda customer: (-customer.change, customer.key)))

    @property
    def losing(self) -> tuple[Difference, ...]:
        """Customers who cost less with the new program (who get less), most first."""
        found = [customer for customer in self.customers if customer.change < 0]
        return tuple(sorted(found, key=lambda customer: (customer.change, customer.key)))

    @property
    def unchanged(self) -> int:
        """Customers whose cost does not change."""
        return sum(1 for customer in self.customers if customer.change == 0)

    def change_quantiles(self) -> dict[str, int]:
        """The change of cost per customer at each of the report's quantiles (nearest rank)."""
        changes = sorted(customer.change for customer in self.customers)
        if not changes:
            return {}
        return {
            quantile: changes[max(1, math.ceil(Decimal(quantile) * len(changes))) - 1]
            for quantile in QUANTILES
        }

    def appearing(self) -> tuple[str, ...]:
        """Rules that give rewards with the new program and gave none with the old."""
        return tuple(row.key for row in self.rewards if row.old == 0 < row.new)

    def disappearing(self) -> tuple[str, ...]:
        """Rules that gave rewards with the old program and give none with the new."""
        return tuple(row.key for row in self.rewards if row.new == 0 < row.old)

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text, indented by 2, as the command line prints it."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_dict(self) -> dict[str, Any]:
        """The comparison as JSON: money as exact decimal strings."""
        money = self.new.money

        def show(row: Difference, is_money: bool = True) -> dict[str, Any]:
            if not is_money:
                return {
                    "key": row.key,
                    "status": row.status,
                    "old": row.old,
                    "new": row.new,
                    "change": row.change,
                }
            return {
                "key": row.key,
                "status": row.status,
                "old": str(money.to_decimal(row.old)),
                "new": str(money.to_decimal(row.new)),
                "change": str(money.to_decimal(row.change)),
            }

        def top(rows: tuple[Difference, ...]) -> list[dict[str, Any]]:
            return [show(row) for row in rows[:TOP]]

        return {
            "format": 1,
            "old": self.old.program,
            "new": self.new.program,
            "currency": money.code,
            "as_of": None if self.new.as_of is None else self.new.as_of.isoformat(),
            "program": [show(row, row.key in MONEY_FIGURES) for row in self.program],
            "by_rule": [show(row) for row in self.rules],
            "rewards": [show(row, is_money=False) for row in self.rewards],
            "appearing": list(self.appearing()),
            "disappearing": list(self.disappearing()),
            "by_month": [show(row) for row in self.months],
            "customers": {
                "gaining": len(self.gaining),
                "losing": len(self.losing),
                "unchanged": self.unchanged,
                "quantiles": {
                    key: str(money.to_decimal(value))
                    for key, value in self.change_quantiles().items()
                },
                "top_gaining": top(self.gaining),
                "top_losing": top(self.losing),
            },
            "tiers": [
                {"old": old, "new": new, "customers": count}
                for (old, new), count in self.tiers.items()
            ],
        }


def compare(
    old: Program | str | Path,
    new: Program | str | Path,
    history: Iterable[AnyEvent] | str | Path,
    *,
    as_of: date | datetime | None = None,
    customers: Iterable[Customer] | None = None,
    engine: Literal["reference", "batch"] = "reference",
) -> Comparison:
    """Run two programs over one history and compare their reports (docs/cost.md).

    Args:
        old: the program as it is (or the path of its file).
        new: the program as it would be.
        history: events, or the path of a history file (read once).
        as_of: as for :func:`rewardrules.tools.report.report`, for both.
        customers: customer profiles, for both.
        engine: as for :func:`rewardrules.tools.report.report`, for both.

    Raises:
        ValueError: the programs have different currencies.
    """
    old_program = old if isinstance(old, Program) else load_program(old)
    new_program = new if isinstance(new, Program) else load_program(new)
    if old_program.currency != new_program.currency:
        message = (
            f"the programs have different currencies ({old_program.currency} and "
            f"{new_program.currency}): compare versions of one program, in one currency"
        )
        raise ValueError(message)
    events = list(read_history(history) if isinstance(history, str | Path) else history)
    profiles = None if customers is None else list(customers)
    before = report(old_program, events, as_of=as_of, customers=profiles, engine=engine)
    after = report(new_program, events, as_of=as_of, customers=profiles, engine=engine)
    return difference(before, after)


def difference(before: Report, after: Report) -> Comparison:
    """The comparison of two reports: new less old, row by row."""
    old_figures, new_figures = program_figures(before), program_figures(after)
    program = tuple(Difference(key, old_figures[key], new_figures[key]) for key in PROGRAM_FIGURES)

    def rule_key(source: str, rule: str) -> str:
        return rule if source == "rule" else f"{source}:{rule}"

    old_rules = {rule_key(row.source, row.rule): row for row in before.rules}
    new_rules = {rule_key(row.source, row.rule): row for row in after.rules}
    rule_keys = [*new_rules, *(key for key in old_rules if key not in new_rules)]
    rules = tuple(_row(key, old_rules, new_rules, lambda row: row.cost) for key in rule_keys)
    rewards = tuple(_row(key, old_rules, new_rules, lambda row: row.rewards) for key in rule_keys)
    old_months = {row.month: row for row in before.months}
    new_months = {row.month: row for row in after.months}
    months = tuple(
        _row(key, old_months, new_months, lambda row: row.cost)
        for key in sorted(old_months.keys() | new_months.keys())
    )
    old_people = {row.customer_id: row for row in before.customers}
    new_people = {row.customer_id: row for row in after.customers}
    people = sorted(old_people.keys() | new_people.keys())
    customers = tuple(_row(key, old_people, new_people, lambda row: row.cost) for key in people)
    tiers: dict[tuple[str | None, str | None], int] = {}
    for key in people:
        old_tier = old_people[key].tier if key in old_people else None
        new_tier = new_people[key].tier if key in new_people else None
        tiers[(old_tier, new_tier)] = tiers.get((old_tier, new_tier), 0) + 1
    ordered = dict(sorted(tiers.items(), key=lambda item: (str(item[0][0]), str(item[0][1]))))
    return Comparison(before, after, program, rules, rewards, months, customers, ordered)


def _row(key: str, old: Mapping[str, Any], new: Mapping[str, Any], figure: Any) -> Difference:
    if key not in old:
        return Difference(key, 0, figure(new[key]), "added")
    if key not in new:
        return Difference(key, figure(old[key]), 0, "removed")
    return Difference(key, figure(old[key]), figure(new[key]))
