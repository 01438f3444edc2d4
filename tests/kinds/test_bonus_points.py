"""``bonus_points``: fixed points for a purchase the filter admits, worked out by hand.

Histories start on Monday 2 March 2026 at noon UTC (``at(0)``); prices are in USD.
"""

from __future__ import annotations

from datetime import date

from helpers import at, ledger, line, program, purchase, reasons, refund
from rewardrules.evaluation.fold import evaluate
from rewardrules.tools.explain.explanation import explain

WELCOME = {"id": "welcome", "kind": "bonus_points", "points": 50, "once_per_customer": True}
CAKE_DAY = {"id": "cake-day", "kind": "bonus_points", "points": 25, "when": {"skus": ["cake"]}}


def test_a_once_per_customer_bonus_rewards_only_the_first_purchase() -> None:
    history = [
        purchase("p1", at(0), line("cake", "3.00")),
        purchase("p2", at(1), line("tea", "2.00")),
    ]

    evaluation = evaluate(program(rules=[WELCOME]), history)

    assert ledger(evaluation) == [("p1", "welcome", "points", 50, None, None)]
    assert reasons(evaluation) == ["bonus (once per customer): 50 points"]
    account = explain(program(rules=[WELCOME]), history, "c1")
    assert account.events[1].outcomes[0].text == "given once already (once per customer)"
    assert account.next_rewards[-1] == "welcome: already given (once per customer)"


def test_the_bonus_goes_back_only_when_nothing_that_earned_it_is_left() -> None:
    history = [
        purchase("p1", at(0), line("cake", "3.00", 2)),
        refund("r1", at(1), "p1", ("cake", 1)),  # one cake is left: the bonus stays
        refund("r2", at(2), "p1", ("cake", 1)),  # none is left: 25 points go back
    ]
    rules = program(rules=[CAKE_DAY])

    evaluation = evaluate(rules, history)

    assert ledger(evaluation) == [
        ("p1", "cake-day", "points", 25, None, None),
        ("r2", "cake-day", "points", -25, None, None),
    ]
    assert evaluation.customer("c1").points == 0
    account = explain(rules, history, "c1")
    assert account.events[1].outcomes[0].text == (
        "the bonus stays: some of what earned it is still bought"
    )


def test_a_purchase_the_filter_refuses_says_which_condition_failed() -> None:
    history = [purchase("p1", at(0), line("tea", "2.00"))]

    account = explain(program(rules=[CAKE_DAY]), history, "c1", as_of=date(2026, 3, 2))

    assert account.events[0].outcomes[0].text == "no line of the purchase matches (skus cake)"
    assert account.next_rewards[-1] == "cake-day: 25 points on the next purchase it rewards"
