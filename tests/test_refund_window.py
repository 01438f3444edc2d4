"""``refunds: {within: …}``: late refunds refused, and a saved state that forgets old purchases.

The laws: on histories whose refunds all come within the window, the policy changes no
result (ledger, balances, tiers, stamps); split-and-resume through saved JSON still equals
one evaluation; and a saved state keeps no more purchases than the window holds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import at, line, program, purchase, redemption, refund
from rewardrules import CustomerState, evaluate, step
from rewardrules.errors import HistoryError
from rewardrules.events import Purchase, Refund
from rewardrules.program.model import Program, RefundSettings
from strategies import lifecycle_histories, lifecycle_programs, programs
from test_laws import (
    assert_split_and_resume_equals_one_evaluation,
    assert_step_folded_equals_evaluate,
    ledgers,
)

STARS = {"kind": "points_per_spend", "id": "stars", "points": "1"}
WITHIN_90 = {"within": "90 days"}


ALL_LIFECYCLES = lifecycle_programs(reference_only=True)
"""Lifecycle programs with every tier option, those the batch engine refuses too."""


def with_window(rules_program: Program, days: int) -> Program:
    """The same program with ``refunds.within`` of ``days`` days."""
    return rules_program.model_copy(update={"refunds": RefundSettings(within=f"{days} days")})


def longest_refund_gap(events: Sequence[object]) -> int:
    """The most whole days (rounded up) between a refund and its purchase, 1 at least."""
    bought = {event.id: event.at for event in events if isinstance(event, Purchase)}
    gaps = [event.at - bought[event.purchase_id] for event in events if isinstance(event, Refund)]
    return max([1, *(math.ceil(gap / timedelta(days=1)) for gap in gaps)])


# --- the policy ---------------------------------------------------------------------------


def test_a_refund_later_than_the_window_is_refused_naming_the_policy() -> None:
    rules_program = program(rules=[STARS], refunds=WITHIN_90)
    events = [purchase("p1", at(), line("a", "3.00")), refund("r1", at(91), "p1")]
    with pytest.raises(HistoryError) as raised:
        evaluate(rules_program, events)
    assert [str(problem) for problem in raised.value.problems] == [
        "event r1.at: it refunds purchase p1 of 2026-03-02, more than 90 days before; the "
        "program's refunds.within is 90 days, so that purchase can no longer be refunded"
    ]


def test_a_refund_exactly_at_the_end_of_the_window_is_accepted() -> None:
    rules_program = program(rules=[STARS], refunds=WITHIN_90)
    events = [purchase("p1", at(), line("a", "3.00")), refund("r1", at(90), "p1")]
    assert evaluate(rules_program, events).customer("c1").points == 0


def test_without_the_policy_any_earlier_purchase_can_be_refunded() -> None:
    events = [purchase("p1", at(), line("a", "3.00")), refund("r1", at(3000), "p1")]
    assert evaluate(program(rules=[STARS]), events).customer("c1").points == 0


def test_a_refund_of_a_forgotten_purchase_is_refused_naming_the_policy() -> None:
    rules_program = program(rules=[STARS], refunds=WITHIN_90)
    state, _ = step(rules_program, None, purchase("p1", at(), line("a", "3.00")))
    state, _ = step(rules_program, state, purchase("p2", at(100), line("a", "1.00")))
    assert [kept.id for kept in state.purchases] == ["p2"]
    with pytest.raises(HistoryError) as raised:
        step(rules_program, state, refund("r1", at(101), "p1"))
    assert [str(problem) for problem in raised.value.problems] == [
        "event r1.purchase_id: it refunds purchase p1, which customer c1 made more than 90 "
        "days before it or never: the program's refunds.within is 90 days, and older "
        "purchases are forgotten; check the purchase id, and refund within the policy"
    ]


def test_a_state_that_forgot_purchases_keeps_their_points_and_tier_spend() -> None:
    tiers = {
        "qualify_by": "spend",
        "window": "calendar_year",
        "levels": [{"name": "silver", "at_least": "5.00"}],
    }
    rules_program = program(rules=[STARS], refunds={"within": "10 days"}, tiers=tiers)
    state = None
    for day in range(0, 60, 5):
        state, _ = step(rules_program, state, purchase(f"p{day}", at(day), line("a", "1.00")))
    assert state is not None
    loaded = CustomerState.model_validate_json(state.model_dump_json())
    assert (len(loaded.purchases), loaded.points, loaded.tier_amounts) == (3, 12, {"2026": 900})
    assert loaded.purchases[-1].tier == "silver"


# --- the laws -----------------------------------------------------------------------------


@given(program=ALL_LIFECYCLES, events=lifecycle_histories(), data=st.data())
def test_a_window_that_every_refund_keeps_to_changes_no_result(
    program: Program, events: list[object], data: st.DataObject
) -> None:
    days = longest_refund_gap(events) + data.draw(st.integers(0, 30), label="spare days")
    windowed = with_window(program, days)

    with_policy, without = evaluate(windowed, events), evaluate(program, events)

    assert with_policy.to_dict() == without.to_dict()
    assert ledgers(with_policy) == ledgers(without)
    for kept, full in zip(with_policy.customers, without.customers, strict=True):
        assert (kept.points, kept.tier, kept.stamps) == (full.points, full.tier, full.stamps)


@given(program=programs(), events=lifecycle_histories(), data=st.data())
def test_split_and_resume_with_a_window_equals_one_evaluation(
    program: Program, events: list[object], data: st.DataObject
) -> None:
    windowed = with_window(program, longest_refund_gap(events))
    split = data.draw(st.integers(0, len(events)), label="split")
    assert_split_and_resume_equals_one_evaluation(windowed, events, split)  # type: ignore[arg-type]


@given(program=ALL_LIFECYCLES, events=lifecycle_histories())
def test_step_folded_with_a_window_gives_the_entries_and_states_of_evaluate(
    program: Program, events: list[object]
) -> None:
    windowed = with_window(program, longest_refund_gap(events))
    assert_step_folded_equals_evaluate(windowed, events)  # type: ignore[arg-type]


@given(
    program=ALL_LIFECYCLES,
    events=lifecycle_histories(max_purchases=10),
    data=st.data(),
)
def test_a_saved_state_keeps_no_purchase_older_than_the_window_but_the_newest(
    program: Program, events: list[object], data: st.DataObject
) -> None:
    days = longest_refund_gap(events) + data.draw(st.integers(0, 10), label="spare days")
    windowed = with_window(program, days)
    for result in evaluate(windowed, events).customers:
        state = CustomerState.model_validate_json(result.state.model_dump_json())
        if state.last_event_at is None:
            continue
        inside = [
            event
            for event in events
            if isinstance(event, Purchase)
            and event.customer_id == result.customer_id
            and event.at + timedelta(days=days) >= state.last_event_at
        ]
        assert len(state.purchases) <= max(1, len(inside))


# --- the checks of a state that forgot purchases ------------------------------------------


def forgetful_state() -> dict[str, object]:
    """The JSON data of a state whose first purchase was forgotten, its lot kept."""
    points = {"expire_after": "2 years"}  # a lot per purchase
    rules_program = program(rules=[STARS], refunds=WITHIN_90, points=points)
    state, _ = step(rules_program, None, purchase("p1", at(), line("a", "3.00")))
    state, _ = step(rules_program, state, purchase("p2", at(100), line("a", "1.00")))
    data: dict[str, object] = json.loads(state.model_dump_json())
    return data


def test_a_lot_of_a_forgotten_purchase_is_accepted() -> None:
    data = forgetful_state()
    state = CustomerState.model_validate(data)
    assert ([lot.source for lot in state.lots], state.forgotten_until) == (["p1", "p2"], at())


def problems_of(data: dict[str, object]) -> list[str]:
    data = {key: value for key, value in data.items() if key != "digest"}
    with pytest.raises(HistoryError) as raised:
        CustomerState.model_validate(data)
    return [problem.message for problem in raised.value.problems]


def test_a_kept_purchase_older_than_the_forgotten_ones_is_refused() -> None:
    data = forgetful_state()
    data["forgotten_until"] = at(200).isoformat()
    assert problems_of(data)[0] == (
        f"is before forgotten_until ({at(200).isoformat()}); purchases are forgotten oldest first"
    )


def test_tier_amounts_without_forgotten_purchases_are_refused() -> None:
    rules_program = program(rules=[STARS])
    state, _ = step(rules_program, None, purchase("p1", at(), line("a", "3.00")))
    data = json.loads(state.model_dump_json())
    data["tier_amounts"] = {"2026": 300}
    assert problems_of(data) == ["counts forgotten purchases, but forgotten_until is missing"]


def test_a_kept_purchase_at_the_instant_of_a_forgotten_one_counts_once_in_the_tier_window() -> None:
    # Two purchases at one instant: the older is forgotten, the newest kept. The kept one's
    # spend was saved both with it and among the forgotten window's amounts, so each resume
    # through a saved state counted it once more (found by the step-fold law).
    tiers = {
        "qualify_by": "spend",
        "window": "365 days",
        "levels": [{"name": "silver", "at_least": "5.00"}, {"name": "gold", "at_least": "12.00"}],
    }
    rewards = [{"id": "snack", "name": "Snack", "cost": 1, "value": "0.50"}]
    rules_program = program(
        rules=[STARS], tiers=tiers, rewards=rewards, refunds={"within": "1 days"}
    )
    events = [
        purchase("p1", at(), line("a", "6.00")),
        purchase("p2", at(), line("a", "3.00")),
        redemption("x1", at(2), "snack"),
        redemption("x2", at(3), "snack"),
    ]
    assert_step_folded_equals_evaluate(rules_program, events)
    state = None
    for event in events:
        state, _ = step(rules_program, state, event)
    assert evaluate(rules_program, events).customer("c1").tier == "silver"  # 9.00
    resumed = evaluate(rules_program, [], states=[state], as_of=at(3, hours=1))
    assert resumed.customer("c1").tier == "silver"
