"""Totals per rule, per tier and per month: ``rewardrules dry-run --summary``.

A :class:`SummaryBuilder` takes one customer's result at a time and keeps only running
sums, so that it never needs the whole ledger. Every figure of a group is the program
totals' figure (as :func:`rewardrules.engine.ledger.total` adds them up, docs/json-output.md)
computed over that group's ledger entries only; docs/json-output.md ("The summary")
defines the groups.

* **per rule**: the entries whose ``rule`` is that rule, every rule of the program listed
  (in program order) even when it gave nothing; then the lifecycle's entries grouped by what
  their ``rule`` names: a catalogue reward (``redemption``, ``rejected``) or a points setting
  (``expiry``, ``written_off``).
* **per tier**: customers grouped by the tier they are reported at (the ``tier`` of their
  result: as of ``as_of``, or just after their last event), with all their entries.
* **per month**: entries grouped by the calendar month, in the program's time zone, of the
  event their ``event_id`` names (for a gift given at a date, the date in its id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute

from rewardrules.engine.ledger import ENTRY_SUMS, CustomerResult, LedgerEntry, Totals
from rewardrules.engine.lots import OPENING
from rewardrules.evaluation.batch import EntryCodes
from rewardrules.events import AnyEvent, Customer, ReferralQualified
from rewardrules.program.model import Program
from rewardrules.tools.ledger_sums import (
    LedgerPiece,
    PieceCodes,
    coded_figures,
    entry_figures,
    gives_reward,
    grouped_figures,
    ledger_pieces,
    minor_units,
)

__all__ = [
    "CountedSums",
    "Group",
    "Summary",
    "SummaryBuilder",
    "entry_months",
    "month_of",
    "opening_months",
]

# pyarrow's stubs type the compute functions too narrowly.
pc: Any = pyarrow.compute

_EPOCH_ORDINAL: Final = datetime(1970, 1, 1, tzinfo=UTC).toordinal()

Source = Literal["rule", "catalogue", "points"]
"""What the ``rule`` of a per-rule group names: a program rule, a catalogue reward, or a
points setting (``points.expire_after``, ``points.expire_on_inactivity``,
``points.negative_balance``)."""

_SOURCE_OF_KIND: Final[dict[str, Source]] = {
    "redemption": "catalogue",
    "rejected": "catalogue",
    "expiry": "points",
    "written_off": "points",
    "opening": "points",
}
_COUNTS: Final = (
    "customers",
    "purchases",
    "refunds",
    "refunded_purchases",
    "fully_refunded_purchases",
    "gross_spend",
)
"""Totals fields that a group of entries does not have (a tier group has ``customers``)."""


def month_of(moment: datetime, program: Program) -> str:
    """The calendar month of an instant in the program's time zone, as ``YYYY-MM``."""
    return moment.astimezone(program.zone).strftime("%Y-%m")


def opening_months(customers: Iterable[Customer], program: Program) -> dict[tuple[str, str], str]:
    """The month (:func:`month_of`) of each migrated customer's opening lots, by customer id
    and lot source (``opening#<n>``, as their entries' ``event_id``).

    An opening lot's entries (its opening balance and, later, its expiry) belong to the
    month it was earned in, as a purchase's expiry belongs to the purchase's month.
    """
    return {
        (customer.customer_id, f"{OPENING}{place}"): month_of(lot.earned_at, program)
        for customer in customers
        for place, lot in enumerate(customer.opening_points, start=1)
    }


def entry_months(
    event_ids: pa.Array[Any] | pa.ChunkedArray[Any],
    known: tuple[pa.Array[Any], pa.Array[Any]],
    program: Program,
) -> pa.Array[Any]:
    """The month of each ledger entry, from its ``event_id``, column-wise.

    Args:
        event_ids: the entries' event ids.
        known: the evaluated events' ids and their months (:func:`month_of`), two columns.
        program: the program (its gift rules' ids).

    Returns:
        One ``YYYY-MM`` per entry: its event's month; for a gift given at a date (an event
        id ``RULE@YYYY-MM-DD`` of a rule of the program), the date's month; else null.
    """
    ids, months = known
    found = months.take(pc.index_in(event_ids, value_set=ids))
    if not found.null_count:
        return found
    parts = pc.extract_regex(event_ids, r"(?s)^(?P<rule>.*)@(?P<day>[^@]{10})$")
    rules = pc.struct_field(parts, "rule")
    gift = pc.and_kleene(
        pc.is_valid(parts), pc.is_in(rules, pa.array([rule.id for rule in program.rules]))
    )
    dated = pc.if_else(gift, pc.utf8_slice_codeunits(pc.struct_field(parts, "day"), 0, 7), None)
    result: pa.Array[Any] = pc.coalesce(found, dated)
    if isinstance(result, pa.ChunkedArray):
        result = result.combine_chunks()
    return result


