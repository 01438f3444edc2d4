"""The slices of a saved state that limits keep, seeded into the columns when resuming.

A saved state keeps, per limit (``<rule>#<position>``), the period it counted in and what
it counted there (``CustomerState.limits``, as ``restore`` loads it into
``WorkingState.limit_usage``). Resuming, each limited rule's count (``_limits``) starts
from it for the customer: the period's text read back as the integer ``period_keys``
gives the same local dates. A refund of a purchase the state keeps
(``_saved_refunds``) gives the points it took back to the limits of that purchase's
period, if it is still the one counted (``LimitPlan.release_points``), as the reference's
``fold._apply_refund`` does. The state saved at the end counts the new history's entries
from the saved usage (``_slices.SliceReader``, seeded by :func:`usage_seeds`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import numpy as np

from rewardrules.engine._state_format import instant
from rewardrules.engine._state_restore import restore_account
from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.limits import LimitPlan, Usage
from rewardrules.engine.lots import PointsAccount
from rewardrules.engine.state import CustomerState
from rewardrules.evaluation.batch._frame import Frame
from rewardrules.evaluation.batch._limits import LimitColumns, period_keys
from rewardrules.evaluation.batch._saved_refunds import SavedRefunds
from rewardrules.evaluation.batch._slices import SavedReferrals, SliceReader
from rewardrules.evaluation.plan import ProgramPlan


def period_number(per: str, period: str) -> int:
    """A saved period's text (``limits.period_key``) as the integer ``period_keys`` gives
    every local date in it."""
    if per == "day":
        day = date.fromisoformat(period)
    elif per == "week":
        year, week = period.split("-W")
        day = date.fromisocalendar(int(year), int(week), 1)
    elif per == "month":
        day = date(int(period[:4]), int(period[5:7]), 1)
    elif per == "year":
        day = date(int(period), 1, 1)
    else:
        return 0
    return int(period_keys(per, np.asarray([day.toordinal()], dtype=np.int64))[0])


def _usage(plan: LimitPlan, saved: CustomerState) -> list[tuple[int, int]] | None:
    """The limits' saved usage as the count's start, or None where the state has none."""
    if not any(limit.key in saved.limits for limit in plan.limits):
        return None
    found = []
    for limit in plan.limits:
        usage = saved.limits.get(limit.key)
        if usage is None or limit.per == "purchase":
            found.append((0, 0))
        else:
            found.append((period_number(limit.per, usage.period), usage.used))
    return found


def seed_limits(
    limited: Mapping[str, LimitColumns],
    frame: Frame,
    saved: Mapping[str, CustomerState],
    refunds: SavedRefunds,
) -> dict[str, LimitColumns]:
    """Each limited rule's columns, counting from the saved states' usage, with the points
    refunds of saved purchases give back to it."""
    seeded: dict[str, LimitColumns] = {}
    for rule_id, columns in limited.items():
        plan = columns.plan
        seeds: dict[int, list[tuple[int, int]]] = {}
        for customer, customer_id in enumerate(frame.customer_ids):
            state = saved.get(customer_id)
            usage = None if state is None else _usage(plan, state)
            if usage is not None:
                seeds[customer] = usage
        releases: dict[int, list[tuple[tuple[int | None, ...], int]]] = {}
        for event, entries in refunds.entries.items():
            day = np.asarray([refunds.purchases[event][1]], dtype=np.int64)
            periods = tuple(
                None if limit.per == "purchase" else int(period_keys(limit.per, day)[0])
                for limit in plan.limits
            )
            for entry in entries:  # one by one, as ``fold._apply_refund`` gives them back
                if entry.rule == rule_id and entry.kind == "points" and entry.points:
                    releases.setdefault(event, []).append((periods, -entry.points))
        seeded[rule_id] = replace(columns, seeds=seeds or None, saved_releases=releases or None)
    return seeded


def resumed_reader(
    reader: SliceReader,
    saved: Mapping[str, CustomerState],
    reversals: Mapping[str, Mapping[str, tuple[str, datetime, str | None, bool]]],
) -> SliceReader:
    """The slices' reader counting on from the saved states: each resumed customer's
    limits' usage as ``restore`` loads it (``WorkingState.limit_usage``), their first
    event and birthday years, where the birthdays at dates go on from, and their marks,
    friends and holds (``_resumed_referrals``), with the holds the refunds of saved
    purchases reversed (``reversals``, by refund id)."""
    seeds: dict[str, Usage] = {
        customer_id: {key: (usage.period, usage.used) for key, usage in state.limits.items()}
        for customer_id, state in saved.items()
        if state.limits
    }
    years = {
        customer_id: (state.first_event_at, state.birthdays) for customer_id, state in saved.items()
    }
    referrals = {
        customer_id: SavedReferrals(state.bonuses, state.referrals, state.referral_holds)
        for customer_id, state in saved.items()
        if state.bonuses or state.referrals or state.referral_holds
    }
    return replace(
        reader,
        usage_seeds=seeds,
        saved_years=years,
        saved_referrals=referrals,
        saved_reversals=reversals,
    )


def saved_account(plan: ProgramPlan, saved: CustomerState) -> PointsAccount:
    """A customer's points account as their state saved it (a fresh one), as ``restore``
    restores it: where a walk for gifts at dates starts from (``_timeline``)."""
    account = PointsAccount()
    counts = plan.points.inactivity is not None and "purchase" in plan.points.activity
    restore_account(saved, account, counts)
    return account


def idle_gifts(
    plan: ProgramPlan, entries: list[LedgerEntry], given: dict[str, int]
) -> list[LedgerEntry]:
    """Of the entries of resumed customers without a new event (``Resumed.idle``), add the
    gifts at dates up to ``as_of`` to what the walks ``given`` (as ``_gifts.sums`` counts
    them, a ``capped`` one too); return the others, the account's entries."""
    dated = {rule.id for rule in plan.dated} | set(plan.referrals)  # and referrers' rewards
    account = []
    for entry in entries:
        if entry.rule not in dated:
            account.append(entry)
        elif entry.kind == "points":
            given["points"] += entry.points or 0
        elif entry.kind == "voucher":
            given["vouchers"] += 1
            given["voucher_value"] += entry.value_minor or 0
        elif entry.kind in ("set_aside", "capped"):
            given[entry.kind] += 1
    return account


