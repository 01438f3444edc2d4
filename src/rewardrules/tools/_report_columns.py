"""A report's sums over the ledger as columns: one numpy pass, no Python call per entry.

A report groups every ledger entry three ways (per rule, per tier, per month), and per
(month, rule) and per customer. Done entry by entry in Python that grouping costs about
half an evaluation. Here the entries are read as integer columns (customer, month, rule,
kind, points, value, units): from the batch engine's ledger columns without making an
entry, or, for the reference engine, from its entries. Then every group is summed with
``numpy.add.at`` over one composite code per entry, (group, kind, points sign), and the
totals' figures are worked out from those few sums as ``rewardrules.engine.ledger.total``
works them out from entries (a test holds the two equal).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from rewardrules.engine.ledger import ENTRY_KINDS, ENTRY_SUMS, CustomerResult
from rewardrules.engine.lots import OPENING
from rewardrules.tools.ledger_files import refuse_too_large
from rewardrules.tools.ledger_sums import GIVING_KINDS, gives_reward

Ints = npt.NDArray[np.int64]

KIND_CODE: Final = {kind: code for code, kind in enumerate(ENTRY_KINDS)}
_VALUE_CODES: Final = np.asarray(
    [kind in GIVING_KINDS or kind == "redemption" for kind in ENTRY_KINDS], dtype=np.bool_
)
_GIVING_CODES: Final = np.asarray([kind in GIVING_KINDS for kind in ENTRY_KINDS], dtype=np.bool_)
_SOURCE_OF_KIND: Final = {
    "redemption": "catalogue",
    "rejected": "catalogue",
    "expiry": "points",
    "written_off": "points",
    "opening": "points",
}


@dataclass(frozen=True, slots=True)
class EntryColumns:
    """Every ledger entry of an evaluation as integer columns (one row per entry).

    Attributes:
        customer: the customer's index in ``evaluation.customers``.
        month: the index in ``months`` of the month of the entry's event (-1: unknown).
        rule: the index in ``rules`` of the entry's ``rule``.
        kind: the index in ``ENTRY_KINDS`` of its kind.
        points, value, units: its amounts (0 where it has none; value in minor units).
        months: the month names (``YYYY-MM``).
        rules: the rule names.
    """

    customer: Ints
    month: Ints
    rule: Ints
    kind: Ints
    points: Ints
    value: Ints
    units: Ints
    months: Sequence[str]
    rules: Sequence[str]


class _Codes:
    """Codes for names, given in order of first sight."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._codes: dict[str, int] = {}

    def code(self, name: str) -> int:
        found = self._codes.get(name)
        if found is None:
            found = self._codes[name] = len(self.names)
            self.names.append(name)
        return found


