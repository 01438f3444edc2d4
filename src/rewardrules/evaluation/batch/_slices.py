"""The slices of a saved state that limits, gifts and exclusive groups keep.

``_states`` builds what every program saves from the columns; this module adds what a
program with a per-rule ``limit``, a ``birthday``, ``signup_bonus`` or ``referral`` rule, or
an ``exclusive_group`` keeps besides: what each limit counted in its current period
(``limits``), the once-only marks (``bonuses``), the birthday years done (``birthdays``),
the referrer's friends (``referrals``, with the rewards still held) and the friend's holds
(``referral_holds``), and when the customer's first and last event or referral fact was.

Most of it is read from the customer's ledger, which is the reference's entry for entry
and in its order (the order things happened): what a limited rule gave at each step is
what its entries measure (``limits.measure``), so replaying ``LimitPlan.record`` and
``release_points`` over them counts as the reference counts; a once-only mark is made
where its rule's entry is (a ``capped`` one too: a limit cuts what is given, not the
mark) and taken away by a friend's reversal. What writes no entry is worked out with the
kind modules' own functions: the birthday years passed over for want of ``member_for`` or
``purchase_within`` (``birthday_dates``, the walk's schedule), the referrer's rewards still
held (``_holds.hold_end``, from the referral facts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

import numpy as np

from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.limits import Usage, measure
from rewardrules.engine.state import LimitUsage, SavedHold, SavedReferral
from rewardrules.evaluation.batch._holds import hold_end
from rewardrules.evaluation.batch._ledger import LedgerColumns
from rewardrules.evaluation.batch._referrals import Fact
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.events import Customer
from rewardrules.kinds.birthday import BirthdayPlan, birthday_dates
from rewardrules.kinds.referral import REVERSED, ReferralPlan

_GIFT_KINDS = frozenset({"birthday", "signup_bonus", "referral"})
_MARKING = frozenset({"bonus_points", "signup_bonus", "referral"})
"""The kinds that mark the customer in ``bonuses`` (given once, or once per rule)."""
_GIVEN = frozenset({"points", "voucher", "capped", "referral"})
"""The entries at a purchase that say a marking rule gave (a limit may have cut it)."""


def read_rules(plan: ProgramPlan) -> frozenset[str]:
    """The rules whose entries the slices read: limited rules and the gift and bonus kinds."""
    return frozenset(plan.limits) | frozenset(
        rule.id for rule in plan.program.rules if rule.kind in _GIFT_KINDS | _MARKING
    )


def slice_entries(
    ledger: LedgerColumns, customer: int, customer_id: str, rules: frozenset[str]
) -> list[LedgerEntry]:
    """A customer's entries of these rules, in ledger order; the other rules' entries are
    not built (a ledger of columns builds an entry when it is read)."""
    start, end = ledger.bounds[customer], ledger.bounds[customer + 1]
    if start == end:
        return []
    found = np.arange(start, end, dtype=np.int64)
    if ledger.order is not None:
        found = ledger.order[start:end]
    part_of = np.searchsorted(ledger.offsets, found, side="right") - 1
    index_of = found - ledger.offsets[part_of]
    parts, money, event_ids = ledger.parts, ledger.money, ledger.event_ids
    kept = []
    for part_index, index in zip(part_of.tolist(), index_of.tolist()):
        part = parts[part_index]
        if part.built is not None:
            entry = part.built[index]
            if entry.rule in rules:
                kept.append(entry)
        elif part.rule in rules:
            kept.append(part.entry(index, event_ids[part.events[index]], customer_id, money))
    return kept


def keeps_slices(plan: ProgramPlan) -> bool:
    """Whether the program's states keep slices this module builds."""
    return bool(plan.limits) or any(
        rule.kind in _GIFT_KINDS or rule.exclusive_group is not None for rule in plan.program.rules
    )


