"""Gifts that no purchase of the customer earns: at dates, and for referring a friend.

:func:`grant_dated` gives, before each event of a customer (and up to ``as_of``), the
birthday and sign-up gifts due at dates, in time order; :func:`apply_referral` rewards a
referrer for a friend's qualifying purchase, or holds the reward (a rule's ``hold_for``)
until :func:`release_held` gives it at the hold's end, unless a fact with ``reversed_by``
takes it back first. All give points that are available at once (no purchase of theirs
can be returned) and keep within the rule's limits. Of the gifts of one exclusive group
due at one moment, only the one worth most is given.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from rewardrules.engine.kind import BoundDated
from rewardrules.engine.ledger import NOTE_KINDS, LedgerEntry
from rewardrules.engine.lots import Duration, active, advance, earn
from rewardrules.engine.working_state import WorkingState
from rewardrules.errors import event_error
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.evaluation.stacking import (
    GroupStep,
    Worth,
    gift_within_limits,
    limit_gift,
    worth,
    worth_words,
)
from rewardrules.events import Customer, ReferralQualified
from rewardrules.kinds._gifts import dated_event_id
from rewardrules.money import Currency

__all__ = ["apply_referral", "grant_dated", "release_held"]


def apply_referral(
    plan: ProgramPlan, state: WorkingState, fact: ReferralQualified, entries: list[LedgerEntry]
) -> None:
    """Reward a referrer for a friend's qualifying purchase, hold it, or reverse a hold."""
    rule = plan.referrals.get(fact.rule)
    if rule is None:
        known = ", ".join(sorted(plan.referrals)) or "none"
        raise event_error(
            fact.id,
            f"it names the referral rule '{fact.rule}', which the program does not have "
            f"(its referral rules: {known})",
            "rule",
        )
    if fact.referred == fact.customer_id:
        raise event_error(fact.id, "a customer cannot refer themselves", "referred")
    hold = getattr(rule.rule, "hold_for", None)
    if fact.reversed_by is not None:
        _reverse(state, fact, hold)
        return
    for (_, rule_id), friend in state.referrals.items():
        if (rule_id, friend) == (fact.rule, fact.referred):
            raise event_error(
                fact.id,
                f"customer {fact.customer_id} was already rewarded for referring "
                f"{fact.referred} under rule '{fact.rule}'; a friend qualifies once per rule",
                "referred",
            )
    state.referrals[(fact.id, fact.rule)] = fact.referred
    if hold is not None:
        until = Duration.parse(hold).after(fact.at, plan.zone)
        if until > fact.at:  # a hold of 0 days holds nothing: given at once
            state.held[(fact.id, fact.rule)] = until
            return
    _reward(plan, state, fact, entries)


def _reward(
    plan: ProgramPlan, state: WorkingState, fact: ReferralQualified, entries: list[LedgerEntry]
) -> None:
    """Give the referrer's reward at the fact's instant (a held one's: the hold's end)."""
    rule = plan.referrals[fact.rule]
    local_date = fact.at.astimezone(plan.zone).date()
    assert rule.rewards_referrer is not None  # noqa: S101 -- the plan keeps only such rules
    entry = limit_gift(plan.limits.get(fact.rule), state, local_date, rule.rewards_referrer(fact))
    entries.append(entry)
    if entry.kind == "points" and entry.points:
        earn(plan.points, state.account, fact.id, fact.at, entry.points, waits=False)
    active(plan.points, state.account, "referral", fact.at)


def _reverse(state: WorkingState, fact: ReferralQualified, hold: str | None) -> None:
    """Take back a held reward: it is never given, and the friend may qualify again."""
    key = (fact.id, fact.rule)
    if hold is None:
        raise event_error(
            fact.id,
            f"it reverses a referral under rule '{fact.rule}', which holds nothing (it has no "
            "hold_for): leave reversed_by out, or give the rule a hold_for",
            "reversed_by",
        )
    if key not in state.held or state.referrals.get(key) != fact.referred:
        raise event_error(
            fact.id,
            f"it reverses the referral of {fact.referred}'s purchase {fact.id} under rule "
            f"'{fact.rule}', but customer {fact.customer_id} holds no such reward (never "
            "held, already reversed, or given when its hold ended); supply the fact of the "
            "purchase first, and a reversal only for a refund within the hold",
            "reversed_by",
        )
    del state.held[key]
    del state.referrals[key]


