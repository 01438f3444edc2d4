"""Gifts at dates and referrers' rewards: a tight loop per customer who gets one.

A birthday window's first midnight, the moment of joining and a friend's qualifying
purchase are moments between a customer's events. The reference gives what is due before
each event (``gifts.grant_dated``), expiring points up to each gift first, and rewards a
referrer as an event of their own (``gifts.apply_referral``); such gifts are available at
once, so they change the points account between the customer's events. So for these
customers only, this loop walks the customer's events and facts by (instant, id), gives
the gifts due (the kind modules' own schedule, ``birthday_dates``, and entries), and
replays the points account with the reference's own functions (``advance``, ``earn``,
``take_back``, ``redeem``) on the points the rules computed in columns. Everyone else's
account is ``_accounts``'s. A referrer's reward under a rule with ``hold_for`` is held
(``_holds.HeldRewards``) and given at the hold's end, before the first item from then on
or by ``as_of`` (``gifts.release_held``), unless a reversal takes it back first.

Where the points neither wait nor expire and no reward is held, the loop does not visit
every event: it places each fact and gift among the customer's events by searching their
instants, and replays the runs of purchases and refunds between them in bulk
(``_quiet_runs``); only the other events (redemptions, cancellations...) are visited.

What the loop writes is placed around each event's entries: before it (gifts, expiries,
rewards since the previous event), after its rules' entries (redemptions, write-offs), and
after the customer's last event (then up to ``as_of``). A customer with no event of their
own (a referrer, or a profile with a gift up to ``as_of``) gets a whole ledger from here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import cast

from rewardrules.engine.ledger import ExpiryDue, LedgerEntry
from rewardrules.engine.lots import (
    PointsAccount,
    active,
    advance,
    bought,
    cancel_redemption,
    earn,
    redeem,
    refunded_in_full,
    take_back,
    upcoming_expiry,
)
from rewardrules.engine.state import CustomerState
from rewardrules.engine.working_state import WorkingState
from rewardrules.errors import HistoryError, event_error
from rewardrules.evaluation._opening import opening_problems
from rewardrules.evaluation.batch._cancels import Catalogue
from rewardrules.evaluation.batch._frame import Flags, Frame, Ints
from rewardrules.evaluation.batch._holds import HeldRewards, HoldChecks, hold_end, released
from rewardrules.evaluation.batch._opening import open_lots
from rewardrules.evaluation.batch._quiet_runs import QuietRuns
from rewardrules.evaluation.batch._referrals import Fact, Repetition
from rewardrules.evaluation.batch._resumed_referrals import (
    holding,
    saved_held,
    seed_checks,
    too_early,
)
from rewardrules.evaluation.batch._resumed_slices import kept_purchases, saved_account

# The reference's choice among the gifts of an exclusive group due at one moment.
from rewardrules.evaluation.gifts import _best_gift as best_gift
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.evaluation.stacking import limit_gift
from rewardrules.events import Customer
from rewardrules.kinds.birthday import BirthdayPlan, birthday_dates, dated_birthday_entry
from rewardrules.kinds.referral import ReferralPlan, referrer_reward
from rewardrules.kinds.signup_bonus import SignupPlan, signup_at_joining

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

Due = tuple[datetime, int, BirthdayPlan | SignupPlan, int]
"""A gift due at a date: its moment, its rule's place in ``plan.dated``, its plan, and its
birthday year (0 for a sign-up)."""


@dataclass(slots=True)
class Walk:
    """What the loop wrote and found for one customer."""

    customer_id: str
    before: list[tuple[int, list[LedgerEntry]]] = field(default_factory=list)
    """Per event of the frame: what comes before its rules' entries."""
    after: list[tuple[int, list[LedgerEntry]]] = field(default_factory=list)
    """Per event of the frame: what comes after its rules' entries."""
    last: list[LedgerEntry] = field(default_factory=list)
    """What comes after the last event (the whole ledger without one)."""
    balance: int = 0
    available: int = 0
    moment: datetime | None = None
    """The report's moment: the last event or fact, or the ``as_of`` cutoff."""
    last_item: datetime | None = None
    """The customer's last event or fact."""
    last_is_fact: bool = False
    gifts: list[LedgerEntry] = field(default_factory=list)
    """The gifts and rewards written (for the totals)."""
    account: list[LedgerEntry] = field(default_factory=list)
    """The account's entries written (expiries, redemptions, write-offs)."""
    upcoming: tuple[ExpiryDue, ...] = ()
    """The points left that will expire, per local date (``CustomerResult.upcoming_expiry``)."""
    opened: bool = False
    """Whether the walk started a migrated customer from their profile's opening."""
    lots: PointsAccount | None = None
    """The points account at the report (a customer without events saves it)."""


