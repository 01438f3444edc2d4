"""Laws of bonuses, limits and exclusive groups, over drawn programs, histories and profiles.

The core laws (order, split-and-resume, step folded equals evaluate, the ledger adds up)
are checked again with birthday, sign-up and referral rules, limits and an exclusive group
in the program and customer profiles in the evaluation; then the laws of these features:
a limit is never exceeded, a group rewards a purchase with one rule at most, and a
referrer evaluated alone with the referral facts gets exactly what one evaluation of
everybody gives them.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bonus_strategies import bonus_programs, profiles
from rewardrules.engine.ledger import NOTE_KINDS, POINTS_KINDS, LedgerEntry
from rewardrules.engine.limits import period_key
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent, Customer, Purchase, ReferralQualified
from rewardrules.kinds.referral import referral_facts
from rewardrules.program.model import EveryNthFree, Program, Referral
from strategies import cutoffs, histories, lifecycle_histories
from test_laws import (
    assert_split_and_resume_equals_one_evaluation,
    assert_step_folded_equals_evaluate,
    ledgers,
    states,
)

REWARD_KINDS = frozenset({"points", "discount", "free", "voucher", "gift_card"})


@given(
    program=bonus_programs(),
    events=lifecycle_histories(),
    customers=profiles(),
    as_of=cutoffs(),
)
def test_the_ledger_adds_up_with_bonuses_limits_and_groups(
    program: Program, events: list[AnyEvent], customers: list[Customer], as_of: Any
) -> None:
    evaluation = evaluate(program, events, customers, as_of)

    for result in evaluation.customers:
        total = sum(entry.points or 0 for entry in result.ledger if entry.kind in POINTS_KINDS)
        assert total == result.points == result.available_points + result.pending_points
        assert result.state.points == result.points
    notes = [entry for entry in evaluation.entries if entry.kind in NOTE_KINDS]
    # A note gives nothing; only a referral reversed within its hold has units, -1.
    assert all((entry.points, entry.value_minor) == (None, None) for entry in notes)
    assert all(
        entry.units in ((None, -1) if entry.kind == "referral" else (None,)) for entry in notes
    )
    totals = evaluation.totals
    assert totals.rewards_capped == sum(entry.kind == "capped" for entry in notes)
    assert totals.rewards_set_aside == sum(entry.kind == "set_aside" for entry in notes)
    assert totals.referrals == sum(
        -1 if entry.units else 1 for entry in notes if entry.kind == "referral"
    )


@given(
    program=bonus_programs(),
    events=lifecycle_histories(),
    customers=profiles(),
    shuffle=st.randoms(use_true_random=False),
)
def test_the_order_of_events_and_profiles_does_not_change_the_evaluation(
    program: Program,
    events: list[AnyEvent],
    customers: list[Customer],
    shuffle: random.Random,
) -> None:
    shuffled, profiles_shuffled = list(events), list(customers)
    shuffle.shuffle(shuffled)
    shuffle.shuffle(profiles_shuffled)

    in_order = evaluate(program, events, customers)
    out_of_order = evaluate(program, shuffled, profiles_shuffled)

    assert out_of_order.to_dict() == in_order.to_dict()
    assert states(out_of_order) == states(in_order)


@given(program=bonus_programs(), events=lifecycle_histories(), customers=profiles(), data=st.data())
def test_split_and_resume_holds_with_bonuses_limits_groups_and_profiles(
    program: Program, events: list[AnyEvent], customers: list[Customer], data: st.DataObject
) -> None:
    split = data.draw(st.integers(0, len(events)), label="split")
    assert_split_and_resume_equals_one_evaluation(program, events, split, customers)


@given(program=bonus_programs(), events=lifecycle_histories(), customers=profiles())
def test_step_folded_with_referral_facts_gives_the_entries_and_states_of_evaluate(
    program: Program, events: list[AnyEvent], customers: list[Customer]
) -> None:
    assert_step_folded_equals_evaluate(program, events, customers)


@given(program=bonus_programs(), events=lifecycle_histories(), customers=profiles())
def test_a_customer_evaluated_alone_with_their_referral_facts_gets_what_they_get_with_all(
    program: Program, events: list[AnyEvent], customers: list[Customer]
) -> None:
    everybody = evaluate(program, events, customers)
    facts = referral_facts(everybody.entries)

    for result in everybody.customers:
        customer = result.customer_id
        own: list[AnyEvent] = [event for event in events if event.customer_id == customer]
        own += [fact for fact in facts if fact.customer_id == customer]
        profile = [profile for profile in customers if profile.customer_id == customer]

        alone = evaluate(program, own, profile)

        assert ledgers(alone)[customer] == ledgers(everybody)[customer]
        assert states(alone)[customer] == states(everybody)[customer]


def _local_date(program: Program, entry: LedgerEntry, moments: dict[str, Any]) -> date:
    if "@" in entry.event_id and entry.event_id not in moments:
        return date.fromisoformat(entry.event_id.rsplit("@", 1)[1])
    moment = moments[entry.event_id]
    return moment.astimezone(program.zone).date()  # type: ignore[no-any-return]


@given(
    program=bonus_programs(),
    events=histories(refunds=False),
    customers=profiles(),
    as_of=cutoffs(),
)
def test_no_limit_is_ever_exceeded_in_any_period(
    program: Program, events: list[AnyEvent], customers: list[Customer], as_of: Any
) -> None:
    # Without refunds nothing is given back to an allowance, so what each rule gave in a
    # period is simply the sum of its entries there.
    evaluation = evaluate(program, events, customers, as_of)
    moments: dict[str, Any] = {event.id: event.at for event in events}
    punch_cards = {rule.id for rule in program.rules if isinstance(rule, EveryNthFree)}
    # A referral rule's limits bound the referrer's rewards, not the friend's own gift.
    referrals = {rule.id for rule in program.rules if isinstance(rule, Referral)}
    owner = {event.id: event.customer_id for event in events}

    for rule in program.rules:
        for limit in rule.limit:
            counted: dict[tuple[str, str], int] = defaultdict(int)
            for entry in evaluation.entries:
                if entry.rule != rule.id or entry.kind not in REWARD_KINDS:
                    continue
                if rule.id in referrals and owner.get(entry.event_id) == entry.customer_id:
                    continue
                local = _local_date(program, entry, moments)
                period = entry.event_id if limit.per == "purchase" else period_key(limit.per, local)
                if limit.measure == "points":
                    amount = entry.points or 0
                elif limit.measure == "value":
                    amount = entry.value_minor or 0
                elif rule.id in punch_cards and entry.kind in ("free", "discount"):
                    amount = entry.units or 0
                else:
                    amount = 1
                counted[(entry.customer_id, period)] += amount
            most = limit.points if limit.points is not None else limit.rewards
            if limit.value is not None:
                most = program.money.to_minor(limit.value)
            assert most is not None
            assert all(amount <= most for amount in counted.values()), (limit, dict(counted))


@given(program=bonus_programs(), events=lifecycle_histories(), customers=profiles())
def test_an_exclusive_group_rewards_a_purchase_with_one_rule_at_most(
    program: Program, events: list[AnyEvent], customers: list[Customer]
) -> None:
    evaluation = evaluate(program, events, customers)
    members = {rule.id for rule in program.rules if rule.exclusive_group == "promo"}
    purchases = {event.id for event in events if isinstance(event, Purchase)}

    rewarded: dict[str, set[str]] = defaultdict(set)
    set_aside: dict[str, set[str]] = defaultdict(set)
    for entry in evaluation.entries:
        if entry.rule not in members or entry.event_id not in purchases:
            continue
        if entry.kind in REWARD_KINDS:
            rewarded[entry.event_id].add(entry.rule)
        elif entry.kind == "set_aside":
            set_aside[entry.event_id].add(entry.rule)
    for purchase_id in purchases:
        assert len(rewarded[purchase_id]) <= 1
        assert not rewarded[purchase_id] & set_aside[purchase_id]
        if set_aside[purchase_id]:
            assert len(rewarded[purchase_id]) == 1


@given(program=bonus_programs(), events=lifecycle_histories(), customers=profiles())
def test_every_referral_note_rewards_the_referrer_once_at_the_same_purchase(
    program: Program, events: list[AnyEvent], customers: list[Customer]
) -> None:
    # Under a rule with hold_for (not 0 days) the reward comes at the hold's end, if no
    # refund within the hold reversed it first; until then the referrer's state holds it.
    evaluation = evaluate(program, events, customers)
    referred_by = {profile.customer_id: profile.referred_by for profile in customers}
    holds = {
        rule.id: rule.hold_for not in (None, "0 days")
        for rule in program.rules
        if isinstance(rule, Referral)
    }

    facts: list[ReferralQualified] = referral_facts(evaluation.entries)
    reversed_ = {(fact.id, fact.rule) for fact in facts if fact.reversed_by is not None}
    assert all(holds[rule] for _, rule in reversed_)
    qualifying = [fact for fact in facts if fact.reversed_by is None]
    standing = [fact for fact in qualifying if (fact.id, fact.rule) not in reversed_]
    assert len({(fact.rule, fact.referred) for fact in standing}) == len(standing)
    for fact in qualifying:
        assert referred_by[fact.referred] == fact.customer_id
        referrer = evaluation.customer(fact.customer_id)
        rewards = [
            entry
            for entry in referrer.ledger
            if entry.event_id == fact.id and entry.rule == fact.rule
        ]
        waiting = {(kept.id, kept.rule) for kept in referrer.state.referrals if kept.held_until}
        if (fact.id, fact.rule) in reversed_ or (fact.id, fact.rule) in waiting:
            assert rewards == []
            continue
        assert len(rewards) == 1
        assert rewards[0].kind in ("points", "voucher", "capped")