@dataclass(frozen=True, slots=True)
class Timeline:
    """One customer's events as the slices read them: by id, the event (frame index),
    whether a purchase or a refund, its local date and instant as written."""

    index: Mapping[str, int]
    purchase: Callable[[int], bool]
    refund: Callable[[int], bool]
    local_date: Callable[[int], date]
    moment: Callable[[int], datetime]
    refunded: Callable[[int], int]
    """A refund's purchase (frame index)."""
    purchase_id: Callable[[int], str]
    """A refund's purchase id."""
    first: tuple[int, str, datetime] | None
    """The first event: (instant in microseconds, id, instant as written)."""
    last: tuple[int, str, datetime] | None
    saved_refunds: Mapping[int, tuple[str, int]] = field(default_factory=dict)
    """When resuming, per refund of a purchase the saved state keeps (no event of the
    frame): that purchase's id and local date (an ordinal)."""

    def refund_date(self, event: int) -> date:
        """A refund's purchase's local date."""
        saved = self.saved_refunds.get(event)
        if saved is not None:
            return date.fromordinal(saved[1])
        return self.local_date(self.refunded(event))

    @classmethod
    def empty(cls) -> Timeline:
        """The timeline of a customer with no event of their own."""

        def never(event: int) -> Any:
            raise KeyError(event)  # pragma: no cover -- no event to ask about

        return cls({}, never, never, never, never, never, never, None, None)


@dataclass(slots=True)
class Slices:
    """The slices of one customer's state this module builds (``CustomerState`` fields)."""

    limits: dict[str, LimitUsage] = field(default_factory=dict)
    bonuses: tuple[str, ...] = ()
    birthdays: dict[str, int] = field(default_factory=dict)
    referrals: tuple[SavedReferral, ...] = ()
    referral_holds: tuple[SavedHold, ...] = ()
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None

    def fields(self) -> dict[str, Any]:
        """The slices as ``CustomerState`` fields."""
        return {
            "limits": self.limits,
            "bonuses": self.bonuses,
            "birthdays": self.birthdays,
            "referrals": self.referrals,
            "referral_holds": self.referral_holds,
            "first_event_at": self.first_event_at,
            "last_event_at": self.last_event_at,
        }


@dataclass(frozen=True, slots=True)
class SavedReferrals:
    """What a saved state's referral slices start the new ones from."""

    bonuses: tuple[str, ...] = ()
    referrals: tuple[SavedReferral, ...] = ()
    referral_holds: tuple[SavedHold, ...] = ()