def entries_as_columns(
    results: Sequence[CustomerResult],
    month_of_event: Callable[[str, str], str | None],
    zone: ZoneInfo,
    ledger: Any = None,
) -> EntryColumns:
    """The columns of evaluated results: from the batch engine's ledger columns
    (``ledger``, as :func:`batch_ledger` finds them), else entry by entry.

    ``month_of_event(event_id, customer_id)`` gives the month of an event id the history
    does not hold (a gift at a date, a migrated customer's opening lot), or of every event
    when the results are read entry by entry.
    """
    if ledger is not None:
        return _batch_columns(results, ledger, month_of_event, zone)
    # One pass per column, each a comprehension: several times faster than one loop
    # making a row per entry.
    ledgers = [result.ledger for result in results]
    entries = [entry for ledger_of in ledgers for entry in ledger_of]
    count = len(entries)
    customer = np.repeat(
        np.arange(len(results), dtype=np.int64),
        np.asarray([len(ledger_of) for ledger_of in ledgers], dtype=np.int64),
    )
    rule_codes: dict[str, int] = {}
    rule = np.fromiter(
        (rule_codes.setdefault(entry.rule, len(rule_codes)) for entry in entries), np.int64, count
    )
    month_names: dict[str, int] = {}
    by_event: dict[str, int] = {}

    def month_code(event_id: str, customer_id: str) -> int:
        month = month_of_event(event_id, customer_id)
        code = -1 if month is None else month_names.setdefault(month, len(month_names))
        if not event_id.startswith(OPENING):  # opening#1 is every migrated customer's
            by_event[event_id] = code
        return code

    month = np.fromiter(
        (
            found
            if (found := by_event.get(entry.event_id)) is not None
            else month_code(entry.event_id, entry.customer_id)
            for entry in entries
        ),
        np.int64,
        count,
    )
    codes = KIND_CODE
    try:
        points = np.fromiter((entry.points or 0 for entry in entries), np.int64, count)
        value = np.fromiter((entry.value_minor or 0 for entry in entries), np.int64, count)
        units = np.fromiter((entry.units or 0 for entry in entries), np.int64, count)
    except OverflowError:  # a figure past int64 (the reference engine computes any size)
        refuse_too_large(entries)
        raise
    return EntryColumns(
        customer=customer,
        month=month,
        rule=rule,
        kind=np.fromiter((codes[entry.kind] for entry in entries), np.int64, count),
        points=points,
        value=value,
        units=units,
        months=list(month_names),
        rules=list(rule_codes),
    )


def batch_ledger(results: Sequence[CustomerResult]) -> Any:
    """The batch engine's ledger columns all ``results`` are read from, or None (results
    of the reference engine, or whose entries were already built)."""
    ledger: Any = None
    for result in results:
        rows = getattr(result, "ledger_rows", None)
        found = None if rows is None else rows()
        if found is None or (ledger is not None and found[0] is not ledger):
            return None
        ledger = found[0]
    if ledger is None or ledger.frame is None or len(ledger.bounds) != len(results) + 1:
        return None
    return ledger


def month_codes(at: Ints, zone: ZoneInfo) -> tuple[Ints, list[str]]:
    """The calendar month in ``zone`` of each instant (POSIX microseconds): a code per
    instant and the months' names, oldest first.

    Each month's first instant is found once (exactly, even where a zone skips or
    repeats midnight), then every instant by binary search among them.
    """
    if not len(at):
        return np.zeros(0, dtype=np.int64), []
    first = _instant(int(at.min())).astimezone(zone)
    last = _instant(int(at.max())).astimezone(zone)
    names: list[str] = []
    starts: list[int] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        names.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        starts.append(_month_start(year, month, zone))
    codes = np.searchsorted(np.asarray(starts[:-1], dtype=np.int64), at, side="right")
    return codes.astype(np.int64), names


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _instant(microseconds: int) -> datetime:
    return _EPOCH + timedelta(microseconds=microseconds)


def _month_start(year: int, month: int, zone: ZoneInfo) -> int:
    """The first instant (POSIX microseconds) whose local month in ``zone`` is not
    before ``year``-``month``."""
    wanted = (year, month)
    guess = (datetime(year, month, 1, tzinfo=zone) - _EPOCH) // timedelta(microseconds=1)
    low, high = guess - 4 * _HOUR, guess + 4 * _HOUR
    while low < high:
        middle = (low + high) // 2
        local = _instant(middle).astimezone(zone)
        if (local.year, local.month) >= wanted:
            high = middle
        else:
            low = middle + 1
    return low


_HOUR: Final = 3_600_000_000


