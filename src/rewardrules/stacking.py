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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from rewardrules.basket import Basket, Slice, Snapshot
from rewardrules.kinds._words import counted
from rewardrules.kinds.birthday import BirthdayPlan
from rewardrules.kinds.bonus_points import BonusPlan
from rewardrules.kinds.every_nth_free import PunchCardPlan
from rewardrules.kinds.partner_gift_card import GiftCardPlan
from rewardrules.kinds.referral import ReferralPlan
from rewardrules.kinds.signup_bonus import SignupPlan
from rewardrules.ledger import NOTE_KINDS, LedgerEntry
from rewardrules.limits import (
    LimitPlan,
    cut_entries,
    cut_points,
    fits,
    measure,
    note_cut,
)
from rewardrules.money import Currency
from rewardrules.plan import ProgramPlan, RulePlan, changes_prices
from rewardrules.scope import PurchaseContext
from rewardrules.state import WorkingState
from rewardrules.steps import PURCHASE_STEPS

StepFunction = Callable[[Any, WorkingState, PurchaseContext, Basket], list[LedgerEntry]]


@dataclass(frozen=True, slots=True)
class LimitedStep:
    """A rule's step with the limits that bound it."""

    step: StepFunction
    plan: Any
    limits: LimitPlan
    price_rule: bool
    """Price rules change the basket: a cut re-runs them within what is left."""
    units_are_rewards: bool
    """Punch cards count each free or discounted unit as a reward."""

    @property
    def slices(self) -> tuple[Slice, ...]:
        """What the rule's step and its limits may change in the state."""
        usage = tuple(("limit_usage", limit.key) for limit in self.limits.limits)
        return (*state_slices(self.plan), *usage)


def state_slices(step_argument: Any) -> tuple[Slice, ...]:
    """The parts of the state a rule's step may change (a limited rule's limits too)."""
    if isinstance(step_argument, LimitedStep):
        return step_argument.slices
    rule_id = step_argument.rule.id
    if isinstance(step_argument, PunchCardPlan):
        return (("stamps", rule_id),)
    if isinstance(step_argument, GiftCardPlan):
        return (("gift_cards", rule_id),)
    if isinstance(step_argument, BonusPlan | SignupPlan):
        return (("bonuses", rule_id),)
    if isinstance(step_argument, BirthdayPlan):
        return (("birthdays", rule_id),)
    return ()  # points and tiered discounts change only the basket


def limited_step(
    limited: LimitedStep, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    """Run a rule within its limits and count what it gave."""
    limits = limited.limits
    allowance = limits.allowance(state.limit_usage, context.local_date)
    rule_id = limits.rule_id
    if limited.price_rule:
        snapshot = Snapshot(state, basket, limited.slices)
        entries = limited.step(limited.plan, state, context, basket)
        wanted = measure(entries, limited.units_are_rewards)
        if not fits(allowance, *wanted):
            snapshot.restore(state, basket)
            basket.allowance = allowance
            try:
                within = limited.step(limited.plan, state, context, basket)
            finally:
                basket.allowance = None
            entries = note_cut(limits, allowance, wanted, within, entries[0])
    else:
        entries = limited.step(limited.plan, state, context, basket)
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


def limit_gift(
    limits: LimitPlan | None, state: WorkingState, local_date: date, entry: LedgerEntry
) -> LedgerEntry:
    """A gift given outside a purchase (a date, a referral), within the rule's limits."""
    if limits is None:
        return entry
    allowance = limits.allowance(state.limit_usage, local_date)
    if entry.points:
        _, kept = cut_points(limits, allowance, [entry], entry.points)
    else:
        kept = cut_entries(limits, allowance, [entry])
    limits.record(state.limit_usage, local_date, *measure(kept, units_are_rewards=False))
    return kept[0]


@dataclass(frozen=True, slots=True)
class GroupStep:
    """The rules of one exclusive group, in running order."""

    name: str
    members: tuple[tuple[StepFunction, Any, str], ...]
    """Each member's step function, what it is called with, and the rule's id."""
    ranks: tuple[tuple[int, int], ...]
    """Each member's priority and place in the file: the lower wins a tie of worth."""
    point_value: Decimal
    money: Currency
    points_name: str
    slices: tuple[Slice, ...] = ()
    """What the members' steps may change in the state (see :func:`state_slices`)."""


Worth = tuple[Decimal, int]
"""What a reward is worth to the customer: money (points at their value), then points."""


def worth(group: GroupStep, entries: Sequence[LedgerEntry]) -> Worth:
    """Money plus points at ``points.value``; the points alone break a tie of money."""
    money = Decimal(0)
    points = 0
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
    for step, argument, _ in group.members:
        entries = step(argument, state, context, basket)
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
    for index, (step, argument, rule_id) in enumerate(group.members):
        if index in losers:
            assert winner is not None  # noqa: S101 -- a loser means there is a winner
            result.append(_set_aside(group, context, rule_id, index, winner, tried))
            continue
        entries = step(argument, state, context, basket)
        if index == winner and losers:
            others = tuple(group.members[loser][2] for loser in losers)
            note = (group.name, others)
            entries = [
                entry
                if entry.kind in NOTE_KINDS
                else entry._replace(template=_won, arguments=(entry, note))
                for entry in entries
            ]
        result += entries
    return result


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
        (group, group.members[winner][2], tried[winner][0], tried[index][0], would),
    )


def worth_words(group: GroupStep, value: Worth) -> str:
    """'2.00', '40 points' or '0.40 (40 points)'."""
    money, points = value
    if points and not group.point_value:
        return counted(points, group.points_name)
    step = Decimal(1).scaleb(-group.money.exponent)
    shown = group.money.format(group.money.to_minor(money.quantize(step, ROUND_HALF_UP)))
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


def purchase_stages(
    plan: ProgramPlan, running: tuple[RulePlan, ...]
) -> tuple[tuple[Callable[..., Any], Any], ...]:
    """Each rule's step in running order; limited rules wrapped, each exclusive group as
    one stage where its first member runs."""
    stages: list[tuple[Callable[..., Any], Any]] = []
    groups: dict[str, list[tuple[Callable[..., Any], Any, str]]] = {}
    ranks: dict[str, list[tuple[int, int]]] = {}
    place = {rule.id: index for index, rule in enumerate(plan.program.rules)}
    for rule in running:
        step_function: Callable[..., Any] = PURCHASE_STEPS[type(rule)]
        argument: Any = rule
        limits = plan.limits.get(rule.rule.id)
        if limits is not None and not isinstance(rule, ReferralPlan):
            # A referral rule's limits bound the referrer's rewards, given in their ledger.
            argument = LimitedStep(
                step_function,
                rule,
                limits,
                price_rule=changes_prices(rule),
                units_are_rewards=isinstance(rule, PunchCardPlan),
            )
            step_function = limited_step
        group = rule.rule.exclusive_group
        if group is None:
            stages.append((step_function, argument))
            continue
        if group not in groups:
            groups[group], ranks[group] = [], []
            stages.append((group_step, group))  # the group's place: filled in below
        groups[group].append((step_function, argument, rule.rule.id))
        ranks[group].append((rule.rule.priority, place[rule.rule.id]))
    program = plan.program
    return tuple(
        (
            group_step,
            GroupStep(
                argument,
                tuple(groups[argument]),
                tuple(ranks[argument]),
                program.points.value,
                plan.money,
                program.points.name,
                tuple(part for member in groups[argument] for part in state_slices(member[1])),
            ),
        )
        if step_function is group_step
        else (step_function, argument)
        for step_function, argument in stages
    )
