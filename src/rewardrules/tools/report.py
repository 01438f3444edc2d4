"""What a program costs: :func:`report`, behind ``rewardrules report``.

A report evaluates a program over a history once (the same evaluation as ``dry-run``),
groups the ledger with :class:`rewardrules.tools.summary.SummaryBuilder` (per rule, tier and
month), and adds what a cost report needs beyond those sums: the points outstanding and
their liability, breakage, cost per customer, the tier each customer ends in, and the
points due to expire in the next three months. docs/cost.md defines every figure.

Money is integer minor units inside and Decimal outside; a figure in points is valued at
``points.value`` and rounded half-up to the minor unit once, where it is shown.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pyarrow as pa

from rewardrules._types import fixed_offset
from rewardrules.engine._state_restore import active_at
from rewardrules.engine.ledger import ENTRY_KINDS, ENTRY_SUMS, Evaluation, Totals
from rewardrules.engine.lots import OPENING, Duration
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent, Customer, Purchase
from rewardrules.histories.columns import read_history_table, table_to_events
from rewardrules.histories.read import read_history
from rewardrules.money import Currency, divide_half_up
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program
from rewardrules.tools._report_columns import (
    EntryColumns,
    TierChanges,
    batch_ledger,
    customer_figures,
    customer_sums,
    entries_as_columns,
    group_sums,
    month_codes,
    month_rule_sums,
    source_of,
    tier_changes,
)
from rewardrules.tools.summary import Group, Source, Summary, month_of, opening_months

__all__ = [
    "CustomerCost",
    "ExpiryMonth",
    "MonthCost",
    "PointsFigures",
    "Report",
    "RuleCost",
    "TierCost",
    "coming_expiries",
    "points_money",
    "report",
    "value_given",
]

QUANTILES: Final = ("0", "0.25", "0.5", "0.75", "0.9", "0.99", "1")
"""The quantiles of cost per customer a report shows (nearest rank; docs/cost.md)."""
TOP: Final = 10
EXPIRY_MONTHS: Final = 3
MonthRules = Mapping[tuple[str | None, str], tuple[int, int]]


def points_money(points: int, point_value: Decimal, money: Currency) -> int:
    """What ``points`` are worth at ``point_value``, in minor units, rounded half-up once."""
    numerator, denominator = point_value.as_integer_ratio()
    return divide_half_up(points * numerator * money.minor_per_major, denominator)


def value_given(totals: Totals) -> int:
    """The money value given now, in minor units: discounts, free items, vouchers and gift
    cards at face value, and the value of the catalogue rewards points were redeemed for."""
    return totals.value_given


def _balance(totals: Totals) -> int:
    """The net points the entries leave: issued - reversed - redeemed - expired + written off."""
    return (
        totals.points_issued
        - totals.points_reversed
        - totals.points_redeemed
        - totals.points_expired
        + totals.points_written_off
    )


@dataclass(frozen=True, slots=True)
class RuleCost:
    """What one rule gave (or, for a catalogue reward or a points setting, what it took).

    Attributes:
        rule: the rule id, catalogue reward id or points setting.
        source: ``rule``, ``catalogue`` or ``points`` (docs/json-output.md, the summary).
        rewards: rewards given: points entries earning points, discounts, free items,
            voucher and gift-card entries, applied redemptions.
        units: units discounted or made free, vouchers and gift cards issued.
        value: money rewards at face value, plus redemption value (minor units).
        points_issued: points given (before refunds).
        points_net: points given less points taken back by refunds.
        cost: ``value`` plus ``points_net`` valued at ``points.value`` (minor units): what
            the rule gave, counted when it gave it.
    """

    rule: str
    source: str
    rewards: int
    units: int
    value: int
    points_issued: int
    points_net: int
    cost: int


@dataclass(frozen=True, slots=True)
class MonthCost:
    """One calendar month in the program's time zone (minor units, points)."""

    month: str
    rewards: int
    value_given: int
    points_issued: int
    points_reversed: int
    points_redeemed: int
    redemption_value: int
    points_expired: int
    breakage: int
    points_written_off: int
    balance: int
    """Points outstanding at the end of the month (all months so far)."""
    liability: int
    """``balance`` valued at ``points.value``."""
    cost: int
    """``value_given`` plus the change of liability over the month."""
    by_rule: Mapping[str, int] = field(default_factory=dict)
    """Cost at issue per program rule given in the month (for the stacked chart)."""
    units: int = 0
    """Units discounted or made free, vouchers and gift cards issued in the month."""


