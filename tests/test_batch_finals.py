"""``final: true`` with exclusive groups, and birthday and sign-up gifts given at purchases
as members of groups: the batch engine against the reference engine, entry for entry.

The hand-worked cases say what the reference does (and check the batch engine does the
same); the drawn ones (``strategies.finals``) put final rules anywhere around and inside
groups, with gifts at purchases among the members and birthdays near the purchases.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import Row, at, ledger, line, program, purchase, refund
from rewardrules.engine.ledger import Evaluation
from rewardrules.evaluation import batch
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent, Customer, MonthDay
from rewardrules.program.model import Program
from strategies import cutoffs, final_group_programs, histories, profiles_near
from test_batch_engine import same_results

GROUP = {"exclusive_group": "promo"}
CENT_POINTS = {"value": "0.01"}
"""A point is worth 0.01: 500 points (5.00) beat a 4.00 latte."""
BIRTHDAY_10_MARCH = [Customer(customer_id="c1", birthday=MonthDay(month=3, day=10))]
STARS = {"kind": "points_per_spend", "id": "stars", "points": "1"}


def both_engines(
    rules_program: Program,
    events: list[AnyEvent],
    customers: list[Customer] | None = None,
    customer: str = "c1",
) -> tuple[list[Row], Evaluation]:
    """The reference's ledger of ``customer`` and evaluation, after checking that the batch
    engine evaluates the program and gives the same results."""
    assert batch.unsupported(rules_program) == []
    reference = evaluate(rules_program, events, customers)
    assert evaluate(rules_program, events, customers, engine="batch").to_dict() == (
        reference.to_dict()
    )
    return ledger(reference, customer), reference


def test_a_birthday_set_aside_is_not_used_up_and_is_given_at_a_later_purchase() -> None:
    # The welcome bonus (500, 5.00) beats the birthday (100) at p1, the first purchase in
    # the March window: the birthday is set aside, not used, so p2 gets it; p3 nothing.
    # Refunding p1 takes the welcome back and leaves the birthday be.
    birthday = {
        "kind": "birthday",
        "id": "birthday",
        "points": 100,
        "requires_purchase": True,
        "window": "month",
    }
    welcome = {"kind": "bonus_points", "id": "welcome", "points": 500, "once_per_customer": True}
    events: list[AnyEvent] = [
        purchase("p1", at(), line("latte", "4.00")),
        purchase("p2", at(3), line("latte", "4.00")),
        purchase("p3", at(6), line("latte", "4.00")),
        refund("r1", at(7), "p1"),
    ]
    rules_program = program(rules=[birthday | GROUP, welcome | GROUP], points=CENT_POINTS)
    rows, evaluation = both_engines(rules_program, events, BIRTHDAY_10_MARCH)
    assert rows == [
        ("p1", "birthday", "set_aside", None, None, None),
        ("p1", "welcome", "points", 500, None, None),
        ("p2", "birthday", "points", 100, None, None),
        ("r1", "welcome", "points", -500, None, None),
    ]
    assert evaluation.totals.rewards_set_aside == 1


def test_a_sign_up_bonus_set_aside_is_given_at_the_next_purchase_that_pays_enough() -> None:
    # The tote (3.00, at 10.00 or more) beats the sign-up bonus (200, 2.00) at p1; p2 pays
    # 6.00, no tote: the bonus, still not given, is given there; p3 gets the tote alone.
    signup = {
        "kind": "signup_bonus",
        "id": "signup",
        "points": 200,
        "min_first_purchase": "5.00",
    }
    tote = {
        "kind": "order_discount",
        "id": "tote",
        "gift_item": {"sku": "tote", "value": "3.00"},
        "when": {"min_total": "10.00"},
    }
    joined = [Customer(customer_id="c1", joined_at=datetime(2026, 3, 1, tzinfo=UTC))]
    events: list[AnyEvent] = [
        purchase("p1", at(), line("cake", "12.00")),
        refund("r1", at(1), "p1"),
        purchase("p2", at(2), line("latte", "6.00")),
        purchase("p3", at(3), line("cake", "12.00")),
    ]
    rules_program = program(rules=[tote | GROUP, signup | GROUP], points=CENT_POINTS)
    rows, _ = both_engines(rules_program, events, joined)
    assert rows == [
        ("p1", "tote", "free", None, Decimal("3.00"), 1),
        ("p1", "signup", "set_aside", None, None, None),
        ("p2", "signup", "points", 200, None, None),
        ("p3", "tote", "free", None, Decimal("3.00"), 1),
    ]


def test_a_final_rule_before_a_group_keeps_its_purchases_from_the_members() -> None:
    # The app bonus is final: at p1 the group (points, a cinema card every 10.00) does not
    # run, and the cinema window does not count p1's 8.00. So p2's 8.00 earns no card (the
    # points win alone) and p3's 4.00 reaches 12.00: the card (5.00) beats 4 points.
    app = {
        "kind": "bonus_points",
        "id": "app-bonus",
        "points": 50,
        "when": {"stores": ["app"]},
        "final": True,
    }
    cinema = {
        "kind": "partner_gift_card",
        "id": "cinema",
        "partner": "cinema",
        "value": "5.00",
        "every_spend": "10.00",
    }
    events: list[AnyEvent] = [
        purchase("p1", at(), line("cake", "8.00"), store="app"),
        purchase("p2", at(1), line("cake", "8.00"), store="kiosk"),
        purchase("p3", at(2), line("cake", "4.00"), store="kiosk"),
        refund("r1", at(3), "p1"),
    ]
    rules_program = program(rules=[app, STARS | GROUP, cinema | GROUP], points=CENT_POINTS)
    rows, _ = both_engines(rules_program, events)
    assert rows == [
        ("p1", "app-bonus", "points", 50, None, None),
        ("p2", "stars", "points", 8, None, None),
        ("p3", "stars", "set_aside", None, None, None),
        ("p3", "cinema", "gift_card", None, Decimal("5.00"), 1),
        ("r1", "app-bonus", "points", -50, None, None),
    ]


def test_a_final_birthday_that_wins_its_group_stops_the_rules_after_it() -> None:
    # p1 is in the birthday window: the voucher (5.00) beats the visit bonus (1.00) and is
    # final, so 'stars' does not run there; at p2 the birthday is used and the bonus wins.
    birthday = {
        "kind": "birthday",
        "id": "birthday",
        "voucher": {"sku": "cake", "value": "5.00"},
        "requires_purchase": True,
        "window": "month",
        "final": True,
    }
    visit = {"kind": "bonus_points", "id": "visit", "points": 100}
    events: list[AnyEvent] = [
        purchase("p1", at(), line("latte", "4.00")),
        purchase("p2", at(3), line("latte", "4.00")),
    ]
    rules_program = program(rules=[birthday | GROUP, visit | GROUP, STARS], points=CENT_POINTS)
    rows, _ = both_engines(rules_program, events, BIRTHDAY_10_MARCH)
    assert rows == [
        ("p1", "birthday", "voucher", None, Decimal("5.00"), 1),
        ("p1", "visit", "set_aside", None, None, None),
        ("p2", "visit", "points", 100, None, None),
        ("p2", "stars", "points", 4, None, None),
    ]


def test_a_final_bonus_winning_beside_a_punch_card_stops_a_later_price_rule() -> None:
    # The group runs where the card runs, among the price rules. On Tuesdays (p2, p4) the
    # final bonus (500, 5.00) wins and the 10 % offer does not run; at p2 it beats the
    # card's free latte (4.00), so the card does not count p2 and completes at p3 instead.
    card = {"kind": "every_nth_free", "id": "card", "every": 2, "reward": "free"}
    tuesday = {
        "kind": "bonus_points",
        "id": "tuesday",
        "points": 500,
        "when": {"weekdays": ["tuesday"]},
        "final": True,
    }
    offer = {"kind": "order_discount", "id": "ten-off", "percent": "10", "priority": 2}
    events: list[AnyEvent] = [
        purchase(f"p{index + 1}", at(day), line("latte", "4.00"))
        for index, day in enumerate((0, 1, 2, 8))
    ]
    rules_program = program(rules=[card | GROUP, tuesday | GROUP, offer], points=CENT_POINTS)
    rows, _ = both_engines(rules_program, events)
    assert rows == [
        ("p1", "ten-off", "discount", None, Decimal("0.40"), 1),
        ("p2", "card", "set_aside", None, None, None),
        ("p2", "tuesday", "points", 500, None, None),
        ("p3", "card", "free", None, Decimal("4.00"), 1),
        ("p4", "tuesday", "points", 500, None, None),
    ]


def test_a_limited_birthday_competes_with_what_its_limit_leaves() -> None:
    # 100 points cut to 50 a month (0.50) lose to the welcome bonus (0.70) at p1; at p2 the
    # birthday, still due, is given within its limit.
    birthday = {
        "kind": "birthday",
        "id": "birthday",
        "points": 100,
        "requires_purchase": True,
        "window": "month",
        "limit": {"per": "month", "points": 50},
    }
    welcome = {"kind": "bonus_points", "id": "welcome", "points": 70, "once_per_customer": True}
    events: list[AnyEvent] = [
        purchase(f"p{index + 1}", at(day), line("latte", "4.00"))
        for index, day in enumerate((0, 3, 6))
    ]
    rules_program = program(rules=[birthday | GROUP, welcome | GROUP], points=CENT_POINTS)
    rows, evaluation = both_engines(rules_program, events, BIRTHDAY_10_MARCH)
    assert rows == [
        ("p1", "birthday", "set_aside", None, None, None),
        ("p1", "welcome", "points", 70, None, None),
        ("p2", "birthday", "points", 50, None, None),
    ]
    (customer,) = evaluation.customers
    assert customer.ledger[0].reason.startswith(
        "set aside: exclusive group 'promo' went to 'welcome', worth 0.70 USD (70 points) "
        "against 0.50 USD (50 points)"
    )


def test_a_limited_birthday_its_limit_leaves_nothing_is_used_up_where_it_is_capped() -> None:
    # One birthday reward in a lifetime: 2027's is capped at its first purchase in the
    # window (it does not compete, so the bonus is given alone) and uses up that year.
    birthday = {
        "kind": "birthday",
        "id": "birthday",
        "voucher": {"sku": "cake", "value": "5.00"},
        "requires_purchase": True,
        "window": "month",
        "limit": {"per": "lifetime", "rewards": 1},
    }
    visit = {"kind": "bonus_points", "id": "visit", "points": 100}
    events: list[AnyEvent] = [
        purchase(f"p{index + 1}", at(day), line("latte", "4.00"))
        for index, day in enumerate((0, 365, 366))
    ]
    rules_program = program(rules=[birthday | GROUP, visit | GROUP], points=CENT_POINTS)
    rows, _ = both_engines(rules_program, events, BIRTHDAY_10_MARCH)
    assert rows == [
        ("p1", "birthday", "voucher", None, Decimal("5.00"), 1),
        ("p1", "visit", "set_aside", None, None, None),
        ("p2", "birthday", "capped", None, None, None),
        ("p2", "visit", "points", 100, None, None),
        ("p3", "visit", "points", 100, None, None),
    ]


def test_a_sign_up_bonus_beside_a_punch_card_reads_what_is_paid_where_the_group_runs() -> None:
    # The group runs among the price rules, before the 50 % offer. p1 (6.00) completes no
    # card: the sign-up (at least 5.00 paid) is given on 6.00, though the offer then
    # halves it. p2 would complete the card, but the customer's sign-up is used up.
    signup = {"kind": "signup_bonus", "id": "signup", "points": 200, "min_first_purchase": "5"}
    card = {"kind": "every_nth_free", "id": "card", "every": 2, "reward": "free"}
    offer = {"kind": "order_discount", "id": "half", "percent": "50", "priority": 2}
    joined = [Customer(customer_id="c1", joined_at=datetime(2026, 3, 1, tzinfo=UTC))]
    events: list[AnyEvent] = [
        purchase("p1", at(), line("latte", "6.00")),
        purchase("p2", at(1), line("latte", "6.00")),
    ]
    rules_program = program(rules=[card | GROUP, signup | GROUP, offer], points=CENT_POINTS)
    rows, _ = both_engines(rules_program, events, joined)
    assert rows == [
        ("p1", "signup", "points", 200, None, None),
        ("p1", "half", "discount", None, Decimal("3.00"), 1),
        ("p2", "card", "free", None, Decimal("6.00"), 1),
    ]


def test_a_sign_up_bonus_set_aside_beside_a_punch_card_waits_for_the_next_purchase() -> None:
    # p1's two lattes complete the card: the free latte (6.00) beats the sign-up (2.00),
    # which is set aside and not used up; p2 completes no card, and gets the sign-up.
    signup = {"kind": "signup_bonus", "id": "signup", "points": 200, "min_first_purchase": "5"}
    card = {"kind": "every_nth_free", "id": "card", "every": 2, "reward": "free"}
    joined = [Customer(customer_id="c1", joined_at=datetime(2026, 3, 1, tzinfo=UTC))]
    events: list[AnyEvent] = [
        purchase("p1", at(), line("latte", "6.00", quantity=2)),
        purchase("p2", at(1), line("latte", "6.00")),
    ]
    rules_program = program(rules=[card | GROUP, signup | GROUP], points=CENT_POINTS)
    rows, _ = both_engines(rules_program, events, joined)
    assert rows == [
        ("p1", "card", "free", None, Decimal("6.00"), 1),
        ("p1", "signup", "set_aside", None, None, None),
        ("p2", "signup", "points", 200, None, None),
    ]


def test_a_referral_a_final_rule_stopped_does_not_start_the_referrers_membership() -> None:
    # ben's latte at b1 (1 February) gets the final latte bonus, which stops the referral
    # rule after it: no fact for amy then. So amy's membership starts at her own first
    # purchase (2 March), and on 17 March she is not yet a member of 20 days: no birthday
    # treat. The referral gives at b2 (18 March), after both of her purchases in March.
    bonus = {
        "kind": "bonus_points",
        "id": "latte-bonus",
        "points": 10,
        "when": {"skus": ["latte"]},
        "final": True,
        "priority": 1,
    }
    referral = {"kind": "referral", "id": "friend", "referrer": {"points": 300}, "priority": 2}
    birthday = {
        "kind": "birthday",
        "id": "birthday",
        "points": 100,
        "requires_purchase": True,
        "window": "month",
        "member_for": "20 days",
        "priority": 0,
    }
    rules_program = program(rules=[bonus, referral, birthday], points=CENT_POINTS)
    profiles = [
        Customer(customer_id="ben", referred_by="amy"),
        Customer(customer_id="amy", birthday=MonthDay(month=3, day=20)),
    ]
    events: list[AnyEvent] = [
        purchase("b1", at(-30), line("latte", "4.00"), customer="ben"),
        purchase("a1", at(0), line("tea", "4.00"), customer="amy"),
        purchase("a2", at(15), line("tea", "4.00"), customer="amy"),
        purchase("b2", at(16), line("tea", "4.00"), customer="ben"),
    ]
    rows, _ = both_engines(rules_program, events, profiles, "amy")
    assert rows == [("b2", "friend", "points", 300, None, None)]


AS_OF = st.one_of(st.none(), cutoffs())
"""Mostly no cut-off: the gifts at purchases have the whole history to be given in."""


@settings(max_examples=200)
@given(final_group_programs(), histories(("alice", "bob"), 2, 12), AS_OF, st.data())
def test_drawn_finals_and_groups_run_identically(
    program: Program,
    events: list[AnyEvent],
    as_of: date | datetime | None,
    data: st.DataObject,
) -> None:
    customers = data.draw(profiles_near(events, program.timezone))
    assert batch.unsupported(program) == []
    same_results(program, events, customers, as_of)