def _batch_columns(
    results: Sequence[CustomerResult],
    ledger: Any,
    month_of_event: Callable[[str, str], str | None],
    zone: ZoneInfo,
) -> EntryColumns:
    """The columns read from one batch evaluation's ledger columns."""
    event_months, month_names = month_codes(ledger.frame.at, zone)
    months = _Codes()
    for name in month_names:
        months.code(name)
    event_ids = ledger.event_ids
    by_id: dict[str, int] | None = None

    def month_of_entry(event: int, event_id: str, customer_id: str) -> int:
        nonlocal by_id
        if event_ids[event] == event_id:
            return int(event_months[event])
        if by_id is None:
            by_id = {str(found): place for place, found in enumerate(event_ids.tolist())}
        place = by_id.get(event_id)
        if place is not None:
            return int(event_months[place])
        month = month_of_event(event_id, customer_id)
        return -1 if month is None else months.code(month)

    rules = _Codes()
    parts_rule, parts_kind, parts_month = [], [], []
    parts_points, parts_value, parts_units = [], [], []
    for part in ledger.parts:
        size = len(part)
        events = np.asarray(part.events, dtype=np.int64)
        if part.built is not None:
            built = part.built
            parts_month.append(
                np.fromiter(
                    (
                        month_of_entry(event, entry.event_id, entry.customer_id)
                        for event, entry in zip(events.tolist(), built)
                    ),
                    np.int64,
                    size,
                )
            )
            parts_rule.append(np.fromiter((rules.code(e.rule) for e in built), np.int64, size))
            parts_kind.append(np.fromiter((KIND_CODE[e.kind] for e in built), np.int64, size))
            parts_points.append(np.fromiter((e.points or 0 for e in built), np.int64, size))
            parts_value.append(np.fromiter((e.value_minor or 0 for e in built), np.int64, size))
            parts_units.append(np.fromiter((e.units or 0 for e in built), np.int64, size))
            continue
        parts_month.append(event_months[np.asarray(part.named, dtype=np.int64)])
        parts_rule.append(np.full(size, rules.code(part.rule), dtype=np.int64))
        parts_kind.append(np.full(size, KIND_CODE[part.kind], dtype=np.int64))
        parts_points.append(_amounts(part.points, size))
        parts_value.append(_amounts(part.value, size))
        parts_units.append(_amounts(part.units, size))
    empty = np.zeros(0, dtype=np.int64)

    def joined(arrays: list[Ints]) -> Ints:
        return np.concatenate(arrays) if arrays else empty

    count = len(ledger)
    by_position = np.repeat(np.arange(len(results), dtype=np.int64), np.diff(ledger.bounds))
    customer = by_position
    if ledger.order is not None:
        customer = np.empty(count, dtype=np.int64)
        customer[ledger.order] = by_position
    return EntryColumns(
        customer=customer,
        month=joined(parts_month),
        rule=joined(parts_rule),
        kind=joined(parts_kind),
        points=joined(parts_points),
        value=joined(parts_value),
        units=joined(parts_units),
        months=months.names,
        rules=rules.names,
    )


def _amounts(values: Any, size: int) -> Ints:
    """A part's points, values or units as int64 (0 for None)."""
    if values is None:
        return np.zeros(size, dtype=np.int64)
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False)
    try:
        return np.array(values, dtype=np.int64)
    except TypeError:  # None among them
        return np.fromiter((value or 0 for value in values), dtype=np.int64, count=size)


def group_sums(columns: EntryColumns, group: Ints, groups: int) -> list[dict[str, int]]:
    """Per group (``group`` codes each entry, 0 to ``groups`` - 1): the figures of
    ``ENTRY_SUMS`` as ``engine.ledger.total`` adds them, with ``entries`` and ``rewards``."""
    kinds = len(ENTRY_KINDS)
    positive = (columns.points > 0).astype(np.int64)
    negative = (columns.points < 0).astype(np.int64)
    sign = positive - negative + 1  # 0, 1 or 2
    code = (group * kinds + columns.kind) * 3 + sign
    size = groups * kinds * 3
    counts = np.bincount(code, minlength=size)
    points = np.zeros(size, dtype=np.int64)
    value = np.zeros(size, dtype=np.int64)
    units = np.zeros(size, dtype=np.int64)
    np.add.at(points, code, columns.points)
    np.add.at(value, code, columns.value)
    np.add.at(units, code, columns.units)
    found = []
    shape = (groups, kinds, 3)
    counts_of, points_of, value_of, units_of = (
        array.reshape(shape).tolist() for array in (counts, points, value, units)
    )
    for place in range(groups):
        sums = dict.fromkeys(("entries", "rewards", *ENTRY_SUMS), 0)
        for kind_code, kind in enumerate(ENTRY_KINDS):
            for sign_code in range(3):
                entries = counts_of[place][kind_code][sign_code]
                if not entries:
                    continue
                _add(
                    sums,
                    kind,
                    sign_code - 1,
                    entries,
                    points_of[place][kind_code][sign_code],
                    value_of[place][kind_code][sign_code],
                    units_of[place][kind_code][sign_code],
                )
        found.append(sums)
    return found


