"""``birthday``: points or a voucher once a year around the birthday, worked out by hand.

Histories start on Monday 2 March 2026 at noon UTC (``at(0)``); prices are in USD.
"""

from __future__ import annotations

from datetime import date

from helpers import at, ledger, line, program, purchase, refund
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import Customer
from rewardrules.tools.explain.explanation import explain

BIRTHDAY = {"id": "bday", "kind": "birthday", "points": 100}
AT_A_PURCHASE = {**BIRTHDAY, "requires_purchase": True, "days_around": 2}


def test_a_dated_gift_comes_at_the_windows_first_midnight_and_then_waits_a_year() -> None:
    history = [
        purchase("p1", at(0), line("bun", "1.00")),
        purchase("p2", at(18), line("bun", "1.00")),
    ]
    ana = Customer(customer_id="c1", birthday="03-10")
    rules = program(rules=[BIRTHDAY])

    evaluation = evaluate(rules, history, [ana])

    assert ledger(evaluation) == [("bday@2026-03-10", "bday", "points", 100, None, None)]
    account = explain(rules, history, "c1", customers=[ana])
    assert account.next_rewards[-1] == (
        "bday: 100 points in the birthday window 2027-03-10 to 2027-03-10"
    )


def test_a_gift_at_a_purchase_waits_for_one_inside_the_window() -> None:
    # 10 March plus or minus 2 days: 8 to 12 March. 2 March is outside, 9 March inside.
    history = [
        purchase("p1", at(0), line("bun", "1.00")),
        purchase("p2", at(7), line("bun", "1.00")),
    ]
    ana = Customer(customer_id="c1", birthday="03-10")
    rules = program(rules=[AT_A_PURCHASE])

    evaluation = evaluate(rules, history, [ana])

    assert ledger(evaluation) == [("p2", "bday", "points", 100, None, None)]
    account = explain(rules, history, "c1", customers=[ana])
    assert account.events[0].outcomes[0].text == (
        "not in the birthday window 2026-03-08 to 2026-03-12"
    )


def test_refunding_the_whole_birthday_purchase_takes_its_points_back() -> None:
    history = [purchase("p1", at(7), line("bun", "1.00")), refund("r1", at(8), "p1")]
    ana = Customer(customer_id="c1", birthday="03-10")

    evaluation = evaluate(program(rules=[AT_A_PURCHASE]), history, [ana])

    assert ledger(evaluation) == [
        ("p1", "bday", "points", 100, None, None),
        ("r1", "bday", "points", -100, None, None),
    ]


def test_without_a_profile_explain_says_there_is_no_birthday() -> None:
    history = [purchase("p1", at(0), line("bun", "1.00"))]

    account = explain(program(rules=[AT_A_PURCHASE]), history, "c1", as_of=date(2026, 3, 3))

    assert account.events[0].outcomes[0].text == "no customer profile, so no birthday"
    assert account.next_rewards[-1] == "bday: no customer profile, so no birthday"