@dataclass(frozen=True, slots=True)
class SliceReader:
    """Builds the slices of a customer's state from their ledger, facts and profile."""

    plan: ProgramPlan
    profiles: Mapping[str, Customer]
    facts: Mapping[str, Sequence[Fact]]
    """Per referrer, their referral facts (derived and supplied), in evaluation order."""
    cutoff: tuple[datetime, bool] | None
    kinds: dict[str, str] = field(default_factory=dict)
    units_are_rewards: dict[str, bool] = field(default_factory=dict)
    usage_seeds: Mapping[str, Usage] = field(default_factory=dict)
    """When resuming, per customer with a saved state, its limits' usage: counted on from."""
    saved_years: Mapping[str, tuple[datetime | None, Mapping[str, int]]] = field(
        default_factory=dict
    )
    """When resuming, per customer with a saved state, its first event and birthday years:
    where the birthdays at dates go on from."""
    saved_referrals: Mapping[str, SavedReferrals] = field(default_factory=dict)
    """When resuming, per customer with a saved state: its once-only marks, its friends
    (and rewards held) as a referrer, and its holds as a friend, counted on from."""
    saved_reversals: Mapping[str, Mapping[str, tuple[str, datetime, str | None, bool]]] = field(
        default_factory=dict
    )
    """When resuming, per refund (id) of a saved purchase that reversed a friend's held
    referral, the friend's hold of each rule it reversed (``_saved_refunds.holds``)."""

    @classmethod
    def of(
        cls,
        plan: ProgramPlan,
        profiles: Mapping[str, Customer],
        facts: Sequence[Fact],
        cutoff: tuple[datetime, bool] | None,
    ) -> SliceReader:
        """The reader of one evaluation: its facts grouped by referrer."""
        by_referrer: dict[str, list[Fact]] = {}
        for fact in sorted(facts, key=lambda fact: fact.key):
            by_referrer.setdefault(fact.referrer, []).append(fact)
        return cls(
            plan,
            profiles,
            by_referrer,
            cutoff,
            {rule.id: rule.kind for rule in plan.program.rules},
            {rule.id: rule.units_are_rewards for rule in plan.running},
        )

    def slices(
        self, customer_id: str, entries: Sequence[LedgerEntry], timeline: Timeline
    ) -> Slices:
        """The customer's slices, as the reference's ``_state_save.save`` writes them."""
        facts = self.facts.get(customer_id, ())
        first, last = timeline.first, timeline.last
        if facts:
            head, tail = facts[0], facts[-1]
            if first is None or head.key < first[:2]:
                first = (*head.key, head.written)
            if last is None or tail.key > last[:2]:
                last = (*tail.key, tail.written)
        found = Slices(
            first_event_at=None if first is None else first[2],
            last_event_at=None if last is None else last[2],
        )
        profile = self.profiles.get(customer_id)
        found.limits = self._limits(entries, timeline, facts, self.usage_seeds.get(customer_id))
        saved = self.saved_referrals.get(customer_id)
        found.bonuses = self._bonuses(entries, timeline, saved)
        found.birthdays = self._birthdays(
            entries, timeline, profile, found.first_event_at, last, customer_id
        )
        found.referrals = self._referrals(facts, last, saved)
        found.referral_holds = self._holds(entries, timeline, saved)
        return found

    # --- limits -----------------------------------------------------------------------

    def _limits(
        self,
        entries: Sequence[LedgerEntry],
        timeline: Timeline,
        facts: Sequence[Fact],
        seed: Usage | None = None,
    ) -> dict[str, LimitUsage]:
        """Each limit's usage: ``LimitPlan.record`` of what its rule gave at each step (the
        entries of one rule at one event measured together) and ``release_points`` of the
        points its refunds took back, in the ledger's order."""
        plan = self.plan
        if not plan.limits:
            return {}
        usage: Usage = dict(seed or {})
        run: list[LedgerEntry] = []
        for entry in [*entries, None]:
            if run and (
                entry is None or (entry.event_id, entry.rule) != (run[0].event_id, run[0].rule)
            ):
                self._count(usage, run, timeline, facts)
                run = []
            if entry is not None and entry.rule in plan.limits:
                run.append(entry)
        return {key: LimitUsage(period=period, used=used) for key, (period, used) in usage.items()}

    def _count(
        self,
        usage: Usage,
        run: list[LedgerEntry],
        timeline: Timeline,
        facts: Sequence[Fact],
    ) -> None:
        """Count one rule's entries at one step."""
        first = run[0]
        limits = self.plan.limits[first.rule]
        event = timeline.index.get(first.event_id)
        referral = first.rule in self.plan.referrals
        if event is not None and timeline.refund(event):
            for entry in run:  # as ``fold._apply_refund`` gives points back
                if entry.kind == "points" and entry.points:
                    limits.release_points(usage, timeline.refund_date(event), -entry.points)
            return
        if event is not None and timeline.purchase(event):
            if referral:
                return  # a referral's limits bound the referrer's rewards, not the friend's gift
            local_date = timeline.local_date(event)
        elif referral:
            local_date = self._reward_date(first, facts, timeline)
        else:  # a gift at a date, filed under '<rule>@<local date>'
            local_date = date.fromisoformat(first.event_id.rsplit("@", 1)[1])
        given = measure(run, self.units_are_rewards.get(first.rule, False))
        limits.record(usage, local_date, *given)

    def _reward_date(
        self, entry: LedgerEntry, facts: Sequence[Fact], timeline: Timeline | None = None
    ) -> date:
        """The local date a referrer's reward was given: the fact's, or its hold's end (a
        reward held in a saved state: its ``held_until``)."""
        plan = self.plan
        fact = next(
            (
                fact
                for fact in facts
                if (fact.event_id, fact.rule) == (entry.event_id, entry.rule)
                and fact.reversed_by is None
            ),
            None,
        )
        if fact is None:
            held = self._saved_held(entry, timeline)
            return held.astimezone(plan.zone).date()
        moment = hold_end(plan.referrals, fact, plan.zone) or fact.written
        return moment.astimezone(plan.zone).date()

    def _saved_held(self, entry: LedgerEntry, timeline: Timeline | None) -> datetime:
        """When a reward held in the customer's saved state ends its hold."""
        customer_id = entry.customer_id
        saved = self.saved_referrals.get(customer_id)
        assert saved is not None  # noqa: S101 -- a reward without a new fact was saved held
        return next(
            kept.held_until
            for kept in saved.referrals
            if (kept.id, kept.rule) == (entry.event_id, entry.rule) and kept.held_until
        )

    # --- once-only marks and birthdays --------------------------------------------------

    def _bonuses(
        self, entries: Sequence[LedgerEntry], timeline: Timeline, saved: SavedReferrals | None
    ) -> tuple[str, ...]:
        """The rules that marked the customer, in the order marked (from the saved marks,
        when resuming): a bonus or a gift at a purchase where it gave (even cut to nothing
        by a limit), a sign-up bonus at joining (given, capped or set aside), a friend's
        qualifying purchase; a reversal of it takes the mark away (the friend may qualify
        again)."""
        marks: dict[str, None] = {} if saved is None else dict.fromkeys(saved.bonuses)
        kinds = self.kinds
        for entry in entries:
            kind = kinds.get(entry.rule)
            if kind not in _MARKING:
                continue
            event = timeline.index.get(entry.event_id)
            if event is None:
                if kind == "signup_bonus":  # given at joining, or set aside there
                    marks.setdefault(entry.rule)
                continue  # a referrer's reward marks nothing
            if timeline.purchase(event):
                if entry.kind in _GIVEN:
                    marks.setdefault(entry.rule)
            elif entry.kind == "referral" and entry.units == REVERSED:
                marks.pop(entry.rule, None)
        return tuple(marks)

    def _birthdays(
        self,
        entries: Sequence[LedgerEntry],
        timeline: Timeline,
        profile: Customer | None,
        first: datetime | None,
        last: tuple[int, str, datetime] | None,
        customer_id: str = "",
    ) -> dict[str, int]:
        """The last birthday year each rule gave or passed over: at a purchase, the year
        whose window holds it; at dates, every year due up to the last event or fact (or
        ``as_of``), given or not (``birthday._give``). In the order first marked."""
        if profile is None or profile.birthday is None:
            return {}
        birthday = profile.birthday
        marks: list[tuple[tuple[Any, ...], str, int]] = []
        for entry in entries:
            if self.kinds.get(entry.rule) != "birthday":
                continue
            event = timeline.index.get(entry.event_id)
            if event is None or not timeline.purchase(event) or entry.kind not in _GIVEN:
                continue
            rule = self._birthday_plan(entry.rule)
            year = rule.year_of(birthday, timeline.local_date(event))
            if year is not None:
                at = timeline.moment(event)
                marks.append(((at, 1, event), entry.rule, year))
        until: tuple[datetime, bool] | None = self.cutoff
        if until is None and last is not None:
            until = (last[2], True)
        saved_first, saved_years = self.saved_years.get(customer_id, (None, {}))
        since = profile.joined_at or saved_first or first
        if until is not None and since is not None:
            for order, dated in enumerate(self.plan.dated):
                if not isinstance(dated.plan, BirthdayPlan):
                    continue
                done = saved_years.get(dated.id)
                for moment, year in birthday_dates(dated.plan, birthday, since, done, *until):
                    marks.append(((moment, 0, order), dated.id, year))
        marks.sort(key=lambda mark: mark[0])
        years: dict[str, int] = {}
        for _, rule_id, year in marks:
            years[rule_id] = year
        return years

    def _birthday_plan(self, rule_id: str) -> BirthdayPlan:
        compiled = next(rule for rule in self.plan.running if rule.id == rule_id)
        return cast("BirthdayPlan", compiled.plan)

    # --- referrals --------------------------------------------------------------------

    def _referrals(
        self,
        facts: Sequence[Fact],
        last: tuple[int, str, datetime] | None,
        saved: SavedReferrals | None = None,
    ) -> tuple[SavedReferral, ...]:
        """The friends the referrer was rewarded for, or whose reward is still held, in the
        order their facts came (``gifts.apply_referral``), after the saved ones; a reversal
        removes one."""
        plan = self.plan
        referred: dict[tuple[str, str], str] = {}
        held: dict[tuple[str, str], datetime] = {}
        for kept in () if saved is None else saved.referrals:
            referred[(kept.id, kept.rule)] = kept.referred
            if kept.held_until is not None:
                held[(kept.id, kept.rule)] = kept.held_until
        for fact in facts:
            key = (fact.event_id, fact.rule)
            if fact.reversed_by is not None:
                referred.pop(key, None)
                held.pop(key, None)
                continue
            referred[key] = fact.referred
            until = hold_end(plan.referrals, fact, plan.zone)
            if until is not None:
                held[key] = until
        # Released before each later event or fact at or after its end, and by ``as_of``.
        if self.cutoff is not None:
            instant, inclusive = self.cutoff
            held = {
                key: until
                for key, until in held.items()
                if until > instant or (until == instant and not inclusive)
            }
        elif last is not None:
            held = {key: until for key, until in held.items() if until > last[2]}
        return tuple(
            SavedReferral(
                id=fact_id, rule=rule, referred=friend, held_until=held.get((fact_id, rule))
            )
            for (fact_id, rule), friend in referred.items()
        )

    def _holds(
        self, entries: Sequence[LedgerEntry], timeline: Timeline, saved: SavedReferrals | None
    ) -> tuple[SavedHold, ...]:
        """As a friend, per rule with ``hold_for``, the last qualifying purchase and its hold
        (``referral._purchase`` and ``_refund``): read from the friend's markers, gifts,
        points taken back and reversals, after the saved holds (a refund of a saved
        purchase leaves its hold as the reference's own step left it)."""
        plan = self.plan
        holds: dict[str, tuple[str, datetime, str | None, bool]] = {}
        for hold in () if saved is None else saved.referral_holds:
            holds[hold.rule] = (hold.purchase, hold.until, hold.reversed_by, hold.gift_kept)
        gift_points: dict[tuple[str, str], int] = {}
        for entry in entries:
            compiled = plan.referrals.get(entry.rule)
            if compiled is None:
                continue
            rule = cast("ReferralPlan", compiled.plan)
            event = timeline.index.get(entry.event_id)
            if event is None:
                continue
            if timeline.purchase(event):
                if entry.kind == "points":
                    gift_points[(entry.rule, entry.event_id)] = entry.points or 0
                elif entry.kind == "referral" and rule.hold is not None:
                    until = rule.held_until(timeline.moment(event))
                    if until is not None:
                        earlier = holds.get(entry.rule)
                        kept = earlier is not None and earlier[3]
                        holds[entry.rule] = (entry.event_id, until, None, kept)
                continue
            if not timeline.refund(event):
                continue
            purchase_id = timeline.purchase_id(event)
            if entry.kind == "points" and entry.points:
                gift_points[(entry.rule, purchase_id)] = 0
            elif entry.kind == "referral" and entry.units == REVERSED:
                left = self.saved_reversals.get(entry.event_id, {}).get(entry.rule)
                if left is not None:  # of a saved purchase (``_saved_refunds``)
                    holds[entry.rule] = left
                    continue
                _, until, _, kept_before = holds[entry.rule]
                kept = kept_before or (
                    rule.referred is not None
                    and (
                        rule.referred.points is None
                        or gift_points.get((entry.rule, purchase_id), 0) > 0
                    )
                )
                holds[entry.rule] = (purchase_id, until, entry.event_id, kept)
        return tuple(
            SavedHold(rule=rule, purchase=purchase, until=until, reversed_by=by, gift_kept=kept)
            for rule, (purchase, until, by, kept) in holds.items()
        )
