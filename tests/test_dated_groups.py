"""Exclusive groups of gifts given at dates: of the gifts of one group due at one moment,
only the one worth most to the customer is given (issue 15).

Histories start on Monday 2 March 2026 at noon UTC (``at(0)``); prices are in USD.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import at, ledger, line, program, purchase, reasons
from rewardrules.engine.ledger import Evaluation
from rewardrules.errors import RuleFileError
from rewardrules.evaluation import batch
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent, Customer
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import loads_program
from rewardrules.tools.explain.explanation import explain

POINTS = {"name": "points", "value": "0.01"}


def both_engines(rules: Program, history: list[AnyEvent], customers: list[Customer]) -> Evaluation:
    """The reference's evaluation, checked to be the batch engine's too, entry by entry."""
    evaluation = evaluate(rules, history, customers)
    assert batch.unsupported(rules) == []
    assert evaluate(rules, history, customers, engine="batch").to_dict() == evaluation.to_dict()
    return evaluation


def welcome(rule_id: str, points: int, **fields: Any) -> dict[str, Any]:
    return {"id": rule_id, "kind": "signup_bonus", "points": points, **fields}


def test_of_two_sign_up_gifts_in_a_group_only_the_larger_is_given() -> None:
    rules = program(
        points=POINTS,
        rules=[
            welcome("small", 50, exclusive_group="welcome"),
            welcome("big", 80, exclusive_group="welcome"),
        ],
    )
    ana = Customer(customer_id="c1", joined_at=at(1))

    evaluation = both_engines(rules, [purchase("p1", at(2), line("bun", "3.00"))], [ana])

    # both are due at joining: 80 points (0.80) against 50 (0.50); the smaller is set aside
    assert ledger(evaluation) == [
        ("small@2026-03-03", "small", "set_aside", None, None, None),
        ("big@2026-03-03", "big", "points", 80, None, None),
    ]
    assert reasons(evaluation) == [
        "set aside: exclusive group 'welcome' went to 'big', worth 0.80 USD (80 points) "
        "against 0.50 USD (50 points); this rule would have given: welcome bonus, for "
        "joining: 50 points",
        "welcome bonus, for joining: 80 points (best of exclusive group 'welcome', over 'small')",
    ]
    assert evaluation.customer("c1").points == 80


def test_without_a_group_both_sign_up_gifts_are_given() -> None:
    rules = program(rules=[welcome("small", 50), welcome("big", 80)])
    ana = Customer(customer_id="c1", joined_at=at(1))

    evaluation = both_engines(rules, [purchase("p1", at(2), line("bun", "3.00"))], [ana])

    assert evaluation.customer("c1").points == 130


def test_a_tie_goes_to_the_lower_priority_then_the_earlier_rule() -> None:
    ana = Customer(customer_id="c1", joined_at=at(1))
    history = [purchase("p1", at(2), line("bun", "3.00"))]
    by_file = program(
        points=POINTS,
        rules=[
            welcome("first", 50, exclusive_group="welcome"),
            welcome("second", 50, exclusive_group="welcome"),
        ],
    )
    by_priority = program(
        points=POINTS,
        rules=[
            welcome("first", 50, exclusive_group="welcome", priority=1),
            welcome("second", 50, exclusive_group="welcome"),
        ],
    )

    kinds = [row[1:3] for row in ledger(both_engines(by_file, history, [ana]))]
    assert kinds == [("first", "points"), ("second", "set_aside")]
    kinds = [row[1:3] for row in ledger(both_engines(by_priority, history, [ana]))]
    # entries come in running order: 'second' (priority 0) runs first
    assert kinds == [("second", "points"), ("first", "set_aside")]


def test_a_birthday_voucher_worth_more_than_the_points_wins_and_the_year_is_used_up() -> None:
    rules = program(
        points=POINTS,
        rules=[
            {"id": "stars", "kind": "birthday", "points": 300, "exclusive_group": "bday"},
            {
                "id": "cake",
                "kind": "birthday",
                "voucher": {"sku": "cake", "value": "5.00"},
                "exclusive_group": "bday",
            },
        ],
    )
    ana = Customer(customer_id="c1", birthday="03-10")
    history = [
        purchase("p1", at(0), line("bun", "1.00")),
        purchase("p2", at(18), line("bun", "1.00")),
    ]

    evaluation = both_engines(rules, history, [ana])

    # 300 points at 0.01 = 3.00 against a 5.00 voucher; neither comes again in 2026
    assert ledger(evaluation) == [
        ("stars@2026-03-10", "stars", "set_aside", None, None, None),
        ("cake@2026-03-10", "cake", "voucher", None, Decimal("5.00"), 1),
    ]
    assert evaluation.customer("c1").points == 0


def test_gifts_of_one_group_due_at_different_moments_do_not_compete() -> None:
    rules = program(
        points=POINTS,
        rules=[
            welcome("welcome", 50, exclusive_group="gifts"),
            {"id": "bday", "kind": "birthday", "points": 100, "exclusive_group": "gifts"},
        ],
    )
    ana = Customer(customer_id="c1", joined_at=at(1), birthday="03-10")

    evaluation = both_engines(rules, [purchase("p1", at(18), line("bun", "1.00"))], [ana])

    assert evaluation.customer("c1").points == 150


def test_a_limit_counts_in_the_worth_of_a_gift() -> None:
    rules = program(
        points=POINTS,
        rules=[
            welcome("big", 80, exclusive_group="welcome", limit={"per": "lifetime", "points": 30}),
            welcome("small", 50, exclusive_group="welcome"),
        ],
    )
    ana = Customer(customer_id="c1", joined_at=at(1))

    evaluation = both_engines(rules, [purchase("p1", at(2), line("bun", "3.00"))], [ana])

    # 'big' would give 30 within its limit, less than the 50 of 'small'
    assert [row[1:4] for row in ledger(evaluation)] == [
        ("big", "set_aside", None),
        ("small", "points", 50),
    ]


def test_the_batch_engine_gives_a_group_of_gifts_to_customers_without_events() -> None:
    rules = program(
        points=POINTS,
        rules=[
            welcome("small", 50, exclusive_group="welcome"),
            welcome("big", 80, exclusive_group="welcome", limit={"per": "year", "points": 40}),
        ],
    )
    # ana joins and buys; bo only joins (up to as_of): 'big' gives 40 within its limit,
    # less than the 50 of 'small', so 'small' wins for both
    profiles = [
        Customer(customer_id="c1", joined_at=at(1)),
        Customer(customer_id="c2", joined_at=at(3)),
    ]
    history: list[AnyEvent] = [purchase("p1", at(2), line("bun", "3.00"))]
    evaluation = evaluate(rules, history, profiles, as_of=at(5))
    found = evaluate(rules, history, profiles, as_of=at(5), engine="batch")
    assert found.to_dict() == evaluation.to_dict()
    assert [row[:4] for row in ledger(found)][:2] == [
        ("small@2026-03-03", "small", "points", 50),
        ("big@2026-03-03", "big", "set_aside", None),
    ]
    assert [row[:4] for row in ledger(found, "c2")] == [
        ("small@2026-03-05", "small", "points", 50),
        ("big@2026-03-05", "big", "set_aside", None),
    ]
    assert found.totals.rewards_set_aside == 2


def test_a_group_mixing_a_gift_at_a_date_with_a_purchase_rule_is_refused_at_its_place() -> None:
    text = "\n".join(
        [
            "program: club",
            "name: Club",
            "currency: USD",
            "timezone: UTC",
            "rules:",
            "  - {id: cake, kind: birthday, points: 100, exclusive_group: treats}",
            "  - {id: bonus, kind: bonus_points, points: 50, exclusive_group: treats}",
        ]
    )
    with pytest.raises(RuleFileError) as raised:
        loads_program(text)
    (problem,) = raised.value.problems
    assert str(problem).splitlines()[0] == (
        "<text>:7:66: rules[1].exclusive_group: the exclusive group 'treats' mixes 'cake' "
        "(this birthday gift is given when its window opens) with 'bonus', which rewards a "
        "purchase: they never fall due together, so they never compete; put them in "
        "separate groups, or set requires_purchase: true on 'cake'"
    )


@settings(max_examples=60)
@given(st.lists(st.tuples(st.integers(1, 300), st.integers(0, 2)), min_size=1, max_size=4))
def test_a_group_of_sign_up_gifts_gives_the_most_points_once(
    gifts: list[tuple[int, int]],
) -> None:
    rules = program(
        points=POINTS,
        rules=[
            welcome(f"w{index}", points, exclusive_group="welcome", priority=priority)
            for index, (points, priority) in enumerate(gifts)
        ],
    )
    ana = Customer(customer_id="c1", joined_at=at(1))

    entries = both_engines(rules, [purchase("p1", at(2), line("bun", "3.00"))], [ana])
    rows = ledger(entries)

    most = max(points for points, _ in gifts)
    winner = min(
        (priority, index) for index, (points, priority) in enumerate(gifts) if points == most
    )[1]
    assert entries.customer("c1").points == most
    assert [row[1] for row in rows if row[2] == "points"] == [f"w{winner}"]
    assert sum(row[2] == "set_aside" for row in rows) == len(gifts) - 1


def test_explain_says_which_gift_of_the_group_won_and_by_how_much() -> None:
    rules = program(
        points=POINTS,
        rules=[
            welcome("small", 50, exclusive_group="welcome"),
            welcome("big", 80, exclusive_group="welcome"),
        ],
    )
    ana = Customer(customer_id="c1", joined_at=at(1))
    history = [purchase("p1", at(2), line("bun", "3.00"))]

    account = explain(rules, history, "c1", customers=[ana])

    lost, won = account.events[0], account.events[1]
    assert [(found.rule, found.applied, found.text) for found in lost.outcomes] == [
        (
            "small",
            False,
            "lost to another rule of its group: exclusive group 'welcome' went to 'big', "
            "worth 0.80 USD (80 points) against 0.50 USD (50 points); this rule would have "
            "given: welcome bonus, for joining: 50 points",
        )
    ]
    assert [(found.rule, found.applied) for found in won.outcomes] == [("big", True)]
