"""``evaluate_table``: a program over a history table, column by column, for every customer at once.

The program is compiled once (``ProgramPlan``, the reference engine's own plan, read into
columns by ``_rules``); the table is read once into integer columns (``_frame``). Then:
tiers and prices by fixed-point iteration (``_tiers``), points on what is paid, and the
ledger entries the reference would write, built in bulk and split by customer.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from functools import partial
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from rewardrules.engine.ledger import (
    NOTE_KINDS,
    CustomerResult,
    EntryKind,
    Evaluation,
    LedgerEntry,
    Totals,
)
from rewardrules.engine.lots import PointsAccount
from rewardrules.engine.state import CustomerState
from rewardrules.engine.tiers import calendar_key
from rewardrules.errors import HistoryError
from rewardrules.evaluation.batch._accounts import lasting_purchases, run_accounts
from rewardrules.evaluation.batch._amounts import PointsTally, overflow_problems
from rewardrules.evaluation.batch._bonus import BonusColumns, PurchaseContextMaker
from rewardrules.evaluation.batch._cancels import Catalogue, cancelled_redemptions
from rewardrules.evaluation.batch._cards import CardColumns, CardCounts, CardReward
from rewardrules.evaluation.batch._compute import Computation
from rewardrules.evaluation.batch._dated import GiftColumns
from rewardrules.evaluation.batch._finals import Unsettled, in_steps
from rewardrules.evaluation.batch._frame import Flags, Ints, UnsupportedError, pc, read_frame
from rewardrules.evaluation.batch._giftcards import CardsIssued, GiftCardColumns
from rewardrules.evaluation.batch._gifts import GiftLedger
from rewardrules.evaluation.batch._ledger import EntryPart, LedgerColumns, column_keys, row_keys
from rewardrules.evaluation.batch._limits import LimitColumns, Release, bonus_releases, with_noted
from rewardrules.evaluation.batch._members import earns_on_shares, points_left
from rewardrules.evaluation.batch._memory import small_pages
from rewardrules.evaluation.batch._opening import Grants, check_late, check_tiers, profile_state
from rewardrules.evaluation.batch._parts import customer_parts, joined
from rewardrules.evaluation.batch._payments import earned_on
from rewardrules.evaluation.batch._refunds import RefundStep, emptying
from rewardrules.evaluation.batch._results import ResultColumns, TierReports
from rewardrules.evaluation.batch._resume import Resumed, with_idle
from rewardrules.evaluation.batch._resumed_slices import idle_gifts, resumed_reader
from rewardrules.evaluation.batch._rules import (
    AnyDiscount,
    GiftItemColumns,
    Numbers,
    OrderDiscountColumns,
    PointsColumns,
    per_event,
)
from rewardrules.evaluation.batch._slices import (
    SliceReader,
    Timeline,
    keeps_slices,
    read_rules,
    slice_entries,
)
from rewardrules.evaluation.batch._state_inputs import RulePoints, StateColumns, gift_card_spend
from rewardrules.evaluation.batch._states import SavedStates
from rewardrules.evaluation.batch._tiers import levels
from rewardrules.evaluation.batch._timeline import Walk
from rewardrules.evaluation.batch.support import refuse, unsupported
from rewardrules.evaluation.fold import _INSTANT, _Cutoff, _profiles
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.evaluation.stacking import purchase_stages, stage_rules
from rewardrules.events import Customer

# The punch card's reason function (private to its kind module, which alone writes it).
from rewardrules.kinds.every_nth_free import _reward_reason as reward_reason
from rewardrules.kinds.order_discount import GIFT_REASON

# The gift card's reason function (private to its kind module, which alone writes it).
from rewardrules.kinds.partner_gift_card import _cards_reason as cards_reason
from rewardrules.kinds.points_per_spend import REFUND_REASON, PointsPlan, earn_reason, earn_texts
from rewardrules.kinds.tiered_discount import DISCOUNT_REASON
from rewardrules.money import Currency
from rewardrules.program.model import Program

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _as_table(history: Any) -> pa.Table:
    if isinstance(history, pa.Table):
        return history
    if isinstance(history, pa.RecordBatch):
        return pa.Table.from_batches([history])
    if hasattr(history, "__arrow_c_stream__"):
        return pa.RecordBatchReader.from_stream(history).read_all()
    raise TypeError(
        f"the batch engine reads a pyarrow Table or an Arrow C stream (got {type(history)})"
    )


@small_pages()
def evaluate_table(
    program: Program,
    table: Any,
    customers: Iterable[Customer] | None = None,
    as_of: date | datetime | None = None,
    *,
    source: str = "<table>",
    facts: pa.Table | None = None,
    states: object = None,
) -> Evaluation:
    """Evaluate a program over a history table with the batch engine.

    The result is the reference engine's, entry for entry (``evaluate(program,
    events)``): the same ledger entries and reasons, balances, tiers and totals.

    Args:
        program: the program; :func:`rewardrules.evaluation.batch.unsupported` must find nothing.
        table: a history table (``rewardrules.histories.columns.HISTORY_SCHEMA``), or anything
            with ``__arrow_c_stream__``.
        customers: customer profiles (checked as the reference engine checks them).
        as_of: ignore events after this date (the whole local day) or instant.
        source: how errors name the table.
        facts: referral facts supplied with the history (``_referrals.FACT_SCHEMA``).
        states: saved states to resume from, by customer id (or as a list), read as the
            reference engine reads them (``_resume``).

    Raises:
        UnsupportedError: the program uses a feature the batch engine does not evaluate yet,
            or the history holds refunds or redemptions; nothing was computed.
        HistoryError: the table has a row or an event the reference engine refuses.
        ValueError: ``as_of`` is a naive datetime.
    """
    features = unsupported(program)
    if features:
        refuse(features)
    plan = ProgramPlan.compile(program)
    history = _as_table(table)
    profiles = None if customers is None else list(customers)
    if facts is None and not states and not plan.referrals:
        # Parts of whole customers, each a customer's own results; on any error, the whole
        # table again, so that the errors are the ones its evaluation reports.
        try:
            parts = customer_parts(history, None if profiles is None else _profiles(profiles))
            if parts is not None:
                return joined(
                    [
                        _evaluate(plan, program, part.table, part.profiles, as_of, source)
                        for part in parts
                    ]
                )
        except (HistoryError, UnsupportedError):
            pass
    return _evaluate(plan, program, history, profiles, as_of, source, facts, states)


def _evaluate(
    plan: ProgramPlan,
    program: Program,
    table: pa.Table,
    customers: Iterable[Customer] | None,
    as_of: date | datetime | None,
    source: str,
    facts: pa.Table | None = None,
    states: object = None,
) -> Evaluation:
    """:func:`evaluate_table` of one table in one piece."""
    if any(rule.final for rule in program.rules):
        _, order = purchase_stages(plan)
        finals = frozenset(rule.id for rule in program.rules if rule.final)
        plan = replace(plan, stage_rules=stage_rules(order), final_rules=finals)
    cutoff = None if as_of is None else _Cutoff(as_of, plan)
    profiles = _profiles(customers)
    resumed = Resumed.of(plan, states) if states else None
    if resumed is not None:
        profiles = resumed.profiles(profiles)
    check_tiers(plan, profiles)
    until = None if cutoff is None else (_microseconds(cutoff.instant), cutoff.inclusive)
    frame = read_frame(table, plan.money, plan.zone, source, until)
    if resumed is not None:
        resumed.check(frame)
    grants = None
    if profiles:
        check_late(plan, frame, profiles, facts, until)
        grants = Grants.of(plan, frame, profiles)
    if resumed is not None:  # tiers granted to migrated customers, as their states keep them
        grants = resumed.grants(frame, grants)
    collecting = gc.isenabled()
    gc.disable()  # millions of entries and no cycles: see engine.evaluate
    try:
        by_points = plan.tiers is not None and plan.tiers.by_points
        guess: Ints | None = None
        stops: Ints | None = None
        gifts = partial(GiftLedger, profiles=profiles, supplied=facts, until=until)
        for _ in range(2 * frame.events + 4):
            run = _Run(
                plan, frame, cutoff, guess, grants, stops=stops, gifts=gifts, resumed=resumed
            )
            try:
                evaluation = run.evaluation()
            except Unsettled:  # final earning rules' stops: run again from those found
                assert run.finals is not None  # noqa: S101 -- only a guess is unsettled
                stops = run.finals.found
                if by_points:
                    guess = run.points_given
                continue
            if not by_points or (guess is not None and np.array_equal(run.points_given, guess)):
                return evaluation
            # qualify_by: points. A purchase's level counts the points earlier purchases
            # earned at their own levels: run again on the points this run gave, until
            # they give the levels they were computed at. Each run fixes at least one more
            # event of each customer (an event's level reads only earlier events), so the
            # fixed point is the reference's answer.
            guess = run.points_given
        raise AssertionError("the points tiers or final stops did not settle")  # pragma: no cover
    except OverflowError:  # a Python integer put into int64 (numpy raises, never wraps)
        raise UnsupportedError(overflow_problems(program, plan.money)) from None
    finally:
        if collecting:
            gc.enable()


def _microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // _INSTANT


def _written(at: int, offset: int) -> datetime:
    """An instant at the UTC offset it was written with (UTC when none was kept)."""
    moment = _EPOCH + timedelta(microseconds=at)
    return moment.astimezone(timezone(timedelta(seconds=offset))) if offset else moment


class _TierAt(NamedTuple):
    """What a points reason reads of a purchase's context."""

    tier_index: int | None
    tier: str | None


