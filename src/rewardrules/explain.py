"""Why a customer got (or did not get) each reward, purchase by purchase, in plain words.

:func:`explain` replays one customer's events with the engine's own step (so every ledger
entry is the one :func:`rewardrules.evaluate` gives) and, around each step, reads the state
before and after: for each rule in running order, what it gave, or the first reason it gave
nothing. It ends with how close the customer is to the next reward of each rule. The words
themselves (why a rule gave nothing, what a refund took back, what comes next) are in
:mod:`rewardrules._explain_words`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from rewardrules._explain_words import Returned, next_rewards, refund_text, why_not
from rewardrules.engine import _apply, _Cutoff, _result, compile_program
from rewardrules.errors import HistoryError, Problem
from rewardrules.events import AnyEvent, Purchase, Redemption, Refund
from rewardrules.ledger import LedgerEntry
from rewardrules.plan import ProgramPlan, RulePlan
from rewardrules.program import Program
from rewardrules.state import PurchaseRecord, WorkingState

__all__ = ["CustomerExplanation", "EventExplanation", "RuleOutcome", "explain", "explain_all"]


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What one rule did with one event.

    Attributes:
        rule: the rule's id.
        applied: whether it gave something (for a refund: took something back).
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
        event_id: the purchase or refund.
        type: ``"purchase"`` or ``"refund"``.
        at: when, in the program's time zone.
        tier: the tier the purchase was made at (for a refund: its purchase's), or None.
        amount: a purchase's gross total, or what a refund paid back.
        currency: the program's currency code.
        purchase_id: for a refund, the purchase it returns.
        outcomes: one per rule, price rules first, each phase by priority.
    """

    event_id: str
    type: Literal["purchase", "refund", "redemption", "as_of"]
    at: datetime
    tier: str | None
    amount: Decimal
    currency: str
    purchase_id: str | None
    outcomes: tuple[RuleOutcome, ...]

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
        tier = "" if not tiers else f", at tier {self.tier}" if self.tier else ", no tier"
        return f"Purchase {self.event_id} on {when}, {money}{tier}"

    def to_json(self) -> dict[str, Any]:
        """The event's explanation as JSON (money as a string, times in ISO 8601)."""
        return {
            "event_id": self.event_id,
            "type": self.type,
            "at": self.at.isoformat(),
            "tier": self.tier,
            "amount": str(self.amount),
            "purchase_id": self.purchase_id,
            "outcomes": [outcome.to_json() for outcome in self.outcomes],
        }


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
        return ["  (the program has no rules)"]
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
    event_id: str | None = None,
    as_of: date | datetime | None = None,
) -> CustomerExplanation:
    """Explain one customer's rewards over a history (other customers' events are ignored).

    Args:
        program: the program.
        events: the history, in any order; evaluated by (instant, id) like ``evaluate``.
        customer_id: whose account to explain.
        event_id: explain only this event (the whole history is still replayed).
        as_of: ignore later events (a date counts the whole local day), as ``evaluate``.

    Raises:
        HistoryError: the customer has no event (up to ``as_of``), ``event_id`` is not one of
            theirs, or an event cannot be applied.
        ValueError: ``as_of`` is a naive datetime.
    """
    plan = compile_program(program)
    cutoff = None if as_of is None else _Cutoff(as_of, plan)
    others: set[str] = set()
    mine = []
    for event in events:
        if event.customer_id != customer_id:
            others.add(event.customer_id)
        elif cutoff is None or cutoff.admits(event):
            mine.append(event)
    if not mine:
        message = f"customer {customer_id!r} has no events in the history"
        if as_of is not None:
            message += f" up to {as_of.isoformat()}"
        raise _not_found(message, customer_id, others)
    if event_id is not None and all(event.id != event_id for event in mine):
        known = {event.id for event in mine}
        message = f"customer {customer_id!r} has no event {event_id!r}"
        raise _not_found(message, event_id, known, code="unknown-event")
    return _Explainer(plan, customer_id, cutoff).run(mine, event_id)


def explain_all(
    program: Program,
    events: Iterable[AnyEvent],
    *,
    as_of: date | datetime | None = None,
) -> dict[str, CustomerExplanation]:
    """Explain every customer of a history, by customer id (one pass over the history).

    Raises:
        HistoryError: an event cannot be applied.
        ValueError: ``as_of`` is a naive datetime.
    """
    plan = compile_program(program)
    cutoff = None if as_of is None else _Cutoff(as_of, plan)
    by_customer: dict[str, list[AnyEvent]] = {}
    for event in events:
        if cutoff is None or cutoff.admits(event):
            by_customer.setdefault(event.customer_id, []).append(event)
    return {
        customer_id: _Explainer(plan, customer_id, cutoff).run(by_customer[customer_id], None)
        for customer_id in sorted(by_customer)
    }


def _not_found(
    message: str, wanted: str, known: Iterable[str], code: str = "unknown-customer"
) -> HistoryError:
    close = difflib.get_close_matches(wanted, sorted(known), n=3)
    suggestion = f"did you mean {' or '.join(repr(name) for name in close)}?" if close else None
    return HistoryError([Problem(message=message, code=code, suggestion=suggestion)])