@dataclass(frozen=True, slots=True)
class PointsFigures:
    """The points of the whole program at ``as_of`` (minor units for money)."""

    issued: int
    reversed: int
    redeemed: int
    redemption_value: int
    expired: int
    breakage: int
    written_off: int
    pending: int
    outstanding: int
    liability: int
    redemption_rate: Decimal | None


@dataclass(frozen=True, slots=True)
class TierCost:
    """The members of a tier at ``as_of``, what they spent and what they cost."""

    tier: str | None
    members: int
    spend: int
    cost: int


@dataclass(frozen=True, slots=True)
class CustomerCost:
    """What one customer cost (minor units) and where they stand."""

    customer_id: str
    cost: int
    value_given: int
    points: int
    tier: str | None
    earned: bool


@dataclass(frozen=True, slots=True)
class ExpiryMonth:
    """Points due to expire in one coming month, in total and per customer."""

    month: str
    points: int
    value: int
    customers: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Report:
    """What a program cost over a history, and what it still owes (docs/cost.md).

    Attributes:
        program: the program's id.
        name: its name.
        money: its currency.
        points_name: what it calls its points.
        point_value: ``points.value``.
        as_of: the ``as_of`` of the evaluation, or None (just after each customer's last
            event).
        totals: the program totals (``dry-run``'s).
        summary: ``dry-run --summary``'s groups.
        rules: per program rule (program order), then catalogue rewards and points settings.
        months: per month, oldest first.
        points: the points figures at ``as_of``.
        tiers: per tier (below every level first); empty without tiers.
        tier_mix: per month, members of each tier at its end (tier None: below every level).
        customers: per customer, ordered by customer id.
        expiry: the next three months' expiries.
    """

    program: str
    name: str
    money: Currency
    points_name: str
    point_value: Decimal
    as_of: date | datetime | None
    totals: Totals
    summary: Summary
    rules: tuple[RuleCost, ...]
    months: tuple[MonthCost, ...]
    points: PointsFigures
    tiers: tuple[TierCost, ...]
    tier_mix: tuple[tuple[str, Mapping[str | None, int]], ...]
    customers: tuple[CustomerCost, ...]
    expiry: tuple[ExpiryMonth, ...]

    @property
    def value_given(self) -> int:
        """Money value given now (minor units): see :func:`value_given`."""
        return value_given(self.totals)

    @property
    def cost(self) -> int:
        """The program's cost: value given now plus the liability (minor units)."""
        return self.value_given + self.points.liability

    @property
    def customers_earning(self) -> int:
        """Customers with at least one reward given."""
        return sum(1 for customer in self.customers if customer.earned)

    def quantiles(self) -> dict[str, int]:
        """Cost per customer at each of :data:`QUANTILES`, nearest rank (minor units)."""
        costs = sorted(customer.cost for customer in self.customers)
        if not costs:
            return {}
        found = {}
        for quantile in QUANTILES:
            share = Decimal(quantile)
            rank = max(1, math.ceil(share * len(costs)))
            found[quantile] = costs[rank - 1]
        return found

    def top(self, count: int = TOP) -> tuple[CustomerCost, ...]:
        """The customers who cost most, highest first (ties by customer id)."""
        ranked = sorted(self.customers, key=lambda customer: (-customer.cost, customer.customer_id))
        return tuple(ranked[:count])

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text, indented by 2, as the command line prints it."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON: money as exact decimal strings (docs/cost.md)."""
        show = self._show
        points = self.points
        return {
            "format": 1,
            "program": self.program,
            "currency": self.money.code,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "cost": show(self.cost),
            "value_given": show(self.value_given),
            "liability": show(points.liability),
            "breakage": show(points.breakage),
            "totals": self.totals.to_dict(),
            "by_rule": [
                {
                    "rule": rule.rule,
                    "source": rule.source,
                    "rewards": rule.rewards,
                    "units": rule.units,
                    "value": show(rule.value),
                    "points_issued": rule.points_issued,
                    "points_net": rule.points_net,
                    "cost": show(rule.cost),
                    "share": _share(rule.cost, self._rules_cost())
                    if rule.source == "rule"
                    else None,
                }
                for rule in self.rules
            ],
            "by_month": [
                {
                    "month": month.month,
                    "rewards": month.rewards,
                    "units": month.units,
                    "value_given": show(month.value_given),
                    "points_issued": month.points_issued,
                    "points_reversed": month.points_reversed,
                    "points_redeemed": month.points_redeemed,
                    "redemption_value": show(month.redemption_value),
                    "points_expired": month.points_expired,
                    "breakage": show(month.breakage),
                    "points_written_off": month.points_written_off,
                    "points_outstanding": month.balance,
                    "liability": show(month.liability),
                    "cost": show(month.cost),
                    "share": _share(month.cost, self.cost),
                    "by_rule": {rule: show(cost) for rule, cost in month.by_rule.items()},
                }
                for month in self.months
            ],
            "points": {
                "issued": points.issued,
                "reversed": points.reversed,
                "redeemed": points.redeemed,
                "redemption_value": show(points.redemption_value),
                "expired": points.expired,
                "breakage": show(points.breakage),
                "written_off": points.written_off,
                "pending": points.pending,
                "outstanding": points.outstanding,
                "liability": show(points.liability),
                "redemption_rate": None
                if points.redemption_rate is None
                else str(points.redemption_rate),
            },
            "by_tier": [
                {
                    "tier": tier.tier,
                    "members": tier.members,
                    "spend": show(tier.spend),
                    "cost": show(tier.cost),
                }
                for tier in self.tiers
            ],
            "tier_mix": [
                {"month": month, "members": [[tier, count] for tier, count in mix.items()]}
                for month, mix in self.tier_mix
            ],
            "customers": {
                "count": len(self.customers),
                "earning": self.customers_earning,
                "quantiles": {key: show(value) for key, value in self.quantiles().items()},
                "top": [
                    {"customer_id": customer.customer_id, "cost": show(customer.cost)}
                    for customer in self.top()
                ],
            },
            "expiry": [
                {
                    "month": month.month,
                    "points": month.points,
                    "value": show(month.value),
                    "customers": dict(month.customers),
                }
                for month in self.expiry
            ],
        }

    def _show(self, minor: int) -> str:
        return str(self.money.to_decimal(minor))

    def _rules_cost(self) -> int:
        return sum(rule.cost for rule in self.rules if rule.source == "rule")