@dataclass(frozen=True, slots=True)
class Walker:
    """What every customer's walk reads."""

    plan: ProgramPlan
    frame: Frame
    points: Ints
    flags: tuple[Flags, Flags, Flags]
    written: Callable[[int], datetime]
    cutoff: tuple[datetime, bool, datetime] | None
    """The ``as_of`` instant, whether it is included, and the report's moment."""
    emptied: frozenset[int] = frozenset()
    """The refunds that refund their purchase in full (``_refunds.emptying``)."""
    lasting: frozenset[int] = frozenset()
    """The purchases whose points never expire (``_accounts.lasting_purchases``)."""
    catalogue: Catalogue = field(default_factory=Catalogue)
    """The cancellations' redemptions and the tiers redemptions ask at."""
    released: Mapping[int, list[tuple[str, int, date]]] = field(default_factory=dict)
    """Per refund, the points it took back of a friend's gift under a limited referral
    rule, and its purchase's local date: given back to that rule's limits, which count the
    customer's rewards as a referrer (``fold._apply_refund`` releases them)."""
    saved: Mapping[str, CustomerState] = field(default_factory=dict)
    """When resuming, per customer, their saved state: where their walk starts from (its
    account, limits' usage, first event, birthday years and marks)."""
    runs: QuietRuns | None = None
    """The frame's prefix sums for the runs of events between gifts (``_quiet_runs``);
    ``walk_customers`` sets them."""

    def with_runs(self, customers: list[int]) -> Walker:
        """This walker with the frame's runs (``_quiet_runs``) to walk the frame's
        ``customers``, where points have no clock."""
        if not customers or self.runs is not None or self.plan.points.has_clock:
            return self
        runs = QuietRuns.of(
            self.frame, self.plan.points, self.points, self.flags, self.released, self.emptied
        )
        return replace(self, runs=runs)

    def needs_walk(self, profile: Customer | None) -> bool:
        """Whether a profile may give a gift at a date, or brings opening lots."""
        if profile is None:
            return False
        if profile.opening_points:
            return True
        for compiled in self.plan.dated:
            rule = compiled.plan
            if isinstance(rule, SignupPlan) and profile.joined_at is not None:
                return True
            if isinstance(rule, BirthdayPlan) and profile.birthday is not None:
                return True
        return False

    def walk(
        self, customer_id: str, events: range, facts: list[Fact], profile: Customer | None
    ) -> Walk:
        """Give one customer's gifts at dates and rewards, and replay their account."""
        saved = self.saved.get(customer_id)
        held = saved_held(saved)  # the referrer's rewards held (a rule's hold_for)
        # Points without a clock and no reward held: no datetime per event (the runs
        # between gifts and facts in bulk, ``_quiet_runs``), unless a lot expires.
        quiet = self._quiet(facts, held)
        ends = sorted({events[0], events[-1]}) if quiet and events else events
        items, moments = self._items(ends, facts)  # quiet: the first and last event only
        done = Walk(customer_id)
        if self.cutoff is not None:
            until, inclusive = self.cutoff[0], self.cutoff[1]
        elif moments:
            until, inclusive = moments[-1], True
        else:
            return done
        account, first, usage = self._start(customer_id, moments[0] if moments else None, saved)
        done.lots = account
        due = self._together(self._schedule(profile, first, until, inclusive, saved))
        # A birthday's member_for and purchase_within: when membership started, and the
        # purchases so far not refunded in full.
        standing = _Standing(
            None if profile is None else profile.joined_at or first,
            profile is not None and profile.joined_at is not None,
            {} if saved is None else kept_purchases(saved),
        )
        pending = self._open(done, account, profile, bool(events or facts))
        if quiet and not account.dated:
            standing.since = events.start
            walked = _Runs(events.start, due, pending, held, profile, standing)
            self._walk_runs(done, account, (events, facts), walked, usage)
            next_gift, pending = walked.next_gift, walked.pending
        else:
            if quiet:  # an opening or saved lot expires: every event is a moment
                items, moments = self._items(events, facts)
            next_gift, pending = self._walk_items(
                done, account, items, moments, due, pending, profile, standing, usage, held
            )
        done.last_item = moments[-1] if moments else None
        done.last_is_fact = bool(items) and isinstance(items[-1][2], Fact)
        done.moment = done.last_item
        self._close(done, account, due[next_gift:], pending, profile, standing, usage, held)
        return done

    def _quiet(self, facts: list[Fact], held: HeldRewards) -> bool:
        """Whether a walk may take the runs of events in bulk: points without a clock, and
        no referrer's reward held (none now, and no fact under a rule that holds it)."""
        plan = self.plan
        return (
            self.runs is not None
            and not plan.points.has_clock
            and not held.held
            and all(hold_end(plan.referrals, fact, plan.zone) is None for fact in facts)
        )

    def _items(
        self, events: Sequence[int], facts: list[Fact]
    ) -> tuple[list[tuple[int, str, int | Fact]], list[datetime]]:
        """A customer's events and facts in evaluation order (instant, id), each with its
        moment."""
        keys = self.frame.event_ids
        at = self.frame.at
        items: list[tuple[int, str, int | Fact]] = [
            (int(at[event]), str(keys[event]), event) for event in events
        ]
        items += [(*fact.key, fact) for fact in facts]
        items.sort(key=lambda item: (item[0], item[1]))
        return items, [self._moment(item[2]) for item in items]

    def _walk_items(
        self,
        done: Walk,
        account: PointsAccount,
        items: list[tuple[int, str, int | Fact]],
        moments: list[datetime],
        due: list[list[Due]],
        pending: list[LedgerEntry],
        profile: Customer | None,
        standing: _Standing,
        usage: WorkingState | None,
        held: HeldRewards,
    ) -> tuple[int, list[LedgerEntry]]:
        """Every event and fact in order, each at its moment: the gifts due by then and
        the held rewards whose hold ended, the expiries, the item. Returns the first gift
        still due and what is pending after the last item."""
        plan = self.plan
        policy, customer_id = plan.points, done.customer_id
        next_gift = 0
        for (_, _, item), moment in zip(items, moments):
            if held.held:
                next_gift = self._release(
                    done,
                    account,
                    held,
                    (moment, True),
                    due,
                    next_gift,
                    pending,
                    profile,
                    standing,
                    usage,
                )
            while next_gift < len(due) and due[next_gift][0][0] <= moment:
                self._give(done, account, due[next_gift], pending, profile, standing, usage)
                next_gift += 1
            if policy.has_clock or account.dated:
                pending += self._expired(done, advance(policy, account, customer_id, moment))
            if isinstance(item, Fact):
                if not held.take(item, hold_end(plan.referrals, item, plan.zone)):
                    self._reward_referrer(done, account, item, moment, pending, usage)
                continue
            done.before.append((item, pending))
            pending = []
            self._give_back(usage, item)
            written = self._account_step(account, customer_id, item, moment)
            self._note_purchase(standing, item, moment)
            if written:
                done.after.append((item, written))
                done.account += written
        return next_gift, pending

    def _walk_runs(
        self,
        done: Walk,
        account: PointsAccount,
        items: tuple[range, list[Fact]],
        walked: _Runs,
        usage: WorkingState | None,
    ) -> None:
        """The customer's events and facts, no datetime per event: each fact before the
        first event after it by (instant, id), each gift before the first event or fact at
        or after it (instants compared in microseconds), the runs of events between them in
        bulk where the account allows (``_quiet_runs``). ``walked`` ends at the first gift
        still due after the last item, with what is pending after it."""
        plan = self.plan
        events, facts = items
        due = walked.due
        for fact in facts:
            self._events_before(done, account, walked, self._place(fact, events), usage)
            while walked.next_gift < len(due) and due[walked.next_gift][0][0] <= fact.written:
                self._give_next(done, account, walked, usage)
            if not walked.held.take(fact, hold_end(plan.referrals, fact, plan.zone)):
                self._reward_referrer(done, account, fact, fact.written, walked.pending, usage)
        self._events_before(done, account, walked, events.stop, usage)
        walked.standing.upto = events.stop  # the gifts still due come after every event

    def _place(self, fact: Fact, events: range) -> int:
        """The first of ``events`` after a fact by (instant, id)."""
        at, keys = self.frame.at, self.frame.event_ids
        instant, key = fact.key
        place = events.start + int(at[events.start : events.stop].searchsorted(instant))
        while place < events.stop and int(at[place]) == instant and str(keys[place]) < key:
            place += 1
        return place

    def _events_before(
        self,
        done: Walk,
        account: PointsAccount,
        walked: _Runs,
        stop: int,
        usage: WorkingState | None,
    ) -> None:
        """The events from ``walked.position`` up to ``stop``, each gift due before the
        first of them at or after it, the runs between gifts in bulk."""
        at, due = self.frame.at, walked.due
        while walked.next_gift < len(due) and walked.position < stop:
            instant = (due[walked.next_gift][0][0] - _EPOCH) // _MICROSECOND
            start = walked.position
            place = start + int(at[start:stop].searchsorted(instant))
            if place >= stop:
                break
            self._events(done, account, walked, place, usage)
            walked.standing.upto = place
            self._give_next(done, account, walked, usage)
        self._events(done, account, walked, stop, usage)

    def _give_next(
        self, done: Walk, account: PointsAccount, walked: _Runs, usage: WorkingState | None
    ) -> None:
        """Give the next gift due."""
        gift = walked.due[walked.next_gift]
        self._give(done, account, gift, walked.pending, walked.profile, walked.standing, usage)
        walked.next_gift += 1

    def _events(
        self,
        done: Walk,
        account: PointsAccount,
        walked: _Runs,
        stop: int,
        usage: WorkingState | None,
    ) -> None:
        """The events from ``walked.position`` up to ``stop``, with no gift between them;
        what is pending comes before the first."""
        if walked.position >= stop:
            return
        if walked.pending:
            done.before.append((walked.position, walked.pending))
            walked.pending = []
        self._run(done, account, walked.position, stop, usage)
        walked.position = stop

    def _run(
        self,
        done: Walk,
        account: PointsAccount,
        start: int,
        stop: int,
        usage: WorkingState | None,
    ) -> None:
        """The events ``[start, stop)`` with no gift between them: the purchases and refunds
        in bulk where ``_quiet_runs`` can, the others one by one."""
        runs = self.runs
        assert runs is not None  # noqa: S101 -- only walked so with the runs
        position = start
        for event in [*runs.visits(start, stop), stop]:
            if not runs.replay(account, position, event, self.written):
                for each in range(position, event):
                    self._step(done, account, each, usage)
            if event < stop:
                self._step(done, account, event, usage)
            position = event + 1

    def _step(
        self, done: Walk, account: PointsAccount, event: int, usage: WorkingState | None
    ) -> None:
        """One event of the frame in the account (a run's event the bulk cannot take)."""
        self._give_back(usage, event)
        written = self._account_step(account, done.customer_id, event, self.written(event))
        if written:
            done.after.append((event, written))
            done.account += written

    def _open(
        self, done: Walk, account: PointsAccount, profile: Customer | None, anything: bool
    ) -> list[LedgerEntry]:
        """A migrated customer's opening lots, written before their first event, supplied
        fact or ``as_of`` (``anything``: an event or fact); without these, before the first
        fact a friend's purchase raises (the first item)."""
        if profile is None or not profile.opens or not (anything or self.cutoff is not None):
            return []
        done.opened = True
        opening = open_lots(self.plan, account, profile)
        done.gifts += opening
        return list(opening)

    def _start(
        self, customer_id: str, first: datetime | None, saved: CustomerState | None
    ) -> tuple[PointsAccount, datetime | None, WorkingState | None]:
        """Where a walk starts: the points account, the first event, and the limits'
        usage (the reference's own ``limit_gift`` reads it from a state); from a saved
        state, as ``restore`` restores them."""
        plan = self.plan
        usage = WorkingState(customer_id) if plan.limits else None
        if saved is None:
            return PointsAccount(), first, usage
        if usage is not None:
            usage.limit_usage = {
                key: (kept.period, kept.used) for key, kept in saved.limits.items()
            }
        return saved_account(plan, saved), saved.first_event_at or first, usage

    def _give_back(self, usage: WorkingState | None, event: int) -> None:
        """A refund's points of a friend's gift under a limited referral rule, given back
        to the rule's limits (which count this customer's rewards as a referrer)."""
        if usage is not None:
            for rule_id, points, local_date in self.released.get(event, ()):
                self.plan.limits[rule_id].release_points(usage.limit_usage, local_date, points)

    def _reward_referrer(
        self,
        done: Walk,
        account: PointsAccount,
        fact: Fact,
        moment: datetime,
        pending: list[LedgerEntry],
        usage: WorkingState | None,
    ) -> None:
        """A friend's qualifying purchase: the referrer's reward, within its limits."""
        plan = self.plan
        policy = plan.points
        # checked by walk_customers; the program's referrals are referral rules
        rule = cast(ReferralPlan, plan.referrals[fact.rule].plan)
        entry = referrer_reward(rule, fact.event())
        limits = plan.limits.get(fact.rule)
        if limits is not None and usage is not None:
            local_date = moment.astimezone(plan.zone).date()
            entry = limit_gift(limits, usage, local_date, entry)
        pending.append(entry)
        done.gifts.append(entry)
        if entry.kind == "points" and entry.points:
            earn(policy, account, fact.event_id, moment, entry.points, waits=False)
        active(policy, account, "referral", moment)

    def _release(
        self,
        done: Walk,
        account: PointsAccount,
        held: HeldRewards,
        until: tuple[datetime, bool],
        due: list[list[Due]],
        next_gift: int,
        pending: list[LedgerEntry],
        profile: Customer | None,
        standing: _Standing,
        usage: WorkingState | None,
    ) -> int:
        """Give the held rewards whose hold ends by ``until`` (an instant, and whether it is
        included), in time order, each after the gifts at dates due before it and the
        expiries up to it (``gifts.release_held``); the next gift at a date still due."""
        policy = self.plan.points
        for moment, fact in held.due(*until):
            while next_gift < len(due) and due[next_gift][0][0] < moment:
                self._give(done, account, due[next_gift], pending, profile, standing, usage)
                next_gift += 1
            if policy.has_clock:
                pending += self._expired(done, advance(policy, account, done.customer_id, moment))
            self._reward_referrer(done, account, released(fact, moment), moment, pending, usage)
        return next_gift

    def _note_purchase(self, standing: _Standing, event: int, moment: datetime) -> None:
        """Keep a purchase for purchase_within; drop one a refund empties."""
        purchases, refunds, _ = self.flags
        if purchases[event]:
            standing.kept[str(self.frame.event_ids[event])] = moment
        elif refunds[event] and event in self.emptied:
            standing.kept.pop(self.frame.purchase_id[event].as_py(), None)

    def _close(
        self,
        done: Walk,
        account: PointsAccount,
        due: list[list[Due]],
        pending: list[LedgerEntry],
        profile: Customer | None,
        standing: _Standing,
        usage: WorkingState | None,
        held: HeldRewards,
    ) -> None:
        """After the last event: the rewards ``held`` and gifts still ``due`` and the
        expiries up to the cutoff (if any), then the customer's balance and upcoming
        expiries."""
        policy = self.plan.points
        if self.cutoff is not None:
            instant, inclusive, done.moment = self.cutoff
            if held.held:
                start = self._release(
                    done,
                    account,
                    held,
                    (instant, inclusive),
                    due,
                    0,
                    pending,
                    profile,
                    standing,
                    usage,
                )
                due = due[start:]
            for gifts in due:
                self._give(done, account, gifts, pending, profile, standing, usage)
            pending += self._expired(
                done, advance(policy, account, done.customer_id, instant, inclusive)
            )
        done.last = pending
        done.balance = account.balance
        done.available = account.available(done.moment)
        done.upcoming = upcoming_expiry(policy, account.lots, account.active_at)

    def _account_step(
        self, account: PointsAccount, customer_id: str, event: int, moment: datetime
    ) -> list[LedgerEntry]:
        """An event of the frame in the account, as ``_accounts.run_accounts`` takes it."""
        policy, frame, keys = self.plan.points, self.frame, self.frame.event_ids
        purchases, refunds, _ = self.flags
        if purchases[event]:
            lasting = event in self.lasting
            earn(policy, account, keys[event], moment, int(self.points[event]), lasting=lasting)
            bought(policy, account, keys[event], moment)
            return []
        if refunds[event]:
            back = -int(self.points[event])
            purchase_id = frame.purchase_id[event].as_py()
            written = (
                take_back(policy, account, customer_id, keys[event], purchase_id, moment, back)
                if back
                else []
            )
            if event in self.emptied:
                written += refunded_in_full(policy, account, customer_id, purchase_id, moment)
            return written
        target = self.catalogue.cancelled(event, keys)  # a saved redemption's too
        if target is not None:
            return cancel_redemption(policy, account, customer_id, keys[event], target)
        reward = frame.reward[event].as_py()
        units, tier = int(frame.units[event]), self.catalogue.tiers.get(event)
        return redeem(policy, account, customer_id, keys[event], reward, moment, units, tier)

    def _moment(self, item: int | Fact) -> datetime:
        return item.written if isinstance(item, Fact) else self.written(item)

    @staticmethod
    def _expired(done: Walk, entries: list[LedgerEntry]) -> list[LedgerEntry]:
        done.account += entries
        return entries

    def _schedule(
        self,
        profile: Customer | None,
        first: datetime | None,
        until: datetime,
        inclusive: bool,
        saved: CustomerState | None = None,
    ) -> list[tuple[datetime, int, BirthdayPlan | SignupPlan, int]]:
        """The gifts at dates due up to ``until``, in the order given (``grant_dated``);
        from a saved state, not those its marks and birthday years say were given (or
        passed over) already."""
        if profile is None:
            return []
        schedule: list[tuple[datetime, int, BirthdayPlan | SignupPlan, int]] = []
        years = {} if saved is None else saved.birthdays
        for order, compiled in enumerate(self.plan.dated):
            rule = compiled.plan
            if isinstance(rule, SignupPlan):
                joined = profile.joined_at
                if joined is None or not rule.active_at(joined):
                    continue
                if saved is not None and compiled.id in saved.bonuses:
                    continue
                if joined < until or (inclusive and joined == until):
                    schedule.append((joined, order, rule, 0))
                continue
            since = profile.joined_at or first
            if not isinstance(rule, BirthdayPlan) or profile.birthday is None or since is None:
                continue
            for moment, year in birthday_dates(
                rule, profile.birthday, since, years.get(compiled.id), until, inclusive
            ):
                schedule.append((moment, order, rule, year))
        schedule.sort(key=lambda item: (item[0], item[1]))
        return schedule

    def _together(self, due: list[Due]) -> list[list[Due]]:
        """The gifts due, each alone or with the later ones of its exclusive group due at
        the same moment (``gifts.grant_dated``): those compete, at the first one's place."""
        dated = self.plan.dated
        found: list[list[Due]] = []
        taken: set[int] = set()
        for position, gift in enumerate(due):
            if position in taken:
                continue
            group = dated[gift[1]].rule.exclusive_group
            rivals = (
                []
                if group is None
                else [
                    later
                    for later in range(position + 1, len(due))
                    if due[later][0] == gift[0]
                    and dated[due[later][1]].rule.exclusive_group == group
                ]
            )
            taken.update(rivals)
            found.append([gift, *(due[later] for later in rivals)])
        return found

    def _give(
        self,
        done: Walk,
        account: PointsAccount,
        gifts: list[Due],
        pending: list[LedgerEntry],
        profile: Customer | None,
        standing: _Standing,
        usage: WorkingState | None,
    ) -> None:
        """Give the gifts due at one moment: one alone within its limits, or the best of
        an exclusive group's (the others set aside)."""
        moment = gifts[0][0]
        plan = self.plan
        customer_id = done.customer_id
        if plan.points.has_clock or account.dated:
            pending += self._expired(done, advance(plan.points, account, customer_id, moment))
        # A birthday's member_for and purchase_within: a gift the customer is not eligible
        # for is not given (its year passes) and does not compete in its group.
        gifts = [gift for gift in gifts if self._eligible(gift, standing)]
        if not gifts:
            return
        entries = [self._gift(customer_id, gift, profile) for gift in gifts]
        local_date = moment.astimezone(plan.zone).date()
        if len(gifts) > 1:
            group = plan.dated[gifts[0][1]].rule.exclusive_group
            assert group is not None  # noqa: S101 -- only a group's gifts come together
            members = []
            for gift in gifts:
                compiled = plan.dated[gift[1]]
                assert compiled.dated is not None  # noqa: S101 -- the plan's dated rules
                members.append((compiled.dated, compiled.id, gift[3]))
            state = usage or WorkingState(customer_id)
            entries = best_gift(plan, state, local_date, group, members, entries)
        else:
            limits = plan.limits.get(plan.dated[gifts[0][1]].id)
            if limits is not None and usage is not None:
                entries = [limit_gift(limits, usage, local_date, entries[0])]
        for entry in entries:
            pending.append(entry)
            done.gifts.append(entry)
            if entry.kind == "points" and entry.points:
                earn(plan.points, account, entry.event_id, moment, entry.points, waits=False)

    def _eligible(self, gift: Due, standing: _Standing) -> bool:
        """Whether a gift due at a date meets its birthday's member_for and purchase_within
        (as the reference's ``gifts._eligible``)."""
        moment, _, rule, _ = gift
        if not isinstance(rule, BirthdayPlan) or not rule.has_conditions:
            return True
        if standing.since is None or rule.purchase_within is None:
            bought = max(standing.kept.values(), default=None)
        else:  # walked in runs: found from the gift's place among the events
            assert self.runs is not None  # noqa: S101 -- set with the runs
            bought = self.runs.latest_kept(
                standing.since, standing.upto, standing.kept, self.written
            )
        return rule.refusal(standing.start, standing.joined, moment, bought) is None

    @staticmethod
    def _gift(customer_id: str, gift: Due, profile: Customer | None) -> LedgerEntry:
        """The entry of a gift due at a date, before its limits and group."""
        moment, _, rule, year = gift
        if isinstance(rule, SignupPlan):
            return signup_at_joining(rule, customer_id, moment)
        assert profile is not None  # noqa: S101 -- scheduled with a profile
        assert profile.birthday is not None  # noqa: S101 -- and a birthday
        return dated_birthday_entry(rule, profile.birthday, customer_id, moment, year)


