"""``every_nth_free``: punch cards that free, discount or issue vouchers, per docs/semantics.md."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from helpers import at, ledger, line, program, purchase, reasons, refund, run


def card(**fields: Any) -> dict[str, Any]:
    """A punch card: every 10th ice-cream free unless told otherwise."""
    return {
        "kind": "every_nth_free",
        "id": "ice",
        "every": 10,
        "when": {"categories": ["ice-cream"]},
        **fields,
    }


def cones(quantity: int, price: str = "4.50") -> Any:
    return line("cone", price, quantity=quantity, category="ice-cream")


PARLOUR = program(rules=[card()])


# --- counting items ---------------------------------------------------------------------


def test_the_tenth_ice_cream_is_free() -> None:
    evaluation = run(PARLOUR, purchase("p1", at(), cones(10)))
    # 10 units reach the card's 10: one unit, 4.50, free
    assert ledger(evaluation) == [("p1", "ice", "free", None, Decimal("4.50"), 1)]
    assert reasons(evaluation) == ["10th ice-cream of the card: cheapest ice-cream free (4.50 USD)"]
    assert evaluation.customer("c1").stamps == {"ice": 0}


def test_nine_ice_creams_earn_nothing_yet() -> None:
    evaluation = run(PARLOUR, purchase("p1", at(), cones(9)))
    assert ledger(evaluation) == []
    assert evaluation.customer("c1").stamps == {"ice": 9}


def test_the_card_fills_across_purchases() -> None:
    evaluation = run(PARLOUR, purchase("p1", at(), cones(9)), purchase("p2", at(1), cones(1)))
    # 9 + 1 = 10: the second purchase's only unit is the 10th
    assert ledger(evaluation) == [("p2", "ice", "free", None, Decimal("4.50"), 1)]


def test_the_rewarded_unit_is_the_last_of_the_card_not_the_first_of_the_next() -> None:
    evaluation = run(PARLOUR, purchase("p1", at(), cones(9)), purchase("p2", at(1), cones(2)))
    # 9 -> 11: k = 11 // 10 - 9 // 10 = 1 unit free; the 11th starts the next card
    assert ledger(evaluation) == [("p2", "ice", "free", None, Decimal("4.50"), 1)]
    assert evaluation.customer("c1").stamps == {"ice": 1}


def test_the_cheapest_unit_of_the_completing_purchase_is_free() -> None:
    evaluation = run(
        PARLOUR,
        purchase("p1", at(), cones(9)),
        purchase(
            "p2",
            at(1),
            cones(2),
            line("cup", "3.00", category="ice-cream"),
        ),
    )
    # 9 -> 12, k = 1: the cheapest qualifying unit of p2 is the 3.00 cup
    assert ledger(evaluation) == [("p2", "ice", "free", None, Decimal("3.00"), 1)]


def test_several_cards_completed_in_one_basket_free_several_units() -> None:
    evaluation = run(PARLOUR, purchase("p1", at(), cones(25)))
    # 0 -> 25: k = 2 cards, 2 x 4.50 = 9.00 free; 5 toward the next card
    assert ledger(evaluation) == [("p1", "ice", "free", None, Decimal("9.00"), 2)]
    assert reasons(evaluation) == [
        "2 cards completed (every 10 ice-cream): 2 cheapest ice-cream free (9.00 USD)"
    ]
    assert evaluation.customer("c1").stamps == {"ice": 5}


def test_the_k_cheapest_units_are_taken_across_lines() -> None:
    evaluation = run(
        PARLOUR,
        purchase(
            "p1", at(), cones(18, "4.50"), line("cup", "3.00", quantity=2, category="ice-cream")
        ),
    )
    # 20 units: k = 2, the two 3.00 cups are the cheapest: 6.00
    assert ledger(evaluation) == [("p1", "ice", "free", None, Decimal("6.00"), 2)]


def test_lines_outside_the_filter_neither_count_nor_go_free() -> None:
    evaluation = run(
        PARLOUR,
        purchase(
            "p1",
            at(),
            cones(10, "4.50"),
            line("water", "1.00", quantity=5, category="drinks"),
        ),
    )
    # 10 qualifying units; the cheaper water is not on the card
    assert ledger(evaluation) == [("p1", "ice", "free", None, Decimal("4.50"), 1)]
    assert evaluation.customer("c1").stamps == {"ice": 0}


def test_an_excluded_sku_does_not_count() -> None:
    rules_program = program(
        rules=[card(when={"categories": ["ice-cream"], "exclude_skus": ["sorbet"]})]
    )
    evaluation = run(
        rules_program,
        purchase("p1", at(), cones(9), line("sorbet", "2.00", quantity=3, category="ice-cream")),
    )
    assert ledger(evaluation) == []
    assert evaluation.customer("c1").stamps == {"ice": 9}


def test_purchases_before_the_cards_start_date_do_not_count() -> None:
    rules_program = program(rules=[card(every=2, starts="2026-03-03")])
    evaluation = run(
        rules_program,
        purchase("p1", at(), cones(1)),  # 2 March: before the start
        purchase("p2", at(1), cones(1)),  # 3 March: the first unit on the card
    )
    assert ledger(evaluation) == []
    assert evaluation.customer("c1").stamps == {"ice": 1}


def test_zero_priced_units_never_count() -> None:
    evaluation = run(
        PARLOUR,
        purchase("p1", at(), cones(9)),
        purchase("p2", at(1), line("sample", "0.00", quantity=3, category="ice-cream")),
    )
    # the samples are free already: the count stays at 9 and nothing is rewarded
    assert ledger(evaluation) == []
    assert evaluation.customer("c1").stamps == {"ice": 9}


def test_a_zero_priced_unit_is_never_the_free_one() -> None:
    evaluation = run(
        PARLOUR,
        purchase(
            "p1",
            at(),
            cones(10),
            line("sample", "0.00", category="ice-cream"),
        ),
    )
    # the 0.00 sample is not a qualifying unit, so the cheapest qualifying one is a cone
    assert ledger(evaluation) == [("p1", "ice", "free", None, Decimal("4.50"), 1)]


# --- counting visits --------------------------------------------------------------------

VISITS = program(rules=[card(every=3, counts="visits")])


def test_every_third_visit_frees_the_cheapest_unit_of_that_visit() -> None:
    evaluation = run(
        VISITS,
        purchase("p1", at(), cones(5)),
        purchase("p2", at(1), cones(5)),
        purchase("p3", at(2), cones(4), line("cup", "3.00", category="ice-cream")),
    )
    # visits, not units: 3 visits complete one card, whatever the units; cheapest is 3.00
    assert ledger(evaluation) == [("p3", "ice", "free", None, Decimal("3.00"), 1)]
    assert reasons(evaluation) == ["3rd visit of the card: cheapest ice-cream free (3.00 USD)"]
    assert evaluation.customer("c1").stamps == {"ice": 0}


def test_many_units_make_one_visit() -> None:
    evaluation = run(VISITS, purchase("p1", at(), cones(30)))
    # 30 units but 1 visit: no card completed
    assert ledger(evaluation) == []
    assert evaluation.customer("c1").stamps == {"ice": 1}


def test_a_visit_needs_a_matching_line() -> None:
    evaluation = run(
        VISITS,
        purchase("p1", at(), cones(1)),
        purchase("p2", at(1), line("water", "1.00", category="drinks")),
    )
    assert evaluation.customer("c1").stamps == {"ice": 1}


def test_a_purchase_whose_matching_lines_all_cost_zero_is_not_a_visit() -> None:
    evaluation = run(
        VISITS,
        purchase("p1", at(), cones(1)),
        purchase("p2", at(1), cones(1)),
        purchase(
            "p3",
            at(2),
            line("sample", "0.00", category="ice-cream"),
            line("water", "1.00", category="drinks"),
        ),
    )
    assert ledger(evaluation) == []
    assert evaluation.customer("c1").stamps == {"ice": 2}


# --- percent off ------------------------------------------------------------------------


def test_percent_off_discounts_the_rewarded_unit() -> None:
    rules_program = program(rules=[card(reward={"percent_off": 50})])
    evaluation = run(rules_program, purchase("p1", at(), cones(10)))
    # 50% of 4.50 = 2.25 off one unit
    assert ledger(evaluation) == [("p1", "ice", "discount", None, Decimal("2.25"), 1)]
    assert reasons(evaluation) == [
        "10th ice-cream of the card: 50% off the cheapest ice-cream (2.25 USD)"
    ]


def test_percent_off_is_rounded_half_up_per_line() -> None:
    rules_program = program(rules=[card(every=2, reward={"percent_off": 50})])
    evaluation = run(
        rules_program,
        purchase(
            "p1",
            at(),
            line("a", "1.25", category="ice-cream"),
            line("b", "1.25", quantity=3, category="ice-cream"),
        ),
    )
    # 4 units, k = 2; tie at 1.25 -> line a first, then one unit of b
    # a: 50% x 1.25 = 0.625 -> 0.63; b: 3.75 x 1/3 x 50% = 0.625 -> 0.63; 1.26 in all
    # (one rounding over the total would give 1.25)
    assert ledger(evaluation) == [("p1", "ice", "discount", None, Decimal("1.26"), 2)]


def test_percent_off_may_be_a_fraction_of_a_percent() -> None:
    rules_program = program(rules=[card(reward={"percent_off": "12.5"})])
    evaluation = run(rules_program, purchase("p1", at(), cones(10, "4.00")))
    # 12.5% of 4.00 = 0.50
    assert ledger(evaluation) == [("p1", "ice", "discount", None, Decimal("0.50"), 1)]


def test_percent_off_of_several_cards_in_one_basket() -> None:
    rules_program = program(rules=[card(reward={"percent_off": 20})])
    evaluation = run(rules_program, purchase("p1", at(), cones(30, "4.99")))
    # k = 3 units of one line: 149.70 x 3 / 30 x 20% = 2.994 -> 2.99
    assert ledger(evaluation) == [("p1", "ice", "discount", None, Decimal("2.99"), 3)]


# --- cheapest unit selection ------------------------------------------------------------


def _which_line_went_free(rules: list[dict[str, Any]]) -> int:
    """Points show which line was freed: sku b earns double."""
    stars = {
        "kind": "points_per_spend",
        "id": "stars",
        "points": "1",
        "multipliers": [{"factor": "2", "when": {"skus": ["b"]}}],
    }
    evaluation = run(
        program(rules=[*rules, stars]),
        purchase(
            "p1",
            at(),
            line("a", "3.00", category="ice-cream"),
            line("b", "3.00", category="ice-cream"),
        ),
    )
    return evaluation.customer("c1").points


def test_a_tie_for_cheapest_goes_to_the_earlier_line() -> None:
    # a freed: b pays 3.00 x 2 = 6 points; b freed would leave a: 3 points
    assert _which_line_went_free([card(every=2)]) == 6


def test_cheapest_is_judged_on_what_earlier_price_rules_left() -> None:
    rules_program = program(
        rules=[
            {
                "kind": "every_nth_free",
                "id": "cake-half",
                "every": 2,
                "when": {"categories": ["cake"]},
                "reward": {"percent_off": 50},
            },
            {"kind": "every_nth_free", "id": "any-third", "every": 3},
        ]
    )
    evaluation = run(
        rules_program,
        purchase(
            "p1",
            at(),
            line("cake", "3.50", quantity=2, category="cake"),
            line("cone", "3.00", category="ice-cream"),
        ),
    )
    # cake-half: 7.00 x 1/2 x 50% = 1.75 off -> cake line 5.25 for 2 units, 2.625 each
    # any-third: 3 units, k = 1; cake 2.625 < cone 3.00, so one cake unit goes free:
    # 5.25 x 1/2 = 2.625 -> 2.63
    assert ledger(evaluation) == [
        ("p1", "cake-half", "discount", None, Decimal("1.75"), 1),
        ("p1", "any-third", "free", None, Decimal("2.63"), 1),
    ]


def test_the_last_free_unit_of_a_line_takes_what_is_left_of_it() -> None:
    rules_program = program(
        rules=[
            {"kind": "every_nth_free", "id": "first", "every": 3},
            {"kind": "every_nth_free", "id": "second", "every": 3, "priority": 1},
        ]
    )
    evaluation = run(rules_program, purchase("p1", at(), line("cake", "1.00", quantity=3)))
    # first: 3.00 for 3 units, 1 free -> 3.00 x 1/3 = 1.00; 2.00 left for 2 units
    # second: 1 free -> 2.00 x 1/2 = 1.00
    assert ledger(evaluation) == [
        ("p1", "first", "free", None, Decimal("1.00"), 1),
        ("p1", "second", "free", None, Decimal("1.00"), 1),
    ]


def test_a_unit_already_freed_cannot_be_freed_again_so_fewer_are_freed() -> None:
    rules_program = program(
        rules=[
            {"kind": "every_nth_free", "id": "first", "every": 2},
            {"kind": "every_nth_free", "id": "second", "every": 2},
        ]
    )
    evaluation = run(
        rules_program,
        purchase("p0", at(), line("cake", "1.00")),
        purchase("p1", at(1), line("cake", "1.00", quantity=3)),
    )
    # both cards: 1 -> 4, k = 2 each. first frees 2 of the 3 units; second finds 1 left
    assert ledger(evaluation) == [
        ("p1", "first", "free", None, Decimal("2.00"), 2),
        ("p1", "second", "free", None, Decimal("1.00"), 1),
    ]


def test_free_units_spread_a_lines_amount_with_half_up_rounding() -> None:
    rules_program = program(
        rules=[
            {
                "kind": "every_nth_free",
                "id": "cake-third-off",
                "every": 3,
                "reward": {"percent_off": 10},
            },
            {"kind": "every_nth_free", "id": "free-one", "every": 3, "priority": 1},
        ]
    )
    evaluation = run(rules_program, purchase("p1", at(), line("cake", "1.00", quantity=3)))
    # cake-third-off: 3.00 x 1/3 x 10% = 0.10 off -> 2.90 for 3 units
    # free-one: 2.90 x 1/3 = 0.9667 -> 0.97
    assert ledger(evaluation) == [
        ("p1", "cake-third-off", "discount", None, Decimal("0.10"), 1),
        ("p1", "free-one", "free", None, Decimal("0.97"), 1),
    ]


# --- vouchers ---------------------------------------------------------------------------

VOUCHERS = program(
    rules=[
        card(
            every=5,
            reward={"voucher": {"sku": "cone", "value": "4.50", "name": "a free cone"}},
        ),
        {"kind": "points_per_spend", "id": "stars", "points": "1"},
    ]
)


def test_the_cards_completed_by_one_purchase_give_one_entry_of_vouchers() -> None:
    evaluation = run(VOUCHERS, purchase("p1", at(), cones(12, "1.00")))
    # 12 units: 2 cards -> 2 vouchers of 4.50; prices unchanged, so 12.00 earns 12 points
    assert ledger(evaluation) == [
        ("p1", "ice", "voucher", None, Decimal("9.00"), 2),
        ("p1", "stars", "points", 12, None, None),
    ]
    assert reasons(evaluation)[0] == (
        "2 cards completed (every 5 ice-cream): 2 vouchers for a free cone of 4.50 USD "
        "(9.00 USD) to use on later visits"
    )
    assert evaluation.customer("c1").stamps == {"ice": 2}
    assert (evaluation.totals.vouchers, evaluation.totals.voucher_value) == (2, 900)


def test_one_voucher_names_the_unit_that_completed_its_card() -> None:
    evaluation = run(
        VOUCHERS,
        purchase("p1", at(), cones(3, "1.00")),
        purchase("p2", at(1), cones(4, "1.00")),
    )
    # 3 then 7: the 5th ice cream completes the card during p2
    assert ledger(evaluation)[1] == ("p2", "ice", "voucher", None, Decimal("4.50"), 1)
    assert reasons(evaluation)[1] == (
        "5th ice-cream of the card: a voucher for a free cone (4.50 USD) to use on a later visit"
    )


def test_a_voucher_card_counts_visits_too() -> None:
    rules_program = program(
        rules=[card(every=2, counts="visits", reward={"voucher": {"sku": "cone", "value": "2"}})]
    )
    evaluation = run(
        rules_program,
        purchase("p1", at(), cones(3)),
        purchase("p2", at(1), cones(3)),
        purchase("p3", at(2), cones(3)),
    )
    assert ledger(evaluation) == [("p2", "ice", "voucher", None, Decimal("2.00"), 1)]
    assert evaluation.customer("c1").stamps == {"ice": 1}


def test_a_voucher_card_runs_after_the_price_rules() -> None:
    rules_program = program(
        rules=[
            card(id="voucher", every=2, reward={"voucher": {"sku": "cone", "value": "1.00"}}),
            card(id="free", every=2, priority=5),
        ]
    )
    evaluation = run(rules_program, purchase("p1", at(), cones(2)))
    # the voucher card is an earning rule, so it comes after the free card however it is ranked
    assert ledger(evaluation) == [
        ("p1", "free", "free", None, Decimal("4.50"), 1),
        ("p1", "voucher", "voucher", None, Decimal("1.00"), 1),
    ]


# --- refunds ----------------------------------------------------------------------------


def test_refunded_units_leave_the_count() -> None:
    evaluation = run(
        PARLOUR,
        purchase("p1", at(), cones(7)),
        refund("r1", at(1), "p1", ("cone", 3)),
        purchase("p2", at(2), cones(5)),
    )
    # 7 - 3 = 4; 4 + 5 = 9: no card yet
    assert ledger(evaluation) == []
    assert evaluation.customer("c1").stamps == {"ice": 9}


def test_the_count_never_drops_below_its_last_completed_card() -> None:
    evaluation = run(
        PARLOUR,
        purchase("p1", at(), cones(12)),
        refund("r1", at(1), "p1", ("cone", 5)),
        purchase("p2", at(2), cones(9)),
        purchase("p3", at(3), cones(1)),
    )
    # p1: 12 (one free); r1: 12 - 5 = 7, but not below 10 -> 10
    # p2: 19, nothing; p3: 20 -> the second card
    assert ledger(evaluation) == [
        ("p1", "ice", "free", None, Decimal("4.50"), 1),
        ("p3", "ice", "free", None, Decimal("4.50"), 1),
    ]


def test_a_refund_takes_no_reward_back() -> None:
    evaluation = run(
        PARLOUR,
        purchase("p1", at(), cones(10)),
        refund("r1", at(1), "p1"),
    )
    assert ledger(evaluation) == [("p1", "ice", "free", None, Decimal("4.50"), 1)]
    assert evaluation.customer("c1").stamps == {"ice": 0}


def test_a_fully_refunded_visit_leaves_the_count() -> None:
    evaluation = run(
        VISITS,
        purchase("p1", at(), cones(2)),
        purchase("p2", at(1), cones(2)),
        refund("r1", at(2), "p2"),
    )
    assert evaluation.customer("c1").stamps == {"ice": 1}


def test_a_visit_stays_while_any_of_its_qualifying_units_is_kept() -> None:
    evaluation = run(
        VISITS,
        purchase("p1", at(), cones(2)),
        purchase("p2", at(1), cones(2)),
        refund("r1", at(2), "p2", ("cone", 1)),
    )
    assert evaluation.customer("c1").stamps == {"ice": 2}


def test_a_visit_leaves_once_its_last_qualifying_unit_is_refunded() -> None:
    evaluation = run(
        VISITS,
        purchase("p1", at(), cones(1)),
        purchase("p2", at(1), cones(2), line("water", "1.00", category="drinks")),
        refund("r1", at(2), "p2", ("cone", 1)),
        refund("r2", at(3), "p2", ("cone", 1)),
    )
    # the water is not on the card; once both cones are back, p2 is no longer a visit
    assert evaluation.customer("c1").stamps == {"ice": 1}


def test_refunding_a_completed_visit_keeps_the_card() -> None:
    evaluation = run(
        VISITS,
        purchase("p1", at(), cones(1)),
        purchase("p2", at(1), cones(1)),
        purchase("p3", at(2), cones(1)),
        refund("r1", at(3), "p3"),
        purchase("p4", at(4), cones(1)),
    )
    # p3 completes the card (3); r1 would take it to 2, but 3 is the last completed card
    assert ledger(evaluation) == [("p3", "ice", "free", None, Decimal("4.50"), 1)]
    assert evaluation.customer("c1").stamps == {"ice": 1}
