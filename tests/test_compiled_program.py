"""A program compiled once: the same results as the program, reusable, immutable."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from helpers import at, line, program, purchase, refund
from rewardrules import CompiledProgram, compile_program, evaluate, explain, step
from rewardrules.events import Purchase, Refund

RULES: list[dict[str, Any]] = [
    {"kind": "points_per_spend", "id": "stars", "points": "1"},
    {"kind": "every_nth_free", "id": "bogo", "every": 2, "exclusive_group": "offers"},
    {"kind": "bonus_points", "id": "bonus", "points": 5, "exclusive_group": "offers"},
    {"kind": "bonus_points", "id": "daily", "points": 1, "limit": {"per": "day", "rewards": 1}},
]

HISTORY: list[Purchase | Refund] = [
    purchase("p1", at(), line("cake", "3.00")),
    purchase("p2", at(1), line("cake", "4.00"), line("tea", "2.00")),
    purchase("p3", at(1, hours=1), line("cake", "1.00")),
    refund("r1", at(2), "p2"),
]


def test_step_with_a_compiled_program_gives_what_step_with_the_program_gives() -> None:
    rules_program = program(rules=RULES, points={"name": "stars", "value": "0.01"})
    compiled = compile_program(rules_program)
    state = fresh = None
    for event in HISTORY:
        state, entries = step(rules_program, state, event)
        fresh, compiled_entries = step(compiled, fresh, event)
        assert compiled_entries == entries
        assert fresh == state


def test_evaluate_and_explain_take_a_compiled_program() -> None:
    rules_program = program(rules=RULES, points={"name": "stars", "value": "0.01"})
    compiled = compile_program(rules_program)
    assert evaluate(compiled, HISTORY) == evaluate(rules_program, HISTORY)
    assert explain(compiled, HISTORY, "c1") == explain(rules_program, HISTORY, "c1")


def test_a_compiled_program_is_immutable_and_names_its_program() -> None:
    rules_program = program(rules=RULES, points={"name": "stars", "value": "0.01"})
    compiled = compile_program(rules_program)
    assert isinstance(compiled, CompiledProgram)
    assert compiled.program is rules_program
    with pytest.raises(dataclasses.FrozenInstanceError):
        compiled.plan = compile_program(rules_program).plan  # type: ignore[misc]


def test_one_compiled_program_serves_many_threads_with_the_same_results() -> None:
    compiled = compile_program(program(rules=RULES, points={"name": "stars", "value": "0.01"}))
    expected = evaluate(compiled, HISTORY)

    def again(_: int) -> bool:
        return evaluate(compiled, HISTORY) == expected

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(again, range(16)))


POINTS = {"name": "stars", "value": "0.01"}
FRIENDS: dict[str, Any] = {
    "kind": "referral",
    "id": "friends",
    "referrer": {"points": 500},
    "referred": {"points": 200},
}


def test_a_compiled_program_names_its_cards_and_says_whether_it_rewards_referrers() -> None:
    cards = {"kind": "every_nth_free", "id": "visits", "every": 6, "counts": "visits"}
    compiled = compile_program(program(rules=[*RULES, cards], points=POINTS))
    assert compiled.stamp_cards == {"bogo": 2, "visits": 6}
    assert list(compiled.stamp_cards) == ["bogo", "visits"]
    assert not compiled.rewards_referrers
    with_friends = compile_program(program(rules=[*RULES, FRIENDS], points=POINTS))
    assert with_friends.rewards_referrers