@dataclass(frozen=True, slots=True)
class _PointsReasons:
    """What a points rule's reasons need, kept as columns until a reason is read."""

    plan: PointsPlan
    paid: Numbers
    weights: Ints
    line_start: Ints
    tier: Ints
    names: tuple[str, ...]
    written: dict[tuple[Any, ...], str] = field(default_factory=dict, compare=False)
    """Reasons already written, by what ``earn_reason`` reads: purchases alike share one."""
    prefixes: list[tuple[Ints, list[tuple[int, Ints]]]] = field(default_factory=list, compare=False)
    """``_line_prefixes``, once made (the ledger asks for its keys piece by piece)."""


def _points_reason(money: Currency, reasons: _PointsReasons, event: int, points: int) -> str:
    start, end = int(reasons.line_start[event]), int(reasons.line_start[event + 1])
    index = int(reasons.tier[event])
    paid = tuple(reasons.paid[start:end].tolist())
    weights = tuple(reasons.weights[start:end].tolist())
    key = (money, index, paid, weights, points)
    found = reasons.written.get(key)
    if found is None:
        context = _TierAt(None, None) if index < 0 else _TierAt(index, reasons.names[index])
        found = earn_reason(money, reasons.plan, context, paid, weights, points)  # type: ignore[arg-type]
        reasons.written[key] = found
    return found


def _points_arguments(
    reasons: _PointsReasons, events: list[int], given: list[int], index: int
) -> tuple[Any, ...]:
    """A points entry's reason arguments (``_points_reason``), read when asked for."""
    return (reasons, events[index], given[index])


def _points_keys(reasons: _PointsReasons, events: Ints, given: Ints, chosen: Ints) -> pa.Array[Any]:
    """Points entries' reason keys: equal when ``earn_reason`` reads the same tier and
    points, the same amount paid on lines that earn, and as many lines of each boosted
    weight (so one text serves them all, whatever the lines' own amounts).

    Raises OverflowError or TypeError (the caller then compares arguments) when the
    amounts are not integers whose sums surely fit in int64.
    """
    event = events[chosen]
    starts = reasons.line_start[event]
    ends = reasons.line_start[event + 1]
    earning, boosted = _line_prefixes(reasons)
    heads = [reasons.tier[event], given[chosen], earning[ends] - earning[starts]]
    for weight, lines in boosted:
        heads += [np.full(len(event), weight, dtype=np.int64), lines[ends] - lines[starts]]
    none = np.zeros(len(event), dtype=np.int64)
    return row_keys(heads, none, none, ())


def _line_prefixes(reasons: _PointsReasons) -> tuple[Ints, list[tuple[int, Ints]]]:
    """Prefix sums over every line of the rule: the amount paid on lines that earn, and
    per boosted weight the number of lines of that weight. Made once per rule and kept:
    the ledger asks for keys piece by piece, and remaking them over every line for each
    piece made a big partition's ledger cost grow with the square of its size.

    Raises OverflowError or TypeError as ``_points_keys`` says (nothing is kept then).
    """
    if reasons.prefixes:
        return reasons.prefixes[0]
    weights = np.asarray(reasons.weights, dtype=np.int64)
    paid = np.asarray(reasons.paid)
    if paid.dtype.kind not in "iu":
        paid = paid.astype(np.int64)  # OverflowError or TypeError when it cannot be
    earning = np.where(weights != 0, paid, 0).astype(np.int64)
    if float(np.abs(earning.astype(np.float64)).sum()) >= 2.0**62:
        raise OverflowError("paid amounts too large for int64 sums")

    def ahead(values: Ints) -> Ints:
        return np.concatenate((np.zeros(1, dtype=np.int64), np.cumsum(values)))

    plan = reasons.plan
    plain = (weights == 0) | (weights == plan.base_weight)
    known = (weight for _scope, weight, _factor in plan.multipliers)
    boosted = [
        (weight, ahead((weights == weight).astype(np.int64)))
        for weight in _distinct(weights[~plain], known)
    ]
    reasons.prefixes.append((ahead(earning), boosted))
    return reasons.prefixes[0]


def _distinct(values: Ints, known: Iterable[int]) -> list[int]:
    """``np.unique(values).tolist()``, found by one comparison pass per ``known`` value
    (a points rule's multiplier weights: what its lines' weights are) and a sort only
    when some value is none of them."""
    found, counted = [], 0
    for value in sorted(set(known)):
        count = int(np.count_nonzero(values == value))
        if count:
            found.append(value)
            counted += count
    if counted != len(values):
        unique: list[int] = np.unique(values).tolist()
        return unique
    return found


def _points_texts(
    reasons: _PointsReasons, events: Ints, given: list[int], chosen: Ints, money: Currency
) -> list[str]:
    """Points entries' reasons (``_points_reason``), all at once: what ``earn_reason``
    reads of each purchase summed from the rule's prefix sums (``_line_prefixes``)."""
    event = events[chosen]
    try:
        earning, boosted = _line_prefixes(reasons)
    except (OverflowError, TypeError):  # amounts beyond int64: one by one
        return [
            _points_reason(money, reasons, int(place), given[index])
            for place, index in zip(event.tolist(), chosen.tolist())
        ]
    starts = reasons.line_start[event]
    ends = reasons.line_start[event + 1]
    eligible = (earning[ends] - earning[starts]).tolist()
    counts = [
        (weight, (lines[ends] - lines[starts]).tolist())
        for weight, lines in sorted(boosted, key=lambda pair: pair[0], reverse=True)
    ]
    names = reasons.names
    tiers = [
        (None, None) if tier < 0 else (tier, names[tier]) for tier in reasons.tier[event].tolist()
    ]
    points = [given[index] for index in chosen.tolist()]
    return earn_texts(money, reasons.plan, eligible, counts, tiers, points)