@dataclass(slots=True)
class _Runs:
    """Where a walk in runs is (``Walker._walk_runs``)."""

    position: int
    """The next event of the frame to walk."""
    due: list[list[Due]]
    pending: list[LedgerEntry]
    """What comes before the next event (or after the last)."""
    held: HeldRewards
    profile: Customer | None
    standing: _Standing
    next_gift: int = 0
    """The next gift of ``due`` to give."""


@dataclass(slots=True)
class _Standing:
    """What a birthday's member_for and purchase_within read during a walk."""

    start: datetime | None
    """When membership started: ``joined_at``, else the first event or fact."""
    joined: bool
    """Whether ``start`` is ``joined_at``."""
    kept: dict[str, datetime] = field(default_factory=dict)
    """The purchases so far not refunded in full, by id (walked in runs: the saved ones)."""
    since: int | None = None
    """Walked in runs: the customer's first event in the frame (None: walked event by
    event, ``kept`` noted at each)."""
    upto: int = 0
    """Walked in runs: the event the gift being given comes before."""


def local_ordinal(moment: datetime, plan: ProgramPlan) -> int:
    """A moment's local date in the program's zone, as an ordinal."""
    return moment.astimezone(plan.zone).date().toordinal()


@dataclass(slots=True)
class Walks:
    """Every walk, as the ledger places it."""

    frame_customers: list[int] = field(default_factory=list)
    """The frame's customers walked here (``_accounts`` skips them)."""
    walks: dict[int, Walk] = field(default_factory=dict)
    """Per frame customer, their walk."""
    others: list[Walk] = field(default_factory=list)
    """The walks of customers without an event in the frame, with something written."""
    before: tuple[list[int], list[LedgerEntry]] = field(default_factory=lambda: ([], []))
    after: tuple[list[int], list[LedgerEntry]] = field(default_factory=lambda: ([], []))
    last: tuple[list[int], list[LedgerEntry]] = field(default_factory=lambda: ([], []))
    idle: dict[str, list[Fact]] = field(default_factory=dict)
    """Per referrer with a saved state and no event in the frame, their new facts (in
    evaluation order): the reference folds them (``Resumed.idle``)."""

    def gifts(self) -> list[LedgerEntry]:
        """Every gift and reward written here."""
        everyone = [*self.walks.values(), *self.others]
        return [entry for walk in everyone for entry in walk.gifts]

    def account(self) -> list[LedgerEntry]:
        """Every account entry written here."""
        everyone = [*self.walks.values(), *self.others]
        return [entry for walk in everyone for entry in walk.account]