def _add(
    sums: dict[str, int], kind: str, sign: int, entries: int, points: int, value: int, units: int
) -> None:
    """Add ``entries`` entries of one kind and points sign, as ``summary._count`` does."""
    sums["entries"] += entries
    if gives_reward(kind, sign):
        sums["rewards"] += entries
    if kind == "points":
        if sign >= 0:
            sums["points_issued"] += points
        else:
            sums["points_reversed"] -= points
    elif kind in ("discount", "free"):
        sums[f"{kind}_value"] += value
        sums[f"{kind}_units"] += units
    elif kind == "voucher":
        sums["vouchers"] += units
        sums["voucher_value"] += value
    elif kind == "gift_card":
        sums["gift_cards"] += units
        sums["gift_card_value"] += value
    elif kind == "redemption":
        sums["redemptions"] += entries if sign <= 0 else -entries  # points back: cancellations
        sums["points_redeemed"] -= points
        sums["redemption_value"] += value
    elif kind == "rejected":
        sums["rejected_redemptions"] += entries
    elif kind == "expiry":
        sums["points_expired"] -= points
    elif kind == "written_off":
        sums["points_written_off"] += points
    elif kind == "capped":
        sums["rewards_capped"] += entries
    elif kind == "set_aside":
        sums["rewards_set_aside"] += entries
    elif kind == "opening":
        sums["points_issued"] += points
    else:  # the reversals of held referrals (units -1 each) count minus one
        sums["referrals"] += entries + 2 * units


def source_of(kind_code: int) -> str:
    """What the ``rule`` of an entry of this kind names (``summary``'s sources)."""
    return _SOURCE_OF_KIND.get(ENTRY_KINDS[kind_code], "rule")


@dataclass(frozen=True, slots=True)
class CustomerSums:
    """Per customer: the money value given (minor units) and whether anything was given."""

    given: list[int]
    earned: list[bool]


def customer_sums(columns: EntryColumns, customers: int) -> CustomerSums:
    """What each customer was given in money, and whether they earned any reward."""
    valued = _VALUE_CODES[columns.kind]
    given = np.zeros(customers, dtype=np.int64)
    np.add.at(given, columns.customer[valued], columns.value[valued])
    earning = _GIVING_CODES[columns.kind] | (
        (columns.kind == KIND_CODE["points"]) & (columns.points > 0)
    )
    earning |= (columns.kind == KIND_CODE["redemption"]) & (columns.points < 0)
    earned = np.bincount(columns.customer[earning], minlength=customers) > 0
    return CustomerSums(given.tolist(), earned.tolist())


def month_rule_sums(columns: EntryColumns) -> dict[tuple[str | None, str], tuple[int, int]]:
    """Per (month, program rule): the money value and the net points given, as
    ``SummaryBuilder.month_rules`` (entries whose kind names a program rule)."""
    is_rule = np.asarray(
        [_SOURCE_OF_KIND.get(kind, "rule") == "rule" for kind in ENTRY_KINDS], dtype=np.bool_
    )[columns.kind]
    chosen = np.flatnonzero(is_rule)
    rules = len(columns.rules)
    code = (columns.month[chosen] + 1) * rules + columns.rule[chosen]
    size = (len(columns.months) + 1) * rules
    present = np.bincount(code, minlength=size)
    value = np.zeros(size, dtype=np.int64)
    points = np.zeros(size, dtype=np.int64)
    np.add.at(value, code, columns.value[chosen])
    np.add.at(points, code, columns.points[chosen])
    found: dict[tuple[str | None, str], tuple[int, int]] = {}
    for place in np.flatnonzero(present).tolist():
        month, rule = divmod(place, rules)
        key = (None if month == 0 else columns.months[month - 1], columns.rules[rule])
        found[key] = (int(value[place]), int(points[place]))
    return found


