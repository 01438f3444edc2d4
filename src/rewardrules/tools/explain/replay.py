"""The replay behind ``explain``: a customer's events through the engine's own step.

:class:`Replay` folds the events in ``evaluate``'s order and, around each step, reads the
state before and after: for each rule in running order, what it gave, or (in the words of
:mod:`rewardrules.tools.explain.words`) the first reason it gave nothing. So every ledger entry
of an account is the one :func:`rewardrules.evaluate` gives.

Besides the customer's own events, an account shows what the engine gives between them:
gifts at dates (a birthday window, joining: ledger entries whose event id is
``<rule>@<local date>``), each as its own block before the event that brought it, and the
rewards for friends the customer referred. For those, the friends' histories are replayed
too (with the engine's step, in ``evaluate``'s order), and each friend's first qualifying
purchase becomes a referral block in the referrer's account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from decimal import Decimal

from rewardrules.engine.kind import CompiledRule
from rewardrules.engine.ledger import NOTE_KINDS, LedgerEntry
from rewardrules.engine.lots import OPENING
from rewardrules.engine.working_state import PurchaseRecord, WorkingState
from rewardrules.evaluation._opening import check_opening, open_customer
from rewardrules.evaluation.fold import CompiledProgram, Cutoff, Fold
from rewardrules.events import (
    AnyEvent,
    CancelRedemption,
    Customer,
    Purchase,
    Redemption,
    ReferralQualified,
    Refund,
)
from rewardrules.tools.explain.account import (
    INACTIVITY_NOTE,
    CustomerExplanation,
    EventExplanation,
    RuleOutcome,
)
from rewardrules.tools.explain.next_rewards import next_rewards
from rewardrules.tools.explain.refund_words import Returned, refund_text
from rewardrules.tools.explain.words import note_text, why_not

__all__ = ["Replay"]


def _event_id(event: AnyEvent) -> str:
    return event.id


def _event_at(event: AnyEvent) -> datetime:
    return event.at


class Replay:
    """``evaluate``'s fold over the accounts to explain, and the friends who reward them.

    Events go in (instant, id) order to their customer's state; a referral fact a purchase
    raises goes at once to the referrer's account, as ``evaluate`` does. ``only`` names the
    one account to explain (the other events are then its referred friends', replayed on
    plain states); None explains everyone.
    """

    def __init__(
        self,
        compiled: CompiledProgram,
        cutoff: Cutoff | None,
        profiles: dict[str, Customer],
        only: str | None,
    ) -> None:
        self.program = compiled.program
        self.fold = compiled.fold()
        self.cutoff = cutoff
        self.profiles = profiles
        self.only = only
        self.order = _Order.of(compiled)
        self.accounts: dict[str, _Explainer] = {}
        self.friends: dict[str, WorkingState] = {}

    def account(self, customer_id: str, first_at: datetime | None = None) -> _Explainer:
        """The account of a customer to explain, opened at first sight (at ``first_at``,
        their first event, if any): a migrated customer's opening comes first."""
        found = self.accounts.get(customer_id)
        if found is None:
            found = _Explainer(self.fold, self.order, customer_id, self.cutoff)
            profile = found.state.profile = self.profiles.get(customer_id)
            self.accounts[customer_id] = found
            if profile is not None and profile.opens:
                found.open(profile, first_at)
        return found

    def run(self, events: list[AnyEvent]) -> None:
        """Fold the events (any order) in evaluate's order."""
        # Two stable sorts give the (instant, id) order, exactly as evaluate sorts.
        events.sort(key=_event_id)
        events.sort(key=_event_at)
        for event in events:
            owner = event.customer_id
            if self.only is None or owner == self.only:
                account = self.account(owner, event.at)
                account.apply(event)
                state = account.state
            else:
                state = self._friend(owner)
                self.fold.apply(state, event)
            for fact in state.outbox:
                if self.only is None or fact.customer_id == self.only:
                    referrer = self.account(fact.customer_id, fact.at)
                    referrer.check_first(fact)
                    referrer.apply(fact, derived=True)
            state.outbox.clear()

    def _friend(self, customer_id: str) -> WorkingState:
        state = self.friends.get(customer_id)
        if state is None:
            state = self.friends[customer_id] = WorkingState(customer_id)
            state.profile = self.profiles.get(customer_id)
        return state