def _share(part: int, whole: int) -> str | None:
    """``part / whole`` as a fraction with 4 decimals (half-up), None when ``whole`` is 0
    or less."""
    if whole <= 0:  # no share of nothing, nor of a program that is owed points on balance
        return None
    return str(_four_places(divide_half_up(part * 10000, whole)))


def _four_places(ten_thousandths: int) -> Decimal:
    """A whole number of ten-thousandths as a decimal written with its 4 places (0.1330)."""
    return Decimal(ten_thousandths).scaleb(-4).quantize(_TEN_THOUSANDTH)


_TEN_THOUSANDTH: Final = Decimal("0.0001")


def report(
    program: Program | str | Path,
    history: Iterable[AnyEvent] | str | Path | Any,
    *,
    as_of: date | datetime | None = None,
    customers: Iterable[Customer] | None = None,
    engine: Literal["reference", "batch"] = "reference",
) -> Report:
    """Evaluate ``program`` over ``history`` and report what it cost (docs/cost.md).

    Args:
        program: a program, or the path of its YAML file.
        history: events, the path of a history file, or (``engine="batch"``) a history
            table.
        as_of: as for :func:`rewardrules.evaluate`; liability, pending points, tiers and
            the coming expiries are as of then.
        customers: customer profiles, as for :func:`rewardrules.evaluate`.
        engine: as for :func:`rewardrules.evaluate`; with ``"batch"`` the report's sums
            are read from the batch engine's ledger columns, entry objects never made.

    Raises:
        RuleFileError, HistoryError: as ``load_program``, ``read_history`` and ``evaluate``.
        UnsupportedError: ``engine="batch"`` and the program uses what it does not run.
    """
    if not isinstance(program, Program):
        program = load_program(program)
    if customers is not None:
        customers = tuple(customers)  # read twice: evaluated, and their opening lots' months
    if engine == "batch":
        if isinstance(history, str | Path):
            history = read_history_table(history)
        evaluation = evaluate(program, history, customers, as_of, engine="batch")
        ledger = batch_ledger(evaluation.customers)
        if ledger is not None:
            watcher = _Watcher.of_frame(program, ledger.frame, ledger.event_ids)
            watcher.note_openings(customers or ())
            return build_report(program, evaluation, watcher, as_of, ledger)
        # Results already built (a customer with profile only): read them as the
        # reference engine's, with the history noted again.
        if _is_table(history):
            history = table_to_events(_as_table(history))
    events: Iterable[AnyEvent] = (
        read_history(history) if isinstance(history, str | Path) else history
    )
    watcher = _Watcher(program, as_of)
    watcher.note_openings(customers or ())
    evaluation = evaluate(program, watcher.watch(events), customers, as_of, engine=engine)
    return build_report(program, evaluation, watcher, as_of)