@dataclass(frozen=True, slots=True)
class Group:
    """The figures of one group of ledger entries.

    Attributes:
        key: the rule id, tier name (None: below every level) or ``YYYY-MM`` month (None:
            an entry whose event is not known).
        entries: how many ledger entries the group has.
        totals: the program totals' figures over the group's entries; ``customers`` is
            the number of customers of a tier group and 0 otherwise; ``purchases``,
            ``refunds`` and ``gross_spend`` are 0 (not figures of a group).
        source: per-rule groups only: what ``key`` names.
    """

    key: str | None
    entries: int
    totals: Totals
    source: Source | None = None
    rewards: int = 0
    """Rewards given: entries earning points, discounts, free items, vouchers, gift cards
    and applied redemptions (``rewardrules report`` shows it)."""

    def to_dict(self, name: str) -> dict[str, Any]:
        """The group as JSON, its key under ``name``: the figures of the program totals
        that come from ledger entries (no ``purchases``, ``refunds``, ``gross_spend``)."""
        document: dict[str, Any] = {name: self.key}
        if self.source is not None:
            document["source"] = self.source
        figures = self.totals.to_dict()
        if name == "tier":
            document["customers"] = figures["customers"]
        document["entries"] = self.entries
        document.update((key, value) for key, value in figures.items() if key not in _COUNTS)
        return document


@dataclass(frozen=True, slots=True)
class Summary:
    """Totals per rule, per tier and per month, and the program totals.

    Attributes:
        program: the program's id.
        currency: its currency code.
        totals: the program totals, as ``dry-run --format json`` gives them.
        by_rule: per rule, in program order, then catalogue rewards and points settings.
        by_tier: per tier: below every level (``None``) first, then the levels lowest
            first; empty for a program without tiers.
        by_month: per month, oldest first (an unknown month, ``None``, last).
    """

    program: str
    currency: str
    totals: Totals
    by_rule: tuple[Group, ...]
    by_tier: tuple[Group, ...]
    by_month: tuple[Group, ...]

    def to_dict(self) -> dict[str, Any]:
        """The summary in the JSON form of docs/json-output.md ("The summary")."""
        return {
            "program": self.program,
            "currency": self.currency,
            "totals": self.totals.to_dict(),
            "by_rule": [group.to_dict("rule") for group in self.by_rule],
            "by_tier": [group.to_dict("tier") for group in self.by_tier],
            "by_month": [group.to_dict("month") for group in self.by_month],
        }


@dataclass(frozen=True, slots=True)
class CountedSums:
    """What a :class:`SummaryBuilder` counted: per rule, per tier, per month (each a
    figure's integer sum by name), and per (month, program rule) the value and points
    given (:meth:`SummaryBuilder.month_rules`)."""

    rules: dict[tuple[Source, str], dict[str, int]]
    tiers: dict[str | None, dict[str, int]]
    months: dict[str | None, dict[str, int]]
    month_rules: dict[tuple[str | None, str], tuple[int, int]]


