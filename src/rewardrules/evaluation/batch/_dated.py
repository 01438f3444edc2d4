"""Gifts that read the customer's profile, at purchases: ``birthday`` with
``requires_purchase``, ``signup_bonus`` with ``min_first_purchase``, and the referred
friend's side of ``referral``.

Which purchases qualify is decided in columns for every purchase at once: the rule's filter
and a priced eligible unit (``kinds._gifts.eligible_priced_units``), what is paid on the
eligible lines after the price rules (``paid_on_eligible``), and the profile's dates. Each
rule gives once: per customer (sign-up, referral) or per birthday year, at the first
qualifying purchase, so the givers are the first qualifying purchase of each run. The
entries are the kind modules' own (``GiftPlan.entry`` and the reasons it writes); the
points are the purchase's points (they wait with it) and a refund that leaves none of the
purchase's eligible priced units takes them back (``take_back_fixed``).

A birthday's ``member_for`` and ``purchase_within`` are judged for the purchases in its
windows only (:class:`Standing`), in a short loop over them, before the first of each
birthday year is chosen: a purchase that fails leaves the year to a later one.

The gifts given at dates, and the referrer's side, are in ``_timeline``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa

from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.tiers import TierPlan
from rewardrules.evaluation.batch._bonus import PurchaseContextMaker
from rewardrules.evaluation.batch._frame import Flags, Frame, Ints
from rewardrules.evaluation.batch._holds import FriendRefunds
from rewardrules.evaluation.batch._masks import ScopeColumns, scope_columns
from rewardrules.evaluation.batch._referrals import facts_of, qualified_facts
from rewardrules.evaluation.batch._refunds import RefundStep
from rewardrules.evaluation.batch._rules import Numbers, per_event
from rewardrules.events import Customer, MonthDay
from rewardrules.kinds._gifts import take_back_fixed
from rewardrules.kinds.birthday import BirthdayPlan
from rewardrules.kinds.referral import ReferralPlan

# The friend's marker reason (private to its kind module, which alone writes it).
from rewardrules.kinds.referral import _marker_reason as marker_reason
from rewardrules.kinds.signup_bonus import SignupPlan

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NEVER = np.iinfo(np.int64).min
GiftRule = BirthdayPlan | SignupPlan | ReferralPlan


def microseconds(moment: datetime) -> int:
    """An aware instant as microseconds since the epoch (the frame's ``at``)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True, slots=True)
class ProfileColumns:
    """The profiles of the frame's customers as columns (one value per customer)."""

    by_id: dict[str, Customer]
    has: Flags
    joined: Ints
    """``joined_at`` in microseconds; the smallest int64 without one (every purchase is
    at or after it)."""
    has_joined: Flags
    birthday: Ints
    """month * 100 + day; 0 without a birthday."""
    referred_by: list[str | None]

    @classmethod
    def of(cls, frame: Frame, by_id: dict[str, Customer]) -> ProfileColumns:
        """Look up each customer of the frame."""
        if not by_id:  # no profiles: the columns are constants
            count = len(frame.customer_ids)
            return cls(
                by_id=by_id,
                has=np.zeros(count, dtype=np.bool_),
                joined=np.full(count, _NEVER, dtype=np.int64),
                has_joined=np.zeros(count, dtype=np.bool_),
                birthday=np.zeros(count, dtype=np.int64),
                referred_by=[None] * count,
            )
        found = [by_id.get(customer) for customer in frame.customer_ids]
        joined = [
            _NEVER if p is None or p.joined_at is None else microseconds(p.joined_at) for p in found
        ]
        return cls(
            by_id=by_id,
            has=np.asarray([p is not None for p in found], dtype=np.bool_),
            joined=np.asarray(joined, dtype=np.int64),
            has_joined=np.asarray([j != _NEVER for j in joined], dtype=np.bool_),
            birthday=np.asarray(
                [
                    0
                    if p is None or p.birthday is None
                    else p.birthday.month * 100 + p.birthday.day
                    for p in found
                ],
                dtype=np.int64,
            ),
            referred_by=[None if p is None else p.referred_by for p in found],
        )


@dataclass(frozen=True, slots=True)
class GiftColumns:
    """A birthday, sign-up or referral rule that gives at purchases, over a frame."""

    plan: GiftRule
    scope: ScopeColumns
    given_before: Flags | None = None
    """Per customer, whether a saved state marks a sign-up bonus given (``_resume``)."""
    years_done: Ints | None = None
    """Per customer, the last birthday year a saved state says the rule gave (0: none;
    ``_resume``): the purchases of that year and before give no more."""

    @classmethod
    def of(cls, plan: GiftRule, frame: Frame, tiers: TierPlan | None) -> GiftColumns:
        """Compile the rule's scope."""
        return cls(plan, scope_columns(plan.scope, frame, tiers))

    def priced(self, frame: Frame, tier: Ints, purchase_lines: Flags) -> Flags:
        """Per line, whether it is an eligible line with a price above zero."""
        return self.scope.line_flags(tier, frame) & purchase_lines & (frame.unit_price > 0)

    def qualifying(
        self,
        frame: Frame,
        tier: Ints,
        purchase_lines: Flags,
        paid: Numbers,
        profiles: ProfileColumns,
    ) -> Flags:
        """Per event, whether the purchase would give the rule's gift (before 'once')."""
        plan = self.plan
        priced = self.priced(frame, tier, purchase_lines)
        units = per_event(frame, np.where(priced, frame.quantity, 0))
        found = np.asarray(units, dtype=np.int64) > 0
        owner = frame.customer
        joined, has_joined = profiles.joined[owner], profiles.has_joined[owner]
        found &= profiles.has[owner] & (frame.at >= joined)
        if isinstance(plan, SignupPlan):
            found &= has_joined
            if self.given_before is not None:  # given before a saved state
                found &= ~self.given_before[owner]
        elif isinstance(plan, ReferralPlan):
            referred = np.asarray([by is not None for by in profiles.referred_by], dtype=bool)
            found &= referred[owner]
        else:
            found &= profiles.birthday[owner] > 0
        minimum = plan.min_paid if isinstance(plan, SignupPlan | ReferralPlan) else None
        if minimum:
            eligible = self.scope.line_flags(tier, frame) & purchase_lines
            on_eligible = per_event(frame, np.where(eligible, paid, 0))
            found &= np.asarray(on_eligible >= minimum, dtype=np.bool_)
        return found

    def givers(
        self,
        frame: Frame,
        found: Flags,
        profiles: ProfileColumns,
        standing: Standing | None = None,
    ) -> tuple[Ints, Ints]:
        """The purchases that give, and (for a birthday) the birthday year each gives for:
        the first qualifying purchase per customer, or per customer and birthday year
        (of those ``standing`` finds eligible, for a birthday with conditions)."""
        events, years, first = self.candidates(frame, found, profiles, standing)
        return events[first], years[first]

    def candidates(
        self,
        frame: Frame,
        found: Flags,
        profiles: ProfileColumns,
        standing: Standing | None = None,
    ) -> tuple[Ints, Ints, Flags]:
        """The purchases that would give were the gift not given yet: those of ``found``
        in a birthday window (and eligible by ``standing``), each with its birthday year
        (0 for a sign-up), and whether each is the first of its customer and year."""
        events = np.flatnonzero(found)
        owner = frame.customer[events]
        years = np.zeros(len(events), dtype=np.int64)
        if isinstance(self.plan, BirthdayPlan) and len(events):
            years = _birthday_years(self.plan, profiles.birthday[owner], frame.local_date[events])
            inside = years > 0
            if self.years_done is not None:  # given before a saved state
                inside &= years > self.years_done[owner]
            events, owner, years = events[inside], owner[inside], years[inside]
            if standing is not None:
                eligible = standing.eligible(self.plan, events)
                events, owner, years = events[eligible], owner[eligible], years[eligible]
        first = np.ones(len(events), dtype=np.bool_)
        first[1:] = (owner[1:] != owner[:-1]) | (years[1:] != years[:-1])
        return events, years, first

    def entry(self, frame: Frame, profiles: ProfileColumns, event: int, year: int) -> LedgerEntry:
        """The gift's entry at a purchase, for a birthday year (a birthday's)."""
        plan = self.plan
        money, rule_id = plan.money, plan.rule.id
        event_id = frame.event_ids[event]
        customer_id = frame.customer_ids[int(frame.customer[event])]
        if isinstance(plan, BirthdayPlan):
            code = int(profiles.birthday[int(frame.customer[event])])
            day = MonthDay.model_construct(month=code // 100, day=code % 100)
            why = plan.why(day, year)
            return plan.gift.entry(event_id, customer_id, rule_id, money, plan.points_name, why)
        assert isinstance(plan, SignupPlan)  # noqa: S101 -- the other kinds
        return plan.gift.entry(event_id, customer_id, rule_id, money, plan.points_name, plan.why())

    def take_back(
        self,
        frame: Frame,
        priced: Flags,
        given: dict[int, int],
        steps: list[RefundStep],
        context_of: PurchaseContextMaker,
    ) -> list[tuple[int, LedgerEntry]]:
        """The entries of refunds that leave none of a gift purchase's eligible priced units
        (``steps._refund_fixed_points``): the gift's points are taken back once."""
        plan = self.plan
        taken: list[tuple[int, LedgerEntry]] = []
        earned = dict(given)
        for step in steps:
            purchase = step.purchase
            points = earned.get(purchase, 0)
            if not points:
                continue
            start = int(frame.line_start[purchase])
            end = start + len(step.units_after)
            flags = priced[start:end].tolist()
            quantities = frame.quantity[start:end].tolist()
            if any(q > done for q, done, flag in zip(quantities, step.units_after, flags) if flag):
                continue
            _, entries = take_back_fixed(
                plan.rule.id,
                plan.scope,
                context_of(purchase),
                list(step.units_after),
                points,
                str(frame.event_ids[step.event]),
                plan.points_name,
                plan.money,
            )
            earned[purchase] = 0
            taken += [(step.event, entry) for entry in entries]
        return taken


@dataclass(frozen=True, slots=True)
class Standing:
    """What a birthday's ``member_for`` and ``purchase_within`` read of a customer at a
    purchase: when their membership started, and their earlier purchases.

    As the reference judges it (``birthday.condition_refusal``): the purchases before the
    one in the evaluation order, less those a refund before it refunded in full.
    """

    frame: Frame
    purchases: Flags
    emptied_at: dict[int, int]
    """Per purchase refunded in full, the refund (event) that emptied it."""
    start_of: Callable[[int], tuple[datetime | None, bool]]
    """Per customer, when membership started and whether from ``joined_at``."""
    written: Callable[[int], datetime]
    """An event's instant as written."""
    saved_before: Callable[[int, int], datetime | None] | None = None
    """When resuming: per (customer, event), the latest purchase their saved state keeps
    not refunded in full before the event (``WorkingState.last_purchase_kept``)."""

    def eligible(self, plan: BirthdayPlan, events: Ints) -> Flags:
        """Per purchase of ``events``, whether the customer is eligible for the gift then."""
        frame = self.frame
        found = np.ones(len(events), dtype=np.bool_)
        if not len(events):
            return found
        marks = np.where(self.purchases, np.arange(len(self.purchases)), -1)
        latest = np.maximum.accumulate(marks)  # per event, the last purchase up to it
        starts = frame.customer_start
        for place, event in enumerate(events.tolist()):
            customer = int(frame.customer[event])
            start, joined = self.start_of(customer)
            first = int(starts[customer])
            bought: datetime | None = None
            earlier = int(latest[event - 1]) if event > first else -1
            while plan.purchase_within is not None and earlier >= first:
                emptied = self.emptied_at.get(earlier)
                if emptied is None or emptied > event:
                    bought = self.written(earlier)
                    break
                earlier = int(latest[earlier - 1]) if earlier > first else -1
            if bought is None and plan.purchase_within is not None and self.saved_before:
                bought = self.saved_before(customer, event)
            if plan.refusal(start, joined, self.written(event), bought) is not None:
                found[place] = False
        return found


def _birthday_years(plan: BirthdayPlan, birthdays: Ints, local: Ints) -> Ints:
    """Per purchase, the birthday year whose window holds its local date (0: none), as
    ``BirthdayPlan.year_of`` finds it; each window is worked out once per birthday and year."""
    calendar_year = (
        (local - date(1970, 1, 1).toordinal()).astype("datetime64[D]").astype("datetime64[Y]")
    ).astype(np.int64) + 1970
    found = np.zeros(len(local), dtype=np.int64)
    windows: dict[tuple[int, int], tuple[int, int]] = {}
    for shift in (-1, 0, 1):  # the earliest year wins: written last
        years = calendar_year - shift
        keys = birthdays * 10_000 + years
        distinct, where = np.unique(keys, return_inverse=True)
        firsts = np.empty(len(distinct), dtype=np.int64)
        lasts = np.empty(len(distinct), dtype=np.int64)
        for index, key in enumerate(distinct.tolist()):
            birthday, year = divmod(key, 10_000)
            window = windows.get((birthday, year))
            if window is None:
                day = MonthDay.model_construct(month=birthday // 100, day=birthday % 100)
                first, last = plan.window(day, year)
                window = windows[(birthday, year)] = (first.toordinal(), last.toordinal())
            firsts[index], lasts[index] = window
        inside = (firsts[where] <= local) & (local <= lasts[where])
        found = np.where(inside, years, found)
    return found


@dataclass(slots=True)
class GiftsGiven:
    """One gift rule's entries at purchases, and the referral facts of its friends."""

    events: list[int]
    entries: list[LedgerEntry]
    points: dict[int, int]
    """Points per purchase that gave them."""
    facts: pa.Table | None = None
    reversals: list[tuple[int, LedgerEntry]] = field(default_factory=list)
    """A referral rule with a hold: the friends' reversal entries, each at its refund."""


def gifts_at_purchases(
    stage: GiftColumns,
    frame: Frame,
    found: Flags,
    profiles: ProfileColumns,
    standing: Standing | None = None,
    holds: FriendRefunds | None = None,
) -> GiftsGiven:
    """A gift rule's entries at the purchases that give it (see :meth:`GiftColumns.givers`);
    a referral rule's through the facts pass (``_referrals.qualified_facts``), which
    follows the friends' refunds within the hold when ``holds`` is given (a rule with
    ``hold_for``; without it, the first fact of each friend is all there is)."""
    plan = stage.plan
    money, rule_id = plan.money, plan.rule.id
    ids = frame.event_ids
    given = GiftsGiven([], [], {})
    if isinstance(plan, ReferralPlan):
        events = np.flatnonzero(found)
        referrers = [profiles.referred_by[owner] for owner in frame.customer[events].tolist()]
        candidates = pa.table(
            {
                "event_id": pa.array(ids[events].tolist(), pa.string()),
                "customer_id": pa.array(
                    [frame.customer_ids[c] for c in frame.customer[events].tolist()],
                    pa.string(),
                ),
                "at": pa.array(frame.at[events], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                "utc_offset": pa.array(frame.utc_offset[events], pa.int32()),
                "rule": pa.array([rule_id] * len(events), pa.string()),
                "referred_by": pa.array(referrers, pa.string()),
                "row": pa.array(events, pa.int64()),
            }
        )
        if holds is None:
            facts = qualified_facts(candidates)
        else:
            facts, given.reversals = holds.facts(candidates)
        rows: list[int] = np.asarray(facts.column("row"), dtype=np.int64).tolist()
        gifts = facts.column("gift").to_pylist() if "gift" in facts.schema.names else None
        given.facts = facts.drop_columns([n for n in ("row", "gift") if n in facts.schema.names])
        for place, (fact, event) in enumerate(zip(facts_of(facts), rows, strict=True)):
            if fact.reversed_by is not None:
                continue  # its entry is among ``given.reversals``
            marker = LedgerEntry(
                fact.event_id,
                fact.referred,
                rule_id,
                "referral",
                None,
                None,
                None,
                money,
                marker_reason,
                (fact.event(), plan),
            )
            given.events.append(event)
            given.entries.append(marker)
            if plan.referred is not None and (gifts is None or gifts[place]):
                why = f"{plan.what()}: first qualifying purchase as a friend of {fact.referrer}"
                entry = plan.referred.entry(
                    fact.event_id, fact.referred, rule_id, money, plan.points_name, why
                )
                given.events.append(event)
                given.entries.append(entry)
                if entry.points:
                    given.points[event] = entry.points
        return given
    events, years = stage.givers(frame, found, profiles, standing)
    for event, year in zip(events.tolist(), years.tolist()):
        entry = stage.entry(frame, profiles, event, year)
        given.events.append(event)
        given.entries.append(entry)
        if entry.points:
            given.points[event] = entry.points
    return given