@dataclass(frozen=True, slots=True)
class _Order:
    """The rules as the engine runs them for a purchase and for a refund, and the ids of the
    rules that give at dates."""

    purchase: tuple[CompiledRule, ...]
    refund: tuple[CompiledRule, ...]
    dated: frozenset[str]

    @classmethod
    def of(cls, compiled: CompiledProgram) -> _Order:
        """Read the order from the engine's own: an exclusive group runs its members where
        its first member would run."""
        plan = compiled.plan
        dated = frozenset(rule.id for rule in plan.dated)
        return cls(plan.purchase_order, plan.running, dated)


class _Explainer:
    """One customer's account: applies their events with the engine and explains each."""

    def __init__(self, fold: Fold, order: _Order, customer_id: str, cutoff: Cutoff | None) -> None:
        self.fold = fold
        self.plan = fold.plan
        self.order = order
        self.cutoff = cutoff
        self.state = WorkingState(customer_id)
        self.state.passed_over = []  # the gifts at dates not given, to say why
        self.explained: list[EventExplanation] = []
        self.ledger: list[LedgerEntry] = []
        self._hold_ends: dict[tuple[str, str], datetime] = {}

    def open(self, profile: Customer, first_at: datetime | None) -> None:
        """Start a migrated customer from their profile's opening, one block per lot."""
        entries = open_customer(self.plan, self.state, profile, first_at)
        self.ledger += entries
        lots = profile.opening_points
        by_source = {f"{OPENING}{number}": lot for number, lot in enumerate(lots, start=1)}
        for entry in entries:
            lot = by_source[entry.event_id]
            outcome = RuleOutcome(entry.rule, True, entry.reason, (entry,))
            block = EventExplanation(
                entry.event_id, "opening", lot.earned_at.astimezone(self.plan.zone), None,
                Decimal(entry.points or 0), self.plan.money.code, None, (outcome,),
            )  # fmt: skip
            self.explained.append(block)

    def check_first(self, fact: ReferralQualified) -> None:
        """A friend's referral fact that is the customer's first event: a migrated
        customer's opening lots must not come after it (``fold._reward_referrers``).

        Raises:
            HistoryError: a lot is earned after the fact (``late-opening``).
        """
        profile = self.state.profile
        if profile is not None and profile.opens and self.state.first_event_at is None:
            check_opening(self.plan, profile, fact.at)

    def apply(self, event: AnyEvent, derived: bool = False) -> None:
        """Apply one event (``derived``: a referral fact of a friend's purchase, applied as
        evaluate applies it) and explain it, after the gifts at dates it brought."""
        if isinstance(event, Purchase):
            explanation = self._purchase(event)
        elif isinstance(event, Refund):
            explanation = self._refund(event)
        elif isinstance(event, Redemption):
            explanation = self._redemption(event)
        elif isinstance(event, CancelRedemption):
            explanation = self._cancellation(event)
        else:
            explanation = self._referral(event, derived)
        self.explained.append(explanation)

    def finish(self) -> CustomerExplanation | None:
        """The account up to as_of (or the last event); None without either."""
        plan, state, cutoff = self.plan, self.state, self.cutoff
        if cutoff is None and state.last_event_at is None:
            return None
        before = len(self.ledger)
        held = dict(state.held)
        result = self.fold.finish(state, self.ledger, cutoff)
        # The evaluation's ledger ends with the gifts due at dates and the points that
        # expired between the last event and as_of, so the account does too.
        expired = self._gifts(self._without_released(self.ledger[before:], held))
        if expired and cutoff is not None:
            up_to = EventExplanation(
                "as_of", "as_of", cutoff.instant.astimezone(plan.zone), None, Decimal(0),
                plan.money.code, None, _lifecycle_outcomes(expired),
            )  # fmt: skip
            self.explained.append(up_to)
        if cutoff is not None:
            instant, local_date = cutoff.instant, cutoff.local_date
        else:
            assert state.last_event_at is not None  # noqa: S101 -- checked above
            instant = state.last_event_at
            local_date = instant.astimezone(plan.zone).date()
        return CustomerExplanation(
            upcoming_expiry=result.upcoming_expiry,
            points_name=plan.program.points.name,
            program=plan.program.program,
            name=plan.program.name,
            customer_id=state.customer_id,
            as_of=local_date,
            tier=result.tier,
            has_tiers=plan.tiers is not None,
            events=tuple(self.explained),
            next_rewards=tuple(next_rewards(plan, state, instant, local_date)),
        )

    def _run(self, event: AnyEvent, derived: bool = False) -> list[LedgerEntry]:
        """Apply an event with the engine's step; explain the gifts at dates given before
        it; return the event's own entries (expiries before it included)."""
        held = dict(self.state.held)
        if derived:
            entries: list[LedgerEntry] = []
            self.fold.event(self.state, event, entries)
        else:
            entries = self.fold.apply(self.state, event)  # raises for a bad event
        self.ledger += entries
        return self._gifts(self._without_released(entries, held))

    def _without_released(
        self, entries: list[LedgerEntry], held: dict[tuple[str, str], datetime]
    ) -> list[LedgerEntry]:
        """Explain the held rewards the entries give (at their hold's end); the others."""
        released = {key for key in held if key not in self.state.held}
        if not released:
            return entries
        self._hold_ends.update((key, held[key]) for key in released)
        self._released(entries, released)
        return [entry for entry in entries if (entry.event_id, entry.rule) not in released]

    def _gifts(self, entries: list[LedgerEntry]) -> list[LedgerEntry]:
        """Explain the gifts at dates at the head of an event's entries, each with the
        expiries just before it; return the entries after the last gift."""
        dated = self.order.dated
        last = max(
            (index for index, entry in enumerate(entries) if entry.rule in dated), default=-1
        )
        passed = list(self.state.passed_over or ())
        self.state.passed_over = []
        waiting: list[LedgerEntry] = []
        for entry in entries[: last + 1]:
            if entry.rule not in dated:
                waiting.append(entry)  # an expiry before the gift
                continue
            day = self._day_of(entry)
            while passed and passed[0][2].astimezone(self.plan.zone).date() <= day.date():
                self._passed_over(*passed.pop(0))
            outcomes = (*_lifecycle_outcomes(waiting), _given(entry.rule, [entry]))
            gift = EventExplanation(
                entry.event_id, "gift", self._day_of(entry), None, Decimal(0),
                self.plan.money.code, None, outcomes,
            )  # fmt: skip
            self.explained.append(gift)
            waiting = []
        for item in passed:
            self._passed_over(*item)
        return entries[last + 1 :]

    def _passed_over(self, gift_id: str, rule_id: str, moment: datetime, why: str) -> None:
        """A gift at a date the customer was not eligible for: a block that says why."""
        outcome = RuleOutcome(rule_id, False, why)
        block = EventExplanation(
            gift_id, "gift", moment.astimezone(self.plan.zone), None, Decimal(0),
            self.plan.money.code, None, (outcome,),
        )  # fmt: skip
        self.explained.append(block)

    def _day_of(self, gift: LedgerEntry) -> datetime:
        """The start of the local date a gift's id names (``<rule>@<date>``)."""
        day = date.fromisoformat(gift.event_id.rpartition("@")[2])
        return datetime.combine(day, time(0), self.plan.zone)

    def _activity(self, before: datetime | None, what: str) -> tuple[RuleOutcome, ...]:
        """A line on the inactivity deadline when an event moved it: an activity other than
        a purchase ("kept alive by redemption r1"), or a purchase refunded in full that no
        longer counts. Empty when the deadline did not move (or there is none)."""
        policy = self.plan.points
        after = self.state.account.active_at
        if policy.inactivity is None or after == before:
            return ()
        if after is None:
            text = f"{what}: no activity is left to keep points alive"
        else:
            deadline = policy.inactivity.after(after, self.plan.zone)
            day = deadline.astimezone(self.plan.zone).date()
            text = f"{what}: without more activity, all points expire on {day}"
        # It gives nothing: not applied, and no entry of its own (account._verb: 'activity').
        return (RuleOutcome(INACTIVITY_NOTE, False, text),)

    def _referral(self, fact: ReferralQualified, derived: bool) -> EventExplanation:
        active = self.state.account.active_at
        entries = self._run(fact, derived)
        rewarded = [entry for entry in entries if entry.kind not in _LIFECYCLE]
        outcomes = _with_lifecycle(
            tuple(_given(rule, given) for rule, given in _by_rule(rewarded).items()), entries
        ) + self._activity(active, f"kept alive by referral {fact.id}")
        outcomes += self._hold(fact)
        return EventExplanation(
            fact.id, "referral", fact.at.astimezone(self.plan.zone), None, Decimal(0),
            self.plan.money.code, fact.reversed_by, outcomes, fact.referred,
        )  # fmt: skip

    def _hold(self, fact: ReferralQualified) -> tuple[RuleOutcome, ...]:
        """A held referral's line: held until when, or reversed by the friend's refund."""
        zone = self.plan.zone
        if fact.reversed_by is not None:
            day = fact.at.astimezone(zone).date().isoformat()
            text = (
                f"reversed: friend's purchase {fact.id} was refunded on {day} within the hold "
                f"(refund {fact.reversed_by}); nothing is given"
            )
            return (RuleOutcome(fact.rule, False, text),)
        until = self.state.held.get((fact.id, fact.rule))
        if until is None:
            return ()
        local = until.astimezone(zone)
        shown = local.date().isoformat()
        if local.time() != time(0):
            shown = local.strftime("%Y-%m-%d %H:%M")
        text = f"held until {shown} (friend's purchase {fact.id} may still be returned)"
        return (RuleOutcome(fact.rule, False, text),)

    def _released(self, entries: list[LedgerEntry], held: set[tuple[str, str]]) -> None:
        """Explain the held referral rewards given at their hold's end, each a block of its
        own at that instant (they come first among an event's entries)."""
        for entry in entries:
            if (entry.event_id, entry.rule) not in held or entry.kind in _LIFECYCLE:
                continue
            until = self._hold_ends.pop((entry.event_id, entry.rule))
            outcome = _given(entry.rule, [entry])
            block = EventExplanation(
                entry.event_id, "referral", until.astimezone(self.plan.zone), None,
                Decimal(0), self.plan.money.code, None, (outcome,),
                self.state.referrals.get((entry.event_id, entry.rule)),
            )  # fmt: skip
            self.explained.append(block)

    def _redemption(self, event: Redemption) -> EventExplanation:
        active = self.state.account.active_at
        entries = self._run(event)
        spent = sum(-(entry.points or 0) for entry in entries if entry.kind == "redemption")
        outcomes = _lifecycle_outcomes(entries) + self._activity(
            active, f"kept alive by redemption {event.id}"
        )
        return EventExplanation(
            event.id, "redemption", event.at.astimezone(self.plan.zone), None,
            Decimal(spent), self.plan.money.code, None, outcomes,
        )  # fmt: skip

    def _cancellation(self, event: CancelRedemption) -> EventExplanation:
        entries = self._run(event)
        back = sum(entry.points or 0 for entry in entries if entry.kind == "redemption")
        return EventExplanation(
            event.id, "cancel_redemption", event.at.astimezone(self.plan.zone), None,
            Decimal(back), self.plan.money.code, event.redemption_id,
            _lifecycle_outcomes(entries),
        )  # fmt: skip

    def _purchase(self, event: Purchase) -> EventExplanation:
        state, money, zone = self.state, self.plan.money, self.plan.zone
        stamps = dict(state.stamps)
        entries = self._run(event)
        given = _by_rule(entries)
        record = state.purchases[event.id]
        stopped = _stopped(record, self.order.purchase)
        stopper = next(
            (
                rule.id
                for rule in self.order.purchase
                if rule.rule.final
                and any(entry.kind not in NOTE_KINDS for entry in given.get(rule.id, ()))
            ),
            None,
        )
        outcomes = _with_lifecycle(
            tuple(
                RuleOutcome(
                    rule.id,
                    False,
                    f"stopped by rule '{stopper}' (final: true), which gave something "
                    "for this purchase",
                )
                if rule.id in stopped and stopper is not None
                else _outcome(rule, given.get(rule.id), record, stamps, state, None, zone)
                for rule in self.order.purchase
            ),
            entries,
        )
        return EventExplanation(
            event.id, "purchase", event.at.astimezone(zone), record.context.tier,
            money.to_decimal(record.context.gross_total), money.code, None, outcomes,
        )  # fmt: skip

    def _refund(self, event: Refund) -> EventExplanation:
        state, money, zone = self.state, self.plan.money, self.plan.zone
        stamps = dict(state.stamps)
        earlier = state.record(event.purchase_id)
        units_before = [] if earlier is None else list(earlier.refunded_units)
        amounts_before = [] if earlier is None else list(earlier.refunded_amount)
        active = state.account.active_at
        entries = self._run(event)  # raises for an unknown purchase
        given = _by_rule(entries)
        record = state.purchases[event.purchase_id]
        back = [now - then for now, then in zip(record.refunded_amount, amounts_before)]
        refunded = Returned(units_before, back)
        stopped = _stopped(record, self.order.refund)
        outcomes = _with_lifecycle(
            tuple(
                RuleOutcome(
                    rule.id,
                    False,
                    f"stopped at purchase {record.purchase.id} by a final rule, "
                    "so the refund leaves it be",
                )
                if rule.id in stopped and not given.get(rule.id)
                else _outcome(rule, given.get(rule.id), record, stamps, state, refunded, zone)
                for rule in self.order.refund
            ),
            entries,
        ) + self._activity(
            active, f"purchase {event.purchase_id} was refunded in full and no longer counts"
        )
        return EventExplanation(
            event.id, "refund", event.at.astimezone(zone), record.context.tier,
            money.to_decimal(sum(back)), money.code, event.purchase_id, outcomes,
        )  # fmt: skip


