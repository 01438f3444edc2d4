"""Per-rule limits and exclusive groups (docs/lifecycle.md), worked out by hand.

Histories start at ``BASE``, Monday 2 March 2026 at noon UTC. ``EARN`` gives 1 point per
1.00 paid; points are worth 0.01 each unless a test says otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from helpers import at, ledger, line, program, purchase, reasons, refund
from rewardrules.engine.ledger import Evaluation
from rewardrules.engine.state import CustomerState
from rewardrules.evaluation.fold import evaluate, step
from rewardrules.events import AnyEvent
from rewardrules.program.model import Program

EARN = {"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1.00"}


def club(*rules: dict[str, Any], value: str = "0.01", **settings: Any) -> Program:
    return program(rules=list(rules), points={"value": value}, **settings)


def buy(id: str, when: datetime, amount: str, quantity: int = 1) -> AnyEvent:
    return purchase(id, when, line("bun", amount, quantity))


def run(rules: Program, *events: AnyEvent) -> Evaluation:
    return evaluate(rules, events)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- limits -------------------------------------------------------------------------------


def test_a_daily_points_limit_cuts_then_caps_then_starts_again_the_next_day() -> None:
    rules = club({**EARN, "limit": {"per": "day", "points": 10}})

    evaluation = run(
        rules,
        buy("p1", at(0), "12.00"),
        buy("p2", at(0, hours=2), "5.00"),
        buy("p3", at(1), "7.00"),
    )

    assert ledger(evaluation) == [
        ("p1", "earn", "points", 10, None, None),
        ("p2", "earn", "capped", None, None, None),
        ("p3", "earn", "points", 7, None, None),
    ]
    assert reasons(evaluation)[0] == (
        "12.00 USD paid at 1 point per 1.00 USD: 12 points "
        "(limit reached: at most 10 points a day; 10 of 12 given)"
    )
    assert reasons(evaluation)[1].endswith("(limit reached: at most 10 points a day; not given)")
    assert evaluation.totals.rewards_capped == 1
    assert evaluation.totals.points_issued == 17


def test_a_weekly_limit_starts_again_on_monday_in_the_programs_time_zone() -> None:
    rules = club({**EARN, "limit": {"per": "week", "points": 10}}, timezone="Europe/Paris")
    sunday_late = utc("2026-03-08T22:30:00")  # Sunday 8 March, 23:30 in Paris
    monday_early = utc("2026-03-08T23:30:00")  # Monday 9 March, 00:30 in Paris

    evaluation = run(
        rules,
        buy("p1", at(0), "8.00"),
        buy("p2", sunday_late, "8.00"),
        buy("p3", monday_early, "8.00"),
    )

    assert [row[3] for row in ledger(evaluation)] == [8, 2, 8]


def test_limits_per_purchase_month_year_and_lifetime_all_hold_together() -> None:
    rules = club(
        {
            **EARN,
            "limit": [
                {"per": "purchase", "points": 30},
                {"per": "month", "points": 50},
                {"per": "lifetime", "points": 70},
            ],
        }
    )

    evaluation = run(
        rules,
        buy("p1", at(0), "40.00"),  # 30: the purchase limit
        buy("p2", at(1), "40.00"),  # 20: what March leaves
        buy("p3", at(30), "40.00"),  # 1 April: 20, what the lifetime leaves
        buy("p4", at(31), "1.00"),  # nothing left in all
    )

    assert [row[2:4] for row in ledger(evaluation)] == [
        ("points", 30),
        ("points", 20),
        ("points", 20),
        ("capped", None),
    ]
    assert "at most 30 points per purchase" in reasons(evaluation)[0]
    assert "at most 50 points a month" in reasons(evaluation)[1]
    assert "at most 70 points in all" in reasons(evaluation)[2]


def test_a_refund_gives_its_points_back_to_the_allowance_of_the_day() -> None:
    rules = club({**EARN, "limit": {"per": "day", "points": 10}})

    evaluation = run(
        rules,
        buy("p1", at(0), "12.00"),
        refund("r1", at(0, hours=1), "p1"),
        buy("p2", at(0, hours=2), "8.00"),
    )

    assert [row[:4] for row in ledger(evaluation)] == [
        ("p1", "earn", "points", 10),
        ("r1", "earn", "points", -10),
        ("p2", "earn", "points", 8),
    ]


def test_a_refund_of_a_cut_purchase_takes_back_only_what_the_rest_no_longer_earns() -> None:
    rules = club({**EARN, "limit": {"per": "purchase", "points": 10}})

    evaluation = run(
        rules,
        purchase("p1", at(0), line("bun", "5.00", 4)),  # 20 points, 10 given
        refund("r1", at(1), "p1", ("bun", 1)),  # 15 left: still at least 10
        refund("r2", at(2), "p1", ("bun", 2)),  # 5 left: 5 taken back
    )

    assert [row[:4] for row in ledger(evaluation)] == [
        ("p1", "earn", "points", 10),
        ("r2", "earn", "points", -5),
    ]


def test_a_punch_card_limited_to_one_reward_in_all_still_completes_its_cards() -> None:
    card = {
        "id": "card",
        "kind": "every_nth_free",
        "every": 2,
        "limit": {"per": "lifetime", "rewards": 1},
    }

    evaluation = run(club(card), buy("p1", at(0), "3.00", 2), buy("p2", at(1), "3.00", 2))

    assert ledger(evaluation) == [
        ("p1", "card", "free", None, Decimal("3.00"), 1),
        ("p2", "card", "capped", None, None, None),
    ]
    assert reasons(evaluation)[1].endswith("(limit reached: at most 1 reward in all; not given)")
    assert evaluation.customer("c1").stamps == {"card": 0}


def test_a_value_limit_gives_a_free_unit_only_when_its_whole_value_fits() -> None:
    card = {
        "id": "card",
        "kind": "every_nth_free",
        "every": 2,
        "limit": {"per": "month", "value": "5.00"},
    }

    evaluation = run(
        club(card),
        buy("p1", at(0), "3.00", 2),  # 3.00 free
        buy("p2", at(1), "3.00", 2),  # 3.00 would make 6.00 > 5.00
        buy("p3", at(1, hours=1), "2.00", 2),  # 2.00 fits: 5.00 in March
    )

    assert [row[2:5] for row in ledger(evaluation)] == [
        ("free", None, Decimal("3.00")),
        ("capped", None, None),
        ("free", None, Decimal("2.00")),
    ]
    assert evaluation.totals.free_value == 500


def test_a_value_limit_cuts_a_tiered_discount_to_what_is_left() -> None:
    tiers = {
        "qualify_by": "purchases",
        "window": "lifetime",
        "levels": [{"name": "member", "at_least": 0}],
    }
    discount = {
        "id": "members",
        "kind": "tiered_discount",
        "discounts": {"member": 10},
        "limit": {"per": "month", "value": "5.00"},
    }

    evaluation = run(
        club(discount, tiers=tiers),
        buy("p1", at(0), "30.00"),  # 3.00 off
        buy("p2", at(1), "30.00"),  # 3.00 cut to 2.00
        buy("p3", at(2), "30.00"),  # nothing left
    )

    assert [row[2:5] for row in ledger(evaluation)] == [
        ("discount", None, Decimal("3.00")),
        ("discount", None, Decimal("2.00")),
        ("capped", None, None),
    ]
    assert reasons(evaluation)[1].endswith(
        "(limit reached: at most 5.00 USD a month; cut from 3.00 USD)"
    )


def test_gift_cards_beyond_a_yearly_limit_are_cut_from_the_one_entry() -> None:
    cards = {
        "id": "cinema",
        "kind": "partner_gift_card",
        "partner": "Cinema",
        "value": "10.00",
        "every_spend": "50.00",
        "limit": {"per": "year", "rewards": 2},
    }

    evaluation = run(club(cards), buy("p1", at(0), "160.00"))

    # 160.00 earns 3 cards; the limit leaves 2: one entry of 2 cards says so.
    assert [row[2:] for row in ledger(evaluation)] == [("gift_card", None, Decimal("20.00"), 2)]
    assert reasons(evaluation) == [
        "3 Cinema gift cards of 10.00 USD (1st to 3rd): 160.00 USD spent in all, one card "
        "per 50.00 USD (30.00 USD) (limit reached: at most 2 rewards a calendar year; "
        "2 of 3 given)"
    ]
    assert evaluation.totals.gift_cards == 2
    assert evaluation.totals.gift_card_value == 2000


def test_gift_cards_past_the_limit_give_a_capped_entry_when_none_is_left() -> None:
    cards = {
        "id": "cinema",
        "kind": "partner_gift_card",
        "partner": "Cinema",
        "value": "10.00",
        "every_spend": "50.00",
        "limit": {"per": "year", "value": "25.00"},
    }

    evaluation = run(club(cards), buy("p1", at(0), "160.00"), buy("p2", at(1), "100.00"))

    # 25.00 allows two cards of 10.00 at p1; the 5.00 left buys none of p2's two.
    assert [row[2:] for row in ledger(evaluation)] == [
        ("gift_card", None, Decimal("20.00"), 2),
        ("capped", None, None, None),
    ]
    assert reasons(evaluation)[1].endswith(
        "(limit reached: at most 25.00 USD a calendar year; not given)"
    )


def test_a_limit_on_a_rule_that_gives_no_points_cannot_count_points() -> None:
    card = {
        "id": "card",
        "kind": "every_nth_free",
        "every": 2,
        "limit": {"per": "day", "points": 5},
    }

    with pytest.raises(ValidationError, match="gives no points; limit its rewards or value"):
        club(card)


# --- exclusive groups ------------------------------------------------------------------------

TIERS = {
    "qualify_by": "purchases",
    "window": "lifetime",
    "levels": [{"name": "member", "at_least": 0}],
}
TEN_OFF = {
    "id": "ten-off",
    "kind": "tiered_discount",
    "discounts": {"member": 10},
    "exclusive_group": "promo",
}
BONUS = {"id": "bonus", "kind": "bonus_points", "points": 150, "exclusive_group": "promo"}


def test_the_rule_worth_most_wins_and_the_other_is_set_aside() -> None:
    rules = club(TEN_OFF, BONUS, EARN, tiers=TIERS)

    evaluation = run(rules, buy("p1", at(0), "20.00"), buy("p2", at(1), "10.00"))

    # p1: 2.00 off against 150 points worth 1.50; p2: 1.00 off against 1.50.
    assert [row[:5] for row in ledger(evaluation)] == [
        ("p1", "ten-off", "discount", None, Decimal("2.00")),
        ("p1", "bonus", "set_aside", None, None),
        ("p1", "earn", "points", 18, None),
        ("p2", "ten-off", "set_aside", None, None),
        ("p2", "bonus", "points", 150, None),
        ("p2", "earn", "points", 10, None),
    ]
    assert reasons(evaluation)[0].endswith("(best of exclusive group 'promo', over 'bonus')")
    assert reasons(evaluation)[1] == (
        "set aside: exclusive group 'promo' went to 'ten-off', worth 2.00 USD against "
        "1.50 USD (150 points); this rule would have given: bonus: 150 points"
    )
    assert evaluation.totals.rewards_set_aside == 2


def test_a_tie_goes_to_the_lower_priority_number_then_to_the_file_order() -> None:
    first = {"id": "first", "kind": "bonus_points", "points": 40, "exclusive_group": "g"}
    second = {**first, "id": "second"}

    by_file = run(club(first, second), buy("p1", at(0), "1.00"))
    by_priority = run(club(first, {**second, "priority": -1}), buy("p1", at(0), "1.00"))

    assert [row[1:3] for row in ledger(by_file)] == [("first", "points"), ("second", "set_aside")]
    assert [row[1:3] for row in ledger(by_priority)] == [
        ("second", "points"),
        ("first", "set_aside"),
    ]


def test_points_alone_are_compared_as_points_when_they_are_worth_nothing() -> None:
    small = {"id": "small", "kind": "bonus_points", "points": 10, "exclusive_group": "g"}
    large = {"id": "large", "kind": "bonus_points", "points": 30, "exclusive_group": "g"}

    evaluation = run(club(small, large, value="0"), buy("p1", at(0), "1.00"))

    assert [row[1:4] for row in ledger(evaluation)] == [
        ("small", "set_aside", None),
        ("large", "points", 30),
    ]


def test_a_member_that_gives_nothing_still_counts_and_a_loser_does_not() -> None:
    card = {"id": "card", "kind": "every_nth_free", "every": 3, "exclusive_group": "promo"}
    rules = club(card, BONUS)

    evaluation = run(
        rules,
        buy("p1", at(0), "2.00"),  # card at 1, gives nothing: the bonus wins alone
        buy("p2", at(1), "2.00", 2),  # card completes (2.00 free) and beats 1.50
        buy("p3", at(2), "9.00"),  # card at 1 again; bonus wins
    )

    assert [row[:3] for row in ledger(evaluation)] == [
        ("p1", "bonus", "points"),
        ("p2", "card", "free"),
        ("p2", "bonus", "set_aside"),
        ("p3", "bonus", "points"),
    ]
    assert reasons(evaluation)[0] == "bonus: 150 points"  # no rival, no note
    assert evaluation.customer("c1").stamps == {"card": 1}


def test_a_losing_punch_card_does_not_count_the_purchase() -> None:
    card = {"id": "card", "kind": "every_nth_free", "every": 2, "exclusive_group": "promo"}
    rules = club(card, {**BONUS, "points": 500})

    evaluation = run(rules, buy("p1", at(0), "2.00", 2))

    assert [row[1:3] for row in ledger(evaluation)] == [("card", "set_aside"), ("bonus", "points")]
    assert evaluation.customer("c1").stamps == {"card": 0}


def test_a_group_mixing_points_and_money_needs_a_point_value() -> None:
    with pytest.raises(ValidationError, match=r"points\.value is 0"):
        club(TEN_OFF, BONUS, value="0", tiers=TIERS)


def test_a_capped_member_does_not_compete() -> None:
    limited_bonus = {**BONUS, "limit": {"per": "lifetime", "rewards": 1}}
    rules = club(TEN_OFF, limited_bonus, tiers=TIERS)

    evaluation = run(rules, buy("p1", at(0), "10.00"), buy("p2", at(1), "10.00"))

    assert [row[:3] for row in ledger(evaluation)] == [
        ("p1", "ten-off", "set_aside"),
        ("p1", "bonus", "points"),
        ("p2", "ten-off", "discount"),
        ("p2", "bonus", "capped"),
    ]


def test_a_tie_between_a_price_rule_and_an_earning_rule_goes_by_priority_not_phase() -> None:
    # A free unit (a price rule, run first) and a voucher card (an earning rule), both 2.00.
    free = {
        "id": "free",
        "kind": "every_nth_free",
        "every": 2,
        "priority": 5,
        "exclusive_group": "g",
    }
    voucher = {
        "id": "voucher",
        "kind": "every_nth_free",
        "every": 2,
        "reward": {"voucher": {"sku": "bun", "value": "2.00"}},
        "exclusive_group": "g",
    }

    evaluation = run(club(free, voucher), buy("p1", at(0), "2.00", 2))

    assert [row[1:3] for row in ledger(evaluation)] == [
        ("free", "set_aside"),
        ("voucher", "voucher"),
    ]


def test_a_refund_leaves_a_punch_card_set_aside_at_the_purchase_as_it_was() -> None:
    card = {"id": "card", "kind": "every_nth_free", "every": 3, "exclusive_group": "promo"}
    big = {**BONUS, "points": 5000, "when": {"min_total": "10.00"}}

    evaluation = run(
        club(card, big),
        buy("p1", at(0), "2.00", 2),  # no bonus: the card counts 2
        buy("p2", at(1), "6.00", 2),  # the card would complete; 50.00 of bonus wins
        refund("r1", at(2), "p2"),  # p2 never counted on the card: it stays at 2
        buy("p3", at(3), "1.00"),  # the third unit completes the card
    )

    assert [row[:3] for row in ledger(evaluation) if row[1] == "card"] == [
        ("p2", "card", "set_aside"),
        ("p3", "card", "free"),
    ]
    assert evaluation.customer("c1").state.purchases[1].set_aside == ("card",)


def test_a_refund_leaves_the_spend_of_a_gift_card_set_aside_at_the_purchase() -> None:
    cinema = {
        "id": "cinema",
        "kind": "partner_gift_card",
        "partner": "Cinema",
        "value": "1.00",
        "every_spend": "10.00",
        "exclusive_group": "promo",
    }
    big = {**BONUS, "points": 5000, "when": {"min_total": "10.00"}}

    evaluation = run(
        club(cinema, big),
        buy("p1", at(0), "12.00"),  # the bonus wins: p1's spend never counts for cinema
        refund("r1", at(1), "p1"),
        buy("p2", at(2), "8.00"),
        buy("p3", at(3), "8.00"),  # 16.00 counted: the first card
    )

    assert [row[:3] for row in ledger(evaluation) if row[1] == "cinema"] == [
        ("p1", "cinema", "set_aside"),
        ("p3", "cinema", "gift_card"),
    ]


# --- refunds of a group that runs before a later price rule -----------------------------

SILVER = {
    "qualify_by": "purchases",
    "window": "lifetime",
    "levels": [{"name": "silver", "at_least": 0}],
}
HALF_OFF = {"id": "half-off", "kind": "tiered_discount", "discounts": {"silver": 50}, "priority": 2}
CARD = {"id": "card", "kind": "every_nth_free", "every": 10, "priority": 1, "exclusive_group": "g"}
GROUPED_EARN = {**EARN, "priority": 1, "exclusive_group": "g"}


def test_a_refund_takes_back_what_the_line_earned_before_a_later_discount() -> None:
    # The group runs at the punch card's place, before the 50% silver discount: earn sees
    # 40.00 + 20.00 and gives 60. Returning the 20.00 line leaves 40.00 of what it saw.
    evaluation = run(
        club(CARD, GROUPED_EARN, HALF_OFF, tiers=SILVER),
        purchase("p1", at(0), line("shoes", "40.00"), line("belt", "20.00")),
        refund("r1", at(1), "p1", ("belt", 1)),
    )

    assert [row[:4] for row in ledger(evaluation) if row[2] == "points"] == [
        ("p1", "earn", "points", 60),
        ("r1", "earn", "points", -20),
    ]
    assert reasons(evaluation)[-1] == (
        "refund of purchase p1: points recomputed on 40.00 USD left, 40 now instead of 60"
    )
    assert evaluation.customer("c1").points == 40


def test_the_amounts_a_grouped_rule_earned_on_are_saved_in_minor_units() -> None:
    rules = club(CARD, GROUPED_EARN, HALF_OFF, tiers=SILVER)
    saved, _ = step(
        rules, None, purchase("p1", at(0), line("shoes", "40.00"), line("belt", "20.00"))
    )

    assert [line.paid for line in saved.purchases[0].lines] == [2000, 1000]
    assert saved.purchases[0].earned_on == {"earn": (4000, 2000)}
    resumed = CustomerState.model_validate_json(saved.model_dump_json())
    after, entries = step(rules, resumed, refund("r1", at(1), "p1", ("belt", 1)))
    assert [(entry.rule, entry.points) for entry in entries] == [("earn", -20)]
    assert after.points == 40


def test_a_rule_after_every_price_rule_keeps_nothing_beside_the_paid_amounts() -> None:
    outside = {**EARN, "id": "outside", "priority": 3}
    evaluation = run(
        club(CARD, GROUPED_EARN, HALF_OFF, outside, tiers=SILVER),
        purchase("p1", at(0), line("shoes", "40.00")),
        refund("r1", at(1), "p1"),
    )

    assert [row[:4] for row in ledger(evaluation) if row[2] == "points"] == [
        ("p1", "earn", "points", 40),
        ("p1", "outside", "points", 20),
        ("r1", "earn", "points", -40),
        ("r1", "outside", "points", -20),
    ]
    saved = evaluate(
        club(CARD, GROUPED_EARN, HALF_OFF, outside, tiers=SILVER),
        [purchase("p1", at(0), line("shoes", "40.00"))],
    )
    assert saved.customer("c1").state.purchases[0].earned_on == {"earn": (4000,)}


def test_a_grouped_gift_card_refund_lowers_the_spend_it_counted() -> None:
    cinema = {
        "id": "cinema",
        "kind": "partner_gift_card",
        "partner": "Cinema",
        "value": "1.00",
        "every_spend": "100.00",
        "priority": 1,
        "exclusive_group": "g",
    }
    evaluation = run(
        club(CARD, cinema, HALF_OFF, tiers=SILVER),
        purchase("p1", at(0), line("shoes", "40.00"), line("belt", "20.00")),
        refund("r1", at(1), "p1", ("belt", 1)),
    )

    # The card counted 60.00 before the discount; the belt took 20.00 of it away.
    window = evaluation.customer("c1").state.gift_cards["cinema"]["lifetime"]
    assert (window.net_spend, window.highest_spend) == (Decimal("40.00"), Decimal("60.00"))
