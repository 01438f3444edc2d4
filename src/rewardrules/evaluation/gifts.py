"""Gifts that no purchase of the customer earns: at dates, and for referring a friend.

:func:`grant_dated` gives, before each event of a customer (and up to ``as_of``), the
birthday and sign-up gifts due at dates, in time order; :func:`apply_referral` rewards a
referrer for a friend's qualifying purchase. Both give points that are available at once
(no purchase of theirs can be returned) and keep within the rule's limits.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rewardrules.engine.kind import BoundDated
from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.lots import active, advance, earn
from rewardrules.engine.state import WorkingState
from rewardrules.errors import event_error
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.evaluation.stacking import limit_gift
from rewardrules.events import ReferralQualified

__all__ = ["apply_referral", "grant_dated"]


def apply_referral(
    plan: ProgramPlan, state: WorkingState, fact: ReferralQualified, entries: list[LedgerEntry]
) -> None:
    """Reward a referrer for a friend's qualifying purchase."""
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
    for (_, rule_id), friend in state.referrals.items():
        if (rule_id, friend) == (fact.rule, fact.referred):
            raise event_error(
                fact.id,
                f"customer {fact.customer_id} was already rewarded for referring "
                f"{fact.referred} under rule '{fact.rule}'; a friend qualifies once per rule",
                "referred",
            )
    state.referrals[(fact.id, fact.rule)] = fact.referred
    local_date = fact.at.astimezone(plan.zone).date()
    assert rule.rewards_referrer is not None  # noqa: S101 -- the plan keeps only such rules
    entry = limit_gift(plan.limits.get(fact.rule), state, local_date, rule.rewards_referrer(fact))
    entries.append(entry)
    if entry.kind == "points" and entry.points:
        earn(plan.points, state.account, fact.id, fact.at, entry.points, waits=False)
    active(plan.points, state.account, "referral", fact.at)


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
    for scheduled, _, dated, rule_id, tag in due:
        moment = scheduled
        if state.last_event_at is not None and moment < state.last_event_at:
            moment = state.last_event_at  # a profile given late: never out of order
        if plan.points.has_clock:
            entries += advance(plan.points, state.account, customer_id, moment)
        gift = dated.give(state, profile, moment, tag)
        local_date = moment.astimezone(plan.zone).date()
        gift = limit_gift(plan.limits.get(rule_id), state, local_date, gift)
        entries.append(gift)
        if gift.kind == "points" and gift.points:
            earn(plan.points, state.account, gift.event_id, moment, gift.points, waits=False)