_LIFECYCLE = ("redemption", "rejected", "expiry", "written_off")
"""Entry kinds of the points lifecycle rather than of a rule."""

_NOT_GIVEN = frozenset({"capped", "set_aside", "rejected"})
"""Entry kinds that say something was not given."""


def _lifecycle_outcomes(entries: list[LedgerEntry]) -> tuple[RuleOutcome, ...]:
    """Entries of the points lifecycle (expiry, redemption, write-off), one outcome each."""
    return tuple(
        RuleOutcome(entry.rule, entry.kind != "rejected", entry.reason, (entry,))
        for entry in entries
        if entry.kind in _LIFECYCLE
    )


def _with_lifecycle(
    outcomes: tuple[RuleOutcome, ...], entries: list[LedgerEntry]
) -> tuple[RuleOutcome, ...]:
    """Rule outcomes with the lifecycle's: expiries come before the event, the rest after."""
    lifecycle = _lifecycle_outcomes(entries)
    before = tuple(outcome for outcome in lifecycle if outcome.entries[0].kind == "expiry")
    after = tuple(outcome for outcome in lifecycle if outcome.entries[0].kind != "expiry")
    return before + outcomes + after


def _stopped(record: PurchaseRecord, rules: tuple[CompiledRule, ...]) -> frozenset[str]:
    """The rules a final rule stopped at a purchase: of the rules the purchase did not count
    for, those in no exclusive group, and the members of a group none of whose members it
    counted for (a group that ran counts for its winner)."""
    if not record.set_aside:
        return frozenset()
    left_out = set(record.set_aside)
    members: dict[str, list[str]] = {}
    for rule in rules:
        group = rule.rule.exclusive_group
        if group is not None:
            members.setdefault(group, []).append(rule.id)
    return frozenset(
        rule.id
        for rule in rules
        if rule.id in left_out
        and (
            rule.rule.exclusive_group is None
            or all(member in left_out for member in members[rule.rule.exclusive_group])
        )
    )


