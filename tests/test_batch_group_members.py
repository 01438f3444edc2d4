"""The batch engine on exclusive groups' limited members and members beside price rules.

A limited points or price member competes with what its limits leave and counts only
where it wins (refunds give points back to its limits); a points or gift card member
beside a price member earns on the group's basket, before a later price rule lowers the
amounts again, and its refunds remember those amounts. The reference engine is the
oracle: every case compares both engines' whole results.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given, settings

from helpers import at, line, purchase, refund
from rewardrules.evaluation import batch
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent
from rewardrules.program.model import Program
from strategies import cutoffs, histories, limited_group_programs, make_program
from test_batch_engine import same_results

GROUP = {"exclusive_group": "deal", "priority": 1}
CENT_POINTS = {"name": "stars", "value": Decimal("0.01")}


def _ledger(program: Program, events: list[AnyEvent]) -> list[tuple[Any, ...]]:
    """The batch engine's ledger (after checking it is the reference's)."""
    assert batch.unsupported(program) == []
    assert same_results(program, events)
    (customer,) = evaluate(program, events, engine="batch").customers
    return [
        (entry.event_id, entry.rule, entry.kind, entry.points, entry.value)
        for entry in customer.ledger
    ]


@settings(max_examples=150)
@given(limited_group_programs(), histories(refunds=True, payments=True), cutoffs())
def test_drawn_groups_of_limited_members_and_members_beside_prices_run_identically(
    program: Program, events: list[AnyEvent], as_of: date | datetime | None
) -> None:
    assert batch.unsupported(program) == []
    assert same_results(program, events, None, as_of)


STARS = {"id": "stars", "kind": "points_per_spend", "points": Decimal(1), "per": Decimal(1)}
TREAT = {"id": "treat", "kind": "bonus_points", "points": 5}


def test_a_refund_gives_a_grouped_points_rule_its_limit_back_so_it_wins_again() -> None:
    # Stars (10 a day at most) against a 5-point treat, points worth 0.01 each.
    program = make_program(
        [STARS | GROUP | {"limit": {"per": "day", "points": 10}}, TREAT | GROUP],
        points=CENT_POINTS,
    )
    events: list[AnyEvent] = [
        purchase("p1", at(0, hours=9), line("latte", "3.50", 2)),  # 7 stars beat 5
        purchase("p2", at(0, hours=10), line("latte", "3.00", 2)),  # 3 of 6 left: treat
        refund("r1", at(0, hours=11), "p1"),  # 7 stars back, and to the day's limit
        purchase("p3", at(0, hours=12), line("latte", "4.00", 2)),  # 8 of 10: stars win
        purchase("p4", at(0, hours=13), line("latte", "3.00", 2)),  # 2 of 6 left: treat
    ]
    assert _ledger(program, events) == [
        ("p1", "stars", "points", 7, None),
        ("p1", "treat", "set_aside", None, None),
        ("p2", "stars", "set_aside", None, None),
        ("p2", "treat", "points", 5, None),
        ("r1", "stars", "points", -7, None),
        ("p3", "stars", "points", 8, None),
        ("p3", "treat", "set_aside", None, None),
        ("p4", "stars", "set_aside", None, None),
        ("p4", "treat", "points", 5, None),
    ]
    (customer,) = evaluate(program, events, engine="batch").customers
    assert customer.ledger[2].reason.endswith(
        "this rule would have given: 6.00 USD paid at 1 star per 1.00 USD: 6 stars "
        "(limit reached: at most 10 stars a day; 3 of 6 given)"
    )
    assert customer.ledger[5].reason.endswith(
        "8 stars (best of exclusive group 'deal', over 'treat')"
    )


HALF = {"id": "half", "kind": "order_discount", "percent": Decimal(50)}
BIG_TREAT = {"id": "treat", "kind": "bonus_points", "points": 100}


def test_a_limited_offer_is_cut_where_it_wins_and_capped_where_its_limit_is_used_up() -> None:
    limited = HALF | GROUP | {"limit": {"per": "day", "value": Decimal(2)}}
    program = make_program([limited, BIG_TREAT | GROUP], points=CENT_POINTS)
    events: list[AnyEvent] = [
        purchase("p1", at(0, hours=9), line("latte", "3.00", 2)),  # 2.00 of 3.00 beat 1.00
        purchase("p2", at(0, hours=10), line("latte", "3.00", 2)),  # nothing left: treat
        purchase("p3", at(1, hours=10), line("latte", "1.00", 2)),  # 1.00 ties: 100 stars win
    ]
    assert _ledger(program, events) == [
        ("p1", "half", "discount", None, Decimal("2.00")),
        ("p1", "treat", "set_aside", None, None),
        ("p2", "half", "capped", None, None),
        ("p2", "treat", "points", 100, None),
        ("p3", "half", "set_aside", None, None),
        ("p3", "treat", "points", 100, None),
    ]
    result = evaluate(program, events, engine="batch")
    (customer,) = result.customers
    assert customer.ledger[0].reason == (
        "order offer: 50% off 2 eligible units (2.00 USD) (limit reached: at most 2.00 USD a "
        "day; cut from 3.00 USD) (best of exclusive group 'deal', over 'treat')"
    )
    assert customer.ledger[2].reason.endswith("(limit reached: at most 2.00 USD a day; not given)")
    assert (result.totals.rewards_capped, result.totals.rewards_set_aside) == (1, 2)


def test_a_limited_punch_card_in_a_group_frees_what_its_limit_leaves() -> None:
    card = {"id": "card", "kind": "every_nth_free", "every": 2, "reward": "free"}
    limited = card | GROUP | {"limit": {"per": "lifetime", "rewards": 1}}
    program = make_program([limited, BIG_TREAT | GROUP | {"points": 300}], points=CENT_POINTS)
    events: list[AnyEvent] = [
        purchase("p1", at(0), line("latte", "4.00", 4)),  # 2 cards, 1 unit free: 4.00 wins
        purchase("p2", at(1), line("latte", "4.00", 2)),  # no reward left: the treat
    ]
    assert _ledger(program, events) == [
        ("p1", "card", "free", None, Decimal("4.00")),
        ("p1", "treat", "set_aside", None, None),
        ("p2", "card", "capped", None, None),
        ("p2", "treat", "points", 300, None),
    ]


CARD = {"id": "card", "kind": "every_nth_free", "every": 3, "reward": "free"}
TEN_OFF = {"id": "tenoff", "kind": "order_discount", "percent": Decimal(10), "priority": 5}


def test_a_points_member_beside_a_punch_card_earns_before_a_later_offer_and_refunds_so() -> None:
    # The group runs where its punch card runs, before the 10% offer: the stars are
    # earned on 10.00, and a refund of one of the two units leaves 5.00 of that (not
    # 4.50 of what was paid, which would leave 4 stars).
    program = make_program([CARD | GROUP, STARS | GROUP, TEN_OFF], points=CENT_POINTS)
    events: list[AnyEvent] = [
        purchase("p1", at(0), line("latte", "5.00", 2)),
        refund("r1", at(1), "p1", ("latte", 1)),
    ]
    assert _ledger(program, events) == [
        ("p1", "stars", "points", 10, None),
        ("p1", "tenoff", "discount", None, Decimal("1.00")),
        ("r1", "stars", "points", -5, None),
    ]


def test_a_gift_card_member_counts_the_spend_a_winning_offer_leaves_and_refunds_of_it() -> None:
    # p1: the offer (8.00) beats a 5.00 card, which does not count p1. p2: the offer wins
    # alone and the card counts the 3.00 it leaves; the refund of one unit takes 1.50
    # off. p3 is tried on its whole 8.00: 9.50 in all, no card, so the offer wins again.
    gift = {
        "id": "cinema",
        "kind": "partner_gift_card",
        "partner": "cinema",
        "value": Decimal(5),
        "every_spend": Decimal(10),
    }
    program = make_program([HALF | GROUP, gift | GROUP], points=CENT_POINTS)
    events: list[AnyEvent] = [
        purchase("p1", at(0), line("latte", "8.00", 2)),
        purchase("p2", at(1), line("latte", "3.00", 2)),
        refund("r1", at(2), "p2", ("latte", 1)),
        purchase("p3", at(3), line("latte", "4.00", 2)),
        purchase("p4", at(4), line("latte", "3.00", 2)),
    ]
    # p3 counts the 4.00 the offer leaves (5.50 in all); p4 is tried on 6.00: 11.50, a
    # card worth 5.00 against 3.00 off.
    assert _ledger(program, events) == [
        ("p1", "half", "discount", None, Decimal("8.00")),
        ("p1", "cinema", "set_aside", None, None),
        ("p2", "half", "discount", None, Decimal("3.00")),
        ("p3", "half", "discount", None, Decimal("4.00")),
        ("p4", "half", "set_aside", None, None),
        ("p4", "cinema", "gift_card", None, Decimal("5.00")),
    ]
    (customer,) = evaluate(program, events, engine="batch").customers
    assert "11.50 USD spent in all" in customer.ledger[-1].reason


def test_a_capped_points_member_runs_after_the_winning_offer_on_what_it_leaves() -> None:
    # One reward a day for the stars. p1 (10.00, under the offer's minimum): 10 stars.
    # p2 (30.00): the limit leaves the stars nothing, so they do not compete; the offer
    # wins, and the stars run after it: capped, on the 15.00 it leaves.
    offer = HALF | {"when": {"min_total": Decimal(20)}}
    stars = STARS | {"limit": {"per": "day", "rewards": 1}}
    program = make_program([offer | GROUP, stars | GROUP], points=CENT_POINTS)
    events: list[AnyEvent] = [
        purchase("p1", at(0, hours=9), line("latte", "5.00", 2)),
        purchase("p2", at(0, hours=10), line("latte", "15.00", 2)),
    ]
    assert _ledger(program, events) == [
        ("p1", "stars", "points", 10, None),
        ("p2", "half", "discount", None, Decimal("15.00")),
        ("p2", "stars", "capped", None, None),
    ]
    (customer,) = evaluate(program, events, engine="batch").customers
    assert customer.ledger[2].reason == (
        "15.00 USD paid at 1 star per 1.00 USD: 15 stars "
        "(limit reached: at most 1 reward a day; not given)"
    )