def _is_table(history: object) -> bool:
    return hasattr(history, "__arrow_c_stream__")


def _as_table(history: Any) -> pa.Table:
    if isinstance(history, pa.Table):
        return history
    return pa.RecordBatchReader.from_stream(history).read_all()


class _Watcher:
    """Notes what the ledger does not tell: each event's month, each customer's spend
    and first month, the last instant; from the events as they are read (up to the
    ``as_of`` cutoff, as evaluated), or from the batch engine's frame."""

    def __init__(self, program: Program, as_of: date | datetime | None) -> None:
        self._program = program
        self.spend: dict[str, int] = {}
        self.first_month: dict[str, str] = {}
        self.months: dict[str, str] = {}
        self.last_at: datetime | None = None
        self.openings: dict[tuple[str, str], str] = {}
        self._until: tuple[datetime, bool] | None = None
        # As instants only, as evaluate's cutoff: a named zone's instant in an hour the
        # clocks repeat or skip is never == to an event's (PEP 495).
        if isinstance(as_of, datetime):
            self._until = (fixed_offset(as_of), True)
        elif isinstance(as_of, date):
            next_midnight = datetime.combine(as_of + timedelta(days=1), time(0), program.zone)
            self._until = (fixed_offset(next_midnight), False)

    @classmethod
    def of_frame(cls, program: Program, frame: Any, event_ids: Any) -> _Watcher:
        """The figures of the batch engine's frame (its events are those evaluated)."""
        found = cls(program, None)
        codes, names = month_codes(frame.at, program.zone)
        if len(frame.at):
            found.last_at = datetime.fromtimestamp(0, UTC) + timedelta(
                microseconds=int(frame.at.max())
            )
        ids = frame.customer_ids
        starts = frame.customer_start[:-1]
        found.first_month = {
            customer: names[code]
            for customer, code in zip(ids, codes[starts].tolist(), strict=True)
        }
        purchases = frame.flags_of("purchase")
        spend = np.zeros(len(ids), dtype=np.int64)
        np.add.at(spend, frame.customer[purchases], frame.gross_total[purchases])
        found.spend = dict(zip(ids, spend.tolist(), strict=True))
        found._event_months = (event_ids, codes, names)
        return found

    _event_months: tuple[Any, Any, list[str]] | None = None

    def note_openings(self, customers: Iterable[Customer]) -> None:
        """Note the months of migrated customers' opening lots (:func:`opening_months`)."""
        self.openings.update(opening_months(customers, self._program))

    def month(self, event_id: str, customer_id: str) -> str | None:
        """The month of a customer's event (by id), of a gift at a date
        (``rule@YYYY-MM-DD``) or of an opening lot (``opening#<n>``)."""
        if event_id.startswith(OPENING):
            opening = self.openings.get((customer_id, event_id))
            if opening is not None:
                return opening
        found = self.months.get(event_id)
        if found is None and self._event_months is not None and not self.months:
            event_ids, codes, names = self._event_months
            self.months = {
                str(event): names[code]
                for event, code in zip(event_ids.tolist(), codes.tolist(), strict=True)
            }
            found = self.months.get(event_id)
        if found is not None:
            return found
        rule, at, day = event_id.rpartition("@")
        if at and rule in {rule.id for rule in self._program.rules} and len(day) == 10:
            return day[:7]
        return None

    def watch(self, events: Iterable[AnyEvent]) -> Iterator[AnyEvent]:
        """Pass events through, noting their figures."""
        program = self._program
        money = program.money
        until = self._until
        zone = program.zone
        last: datetime | None = None
        start = end = 0.0
        month = ""
        for event in events:
            if last is None or event.at > last:
                last = event.at
            if until is None or event.at < until[0] or (until[1] and event.at == until[0]):
                customer = event.customer_id
                # A history comes mostly in time order: the last month's span of POSIX
                # seconds (less two hours at each end, where a zone may skip or repeat
                # midnight) answers most events without converting them to the zone.
                moment = event.at.timestamp()
                if not start <= moment < end:
                    local = event.at.astimezone(zone)
                    first = datetime(local.year, local.month, 1, tzinfo=zone)
                    following = (first + timedelta(days=32)).replace(day=1)
                    start, end = first.timestamp() + 7200, following.timestamp() - 7200
                    month = local.strftime("%Y-%m")
                self.months[event.id] = month
                if customer not in self.first_month:
                    self.first_month[customer] = month
                if isinstance(event, Purchase):
                    amount = money.to_minor(event.gross_total)
                    self.spend[customer] = self.spend.get(customer, 0) + amount
            yield event
        self.last_at = last


