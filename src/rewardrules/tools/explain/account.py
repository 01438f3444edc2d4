"""What :func:`rewardrules.tools.explain.explanation.explain` returns, and how it is shown as text
and JSON.

An account (:class:`CustomerExplanation`) is a list of explained events
(:class:`EventExplanation`), each with one outcome per rule (:class:`RuleOutcome`), then
one sentence per rule on what comes next. These are plain values: the replay that fills
them is :mod:`rewardrules.tools.explain.replay`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from rewardrules.engine.ledger import ExpiryDue, LedgerEntry
from rewardrules.text import counted

__all__ = ["CustomerExplanation", "EventExplanation", "RuleOutcome"]


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

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON: rule, applied, text."""
        return {"rule": self.rule, "applied": self.applied, "text": self.text}


@dataclass(frozen=True, slots=True)
class EventExplanation:
    """One event and what each rule made of it, in running order.

    Attributes:
        event_id: the purchase, refund or redemption; for a gift at a date, the id of its
            ledger entries (``<rule>@<local date>``); for a referral, the friend's purchase.
        type: ``"purchase"``, ``"refund"``, ``"redemption"``, ``"cancel_redemption"``,
            ``"gift"`` (given at a date), ``"referral"`` (a referred friend's first
            qualifying purchase), ``"as_of"`` (points that expired after the last event) or
            ``"opening"`` (a lot of a migrated customer's opening balance, ``opening#<n>``).
        at: when, in the program's time zone; for a gift, the start of its local date.
        tier: the tier the purchase was made at (for a refund: its purchase's), or None.
        amount: a purchase's gross total, what a refund paid back, the points a redemption
            spent, the points a cancellation gave back; 0 otherwise.
        currency: the program's currency code.
        purchase_id: for a refund, the purchase it returns; for a cancellation, the
            redemption it cancels; for a referral a refund reversed within its hold
            (``hold_for``), that refund.
        outcomes: one per rule, in the order the engine runs them (price rules first, each
            phase by priority, an exclusive group at its first member's place).
        friend: for a referral, the friend whose purchase it was.
    """

    event_id: str
    type: Literal[
        "purchase",
        "refund",
        "redemption",
        "cancel_redemption",
        "gift",
        "referral",
        "as_of",
        "opening",
    ]
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
        if self.type == "cancel_redemption":
            return (
                f"Cancellation {self.event_id} on {when} of redemption {self.purchase_id}, "
                f"{self.amount} points back"
            )
        if self.type == "as_of":
            return f"Up to {when}: points that expired after the last event"
        if self.type == "opening":
            day = self.at.date().isoformat()
            return f"Opening balance {self.event_id}: earned on {day}, before the history"
        if self.type == "gift":
            return f"Gift {self.event_id}: given at a date, not for a purchase"
        if self.type == "referral" and self.purchase_id is not None:
            refund = f"friend {self.friend}'s refund {self.purchase_id} within the hold"
            return f"Referral {self.event_id} reversed on {when}: {refund}"
        if self.type == "referral":
            friend = f"friend {self.friend}'s first qualifying purchase"
            return f"Referral {self.event_id} on {when}: {friend}"
        tier = "" if not tiers else f", at tier {self.tier}" if self.tier else ", no tier"
        return f"Purchase {self.event_id} on {when}, {money}{tier}"

    def to_dict(self) -> dict[str, Any]:
        """The event's explanation as JSON (money as a string, times in ISO 8601); a
        referral also has ``friend``."""
        document = {
            "event_id": self.event_id,
            "type": self.type,
            "at": self.at.isoformat(),
            "tier": self.tier,
            "amount": str(self.amount),
            "purchase_id": self.purchase_id,
            "outcomes": [outcome.to_dict() for outcome in self.outcomes],
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
        upcoming_expiry: the points left that will expire, summed per local date.
        points_name: what the program calls its points.
    """

    program: str
    name: str
    customer_id: str
    as_of: date
    tier: str | None
    has_tiers: bool
    events: tuple[EventExplanation, ...]
    next_rewards: tuple[str, ...]
    upcoming_expiry: tuple[ExpiryDue, ...] = ()
    points_name: str = "points"

    @property
    def entries(self) -> tuple[LedgerEntry, ...]:
        """Every ledger entry of the explained events, in order."""
        return tuple(entry for event in self.events for entry in event.entries)

    def render_text(self) -> str:
        """The plain-words account: one block per event, then the next rewards."""
        blocks = [f"{self.name} ({self.program}): customer {self.customer_id}, as of {self.as_of}"]
        for event in self.events:
            rows = [
                (outcome.rule, _verb(event.type, outcome), outcome.text)
                for outcome in event.outcomes
            ]
            blocks.append("\n".join([event.title(self.has_tiers), *_columns(rows)]))
        blocks.append("\n".join(["Next rewards", *(f"  {text}" for text in self.next_rewards)]))
        if self.upcoming_expiry:
            blocks.append(
                "\n".join(
                    [
                        "Upcoming expiry",
                        *(
                            f"  {counted(due.points, self.points_name)} expire on "
                            f"{due.on.isoformat()}"
                            for due in self.upcoming_expiry
                        ),
                    ]
                )
            )
        return "\n\n".join(blocks)

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text, indented by 2, as the command line prints it."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_dict(self) -> dict[str, Any]:
        """The account as JSON."""
        return {
            "program": self.program,
            "customer_id": self.customer_id,
            "as_of": self.as_of.isoformat(),
            "tier": self.tier,
            "events": [event.to_dict() for event in self.events],
            "next_rewards": list(self.next_rewards),
            "upcoming_expiry": [due.to_dict() for due in self.upcoming_expiry],
        }


_VERBS = {
    "expiry": "expired",
    "written_off": "wrote off",
    "redemption": "spent",
    "rejected": "refused",
    "opening": "brought",
}
"""Rows whose entries are all of one of these kinds say what happened, not 'gave'."""


INACTIVITY_NOTE = "points.expire_on_inactivity"
"""The rule of the row that notes an event moved the inactivity deadline (it gives nothing)."""


def _verb(event_type: str, outcome: RuleOutcome) -> str:
    if outcome.rule == INACTIVITY_NOTE and not outcome.entries:
        return "activity"
    if not outcome.applied:
        return "nothing"
    kinds = {entry.kind for entry in outcome.entries}
    if event_type == "cancel_redemption":
        # Its written_off entries are points written off that the points back recovered.
        return "recovered" if kinds == {"written_off"} else "gave back"
    if len(kinds) == 1 and (kind := kinds.pop()) in _VERBS:
        return _VERBS[kind]
    return "took back" if event_type == "refund" else "gave"


def _columns(rows: Sequence[tuple[str, str, str]]) -> list[str]:
    if not rows:
        return ["  (no rule runs at this event)"]
    widths = [max(len(row[index]) for row in rows) for index in range(2)]
    return [
        f"  {rule.ljust(widths[0])}  {verb.ljust(widths[1])}  {text}" for rule, verb, text in rows
    ]
