"""How rules stack: per-rule limits around a rule's step, and exclusive groups.

A limited rule runs as usual; when what it gives does not fit what its limits leave, a
points rule's points are cut, vouchers and gift cards beyond the limit are not given, and
a price rule (punch card, tiered discount) is run again within what is left. The ledger
says so on the entries, or with a ``capped`` entry when nothing is left.

An exclusive group runs where its first member would run. Each member is tried on the
same basket and state; the members that would reward the purchase compete, and only the
one worth most to the customer (money, plus points at ``points.value``; ties: the lower
priority number, then the earlier in the file) is applied. The others are set aside: the
purchase does not count for them (nor does a refund of it), and a ``set_aside`` entry
says what they would have given. Members that would give nothing run as usual (their
punch cards and spend still count).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_HALF_UP, Context, Decimal, localcontext
from functools import partial

from rewardrules.engine.basket import Basket, Slice, Snapshot
from rewardrules.engine.kind import CompiledRule, PurchaseStep
from rewardrules.engine.ledger import NOTE_KINDS, LedgerEntry
from rewardrules.engine.limits import (
    LimitPlan,
    cut_entries,
    cut_points,
    fits,
    measure,
    note_cut,
)
from rewardrules.engine.scope import PurchaseContext
from rewardrules.engine.working_state import WorkingState
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.money import Currency
from rewardrules.text import counted


@dataclass(frozen=True, slots=True)
class LimitedStep:
    """A rule's step with the limits that bound it."""

    step: PurchaseStep
    limits: LimitPlan
    price_rule: bool
    """Price rules change the basket: a cut re-runs them within what is left."""
    units_are_rewards: bool
    """Punch cards count each free or discounted unit as a reward."""
    slices: tuple[Slice, ...]
    """What the rule's step and its limits may change in the state."""

    @classmethod
    def of(cls, rule: CompiledRule, limits: LimitPlan) -> LimitedStep:
        """A compiled rule within its limits."""
        usage = tuple(("limit_usage", limit.key) for limit in limits.limits)
        return cls(
            rule.purchase,
            limits,
            price_rule=rule.changes_prices,
            units_are_rewards=rule.units_are_rewards,
            slices=(*rule.slices, *usage),
        )