def build_report(
    program: Program,
    evaluation: Evaluation,
    watcher: _Watcher,
    as_of: date | datetime | None,
    ledger: Any = None,
) -> Report:
    """Put a report together from an evaluation and what was noted of its history
    (and, for the batch engine, the ledger columns it read the evaluation from)."""
    money = program.money
    value = program.points.value
    totals = evaluation.totals
    # points_money, with the point value's ratio worked out once (a call per customer).
    numerator, denominator = value.as_integer_ratio()
    numerator *= money.minor_per_major

    def worth(points: int) -> int:
        return divide_half_up(points * numerator, denominator)

    results = evaluation.customers
    columns = entries_as_columns(results, watcher.month, program.zone, ledger)
    figures = customer_figures(results, ledger)
    summary = _summary(program, columns, figures.tiers, totals)
    rules = tuple(_rule_cost(group, worth) for group in summary.by_rule)
    sums = customer_sums(columns, len(results))
    balances = figures.points
    customer_costs = [
        CustomerCost(
            customer_id=customer_id,
            cost=given + worth(balance),
            value_given=given,
            points=balance,
            tier=tier,
            earned=earned,
        )
        for customer_id, given, earned, balance, tier in zip(
            figures.customer_ids, sums.given, sums.earned, balances, figures.tiers, strict=True
        )
    ]
    outstanding = sum(balances)
    issued_net = totals.points_issued - totals.points_reversed
    points = PointsFigures(
        issued=totals.points_issued,
        reversed=totals.points_reversed,
        redeemed=totals.points_redeemed,
        redemption_value=totals.redemption_value,
        expired=totals.points_expired,
        breakage=worth(totals.points_expired),
        written_off=totals.points_written_off,
        pending=sum(figures.pending),
        outstanding=outstanding,
        liability=worth(outstanding),
        redemption_rate=None
        if issued_net <= 0
        else _four_places(divide_half_up(totals.points_redeemed * 10000, issued_net)),
    )
    tiers: tuple[TierCost, ...] = ()
    tier_mix: tuple[tuple[str, Mapping[str | None, int]], ...] = ()
    if program.tiers is not None:
        spend: dict[str | None, int] = {}
        cost: dict[str | None, int] = {}
        for customer in customer_costs:
            spend[customer.tier] = spend.get(customer.tier, 0) + watcher.spend.get(
                customer.customer_id, 0
            )
            cost[customer.tier] = cost.get(customer.tier, 0) + customer.cost
        tiers = tuple(
            TierCost(
                group.key, group.totals.customers, spend.get(group.key, 0), cost.get(group.key, 0)
            )
            for group in summary.by_tier
        )
        changes = tier_changes(results, ledger, program.zone)
        tier_mix = _tier_mix(program, figures.customer_ids, changes, summary, watcher)
    return Report(
        program=program.program,
        name=program.name,
        money=money,
        points_name=program.points.name,
        point_value=value,
        as_of=as_of,
        totals=totals,
        summary=summary,
        rules=rules,
        months=_months(summary, worth, month_rule_sums(columns)),
        points=points,
        tiers=tiers,
        tier_mix=tier_mix,
        customers=tuple(customer_costs),
        expiry=_expiry(program, evaluation, as_of, watcher.last_at, worth),
    )


