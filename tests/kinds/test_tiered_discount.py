"""``tiered_discount``: a percentage off eligible lines by the customer's tier."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from helpers import at, ledger, line, program, purchase, reasons, refund, run
from rewardrules.program.model import Program

TIERS = {
    "qualify_by": "spend",
    "window": "lifetime",
    "levels": [{"name": "silver", "at_least": "100.00"}, {"name": "gold", "at_least": "500.00"}],
}


def member_discount(**fields: Any) -> dict[str, Any]:
    return {
        "kind": "tiered_discount",
        "id": "member",
        "discounts": {"silver": 5, "gold": 10},
        **fields,
    }


def shop(*rules: dict[str, Any]) -> Program:
    return program(tiers=TIERS, rules=list(rules or [member_discount()]))


def test_a_customer_without_a_tier_gets_nothing() -> None:
    evaluation = run(shop(), purchase("p1", at(), line("tv", "99.00")))
    assert ledger(evaluation) == []


def test_the_purchase_that_reaches_a_tier_is_not_discounted_yet() -> None:
    evaluation = run(
        shop(),
        purchase("p1", at(), line("tv", "100.00")),
        purchase("p2", at(1), line("cd", "10.00")),
    )
    # p1 is made with no tier; p2 at silver: 5% of 10.00 = 0.50
    assert ledger(evaluation) == [("p2", "member", "discount", None, Decimal("0.50"), 1)]
    assert reasons(evaluation) == ["tier silver: 5% off 1 eligible unit (0.50 USD)"]


def test_each_tier_gets_its_own_percentage() -> None:
    evaluation = run(
        shop(),
        purchase("p1", at(), line("sofa", "500.00")),
        purchase("p2", at(1), line("cd", "10.00")),
    )
    # 500.00 reaches gold: 10% of 10.00 = 1.00
    assert ledger(evaluation) == [("p2", "member", "discount", None, Decimal("1.00"), 1)]


def test_the_discount_is_rounded_half_up_per_line() -> None:
    evaluation = run(
        shop(),
        purchase("p1", at(), line("tv", "100.00")),
        purchase("p2", at(1), line("a", "0.50"), line("b", "0.50")),
    )
    # each line: 5% of 0.50 = 0.025 -> 0.03; 0.06 in all (5% of the 1.00 total would be 0.05)
    assert ledger(evaluation) == [("p2", "member", "discount", None, Decimal("0.06"), 2)]
    assert reasons(evaluation) == ["tier silver: 5% off 2 eligible units (0.06 USD)"]


def test_units_are_the_units_of_the_discounted_lines() -> None:
    evaluation = run(
        shop(),
        purchase("p1", at(), line("tv", "100.00")),
        purchase("p2", at(1), line("cd", "3.00", quantity=3), line("dvd", "2.00")),
    )
    # 5% of 9.00 = 0.45 and 5% of 2.00 = 0.10: 0.55 over 3 + 1 units
    assert ledger(evaluation) == [("p2", "member", "discount", None, Decimal("0.55"), 4)]


def test_a_tier_the_rule_does_not_list_gets_nothing() -> None:
    evaluation = run(
        shop(member_discount(discounts={"gold": 10})),
        purchase("p1", at(), line("tv", "100.00")),
        purchase("p2", at(1), line("cd", "10.00")),
    )
    assert ledger(evaluation) == []


def test_only_eligible_lines_are_discounted() -> None:
    evaluation = run(
        shop(member_discount(when={"categories": ["music"]})),
        purchase("p1", at(), line("tv", "100.00")),
        purchase("p2", at(1), line("cd", "10.00", category="music"), line("tv", "10.00")),
    )
    assert ledger(evaluation) == [("p2", "member", "discount", None, Decimal("0.50"), 1)]


def test_the_discount_applies_to_what_an_earlier_price_rule_left() -> None:
    bogo = {"kind": "every_nth_free", "id": "bogo", "every": 2, "when": {"skus": ["cd"]}}
    evaluation = run(
        shop(bogo, member_discount(priority=1)),
        purchase("p1", at(), line("tv", "100.00")),
        purchase("p2", at(1), line("cd", "10.00", quantity=2)),
    )
    # bogo frees one cd: 20.00 -> 10.00; then 5% of 10.00 = 0.50 on the one cd still paid for
    assert ledger(evaluation) == [
        ("p2", "bogo", "free", None, Decimal("10.00"), 1),
        ("p2", "member", "discount", None, Decimal("0.50"), 1),
    ]


def test_a_discount_running_first_lowers_what_a_later_free_unit_is_worth() -> None:
    bogo = {"kind": "every_nth_free", "id": "bogo", "every": 2, "when": {"skus": ["cd"]}}
    evaluation = run(
        shop(member_discount(), bogo),
        purchase("p1", at(), line("tv", "100.00")),
        purchase("p2", at(1), line("cd", "10.00", quantity=2)),
    )
    # file order: 5% of 20.00 = 1.00 -> 19.00; then one of 2 units free: 9.50
    assert ledger(evaluation) == [
        ("p2", "member", "discount", None, Decimal("1.00"), 2),
        ("p2", "bogo", "free", None, Decimal("9.50"), 1),
    ]


def test_the_discount_lowers_the_paid_amount_points_are_earned_on() -> None:
    stars = {"kind": "points_per_spend", "id": "stars", "points": "1", "rounding": "half_up"}
    evaluation = run(
        shop(stars, member_discount()),
        purchase("p1", at(), line("tv", "100.00")),
        purchase("p2", at(1), line("cd", "10.00")),
    )
    # p2: 10.00 - 0.50 = 9.50 paid -> 9.5 -> 10 (half-up); the discount still comes first
    assert ledger(evaluation) == [
        ("p1", "stars", "points", 100, None, None),
        ("p2", "member", "discount", None, Decimal("0.50"), 1),
        ("p2", "stars", "points", 10, None, None),
    ]


def test_a_hundred_percent_discount_makes_a_line_free_of_charge() -> None:
    evaluation = run(
        shop(member_discount(discounts={"silver": 100})),
        purchase("p1", at(), line("tv", "100.00")),
        purchase("p2", at(1), line("cd", "10.00")),
    )
    assert ledger(evaluation) == [("p2", "member", "discount", None, Decimal("10.00"), 1)]


def test_a_refund_of_a_discounted_purchase_takes_nothing_back() -> None:
    evaluation = run(
        shop(),
        purchase("p1", at(), line("tv", "100.00")),
        purchase("p2", at(1), line("cd", "10.00")),
        refund("r2", at(2), "p2"),
    )
    assert ledger(evaluation) == [("p2", "member", "discount", None, Decimal("0.50"), 1)]
