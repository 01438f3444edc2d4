"""``points_per_spend``: points per currency unit of paid spend, per docs/semantics.md."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from helpers import at, ledger, line, program, purchase, reasons, refund, run
from rewardrules.program.model import Program


def stars(**fields: Any) -> dict[str, Any]:
    """A points rule: 1 star per 1.00 unless told otherwise."""
    return {"kind": "points_per_spend", "id": "stars", "points": "1", **fields}


def points_of(rules_program: Program, *lines: Any, when: datetime | None = None, **kw: Any) -> int:
    """The points one purchase earns."""
    evaluation = run(rules_program, purchase("p1", when or at(), *lines, **kw))
    return evaluation.customer("c1").points


# --- the rate ---------------------------------------------------------------------------


def test_a_purchase_earns_a_point_per_dollar_paid() -> None:
    evaluation = run(
        program(points={"name": "stars"}, rules=[stars()]),
        purchase("p1", at(), line("latte", "4.12", quantity=3)),
    )
    # 3 x 4.12 = 12.36 -> 12 stars (floor)
    assert ledger(evaluation) == [("p1", "stars", "points", 12, None, None)]
    assert reasons(evaluation) == ["12.36 USD paid at 1 star per 1.00 USD: 12 stars"]
    assert evaluation.customer("c1").points == 12


def test_points_are_earned_per_every_per_spent() -> None:
    rules_program = program(rules=[stars(points="2", per="5.00")])
    # 24.99 / 5.00 x 2 = 9.996 -> 9
    assert points_of(rules_program, line("bag", "24.99")) == 9
    # exactly 25.00 / 5.00 x 2 = 10
    assert points_of(rules_program, line("bag", "25.00")) == 10


def test_an_odd_rate_is_computed_exactly() -> None:
    rules_program = program(rules=[stars(per="1.10")])
    # 11.00 / 1.10 = 10 exactly; a float would give 9.999... and floor to 9
    assert points_of(rules_program, line("tea", "11.00")) == 10


def test_a_purchase_below_one_point_writes_no_entry() -> None:
    evaluation = run(program(rules=[stars()]), purchase("p1", at(), line("mint", "0.99")))
    # 0.99 -> 0 points: nothing is written for nothing
    assert ledger(evaluation) == []
    assert evaluation.customer("c1").points == 0


# --- rounding and cap -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rounding", "price", "points"),
    [
        ("floor", "2.99", 2),
        ("floor", "3.00", 3),
        ("half_up", "2.49", 2),
        ("half_up", "2.50", 3),  # exactly half goes up
        ("ceil", "2.01", 3),
        ("ceil", "2.00", 2),  # a whole number stays
    ],
)
def test_the_purchase_total_is_rounded_by_the_rules_rounding(
    rounding: str, price: str, points: int
) -> None:
    assert points_of(program(rules=[stars(rounding=rounding)]), line("x", price)) == points


def test_points_are_rounded_once_per_purchase_not_per_line() -> None:
    rules_program = program(rules=[stars()])
    # 1.50 + 1.50 = 3.00 -> 3; per line it would be 1 + 1 = 2
    assert points_of(rules_program, line("a", "1.50"), line("b", "1.50")) == 3


def test_max_per_purchase_caps_the_points() -> None:
    rules_program = program(rules=[stars(max_per_purchase=100)])
    evaluation = run(rules_program, purchase("p1", at(), line("tv", "150.00")))
    # 150 points, capped at 100
    assert ledger(evaluation) == [("p1", "stars", "points", 100, None, None)]
    assert reasons(evaluation) == [
        "150.00 USD paid at 1 point per 1.00 USD (at most 100 per purchase): 100 points"
    ]


def test_a_purchase_exactly_at_the_cap_keeps_its_points() -> None:
    assert points_of(program(rules=[stars(max_per_purchase=100)]), line("tv", "100.99")) == 100


def test_the_cap_applies_to_the_rounded_points() -> None:
    rules_program = program(rules=[stars(rounding="ceil", max_per_purchase=10)])
    # 9.01 -> ceil 10, not capped; 10.01 -> ceil 11 -> capped at 10
    assert points_of(rules_program, line("x", "9.01")) == 10
    assert points_of(rules_program, line("x", "10.01")) == 10


# --- multipliers ------------------------------------------------------------------------

COFFEE_DOUBLE = {"factor": "2", "when": {"categories": ["coffee"]}}
WEEKEND_TRIPLE = {"factor": "3", "when": {"weekdays": ["saturday", "sunday"]}}


def test_a_multiplier_weights_the_lines_it_matches() -> None:
    rules_program = program(rules=[stars(multipliers=[COFFEE_DOUBLE])])
    # coffee 4.00 x 2 + muffin 3.00 x 1 = 11
    assert (
        points_of(rules_program, line("latte", "4.00", category="coffee"), line("muffin", "3.00"))
        == 11
    )


def test_the_largest_matching_factor_wins_and_factors_never_multiply() -> None:
    rules_program = program(rules=[stars(multipliers=[COFFEE_DOUBLE, WEEKEND_TRIPLE])])
    saturday = at(5)  # BASE is Monday 2 March 2026; 7 March is a Saturday
    # coffee 4.00 x max(2, 3) = 12 (not 4.00 x 6 = 24); muffin 3.00 x 3 = 9; total 21
    assert (
        points_of(
            rules_program,
            line("latte", "4.00", category="coffee"),
            line("muffin", "3.00"),
            when=saturday,
        )
        == 21
    )
    # on a Monday only the coffee factor applies: 4.00 x 2 + 3.00 = 11
    assert (
        points_of(rules_program, line("latte", "4.00", category="coffee"), line("muffin", "3.00"))
        == 11
    )


def test_the_largest_factor_wins_whatever_the_order_of_the_multipliers() -> None:
    rules_program = program(rules=[stars(multipliers=[WEEKEND_TRIPLE, COFFEE_DOUBLE])])
    # Saturday coffee: max(3, 2) = 3 -> 4.00 x 3 = 12
    assert points_of(rules_program, line("latte", "4.00", category="coffee"), when=at(5)) == 12


def test_a_fractional_factor_is_exact() -> None:
    rules_program = program(rules=[stars(multipliers=[{"factor": "1.5", "when": {}}])])
    # 3.00 x 1.5 = 4.5 -> 4 (floor); 3.34 x 1.5 = 5.01 -> 5
    assert points_of(rules_program, line("x", "3.00")) == 4
    assert points_of(rules_program, line("x", "3.34")) == 5


def test_a_factor_below_one_is_allowed_and_a_negative_one_is_refused() -> None:
    # 3.00 x 0.5 = 1.5 -> 1 (floor)
    halved = program(rules=[stars(multipliers=[{"factor": "0.5", "when": {}}])])
    assert points_of(halved, line("x", "3.00")) == 1
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        program(rules=[stars(multipliers=[{"factor": "-0.5", "when": {}}])])


def test_a_multiplier_checks_purchase_level_conditions_too() -> None:
    rules_program = program(
        rules=[stars(multipliers=[{"factor": "3", "when": {"stores": ["airport"]}}])]
    )
    assert points_of(rules_program, line("x", "2.00"), store="airport") == 6
    assert points_of(rules_program, line("x", "2.00"), store="mall") == 2


def test_an_appreciation_day_is_a_multiplier_on_its_dates() -> None:
    rules_program = program(
        rules=[stars(multipliers=[{"factor": "5", "when": {"dates": ["2026-03-14"]}}])]
    )
    appreciation_day = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
    the_day_before = datetime(2026, 3, 13, 9, 0, tzinfo=UTC)
    # 10.00 x 5 = 50 on the day, 10 the day before
    assert points_of(rules_program, line("x", "10.00"), when=appreciation_day) == 50
    assert points_of(rules_program, line("x", "10.00"), when=the_day_before) == 10


def test_weekdays_are_read_in_the_programs_time_zone_near_midnight_utc() -> None:
    rules_program = program(
        timezone="America/New_York",
        rules=[stars(multipliers=[{"factor": "2", "when": {"weekdays": ["sunday"]}}])],
    )
    # Monday 9 March 2026 03:00 UTC is Sunday 8 March 23:00 in New York (EDT, UTC-4)
    late_sunday_local = datetime(2026, 3, 9, 3, 0, tzinfo=UTC)
    # Sunday 1 March 2026 03:00 UTC is Saturday 28 February 22:00 in New York (EST, UTC-5)
    sunday_in_utc_only = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
    assert points_of(rules_program, line("x", "10.00"), when=late_sunday_local) == 20
    assert points_of(rules_program, line("x", "10.00"), when=sunday_in_utc_only) == 10


def test_a_multiplier_reason_names_the_factor_and_the_lines() -> None:
    evaluation = run(
        program(rules=[stars(multipliers=[COFFEE_DOUBLE])]),
        purchase("p1", at(), line("latte", "4.00", category="coffee"), line("muffin", "3.00")),
    )
    assert reasons(evaluation) == ["7.00 USD paid at 1 point per 1.00 USD, x2 on 1 line: 11 points"]


# --- tiers ------------------------------------------------------------------------------

GOLD_AT_100 = {
    "qualify_by": "spend",
    "window": "lifetime",
    "levels": [{"name": "gold", "at_least": "100.00", "points_multiplier": "1.5"}],
}


def test_the_tier_multiplier_applies_on_top_of_the_rules_factor() -> None:
    evaluation = run(
        program(tiers=GOLD_AT_100, rules=[stars(multipliers=[COFFEE_DOUBLE])]),
        purchase("p1", at(), line("tv", "100.00")),
        purchase("p2", at(1), line("latte", "4.00", category="coffee"), line("muffin", "1.00")),
    )
    # p1: 100 points, no tier yet; p2 at gold: (4.00 x 2 + 1.00) x 1.5 = 13.5 -> 13
    assert ledger(evaluation) == [
        ("p1", "stars", "points", 100, None, None),
        ("p2", "stars", "points", 13, None, None),
    ]
    assert reasons(evaluation)[1] == (
        "5.00 USD paid at 1 point per 1.00 USD, x2 on 1 line, x1.5 at tier gold: 13 points"
    )


def test_the_tier_multiplier_comes_before_the_cap() -> None:
    evaluation = run(
        program(tiers=GOLD_AT_100, rules=[stars(max_per_purchase=10)]),
        purchase("p1", at(), line("tv", "100.00")),
        purchase("p2", at(1), line("x", "8.00")),
    )
    # p2: 8 x 1.5 = 12 -> capped at 10
    assert [row[3] for row in ledger(evaluation)] == [10, 10]


def test_a_multiplier_for_a_tier_applies_at_that_tier_with_the_tiers_own_multiplier() -> None:
    rules_program = program(
        tiers=GOLD_AT_100,
        rules=[stars(multipliers=[{"factor": "4", "when": {"tiers": ["gold"]}}])],
    )
    evaluation = run(
        rules_program,
        purchase("p1", at(), line("tv", "100.00")),
        purchase("p2", at(1), line("x", "10.00")),
    )
    # p1 at no tier: 100; p2 at gold: 10.00 x 4 x 1.5 = 60
    assert [row[3] for row in ledger(evaluation)] == [100, 60]


def test_a_rule_for_a_tier_earns_only_at_that_tier() -> None:
    rules_program = program(
        tiers=GOLD_AT_100,
        rules=[stars(id="gold-bonus", points="5", when={"tiers": ["gold"]})],
    )
    evaluation = run(
        rules_program,
        purchase("p1", at(), line("tv", "100.00")),
        purchase("p2", at(1), line("x", "2.00")),
    )
    # p1 made with no tier: nothing; p2 at gold: 2.00 x 5 x 1.5 = 15
    assert ledger(evaluation) == [("p2", "gold-bonus", "points", 15, None, None)]


# --- filters ----------------------------------------------------------------------------


def test_a_rule_applies_from_its_start_to_its_end_date_inclusive_in_local_time() -> None:
    rules_program = program(
        timezone="America/New_York", rules=[stars(starts="2026-03-03", ends="2026-03-05")]
    )
    # New York is UTC-5 in early March 2026
    just_before_start = datetime(2026, 3, 3, 4, 59, tzinfo=UTC)  # 2 March 23:59 local
    start = datetime(2026, 3, 3, 5, 0, tzinfo=UTC)  # 3 March 00:00 local
    end = datetime(2026, 3, 6, 4, 59, tzinfo=UTC)  # 5 March 23:59 local
    just_after_end = datetime(2026, 3, 6, 5, 0, tzinfo=UTC)  # 6 March 00:00 local
    assert points_of(rules_program, line("x", "10.00"), when=just_before_start) == 0
    assert points_of(rules_program, line("x", "10.00"), when=start) == 10
    assert points_of(rules_program, line("x", "10.00"), when=end) == 10
    assert points_of(rules_program, line("x", "10.00"), when=just_after_end) == 0


def test_min_total_is_checked_on_the_gross_total_before_rewards() -> None:
    rules_program = program(
        rules=[
            {"kind": "every_nth_free", "id": "bogo", "every": 2},
            stars(id="big-basket", points="2", when={"min_total": "20.00"}),
        ]
    )
    evaluation = run(rules_program, purchase("p1", at(), line("cake", "10.00", quantity=2)))
    # gross 20.00 reaches min_total although only 10.00 is paid: 10.00 x 2 = 20 points
    assert ledger(evaluation) == [
        ("p1", "bogo", "free", None, Decimal("10.00"), 1),
        ("p1", "big-basket", "points", 20, None, None),
    ]


def test_a_purchase_one_cent_below_min_total_earns_nothing() -> None:
    rules_program = program(rules=[stars(when={"min_total": "20.00"})])
    assert points_of(rules_program, line("x", "19.99")) == 0
    assert points_of(rules_program, line("x", "20.00")) == 20


def test_min_total_counts_every_line_not_only_the_eligible_ones() -> None:
    rules_program = program(rules=[stars(when={"min_total": "20.00", "categories": ["coffee"]})])
    # gross 4.00 + 16.00 = 20.00; only the coffee line earns: 4
    assert (
        points_of(rules_program, line("latte", "4.00", category="coffee"), line("mug", "16.00"))
        == 4
    )


def test_a_store_filter_needs_a_listed_store() -> None:
    rules_program = program(rules=[stars(when={"stores": ["s1"]})])
    assert points_of(rules_program, line("x", "5.00"), store="s1") == 5
    assert points_of(rules_program, line("x", "5.00"), store="s2") == 0
    assert points_of(rules_program, line("x", "5.00")) == 0  # no store never matches


def test_excluded_categories_and_skus_never_earn() -> None:
    rules_program = program(
        rules=[stars(when={"exclude_categories": ["gift-cards"], "exclude_skus": ["bag-fee"]})]
    )
    lines = (
        line("latte", "4.00", category="coffee"),
        line("card", "25.00", category="gift-cards"),
        line("bag-fee", "0.10"),
        line("spoon", "1.00"),  # no category: not excluded by exclude_categories
    )
    # 4.00 + 1.00 = 5
    assert points_of(rules_program, *lines) == 5


def test_a_line_matches_a_listed_category_or_a_listed_sku() -> None:
    rules_program = program(rules=[stars(when={"categories": ["coffee"], "skus": ["croissant"]})])
    lines = (
        line("latte", "4.00", category="coffee"),
        line("croissant", "3.00", category="bakery"),
        line("muffin", "2.00", category="bakery"),
        line("napkin", "5.00"),  # no category matches no categories entry
    )
    # 4.00 + 3.00 = 7
    assert points_of(rules_program, *lines) == 7


def test_an_exclusion_wins_over_an_inclusion() -> None:
    rules_program = program(
        rules=[stars(when={"categories": ["coffee"], "exclude_skus": ["decaf"]})]
    )
    lines = (line("latte", "4.00", category="coffee"), line("decaf", "4.00", category="coffee"))
    assert points_of(rules_program, *lines) == 4


# --- refunds ----------------------------------------------------------------------------


def test_a_partial_refund_takes_back_the_difference_on_the_refunds_id() -> None:
    evaluation = run(
        program(rules=[stars()]),
        purchase("p1", at(), line("cone", "10.00", quantity=1), line("pack", "10.00", quantity=3)),
        refund("r1", at(1), "p1", ("pack", 1)),
    )
    # p1: 40.00 -> 40; refund 1 of 3 packs at 30.00 / 3 = 10.00 -> 30.00 left -> 30; 30 - 40
    assert ledger(evaluation) == [
        ("p1", "stars", "points", 40, None, None),
        ("r1", "stars", "points", -10, None, None),
    ]
    assert reasons(evaluation)[1] == (
        "refund of purchase p1: points recomputed on 30.00 USD left, 30 now instead of 40"
    )
    assert evaluation.customer("c1").points == 30


def test_ten_dollars_paid_for_three_units_refund_as_3_33_3_33_and_3_34() -> None:
    rules_program = program(
        rules=[stars(points="100"), {"kind": "every_nth_free", "id": "card", "every": 3}]
    )
    evaluation = run(
        rules_program,
        purchase("p1", at(), line("cone", "5.00", quantity=3)),
        refund("r1", at(1), "p1", ("cone", 1)),
        refund("r2", at(2), "p1", ("cone", 1)),
        refund("r3", at(3), "p1", ("cone", 1)),
    )
    # p1: 3 x 5.00 = 15.00, the 3rd free -> 10.00 paid for 3 units -> 1000 points
    # r1: 10.00 / 3 = 3.333 -> 3.33 back; 6.67 left -> 667 points: -333
    # r2: 3.33 more back (6.66 in all); 3.34 left -> 334: -333
    # r3: the last unit takes the remainder, 3.34; 0 left -> 0: -334
    assert [row[3] for row in ledger(evaluation) if row[2] == "points"] == [
        1000,
        -333,
        -333,
        -334,
    ]
    assert evaluation.customer("c1").points == 0


def test_a_refunded_unit_is_worth_paid_over_quantity_rounded_half_up() -> None:
    rules_program = program(
        rules=[stars(points="100"), {"kind": "every_nth_free", "id": "card", "every": 4}]
    )
    evaluation = run(
        rules_program,
        purchase("p1", at(), line("cone", "2.50", quantity=4)),
        refund("r1", at(1), "p1", ("cone", 1)),
        refund("r2", at(2), "p1", ("cone", 3)),
    )
    # p1: 4 x 2.50 = 10.00, one free -> 7.50 paid for 4 units -> 750 points
    # r1: 7.50 / 4 = 1.875 -> 1.88 back (half-up); 5.62 left -> 562: -188
    # r2: reaches the last unit, so everything left goes back: 0 -> -562
    assert [row[3] for row in ledger(evaluation) if row[2] == "points"] == [750, -188, -562]


def test_a_refund_recomputes_at_the_tier_the_purchase_was_made_at() -> None:
    silver = {
        "qualify_by": "spend",
        "window": "lifetime",
        "levels": [{"name": "silver", "at_least": "100.00", "points_multiplier": "2"}],
    }
    evaluation = run(
        program(tiers=silver, rules=[stars()]),
        purchase("p1", at(), line("tv", "100.00")),
        purchase("p2", at(1), line("cd", "10.00", quantity=2)),
        refund("r1", at(2), "p1"),
        refund("r2", at(3), "p2", ("cd", 1)),
    )
    # p1: 100 (no tier); p2 at silver: 20.00 x 2 = 40
    # r1 takes p1 back whole: -100 (the customer is now below silver)
    # r2: p2 recomputed at silver, its own tier: 10.00 x 2 = 20 -> -20
    assert ledger(evaluation) == [
        ("p1", "stars", "points", 100, None, None),
        ("p2", "stars", "points", 40, None, None),
        ("r1", "stars", "points", -100, None, None),
        ("r2", "stars", "points", -20, None, None),
    ]


def test_a_refund_recomputes_with_the_same_factors_and_rounding() -> None:
    rules_program = program(rules=[stars(rounding="ceil", multipliers=[COFFEE_DOUBLE])])
    evaluation = run(
        rules_program,
        purchase(
            "p1", at(), line("latte", "1.25", quantity=2, category="coffee"), line("x", "0.30")
        ),
        refund("r1", at(1), "p1", ("latte", 1)),
    )
    # p1: 2.50 x 2 + 0.30 = 5.30 -> ceil 6
    # r1: 1.25 x 2 + 0.30 = 2.80 -> ceil 3; 3 - 6 = -3
    assert [row[3] for row in ledger(evaluation)] == [6, -3]


def test_a_refund_that_leaves_the_capped_points_unchanged_writes_nothing() -> None:
    evaluation = run(
        program(rules=[stars(max_per_purchase=10)]),
        purchase("p1", at(), line("x", "10.00", quantity=3)),
        refund("r1", at(1), "p1", ("x", 1)),
    )
    # p1: 30 -> 10; r1: 20.00 left -> 20 -> 10: no difference, no entry
    assert ledger(evaluation) == [("p1", "stars", "points", 10, None, None)]


def test_a_full_refund_takes_back_every_point() -> None:
    evaluation = run(
        program(rules=[stars()]),
        purchase("p1", at(), line("x", "12.34")),
        refund("r1", at(1), "p1"),
    )
    assert ledger(evaluation) == [
        ("p1", "stars", "points", 12, None, None),
        ("r1", "stars", "points", -12, None, None),
    ]
    totals = evaluation.totals
    assert (totals.points_issued, totals.points_reversed, totals.points_net) == (12, 12, 0)