def _summary(
    program: Program,
    columns: EntryColumns,
    tiers_of: list[str | None],
    totals: Totals,
) -> Summary:
    """The summary's groups (as ``SummaryBuilder`` makes them) from the entry columns."""
    # Per rule: a group per (source, rule) seen, every program rule listed first.
    rule_count = len(columns.rules)
    source_code = np.asarray([source_of(code) != "rule" for code in range(len(ENTRY_KINDS))])
    catalogue = np.asarray([source_of(code) == "catalogue" for code in range(len(ENTRY_KINDS))])
    source = np.where(source_code[columns.kind], np.where(catalogue[columns.kind], 1, 2), 0)
    by_rule = group_sums(columns, source * rule_count + columns.rule, 3 * rule_count)
    sources: tuple[Source, ...] = ("rule", "catalogue", "points")
    found = {
        (sources[place // rule_count], columns.rules[place % rule_count]): sums
        for place, sums in enumerate(by_rule)
        if sums["entries"]
    }
    keys: list[tuple[Source, str]] = [("rule", rule.id) for rule in program.rules]
    seen = set(keys)
    keys += sorted(
        (key for key in found if key not in seen),
        key=lambda key: (key[0] != "rule", key[0] == "points", key[1]),
    )
    rules = [_group(program, key[1], found.get(key), key[0]) for key in keys]
    tiers: list[Group] = []
    if program.tiers is not None:
        names: list[str | None] = [None, *program.tiers.level_names()]
        tier_code = {name: place for place, name in enumerate(names)}
        of_customer = np.asarray([tier_code[tier] for tier in tiers_of], dtype=np.int64)
        members = np.bincount(of_customer, minlength=len(names)).tolist()
        by_tier = group_sums(columns, of_customer[columns.customer], len(names))
        for place, name in enumerate(names):
            by_tier[place]["customers"] = members[place]
            tiers.append(_group(program, name, by_tier[place]))
    month_names = list(columns.months)
    by_month = group_sums(columns, columns.month + 1, len(month_names) + 1)
    months = [
        (None if place == 0 else month_names[place - 1], sums)
        for place, sums in enumerate(by_month)
        if sums["entries"]
    ]
    months.sort(key=lambda pair: (pair[0] is None, pair[0] or ""))
    return Summary(
        program=program.program,
        currency=program.money.code,
        totals=totals,
        by_rule=tuple(rules),
        by_tier=tuple(tiers),
        by_month=tuple(_group(program, month, sums) for month, sums in months),
    )


def _group(
    program: Program, key: str | None, sums: dict[str, int] | None, source: Source | None = None
) -> Group:
    figures = dict(sums or dict.fromkeys(("entries", "rewards", *ENTRY_SUMS), 0))
    entries = figures.pop("entries")
    rewards = figures.pop("rewards")
    customers = figures.pop("customers", 0)
    totals = Totals(
        money=program.money, point_value=program.points.value, customers=customers, **figures
    )
    return Group(key, entries, totals, source, rewards)


_MONEY_KINDS: Final = frozenset({"discount", "free", "voucher", "gift_card", "redemption"})


def _rule_cost(group: Group, worth: Callable[[int], int]) -> RuleCost:
    totals = group.totals
    points_net = totals.points_issued - totals.points_reversed
    given = value_given(totals)
    return RuleCost(
        rule=group.key or "",
        source=group.source or "rule",
        rewards=group.rewards,
        units=totals.discount_units + totals.free_units + totals.vouchers + totals.gift_cards,
        value=given,
        points_issued=totals.points_issued,
        points_net=points_net,
        cost=given + worth(points_net),
    )


def _months(
    summary: Summary, worth: Callable[[int], int], month_rules: MonthRules
) -> tuple[MonthCost, ...]:
    months = []
    balance = 0
    liability = 0
    for group in summary.by_month:
        if group.key is None:
            continue
        totals = group.totals
        balance += _balance(totals)
        new_liability = worth(balance)
        given = value_given(totals)
        months.append(
            MonthCost(
                month=group.key,
                rewards=group.rewards,
                value_given=given,
                points_issued=totals.points_issued,
                points_reversed=totals.points_reversed,
                points_redeemed=totals.points_redeemed,
                redemption_value=totals.redemption_value,
                points_expired=totals.points_expired,
                breakage=worth(totals.points_expired),
                points_written_off=totals.points_written_off,
                balance=balance,
                liability=new_liability,
                cost=given + new_liability - liability,
                by_rule={
                    rule: money + worth(points)
                    for (month, rule), (money, points) in sorted(month_rules.items())
                    if month == group.key
                },
                units=totals.discount_units
                + totals.free_units
                + totals.vouchers
                + totals.gift_cards,
            )
        )
        liability = new_liability
    return tuple(months)


def coming_expiries(
    program: Program, evaluation: Evaluation, as_of: date | datetime | None
) -> tuple[ExpiryMonth, ...]:
    """The points due to expire in the three months from the report's instant, as in a
    report (docs/cost.md), for ``dry-run --format json``; empty without expiry settings."""
    if program.points.expire_after is None and program.points.expire_on_inactivity is None:
        return ()
    last_at: datetime | None = None
    if as_of is None:
        instants = [
            at for result in evaluation.customers if (at := result.state.last_event_at) is not None
        ]
        last_at = max(instants, default=None)

    def worth(points: int) -> int:
        return points_money(points, program.points.value, program.money)

    return _expiry(program, evaluation, as_of, last_at, worth)


def _tier_mix(
    program: Program,
    customer_ids: Sequence[str],
    changes: TierChanges,
    summary: Summary,
    watcher: _Watcher,
) -> tuple[tuple[str, Mapping[str | None, int]], ...]:
    """Per month, how many customers were in each tier at its end.

    A customer counts from the month of their first event; their tier at a month's end is
    the ``to`` of their last tier change up to then (None before any). Worked out as a
    (customer, month) table of the tier, changes written where they fall and carried
    forward.
    """
    months = sorted(
        {group.key for group in summary.by_month if group.key is not None}
        | set(watcher.first_month.values())
    )
    levels: list[str | None] = [None]
    if program.tiers is not None:
        levels += program.tiers.level_names()
    level_code = {level: code for code, level in enumerate(levels)}
    count, width = len(customer_ids), len(months)
    owner, change_months, after = changes
    place = np.searchsorted(np.asarray(months, dtype=object), change_months).astype(np.int64)
    inside = place < width
    owner, place = owner[inside], place[inside]
    codes = np.asarray([level_code[level] for level in after], dtype=np.int64)[inside]
    # The last change of each (customer, month) holds at the month's end.
    cell = owner * width + place
    last = len(cell) - 1 - np.unique(cell[::-1], return_index=True)[1]
    written = np.full(count * width, -1, dtype=np.int64)
    written[cell[last]] = codes[last]
    table = written.reshape(count, width)
    seen = np.where(table >= 0, np.arange(width), -1)
    carried = np.maximum.accumulate(seen, axis=1) if width else seen
    tier = np.where(carried >= 0, np.take_along_axis(table, np.maximum(carried, 0), 1), 0)
    position = {month: index for index, month in enumerate(months)}
    first = np.asarray(
        [position.get(watcher.first_month.get(customer, ""), width) for customer in customer_ids],
        dtype=np.int64,
    ).reshape(count, 1)
    counted = np.arange(width) >= first
    found = []
    for index, month in enumerate(months):
        members = np.bincount(tier[counted[:, index], index], minlength=len(levels)).tolist()
        found.append((month, dict(zip(levels, members, strict=True))))
    return tuple(found)


def _expiry(
    program: Program,
    evaluation: Evaluation,
    as_of: date | datetime | None,
    last_at: datetime | None,
    worth: Callable[[int], int],
) -> tuple[ExpiryMonth, ...]:
    """Points due to expire in the calendar month of the report's instant and the two after.

    The report's instant is ``as_of`` (a date: the next local midnight) or the history's
    last event. A lot expires at its ``expires_at`` or at the inactivity deadline (the last
    activity plus ``expire_on_inactivity``), whichever is first, if no activity comes first;
    a lasting lot (a tier's ``points_never_expire``) never.
    """
    settings = program.points
    if settings.expire_after is None and settings.expire_on_inactivity is None:
        return ()
    zone = program.zone
    if isinstance(as_of, datetime):
        start = as_of
    elif isinstance(as_of, date):
        start = datetime.combine(as_of + timedelta(days=1), time(0), zone)
    elif last_at is not None:
        start = last_at
    else:
        return ()
    first = start.astimezone(zone)
    months: list[str] = []
    year, month = first.year, first.month
    for _ in range(EXPIRY_MONTHS):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    end = datetime.combine(date(year, month, 1), time(0), zone)
    long_form = settings.inactivity()
    inactivity = None if long_form is None else Duration.parse(long_form.after)
    counts = long_form is not None and "purchase" in long_form.activity
    per_month: dict[str, dict[str, int]] = {month: {} for month in months}
    for result in evaluation.customers:
        if result.points <= 0:
            continue
        state = result.state
        deadline = None
        last_active = None if long_form is None else active_at(state, counts)
        if inactivity is not None and last_active is not None:
            deadline = inactivity.after(last_active, zone)
        for lot in state.lots:
            due = lot.expires_at
            if deadline is not None and lot.earned_at <= deadline and not lot.lasting:
                due = deadline if due is None else min(due, deadline)
            if due is None or not start <= due < end or lot.points <= 0:
                continue
            key = month_of(due, program)
            found = per_month[key]
            found[result.customer_id] = found.get(result.customer_id, 0) + lot.points
    return tuple(
        ExpiryMonth(
            month=month,
            points=sum(per_month[month].values()),
            value=worth(sum(per_month[month].values())),
            customers=dict(sorted(per_month[month].items())),
        )
        for month in months
    )