def _int64s(values: Any) -> Ints | None:
    """Some amounts as they are when they are int64 (None otherwise: beyond int64)."""
    return values if values.dtype == np.int64 else None


def _points_keys_of(reasons: _PointsReasons, events: Ints, given: list[int] | Ints) -> Any:
    """``_points_keys`` for these entries, or None when some points do not fit in int64."""
    try:
        points = np.asarray(given, dtype=np.int64)
    except OverflowError:
        return None
    return partial(_points_keys, reasons, events, points)


def _discount_arguments(
    names: list[str], labels: dict[str, str], counts: list[int], worth: list[int], index: int
) -> tuple[Any, ...]:
    """A discount entry's reason arguments (``DISCOUNT_REASON``), read when asked for."""
    name, count = names[index], counts[index]
    return (name, labels[name], count, "unit" if count == 1 else "units", worth[index])


def _offer_arguments(
    first: object, counts: list[int], worth: list[int], index: int
) -> tuple[Any, ...]:
    """An order offer's reason arguments (``PERCENT_REASON``, ``AMOUNT_REASON``)."""
    count = counts[index]
    return (first, count, "unit" if count == 1 else "units", worth[index])


def _given_events(parts: list[EntryPart]) -> Ints:
    """The events where these entries give something (not a ``capped`` or ``set_aside``
    note)."""
    found: list[int] = []
    for part in parts:
        if part.built is not None:
            events = part.events.tolist()
            found += [
                event
                for event, entry in zip(events, part.built, strict=True)
                if entry.kind not in NOTE_KINDS
            ]
        elif part.kind not in NOTE_KINDS:
            found += part.events.tolist()
    return np.asarray(found, dtype=np.int64)


def _nothing(_index: int) -> tuple[()]:
    return ()


def _profile_state(
    plan: ProgramPlan, reader: SliceReader | None, walk: Walk, profile: Customer | None
) -> CustomerState:
    """The saved state of a customer known only from a profile or referral facts (no event
    of their own): a migrated customer reported as of ``as_of``, from their walk's account;
    a referrer, or a profile with gifts by ``as_of``, with their slices (``_slices``)."""
    assert walk.lots is not None  # noqa: S101 -- a walk with a result kept its account
    state = profile_state(plan, walk.lots, profile if walk.opened else None, walk.customer_id)
    if reader is None:
        return state
    found = reader.slices(walk.customer_id, walk.last, Timeline.empty())
    return state.model_copy(update=found.fields())


class _Ledger:
    """The entries of one evaluation as they are built, rule by rule, with their sums."""

    def __init__(self, rule_count: int, events: int) -> None:
        self.rule_count = rule_count
        self.parts: list[EntryPart] = []
        self.keys: list[Ints] = []
        self.points: Ints = np.zeros(events, dtype=np.int64)
        """Points per event, net."""
        self.tally = PointsTally()
        """The points the rules gave, in all: what ``points`` may add up to (its bound)."""
        self.taken_back = 0
        self.places: dict[int, int] = {}
        """Exclusive groups: a member's position to its group's, at purchases."""
        self.purchases: Flags = np.zeros(events, dtype=np.bool_)
        self.noted: Any = None
        """Notes a group's winner's entries (``Groups.noted``)."""
        self.sums = dict.fromkeys(
            (
                "discount_value",
                "discount_units",
                "free_value",
                "free_units",
                "vouchers",
                "voucher_value",
                "gift_cards",
                "gift_card_value",
            ),
            0,
        )

    def add(self, position: int, events: Ints, entries: EntryPart | list[LedgerEntry]) -> None:
        """Entries of the rule at ``position``, one per event (in event order): columns, or
        entries already built (a limited rule's, noted where a limit cut them)."""
        if not isinstance(entries, EntryPart):
            entries = EntryPart.of_entries(events, entries)
        place = self.places.get(position)
        if place is None:
            self.keys.append(events * self.rule_count + position)
        else:
            self.keys.append(
                events * self.rule_count + np.where(self.purchases[events], place, position)
            )
        self.parts.append(entries if self.noted is None else self.noted(entries))