def walk_customers(
    walker: Walker,
    profiles: dict[str, Customer],
    facts: list[Fact],
    repeated: Repetition | None = None,
) -> Walks:
    """Walk every customer who may get a gift at a date or a referrer's reward.

    Raises:
        HistoryError: the first fact the reference refuses, in evaluation order: a fact
            ``check_fact`` refuses, or ``repeated`` (a supplied fact repeating an id).
    """
    frame, plan = walker.frame, walker.plan
    by_referrer: dict[str, list[Fact]] = {}
    rewarded: dict[str, set[tuple[str, str]]] = {}
    before: dict[tuple[int, str], int] = {}
    checks = HoldChecks(plan.referrals, plan.zone)
    seed_checks(checks, rewarded, walker.saved)  # the saved referrals (``_resumed_referrals``)
    holders = holding(walker.saved) if walker.saved else set()
    index: dict[str, int] = {}
    if profiles or facts or holders:  # a million customers without one need no index
        index = {customer: position for position, customer in enumerate(frame.customer_ids)}
    fresh = fresh_openings(walker, profiles, index) if facts else {}
    for fact in sorted(facts, key=lambda fact: fact.key):
        count = before.get((fact.at, fact.event_id), 0)
        before[(fact.at, fact.event_id)] = count + 1
        if repeated is not None and repeated[0] <= (fact.at, fact.event_id, count):
            raise repeated[1]
        last = too_early(fact, walker.saved) if walker.saved else None
        if last is not None:
            raise event_error(
                fact.event_id,
                f"it happened at {fact.written.isoformat()}, before the customer's saved "
                f"state (last event at {last.isoformat()}); evaluate it from an earlier state",
                "at",
            )
        if fresh:  # at the referrer's first fact: maybe their first event
            late_opening(plan, fresh.pop(fact.referrer, None), fact)
        checks.check(fact, rewarded.setdefault(fact.referrer, set()))
        by_referrer.setdefault(fact.referrer, []).append(fact)
    if repeated is not None:
        raise repeated[1]
    walks = Walks(frame_customers=_walked(walker, profiles, index, {*by_referrer, *holders}))
    walker = walker.with_runs(walks.frame_customers)
    starts = frame.customer_start.tolist()
    for customer in walks.frame_customers:
        customer_id = frame.customer_ids[customer]
        walk = walker.walk(
            customer_id,
            range(starts[customer], starts[customer + 1]),
            by_referrer.get(customer_id, []),
            profiles.get(customer_id),
        )
        walks.walks[customer] = walk
        last_event = starts[customer + 1] - 1
        for event, entries in walk.before:
            walks.before[0].extend([event] * len(entries))
            walks.before[1].extend(entries)
        for event, entries in walk.after:
            walks.after[0].extend([event] * len(entries))
            walks.after[1].extend(entries)
        walks.last[0].extend([last_event] * len(walk.last))
        walks.last[1].extend(walk.last)
    others = {customer for customer in by_referrer if customer not in index}
    if plan.dated and walker.cutoff is not None:
        others |= {customer for customer in profiles if customer not in index}
    if walker.cutoff is not None:  # a migrated customer is reported as of then
        others |= {
            customer
            for customer, profile in profiles.items()
            if profile.opens and customer not in index
        }
    # Resumed without an event: the reference's ``_result``, after its fold of the facts.
    walks.idle = {
        customer: facts
        for customer, facts in by_referrer.items()
        if customer in walker.saved and customer not in index
    }
    others -= set(walker.saved)
    for customer_id in sorted(others):
        walk = walker.walk(
            customer_id, range(0), by_referrer.get(customer_id, []), profiles.get(customer_id)
        )
        # A referrer is reported even with every reward still held.
        if walk.last or walk.opened or customer_id in by_referrer:
            walks.others.append(walk)
    return walks


