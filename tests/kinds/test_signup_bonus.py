"""``signup_bonus``: points for joining or for a first purchase of a minimum, by hand.

Histories start on Monday 2 March 2026 at noon UTC (``at(0)``); prices are in USD.
"""

from __future__ import annotations

from helpers import at, ledger, line, program, purchase
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import Customer
from rewardrules.tools.explain.explanation import explain

JOINING = {"id": "welcome", "kind": "signup_bonus", "points": 50}
FIRST_20 = {"id": "first-20", "kind": "signup_bonus", "points": 25, "min_first_purchase": "20.00"}


def test_the_bonus_for_joining_is_given_at_the_moment_of_joining() -> None:
    history = [
        purchase("p1", at(0), line("bun", "3.00")),
        purchase("p2", at(2), line("bun", "4.00")),
    ]
    ana = Customer(customer_id="c1", joined_at=at(1))

    evaluation = evaluate(program(rules=[JOINING]), history, [ana])

    assert ledger(evaluation) == [("welcome@2026-03-03", "welcome", "points", 50, None, None)]


def test_a_first_purchase_below_the_minimum_says_what_it_paid_and_needs() -> None:
    history = [
        purchase("p1", at(1), line("bun", "12.00")),
        purchase("p2", at(2), line("bun", "25.00")),
    ]
    ana = Customer(customer_id="c1", joined_at=at(0))
    rules = program(rules=[FIRST_20])

    evaluation = evaluate(rules, history, [ana])

    assert ledger(evaluation) == [("p2", "first-20", "points", 25, None, None)]
    account = explain(rules, history, "c1", customers=[ana])
    assert account.events[0].outcomes[0].text == (
        "pays 12.00 USD on eligible lines, needs 20.00 USD"
    )
    assert account.next_rewards[-1] == "first-20: already given"


def test_before_the_first_purchase_the_next_reward_names_the_minimum() -> None:
    history = [purchase("p1", at(1), line("bun", "5.00"))]
    ana = Customer(customer_id="c1", joined_at=at(0))

    account = explain(program(rules=[FIRST_20]), history, "c1", customers=[ana])

    assert account.next_rewards[-1] == (
        "first-20: 25 points at a first purchase of at least 20.00 USD"
    )
