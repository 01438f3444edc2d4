"""Refunds of purchases a saved state keeps, when resuming (``states=``).

A purchase made before the saved state is not a row of the frame: the state keeps what a
refund needs of it (its lines, what each was paid, what each rule gave it). Such refunds
are few, and each depends on the refunds of its purchase before it, so they run one by
one, customer by customer, through the reference engine's own steps: the purchase opened
from the state (``WorkingState.record``), ``refunded_lines`` (same units, amounts and
messages), and each rule's ``refund`` (its entries, with the reference's reasons), on a
working state restored from the saved one that nothing else touches. What they give the
columns: per refund, the rules' entries (and the points they take back, for the points
account), the units a punch card loses (its count is a column, floored at its last card
in ``CardColumns.counts``), whether the refund empties its purchase (for
``expire_on_inactivity``), and each refunded purchase as the state saves it afterwards.

``refunds.within`` is checked as the reference checks it: a saved purchase is forgotten by
the first new purchase of its customer whose instant is past its window (never the newest),
and a refund after its window is late.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from rewardrules.engine._state_columns import SavedPurchase
from rewardrules.engine._state_format import instant, micros
from rewardrules.engine._state_save import saved_row
from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.state import CustomerState
from rewardrules.engine.working_state import PurchaseRecord, WorkingState, tier_amount
from rewardrules.errors import HistoryError, event_error
from rewardrules.evaluation.batch._frame import Frame
from rewardrules.evaluation.fold import forgotten_message, refund_purchase
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.events import ReferralQualified, Refund, RefundLine
from rewardrules.kinds.every_nth_free import PunchCardPlan
from rewardrules.kinds.partner_gift_card import GiftCardPlan


@dataclass(slots=True)
class SavedRefunds:
    """The frame's refunds of purchases kept in saved states, as the reference applies them."""

    events: frozenset[int] = frozenset()
    """The refunds (events) of saved purchases."""
    entries: dict[int, list[LedgerEntry]] = field(default_factory=dict)
    """Per such refund, the rules' entries, in running order."""
    gone: dict[str, dict[int, int]] = field(default_factory=dict)
    """Per punch card rule, per refund, the units (or visit) it takes off the card."""
    emptied: frozenset[int] = frozenset()
    """The refunds after which their saved purchase is refunded in full."""
    rows: dict[str, dict[str, SavedPurchase]] = field(default_factory=dict)
    """Per customer, each refunded saved purchase as the state saves it afterwards."""
    windows: dict[str, dict[int, tuple[str, int, int]]] = field(default_factory=dict)
    """Per partner gift card rule, per such refund: the window key of its purchase, that
    purchase's local date (an ordinal) and the qualifying spend it gives back."""
    tier_amounts: dict[int, tuple[str, int]] = field(default_factory=dict)
    """Per such refund, its purchase and what that counts toward tiers after it."""
    purchases: dict[int, tuple[str, int]] = field(default_factory=dict)
    """Per such refund, its purchase's id and local date (an ordinal)."""
    facts: dict[int, list[ReferralQualified]] = field(default_factory=dict)
    """Per such refund that reverses a friend's held referral (``referral._refund``), the
    facts it raises for the referrers (``reversed_by``)."""
    holds: dict[int, dict[str, tuple[str, datetime, str | None, bool]]] = field(
        default_factory=dict
    )
    """Per such refund, the friend's hold of each rule it reversed, as the kind module
    leaves it (``WorkingState.friend_holds``: the gift kept)."""
    error: tuple[tuple[int, str], HistoryError] | None = None
    """The first of these refunds (by instant, then id) the reference refuses, with its
    error: raised once the columns' refunds before it are known to be accepted."""


def saved_refunds(
    plan: ProgramPlan,
    frame: Frame,
    saved: Mapping[str, CustomerState],
    restored: Callable[[str], WorkingState],
    moment: Callable[[int], datetime],
) -> SavedRefunds:
    """Apply the frame's refunds of saved purchases (``restored(customer_id)`` gives a
    fresh working state; ``moment(event)`` an event's instant as written).

    A refund the reference refuses (a sku or units the purchase does not have, a purchase
    refunded in full, a late refund, a forgotten purchase) is kept as ``error``, the first
    by instant and id; its customer's later refunds are not applied.
    """
    found = SavedRefunds()
    if not saved:
        return found
    refunds = frame.flags_of("refund")
    purchases = frame.flags_of("purchase")
    ids = frame.event_ids
    events: list[int] = []
    emptied: list[int] = []
    within = plan.refunds_within
    for customer, customer_id in enumerate(frame.customer_ids):
        kept = saved.get(customer_id)
        if kept is None:
            continue
        start, end = int(frame.customer_start[customer]), int(frame.customer_start[customer + 1])
        state: WorkingState | None = None
        saved_ids = {row.id: row for row in kept.purchases}
        latest: int | None = None  # the instant of the customer's latest new purchase
        bought: set[str] = set()
        event = start
        try:
            for event in range(start, end):
                if purchases[event]:
                    latest = int(frame.at[event])
                    bought.add(ids[event])
                    continue
                purchase_id = frame.purchase_id[event].as_py() if refunds[event] else None
                if purchase_id is None or purchase_id in bought:
                    continue  # not a refund, or of a new purchase: the columns'
                row = saved_ids.get(purchase_id)
                refund = _refund(frame, event, customer_id, purchase_id, moment(event))
                if row is None or _forgotten(plan, row, latest):
                    forgotten = kept.forgotten_until is not None or (
                        latest is not None and _any_forgotten(plan, kept, latest)
                    )
                    if within is not None and forgotten:
                        raise event_error(
                            ids[event], forgotten_message(refund, within.text), "purchase_id"
                        )
                    continue  # an unknown purchase: the columns raise the reference's error
                if state is None:
                    state = restored(customer_id)
                record = _apply(plan, state, refund, event, found)
                events.append(event)
                if record.fully_refunded():
                    emptied.append(event)
                found.rows.setdefault(customer_id, {})[purchase_id] = saved_row(record)
                found.tier_amounts[event] = (purchase_id, tier_amount(record, plan.tiers))
        except HistoryError as error:  # raised in the reference's order (``Computation``)
            key = (int(frame.at[event]), str(ids[event]))
            events.append(event)  # not the columns' to refuse again
            if found.error is None or key < found.error[0]:
                found.error = (key, error)
    found.events = frozenset(events)
    found.emptied = frozenset(emptied)
    return found