def release_held(
    plan: ProgramPlan,
    state: WorkingState,
    until: datetime,
    inclusive: bool,
    entries: list[LedgerEntry],
) -> None:
    """Give the held referral rewards whose hold ends before ``until`` (or at it, when
    ``inclusive``), in time order; the gifts at dates due before each are given first."""
    due = sorted(
        (moment, key)
        for key, moment in state.held.items()
        if moment < until or (inclusive and moment == until)
    )
    for moment, key in due:
        if plan.dated:
            grant_dated(plan, state, moment, False, entries)
        if plan.points.has_clock:
            entries += advance(plan.points, state.account, state.customer_id, moment)
        del state.held[key]
        fact_id, rule_id = key
        fact = ReferralQualified.model_construct(
            id=fact_id,
            customer_id=state.customer_id,
            at=moment,
            referred=state.referrals[key],
            rule=rule_id,
            reversed_by=None,
        )
        _reward(plan, state, fact, entries)


_GIFT_HORIZON = timedelta(days=800)
"""How far ahead the gifts at dates are scheduled: past the next of every yearly window."""


def grant_dated(
    plan: ProgramPlan,
    state: WorkingState,
    until: datetime,
    inclusive: bool,
    entries: list[LedgerEntry],
) -> None:
    """Give the gifts due at dates (birthday windows, joining) up to ``until``, in order.

    Points expire up to each gift's moment before it is given, so a gift never revives a
    balance that had already expired. The schedule is worked out up to a horizon past
    ``until`` and its next moment kept in the working state, so that the events before
    that moment skip it.
    """
    profile = state.profile
    if profile is None:
        return
    upcoming = state.next_gift_at
    if upcoming is not None and (until < upcoming or (until == upcoming and not inclusive)):
        return
    horizon = until + _GIFT_HORIZON
    schedule: list[tuple[datetime, int, BoundDated, str, int]] = []
    for order, rule in enumerate(plan.dated):
        dated = rule.dated
        assert dated is not None  # noqa: S101 -- the plan keeps only such rules
        for moment, tag in dated.due(state, profile, horizon):
            schedule.append((moment, order, dated, rule.id, tag))
    due, later = [], [horizon]
    for item in schedule:
        if item[0] < until or (inclusive and item[0] == until):
            due.append(item)
        else:
            later.append(item[0])
    # Kept in UTC: every later event compares its instant with it, and comparing with a
    # moment in the program's zone would look the zone's offset up each time.
    state.next_gift_at = min(later).astimezone(UTC)
    if not due:
        return
    due.sort(key=lambda item: (item[0], item[1]))
    customer_id = state.customer_id
    groups = {rule.id: rule.rule.exclusive_group for rule in plan.dated}
    done: set[int] = set()
    for position, (scheduled, _, dated, rule_id, tag) in enumerate(due):
        if position in done:
            continue
        moment = scheduled
        if state.last_event_at is not None and moment < state.last_event_at:
            moment = state.last_event_at  # a profile given late: never out of order
        if plan.points.has_clock or state.account.dated:
            entries += advance(plan.points, state.account, customer_id, moment)
        local_date = moment.astimezone(plan.zone).date()
        group = groups[rule_id]
        rivals = [
            later
            for later in range(position + 1, len(due))
            if due[later][0] == scheduled and groups[due[later][3]] == group
        ]
        if group is not None and rivals:
            done.update(rivals)
            members = [(dated, rule_id, tag), *(due[later][2:] for later in rivals)]
            gift_entries = _group_gifts(plan, state, profile, moment, group, members)
        else:
            gift = dated.give(state, profile, moment, tag)
            if isinstance(gift, str):
                _pass_over(state, plan, rule_id, moment, gift)
                continue
            gift_entries = [limit_gift(plan.limits.get(rule_id), state, local_date, gift)]
        for gift in gift_entries:
            entries.append(gift)
            if gift.kind == "points" and gift.points:
                earn(plan.points, state.account, gift.event_id, moment, gift.points, waits=False)


Member = tuple[BoundDated, str, int]
"""A gift due: its rule's bound gifts, the rule's id, and the tag its ``give`` takes."""


def _pass_over(
    state: WorkingState, plan: ProgramPlan, rule_id: str, moment: datetime, why: str
) -> None:
    """Note a gift the customer was not eligible for, when the state collects them."""
    if state.passed_over is not None:
        state.passed_over.append((dated_event_id(rule_id, moment, plan.zone), rule_id, moment, why))