def _by_rule(entries: list[LedgerEntry]) -> dict[str, list[LedgerEntry]]:
    given: dict[str, list[LedgerEntry]] = {}
    for entry in entries:
        given.setdefault(entry.rule, []).append(entry)
    return given


def _given(rule_id: str, entries: list[LedgerEntry]) -> RuleOutcome:
    """A rule's outcome from its entries: their reasons when it gave something; when its
    entries only note that it gave nothing (a limit, its exclusive group), why not."""
    if any(entry.kind not in _NOT_GIVEN for entry in entries):
        return RuleOutcome(
            rule_id, True, "; ".join(entry.reason for entry in entries), tuple(entries)
        )
    return RuleOutcome(
        rule_id, False, "; ".join(note_text(entry) for entry in entries), tuple(entries)
    )


def _outcome(
    rule: CompiledRule,
    entries: list[LedgerEntry] | None,
    record: PurchaseRecord,
    stamps: dict[str, int],
    state: WorkingState,
    refunded: Returned | None,
    zone: tzinfo,
) -> RuleOutcome:
    """What a rule gave (its entries' reasons), or why it gave nothing, for one event.

    ``stamps`` are the punch-card counts before the event; ``record`` is the purchase (or
    the refunded purchase) after it; ``refunded`` is None for a purchase.
    """
    if entries:
        return _given(rule.id, entries)
    if refunded is None:
        return RuleOutcome(rule.id, False, why_not(rule, record, stamps, state, zone))
    return RuleOutcome(rule.id, False, refund_text(rule, record, stamps, refunded, state))