def _apply(
    plan: ProgramPlan, state: WorkingState, refund: Refund, event: int, found: SavedRefunds
) -> PurchaseRecord:
    """One refund of a saved purchase, through the reference's own refund step
    (``fold.refund_purchase``; the points account is the columns' to replay): its entries,
    a punch card's units and a partner gift card's spend given back into ``found``; the
    purchase's record after it. Those last two are read after every rule's refund step,
    which changes neither the record's units nor its ``earned_on``."""
    record = state.record(refund.purchase_id)
    assert record is not None  # noqa: S101 -- a kept purchase opens
    before, refunded, taken = refund_purchase(plan, state, record, refund)
    for rule in plan.running:
        if record.set_aside and rule.id in record.set_aside:
            continue  # the purchase never counted for a rule set aside at it
        if isinstance(rule.plan, PunchCardPlan):
            lost = _card_units(rule.plan, record, before, record.refunded_units)
            if lost:
                found.gone.setdefault(rule.id, {})[event] = lost
        elif isinstance(rule.plan, GiftCardPlan):
            # As the kind's refund step reads it (``partner_gift_card._refund``).
            shares = refunded
            if rule.id in record.earned_on:
                shares = record.refunded_of(rule.id, record.refunded_units, before)
            spend = rule.plan.qualifying_spend(record.context, shares)
            if spend:
                key = rule.plan.window_of(record.context)
                day = record.local_date.toordinal()
                found.windows.setdefault(rule.id, {})[event] = (key, day, spend)
    found.entries[event] = taken
    if state.outbox:  # a friend's held referral reversed: the referrers' facts
        found.facts[event] = list(state.outbox)
        found.holds[event] = {fact.rule: state.friend_holds[fact.rule] for fact in state.outbox}
        state.outbox.clear()
    found.purchases[event] = (refund.purchase_id, record.local_date.toordinal())
    return record


def _forgotten(plan: ProgramPlan, row: SavedPurchase, latest: int | None) -> bool:
    """Whether a new purchase at ``latest`` (or before) forgot a saved purchase."""
    within = plan.refunds_within
    if within is None or latest is None:
        return False
    ends = within.after(instant(row.at, row.offset), plan.zone)
    return micros(ends) < latest


def _any_forgotten(plan: ProgramPlan, kept: CustomerState, latest: int) -> bool:
    """Whether a new purchase at ``latest`` forgot the state's first kept purchase."""
    return bool(kept.purchases) and _forgotten(plan, kept.purchases[0], latest)


def _card_units(card: PunchCardPlan, record: Any, before: list[int], after: list[int]) -> int:
    """The units (or visit) a refund takes off a punch card (``refund_every_nth``)."""
    qualifying = card.qualifying_units(record.context)
    left_before = sum(units - done for units, done in zip(qualifying, before) if units)
    left_now = sum(units - done for units, done in zip(qualifying, after) if units)
    if card.counts_visits:
        return 1 if left_before > 0 and left_now == 0 else 0
    return left_before - left_now


def _refund(frame: Frame, event: int, customer_id: str, purchase_id: str, at: datetime) -> Refund:
    """The refund event as the reference reads it."""
    start, end = int(frame.line_start[event]), int(frame.line_start[event + 1])
    skus = frame.sku.texts(start, end)
    lines: tuple[RefundLine, ...] | None
    if end - start == 1 and skus[0] is None:
        lines = None
    else:
        quantities = frame.quantity[start:end].tolist()
        lines = tuple(
            RefundLine.model_construct(sku=cast(str, sku), quantity=units)
            for sku, units in zip(skus, quantities)
        )
    return Refund.model_construct(
        id=frame.event_ids[event],
        customer_id=customer_id,
        at=at,
        purchase_id=purchase_id,
        lines=lines,
    )