def _walked(
    walker: Walker, profiles: Mapping[str, Customer], index: Mapping[str, int], others: set[str]
) -> list[int]:
    """The frame's customers to walk, in order: those whose profile may give a gift at a
    date or brings opening lots, and the ``others`` (the referrers with facts, and those
    whose saved state holds rewards, given at the hold's end)."""
    chosen = {
        index[customer]
        for customer, profile in profiles.items()
        if customer in index and walker.needs_walk(profile)
    }
    chosen |= {index[customer] for customer in others if customer in index}
    return sorted(chosen)


def fresh_openings(
    walker: Walker, profiles: Mapping[str, Customer], index: Mapping[str, int]
) -> dict[str, tuple[Customer, tuple[int, str] | None]]:
    """The migrated customers with opening lots this evaluation starts (no saved state),
    by id, with their first event's (instant, id) in the frame (None without one): a fact
    before it is their first event, which their lots must not come after."""
    frame = walker.frame
    found: dict[str, tuple[Customer, tuple[int, str] | None]] = {}
    for customer, profile in profiles.items():
        if not profile.opening_points or customer in walker.saved:
            continue
        position = index.get(customer)
        if position is None:
            found[customer] = (profile, None)
        else:
            start = int(frame.customer_start[position])
            found[customer] = (profile, (int(frame.at[start]), str(frame.event_ids[start])))
    return found


def late_opening(
    plan: ProgramPlan, fresh: tuple[Customer, tuple[int, str] | None] | None, fact: Fact
) -> None:
    """Refuse a migrated customer's opening lots earned after ``fact``, the first fact that
    reaches them, when it is their first event (``fold._reward_referrers``: the lots are
    checked against that fact's instant as written).

    Raises:
        HistoryError: the profile's lots earned too late.
    """
    if fresh is None:
        return
    profile, first = fresh
    if first is not None and first < fact.key:
        return  # their own event came first: checked against it (``_opening.check_late``)
    names = None if plan.tiers is None else plan.tiers.names
    problems = list(opening_problems(profile, names, fact.written))
    if problems:
        raise HistoryError(problems)
