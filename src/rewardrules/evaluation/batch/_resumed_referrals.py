"""Referrals when resuming (``states=``): a saved state's referral slices seeded into the
facts pass and the referrers' walks.

A saved state keeps both sides of a referral (``engine._state_restore._restore_referrals``):

- **as a friend**, the once-per-rule mark (``bonuses``) of a qualifying purchase, and per
  rule with ``hold_for`` that purchase's hold (``referral_holds``: its end, the refund that
  reversed it, whether the friend kept their own gift). A marked friend's new purchases do
  not qualify (:func:`friend_seeds` bars them), unless a refund of the saved purchase
  within its hold reverses the referral: that refund runs through the reference's own
  steps (``_saved_refunds``, ``referral._refund``), which write the friend's reversal
  entry and raise the referrer's fact (:func:`saved_reversals`); from then on the friend's
  next qualifying purchase qualifies again, without their own gift if they kept the first
  (``gift_kept``, carried into ``_holds.FriendRefunds``);
- **as a referrer**, the friends already rewarded (``referrals``: a fact for one of them
  again is the reference's error) and the rewards still held (``held_until``): the walk
  (``_timeline``) starts with them held (:func:`saved_held`), gives each at the hold's end
  before the first event or fact from then on (or by ``as_of``), and a reversal raised in
  the new history takes one back (``_holds.HoldChecks``, seeded by :func:`seed_checks`).

A referrer with a saved state and no new event of their own, whom the new history's
facts reach, is resumed by the reference's own fold of those facts on their restored
state (``Resumed.idle``): they have no column to compute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np

from rewardrules.engine._state_format import micros
from rewardrules.engine.state import CustomerState
from rewardrules.evaluation.batch._frame import Flags, Frame
from rewardrules.evaluation.batch._holds import HeldRewards, HoldChecks
from rewardrules.evaluation.batch._referrals import Fact
from rewardrules.evaluation.batch._saved_refunds import SavedRefunds
from rewardrules.evaluation.plan import ProgramPlan


@dataclass(frozen=True, slots=True)
class FriendSeeds:
    """What the saved states say of the frame's friends under one referral rule."""

    barred: Flags
    """Per event: a purchase that cannot qualify, the friend being marked by their saved
    state (up to a refund of the saved purchase that reverses the referral, or for good)."""
    kept: Mapping[int, bool] = field(default_factory=dict)
    """Per customer (frame index): whether the friend kept their own gift of a reversed
    referral, and so is not given it again."""


def friend_seeds(
    frame: Frame, saved: Mapping[str, CustomerState], refunds: SavedRefunds, rule_id: str
) -> FriendSeeds | None:
    """The friends' seeds under a rule; None when no saved state says anything of it."""
    barred = np.zeros(frame.events, dtype=np.bool_)
    kept: dict[int, bool] = {}
    reversed_at: dict[int, int] = {}  # per customer, the refund reversing the saved one
    for event in sorted(refunds.holds):
        hold = refunds.holds[event].get(rule_id)
        if hold is not None:
            customer = int(frame.customer[event])
            reversed_at.setdefault(customer, event)
            kept.setdefault(customer, hold[3])
    found = False
    starts = frame.customer_start
    for customer, customer_id in enumerate(frame.customer_ids):
        state = saved.get(customer_id)
        if state is None:
            continue
        start, end = int(starts[customer]), int(starts[customer + 1])
        if rule_id in state.bonuses:
            found = True
            barred[start : reversed_at.get(customer, end - 1) + 1] = True
        elif customer not in kept:
            saved_hold = next((one for one in state.referral_holds if one.rule == rule_id), None)
            if saved_hold is not None and saved_hold.gift_kept:
                kept[customer] = True
    if not found and not kept:
        return None
    return FriendSeeds(barred, kept)


def saved_reversals(refunds: SavedRefunds) -> list[Fact]:
    """The referrers' facts raised by refunds of saved purchases that reverse a friend's
    held referral, each right after its refund (as the reference folds the friend's outbox)."""
    found = []
    for event, facts in sorted(refunds.facts.items()):
        del event
        for fact in facts:
            assert fact.reversed_by is not None  # noqa: S101 -- a refund raises reversals only
            found.append(
                Fact(
                    micros(fact.at),
                    fact.id,
                    fact.customer_id,
                    fact.referred,
                    fact.rule,
                    fact.at,
                    fact.reversed_by,
                    fact.reversed_by,
                )
            )
    return found


def saved_refund_effects(
    plan: ProgramPlan, refunds: SavedRefunds
) -> tuple[list[Fact], dict[int, list[tuple[str, int, date]]]]:
    """What refunds of saved purchases raise for the referrers' walks: the facts reversing
    a friend's held referral (:func:`saved_reversals`), and per refund the points it took
    back of a friend's gift under a limited referral rule, with its purchase's local date
    (``Walker.released``: given back to the limits of that customer as a referrer)."""
    releases: dict[int, list[tuple[str, int, date]]] = {}
    for event, entries in sorted(refunds.entries.items()):
        for entry in entries:
            if (
                entry.rule in plan.referrals
                and entry.rule in plan.limits
                and entry.kind == "points"
                and entry.points
            ):
                local = date.fromordinal(refunds.purchases[event][1])
                releases.setdefault(event, []).append((entry.rule, -entry.points, local))
    return saved_reversals(refunds), releases


def saved_held(saved: CustomerState | None) -> HeldRewards:
    """A referrer's rewards held in their saved state, as their walk starts holding them."""
    held = HeldRewards()
    if saved is None:
        return held
    for kept in saved.referrals:
        if kept.held_until is not None:
            fact = Fact(
                micros(kept.held_until),
                kept.id,
                saved.customer_id,
                kept.referred,
                kept.rule,
                kept.held_until,
            )
            held.held[(kept.id, kept.rule)] = (kept.held_until, fact)
    held.first_end = min((until for until, _ in held.held.values()), default=None)
    return held


def seed_checks(
    checks: HoldChecks,
    rewarded: dict[str, set[tuple[str, str]]],
    saved: Mapping[str, CustomerState],
) -> None:
    """The reference's checks of the new facts, from the saved referrals: a friend already
    rewarded (or held) under a rule, and the rewards still held a reversal may take back."""
    for customer_id, state in saved.items():
        if not state.referrals:
            continue
        friends = rewarded.setdefault(customer_id, set())
        for kept in state.referrals:
            friends.add((kept.rule, kept.referred))
            if kept.held_until is not None:
                key = (customer_id, kept.id, kept.rule)
                checks.held[key] = (kept.held_until, kept.referred)


def holding(saved: Mapping[str, CustomerState]) -> set[str]:
    """The customers whose saved state holds a referrer's reward: walked to give it."""
    return {
        customer_id
        for customer_id, state in saved.items()
        if any(kept.held_until is not None for kept in state.referrals)
    }


def saved_fact_keys(saved: Mapping[str, CustomerState]) -> set[tuple[str, str]]:
    """The (fact id, rule) of every referral the saved states hold: a supplied fact with
    one of them repeats it (``fold._evaluate``'s ``facts``)."""
    return {(kept.id, kept.rule) for state in saved.values() for kept in state.referrals}


def too_early(fact: Fact, saved: Mapping[str, CustomerState]) -> datetime | None:
    """The referrer's saved last event, when a fact comes before it (the reference's
    error: an event older than the state); None otherwise."""
    state = saved.get(fact.referrer)
    if state is None or state.last_event_at is None or fact.written >= state.last_event_at:
        return None
    return state.last_event_at