def limited_step(
    limited: LimitedStep, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    """Run a rule within its limits and count what it gave."""
    limits = limited.limits
    allowance = limits.allowance(state.limit_usage, context.local_date)
    rule_id = limits.rule_id
    if limited.price_rule:
        snapshot = Snapshot(state, basket, limited.slices)
        entries = limited.step(state, context, basket)
        wanted = measure(entries, limited.units_are_rewards)
        if not fits(allowance, *wanted):
            snapshot.restore(state, basket)
            basket.allowance = allowance
            try:
                within = limited.step(state, context, basket)
            finally:
                basket.allowance = None
            entries = note_cut(limits, allowance, wanted, within, entries[0])
    else:
        entries = limited.step(state, context, basket)
        points = basket.points.get(rule_id, 0)
        if points:
            given, entries = cut_points(limits, allowance, entries, points)
            if given:
                basket.points[rule_id] = given
            else:
                del basket.points[rule_id]
        else:
            entries = cut_entries(limits, allowance, entries)
    limits.record(
        state.limit_usage, context.local_date, *measure(entries, limited.units_are_rewards)
    )
    return entries


def gift_within_limits(
    limits: LimitPlan | None, state: WorkingState, local_date: date, entry: LedgerEntry
) -> LedgerEntry:
    """What a gift would give within its rule's limits, counting nothing."""
    if limits is None:
        return entry
    allowance = limits.allowance(state.limit_usage, local_date)
    if entry.points:
        _, kept = cut_points(limits, allowance, [entry], entry.points)
    else:
        kept = cut_entries(limits, allowance, [entry])
    return kept[0]


def limit_gift(
    limits: LimitPlan | None, state: WorkingState, local_date: date, entry: LedgerEntry
) -> LedgerEntry:
    """A gift given outside a purchase (a date, a referral), within the rule's limits."""
    if limits is None:
        return entry
    given = gift_within_limits(limits, state, local_date, entry)
    limits.record(state.limit_usage, local_date, *measure([given], units_are_rewards=False))
    return given


@dataclass(frozen=True, slots=True)
class GroupStep:
    """The rules of one exclusive group, in running order."""

    name: str
    members: tuple[tuple[PurchaseStep, str], ...] = field(compare=False)
    """Each member's step (within its limits, if any) and the rule's id (not compared: a
    ledger note names the group, and each compilation binds its own steps)."""
    ranks: tuple[tuple[int, int], ...]
    """Each member's priority and place in the file: the lower wins a tie of worth."""
    point_value: Decimal
    money: Currency
    points_name: str
    slices: tuple[Slice, ...] = ()
    """What the members' steps may change in the state (their kinds' ``state_slices``)."""


Worth = tuple[Decimal, int]
"""What a reward is worth to the customer: money (points at their value), then points."""


_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
"""Sums, products and rounding to the minor unit of any size, never rounded to the default
context's 28 digits (a worth of more digits was compared rounded, and failed to print)."""


def worth(group: GroupStep, entries: Sequence[LedgerEntry]) -> Worth:
    """Money plus points at ``points.value``, exactly; the points alone break a tie of money."""
    money = Decimal(0)
    points = 0
    with localcontext(_EXACT):
        for entry in entries:
            if entry.kind in NOTE_KINDS:
                continue
            points += entry.points or 0
            if entry.value_minor:
                money += group.money.to_decimal(entry.value_minor)
        return money + points * group.point_value, points


def group_step(
    group: GroupStep, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    """Apply the one member of the group worth most; set the others that would reward aside."""
    snapshot = Snapshot(state, basket, group.slices)
    tried: list[tuple[Worth, list[LedgerEntry]]] = []
    for step, _ in group.members:
        entries = step(state, context, basket)
        tried.append((worth(group, entries), entries))
        snapshot.restore(state, basket)
    rewarding = [
        index
        for index, (_, entries) in enumerate(tried)
        if any(entry.kind not in NOTE_KINDS for entry in entries)
    ]
    winner = None
    if rewarding:
        best = max(tried[index][0] for index in rewarding)
        winner = min(
            (index for index in rewarding if tried[index][0] == best),
            key=lambda index: group.ranks[index],
        )
    losers = [index for index in rewarding if index != winner]
    result: list[LedgerEntry] = []
    for index, (step, rule_id) in enumerate(group.members):
        if index in losers:
            assert winner is not None  # noqa: S101 -- a loser means there is a winner
            result.append(_set_aside(group, context, rule_id, index, winner, tried))
            continue
        if index == winner:
            entries = step(state, context, basket)
        else:
            entries = _as_tried(step, state, context, basket, snapshot, group.slices)
        if index == winner and losers:
            others = tuple(group.members[loser][1] for loser in losers)
            note = (group.name, others)
            entries = [
                entry
                if entry.kind in NOTE_KINDS
                else replace(entry, template=_won, arguments=(entry, note))
                for entry in entries
            ]
        result += entries
    return result


def _as_tried(
    step: PurchaseStep,
    state: WorkingState,
    context: PurchaseContext,
    basket: Basket,
    place: Snapshot,
    slices: tuple[Slice, ...],
) -> list[LedgerEntry]:
    """A member that gave nothing where the group runs, run as usual after the winner.

    It runs on the basket the winner left (a gift card counts what was paid). Only a limit
    of value can make it give there what it could not give at the group's place (a punch
    card's free unit, too dear for what is left, made cheaper by the winner's discount);
    a group gives one reward, so such a member runs where it was tried instead, and is
    capped there as it was in its trial: its card completes and its reward is lost."""
    before = Snapshot(state, basket, slices)
    entries = step(state, context, basket)
    if all(entry.kind in NOTE_KINDS for entry in entries):
        return entries
    before.restore(state, basket)
    left = (basket.amounts, basket.units_left)
    basket.amounts, basket.units_left = list(place.amounts), list(place.units_left)
    try:
        return step(state, context, basket)
    finally:
        basket.amounts, basket.units_left = left


def _set_aside(
    group: GroupStep,
    context: PurchaseContext,
    rule_id: str,
    index: int,
    winner: int,
    tried: list[tuple[Worth, list[LedgerEntry]]],
) -> LedgerEntry:
    purchase = context.purchase
    would = [entry for entry in tried[index][1] if entry.kind not in NOTE_KINDS]
    return LedgerEntry(
        purchase.id,
        purchase.customer_id,
        rule_id,
        "set_aside",
        None,
        None,
        None,
        group.money,
        _set_aside_reason,
        (group, group.members[winner][1], tried[winner][0], tried[index][0], would),
    )


def worth_words(group: GroupStep, value: Worth) -> str:
    """'2.00', '40 points' or '0.40 (40 points)'."""
    money, points = value
    if points and not group.point_value:
        return counted(points, group.points_name)
    step = Decimal(1).scaleb(-group.money.exponent)
    with localcontext(_EXACT):
        minor = group.money.to_minor(money.quantize(step, ROUND_HALF_UP))
    shown = group.money.format(minor)
    return f"{shown} ({counted(points, group.points_name)})" if points else shown


def _set_aside_reason(
    money: Currency,
    group: GroupStep,
    winner: str,
    winner_worth: Worth,
    own_worth: Worth,
    would: list[LedgerEntry],
) -> str:
    gave = "; ".join(entry.reason for entry in would)
    return (
        f"set aside: exclusive group '{group.name}' went to '{winner}', worth "
        f"{worth_words(group, winner_worth)} against {worth_words(group, own_worth)}; "
        f"this rule would have given: {gave}"
    )


def _won(money: Currency, entry: LedgerEntry, note: tuple[str, tuple[str, ...]]) -> str:
    name, others = note
    names = ", ".join(f"'{other}'" for other in others)
    return f"{entry.reason} (best of exclusive group '{name}', over {names})"


def stage_rules(order: Sequence[CompiledRule]) -> tuple[tuple[str, ...], ...]:
    """The rule ids of each stage of :func:`purchase_stages`, from the order it returns: a
    rule alone, or an exclusive group's members (which that order keeps together)."""
    stages: list[list[str]] = []
    groups: dict[str, list[str]] = {}
    for rule in order:
        group = rule.rule.exclusive_group
        if group is None:
            stages.append([rule.id])
        elif group in groups:
            groups[group].append(rule.id)
        else:
            groups[group] = [rule.id]
            stages.append(groups[group])  # the same list: later members join it
    return tuple(tuple(stage) for stage in stages)


def purchase_stages(
    plan: ProgramPlan,
) -> tuple[tuple[PurchaseStep, ...], tuple[CompiledRule, ...]]:
    """Each rule's step in running order, limited rules within their limits, each exclusive
    group as one stage where its first member runs; and the rules in the order they run."""
    stages: list[PurchaseStep | str] = []  # a group's name marks its place, filled in below
    groups: dict[str, list[tuple[PurchaseStep, str]]] = {}
    slices: dict[str, list[Slice]] = {}
    ranks: dict[str, list[tuple[int, int]]] = {}
    members: dict[str, list[CompiledRule]] = {}
    place = {rule.id: index for index, rule in enumerate(plan.program.rules)}
    for rule in plan.running:
        step = rule.purchase
        rule_slices = rule.slices
        limits = plan.limits.get(rule.id)
        # A referral rule's limits bound the referrer's rewards, given in their ledger.
        if limits is not None and rule.rewards_referrer is None:
            limited = LimitedStep.of(rule, limits)
            step, rule_slices = partial(limited_step, limited), limited.slices
        group = rule.rule.exclusive_group
        if group is None:
            stages.append(step)
            continue
        if group not in groups:
            groups[group], slices[group], ranks[group], members[group] = [], [], [], []
            stages.append(group)
        groups[group].append((step, rule.id))
        slices[group] += rule_slices
        ranks[group].append((rule.rule.priority, place[rule.id]))
        members[group].append(rule)
    program = plan.program
    steps = tuple(
        partial(
            group_step,
            GroupStep(
                stage,
                tuple(groups[stage]),
                tuple(ranks[stage]),
                program.points.value,
                plan.money,
                program.points.name,
                tuple(slices[stage]),
            ),
        )
        if isinstance(stage, str)
        else stage
        for stage in stages
    )
    order: list[CompiledRule] = []
    seen: set[str] = set()
    for rule in plan.running:
        group = rule.rule.exclusive_group
        if group is None:
            order.append(rule)
        elif group not in seen:
            seen.add(group)
            order += members[group]
    return steps, tuple(order)
