"""Why a customer got (or did not get) each reward, purchase by purchase, in plain words.

:func:`explain` replays one customer's events with the engine's own step (so every ledger
entry is the one :func:`rewardrules.evaluate` gives) and, around each step, reads the state
before and after: for each rule in running order, what it gave, or the first reason it gave
nothing. It ends with how close the customer is to the next reward of each rule. The words
themselves (why a rule gave nothing, what a refund took back, what comes next) are in
:mod:`rewardrules._explain_words`.

Besides the customer's own events, the account shows what the engine gives between them:
gifts at dates (a birthday window, joining: ledger entries whose event id is
``<rule>@<local date>``), each as its own block before the event that brought it, and the
rewards for friends the customer referred. For those, the friends' histories are replayed
too (with the engine's step, in ``evaluate``'s order), and each friend's first qualifying
purchase becomes a referral block in the referrer's account.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from typing import Any, Literal

from rewardrules._explain_words import (
    Returned,
    next_rewards,
    note_text,
    refund_text,
    why_not,
)
from rewardrules.engine import _apply, _Cutoff, _fold_event, _profiles, _result, compile_program
from rewardrules.errors import HistoryError, Problem
from rewardrules.events import AnyEvent, Customer, Purchase, Redemption, ReferralQualified, Refund
from rewardrules.ledger import LedgerEntry
from rewardrules.plan import ProgramPlan, RulePlan
from rewardrules.program import Program
from rewardrules.stacking import GroupStep, LimitedStep
from rewardrules.state import PurchaseRecord, WorkingState

__all__ = ["CustomerExplanation", "EventExplanation", "RuleOutcome", "explain", "explain_all"]


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What one rule did with one event.

    Attributes:
        rule: the rule's id.
        applied: whether it gave something (for a refund: took something back). A rule whose
            only entries are notes that it gave nothing (``capped``: a limit left nothing;
            ``set_aside``: another rule of its exclusive group won) did not apply.
        text: the reasons of its entries, or why it gave nothing, in plain words.
        entries: its ledger entries for the event, exactly as ``evaluate`` writes them.
    """

    rule: str
    applied: bool
    text: str
    entries: tuple[LedgerEntry, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The outcome as JSON: rule, applied, text."""
        return {"rule": self.rule, "applied": self.applied, "text": self.text}


@dataclass(frozen=True, slots=True)
class EventExplanation:
    """One event and what each rule made of it, in running order.

    Attributes:
        event_id: the purchase, refund or redemption; for a gift at a date, the id of its
            ledger entries (``<rule>@<local date>``); for a referral, the friend's purchase.
        type: ``"purchase"``, ``"refund"``, ``"redemption"``, ``"gift"`` (given at a date),
            ``"referral"`` (a referred friend's first qualifying purchase) or ``"as_of"``
            (points that expired after the last event).
        at: when, in the program's time zone; for a gift, the start of its local date.
        tier: the tier the purchase was made at (for a refund: its purchase's), or None.
        amount: a purchase's gross total, what a refund paid back, the points a redemption
            spent; 0 otherwise.
        currency: the program's currency code.
        purchase_id: for a refund, the purchase it returns.
        outcomes: one per rule, in the order the engine runs them (price rules first, each
            phase by priority, an exclusive group at its first member's place).
        friend: for a referral, the friend whose purchase it was.
    """

    event_id: str
    type: Literal["purchase", "refund", "redemption", "gift", "referral", "as_of"]
    at: datetime
    tier: str | None
    amount: Decimal
    currency: str
    purchase_id: str | None
    outcomes: tuple[RuleOutcome, ...]
    friend: str | None = None

    @property
    def entries(self) -> tuple[LedgerEntry, ...]:
        """The event's ledger entries in running order, as ``evaluate`` gives them."""
        return tuple(entry for outcome in self.outcomes for entry in outcome.entries)

    def title(self, tiers: bool = True) -> str:
        """One line saying what the event was: 'Purchase p1 on 2026-05-01 15:00, 6.00 USD'.

        Args:
            tiers: whether the program has tiers: then a purchase says its tier (or none).
        """
        when = self.at.strftime("%Y-%m-%d %H:%M")
        money = f"{self.amount} {self.currency}"
        if self.type == "refund":
            return f"Refund {self.event_id} on {when} of purchase {self.purchase_id}, {money} back"
        if self.type == "redemption":
            return f"Redemption {self.event_id} on {when}, {self.amount} points spent"
        if self.type == "as_of":
            return f"Up to {when}: points that expired after the last event"
        if self.type == "gift":
            return f"Gift {self.event_id}: given at a date, not for a purchase"
        if self.type == "referral":
            friend = f"friend {self.friend}'s first qualifying purchase"
            return f"Referral {self.event_id} on {when}: {friend}"
        tier = "" if not tiers else f", at tier {self.tier}" if self.tier else ", no tier"
        return f"Purchase {self.event_id} on {when}, {money}{tier}"

    def to_json(self) -> dict[str, Any]:
        """The event's explanation as JSON (money as a string, times in ISO 8601); a
        referral also has ``friend``."""
        document = {
            "event_id": self.event_id,
            "type": self.type,
            "at": self.at.isoformat(),
            "tier": self.tier,
            "amount": str(self.amount),
            "purchase_id": self.purchase_id,
            "outcomes": [outcome.to_json() for outcome in self.outcomes],
        }
        if self.type == "referral":
            document["friend"] = self.friend
        return document


@dataclass(frozen=True, slots=True)
class CustomerExplanation:
    """A customer's account: each event explained, then how close each next reward is.

    Attributes:
        program: the program's id.
        name: the program's name.
        customer_id: the customer.
        as_of: the local date the account ends on (``as_of``, or the last event's date).
        tier: the customer's tier then, or None.
        has_tiers: whether the program has tiers at all.
        events: the explained events, in evaluation order.
        next_rewards: one sentence per rule (and the tiers) on what comes next.
    """

    program: str
    name: str
    customer_id: str
    as_of: date
    tier: str | None
    has_tiers: bool
    events: tuple[EventExplanation, ...]
    next_rewards: tuple[str, ...]

    @property
    def entries(self) -> tuple[LedgerEntry, ...]:
        """Every ledger entry of the explained events, in order."""
        return tuple(entry for event in self.events for entry in event.entries)

    def render_text(self) -> str:
        """The plain-words account: one block per event, then the next rewards."""
        blocks = [f"{self.name} ({self.program}): customer {self.customer_id}, as of {self.as_of}"]
        for event in self.events:
            rows = [
                (outcome.rule, _verb(event.type, outcome.applied), outcome.text)
                for outcome in event.outcomes
            ]
            blocks.append("\n".join([event.title(self.has_tiers), *_columns(rows)]))
        blocks.append("\n".join(["Next rewards", *(f"  {text}" for text in self.next_rewards)]))
        return "\n\n".join(blocks)

    def to_json(self) -> dict[str, Any]:
        """The account as JSON."""
        return {
            "program": self.program,
            "customer_id": self.customer_id,
            "as_of": self.as_of.isoformat(),
            "tier": self.tier,
            "events": [event.to_json() for event in self.events],
            "next_rewards": list(self.next_rewards),
        }


def _verb(event_type: str, applied: bool) -> str:
    if not applied:
        return "nothing"
    return "took back" if event_type == "refund" else "gave"


def _columns(rows: Sequence[tuple[str, str, str]]) -> list[str]:
    if not rows:
        return ["  (no rule runs at this event)"]
    widths = [max(len(row[index]) for row in rows) for index in range(2)]
    return [
        f"  {rule.ljust(widths[0])}  {verb.ljust(widths[1])}  {text}" for rule, verb, text in rows
    ]


# --- the fold -------------------------------------------------------------------------


def explain(
    program: Program,
    events: Iterable[AnyEvent],
    customer_id: str,
    *,
    customers: Iterable[Customer] | None = None,
    event_id: str | None = None,
    as_of: date | datetime | None = None,
) -> CustomerExplanation:
    """Explain one customer's rewards over a history.

    Other customers' events are ignored, except those of friends the customer referred
    (profiles whose ``referred_by`` names them): their first qualifying purchases reward
    the customer, as in ``evaluate``.

    Args:
        program: the program.
        events: the history, in any order; evaluated by (instant, id) like ``evaluate``.
        customer_id: whose account to explain.
        customers: customer profiles, as for ``evaluate`` (read by the birthday, sign-up
            and referral rules).
        event_id: explain only this event (the whole history is still replayed): a
            purchase, refund or redemption, a gift's ``<rule>@<date>`` or, for a referral,
            the friend's purchase.
        as_of: ignore later events (a date counts the whole local day), as ``evaluate``.

    Raises:
        HistoryError: the customer has no event and no ledger entry (up to ``as_of``),
            ``event_id`` is not one of theirs, an event cannot be applied, or a profile is
            given twice or refers its own customer.
        ValueError: ``as_of`` is a naive datetime.
    """
    plan = compile_program(program)
    cutoff = None if as_of is None else _Cutoff(as_of, plan)
    profiles = _profiles(customers)
    friends = {friend for friend, profile in profiles.items() if profile.referred_by == customer_id}
    others = set(profiles) - {customer_id}
    selected: list[AnyEvent] = []
    own = False
    for event in events:
        owner = event.customer_id
        if owner != customer_id:
            others.add(owner)
        if (owner == customer_id or owner in friends) and (cutoff is None or cutoff.admits(event)):
            selected.append(event)
            own = own or owner == customer_id
    replay = _Replay(plan, cutoff, profiles, customer_id)
    replay.account(customer_id)
    replay.run(selected)
    explanation = replay.accounts[customer_id].finish()
    if explanation is None or not (own or explanation.entries):
        message = f"customer {customer_id!r} has no events in the history"
        if as_of is not None:
            message += f" up to {as_of.isoformat()}"
        raise _not_found(message, customer_id, others)
    if event_id is None:
        return explanation
    chosen = tuple(
        event
        for event in explanation.events
        if event.event_id == event_id and event.type != "as_of"
    )
    if not chosen:
        known = {event.event_id for event in explanation.events if event.type != "as_of"}
        message = f"customer {customer_id!r} has no event {event_id!r}"
        raise _not_found(message, event_id, known, code="unknown-event")
    return replace(explanation, events=chosen)


def explain_all(
    program: Program,
    events: Iterable[AnyEvent],
    *,
    customers: Iterable[Customer] | None = None,
    as_of: date | datetime | None = None,
) -> dict[str, CustomerExplanation]:
    """Explain every customer of a history, by customer id (one pass over the history).

    The customers are those ``evaluate`` reports: each with an event, and each without one
    who has ledger entries (gifts at dates up to ``as_of``, rewards for referred friends).

    Raises:
        HistoryError: an event cannot be applied, or a profile is given twice or refers
            its own customer.
        ValueError: ``as_of`` is a naive datetime.
    """
    plan = compile_program(program)
    cutoff = None if as_of is None else _Cutoff(as_of, plan)
    profiles = _profiles(customers)
    selected = [event for event in events if cutoff is None or cutoff.admits(event)]
    replay = _Replay(plan, cutoff, profiles, None)
    if plan.dated and cutoff is not None:
        for customer_id in profiles:
            replay.account(customer_id)  # gifts at dates up to as_of, even without an event
    replay.run(selected)
    with_events = {event.customer_id for event in selected}
    explained = {}
    for customer_id in sorted(replay.accounts):
        explanation = replay.accounts[customer_id].finish()
        if explanation is not None and (customer_id in with_events or explanation.entries):
            explained[customer_id] = explanation
    return explained


def _not_found(
    message: str, wanted: str, known: Iterable[str], code: str = "unknown-customer"
) -> HistoryError:
    close = difflib.get_close_matches(wanted, sorted(known), n=3)
    suggestion = f"did you mean {' or '.join(repr(name) for name in close)}?" if close else None
    return HistoryError([Problem(message=message, code=code, suggestion=suggestion)])


def _event_id(event: AnyEvent) -> str:
    return event.id


def _event_at(event: AnyEvent) -> datetime:
    return event.at


class _Replay:
    """``evaluate``'s fold over the accounts to explain, and the friends who reward them.

    Events go in (instant, id) order to their customer's state; a referral fact a purchase
    raises goes at once to the referrer's account, as ``evaluate`` does. ``only`` names the
    one account to explain (the other events are then its referred friends', replayed on
    plain states); None explains everyone.
    """

    def __init__(
        self,
        plan: ProgramPlan,
        cutoff: _Cutoff | None,
        profiles: dict[str, Customer],
        only: str | None,
    ) -> None:
        self.plan = plan
        self.cutoff = cutoff
        self.profiles = profiles
        self.only = only
        self.order = _Order.of(plan)
        self.accounts: dict[str, _Explainer] = {}
        self.friends: dict[str, WorkingState] = {}

    def account(self, customer_id: str) -> _Explainer:
        """The account of a customer to explain, opened at first sight."""
        found = self.accounts.get(customer_id)
        if found is None:
            found = _Explainer(self.plan, self.order, customer_id, self.cutoff)
            found.state.profile = self.profiles.get(customer_id)
            self.accounts[customer_id] = found
        return found

    def run(self, events: list[AnyEvent]) -> None:
        """Fold the events (any order) in evaluate's order."""
        # Two stable sorts give the (instant, id) order, exactly as evaluate sorts.
        events.sort(key=_event_id)
        events.sort(key=_event_at)
        for event in events:
            owner = event.customer_id
            if self.only is None or owner == self.only:
                account = self.account(owner)
                account.apply(event)
                state = account.state
            else:
                state = self._friend(owner)
                _apply(self.plan, state, event)
            for fact in state.outbox:
                if self.only is None or fact.customer_id == self.only:
                    self.account(fact.customer_id).apply(fact, derived=True)
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

    purchase: tuple[RulePlan, ...]
    refund: tuple[RulePlan, ...]
    dated: frozenset[str]

    @classmethod
    def of(cls, plan: ProgramPlan) -> _Order:
        """Read the order from the engine's own stages: an exclusive group runs its members
        where its first member would run; a limited rule runs inside its limits."""
        running = (*plan.price_rules, *plan.earning_rules)
        by_id = {rule.rule.id: rule for rule in running}
        purchase: list[RulePlan] = []
        for _, stage in plan.purchase_steps:
            if isinstance(stage, GroupStep):
                purchase += [by_id[rule_id] for _, _, rule_id in stage.members]
            elif isinstance(stage, LimitedStep):
                purchase.append(by_id[stage.plan.rule.id])
            else:
                purchase.append(by_id[stage.rule.id])
        return cls(tuple(purchase), running, frozenset(rule.rule.id for rule in plan.dated))


class _Explainer:
    """One customer's account: applies their events with the engine and explains each."""

    def __init__(
        self, plan: ProgramPlan, order: _Order, customer_id: str, cutoff: _Cutoff | None
    ) -> None:
        self.plan = plan
        self.order = order
        self.cutoff = cutoff
        self.state = WorkingState(customer_id)
        self.explained: list[EventExplanation] = []
        self.ledger: list[LedgerEntry] = []

    def apply(self, event: AnyEvent, derived: bool = False) -> None:
        """Apply one event (``derived``: a referral fact of a friend's purchase, applied as
        evaluate applies it) and explain it, after the gifts at dates it brought."""
        if isinstance(event, Purchase):
            explanation = self._purchase(event)
        elif isinstance(event, Refund):
            explanation = self._refund(event)
        elif isinstance(event, Redemption):
            explanation = self._redemption(event)
        else:
            explanation = self._referral(event, derived)
        self.explained.append(explanation)

    def finish(self) -> CustomerExplanation | None:
        """The account up to as_of (or the last event); None without either."""
        plan, state, cutoff = self.plan, self.state, self.cutoff
        if cutoff is None and state.last_event_at is None:
            return None
        before = len(self.ledger)
        result = _result(plan, state, self.ledger, cutoff)
        # The evaluation's ledger ends with the gifts due at dates and the points that
        # expired between the last event and as_of, so the account does too.
        expired = self._gifts(self.ledger[before:])
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
        if derived:
            entries: list[LedgerEntry] = []
            _fold_event(self.plan, self.state, event, entries)
        else:
            entries = _apply(self.plan, self.state, event)  # raises for a bad event
        self.ledger += entries
        return self._gifts(entries)

    def _gifts(self, entries: list[LedgerEntry]) -> list[LedgerEntry]:
        """Explain the gifts at dates at the head of an event's entries, each with the
        expiries just before it; return the entries after the last gift."""
        dated = self.order.dated
        last = max(
            (index for index, entry in enumerate(entries) if entry.rule in dated), default=-1
        )
        waiting: list[LedgerEntry] = []
        for entry in entries[: last + 1]:
            if entry.rule not in dated:
                waiting.append(entry)  # an expiry before the gift
                continue
            outcomes = (*_lifecycle_outcomes(waiting), _given(entry.rule, [entry]))
            gift = EventExplanation(
                entry.event_id, "gift", self._day_of(entry), None, Decimal(0),
                self.plan.money.code, None, outcomes,
            )  # fmt: skip
            self.explained.append(gift)
            waiting = []
        return entries[last + 1 :]

    def _day_of(self, gift: LedgerEntry) -> datetime:
        """The start of the local date a gift's id names (``<rule>@<date>``)."""
        day = date.fromisoformat(gift.event_id.rpartition("@")[2])
        return datetime.combine(day, time(0), self.plan.zone)

    def _referral(self, fact: ReferralQualified, derived: bool) -> EventExplanation:
        entries = self._run(fact, derived)
        rewarded = [entry for entry in entries if entry.kind not in _LIFECYCLE]
        outcomes = _with_lifecycle(
            tuple(_given(rule, given) for rule, given in _by_rule(rewarded).items()), entries
        )
        return EventExplanation(
            fact.id, "referral", fact.at.astimezone(self.plan.zone), None, Decimal(0),
            self.plan.money.code, None, outcomes, fact.referred,
        )  # fmt: skip

    def _redemption(self, event: Redemption) -> EventExplanation:
        entries = self._run(event)
        spent = sum(-(entry.points or 0) for entry in entries if entry.kind == "redemption")
        return EventExplanation(
            event.id, "redemption", event.at.astimezone(self.plan.zone), None,
            Decimal(spent), self.plan.money.code, None, _lifecycle_outcomes(entries),
        )  # fmt: skip

    def _purchase(self, event: Purchase) -> EventExplanation:
        state, money, zone = self.state, self.plan.money, self.plan.zone
        stamps = dict(state.stamps)
        entries = self._run(event)
        given = _by_rule(entries)
        record = state.purchases[event.id]
        outcomes = _with_lifecycle(
            tuple(
                _outcome(rule, given.get(rule.rule.id), record, stamps, state, None, zone)
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
        earlier = state.purchases.get(event.purchase_id)
        units_before = [] if earlier is None else list(earlier.refunded_units)
        amounts_before = [] if earlier is None else list(earlier.refunded_amount)
        entries = self._run(event)  # raises for an unknown purchase
        given = _by_rule(entries)
        record = state.purchases[event.purchase_id]
        back = [now - then for now, then in zip(record.refunded_amount, amounts_before)]
        refunded = Returned(units_before, back)
        outcomes = _with_lifecycle(
            tuple(
                _outcome(rule, given.get(rule.rule.id), record, stamps, state, refunded, zone)
                for rule in self.order.refund
            ),
            entries,
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
    rule: RulePlan,
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
        return _given(rule.rule.id, entries)
    if refunded is None:
        return RuleOutcome(rule.rule.id, False, why_not(rule, record, stamps, state, zone))
    return RuleOutcome(rule.rule.id, False, refund_text(rule, record, stamps, refunded, state))
