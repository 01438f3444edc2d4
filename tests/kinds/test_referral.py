"""``referral``: a reward for bringing a friend, when the friend first buys, by hand.

Histories start on Monday 2 March 2026 at noon UTC (``at(0)``); prices are in USD.
"""

from __future__ import annotations

from helpers import at, ledger, line, program, purchase, refund
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import Customer
from rewardrules.tools.explain.explanation import explain

FRIENDS = {
    "id": "friends",
    "kind": "referral",
    "referrer": {"points": 500},
    "referred": {"points": 200},
    "min_paid": "10.00",
}
PEOPLE = [Customer(customer_id="ann"), Customer(customer_id="ben", referred_by="ann")]


def test_the_friends_first_qualifying_purchase_rewards_both() -> None:
    history = [
        purchase("b1", at(0), line("bun", "4.00"), customer="ben"),  # below 10.00
        purchase("b2", at(1), line("bun", "12.00"), customer="ben"),
    ]

    evaluation = evaluate(program(rules=[FRIENDS]), history, PEOPLE)

    assert ledger(evaluation, "ben") == [
        ("b2", "friends", "referral", None, None, None),
        ("b2", "friends", "points", 200, None, None),
    ]
    assert ledger(evaluation, "ann") == [("b2", "friends", "points", 500, None, None)]


def test_explain_says_what_the_friend_still_needs_and_why_a_purchase_did_not_qualify() -> None:
    history = [purchase("b1", at(0), line("bun", "4.00"), customer="ben")]

    account = explain(program(rules=[FRIENDS]), history, "ben", customers=PEOPLE)

    assert account.events[0].outcomes[0].text == (
        "pays 4.00 USD on eligible lines, needs 10.00 USD"
    )
    assert account.next_rewards[-1] == (
        "friends: waiting for a qualifying purchase of at least 10.00 USD (referred by ann), "
        "which gives 200 points"
    )


def test_a_refund_takes_the_friends_points_back_and_leaves_the_referrers() -> None:
    history = [
        purchase("b1", at(0), line("bun", "12.00"), customer="ben"),
        refund("r1", at(1), "b1", customer="ben"),
    ]

    evaluation = evaluate(program(rules=[FRIENDS]), history, PEOPLE)

    assert ledger(evaluation, "ben")[-1] == ("r1", "friends", "points", -200, None, None)
    assert evaluation.customer("ann").points == 500