class _Run(Computation):
    """One evaluation: what the rules computed over the frame, written as the ledger."""

    gifts: GiftLedger
    """The gifts that read profiles (set before :meth:`evaluation`)."""

    def __init__(
        self,
        plan: ProgramPlan,
        frame: Any,
        cutoff: _Cutoff | None,
        tier_points: Ints | None = None,
        grants: Grants | None = None,
        *,
        stops: Ints | None = None,
        gifts: Callable[[Any], GiftLedger] | None = None,
        resumed: Resumed | None = None,
    ) -> None:
        super().__init__(
            plan, frame, cutoff, tier_points, grants, stops=stops, gifts=gifts, resumed=resumed
        )
        self.points_given: Ints = np.zeros(0, dtype=np.int64)
        """Per event, the points the rules gave (net, negative at refunds), before the
        gifts at dates and the accounts: what ``qualify_by: points`` counts."""
        # What the saved states read of the earning rules, in running order.
        self.rule_points: list[RulePoints] = []
        self.bonus_points: list[tuple[str, Ints]] = []

    # --- the ledger ---------------------------------------------------------------------

    def evaluation(self) -> Evaluation:
        """The evaluation, as the reference engine reports it."""
        frame, plan = self.frame, self.plan
        money = plan.money
        self.stamps: dict[str, Ints] = {}
        rules = len(self.price_stages) + len(self.earning_stages)
        # Positions around the rules' (1 to rules): expiries due before an event (0); the
        # account's entries after the rules' (redemptions, write-offs); and expiries due up
        # to the as_of cutoff, after a customer's last event.
        ledger = _Ledger(rules + 3, frame.events)
        stages = [*self.price_stages, *self.earning_stages]
        self.stage_of = {stage.plan.rule.id: stage for stage in stages}
        groups = self.groups
        positions = {stage.plan.rule.id: index for index, stage in enumerate(stages, 1)}
        ledger.places, ledger.purchases, ledger.noted = (
            groups.places(positions),
            self.purchases,
            groups.noted,
        )
        for position, (stage, result) in enumerate(zip(self.price_stages, self.given), 1):
            self._price_entries(ledger, position, stage, result)
            self._set_aside_entries(ledger, position, stage)
        earning = enumerate(self.earning_stages, len(self.price_stages) + 1)
        for position, stage in in_steps(earning, self.step_of, plan.final_rules):
            made = len(ledger.parts)
            self._earning_entries(ledger, position, stage)
            if plan.final_rules:  # what it gave stops the later rules of those purchases
                self.gave(stage.plan.rule.id, _given_events(ledger.parts[made:]))
            self._set_aside_entries(ledger, position, stage)
        self._saved_refund_entries(ledger)
        cutoff = self.cutoff
        closing = (
            None
            if cutoff is None
            else (
                cutoff.instant,
                cutoff.inclusive,
                cutoff.instant if cutoff.inclusive else cutoff.instant - _INSTANT,
            )
        )
        flags = (self.purchases, self.is_refund, frame.flags_of("redemption"))
        self.points_given = ledger.points.copy()
        if self.finals is not None and not self.finals.settled():
            raise Unsettled  # the earning stops differ from the guess: ``_finals``
        self.catalogue = self._catalogue(flags[2])
        walked = self.gifts.walk(ledger.points, flags, closing)
        accounts = run_accounts(
            frame,
            plan.points,
            ledger.points,
            flags,
            lambda event: _written(int(frame.at[event]), int(frame.utc_offset[event])),
            closing,
            skip=walked,
            emptied=self._emptied(),
            lasting=lasting_purchases(plan.points, plan.tiers, self.tier, self.purchases),
            catalogue=self.catalogue,
            **self._seeds(),
        )
        self.gifts.place(ledger, rules)
        for position, events, entries in (
            (0, accounts.expired_at, accounts.expired),
            (rules + 1, accounts.events, accounts.entries),
            (rules + 2, accounts.closing_at, accounts.closing),
        ):
            chosen = np.asarray(events, dtype=np.int64)
            ledger.add(position, chosen, EntryPart.of_entries(chosen, entries))
        for position, part in accounts.expiry_parts(rules + 2):
            ledger.add(position, part.events, part)
        columns = LedgerColumns(
            ledger.parts,
            ledger.keys,
            frame.event_ids,
            frame.customer_start,
            ledger.rule_count,
            money,
            frame,
        )
        self.event_points = ledger.points
        balances: list[int] = []
        if frame.events:
            balances = np.add.reduceat(ledger.points, frame.customer_start[:-1]).tolist()
        available = list(balances)
        for customer, balance in accounts.balances.items():
            balances[customer] = balance
            available[customer] = accounts.available[customer]
        self.gifts.balances(balances, available)
        upcoming = dict(accounts.upcoming)
        self.gifts.upcoming(upcoming)
        self.available = available
        given, walked_entries = self.gifts.sums()
        results = self.gifts.results(
            ResultColumns(
                frame.customer_ids,
                columns,
                balances,
                available,
                [
                    (rule_id, every, self.stamps[rule_id].tolist())
                    for rule_id, every in self.plan.stamp_cards
                ],
                self._tier_reports(),
                self._saved_states(columns).state_of,
                upcoming,
            ).results(),
            partial(_profile_state, plan, self._slice_reader()),
        )
        results, idle = self._with_idle(results, given)
        account_sums = _account_sums(
            [*accounts.entries, *accounts.expired, *accounts.closing, *walked_entries, *idle]
        )
        sums = ledger.sums
        return Evaluation(
            program=plan.program.program,
            money=money,
            points_name=plan.program.points.name,
            customers=results,
            totals=Totals(
                money=money,
                point_value=plan.program.points.value,
                customers=len(results),
                purchases=int(self.purchases.sum()),
                refunds=int(self.is_refund.sum()),
                **self.refunds.refunded_purchases(),
                gross_spend=int(frame.gross_total[self.purchases].sum()),
                points_issued=int(ledger.points.sum()) - ledger.taken_back + given["points"],
                points_reversed=-ledger.taken_back,
                discount_value=sums["discount_value"],
                discount_units=sums["discount_units"],
                free_value=sums["free_value"],
                free_units=sums["free_units"],
                vouchers=sums["vouchers"] + given["vouchers"],
                voucher_value=sums["voucher_value"] + given["voucher_value"],
                gift_cards=sums["gift_cards"],
                gift_card_value=sums["gift_card_value"],
                rewards_capped=(_capped(ledger.parts) if plan.limits else 0) + given["capped"],
                referrals=self.gifts.referrals,
                rewards_set_aside=self.set_aside_count + given["set_aside"],
                **_with_expiries(account_sums, accounts.points_expired),
            ),
        )

    set_aside_count = 0

    def _set_aside_entries(self, ledger: _Ledger, position: int, stage: Any) -> None:
        """An exclusive group's member's ``set_aside`` entries, right after its own."""
        found = self.groups.set_aside(self, stage.plan.rule.id)
        if found is not None:
            ledger.add(position, *found)
            self.set_aside_count += len(found[1])

    def written(self, event: int) -> datetime:
        """An event's instant as it was written."""
        return _written(int(self.frame.at[event]), int(self.frame.utc_offset[event]))

    def points_part(self, earning: PointsColumns, events: Ints, points: Ints) -> EntryPart:
        """A points rule's entries at these events with these points (a set-aside
        member's, as it would have given them)."""
        seen = self.groups.earns_on(earning.plan.rule.id, self.paid, tried=True)
        paid = earned_on(earning, self.frame, seen, self.payments)
        weights = earning.weights(self.frame, self.tier, self.lines_for(earning.plan.rule.id))
        reasons = _PointsReasons(
            earning.plan, paid, weights, self.frame.line_start, self.tier, self.names
        )
        return self._points_part(earning, reasons, events, points)

    def _price_entries(self, ledger: _Ledger, position: int, stage: Any, result: Any) -> None:
        """A price rule's entries: discounts, free or discounted units of cards."""
        frame = self.frame
        if isinstance(stage, AnyDiscount):
            taken, units_per_event = result
            value = np.asarray(per_event(frame, taken), dtype=np.int64)
            units = np.asarray(units_per_event)
            events = np.flatnonzero(value > 0)
            part = self._discount_entries(stage, events, value[events], units[events])
            ledger.sums["discount_value"] += int(value.sum())
            ledger.sums["discount_units"] += int(units[events].sum())
        else:
            counts, rewards = result
            self.stamps[stage.plan.rule.id] = counts.final
            events, part = self._card_entries(stage, rewards, ledger.sums)
        cuts = self.price_cuts.get(stage.plan.rule.id)
        if cuts:
            ledger.add(position, *self._noted_prices(stage, events, part, cuts))
        else:
            ledger.add(position, events, part)

    def _noted_prices(
        self, stage: Any, events: Ints, columns: EntryPart, cuts: dict[int, Any]
    ) -> tuple[Ints, list[LedgerEntry]]:
        """A limited price rule's entries with the reference's notes at the cut events:
        each built as the rule would have given it, then noted (``note_cut``)."""
        part = self._built(columns)
        cut = np.asarray(sorted(cuts), dtype=np.int64)
        if isinstance(stage, AnyDiscount):
            wanted = [cuts[event][2] for event in cut.tolist()]
            value = np.asarray([worth for worth, _ in wanted], dtype=np.int64)
            units = np.asarray([count for _, count in wanted], dtype=np.int64)
            would = self._discount_entries(stage, cut, value, units)
        else:
            scratch = dict.fromkeys(
                ("free_value", "free_units", "discount_value", "discount_units"), 0
            )
            _, would = self._card_entries(
                stage, [cuts[event][2] for event in cut.tolist()], scratch
            )
        limited = self.limited[stage.plan.rule.id]
        noted = limited.noted_prices(
            dict(zip(events.tolist(), part)),
            {
                event: (cuts[event][0], cuts[event][1], entry)
                for event, entry in zip(cut.tolist(), self._built(would))
            },
        )
        return with_noted(events, part, noted)

    def _earning_entries(self, ledger: _Ledger, position: int, stage: Any) -> None:
        """An earning rule's entries: vouchers of cards, points (and points taken back)."""
        frame = self.frame
        if isinstance(stage, CardColumns):
            qualifying = stage.qualifying(frame, self.tier, self.lines_for(stage.plan.rule.id))
            qualifying = self.groups.masked(stage.plan.rule.id, qualifying)
            counts = stage.counts(frame, qualifying, self.refunds.steps)
            self.stamps[stage.plan.rule.id] = counts.final
            events, part = self._voucher_entries(stage, counts, ledger.sums)
            ledger.add(position, events, self._noted_counted(stage, events, part, ledger.sums))
            return
        if isinstance(stage, BonusColumns):
            self._bonus_entries(ledger, position, stage)
            return
        if isinstance(stage, GiftItemColumns):
            self._gift_item_entries(ledger, position, stage)
            return
        if isinstance(stage, GiftColumns):
            self.gifts.at_purchases(ledger, position, stage)
            return
        if isinstance(stage, GiftCardColumns):  # its saved windows: see _saved_states
            rule_id = stage.plan.rule.id
            issued = stage.issue(
                frame,
                self.tier,
                np.asarray(self.groups.earns_on(rule_id, self.paid), dtype=np.int64),
                self.lines_for(rule_id),
                self.groups.refunds_of(rule_id, self.refunds.steps, self.paid),
                self.groups.aside.get(rule_id),
            )
            events, part = self._gift_card_entries(stage, issued, ledger.sums)
            ledger.add(position, events, self._noted_counted(stage, events, part, ledger.sums))
            return
        earning: PointsColumns = stage
        seen = self.groups.earns_on(earning.plan.rule.id, self.paid)
        paid = earned_on(earning, frame, seen, self.payments)
        weights = earning.weights(frame, self.tier, self.lines_for(earning.plan.rule.id))
        points = earning.points(frame, self.tier, paid, weights)
        aside = self.groups.aside.get(earning.plan.rule.id)
        if aside is not None:
            points = np.where(aside, 0, points)
        events = np.flatnonzero(points != 0)
        wanted = points
        limited = self.limited.get(earning.plan.rule.id)
        lefts: dict[int, tuple[int, int]] = {}  # per refund step (its position): its worth
        points, cuts = self._given_points(earning, limited, wanted, (paid, weights), lefts)
        points = ledger.tally.give(frame, points, earning.plan.rule.id)
        reasons = _PointsReasons(
            earning.plan, paid, weights, frame.line_start, self.tier, self.names
        )
        refunded = self._refund_points(earning, points, paid, weights, lefts)
        self.rule_points.append(
            RulePoints(
                earning.plan.rule.id,
                points,
                refunded[3] if refunded else {},
                paid if self._on_shares(earning) else None,  # its shares
                wanted if limited is not None else None,
            )
        )
        if refunded:
            ledger.add(position, refunded[1], refunded[0])
            np.add.at(ledger.points, refunded[1], refunded[2])
            ledger.taken_back += int(refunded[2].sum())
        if limited is not None and cuts:  # build and note only the cut entries
            cut = np.isin(events, np.fromiter(cuts, dtype=np.int64, count=len(cuts)))
            cut_events = events[cut]
            noted = self._built(self._points_part(earning, reasons, cut_events, wanted))
            ledger.add(position, cut_events, limited.noted(cut_events, noted, cuts, "points"))
            events = events[~cut]
        ledger.add(position, events, self._points_part(earning, reasons, events, wanted))
        ledger.points += points

    def _given_points(
        self,
        earning: PointsColumns,
        limited: LimitColumns | None,
        wanted: Numbers,
        earned: tuple[Numbers, Ints],
        lefts: dict[int, tuple[int, int]],
    ) -> tuple[Numbers, dict[int, Any]]:
        """What a points rule gives per event, cut to its limits (and the allowance of each
        event cut); what it wanted may not fit in int64, and is held exactly. ``lefts``
        keeps what each refund step leaves (:meth:`_points_left`, by the step's position),
        which :meth:`_refund_points` reads again."""
        cuts: dict[int, Any] = {}
        points = wanted
        if limited is not None:
            paid, weights = earned
            releases = []
            for index, step in enumerate(self.refunds.steps):
                if points[step.purchase]:
                    found = lefts[index] = self._points_left(earning, step, paid, weights)
                    releases.append(Release(step.event, step.purchase, found[0]))
            points, cuts = limited.cut_points_column(self.frame, points, releases)
        return points, cuts

    def _points_part(
        self, earning: PointsColumns, reasons: _PointsReasons, events: Ints, wanted: Ints
    ) -> EntryPart:
        """A points rule's entries at ``events``, as columns: the points it wanted there."""
        points = wanted[events]
        given = points.tolist()
        exact = _int64s(points)
        return self._entries(
            events,
            earning.plan.rule.id,
            "points",
            (given, None, None),
            _points_reason,
            partial(_points_arguments, reasons, events.tolist(), given),
            _points_keys_of(reasons, events, given if exact is None else exact),
            partial(_points_texts, reasons, events, given),
            (exact, None, None),
        )

    def _built(self, part: EntryPart) -> list[LedgerEntry]:
        """A part's entries, built now (a limit reads and notes them one by one)."""
        frame, money = self.frame, self.plan.money
        owners = frame.customer_ids
        events = part.events
        return [
            part.entry(index, event_id, owners[customer], money)
            for index, (event_id, customer) in enumerate(
                zip(frame.event_ids[events].tolist(), frame.customer[events].tolist())
            )
        ]

    def _entries(
        self,
        events: Ints,
        rule_id: str,
        kind: EntryKind,
        amounts: tuple[Any, Any, Any],
        template: Any,
        arguments: Any,
        keys: Any = None,
        texts: Any = None,
        numbers: tuple[Ints | None, Ints | None, Ints | None] | None = None,
    ) -> EntryPart:
        """One rule's entries for these events, as columns (``_ledger``): built when read.

        ``amounts`` are the entries' points, value and units (lists, or None for none);
        ``keys`` tell entries with equal reasons apart from the rest (``ReasonKeys``);
        ``texts`` writes many reasons at once (``ReasonTexts``); ``numbers`` are the
        amounts again as the int64 arrays they were made from (``EntryPart.numbers``).
        """
        return EntryPart(
            events,
            rule_id,
            kind,
            *amounts,
            template,
            arguments,
            keys=keys,
            texts=texts,
            numbers=numbers,
        )

    def _refund_points(
        self,
        earning: PointsColumns,
        points: Ints,
        paid: Numbers,
        weights: Ints,
        lefts: dict[int, tuple[int, int]],
    ) -> tuple[EntryPart, Ints, Ints, dict[int, int]] | None:
        """A points rule's entries at refunds: its points recomputed on what is left of the
        purchase, at the tier and factors it was made with, never more than it gave
        (``refund_points_per_spend``). ``lefts``: those :meth:`_given_points` worked out."""
        steps = self.refunds.steps
        if not steps:
            return None
        plan = earning.plan
        frame = self.frame
        net: dict[int, int] = {}
        events: list[int] = []
        taken_list: list[int] = []
        arguments: list[tuple[Any, ...]] = []
        for index, step in enumerate(steps):
            purchase = step.purchase
            earned = net.get(purchase, int(points[purchase]))
            if earned == 0:
                continue
            found = lefts.get(index)
            worth, left = found or self._points_left(earning, step, paid, weights)
            now = min(worth, earned)
            net[purchase] = now
            if now != earned:
                events.append(step.event)
                taken_list.append(now - earned)
                purchase_id = frame.event_ids[purchase]
                arguments.append((purchase_id, plan.points_name, left, now, earned))
        if not events:
            return None
        chosen = np.asarray(events, dtype=np.int64)
        entries = self._entries(
            chosen,
            plan.rule.id,
            "points",
            (taken_list, None, None),
            REFUND_REASON,
            arguments,
        )
        return entries, chosen, np.asarray(taken_list, dtype=np.int64), net

    def _points_left(
        self, earning: PointsColumns, step: RefundStep, paid: Numbers, weights: Ints
    ) -> tuple[int, int]:
        """The points a purchase's entry of a points rule is worth on what ``step`` (a
        refund) leaves of it, at the tier and factors it was made with; and what is left."""
        index = int(self.tier[step.purchase])
        at = (index, self.names[index] if index >= 0 else None)
        return points_left(earning, self.frame, step, paid, weights, at, self._on_shares(earning))

    def _on_shares(self, earning: PointsColumns) -> bool:
        """Whether a points rule earned on amounts other than those paid (a share by
        payment method, or its group's basket before a later price rule)."""
        return earns_on_shares(earning, self.groups.beside_price(earning.plan.rule.id))

    def _noted_counted(
        self, stage: Any, events: Ints, columns: EntryPart, sums: dict[str, int]
    ) -> EntryPart | list[LedgerEntry]:
        """Vouchers or gift cards of a limited rule, as many as fit, noted where cut
        (``cut_entries``); the totals count what was given."""
        limited = self.limited.get(stage.plan.rule.id)
        if limited is None or not len(events):
            return columns
        part = self._built(columns)
        units = np.zeros(self.frame.events, dtype=np.int64)
        values = np.zeros(self.frame.events, dtype=np.int64)
        units[events] = [entry.units or 0 for entry in part]
        values[events] = [entry.value_minor or 0 for entry in part]
        _, cuts = limited.cut_counted(self.frame, units, values)
        if not cuts:
            return part
        noted = limited.noted(events, part, cuts, "counted")
        prefix = "vouchers" if isinstance(stage, CardColumns) else "gift_cards"
        for before, after in zip(part, noted):
            if after is not before:
                sums[prefix] += (after.units or 0) - (before.units or 0)
                sums[f"{prefix.rstrip('s')}_value"] += (after.value_minor or 0) - (
                    before.value_minor or 0
                )
        return noted

    def _card_entries(
        self, stage: CardColumns, rewards: list[CardReward], totals: dict[str, int]
    ) -> tuple[Ints, EntryPart]:
        """A free-unit or percent-off card's entries at the purchases that complete it."""
        plan = stage.plan
        events = np.asarray([reward.event for reward in rewards], dtype=np.int64)
        kind: EntryKind = "free" if plan.reward == "free" else "discount"
        units = [reward.units for reward in rewards]
        values = [reward.value for reward in rewards]
        totals[f"{kind}_value"] += sum(values)
        totals[f"{kind}_units"] += sum(units)
        arguments = [
            (plan, reward.after, reward.completed, reward.units, reward.value) for reward in rewards
        ]
        entries = self._entries(
            events, plan.rule.id, kind, (None, values, units), reward_reason, arguments
        )
        return events, entries

    def _voucher_entries(
        self, stage: CardColumns, counts: CardCounts, totals: dict[str, int]
    ) -> tuple[Ints, EntryPart]:
        """A voucher card's entries: one per purchase that completes cards, with the number
        of vouchers (``units``) and their total value."""
        plan = stage.plan
        every = plan.every
        completed = counts.after // every - counts.before // every
        events = np.flatnonzero(completed > 0)
        cards = completed[events].tolist()
        values = [plan.voucher_value * count for count in cards]
        arguments = [
            (plan, int(counts.after[event]) // every * every, count, count, value)
            for event, count, value in zip(events.tolist(), cards, values)
        ]
        totals["vouchers"] += sum(cards)
        totals["voucher_value"] += sum(values)
        entries = self._entries(
            events, plan.rule.id, "voucher", (None, values, cards), reward_reason, arguments
        )
        return events, entries

    def gift_item_part(self, stage: GiftItemColumns, events: Ints) -> EntryPart:
        """An order offer's gift item entries at these purchases: one free unit each, at
        the gift's value."""
        value = stage.plan.gift_value
        assert value is not None  # noqa: S101 -- compiled only for a gift item
        count = len(events)
        arguments = (stage.label(), value)
        return self._entries(
            events,
            stage.plan.rule.id,
            "free",
            (None, [value] * count, [1] * count),
            GIFT_REASON,
            lambda _index: arguments,
        )

    def _gift_item_entries(self, ledger: _Ledger, position: int, stage: GiftItemColumns) -> None:
        """An order offer's gift items: one free unit at the gift's value per purchase, but
        where its exclusive group set it aside; within its limits (each gift given whole or
        not, as ``cut_entries`` gives a voucher)."""
        rule_id = stage.plan.rule.id
        events = stage.given(self.frame, self.tier, self.lines_for(rule_id))
        aside = self.groups.aside.get(rule_id)
        if aside is not None:
            events = events[~aside[events]]
        part = self.gift_item_part(stage, events)
        limited = self.limited.get(rule_id)
        if limited is None or not len(events):
            ledger.sums["free_value"] += (stage.plan.gift_value or 0) * len(events)
            ledger.sums["free_units"] += len(events)
            ledger.add(position, events, part)
            return
        built = self._built(part)
        units = np.zeros(self.frame.events, dtype=np.int64)
        values = np.zeros(self.frame.events, dtype=np.int64)
        units[events] = 1
        values[events] = stage.plan.gift_value or 0
        _, cuts = limited.cut_counted(self.frame, units, values)
        noted = limited.noted(events, built, cuts, "counted")
        for entry in noted:
            if entry.kind == "free":
                ledger.sums["free_value"] += entry.value_minor or 0
                ledger.sums["free_units"] += entry.units or 0
        ledger.add(position, events, noted)

    def _bonus_entries(self, ledger: _Ledger, position: int, stage: BonusColumns) -> None:
        """A bonus rule's entries: its points at purchases, taken back at refunds."""
        frame = self.frame
        priced = self.groups.masked(
            stage.plan.rule.id, stage.priced(frame, self.tier, self.lines_for(stage.plan.rule.id))
        )
        given = stage.given(frame, priced)
        events = np.flatnonzero(given)
        taken_from: dict[int, int] = {}
        wanted = given
        limited = self.limited.get(stage.plan.rule.id)
        cuts: dict[int, Any] = {}
        if limited is not None:
            releases = bonus_releases(frame, priced, given, self.refunds.steps)
            given, cuts = limited.cut_points_column(frame, given, releases)
        given = ledger.tally.give(frame, given, stage.plan.rule.id)
        contexts = PurchaseContextMaker(
            frame,
            self.tier,
            self.names,
            lambda event: _written(int(frame.at[event]), int(frame.utc_offset[event])),
        )
        if len(events):
            reason = stage.reason(contexts(int(events[0])))
            points = wanted[events].tolist()
            amounts = (points, None, None)
            part = self._entries(events, stage.plan.rule.id, "points", amounts, reason, _nothing)
            if limited is not None:
                ledger.add(
                    position, events, limited.noted(events, self._built(part), cuts, "points")
                )
            else:
                ledger.add(position, events, part)
            ledger.points += given
        taken = stage.taken_back(frame, priced, given, self.refunds.steps, contexts)
        if taken:
            purchase_of = {step.event: step.purchase for step in self.refunds.steps}
            taken_from = {purchase_of[event]: 0 for event, _ in taken}
            refunds = np.asarray([event for event, _ in taken], dtype=np.int64)
            entries = [entry for _, entry in taken]
            back = np.asarray([entry.points or 0 for entry in entries], dtype=np.int64)
            ledger.add(position, refunds, EntryPart.of_entries(refunds, entries))
            np.add.at(ledger.points, refunds, back)
            ledger.taken_back += int(back.sum())
        self.rule_points.append(RulePoints(stage.plan.rule.id, given, taken_from))
        self.bonus_points.append((stage.plan.rule.id, given))

    def _gift_card_entries(
        self, stage: GiftCardColumns, issued: list[CardsIssued], sums: dict[str, int]
    ) -> tuple[Ints, EntryPart]:
        """A gift card rule's entries: one per purchase, with the number of cards it issues
        (``units``) and their total value."""
        plan = stage.plan
        arguments: list[tuple[Any, ...]] = []
        counts: list[int] = []
        for cards in issued:
            day = date.fromordinal(int(self.frame.local_date[cards.event]))
            count = cards.last - cards.first + 1
            key = calendar_key(plan.rule.window, day)
            arguments.append((plan, cards.first, count, cards.highest, key))
            counts.append(count)
        values = [plan.value * count for count in counts]
        sums["gift_cards"] += sum(counts)
        sums["gift_card_value"] += sum(values)
        chosen = np.asarray([cards.event for cards in issued], dtype=np.int64)
        entries = self._entries(
            chosen,
            plan.rule.id,
            "gift_card",
            (None, values, counts),
            cards_reason,
            arguments,
        )
        return chosen, entries

    def _discount_entries(
        self, discount: AnyDiscount, events: Ints, value: Ints, units: Numbers
    ) -> EntryPart:
        counts = units.tolist()
        worth = value.tolist()
        numbers = (None, _int64s(value), _int64s(units))
        if isinstance(discount, OrderDiscountColumns):
            return self._entries(
                events,
                discount.plan.rule.id,
                "discount",
                (None, worth, counts),
                discount.template,
                partial(_offer_arguments, discount.first_argument(), counts, worth),
                partial(column_keys, (value, units)),
                numbers=numbers,
            )
        names = np.asarray(self.names, dtype=object)[self.tier[events]].tolist()
        return self._entries(
            events,
            discount.plan.rule.id,
            "discount",
            (None, worth, counts),
            DISCOUNT_REASON,
            partial(_discount_arguments, names, discount.plan.labels, counts, worth),
            partial(column_keys, (self.tier[events], value, units)),
            numbers=numbers,
        )

    def _catalogue(self, redemptions: Flags) -> Catalogue:
        """Each cancellation's redemption, and the tier each redemption of a reward kept
        for some tiers is asked at (``fold._apply_redemption``).

        Raises:
            HistoryError: a cancellation the reference refuses (``_cancels``).
        """
        frame, plan = self.frame, self.plan
        asked = frame.flags_of("cancel_redemption")
        if self.resumed is not None and self.resumed.cancels:  # of saved redemptions: below
            asked = asked.copy()
            asked[sorted(self.resumed.cancels)] = False
        cancels = cancelled_redemptions(frame, asked, redemptions)
        saved = {} if self.resumed is None else self.resumed.cancels
        tiers = plan.tiers
        kept = frozenset(reward.id for reward in plan.program.rewards if reward.tiers)
        if tiers is None or not kept:
            return Catalogue(cancels, saved_cancels=saved)
        found = pc.is_in(frame.reward, value_set=pa.array(sorted(kept), pa.string()))
        asked = np.asarray(found.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
        events = np.flatnonzero(asked & redemptions).astype(np.int64)
        level = self.window_tier[events]
        if self.retention is not None:
            level = self.retention.held_at(
                self.window_tier, events, frame.customer[events], frame.at[events]
            )
        if self.grants is not None:  # a migrated customer's granted tier holds here too
            level = self.grants.at_events(frame.customer[events], frame.at[events], level)
        names = tiers.names
        return Catalogue(
            cancels,
            {
                event: None if index < 0 else names[index]
                for event, index in zip(events.tolist(), level.tolist())
            },
            saved,
        )

    def _saved_states(self, ledger: LedgerColumns) -> SavedStates:
        """What builds each customer's state when it is read (``batch._states``)."""
        frame, plan, cutoff = self.frame, self.plan, self.cutoff
        paid = np.asarray(self.paid, dtype=np.int64)
        gift_cards = [
            gift_card_spend(
                stage,
                frame,
                self.tier,
                np.asarray(self.groups.earns_on(stage.plan.rule.id, paid), dtype=np.int64),
                self.lines_for(stage.plan.rule.id),
                self.groups.refunds_of(stage.plan.rule.id, self.refunds.steps, paid),
                self.groups.beside_price(stage.plan.rule.id),
            )
            for stage in self.earning_stages
            if isinstance(stage, GiftCardColumns)
        ]
        if self.resumed is not None:  # what refunds of saved purchases gave back
            backs = self.resumed.refunds.windows
            gift_cards = [
                replace(spend, saved_refunds=backs.get(spend.rule_id, {})) for spend in gift_cards
            ]
        running = [*self.price_stages, *self.earning_stages]
        return SavedStates(
            StateColumns(
                plan=plan,
                frame=frame,
                flags=(self.purchases, self.is_refund, frame.flags_of("redemption")),
                tier=self.tier,
                window_tier=self.window_tier,
                paid=self.paid,
                tier_amounts=None if plan.tiers is None else self._final_tier_amounts(),
                steps=self.refunds.steps,
                points=self.event_points,
                rule_points=self.rule_points,
                stamps=[
                    (stage.plan.rule.id, self.stamps[stage.plan.rule.id])
                    for stage in running
                    if isinstance(stage, CardColumns)
                ],
                gift_cards=gift_cards,
                bonuses=self.bonus_points,
                stopped=self.stopped if plan.final_rules else None,
                moment=lambda event: _written(int(frame.at[event]), int(frame.utc_offset[event])),
                cutoff=None if cutoff is None else (cutoff.instant, cutoff.inclusive),
                openings=self.gifts.openings(),
                catalogue=self.catalogue,
                **self._seeds(merge=True),
                **self._slice_columns(ledger),
            )
        )

    def _with_idle(
        self, results: tuple[CustomerResult, ...], given: dict[str, int]
    ) -> tuple[tuple[CustomerResult, ...], list[LedgerEntry]]:
        """The results with the customers resumed from a saved state without a new event
        (as they were, by the reference's ``_result``), and those customers' account
        entries (their gifts at dates up to ``as_of`` are added to ``given``)."""
        if self.resumed is None:
            return results, []
        idle = self.resumed.idle(self.frame.customer_ids, self.cutoff, self.gifts.walks.idle)
        results, entries = with_idle(results, idle)
        return results, idle_gifts(self.plan, entries, given)

    def _emptied(self) -> frozenset[int]:
        """The refunds that refund their purchase in full (for ``expire_on_inactivity``)."""
        if not self.plan.points.inactivity:
            return frozenset()
        found = emptying(self.frame, self.refunds.steps)
        return found if self.resumed is None else found | self.resumed.refunds.emptied

    def _saved_refund_entries(self, ledger: _Ledger) -> None:
        """The entries of refunds of purchases saved states keep (``_saved_refunds``), each
        at its rule's place, and the points they take back (none without saved states)."""
        if self.resumed is None:
            return
        positions = {rule.id: index for index, rule in enumerate(self.plan.running, 1)}
        by_position: dict[int, tuple[list[int], list[LedgerEntry]]] = {}
        for event, entries in sorted(self.resumed.refunds.entries.items()):
            for entry in entries:
                events, built = by_position.setdefault(positions[entry.rule], ([], []))
                events.append(event)
                built.append(entry)
                if entry.kind == "points" and entry.points:
                    ledger.points[event] += entry.points
                    ledger.taken_back += entry.points
        for position, (events, built) in sorted(by_position.items()):
            chosen = np.asarray(events, dtype=np.int64)
            ledger.add(position, chosen, EntryPart.of_entries(chosen, built))

    def _seeds(self, merge: bool = False) -> dict[str, Any]:
        """What the accounts (and, with ``merge``, the saved states) read of the saved
        states resumed from (``_resume``); nothing without them."""
        resumed = self.resumed
        if resumed is None:
            return {}
        customers = self.frame.customer_ids

        def seed(customer: int) -> PointsAccount | None:
            found: PointsAccount | None = resumed.account(customers[customer])
            return found

        if merge:
            return {
                "seeds": seed,
                "merge": resumed.merged,
                "emptied": self._emptied(),
                "window_seeds": resumed.windows,
                "saved_refunds": resumed.refunds.purchases,
            }
        indices = sorted(resumed.seeded_customers(self.frame))
        return {"seeds": seed, "seeded": np.asarray(indices, dtype=np.int64)}

    def _slice_reader(self) -> SliceReader | None:
        """What builds the slices of limits, gifts and groups (``_slices``), if any."""
        plan, cutoff = self.plan, self.cutoff
        if not keeps_slices(plan):
            return None
        if self.slice_reader is None:
            self.slice_reader = SliceReader.of(
                plan,
                self.gifts.profiles,
                self.gifts.facts,
                None if cutoff is None else (cutoff.instant, cutoff.inclusive),
            )
            if self.resumed is not None:  # the saved slices counted on (``_resumed_slices``)
                ids = self.frame.event_ids
                reversals = {str(ids[event]): h for event, h in self.resumed.refunds.holds.items()}
                self.slice_reader = resumed_reader(self.slice_reader, self.resumed.saved, reversals)
        return self.slice_reader

    slice_reader: SliceReader | None = None

    def _slice_columns(self, ledger: LedgerColumns) -> dict[str, Any]:
        """What the slices of limits, gifts and groups read (``_slices``), if any."""
        plan, frame = self.plan, self.frame
        if not keeps_slices(plan):
            return {}
        stages = [*self.price_stages, *self.earning_stages]
        aside = self.groups.aside
        return {
            "ledger": partial(
                lambda rules, customer: slice_entries(
                    ledger, customer, frame.customer_ids[customer], rules
                ),
                read_rules(plan),
            ),
            "slices": self._slice_reader(),
            "walks": self.gifts.walks.walks,
            "aside": [
                (stage.plan.rule.id, aside[stage.plan.rule.id])
                for stage in stages
                if stage.plan.rule.id in aside
            ],
        }

    def _tier_reports(self) -> TierReports | None:
        """Per customer: the tier at the report, the changes seen, the next tier."""
        frame, plan, cutoff = self.frame, self.plan, self.cutoff
        tiers, windows = plan.tiers, self.windows
        if tiers is None or windows is None:
            return None
        last = frame.customer_start[1:] - 1
        last_facts = self.gifts.last_facts() if cutoff is None else {}
        if cutoff is None:
            instant, local_date = self.gifts.report_instants(last, last_facts)
        else:
            count = len(last)
            instant = np.full(count, _microseconds(cutoff.instant), dtype=np.int64)
            local_date = np.full(count, cutoff.local_date.toordinal(), dtype=np.int64)
        amounts = windows.report_sums(frame, self._final_tier_amounts(), instant, local_date)
        reported = levels(tiers, amounts)
        if self.retention is not None:
            reported = self.retention.reported(self.window_tier, reported, instant)
        if self.grants is not None:
            reported = self.grants.at_report(reported, instant)
        # The level changes at purchases only: compare each purchase with the customer's
        # purchase before it (none before the first).
        bought = np.flatnonzero(self.purchases)
        tier = self.tier[bought]
        owner_of = frame.customer[bought]
        before = np.full(len(bought), -1, dtype=np.int64)
        before[1:] = tier[:-1]
        first = np.ones(len(bought), dtype=np.bool_)
        first[1:] = owner_of[1:] != owner_of[:-1]
        before[first] = (
            -1 if self.saved_tiers is None else self.saved_tiers.last_level()[owner_of[first]]
        )
        changed = np.flatnonzero(tier != before)
        # Each customer's level at their last purchase (-1 without one).
        latest = np.searchsorted(bought, frame.customer_start[1:]) - 1
        final_level = np.full(len(latest), -1, dtype=np.int64)
        if self.saved_tiers is not None:
            final_level = self.saved_tiers.last_level()
        if len(bought):
            clipped = np.maximum(latest, 0)
            has_purchase = (latest >= 0) & (bought[clipped] >= frame.customer_start[:-1])
            final_level = np.where(has_purchase, tier[clipped], final_level)
        at, offsets = frame.at, frame.utc_offset
        report_change: list[datetime | None] = [None] * len(last)
        for index in np.flatnonzero(reported != final_level).tolist():
            if index in last_facts:
                report_change[index] = last_facts[index]
            elif cutoff is None:
                event = int(last[index])
                report_change[index] = _written(int(at[event]), int(offsets[event]))
            else:
                report_change[index] = (
                    cutoff.instant if cutoff.inclusive else cutoff.instant - _INSTANT
                )
        events = bought[changed]
        return TierReports(
            plan=tiers,
            money=plan.money,
            names=(*tiers.names, None),
            reported=reported.tolist(),
            amounts=amounts.tolist(),
            final=final_level.tolist(),
            change_event=events.tolist(),
            change_before=before[changed].tolist(),
            change_after=tier[changed].tolist(),
            change_start=np.searchsorted(frame.customer[events], np.arange(len(last) + 1)).tolist(),
            report_change=report_change,
            written=lambda event: _written(int(at[event]), int(offsets[event])),
        )


def _capped(parts: list[EntryPart]) -> int:
    """How many rewards limits left nothing of (``capped`` entries: a limit's notes, in
    parts of built entries)."""
    return sum(
        entry.kind == "capped" for part in parts if part.built is not None for entry in part.built
    )


def _with_expiries(sums: dict[str, int], expired: int) -> dict[str, int]:
    """The account's totals with the points of the expiries kept as columns."""
    return {**sums, "points_expired": sums["points_expired"] + expired}


def _account_sums(entries: list[LedgerEntry]) -> dict[str, int]:
    """The totals of the account's entries (as ``ledger.total`` adds them up)."""
    sums = dict.fromkeys(
        (
            "redemptions",
            "points_redeemed",
            "redemption_value",
            "rejected_redemptions",
            "points_written_off",
            "points_expired",
        ),
        0,
    )
    for entry in entries:
        if entry.kind == "redemption":
            sums["redemptions"] += 1 if (entry.units or 0) >= 0 else -1  # -1: a cancellation
            sums["points_redeemed"] -= entry.points or 0
            sums["redemption_value"] += entry.value_minor or 0
        elif entry.kind == "rejected":
            sums["rejected_redemptions"] += 1
        elif entry.kind == "expiry":
            sums["points_expired"] -= entry.points or 0
        else:
            sums["points_written_off"] += entry.points or 0
    return sums