@dataclass(frozen=True, slots=True)
class CustomerFigures:
    """Per customer (in result order): id, points at the report, pending points, tier."""

    customer_ids: list[str]
    points: list[int]
    pending: list[int]
    tiers: list[str | None]


def customer_figures(results: Sequence[CustomerResult], ledger: Any) -> CustomerFigures:
    """The customers' balances and tiers: read from the batch engine's result columns
    when ``ledger`` is theirs (no result's fields are worked out), else from each result."""
    columns = _result_columns(results, ledger)
    if columns is not None:
        balances = list(columns.balances)
        pending = [
            balance - available
            for balance, available in zip(balances, columns.available, strict=True)
        ]
        tiers = columns.tiers
        names = (
            [None] * len(balances)
            if tiers is None
            else [tiers.names[level] for level in tiers.reported]
        )
        return CustomerFigures(list(columns.customer_ids), balances, pending, names)
    return CustomerFigures(
        [result.customer_id for result in results],
        [result.points for result in results],
        [result.pending_points for result in results],
        [result.tier for result in results],
    )


def _result_columns(results: Sequence[CustomerResult], ledger: Any) -> Any:
    if ledger is None or not results:
        return None
    columns = getattr(results[0], "_columns", None)
    if columns is None or columns.ledger is not ledger:
        return None
    if len(columns.customer_ids) != len(results):
        return None
    return columns


TierChanges = tuple[Ints, list[str], list[str | None]]
"""Every tier change, oldest first per customer: the customer's index, the month (in the
program's zone) and the tier after the change."""


def tier_changes(results: Sequence[CustomerResult], ledger: Any, zone: ZoneInfo) -> TierChanges:
    """The tier changes of every customer: from the batch engine's tier columns when
    ``ledger`` is theirs (no ``TierChange`` made), else from each result."""
    columns = _result_columns(results, ledger)
    if columns is None or columns.tiers is None:
        customers: list[int] = []
        instants: list[int] = []
        after: list[str | None] = []
        for index, result in enumerate(results):
            for change in result.tier_changes:
                customers.append(index)
                instants.append((change.at - _EPOCH) // timedelta(microseconds=1))
                after.append(change.after)
        codes, names = month_codes(np.asarray(instants, dtype=np.int64), zone)
        return np.asarray(customers, dtype=np.int64), [names[code] for code in codes], after
    tiers = columns.tiers
    starts = np.asarray(tiers.change_start, dtype=np.int64)
    counts = np.diff(starts)
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    at = ledger.frame.at[np.asarray(tiers.change_event, dtype=np.int64)]
    level = np.asarray(tiers.change_after, dtype=np.int64)
    # A change at the report (as_of or a referrer's reward) comes after a customer's own.
    late = [
        (customer, (moment - _EPOCH) // timedelta(microseconds=1), tiers.reported[customer])
        for customer, moment in enumerate(tiers.report_change)
        if moment is not None
    ]
    if late:
        extra = np.asarray(late, dtype=np.int64).reshape(-1, 3)
        owner = np.concatenate((owner, extra[:, 0]))
        at = np.concatenate((at, extra[:, 1]))
        level = np.concatenate((level, extra[:, 2]))
        order = np.argsort(owner, kind="stable")
        owner, at, level = owner[order], at[order], level[order]
    codes, names = month_codes(at, zone)
    month_names = [names[code] for code in codes.tolist()]
    return owner, month_names, [tiers.names[found] for found in level.tolist()]