def _group_gifts(
    plan: ProgramPlan,
    state: WorkingState,
    profile: Customer,
    moment: datetime,
    group: str,
    members: list[Member],
) -> list[LedgerEntry]:
    """The gifts of an exclusive group's members due at one moment: the best of those the
    customer is eligible for then (a member they are not does not compete)."""
    local_date = moment.astimezone(plan.zone).date()
    given = [member.give(state, profile, moment, key) for member, _, key in members]
    members, gifts = _eligible(state, plan, moment, members, given)
    if len(gifts) > 1:
        return _best_gift(plan, state, local_date, group, members, gifts)
    if gifts:
        return [limit_gift(plan.limits.get(members[0][1]), state, local_date, gifts[0])]
    return []


def _eligible(
    state: WorkingState,
    plan: ProgramPlan,
    moment: datetime,
    members: list[Member],
    given: list[LedgerEntry | str],
) -> tuple[list[Member], list[LedgerEntry]]:
    """The members of a group that gave a gift, and their gifts; the others are noted as
    passed over (``WorkingState.passed_over``)."""
    kept: list[Member] = []
    gifts: list[LedgerEntry] = []
    for member, gift in zip(members, given, strict=True):
        if isinstance(gift, str):
            _pass_over(state, plan, member[1], moment, gift)
        else:
            kept.append(member)
            gifts.append(gift)
    return kept, gifts


def _best_gift(
    plan: ProgramPlan,
    state: WorkingState,
    local_date: date,
    group: str,
    members: list[Member],
    gifts: list[LedgerEntry],
) -> list[LedgerEntry]:
    """Of the gifts of one exclusive group due at one moment, give the one worth most.

    Each is worth what it would give within its limits (as ``worth`` measures a purchase's
    group: money, plus points at ``points.value``; then more points); a tie goes to the
    lower priority, then the earlier rule in the file. The others that would give something
    write a ``set_aside`` entry under their own gift's id, and are used up as if given (a
    sign-up bonus is not given later, nor a birthday gift again that year); one that its
    limits cut to nothing does not compete and is given as usual (a ``capped`` entry).
    """
    program = plan.program
    measure = GroupStep(group, (), (), program.points.value, plan.money, program.points.name)
    place = {rule.id: index for index, rule in enumerate(program.rules)}
    priority = {rule.id: rule.priority for rule in program.rules}
    worths = []
    rewarding = []
    for index, ((_, rule_id, _), gift) in enumerate(zip(members, gifts, strict=True)):
        within = gift_within_limits(plan.limits.get(rule_id), state, local_date, gift)
        worths.append(worth(measure, [within]))
        if within.kind not in NOTE_KINDS:
            rewarding.append(index)
    # As in a purchase's group, a gift its limits cut to nothing does not compete: it is
    # given as usual (a capped entry), and only the gifts that would give something compete.
    winner = None
    if rewarding:
        best = max(worths[index] for index in rewarding)
        winner = min(
            (index for index in rewarding if worths[index] == best),
            key=lambda index: (priority[members[index][1]], place[members[index][1]]),
        )
    losers = [index for index in rewarding if index != winner]
    others = tuple(members[index][1] for index in losers)
    result = []
    for index, ((_, rule_id, _), gift) in enumerate(zip(members, gifts, strict=True)):
        if index in losers:
            assert winner is not None  # noqa: S101 -- a loser means there is a winner
            reason = (measure, members[winner][1], worths[winner], worths[index], gift)
            result.append(
                LedgerEntry(
                    gift.event_id,
                    gift.customer_id,
                    rule_id,
                    "set_aside",
                    None,
                    None,
                    None,
                    plan.money,
                    _set_aside_reason,
                    reason,
                )
            )
            continue
        given = limit_gift(plan.limits.get(rule_id), state, local_date, gift)
        if index == winner and losers and given.kind not in NOTE_KINDS:
            given = replace(given, template=_won, arguments=(given, group, others))
        result.append(given)
    return result


def _set_aside_reason(
    money: Currency,
    group: GroupStep,
    winner: str,
    winner_worth: Worth,
    own_worth: Worth,
    would: LedgerEntry,
) -> str:
    return (
        f"set aside: exclusive group '{group.name}' went to '{winner}', worth "
        f"{worth_words(group, winner_worth)} against {worth_words(group, own_worth)}; "
        f"this rule would have given: {would.reason}"
    )


def _won(money: Currency, entry: LedgerEntry, group: str, others: tuple[str, ...]) -> str:
    names = ", ".join(f"'{other}'" for other in others)
    return f"{entry.reason} (best of exclusive group '{group}', over {names})"