def kept_purchases(saved: CustomerState) -> dict[str, datetime]:
    """The purchases a saved state keeps not refunded in full, by id (their instants as
    written), and the latest forgotten one not refunded in full (``settled_purchase_at``):
    what a birthday's ``purchase_within`` reads of them (``last_purchase_kept``)."""
    kept = {
        row.id: instant(row.at, row.offset)
        for row in saved.purchases
        if any(line.refunded_units < line.quantity for line in row.lines)
    }
    if saved.settled_purchase_at is not None:
        kept[""] = saved.settled_purchase_at  # older than any kept one: never the latest
    return kept


def saved_purchases_before(resumed: Any, frame: Frame) -> Callable[[int, int], datetime | None]:
    """Per (customer, event), the latest purchase the customer's saved state keeps that no
    refund before the event has refunded in full (``WorkingState.last_purchase_kept``)."""
    emptied: dict[tuple[int, str], int] = {}
    for event in resumed.refunds.emptied:
        purchase_id = resumed.refunds.purchases[event][0]
        emptied[(int(frame.customer[event]), purchase_id)] = event
    kept: dict[int, dict[str, datetime]] = {}

    def before(customer: int, event: int) -> datetime | None:
        if customer not in kept:
            saved = resumed.saved.get(frame.customer_ids[customer])
            kept[customer] = {} if saved is None else kept_purchases(saved)
        moments = [
            moment
            for purchase_id, moment in kept[customer].items()
            if emptied.get((customer, purchase_id), event + 1) > event
        ]
        return max(moments, default=None)

    return before
