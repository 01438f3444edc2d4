"""The engine: a fold of ``step`` over a customer's events, and ``evaluate`` over a history.

Before each event of a customer, the gifts due at dates (birthday windows, joining) up to
it are given and points due to expire expire. For each purchase, in this order: (a) the
customer's tier, from purchases before it in the window; (b) the price rules (punch cards
that free or discount units, tiered discounts) in priority order, each on the amounts the
previous ones left; (c) the paid amount per line; (d) the earning rules (points, vouchers,
gift cards, bonuses) on the paid amounts; tier counters then count the paid amount. An
exclusive group runs as one step where its first member would (``stacking``); a limited
rule runs within what its limits leave. A refund undoes what the refunded units earned. A
referred friend's qualifying purchase rewards the referrer at the same instant.

Everything here is pure: no I/O, no clock, no globals. The working state is a private
mutable copy; inputs (programs, events, saved states) are never changed.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from rewardrules._ids import look_alike, shown_apart
from rewardrules._types import FIRST_DATE, LAST_DATE
from rewardrules.engine._state_checks import program_problems, state_problems
from rewardrules.engine._state_format import bad_state
from rewardrules.engine._state_restore import restore
from rewardrules.engine._state_save import save
from rewardrules.engine.basket import Basket
from rewardrules.engine.kind import KindTable
from rewardrules.engine.ledger import (
    NOTE_KINDS,
    CustomerResult,
    Evaluation,
    LedgerEntry,
    total,
)
from rewardrules.engine.lots import (
    advance,
    bought,
    cancel_redemption,
    earn,
    redeem,
    refunded_in_full,
    take_back,
    upcoming_expiry,
)
from rewardrules.engine.refunds import RefundError, refunded_lines
from rewardrules.engine.scope import PaymentTooFine, PriceTooFine, build_context
from rewardrules.engine.state import CustomerState
from rewardrules.engine.tiers import NextTier, TierChange
from rewardrules.engine.working_state import (
    PurchaseRecord,
    WorkingState,
    tier_amount,
    tier_amount_of,
)
from rewardrules.errors import (
    REPEATED_BY_REFERRAL_FACT,
    REPEATED_EVENT_ID,
    HistoryError,
    Problem,
    event_error,
    history_problem,
)
from rewardrules.evaluation._arguments import check_evaluate_arguments, check_step_arguments
from rewardrules.evaluation._opening import check_opening, open_customer, opening_problems
from rewardrules.evaluation.gifts import apply_referral, grant_dated, release_held
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.evaluation.stacking import purchase_stages, stage_rules
from rewardrules.events import (
    AnyEvent,
    CancelRedemption,
    Customer,
    Purchase,
    Redemption,
    ReferralQualified,
    Refund,
)
from rewardrules.kinds.table import KINDS
from rewardrules.program.model import Program

__all__ = [
    "CompiledProgram",
    "Cutoff",
    "Fold",
    "check_profiles",
    "compile_program",
    "evaluate",
    "step",
]


# --- the fold -------------------------------------------------------------------------


def _fail(event: AnyEvent, message: str, *path: str | int) -> HistoryError:
    """An error about one event, its path starting with ``event <id>`` then the field."""
    return event_error(event.id, message, *path)


def _apply_purchase(
    plan: ProgramPlan,
    state: WorkingState,
    purchase: Purchase,
    entries: list[LedgerEntry],
    prices: dict[Decimal, int],
) -> int:
    """Evaluate a purchase, append its entries; return its gross total in minor units.

    ``prices`` memoises unit prices already converted to minor units (menus repeat them).
    """
    try:
        context = build_context(
            purchase, plan.money, plan.zone, None, None, prices, plan.by_payment_method
        )
    except PriceTooFine as error:
        message = f"{error}; prices must be whole minor units"
        raise _fail(purchase, message, "lines", error.line, "unit_price") from None
    except PaymentTooFine as error:
        message = f"{error}; payments must be whole minor units"
        raise _fail(purchase, message, "payments", error.payment, "amount") from None
    tiers = plan.tiers
    if tiers is not None:
        context.tier_index = state.tiers.level_before(tiers, purchase.at, context.local_date)
        context.tier = tiers.name_of(context.tier_index)
    basket = Basket(context)
    first = len(entries)
    stopped: tuple[str, ...] = ()
    final = plan.final_rules
    for index, run in enumerate(plan.purchase_steps):
        given = run(state, context, basket)
        entries += given
        if final and any(entry.rule in final and entry.kind not in NOTE_KINDS for entry in given):
            # A final rule gave something: the later stages do not run for this purchase.
            stopped = tuple(rule for stage in plan.stage_rules[index + 1 :] for rule in stage)
            break
    paid = basket.amounts
    amount = tier_amount_of(tiers, paid, basket.points)
    record = PurchaseRecord(context, paid, basket.points, amount)
    if plan.has_groups or stopped:
        # Rules set aside by a group or stopped by a final rule: the purchase (and a refund
        # of it) does not count for them.
        record.set_aside = (
            *(entry.rule for entry in entries[first:] if entry.kind == "set_aside"),
            *stopped,
        )
    if plan.has_groups or plan.by_payment_method:
        # A group member can run before a price rule, and a rule by payment method earns
        # on a share of the lines: keep what it saw if not paid.
        earned_on = {
            rule: amounts
            for rule, amounts in basket.earned_on.items()
            if amounts is not paid and amounts != paid
        }
        if earned_on:
            record.earned_on = earned_on
    state.add_purchase(purchase.id, record)
    if plan.refunds_within is not None:
        state.forget(plan.refunds_within, plan.zone, purchase.at)
    account = state.account
    lasting = tiers is not None and context.tier_index in tiers.lasting
    earned = sum(basket.points.values())
    earn(plan.points, account, purchase.id, purchase.at, earned, lasting=lasting)
    bought(plan.points, account, purchase.id, purchase.at)
    if tiers is not None:
        state.tiers.add(tiers, record)
    return context.gross_total


def late_refund(plan: ProgramPlan, record: PurchaseRecord, refund: Refund) -> str | None:
    """Why ``refund`` comes too late for ``refunds.within`` to refund its purchase, or
    None when it is in time (the batch engine's refunds of saved purchases say it so)."""
    within = plan.refunds_within
    if within is None or refund.at <= within.after(record.at, plan.zone):
        return None
    return (
        f"it refunds purchase {refund.purchase_id} of {record.local_date.isoformat()}, "
        f"more than {within.text} before; the program's refunds.within is "
        f"{within.text}, so that purchase can no longer be refunded"
    )


def forgotten_message(refund: Refund, within: str) -> str:
    """Why ``refund`` cannot refund its purchase once ``refunds.within`` (``within``, as
    written) has forgotten the customer's older purchases: it may be one of them."""
    return (
        f"it refunds purchase {refund.purchase_id}, which customer "
        f"{refund.customer_id} made more than {within} before it or never: the "
        f"program's refunds.within is {within}, and older purchases are "
        "forgotten; check the purchase id, and refund within the policy"
    )


def refund_purchase(
    plan: ProgramPlan, state: WorkingState, record: PurchaseRecord, refund: Refund
) -> tuple[list[int], list[int], list[LedgerEntry]]:
    """Refund ``refund``'s lines of ``record`` and run each rule's refund step on it.

    The one place a refund's semantics live, for both engines (the batch engine's refunds
    of saved purchases call it too): a refund later than ``refunds.within`` is refused,
    then its lines are checked against what the purchase has left (``refunded_lines``),
    the record takes them, and every running rule but one set aside at the purchase gives
    back what the refunded units earned. Returns the units refunded per line before it,
    the amounts it refunds per line and the rules' entries, in running order.

    Raises:
        HistoryError: the refund is late, or refunds what the purchase does not have.
    """
    late = late_refund(plan, record, refund)
    if late is not None:
        raise _fail(refund, late, "at")
    try:
        units, amounts = refunded_lines(record, refund)
    except RefundError as error:
        raise _fail(refund, str(error), *error.path) from None
    before = record.refunded_units
    refunded = [now - then for now, then in zip(amounts, record.refunded_amount)]
    record.refunded_units, record.refunded_amount = units, amounts
    taken: list[LedgerEntry] = []
    for rule in plan.running:
        if record.set_aside and rule.id in record.set_aside:
            continue  # the purchase never counted for a rule set aside at it
        taken += rule.refund(state, record, refund, before, refunded)
    return before, refunded, taken


def _apply_refund(
    plan: ProgramPlan, state: WorkingState, refund: Refund, entries: list[LedgerEntry]
) -> None:
    """Evaluate a refund and append what it takes back."""
    record = state.record(refund.purchase_id)
    within = plan.refunds_within
    if record is None:
        if within is not None and state.forgotten_until is not None:
            raise _fail(refund, forgotten_message(refund, within.text), "purchase_id")
        raise _fail(
            refund,
            f"it refunds purchase {refund.purchase_id}, but customer {refund.customer_id} "
            "has no such purchase before it; check the purchase id, and that the refund "
            "comes after its purchase",
            "purchase_id",
        )
    _, _, taken = refund_purchase(plan, state, record, refund)
    state.refunds[refund.id] = None
    entries += taken
    if plan.limits:
        for entry in taken:
            limits = plan.limits.get(entry.rule)
            if limits is not None and entry.kind == "points" and entry.points:
                limits.release_points(state.limit_usage, record.local_date, -entry.points)
    points_back = -sum(entry.points or 0 for entry in taken if entry.kind == "points")
    if points_back:
        entries += take_back(
            plan.points,
            state.account,
            refund.customer_id,
            refund.id,
            refund.purchase_id,
            refund.at,
            points_back,
        )
    if record.fully_refunded():
        entries += refunded_in_full(
            plan.points, state.account, refund.customer_id, refund.purchase_id, refund.at
        )
    if plan.tiers is not None:
        state.tiers.adjust(plan.tiers, record, tier_amount(record, plan.tiers))


def _apply_redemption(
    plan: ProgramPlan, state: WorkingState, redemption: Redemption, entries: list[LedgerEntry]
) -> None:
    """Spend points on a catalogue reward, or record why not."""
    state.redemptions[redemption.id] = None
    tier = None
    tiers = plan.tiers
    reward = plan.points.rewards.get(redemption.reward)
    if tiers is not None and reward is not None and reward.tiers is not None:
        local_date = redemption.at.astimezone(plan.zone).date()
        tier = tiers.name_of(state.tiers.level_at(tiers, redemption.at, local_date))
    entries += redeem(
        plan.points,
        state.account,
        redemption.customer_id,
        redemption.id,
        redemption.reward,
        redemption.at,
        redemption.quantity,
        tier,
    )


def _apply_cancellation(
    plan: ProgramPlan, state: WorkingState, cancel: CancelRedemption, entries: list[LedgerEntry]
) -> None:
    """Give a redemption's points back to their lots (nothing for a rejected one)."""
    target = cancel.redemption_id
    state.redemptions[cancel.id] = None
    if target == cancel.id or target not in state.redemptions or target in state.cancellations:
        raise _fail(
            cancel,
            f"it cancels redemption {target}, which customer {cancel.customer_id} has not "
            "made before it; check the redemption id",
            "redemption_id",
        )
    earlier = next((key for key, value in state.cancellations.items() if value == target), None)
    if earlier is not None:
        raise _fail(
            cancel,
            f"redemption {target} was already cancelled by {earlier}; cancel it once",
            "redemption_id",
        )
    state.cancellations[cancel.id] = target
    entries += cancel_redemption(plan.points, state.account, cancel.customer_id, cancel.id, target)


def _fold_event(
    plan: ProgramPlan,
    state: WorkingState,
    event: AnyEvent,
    entries: list[LedgerEntry],
    prices: dict[Decimal, int],
) -> int:
    """One step of the fold: apply an event, append its entries; return the gross spend."""
    if state.last_event_at is not None and event.at < state.last_event_at:
        raise _fail(
            event,
            f"it happened at {event.at.isoformat()}, before the customer's saved state "
            f"(last event at {state.last_event_at.isoformat()}); evaluate it from an "
            "earlier state",
            "at",
        )
    if state.first_event_at is None:
        state.first_event_at = event.at
    if state.held:
        release_held(plan, state, event.at, True, entries)
    if plan.dated:
        grant_dated(plan, state, event.at, True, entries)
    if plan.points.has_clock or state.account.dated:
        # An opening lot's own expiry is honoured even where the program's points never
        # expire (docs/lifecycle.md, "Opening balances").
        entries += advance(plan.points, state.account, state.customer_id, event.at)
    gross = 0
    if isinstance(event, Purchase):
        gross = _apply_purchase(plan, state, event, entries, prices)
    elif isinstance(event, Refund):
        _apply_refund(plan, state, event, entries)
    elif isinstance(event, Redemption):
        _apply_redemption(plan, state, event, entries)
    elif isinstance(event, CancelRedemption):
        _apply_cancellation(plan, state, event, entries)
    else:
        apply_referral(plan, state, event, entries)
    state.last_event_at = event.at
    return gross


def _apply(
    plan: ProgramPlan, state: WorkingState, event: AnyEvent, prices: dict[Decimal, int]
) -> list[LedgerEntry]:
    """Apply one event to a customer's working state; return its ledger entries.

    Raises:
        HistoryError: the customer already has an event with this id, or the event cannot
            be applied.
    """
    if isinstance(event, ReferralQualified):
        # A reversal names the fact it reverses: apply_referral checks that one is held.
        repeated = event.reversed_by is None and (
            state.knows_fact(event.id, event.rule) or state.knows(event.id)
        )
    else:
        repeated = state.knows(event.id) or (
            bool(state.referrals) and any(key[0] == event.id for key in state.referrals)
        )
    if repeated:
        message = f"customer {event.customer_id} already has an event with this id"
        raise _fail(event, f"{message}; event ids must be unique")
    entries: list[LedgerEntry] = []
    _fold_event(plan, state, event, entries, prices)
    return entries


def _restore(plan: ProgramPlan, saved: CustomerState) -> WorkingState:
    program_id = plan.program.program
    if saved.program != program_id:
        raise HistoryError(
            [
                history_problem(
                    f"the saved state of customer {saved.customer_id} belongs to program "
                    f"'{saved.program}', not '{program_id}'",
                    code="state-mismatch",
                )
            ]
        )
    # Checked again here: a state changed in memory (model_copy) was never validated.
    problems = [] if saved.is_checked() else list(state_problems(saved))
    if not problems:
        merged = not plan.points.has_clock
        problems = list(
            program_problems(saved, plan.money, merged_lots=merged, clamps=plan.points.clamp)
        )
        problems += [
            (
                ("referrals", index, "rule"),
                f"holds a reward under '{kept.rule}', which is not a referral rule of the "
                "program; a state belongs to its program",
            )
            for index, kept in enumerate(saved.referrals)
            if kept.held_until is not None and kept.rule not in plan.referrals
        ]
    if problems:
        raise bad_state(saved.customer_id, problems)
    try:
        counts = plan.points.inactivity is not None and "purchase" in plan.points.activity
        return restore(saved, plan.money, plan.zone, plan.tiers, counts)
    except ValueError as error:
        raise HistoryError(
            [history_problem(f"saved state of {saved.customer_id}: {error}", code="bad-state")]
        ) from None


def compile_program(program: Program, kinds: KindTable = KINDS) -> CompiledProgram:
    """Compile a program once, to pass to ``step``, ``evaluate`` and ``explain`` many times.

    ``kinds`` maps each rule model to its kind's spec (``rewardrules.kinds.table.KINDS``);
    pass a table of your own to run a kind of your own.

    Raises:
        TypeError: a rule's model is not in ``kinds``.
    """
    plan = ProgramPlan.compile(program, kinds)
    steps, order = purchase_stages(plan)
    return CompiledProgram(
        replace(
            plan,
            purchase_steps=steps,
            purchase_order=order,
            stage_rules=stage_rules(order),
            final_rules=frozenset(rule.id for rule in program.rules if rule.final),
        )
    )


@dataclass(frozen=True, slots=True)
class CompiledProgram:
    """A program compiled for evaluation: every rule bound to its kind's steps.

    Immutable and holding no state of any customer, so one compiled program serves any
    number of ``step``, ``evaluate`` and ``explain`` calls, from any number of threads.
    Build it with :func:`compile_program`.
    """

    plan: ProgramPlan = field(repr=False)
    """The compiled rules in running order (an internal shape: read :attr:`program`)."""

    @property
    def program(self) -> Program:
        """The program it was compiled from."""
        return self.plan.program

    @property
    def gives_at_dates(self) -> bool:
        """Whether some rule gives at dates (a birthday window, joining), not at purchases:
        a customer with a profile and no event may then have entries up to ``as_of``."""
        return bool(self.plan.dated)

    @property
    def rewards_referrers(self) -> bool:
        """Whether some rule rewards a referrer for a friend's purchase: one customer's
        results then depend on other customers' histories (their friends')."""
        return bool(self.plan.referrals)

    @property
    def stamp_cards(self) -> Mapping[str, int]:
        """The units or visits per card of each punch-card rule, by rule id in file order
        (the cards a result's ``stamps`` counts)."""
        return dict(self.plan.stamp_cards)

    def fold(self) -> Fold:
        """A fold of events over working states with this program (one per thread)."""
        return Fold(self)

    def cutoff(self, as_of: date | datetime) -> Cutoff:
        """Where ``as_of`` stops a history (see ``evaluate``).

        Raises:
            ValueError: ``as_of`` is a naive datetime or outside the years 1970 to 2099.
        """
        return Cutoff(as_of, self.plan)


class Fold:
    """The engine's fold, one event at a time, over working states the caller keeps.

    What ``evaluate`` does for each event, for tools that look at the state between events
    (``explain``). It keeps a memo of unit prices, so it is not shared between threads.
    """

    __slots__ = ("plan", "prices")

    def __init__(self, compiled: CompiledProgram) -> None:
        self.plan = compiled.plan
        self.prices: dict[Decimal, int] = {}

    def apply(self, state: WorkingState, event: AnyEvent) -> list[LedgerEntry]:
        """Apply a new event (its id checked against the state's); return its entries.

        Raises:
            HistoryError: the customer already has an event with this id, or the event
                cannot be applied.
        """
        return _apply(self.plan, state, event, self.prices)

    def event(self, state: WorkingState, event: AnyEvent, entries: list[LedgerEntry]) -> int:
        """Apply an event whose id is known to be new (a referral fact raised by a friend's
        purchase), appending its entries; return its gross spend in minor units."""
        return _fold_event(self.plan, state, event, entries, self.prices)

    def finish(
        self, state: WorkingState, ledger: list[LedgerEntry], cutoff: Cutoff | None
    ) -> CustomerResult:
        """A customer's result: the gifts at dates and expiries up to ``cutoff`` appended to
        ``ledger``, the tier and balances as of then."""
        return _result(self.plan, state, ledger, cutoff)


def _compiled(program: Program | CompiledProgram) -> CompiledProgram:
    return program if isinstance(program, CompiledProgram) else compile_program(program)


def step(
    program: Program | CompiledProgram,
    state: CustomerState | None,
    event: AnyEvent,
    customer: Customer | None = None,
) -> tuple[CustomerState, list[LedgerEntry]]:
    """Evaluate one event on one customer's saved state; return the new state and entries.

    ``state`` is None for a customer the program has not seen. The input state is not
    changed. ``customer`` is the customer's profile, which the birthday, sign-up and
    referral rules read; gifts due at dates before the event are given first. A migrated
    customer's opening (``Customer.opening_points``, ``tier``) is given first at their first
    ``step`` (``state`` None, the profile given); the saved state keeps it. When a
    referred friend's purchase qualifies, its entries carry the fact for the referrer:
    pass each of ``referral_facts(entries)`` to ``step`` on the referrer's state.

    Raises:
        HistoryError: the event cannot be applied (a refund of an unknown purchase, a
            duplicate purchase id, an event older than the state...).
        TypeError: an argument of the wrong type, saying what to pass.
    """
    check_step_arguments(program, (Program, CompiledProgram), state, event, customer)
    return _step(_compiled(program).plan, state, event, customer)


def _step(
    plan: ProgramPlan,
    state: CustomerState | None,
    event: AnyEvent,
    customer: Customer | None = None,
) -> tuple[CustomerState, list[LedgerEntry]]:
    """:func:`step` on a compiled program's plan."""
    if state is None:
        working = WorkingState(event.customer_id)
    elif state.customer_id != event.customer_id:
        mine, theirs = _apart(event.customer_id, state.customer_id)
        raise _fail(
            event,
            f"it belongs to customer {mine}, but the state to customer {theirs}",
            "customer_id",
        )
    else:
        working = _restore(plan, state)
    opened: list[LedgerEntry] = []
    if customer is not None:
        if customer.customer_id != event.customer_id:
            mine, theirs = _apart(event.customer_id, customer.customer_id)
            message = f"it belongs to customer {mine}, but the profile to customer {theirs}"
            raise _fail(event, message, "customer_id")
        working.profile = customer
        if state is None and customer.opens:
            opened = open_customer(plan, working, customer, event.at)
    entries = opened + _apply(plan, working, event, {})
    if plan.refunds_within is not None and not isinstance(event, Purchase):
        # A purchase has forgotten what it made too old (``_apply_purchase``), as of itself.
        working.forget(plan.refunds_within, plan.zone, event.at)
    return save(working, plan.program.program, plan.money, plan.tiers), entries


def _apart(first: str, second: str) -> tuple[str, str]:
    """Two different ids for one message: as written, or escaped when they look alike."""
    return shown_apart(first, second) if look_alike(first, second) else (first, second)


class Cutoff:
    """Where ``as_of`` stops the history: an instant, and the local date it reports on.

    A date counts whole: events up to (not including) the next local midnight. An instant
    counts events at that instant too.
    """

    __slots__ = ("inclusive", "instant", "local_date")

    def __init__(self, as_of: date | datetime, plan: ProgramPlan) -> None:
        if not FIRST_DATE.year <= as_of.year <= LAST_DATE.year:
            raise ValueError(
                f"as_of must be in the years {FIRST_DATE.year} to {LAST_DATE.year}, like "
                f"events (got {as_of.isoformat()})"
            )
        if isinstance(as_of, datetime):
            if as_of.tzinfo is None or as_of.utcoffset() is None:
                raise ValueError("as_of must be a date or a timezone-aware datetime")
            self.instant, self.inclusive = as_of, True
            self.local_date = as_of.astimezone(plan.zone).date()
        else:
            next_day = datetime.combine(as_of + timedelta(days=1), time(0), plan.zone)
            self.instant, self.inclusive, self.local_date = next_day, False, as_of

    def admits(self, event: AnyEvent) -> bool:
        """Whether an event happens on or before the cutoff."""
        return event.at < self.instant or (self.inclusive and event.at == self.instant)


def evaluate(
    program: Program | CompiledProgram,
    events: Iterable[AnyEvent] | Any,
    customers: Iterable[Customer] | None = None,
    as_of: date | datetime | None = None,
    *,
    states: Mapping[str, CustomerState] | Iterable[CustomerState] | None = None,
    engine: Literal["reference", "batch"] = "reference",
) -> Evaluation:
    """Evaluate a program over a history; pure and deterministic.

    Args:
        program: the program.
        events: purchases and refunds, in any order; they are evaluated by (instant, id).
            Or a history table (``rewardrules.histories.columns``): a pyarrow Table, or anything
            with ``__arrow_c_stream__``.
        customers: customer profiles (read by the birthday, sign-up and referral rules).
            With ``as_of``, a customer with a profile but no event gets the gifts due at
            dates up to then.
        as_of: ignore events after this date (the whole local day counts) or instant; the
            reported tier is the tier as of then.
        states: saved states to resume from, by customer id (or as a list).
        engine: ``"reference"``, the fold of ``step`` (the oracle), or ``"batch"``, the
            columnar engine (``rewardrules.evaluation.batch``): the same results, much faster on big
            histories; it refuses what it does not evaluate yet (or resume from saved
            states yet: docs/batch-engine.md), and saves states as the reference does.

    The reference engine pauses Python's cyclic garbage collector (``gc.disable()``) while
    it folds, and turns it back on afterwards only if it was on: the collector is left as
    it was found. The pause is process-wide, so another thread allocating meanwhile is not
    collected either; the fold creates no reference cycles, and the pause halves the time
    of a long history (docs/performance.md).

    Raises:
        HistoryError: an event cannot be applied; the problem names the event.
        ValueError: ``as_of`` is a naive datetime, or outside the years 1970 to 2099, or
            ``engine`` is unknown.
        TypeError: a file name (or a dict) where a program, events or profiles belong.
    """
    compiled = program if isinstance(program, CompiledProgram) else None
    source = program.program if isinstance(program, CompiledProgram) else program
    check_evaluate_arguments(source, events, customers)
    if engine == "batch":
        return _evaluate_batch(source, events, customers, as_of, states)
    if engine != "reference":
        raise ValueError(f"engine must be 'reference' or 'batch' (got {engine!r})")
    if _is_table(events):
        from rewardrules.histories.columns import table_to_events  # noqa: PLC0415 -- pyarrow on demand

        events = table_to_events(_as_table(events))
    plan = (compiled or compile_program(source)).plan
    cutoff = None if as_of is None else Cutoff(as_of, plan)
    profiles = check_profiles(customers)
    # The fold allocates millions of small objects and creates no reference cycles; the
    # cyclic collector would rescan the growing state again and again (about half the
    # time of a long replay), so it is paused for the fold and restored afterwards.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _evaluate(plan, events, cutoff, states, profiles)
    finally:
        if collecting:
            gc.enable()


def _is_table(history: object) -> bool:
    return hasattr(history, "__arrow_c_stream__")


def _as_table(history: Any) -> Any:
    import pyarrow as pa  # noqa: PLC0415 -- pyarrow on demand

    if isinstance(history, pa.Table):
        return history
    return pa.RecordBatchReader.from_stream(history).read_all()


def _evaluate_batch(
    program: Program,
    history: Any,
    customers: Iterable[Customer] | None,
    as_of: date | datetime | None,
    states: object,
) -> Evaluation:
    from rewardrules.evaluation.batch import (  # noqa: PLC0415 -- the batch engine imports this module
        evaluate_table,
        refuse,
        unsupported,
    )
    from rewardrules.histories.columns import (  # noqa: PLC0415 -- pyarrow on demand
        events_to_table,
    )

    features = unsupported(program)
    if features:
        refuse(features)
    facts = None
    source = "<table>"
    if not _is_table(history):
        # A history read from a file (``read_history``) names it; other events have none.
        source = getattr(history, "source", "<events>")
        history = list(history)
        supplied = [event for event in history if isinstance(event, ReferralQualified)]
        if supplied:
            from rewardrules.evaluation.batch._referrals import (  # noqa: PLC0415 -- imports this module
                supplied_table,
            )

            facts = supplied_table(supplied)
            history = [event for event in history if not isinstance(event, ReferralQualified)]
        # A program that earns by no payment method never reads the payments: the table
        # may leave them out.
        by_method = any(rule.when.payment_methods is not None for rule in program.rules)
        history = _table_ready(program, history, as_of)
        history = events_to_table(history, drop_payments=not by_method)
    return evaluate_table(
        program, history, customers, as_of, source=source, facts=facts, states=states
    )


def _table_ready(
    program: Program, events: list[AnyEvent], as_of: date | datetime | None
) -> list[AnyEvent]:
    """The events for a table, none next to another with its id (which a table would read
    as one event, so ``events_to_table`` refuses it): as given when none is; else those up
    to ``as_of`` in the reference's (instant, id) order, refusing the first repeated id the
    reference meets there. A repeat after ``as_of`` is ignored, as the reference ignores
    those events, and a repeat before it is named as the reference names it."""
    if all(event.id != after.id for event, after in itertools.pairwise(events)):
        return events
    cutoff = None if as_of is None else Cutoff(as_of, compile_program(program).plan)
    selected = _in_fold_order(events, cutoff)
    seen: set[str] = set()
    for event in selected:
        if event.id in seen:
            raise _fail(event, REPEATED_EVENT_ID)
        seen.add(event.id)
    return selected


def check_profiles(customers: Iterable[Customer] | None) -> dict[str, Customer]:
    """Profiles by customer id; a customer given twice, or referring themselves, is an error."""
    profiles: dict[str, Customer] = {}
    for profile in customers or ():
        where = (f"customer {profile.customer_id}",)
        if profile.customer_id in profiles:
            message = "the customer has two profiles; give each customer one"
            raise HistoryError([Problem(message=message, path=where, code="invalid-event")])
        if profile.referred_by == profile.customer_id:
            message = "a customer cannot refer themselves; check referred_by"
            raise HistoryError(
                [Problem(message=message, path=(*where, "referred_by"), code="invalid-event")]
            )
        profiles[profile.customer_id] = profile
    return profiles


def _evaluate(
    plan: ProgramPlan,
    events: Iterable[AnyEvent],
    cutoff: Cutoff | None,
    states: Mapping[str, CustomerState] | Iterable[CustomerState] | None,
    profiles: dict[str, Customer],
) -> Evaluation:
    program = plan.program
    prices: dict[Decimal, int] = {}
    working: dict[str, WorkingState] = {}
    saved_states = _saved_states(states)
    seen: set[str] = set()  # ids of purchases, refunds, redemptions
    facts: set[tuple[str, str]] = set()  # (id, rule) of referral facts supplied or saved
    for saved in saved_states:
        working[saved.customer_id] = _restore(plan, saved)
        seen.update(working[saved.customer_id].event_ids())
        facts.update(working[saved.customer_id].referrals)
    fact_ids = {fact_id for fact_id, _ in facts}
    reported = set(working)  # customers with a saved state or an event
    selected = _in_fold_order(events, cutoff)
    ledgers: dict[str, list[LedgerEntry]] = {customer: [] for customer in working}
    for customer_id, state in working.items():
        state.profile = profiles.get(customer_id)

    def state_of(customer_id: str) -> WorkingState:
        state = working.get(customer_id)
        if state is None:
            state = working[customer_id] = WorkingState(customer_id)
            state.profile = profiles.get(customer_id)
            ledgers[customer_id] = []
        return state

    # The migrated customers this evaluation starts: one whose first event is a referral
    # fact a friend's purchase raises has their lots checked (and is opened) right before.
    fresh = _start_profiles(plan, profiles, selected, cutoff, state_of, ledgers, reported)
    gross = 0
    counts = _Counts()
    for event in selected:
        if isinstance(event, ReferralQualified) and event.reversed_by is not None:
            pass  # it reverses a fact before it, which apply_referral checks is held
        elif isinstance(event, ReferralQualified):
            # A friend's purchase may qualify under two rules: two facts with its id.
            if event.id in seen or (event.id, event.rule) in facts:
                raise _fail(event, _duplicate_message(event))
            facts.add((event.id, event.rule))
            fact_ids.add(event.id)
        else:
            if event.id in seen or event.id in fact_ids:
                raise _fail(event, _duplicate_message(event))
            seen.add(event.id)
        customer_id = event.customer_id
        reported.add(customer_id)
        state = state_of(customer_id)
        gross += _fold_event(plan, state, event, ledgers[customer_id], prices)
        counts.add(event, state)
        if state.outbox:
            _reward_referrers(plan, state, state_of, ledgers, prices, fresh)
            # A held reward is news even before it is given.
            reported.update(fact.customer_id for fact in state.outbox)
            state.outbox.clear()
    finished = [
        _result(plan, working[customer_id], ledgers[customer_id], cutoff)
        for customer_id in sorted(working)
    ]
    results = tuple(
        result for result in finished if result.customer_id in reported or result.ledger
    )
    all_entries = (entry for result in results for entry in result.ledger)
    totals = total(
        all_entries,
        money=plan.money,
        point_value=program.points.value,
        customers=len(results),
        purchases=counts.purchases,
        refunds=counts.refunds,
        gross_spend=gross,
        refunded_purchases=len(counts.refunded),
        fully_refunded_purchases=sum(counts.refunded.values()),
    )
    return Evaluation(
        program=program.program,
        money=plan.money,
        points_name=program.points.name,
        customers=results,
        totals=totals,
    )


def _reward_referrers(
    plan: ProgramPlan,
    state: WorkingState,
    state_of: Callable[[str], WorkingState],
    ledgers: dict[str, list[LedgerEntry]],
    prices: dict[Decimal, int],
    fresh: dict[str, Customer],
) -> None:
    """Fold the referral facts a friend's event raised (``state.outbox``) into their
    referrers' states. A migrated referrer started by this evaluation (``fresh``) whose
    first event it is has their lots checked against it; one not started yet (no event,
    no ``as_of``) is opened right before it (docs/lifecycle.md, "Opening balances")."""
    for fact in state.outbox:
        customer_id = fact.customer_id
        profile = fresh.get(customer_id) if fresh else None
        waiting = profile is not None and customer_id not in ledgers
        referrer = state_of(customer_id)
        if profile is not None and waiting:
            ledgers[customer_id] += open_customer(plan, referrer, profile, fact.at)
        elif profile is not None and referrer.first_event_at is None:
            check_opening(plan, profile, fact.at)  # opened at the start, first event here
        _fold_event(plan, referrer, fact, ledgers[customer_id], prices)


class _Counts:
    """The evaluated purchases and refunds, and which of these purchases the refunds gave
    back (by id: whether in full, every unit of every line)."""

    def __init__(self) -> None:
        self.purchases = self.refunds = 0
        self.bought: set[str] = set()
        self.refunded: dict[str, bool] = {}

    def add(self, event: AnyEvent, state: WorkingState) -> None:
        """Count an event just folded into ``state``."""
        if isinstance(event, Purchase):
            self.purchases += 1
            self.bought.add(event.id)
        elif isinstance(event, Refund):
            self.refunds += 1
            record = state.record(event.purchase_id)
            if event.purchase_id in self.bought and record is not None:
                lines = record.purchase.lines
                done = record.refunded_units
                self.refunded[event.purchase_id] = all(
                    units == line.quantity for units, line in zip(done, lines)
                )


def _start_profiles(
    plan: ProgramPlan,
    profiles: dict[str, Customer],
    selected: list[AnyEvent],
    cutoff: Cutoff | None,
    state_of: Callable[[str], WorkingState],
    ledgers: dict[str, list[LedgerEntry]],
    reported: set[str],
) -> dict[str, Customer]:
    """Start the customers known from their profile before any event: with ``as_of``,
    those with gifts at dates; and each migrated customer without a saved state
    (``reported`` holds those) from their opening: with an event, or with ``as_of`` (a
    balance and a tier to report then) without one.

    Returns the migrated customers without a saved state, by id: started here, or left
    waiting (no event, no ``as_of``); one a friend's qualifying purchase reaches (a derived
    referral fact) is started right before that fact (docs/lifecycle.md, "Opening
    balances"), the others have nothing to report."""
    restored = set(reported)  # a saved state already holds a migrated customer's opening
    if plan.dated and cutoff is not None:
        for customer_id in profiles:
            state_of(customer_id)  # gifts at dates up to as_of, even without an event
    opening = [
        profile
        for customer_id, profile in sorted(profiles.items())
        if profile.opens and customer_id not in restored
    ]
    if not opening:
        return {}
    tiers = None if plan.tiers is None else plan.tiers.names
    problems = [problem for profile in opening for problem in opening_problems(profile, tiers)]
    if problems:  # every profile's, also of a customer this evaluation does not start
        raise HistoryError(problems)
    firsts: dict[str, datetime] = {}
    for event in selected:  # in (instant, id) order: the first seen is the first
        firsts.setdefault(event.customer_id, event.at)
    for profile in opening:
        customer_id = profile.customer_id
        if cutoff is None and customer_id not in firsts:
            continue  # waiting, unless a friend's purchase reaches them
        state = state_of(customer_id)
        ledgers[customer_id] += open_customer(plan, state, profile, firsts.get(customer_id))
        reported.add(customer_id)
    return {profile.customer_id: profile for profile in opening}


def _saved_states(
    states: Mapping[str, CustomerState] | Iterable[CustomerState] | None,
) -> list[CustomerState]:
    """The saved states, each under its own customer and one per customer."""
    given = (
        list(states.items()) if isinstance(states, Mapping) else [(None, s) for s in states or ()]
    )
    found: dict[str, CustomerState] = {}
    for key, saved in given:
        customer = saved.customer_id
        if key is not None and key != customer:
            message = f"is given as the state of '{key}'; pass each state under its own customer"
            raise bad_state(customer, [(("customer_id",), message)], None)
        if customer in found:
            message = "is given twice; pass one state per customer"
            raise bad_state(customer, [((), message)], None)
        found[customer] = saved
    return list(found.values())


def _duplicate_message(event: AnyEvent) -> str:
    if isinstance(event, ReferralQualified):
        return REPEATED_BY_REFERRAL_FACT
    return REPEATED_EVENT_ID


def _in_fold_order(events: Iterable[AnyEvent], cutoff: Cutoff | None) -> list[AnyEvent]:
    """The events the cut-off admits, in the order the fold takes them: (instant, id)."""
    selected = [event for event in events if cutoff is None or cutoff.admits(event)]
    # Two stable sorts give the (instant, id) order; cheaper than sorting on tuples.
    selected.sort(key=_event_id)
    selected.sort(key=_event_at)
    return selected


def _event_id(event: AnyEvent) -> str:
    return event.id


def _event_at(event: AnyEvent) -> datetime:
    return event.at


_INSTANT = timedelta(microseconds=1)
"""The smallest step of time a datetime has: 'just before' an exclusive cutoff."""


def _result(
    plan: ProgramPlan, state: WorkingState, ledger: list[LedgerEntry], cutoff: Cutoff | None
) -> CustomerResult:
    moment = state.last_event_at
    if cutoff is not None:
        # Gifts at dates are given and points expire up to the cutoff too; a date counts
        # up to (not including) the next local midnight.
        if state.held:
            release_held(plan, state, cutoff.instant, cutoff.inclusive, ledger)
        if plan.dated:
            grant_dated(plan, state, cutoff.instant, cutoff.inclusive, ledger)
        ledger += advance(
            plan.points, state.account, state.customer_id, cutoff.instant, cutoff.inclusive
        )
        moment = cutoff.instant if cutoff.inclusive else cutoff.instant - _INSTANT
    tier: str | None = None
    tier_changes: tuple[TierChange, ...] = ()
    next_tier: NextTier | None = None
    if plan.tiers is not None:
        if cutoff is not None:
            instant, local_date = cutoff.instant, cutoff.local_date
        elif state.last_event_at is not None:
            instant = state.last_event_at
            local_date = instant.astimezone(plan.zone).date()
        if cutoff is not None or state.last_event_at is not None:
            tier, tier_changes, next_tier = state.tiers.report(
                plan.tiers, plan.money, instant, local_date, moment or instant
            )
    stamps = {rule_id: state.stamps.get(rule_id, 0) % every for rule_id, every in plan.stamp_cards}
    program_id, money, tiers = plan.program.program, plan.money, plan.tiers
    if plan.refunds_within is not None and state.last_event_at is not None:
        state.forget(plan.refunds_within, plan.zone, state.last_event_at)
    return CustomerResult(
        customer_id=state.customer_id,
        ledger=tuple(ledger),
        points=state.points,
        available_points=state.account.available(moment),
        pending_points=state.account.pending(moment),
        tier=tier,
        stamps=stamps,
        save=lambda: save(state, program_id, money, tiers),
        tier_changes=tier_changes,
        next_tier=next_tier,
        upcoming_expiry=upcoming_expiry(plan.points, state.account.lots, state.account.active_at),
    )


_Cutoff = Cutoff
"""The name the batch engine imports (``Cutoff`` is the public one)."""
_profiles = check_profiles
"""The name the batch engine imports (``check_profiles`` is the public one)."""
