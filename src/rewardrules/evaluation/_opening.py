"""Starting a migrated customer: opening lots and a granted tier from their profile.

A customer moved from another system starts with what their profile brings
(``Customer.opening_points``, ``Customer.tier`` until ``Customer.tier_until``) instead of
nothing. It is applied once, when the customer starts without a saved state (a saved state
already holds it), before their first event (in ``evaluate``, a referrer with none is
started before the first referral fact a friend's purchase raises for them); each lot gives
an ``opening`` ledger entry.
The rules are in docs/lifecycle.md, "Opening balances".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.lots import open_lot
from rewardrules.engine.working_state import WorkingState
from rewardrules.errors import HistoryError, PathItem, Problem, closest
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.events import Customer


def opening_problems(
    profile: Customer, tier_names: Sequence[str] | None, first_at: datetime | None = None
) -> Iterator[Problem]:
    """What in a profile's opening the program cannot take, each naming the field.

    Args:
        profile: the customer's profile.
        tier_names: the program's tier names; None when the program has no tiers.
        first_at: the customer's first event, if known: opening lots are earned before it.
    """
    where: tuple[PathItem, ...] = (f"customer {profile.customer_id}",)
    if profile.tier is not None:
        if tier_names is None:
            yield Problem(
                message=(
                    f"grants tier {profile.tier!r}, but the program has no tiers; leave "
                    "tier and tier_until out, or add the tiers to the program"
                ),
                path=(*where, "tier"),
                code="unknown-tier",
            )
        elif profile.tier not in tier_names:
            close = closest(profile.tier, tier_names)
            yield Problem(
                message=(
                    f"{profile.tier!r} is not one of the program's tiers ({', '.join(tier_names)})"
                ),
                path=(*where, "tier"),
                code="unknown-tier",
                suggestion=f"did you mean {close[0]!r}?" if close else None,
            )
    if first_at is None:
        return
    for index, lot in enumerate(profile.opening_points):
        if lot.earned_at > first_at:
            yield Problem(
                message=(
                    f"is {lot.earned_at.isoformat()}, after the customer's first event "
                    f"({first_at.isoformat()}); an opening balance is what the customer "
                    "had before their history starts: date it before, or add the points "
                    "with the history's events"
                ),
                path=(*where, "opening_points", index, "earned_at"),
                code="late-opening",
            )


def check_opening(plan: ProgramPlan, profile: Customer, first_at: datetime | None) -> None:
    """Refuse what a profile's opening has that the program cannot take (``opening_problems``).

    Raises:
        HistoryError: the tier is not one of the program's, or a lot is earned after
            ``first_at``, the customer's first event.
    """
    tiers = plan.tiers
    problems = list(opening_problems(profile, None if tiers is None else tiers.names, first_at))
    if problems:
        raise HistoryError(problems)


def open_customer(
    plan: ProgramPlan, state: WorkingState, profile: Customer, first_at: datetime | None
) -> list[LedgerEntry]:
    """Give a new customer their opening lots (oldest first) and granted tier.

    Raises:
        HistoryError: the tier is not one of the program's, or a lot is earned after the
            customer's first event.
    """
    check_opening(plan, profile, first_at)
    tiers = plan.tiers
    if tiers is not None and profile.tier is not None and profile.tier_until is not None:
        state.tiers.grant(tiers, profile.tier, profile.tier_until)
    lots = sorted(enumerate(profile.opening_points, start=1), key=lambda item: item[1].earned_at)
    return [
        open_lot(
            plan.points,
            state.account,
            state.customer_id,
            number,
            lot.earned_at,
            lot.expires_at,
            lot.points,
        )
        for number, lot in lots
    ]
