"""Why a customer got (or did not get) each reward, purchase by purchase, in plain words.

:func:`explain` replays one customer's events with the engine's own step (so every ledger
entry is the one :func:`rewardrules.evaluate` gives) and, around each step, reads the state
before and after: for each rule in running order, what it gave, or the first reason it gave
nothing. It ends with how close the customer is to the next reward of each rule.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from rewardrules.engine import _apply, _Cutoff, _result, compile_program
from rewardrules.errors import HistoryError, Problem
from rewardrules.events import Purchase, Refund
from rewardrules.kinds._words import counted, plain_number
from rewardrules.kinds.every_nth_free import PunchCardPlan
from rewardrules.kinds.partner_gift_card import EMPTY_WINDOW, GiftCardPlan
from rewardrules.kinds.points_per_spend import PointsPlan
from rewardrules.kinds.tiered_discount import TieredDiscountPlan
from rewardrules.ledger import LedgerEntry
from rewardrules.plan import ProgramPlan, RulePlan
from rewardrules.program import Filter, PercentOff, Program, VoucherReward
from rewardrules.scope import PurchaseContext
from rewardrules.state import PurchaseRecord, WorkingState
from rewardrules.tiers import calendar_key

__all__ = ["CustomerExplanation", "EventExplanation", "RuleOutcome", "explain", "explain_all"]

_NOTHING_LEFT = "nothing was left to pay on the matching lines after earlier rules"


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
    type: Literal["purchase", "refund"]
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
    events: Iterable[Purchase | Refund],
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
    events: Iterable[Purchase | Refund],
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
    by_customer: dict[str, list[Purchase | Refund]] = {}
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

    def run(self, events: list[Purchase | Refund], only: str | None) -> CustomerExplanation:
        events = sorted(sorted(events, key=lambda event: event.id), key=lambda event: event.at)
        explained, ledger = [], []
        for event in events:
            entries, explanation = self.step(event)
            ledger += entries
            if only is None or event.id == only:
                explained.append(explanation)
        plan, state = self.plan, self.state
        result = _result(plan, state, ledger, self.cutoff)
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
            next_rewards=tuple(_next_rewards(plan, state, instant, local_date)),
        )

    def step(self, event: Purchase | Refund) -> tuple[list[LedgerEntry], EventExplanation]:
        """Apply one event with the engine's step; explain it from the state around it."""
        if isinstance(event, Purchase):
            return self._purchase(event)
        return self._refund(event)

    def _purchase(self, event: Purchase) -> tuple[list[LedgerEntry], EventExplanation]:
        state, money = self.state, self.plan.money
        stamps = dict(state.stamps)
        entries = _apply(self.plan, state, event)
        given = _by_rule(entries)
        record = state.purchases[event.id]
        outcomes = tuple(
            _outcome(rule, given.get(rule.rule.id), record, stamps, state, None)
            for rule in self.rules
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
        refunded = _Returned(units_before, back)
        outcomes = tuple(
            _outcome(rule, given.get(rule.rule.id), record, stamps, state, refunded)
            for rule in self.rules
        )
        explanation = EventExplanation(
            event.id, "refund", event.at.astimezone(self.plan.zone), record.context.tier,
            money.to_decimal(sum(back)), money.code, event.purchase_id, outcomes,
        )  # fmt: skip
        return entries, explanation


def _by_rule(entries: list[LedgerEntry]) -> dict[str, list[LedgerEntry]]:
    given: dict[str, list[LedgerEntry]] = {}
    for entry in entries:
        given.setdefault(entry.rule, []).append(entry)
    return given


@dataclass(frozen=True, slots=True)
class _Returned:
    """Units refunded per line before a refund, and the amounts this refund gave back."""

    units_before: list[int]
    amounts: list[int]


def _outcome(
    rule: RulePlan,
    entries: list[LedgerEntry] | None,
    record: PurchaseRecord,
    stamps: dict[str, int],
    state: WorkingState,
    refunded: _Returned | None,
) -> RuleOutcome:
    """What a rule gave (its entries' reasons), or why it gave nothing, for one event.

    ``stamps`` are the punch-card counts before the event; ``record`` is the purchase (or
    the refunded purchase) after it; ``refunded`` is None for a purchase.
    """
    if entries:
        text = "; ".join(entry.reason for entry in entries)
        return RuleOutcome(rule.rule.id, True, text, tuple(entries))
    if refunded is None:
        return RuleOutcome(rule.rule.id, False, _why_not(rule, record, stamps, state))
    return RuleOutcome(rule.rule.id, False, _refund_text(rule, record, stamps, refunded, state))


# --- why a rule gave nothing for a purchase -------------------------------------------


def _why_not(
    rule: RulePlan, record: PurchaseRecord, stamps: dict[str, int], state: WorkingState
) -> str:
    context = record.context
    refusal = _scope_refusal(rule, context)
    if refusal is not None:
        return refusal
    if isinstance(rule, PointsPlan):
        return _points_why_not(rule, record)
    if isinstance(rule, PunchCardPlan):
        rule_id = rule.rule.id
        return _punch_card_why_not(rule, stamps.get(rule_id, 0), state.stamps.get(rule_id, 0))
    if isinstance(rule, GiftCardPlan):
        return _gift_card_why_not(rule, record, state)
    return _discount_why_not(rule, record)


def _scope_refusal(rule: RulePlan, context: PurchaseContext) -> str | None:
    """The first condition of the rule's dates and filter that the purchase fails."""
    scope, when, money = rule.scope, rule.rule.when, rule.money
    local_date, purchase = context.local_date, context.purchase
    if scope.starts is not None and local_date < scope.starts:
        return f"outside its dates (it starts {scope.starts})"
    if scope.ends is not None and local_date > scope.ends:
        return f"outside its dates (it ended {scope.ends})"
    if scope.min_total is not None and context.gross_total < scope.min_total:
        return (
            f"the purchase total {money.format(context.gross_total)} is below the minimum "
            f"{money.format(scope.min_total)}"
        )
    if when.stores is not None and purchase.store not in when.stores:
        if purchase.store is None:
            return f"made in no store, it needs {_one_of(when.stores)}"
        return f"made in store {purchase.store}, not one of {', '.join(when.stores)}"
    if scope.weekdays is not None and context.weekday not in scope.weekdays:
        return f"not on a listed weekday ({', '.join(when.weekdays or ())})"
    if when.dates is not None and local_date not in when.dates:
        return f"not on one of its dates ({', '.join(str(day) for day in when.dates)})"
    if when.tiers is not None and context.tier not in when.tiers:
        if context.tier is None:
            return f"no tier yet, it needs {_one_of(when.tiers)}"
        return f"tier {context.tier} is not one of {', '.join(when.tiers)}"
    if not scope.admits(context):  # the engine's own check decides; the words above explain
        return "the purchase does not pass its filter"
    matching = [scope.matches_line(line) for line in purchase.lines]
    if not any(matching):
        return f"no line of the purchase matches ({_line_filter_words(when)})"
    if not any(price for price, match in zip(context.unit_prices, matching) if match):
        return "the matching lines cost nothing (zero-priced lines never count)"
    return None


def _one_of(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"one of {', '.join(names)}"


def _line_filter_words(when: Filter) -> str:
    included = []
    if when.categories is not None:
        included.append(f"categories {', '.join(when.categories)}")
    if when.skus is not None:
        included.append(f"skus {', '.join(when.skus)}")
    parts = [" or ".join(included)] if included else []
    if when.exclude_categories:
        parts.append(f"not categories {', '.join(when.exclude_categories)}")
    if when.exclude_skus:
        parts.append(f"not skus {', '.join(when.exclude_skus)}")
    return ", ".join(parts)


def _points_why_not(rule: PointsPlan, record: PurchaseRecord) -> str:
    weights = rule.weights(record.context)
    paid = sum(amount for amount, weight in zip(record.paid, weights) if weight)
    if paid == 0:
        return _NOTHING_LEFT
    name = rule.points_name
    if rule.cap == 0:
        return f"it gives at most {counted(0, name)} per purchase"
    return f"{rule.money.format(paid)} paid rounds to {counted(0, name)} ({rule.rule.rounding})"


def _punch_card_why_not(rule: PunchCardPlan, before: int, after: int) -> str:
    every = rule.every
    if after // every > before // every:
        # A price rule that completed a card but found every unit already made free.
        return f"completed a card, but every {rule.noun} of the purchase was already free"
    return f"counted {_units(rule, after - before)}, {after % every}/{every} on the card"


def _units(rule: PunchCardPlan, number: int, more: str = "") -> str:
    """What a card counts: '2 visits', '1 visit', '3 ice-cream' (the scope's noun as is)."""
    noun = rule.noun
    if rule.counts_visits:
        noun = "visit" if number == 1 else "visits"
    elif noun == "qualifying item" and number != 1:
        noun = "qualifying items"
    return f"{number} {more}{noun}"


def _gift_card_why_not(rule: GiftCardPlan, record: PurchaseRecord, state: WorkingState) -> str:
    spend = rule.qualifying_spend(record.context, record.paid)
    if spend == 0:
        return _NOTHING_LEFT
    key = rule.window_of(record.context)
    net, highest, cards = state.gift_cards.get(rule.rule.id, {}).get(key, EMPTY_WINDOW)
    money = rule.money
    if rule.limit is not None and cards >= rule.limit:
        return f"{money.format(spend)} counted, limit of {rule.limit} reached{_for(key)}"
    threshold = (highest // rule.every_spend + 1) * rule.every_spend
    shown = f"{money.to_decimal(net)}/{money.format(threshold)}"
    return f"{money.format(spend)} counted, {shown}{_in(key)}"


def _discount_why_not(rule: TieredDiscountPlan, record: PurchaseRecord) -> str:
    tier = record.context.tier
    if tier is None:
        return f"no tier yet, it needs {_one_of(list(rule.percents))}"
    if tier not in rule.percents:
        return f"tier {tier} has no discount in this rule"
    eligible = rule.scope.eligible_lines(record.context)
    if not any(amount for amount, flag in zip(record.paid, eligible) if flag):
        return _NOTHING_LEFT
    return f"the discount rounds to {rule.money.format(0)}"


def _in(key: str) -> str:
    return "" if key == "lifetime" else f" in {key}"


def _for(key: str) -> str:
    return "" if key == "lifetime" else f" for {key}"


# --- what a refund took back ----------------------------------------------------------


def _refund_text(
    rule: RulePlan,
    record: PurchaseRecord,
    stamps: dict[str, int],
    returned: _Returned,
    state: WorkingState,
) -> str:
    rule_id, money = rule.rule.id, rule.money
    if isinstance(rule, PointsPlan):
        kept = record.points.get(rule_id, 0)
        if kept == 0:
            return f"no {rule.points_name} left to take back on purchase {record.purchase.id}"
        return f"nothing to take back, {counted(kept, rule.points_name)} still earned"
    if isinstance(rule, PunchCardPlan):
        count = state.stamps.get(rule_id, 0)
        return _punch_card_refund(rule, record, stamps.get(rule_id, 0), count, returned)
    if isinstance(rule, GiftCardPlan):
        spend = rule.qualifying_spend(record.context, returned.amounts)
        if spend == 0:
            return "no qualifying spend was returned"
        key = rule.window_of(record.context)
        net = state.gift_cards[rule_id][key][0]
        return (
            f"{money.format(spend)} less spend{_in(key)}, {money.format(net)} now; "
            "gift cards already given stay"
        )
    return "a discount given at the till is not taken back"


def _punch_card_refund(
    rule: PunchCardPlan, record: PurchaseRecord, before: int, after: int, returned: _Returned
) -> str:
    card = f"{after % rule.every}/{rule.every} on the card"
    qualifying = rule.qualifying_units(record.context)
    now = record.refunded_units
    units = zip(qualifying, now, returned.units_before)
    back = sum(done - then for counts, done, then in units if counts)
    if back == 0:
        return f"no {rule.noun} was returned, {card}"
    gone, kept = before - after, "a completed card stays completed"
    if rule.counts_visits:
        if gone:
            return f"the visit left the card, {card}"
        if any(counts - done for counts, done in zip(qualifying, now) if counts):
            return f"the visit still has a {rule.noun}, {card}"
        return f"{kept}, {card}"
    if gone == back:
        return f"{_units(rule, gone)} left the card, {card}"
    if gone == 0:
        return f"{kept}, {card}"
    return f"{gone} of the {_units(rule, back)} returned left the card ({kept}), {card}"


# --- how close the next rewards are ---------------------------------------------------


def _next_rewards(
    plan: ProgramPlan, state: WorkingState, instant: datetime, local_date: date
) -> list[str]:
    texts = []
    tier_index = None
    if plan.tiers is not None:
        amount = state.tiers.amount_at(plan.tiers, instant, local_date)
        tier_index = plan.tiers.level_for(amount)
        texts.append(_next_tier(plan, amount, tier_index, local_date))
    plans = {rule.rule.id: rule for rule in (*plan.price_rules, *plan.earning_rules)}
    balance_shown = False
    for rule in plan.program.rules:
        rule_plan = plans[rule.id]
        if isinstance(rule_plan, PointsPlan):
            if not balance_shown:
                texts.append(f"balance: {counted(state.points, rule_plan.points_name)}")
                balance_shown = True
        elif rule.ends is not None and rule.ends < local_date:
            texts.append(f"{rule.id}: it ended {rule.ends}")
        elif isinstance(rule_plan, PunchCardPlan):
            texts.append(f"{rule.id}: {_next_card(rule_plan, state.stamps.get(rule.id, 0))}")
        elif isinstance(rule_plan, GiftCardPlan):
            texts.append(f"{rule.id}: {_next_gift_card(rule_plan, state, local_date)}")
        else:
            texts.append(f"{rule.id}: {_next_discount(plan, rule_plan, tier_index)}")
    return texts


def _next_tier(plan: ProgramPlan, amount: int, index: int | None, local_date: date) -> str:
    tiers = plan.tiers
    assert tiers is not None  # noqa: S101 -- called only for a program with tiers
    now = "no tier yet" if index is None else f"tier {tiers.names[index]}"
    following = 0 if index is None else index + 1
    if following == len(tiers.names):
        return f"{now}: the highest tier"
    needed = tiers.thresholds[following] - amount
    if tiers.by_spend:
        more = f"{plan.money.format(needed)} more spend"
    else:
        more = f"{needed} more {'purchase' if needed == 1 else 'purchases'}"
    if tiers.span is not None:
        window = f" within {tiers.span.days} days"
    else:
        window = _in(calendar_key(tiers.window, local_date))
    return f"{now}: {more}{window} to reach {tiers.names[following]}"


def _next_card(rule: PunchCardPlan, count: int) -> str:
    left = rule.every - count % rule.every
    reward = rule.rule.reward
    if isinstance(reward, VoucherReward):
        prize = f"a voucher for {reward.voucher.name or reward.voucher.sku}"
    elif isinstance(reward, PercentOff):
        prize = f"{plain_number(reward.percent_off)}% off one"
    else:
        prize = "a free one"
    return f"{_units(rule, left, 'more ')} to {prize}"


def _next_gift_card(rule: GiftCardPlan, state: WorkingState, local_date: date) -> str:
    key = calendar_key(rule.rule.window, local_date)
    net, highest, cards = state.gift_cards.get(rule.rule.id, {}).get(key, EMPTY_WINDOW)
    if rule.limit is not None and cards >= rule.limit:
        return f"limit of {rule.limit} reached{_for(key)}"
    needed = (highest // rule.every_spend + 1) * rule.every_spend - net
    return (
        f"{rule.money.format(needed)} more spend{_in(key)} for the next "
        f"{rule.rule.partner} gift card"
    )


def _next_discount(plan: ProgramPlan, rule: TieredDiscountPlan, index: int | None) -> str:
    tiers = plan.tiers
    assert tiers is not None  # noqa: S101 -- a tiered discount needs tiers to validate
    discounts = rule.rule.discounts
    current = tiers.names[index] if index is not None else None
    percent = discounts.get(current) if current is not None else None
    text = "no discount now" if percent is None else f"{plain_number(percent)}% off now"
    for name in tiers.names[(-1 if index is None else index) + 1 :]:
        if name in discounts and (percent is None or discounts[name] > percent):
            return f"{text}, {plain_number(discounts[name])}% off from {name}"
    return text