class SummaryBuilder:
    """Running sums of per-customer results, for :class:`Summary`.

    Args:
        program: the evaluated program.
        months: the month (:func:`month_of`) of each event, by event id; or let
            :meth:`watch` note them while the history is read.
    """

    def __init__(self, program: Program, months: Mapping[str, str] | None = None) -> None:
        self._program = program
        self._months: dict[str, str] = dict(months or {})
        self._interned: dict[str, str] = {}
        self._rules: dict[tuple[Source, str], dict[str, int]] = {}
        self._tiers: dict[str | None, dict[str, int]] = {}
        self._by_month: dict[str | None, dict[str, int]] = {}
        self._gift_rules = frozenset(rule.id for rule in program.rules)
        self._month_rules: dict[tuple[str | None, str], list[int]] = {}
        self._openings: dict[tuple[str, str], str] = {}
        self._fact_months: dict[str, str] = {}  # supplied referral facts' months, by id

    def watch(self, events: Iterable[AnyEvent]) -> Iterator[AnyEvent]:
        """Pass events through, noting each one's month: wrap the history being evaluated.

        A history comes mostly in time order, so the last month's span of POSIX seconds
        (less two hours at each end) answers most events without converting their instant
        to the program's zone.
        """
        zone = self._program.zone
        start = end = 0.0
        month = ""
        for event in events:
            moment = event.at.timestamp()
            if not start <= moment < end:
                local = event.at.astimezone(zone)
                first = datetime(local.year, local.month, 1, tzinfo=zone)
                following = (first + timedelta(days=32)).replace(day=1)
                # Two hours' margin: near a boundary (where a zone may skip or repeat its
                # midnight) each instant is converted.
                start, end = first.timestamp() + 7200, following.timestamp() - 7200
                month = self._interned.setdefault(local.strftime("%Y-%m"), local.strftime("%Y-%m"))
            self._months[event.id] = month
            yield event

    def use_months(self, months: Mapping[str, str]) -> None:
        """Take the months of the next events (by event id) in place of those noted so far:
        results that come chunk by chunk keep only their chunk's months in memory."""
        self._months = dict(months)

    def note_openings(self, customers: Iterable[Customer]) -> None:
        """Note the months of migrated customers' opening lots (:func:`opening_months`)."""
        self._openings.update(opening_months(customers, self._program))

    def note_referral_facts(self, facts: Iterable[ReferralQualified]) -> None:
        """Note the months of referral facts supplied apart from the history (a friend in
        another chunk of the streamed dry-run): a referrer's entry of such a fact goes to
        the month of the friend's purchase, as when the friend is evaluated with them."""
        for fact in facts:
            # A fact that takes a held reward back is dated at the friend's refund, whose
            # id the referrer's entry then bears.
            taken_back = fact.reversed_by
            self._fact_months[fact.id if taken_back is None else taken_back] = month_of(
                fact.at, self._program
            )

    def _month(self, entry: LedgerEntry) -> str | None:
        if entry.event_id.startswith(OPENING):
            opening = self._openings.get((entry.customer_id, entry.event_id))
            if opening is not None:
                return opening
        found = self._months.get(entry.event_id) or self._fact_months.get(entry.event_id)
        if found is not None:
            return found
        rule, at, day = entry.event_id.rpartition("@")
        if at and rule in self._gift_rules and len(day) == 10:
            return day[:7]
        return None

    def add(self, result: CustomerResult) -> None:
        """Count one customer's result."""
        tier = self._tiers.get(result.tier)
        if tier is None:
            tier = self._tiers[result.tier] = _zero()
        tier["customers"] += 1
        for entry in result.ledger:
            key = (_SOURCE_OF_KIND.get(entry.kind, "rule"), entry.rule)
            rule = self._rules.get(key)
            if rule is None:
                rule = self._rules[key] = _zero()
            month_key = self._month(entry)
            month = self._by_month.get(month_key)
            if month is None:
                month = self._by_month[month_key] = _zero()
            _count(rule, entry)
            _count(tier, entry)
            _count(month, entry)
            if key[0] == "rule":
                given = self._month_rules.get((month_key, entry.rule))
                if given is None:
                    given = self._month_rules[(month_key, entry.rule)] = [0, 0]
                given[0] += entry.value_minor or 0
                given[1] += entry.points or 0

    def known_months(self) -> tuple[pa.Array[Any], pa.Array[Any]]:
        """The events noted so far (:meth:`watch`, :meth:`use_months`) and their months,
        two columns, as :func:`entry_months` takes them."""
        ids = pa.array(list(self._months), pa.string())
        return ids, pa.array(list(self._months.values()), pa.string())

    def add_results(
        self, results: tuple[CustomerResult, ...], months: tuple[pa.Array[Any], pa.Array[Any]]
    ) -> None:
        """Count some customers' results from their ledger's columns (the batch engine's
        make no entry); ``months`` as :func:`entry_months` takes them."""
        for piece in ledger_pieces(results, self._program.money):
            self.count_piece(piece, lambda: months)

    def piece_months(
        self, piece: LedgerPiece, known: tuple[pa.Array[Any], pa.Array[Any]]
    ) -> pa.Array[Any]:
        """The month of each entry of a piece: :func:`entry_months`, and for a migrated
        customer's opening lot the month it was earned in (:meth:`note_openings`)."""
        table = piece.table
        found = entry_months(table["event_id"], known, self._program)
        if not (self._openings or self._fact_months) or not found.null_count:
            return found
        months: list[str | None] = found.to_pylist()
        event_ids = [str(event_id) for event_id in table["event_id"].to_pylist()]
        customer_ids = [str(customer_id) for customer_id in table["customer_id"].to_pylist()]
        for place in range(len(months)):
            if months[place] is not None:
                continue
            if event_ids[place].startswith(OPENING):
                months[place] = self._openings.get((customer_ids[place], event_ids[place]))
            else:
                months[place] = self._fact_months.get(event_ids[place])
        return pa.array(months, pa.string())

    def count_piece(
        self, piece: LedgerPiece, known: Callable[[], tuple[pa.Array[Any], pa.Array[Any]]]
    ) -> None:
        """Count a piece of a ledger (``ledger_sums.ledger_pieces``): from its integer
        columns when it has them (the batch engine's), else from its table with the months
        of ``known()`` (:meth:`piece_months`)."""
        self._count_tiers(piece)
        if not piece.table.num_rows:
            return
        codes = piece.codes
        if codes is not None and codes.entries.dates is not None:
            self._add_codes(piece, codes)
        else:
            self._add_table(piece, self.piece_months(piece, known()))

    def _count_tiers(self, piece: LedgerPiece) -> None:
        ones = {"customers": np.ones(len(piece.customer_tiers), dtype=np.int64)}
        for (tier,), counted in grouped_figures(ones, {"tier": piece.customer_tiers}):
            _add(self._tiers, tier, counted)

    def _add_codes(self, piece: LedgerPiece, codes: PieceCodes) -> None:
        """:meth:`add_piece` from the batch engine's integer columns: each entry's month
        from its event's local date, or (an entry with an id of its own) from its id."""
        entries = codes.entries
        month_names, month = self._entry_months(piece, entries)
        keys = [entries.rule, codes.tier, month]
        sizes = [len(entries.rules), len(codes.tier_names), len(month_names)]
        amounts = (entries.points, entries.value, entries.units)
        found = coded_figures(entries.kind, entries.kinds, amounts, keys, sizes)
        for (rule_code, tier_code, month_code), kind, sums, (points, value, _) in found:
            where, rule = _SOURCE_OF_KIND.get(kind, "rule"), entries.rules[rule_code]
            month_name = month_names[month_code]
            _add(self._rules, (where, rule), sums)
            _add(self._tiers, codes.tier_names[tier_code], sums)
            _add(self._by_month, month_name, sums)
            if where == "rule":
                pair = self._month_rules.get((month_name, rule))
                if pair is None:
                    pair = self._month_rules[(month_name, rule)] = [0, 0]
                pair[0] += value
                pair[1] += points

    def _entry_months(
        self, piece: LedgerPiece, entries: EntryCodes
    ) -> tuple[list[str | None], npt.NDArray[np.int64]]:
        """The months of a piece's entries: the names, and a code per entry."""
        assert entries.dates is not None  # noqa: S101 -- count_piece checked it
        event = entries.event
        named = event >= 0
        every = bool(named.all())
        dates = entries.dates[event if every else event[named]]
        distinct, inverse = _months_of_days(dates)
        names: list[str | None] = [
            date(1970 + int(number) // 12, int(number) % 12 + 1, 1).strftime("%Y-%m")
            for number in distinct.tolist()
        ]
        if every:
            return names, inverse
        codes = np.empty(len(event), dtype=np.int64)
        codes[named] = inverse
        own = np.flatnonzero(~named)
        table = piece.table
        no_event = (pa.array([], pa.string()), pa.array([], pa.string()))
        alone = LedgerPiece(table.take(own), piece.tiers.take(own), piece.customer_tiers)
        place = {name: code for code, name in enumerate(names)}
        others = []
        for name in self.piece_months(alone, no_event).to_pylist():
            if name not in place:
                place[name] = len(names)
                names.append(name)
            others.append(place[name])
        codes[~named] = others
        return names, codes

    def add_piece(self, piece: LedgerPiece, months: pa.Array[Any]) -> None:
        """Count a piece of a ledger (``ledger_sums.ledger_pieces``), column by column;
        ``months`` holds each entry's month (null: unknown), as :func:`entry_months` gives."""
        self._count_tiers(piece)
        if piece.table.num_rows:
            self._add_table(piece, months)

    def _add_table(self, piece: LedgerPiece, months: pa.Array[Any]) -> None:
        table = piece.table
        figures = entry_figures(table)
        kinds = table["kind"]
        source = pc.if_else(
            pc.is_in(kinds, pa.array(["redemption", "rejected"])),
            "catalogue",
            pc.if_else(
                pc.is_in(kinds, pa.array(["expiry", "written_off", "opening"])), "points", "rule"
            ),
        )
        is_rule = np.asarray(pc.equal(source, "rule").to_numpy(zero_copy_only=False), np.bool_)
        value = minor_units(table["value"])
        points = np.asarray(pc.fill_null(table["points"], 0).to_numpy(), dtype=np.int64)
        figures["given value"] = np.where(is_rule, value, 0)
        figures["given points"] = np.where(is_rule, points, 0)
        # One grouping by all four keys, then each group's sums added where they belong:
        # per rule, per tier, per month, and per (month, program rule) for the cost.
        keys = {"source": source, "rule": table["rule"], "tier": piece.tiers, "month": months}
        for (where, rule, tier, month), sums in grouped_figures(figures, keys):
            given = (sums.pop("given value"), sums.pop("given points"))
            _add(self._rules, (where, rule), sums)
            _add(self._tiers, tier, sums)
            _add(self._by_month, month, sums)
            if where == "rule":
                pair = self._month_rules.get((month, rule))
                if pair is None:
                    pair = self._month_rules[(month, rule)] = [0, 0]
                pair[0] += given[0]
                pair[1] += given[1]

    def month_rules(self) -> dict[tuple[str | None, str], tuple[int, int]]:
        """Per (month, program rule): the money value given (minor units) and the net
        points given, for cost per month stacked by rule."""
        return {key: (sums[0], sums[1]) for key, sums in self._month_rules.items()}

    def counted(self) -> CountedSums:
        """What this builder has counted so far, as plain data (to pickle): another
        builder of the same program adds it with :meth:`add_counted` (the chunks of one
        history counted in several processes, ``dry-run --jobs``). Every figure is an
        integer sum, so the order in which builders are added does not matter."""
        return CountedSums(
            rules=self._rules,
            tiers=self._tiers,
            months=self._by_month,
            month_rules=self.month_rules(),
        )

    def add_counted(self, counted: CountedSums) -> None:
        """Add what another builder of the same program counted (:meth:`counted`)."""
        for rule, sums in counted.rules.items():
            _add(self._rules, rule, sums)
        for tier, sums in counted.tiers.items():
            _add(self._tiers, tier, sums)
        for month, sums in counted.months.items():
            _add(self._by_month, month, sums)
        for key, (value, points) in counted.month_rules.items():
            pair = self._month_rules.get(key)
            if pair is None:
                pair = self._month_rules[key] = [0, 0]
            pair[0] += value
            pair[1] += points

    def finish(self, totals: Totals) -> Summary:
        """The summary, with the program totals of the evaluation (``evaluation.totals``)."""
        program = self._program
        keys: list[tuple[Source, str]] = [("rule", rule.id) for rule in program.rules]
        seen = set(keys)
        keys += sorted(
            (key for key in self._rules if key not in seen),
            key=lambda key: (key[0] != "rule", key[0] == "points", key[1]),
        )
        rules = [self._group(key[1], self._rules.get(key), key[0]) for key in keys]
        tiers: list[Group] = []
        if program.tiers is not None:
            names: list[str | None] = [None, *program.tiers.level_names()]
            tiers = [self._group(name, self._tiers.get(name)) for name in names]
        months = sorted(self._by_month, key=lambda month: (month is None, month or ""))
        return Summary(
            program=program.program,
            currency=program.money.code,
            totals=totals,
            by_rule=tuple(rules),
            by_tier=tuple(tiers),
            by_month=tuple(self._group(month, self._by_month[month]) for month in months),
        )

    def _group(
        self, key: str | None, sums: dict[str, int] | None, source: Source | None = None
    ) -> Group:
        sums = dict(sums or _zero())
        entries = sums.pop("entries")
        customers = sums.pop("customers")
        rewards = sums.pop("rewards")
        program = self._program
        totals = Totals(
            money=program.money,
            point_value=program.points.value,
            customers=customers,
            **sums,
        )
        return Group(key, entries, totals, source, rewards)


_SUMS: Final = ("entries", "customers", "rewards", *ENTRY_SUMS)


def _zero() -> dict[str, int]:
    return dict.fromkeys(_SUMS, 0)


def _add(groups: dict[Any, dict[str, int]], key: Any, sums: Mapping[str, int]) -> None:
    group = groups.get(key)
    if group is None:
        group = groups[key] = _zero()
    for name, value in sums.items():
        if value:  # most of a group's figures are 0
            group[name] += value


def _count(sums: dict[str, int], entry: LedgerEntry) -> None:
    """Add one entry as :func:`rewardrules.engine.ledger.total` does (a test holds them equal)."""
    sums["entries"] += 1
    kind = entry.kind
    points = entry.points or 0
    if gives_reward(kind, points):
        sums["rewards"] += 1
    value = entry.value_minor or 0
    units = entry.units or 0
    if kind == "points":
        if points >= 0:
            sums["points_issued"] += points
        else:
            sums["points_reversed"] -= points
    elif kind == "discount":
        sums["discount_value"] += value
        sums["discount_units"] += units
    elif kind == "free":
        sums["free_value"] += value
        sums["free_units"] += units
    elif kind == "voucher":
        sums["vouchers"] += units
        sums["voucher_value"] += value
    elif kind == "gift_card":
        sums["gift_cards"] += units
        sums["gift_card_value"] += value
    elif kind == "redemption":
        sums["redemptions"] += 1 if units >= 0 else -1  # -1: a cancellation
        sums["points_redeemed"] -= points
        sums["redemption_value"] += value
    elif kind == "rejected":
        sums["rejected_redemptions"] += 1
    elif kind == "expiry":
        sums["points_expired"] -= points
    elif kind == "written_off":
        sums["points_written_off"] += points
    elif kind == "capped":
        sums["rewards_capped"] += 1
    elif kind == "set_aside":
        sums["rewards_set_aside"] += 1
    elif kind == "opening":
        sums["points_issued"] += points
    else:  # a referral: -1 for a held one that a refund reversed (units -1)
        sums["referrals"] += -1 if units < 0 else 1


def _months_of_days(
    dates: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The months (since January 1970) that some dates (proleptic Gregorian ordinals)
    fall in, in order, and each date's index among them: ``np.unique`` of their months
    with ``return_inverse``, counted over the span of days rather than sorted (a ledger
    piece's dates span a few hundred days; its entries are a hundred thousand)."""
    if not len(dates):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    low = int(dates.min())
    if int(dates.max()) - low > 4 * len(dates) + 4096:  # a long span for few dates: sorted
        numbers = (dates - _EPOCH_ORDINAL).astype("datetime64[D]").astype("datetime64[M]")
        distinct, inverse = np.unique(numbers.astype(np.int64), return_inverse=True)
        return distinct.astype(np.int64), np.asarray(inverse, dtype=np.int64).reshape(-1)
    days = np.arange(low, int(dates.max()) + 1, dtype=np.int64) - _EPOCH_ORDINAL
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    first = int(months[0])
    month = months[dates - low] - first  # each date's month, from the span's first
    present = np.bincount(month, minlength=int(months[-1]) - first + 1) > 0
    index = np.cumsum(present) - 1
    return np.flatnonzero(present).astype(np.int64) + first, index[month].astype(np.int64)
