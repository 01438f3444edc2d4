"""``order_discount``: a percent, an amount or a gift item with a purchase over a minimum."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from helpers import at, ledger, line, program, purchase, reasons, refund, run
from rewardrules.errors import RuleFileError
from rewardrules.evaluation import batch
from rewardrules.evaluation.fold import evaluate
from rewardrules.kinds.order_discount import share_amount
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import loads_program
from rewardrules.tools.explain.explanation import explain

TIERS = {
    "qualify_by": "spend",
    "window": "lifetime",
    "levels": [{"name": "gold", "at_least": "100.00"}],
}


def offer(**fields: Any) -> dict[str, Any]:
    return {
        "kind": "order_discount",
        "id": "big-basket",
        "when": {"min_total": "30.00"},
        **fields,
    }


def shop(*rules: dict[str, Any], **fields: Any) -> Program:
    return program(rules=list(rules), **fields)


def test_a_purchase_below_the_minimum_gets_nothing() -> None:
    evaluation = run(shop(offer(percent=10)), purchase("p1", at(), line("a", "29.99")))
    assert ledger(evaluation) == []


def test_a_purchase_at_the_minimum_gets_the_percent_off_every_line() -> None:
    evaluation = run(
        shop(offer(percent=10)),
        purchase("p1", at(), line("a", "20.00"), line("b", "5.00", quantity=2)),
    )
    # 10% of 20.00 = 2.00 and of 10.00 = 1.00: 3.00 over 1 + 2 units; no tier needed
    assert ledger(evaluation) == [("p1", "big-basket", "discount", None, Decimal("3.00"), 3)]
    assert reasons(evaluation) == ["order offer: 10% off 3 eligible units (3.00 USD)"]


def test_an_amount_is_shared_by_what_each_line_has_left_largest_remainder_first() -> None:
    # 5.00 over 20.00 and 10.00: 3.333 -> 3.33 and 1.666 -> 1.66, one cent left over goes
    # to the larger remainder (the second line): 3.33 + 1.67
    assert share_amount(500, [2000, 1000]) == [333, 167]
    # a tie of remainders: the earlier line; 0.01 over three equal lines
    assert share_amount(1, [100, 100, 100]) == [1, 0, 0]
    # never more than a line has left
    assert share_amount(900, [300, 200]) == [300, 200]


def test_an_amount_comes_off_the_purchase_once() -> None:
    evaluation = run(
        shop(offer(amount="5.00")),
        purchase("p1", at(), line("a", "20.00"), line("b", "10.00")),
    )
    assert ledger(evaluation) == [("p1", "big-basket", "discount", None, Decimal("5.00"), 2)]
    assert reasons(evaluation) == ["order offer: 5.00 USD off 2 eligible units (5.00 USD)"]


def test_an_amount_only_comes_off_the_eligible_lines_and_at_most_what_they_cost() -> None:
    socks = offer(amount="10.00", when={"min_total": "30.00", "categories": ["socks"]})
    evaluation = run(
        shop(socks),
        purchase(
            "p1",
            at(),
            line("shoe", "40.00", category="shoes"),
            line("sock", "4.00", category="socks"),
        ),
    )
    # the minimum is on the whole gross total (44.00); only the socks line is covered: 4.00
    assert ledger(evaluation) == [("p1", "big-basket", "discount", None, Decimal("4.00"), 1)]


def test_a_refund_of_a_line_gives_back_what_was_paid_for_it() -> None:
    stars = {"kind": "points_per_spend", "id": "stars", "points": "1"}
    evaluation = run(
        shop(offer(amount="5.00"), stars),
        purchase("p1", at(), line("a", "20.00"), line("b", "10.00")),
        refund("r1", at(1), "p1", ("b", 1)),
    )
    # paid 16.67 + 8.33 = 25.00 -> 25 points; b is refunded: 8.33 back, 16.67 left -> 16 points
    assert ledger(evaluation) == [
        ("p1", "big-basket", "discount", None, Decimal("5.00"), 2),
        ("p1", "stars", "points", 25, None, None),
        ("r1", "stars", "points", -9, None, None),
    ]


def test_the_minimum_is_the_gross_total_so_a_free_unit_first_does_not_lose_the_offer() -> None:
    bogo = {"kind": "every_nth_free", "id": "bogo", "every": 2, "when": {"skus": ["cd"]}}
    evaluation = run(
        shop(bogo, offer(percent=10, when={"min_total": "20.00"})),
        purchase("p1", at(), line("cd", "10.00", quantity=2)),
    )
    # gross 20.00 reaches the minimum; bogo frees one cd, 10% of the 10.00 left = 1.00
    assert ledger(evaluation) == [
        ("p1", "bogo", "free", None, Decimal("10.00"), 1),
        ("p1", "big-basket", "discount", None, Decimal("1.00"), 1),
    ]


def test_it_stacks_after_a_tiered_discount_on_what_that_left() -> None:
    member = {"kind": "tiered_discount", "id": "member", "discounts": {"gold": 10}}
    evaluation = run(
        shop(member, offer(amount="5.00"), tiers=TIERS),
        purchase("p1", at(), line("tv", "105.00")),
        purchase("p2", at(1), line("cd", "40.00")),
    )
    # p1 (no tier yet): 5.00 off 105.00, paid 100.00 reaches gold (spend is what is paid);
    # p2 at gold: 10% of 40.00 = 4.00, then 5.00 off the 36.00 left
    assert ledger(evaluation) == [
        ("p1", "big-basket", "discount", None, Decimal("5.00"), 1),
        ("p2", "member", "discount", None, Decimal("4.00"), 1),
        ("p2", "big-basket", "discount", None, Decimal("5.00"), 1),
    ]


def test_a_gift_item_is_one_free_unit_at_its_value_and_is_not_taken_back() -> None:
    tote = offer(gift_item={"sku": "tote", "value": "8.00", "name": "a tote bag"})
    evaluation = run(
        shop(tote),
        purchase("p1", at(), line("a", "35.00")),
        refund("r1", at(1), "p1"),
    )
    assert ledger(evaluation) == [("p1", "big-basket", "free", None, Decimal("8.00"), 1)]
    assert reasons(evaluation) == ["order offer: free gift a tote bag (8.00 USD)"]


def group(percent: str) -> list[dict[str, Any]]:
    return [
        offer(id="ten-off", percent=percent, exclusive_group="basket"),
        offer(id="tote", gift_item={"sku": "tote", "value": "8.00"}, exclusive_group="basket"),
    ]


def test_in_a_group_a_gift_worth_more_than_the_discount_wins() -> None:
    evaluation = run(shop(*group("10")), purchase("p1", at(), line("a", "60.00")))
    # 10% of 60.00 = 6.00 against the tote at 8.00: the tote; the line keeps its price
    (set_aside, won) = ledger(evaluation)
    assert set_aside == ("p1", "ten-off", "set_aside", None, None, None)
    assert won == ("p1", "tote", "free", None, Decimal("8.00"), 1)


def test_in_a_group_a_discount_worth_more_than_the_gift_wins() -> None:
    evaluation = run(shop(*group("10")), purchase("p1", at(), line("a", "100.00")))
    (won, set_aside) = ledger(evaluation)
    assert won == ("p1", "ten-off", "discount", None, Decimal("10.00"), 1)
    assert set_aside == ("p1", "tote", "set_aside", None, None, None)


def test_in_a_group_a_tie_of_worth_goes_to_the_earlier_rule() -> None:
    evaluation = run(shop(*group("10")), purchase("p1", at(), line("a", "80.00")))
    # 8.00 against 8.00: same priority, so the one earlier in the file
    (won, set_aside) = ledger(evaluation)
    assert won == ("p1", "ten-off", "discount", None, Decimal("8.00"), 1)
    assert set_aside[2] == "set_aside"


def test_a_rule_with_two_rewards_is_refused_at_its_place() -> None:
    text = "\n".join(
        [
            "program: club",
            "name: Club",
            "currency: USD",
            "timezone: UTC",
            "rules:",
            "  - {id: both, kind: order_discount, percent: 10, amount: 5}",
        ]
    )
    with pytest.raises(RuleFileError) as raised:
        loads_program(text)
    (problem,) = raised.value.problems
    assert problem.location is not None
    assert problem.location.line == 6
    assert "exactly one of percent, amount or gift_item (got percent and amount)" in (
        problem.message
    )


# --- explain's words -------------------------------------------------------------------


def test_explain_says_why_a_purchase_got_nothing_and_what_the_offer_is() -> None:
    offers = shop(
        offer(id="ten", percent=10),
        offer(id="tote", gift_item={"sku": "tote", "value": "8.00", "name": "a tote bag"}),
        offer(id="five", amount="5.00", when={}),
    )
    explanation = explain(offers, [purchase("p1", at(), line("a", "20.00"))], "c1")
    outcomes = {found.rule: found.text for found in explanation.events[0].outcomes}
    assert outcomes["ten"] == "the purchase total 20.00 USD is below the minimum 30.00 USD"
    assert outcomes["tote"] == "the purchase total 20.00 USD is below the minimum 30.00 USD"
    assert outcomes["five"] == "order offer: 5.00 USD off 1 eligible unit (5.00 USD)"
    assert explanation.next_rewards == (
        "ten: 10% off a purchase of at least 30.00 USD",
        "tote: free gift a tote bag with a purchase of at least 30.00 USD",
        "five: 5.00 USD off every purchase",
    )


def test_explain_says_a_refund_takes_no_discount_back() -> None:
    explanation = explain(
        shop(offer(percent=10)),
        [purchase("p1", at(), line("a", "40.00")), refund("r1", at(1), "p1")],
        "c1",
    )
    outcomes = {found.rule: found.text for found in explanation.events[-1].outcomes}
    assert outcomes["big-basket"] == "a discount given at the till is not taken back"


def test_the_batch_engine_gives_a_gift_item_in_a_group_as_the_reference_does() -> None:
    grouped = shop(*group("10"))
    assert batch.unsupported(grouped) == []
    # 60.00: the tote (8.00 against 6.00); 100.00: 10.00 off; 80.00: a tie, the earlier rule
    history = [
        purchase("p1", at(), line("a", "60.00")),
        purchase("p2", at(1), line("a", "100.00")),
        purchase("p3", at(2), line("a", "80.00")),
    ]
    found = evaluate(grouped, history, engine="batch")
    assert found.to_dict() == evaluate(grouped, history).to_dict()
    assert [row[1:3] for row in ledger(found)] == [
        ("ten-off", "set_aside"),
        ("tote", "free"),
        ("ten-off", "discount"),
        ("tote", "set_aside"),
        ("ten-off", "discount"),
        ("tote", "set_aside"),
    ]
    assert (found.totals.free_units, found.totals.rewards_set_aside) == (1, 3)


def test_the_batch_engine_keeps_a_gift_item_within_its_limit_as_the_reference_does() -> None:
    tote = {"sku": "tote", "value": "8.00"}
    limited = shop(offer(gift_item=tote, limit={"per": "day", "rewards": 1}))
    assert batch.unsupported(limited) == []
    # two qualifying purchases on the first day: the second gets no tote; the next day one
    history = [
        purchase("p1", at(), line("a", "40.00")),
        purchase("p2", at(), line("a", "50.00")),
        purchase("p3", at(1), line("a", "30.00")),
    ]
    found = evaluate(limited, history, engine="batch")
    assert found.to_dict() == evaluate(limited, history).to_dict()
    assert [row[:3] for row in ledger(found)] == [
        ("p1", "big-basket", "free"),
        ("p2", "big-basket", "capped"),
        ("p3", "big-basket", "free"),
    ]
    assert (found.totals.free_units, found.totals.free_value) == (2, 1600)  # minor units
    assert found.totals.rewards_capped == 1


def test_both_engines_give_a_gift_item_and_share_an_amount_alike() -> None:
    history = [
        purchase("p1", at(), line("a", "20.00"), line("b", "10.00")),
        purchase("p2", at(1), line("a", "35.00"), line("free", "0.00")),
        refund("r1", at(2), "p1", ("b", 1)),
    ]
    rules = shop(
        offer(gift_item={"sku": "tote", "value": "8.00"}),
        offer(id="five", amount="5.00"),
        {"kind": "points_per_spend", "id": "stars", "points": "1"},
    )
    reference = evaluate(rules, history)
    assert evaluate(rules, history, engine="batch").to_dict() == reference.to_dict()
    # the discount is a price rule and runs first; the gift changes no price and runs with
    # the earning rules, in file order. p1: 3.33 + 1.67 off, tote, 25 points; p2: 5.00 off
    # 35.00 (the free line has nothing to share), tote, 30 points; r1 returns b: -9
    assert ledger(reference) == [
        ("p1", "five", "discount", None, Decimal("5.00"), 2),
        ("p1", "big-basket", "free", None, Decimal("8.00"), 1),
        ("p1", "stars", "points", 25, None, None),
        ("p2", "five", "discount", None, Decimal("5.00"), 1),
        ("p2", "big-basket", "free", None, Decimal("8.00"), 1),
        ("p2", "stars", "points", 30, None, None),
        ("r1", "stars", "points", -9, None, None),
    ]