class _Explainer:
    """Replays one customer's events through the engine and explains each step."""

    def __init__(self, plan: ProgramPlan, customer_id: str, cutoff: _Cutoff | None) -> None:
        self.plan = plan
        self.cutoff = cutoff
        self.state = WorkingState(customer_id)
        self.rules = (*plan.price_rules, *plan.earning_rules)

    def run(self, events: list[AnyEvent], only: str | None) -> CustomerExplanation:
        events = sorted(sorted(events, key=lambda event: event.id), key=lambda event: event.at)
        explained, ledger = [], []
        for event in events:
            entries, explanation = self.step(event)
            ledger += entries
            if only is None or event.id == only:
                explained.append(explanation)
        plan, state = self.plan, self.state
        before_cutoff = len(ledger)
        result = _result(plan, state, ledger, self.cutoff)
        if len(ledger) > before_cutoff and self.cutoff is not None and only is None:
            # Points that expired between the last event and as_of: the evaluation's ledger
            # ends with them, so the account does too.
            explained.append(
                EventExplanation(
                    "as_of",
                    "as_of",
                    self.cutoff.instant.astimezone(plan.zone),
                    None,
                    Decimal(0),
                    plan.money.code,
                    None,
                    _lifecycle_outcomes(ledger[before_cutoff:]),
                )
            )
        if self.cutoff is not None:
            instant, local_date = self.cutoff.instant, self.cutoff.local_date
        else:
            instant = events[-1].at
            local_date = instant.astimezone(plan.zone).date()
        return CustomerExplanation(
            program=plan.program.program,
            name=plan.program.name,
            customer_id=state.customer_id,
            as_of=local_date,
            tier=result.tier,
            has_tiers=plan.tiers is not None,
            events=tuple(explained),
            next_rewards=tuple(next_rewards(plan, state, instant, local_date)),
        )

    def step(self, event: AnyEvent) -> tuple[list[LedgerEntry], EventExplanation]:
        """Apply one event with the engine's step; explain it from the state around it."""
        if isinstance(event, Purchase):
            return self._purchase(event)
        if isinstance(event, Redemption):
            return self._redemption(event)
        return self._refund(event)

    def _redemption(self, event: Redemption) -> tuple[list[LedgerEntry], EventExplanation]:
        entries = _apply(self.plan, self.state, event)
        money = self.plan.money
        spent = sum(-(entry.points or 0) for entry in entries if entry.kind == "redemption")
        explanation = EventExplanation(
            event.id, "redemption", event.at.astimezone(self.plan.zone), None,
            Decimal(spent), money.code, None, _lifecycle_outcomes(entries),
        )  # fmt: skip
        return entries, explanation

    def _purchase(self, event: Purchase) -> tuple[list[LedgerEntry], EventExplanation]:
        state, money = self.state, self.plan.money
        stamps = dict(state.stamps)
        entries = _apply(self.plan, state, event)
        given = _by_rule(entries)
        record = state.purchases[event.id]
        outcomes = _with_lifecycle(
            tuple(
                _outcome(rule, given.get(rule.rule.id), record, stamps, state, None)
                for rule in self.rules
            ),
            entries,
        )
        explanation = EventExplanation(
            event.id, "purchase", event.at.astimezone(self.plan.zone), record.context.tier,
            money.to_decimal(record.context.gross_total), money.code, None, outcomes,
        )  # fmt: skip
        return entries, explanation

    def _refund(self, event: Refund) -> tuple[list[LedgerEntry], EventExplanation]:
        state, money = self.state, self.plan.money
        stamps = dict(state.stamps)
        earlier = state.purchases.get(event.purchase_id)
        units_before = [] if earlier is None else list(earlier.refunded_units)
        amounts_before = [] if earlier is None else list(earlier.refunded_amount)
        entries = _apply(self.plan, state, event)  # raises for an unknown purchase
        given = _by_rule(entries)
        record = state.purchases[event.purchase_id]
        back = [now - then for now, then in zip(record.refunded_amount, amounts_before)]
        refunded = Returned(units_before, back)
        outcomes = _with_lifecycle(
            tuple(
                _outcome(rule, given.get(rule.rule.id), record, stamps, state, refunded)
                for rule in self.rules
            ),
            entries,
        )
        explanation = EventExplanation(
            event.id, "refund", event.at.astimezone(self.plan.zone), record.context.tier,
            money.to_decimal(sum(back)), money.code, event.purchase_id, outcomes,
        )  # fmt: skip
        return entries, explanation


def _lifecycle_outcomes(entries: list[LedgerEntry]) -> tuple[RuleOutcome, ...]:
    """Entries of the points lifecycle (expiry, redemption, write-off), one outcome each."""
    lifecycle = ("redemption", "rejected", "expiry", "written_off")
    return tuple(
        RuleOutcome(entry.rule, entry.kind != "rejected", entry.reason, (entry,))
        for entry in entries
        if entry.kind in lifecycle
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


def _outcome(
    rule: RulePlan,
    entries: list[LedgerEntry] | None,
    record: PurchaseRecord,
    stamps: dict[str, int],
    state: WorkingState,
    refunded: Returned | None,
) -> RuleOutcome:
    """What a rule gave (its entries' reasons), or why it gave nothing, for one event.

    ``stamps`` are the punch-card counts before the event; ``record`` is the purchase (or
    the refunded purchase) after it; ``refunded`` is None for a purchase.
    """
    if entries:
        text = "; ".join(entry.reason for entry in entries)
        return RuleOutcome(rule.rule.id, True, text, tuple(entries))
    if refunded is None:
        return RuleOutcome(rule.rule.id, False, why_not(rule, record, stamps, state))
    return RuleOutcome(rule.rule.id, False, refund_text(rule, record, stamps, refunded, state))
