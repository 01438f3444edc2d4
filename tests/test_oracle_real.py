"""Issue 15's features checked against hand-worked numbers and against tests/oracle/real.py.

Part one: the issue's own examples and the published terms of real programs (a Starbucks-like
card, order offers as Saleor and Open Loyalty write them, a migrated bookshop, an airline
with status points, Sephora's VIB), each number worked out by hand in the comment above it,
in both engines. Part two: a hypothesis differential between the oracle (written from the
issue text and the docs, not from the engine) and both engines, over drawn programs and
histories of payments, order offers, ``final``, tiers and migrated customers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import line, program, purchase, redemption, refund, rows
from oracle import real
from rewardrules import Customer, evaluate
from rewardrules.engine.ledger import Evaluation
from rewardrules.events import (
    AnyEvent,
    CancelRedemption,
    Line,
    OpeningLot,
    Payment,
    Purchase,
    Redemption,
    Refund,
    RefundLine,
)
from rewardrules.program.model import Program
from test_batch_engine import same_results

ENGINES = ("reference", "batch")


def both(
    rules_program: Program,
    events: Sequence[AnyEvent],
    customers: Sequence[Customer] = (),
    as_of: date | datetime | None = None,
) -> list[Evaluation]:
    """The evaluation in each engine."""
    return [
        evaluate(rules_program, events, list(customers), as_of, engine=engine) for engine in ENGINES
    ]


def utc(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def paying(
    event_id: str,
    when: datetime,
    payments: Sequence[tuple[str, str]],
    *lines: Line,
    customer: str = "c1",
    store: str | None = None,
) -> Purchase:
    return Purchase(
        id=event_id,
        customer_id=customer,
        at=when,
        lines=lines,
        store=store,
        payments=tuple(
            Payment(method=method, amount=Decimal(amount)) for method, amount in payments
        ),
    )


D = Decimal

# --- Starbucks: stars by payment method ------------------------------------------------

STARS = program(
    points={"name": "stars", "value": "0.01"},
    rules=[
        {
            "id": "card",
            "kind": "points_per_spend",
            "points": 2,
            "when": {"payment_methods": ["stored_value"]},
        },
        {
            "id": "other",
            "kind": "points_per_spend",
            "points": 1,
            "when": {"payment_methods": ["cash", "card"]},
        },
    ],
)


def test_starbucks_stars_by_payment_method_and_a_refund_of_one_latte() -> None:
    bought = paying(
        "p1",
        utc(2026, 3, 2),
        [("stored_value", "9.00"), ("cash", "6.00")],
        line("latte", "5.00", 2),
        line("cake", "5.00"),
    )
    back = refund("r1", utc(2026, 3, 3), "p1", ("latte", 1))
    for evaluation in both(STARS, [bought, back]):
        # gross 15.00; stored value pays 9/15: lattes 10.00 -> 6.00, cake 5.00 -> 3.00 = 9.00 x 2
        # = 18 stars; cash 6/15: 4.00 + 2.00 = 6.00 x 1 = 6 stars. One latte back: stored value
        # keeps 6.00 - 3.00 + 3.00 = 6.00 -> 12 stars (-6); cash 4.00 - 2.00 + 2.00 = 4.00 -> 4 (-2)
        assert rows(evaluation.customer("c1").ledger) == [
            ("p1", "card", "points", 18, None, None),
            ("p1", "other", "points", 6, None, None),
            ("r1", "card", "points", -6, None, None),
            ("r1", "other", "points", -2, None, None),
        ]
        assert evaluation.customer("c1").points == 16


def test_a_share_is_rounded_half_up_per_line() -> None:
    hundred = program(
        rules=[
            {
                "id": "sv",
                "kind": "points_per_spend",
                "points": 100,
                "when": {"payment_methods": ["stored_value"]},
            }
        ]
    )
    bought = paying(
        "p1",
        utc(2026, 3, 2),
        [("stored_value", "0.05"), ("cash", "0.05")],
        line("a", "0.05"),
        line("b", "0.05"),
    )
    for evaluation in both(hundred, [bought]):
        # half of each 0.05 line is 0.025 -> 0.03 per line (half up, per line): 0.06 x 100 = 6
        assert rows(evaluation.customer("c1").ledger) == [("p1", "sv", "points", 6, None, None)]


def test_no_payments_recorded_earn_nothing_by_method() -> None:
    for evaluation in both(STARS, [purchase("p1", utc(2026, 3, 2), line("latte", "5.00"))]):
        # the purchase says nothing of how it was paid: no rule by payment method gives
        assert rows(evaluation.customer("c1").ledger) == []


# --- Order offers (Saleor: the single best rule wins; Open Loyalty's minimum order) -----

OFFERS = program(
    currency="EUR",
    points={"value": "0.01"},
    rules=[
        {
            "id": "ten",
            "kind": "order_discount",
            "percent": 10,
            "when": {"min_total": "50.00"},
            "exclusive_group": "big",
        },
        {
            "id": "tote",
            "kind": "order_discount",
            "gift_item": {"sku": "tote", "value": "8.00", "name": "a tote"},
            "when": {"min_total": "50.00"},
            "exclusive_group": "big",
        },
        {
            "id": "five",
            "kind": "order_discount",
            "amount": "5.00",
            "when": {"min_total": "30.00", "categories": ["stationery"]},
        },
        {"id": "pts", "kind": "points_per_spend", "points": 1},
    ],
)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_best_offer_of_the_group_wins(engine: str) -> None:
    small = purchase("p1", utc(2026, 3, 2), line("novel", "60.00", category="books"))
    large = purchase("p2", utc(2026, 3, 3), line("atlas", "100.00", category="books"))
    ledger = evaluate(OFFERS, [small, large], engine=engine).customer("c1").ledger
    got = sorted(
        (entry.event_id, entry.rule, entry.kind, entry.points, entry.value, entry.units)
        for entry in ledger
    )
    # 60.00: 10% is 6.00 < the tote's 8.00: the tote, 10% set aside, 60 points on the full price.
    # 100.00: 10% is 10.00 > 8.00: 10.00 off, the tote set aside, 90 points on 90.00 paid.
    assert got == sorted(
        [
            ("p1", "ten", "set_aside", None, None, None),
            ("p1", "tote", "free", None, D("8.00"), 1),
            ("p1", "pts", "points", 60, None, None),
            ("p2", "ten", "discount", None, D("10.00"), 1),
            ("p2", "tote", "set_aside", None, None, None),
            ("p2", "pts", "points", 90, None, None),
        ]
    )


def test_an_amount_is_shared_by_what_each_line_has_left() -> None:
    basket = purchase(
        "p1",
        utc(2026, 3, 2),
        line("pens", "20.00", category="stationery"),
        line("pad", "10.00", category="stationery"),
        line("map", "15.00", category="books"),
    )
    for evaluation in both(OFFERS, [basket]):
        # gross 45.00 >= 30.00; 5.00 off the stationery (30.00): 5 x 20/30 = 3.333 -> 3.33,
        # 5 x 10/30 = 1.666 -> 1.66, one cent left goes to the larger remainder (the pad's .666):
        # 3.33 + 1.67; two units. Points on 45.00 - 5.00 = 40.00: 40.
        assert rows(evaluation.customer("c1").ledger) == [
            ("p1", "five", "discount", None, D("5.00"), 2),
            ("p1", "pts", "points", 40, None, None),
        ]


def test_a_minimum_without_delivery() -> None:
    big = program(
        rules=[
            {
                "id": "big",
                "kind": "bonus_points",
                "points": 50,
                "when": {
                    "exclude_categories": ["delivery"],
                    "min_total": "20.00",
                    "min_total_of": "eligible",
                },
            }
        ]
    )
    short = purchase(
        "p1",
        utc(2026, 3, 2),
        line("food", "18.00", category="food"),
        line("van", "5.00", category="delivery"),
    )
    enough = purchase(
        "p2",
        utc(2026, 3, 3),
        line("food", "20.00", category="food"),
        line("van", "5.00", category="delivery"),
    )
    for evaluation in both(big, [short, enough]):
        # 18.00 of food (23.00 with delivery) misses 20.00; 20.00 of food reaches it
        assert rows(evaluation.customer("c1").ledger) == [("p2", "big", "points", 50, None, None)]


# --- Open Loyalty's "last executed rule": final ----------------------------------------

KIOSK = program(
    points={"name": "stars", "value": "0.01"},
    rules=[
        {
            "id": "airport",
            "kind": "bonus_points",
            "points": 25,
            "when": {"stores": ["airport"]},
            "final": True,
        },
        {
            "id": "card",
            "kind": "points_per_spend",
            "priority": 1,
            "points": 2,
            "when": {"payment_methods": ["stored_value"]},
        },
        {
            "id": "big",
            "kind": "bonus_points",
            "priority": 2,
            "points": 50,
            "when": {"min_total": "25.00"},
        },
    ],
)


def test_a_final_rule_stops_the_later_rules_only_when_it_gives() -> None:
    kiosk = paying(
        "p1", utc(2026, 3, 2), [("stored_value", "30.00")], line("beans", "30.00"), store="airport"
    )
    town = paying(
        "p2", utc(2026, 3, 3), [("stored_value", "30.00")], line("beans", "30.00"), store="town"
    )
    back = refund("r1", utc(2026, 3, 4), "p1")
    for evaluation in both(KIOSK, [kiosk, town, back]):
        # airport: 25 stars and nothing after it; town: the kiosk rule gives nothing, so 2 x 30
        # = 60 stars and the 50 bonus run. Refunding p1 takes back only the 25 it gave.
        assert rows(evaluation.customer("c1").ledger) == [
            ("p1", "airport", "points", 25, None, None),
            ("p2", "card", "points", 60, None, None),
            ("p2", "big", "points", 50, None, None),
            ("r1", "airport", "points", -25, None, None),
        ]
        assert evaluation.customer("c1").points == 110


def test_a_final_price_rule_stops_the_earning_rules() -> None:
    offer = program(
        rules=[
            {"id": "sale", "kind": "order_discount", "percent": 10, "final": True},
            {"id": "pts", "kind": "points_per_spend", "points": 1},
        ]
    )
    for evaluation in both(offer, [purchase("p1", utc(2026, 3, 2), line("a", "50.00"))]):
        # price rules run before earning rules, so the final 10% (5.00 off) stops the points
        assert rows(evaluation.customer("c1").ledger) == [
            ("p1", "sale", "discount", None, D("5.00"), 1)
        ]


@pytest.mark.parametrize(
    ("gift", "expected"),
    [
        (None, [("ref", "referral", None), ("b", "points", 3)]),
        (5, [("ref", "referral", None), ("ref", "points", 5)]),
    ],
)
def test_a_final_referral_stops_only_with_the_friends_own_gift(
    gift: int | None, expected: list[Any]
) -> None:
    referral: dict[str, Any] = {
        "id": "ref",
        "kind": "referral",
        "referrer": {"points": 7},
        "final": True,
    }
    if gift is not None:
        referral["referred"] = {"points": gift}
    offer = program(rules=[referral, {"id": "b", "kind": "bonus_points", "points": 3}])
    bought = purchase("p1", utc(2026, 3, 2), line("a", "5.00"), customer="f")
    for evaluation in both(offer, [bought], [Customer(customer_id="f", referred_by="amy")]):
        # amy gets 7 either way; the note alone gives f's purchase nothing, so the bonus still
        # runs; with the friend's gift of 5 the final referral gave something and stops it
        assert [row[1:4] for row in rows(evaluation.customer("f").ledger)] == expected
        assert [row[1:4] for row in rows(evaluation.customer("amy").ledger)] == [
            ("ref", "points", 7)
        ]


# --- Migration: the docs' own example (lifecycle.md, "Opening balances") ----------------

CLUB = program(
    points={"expire_after": "12 months"},
    tiers={
        "qualify_by": "spend",
        "window": {"days": 365},
        "levels": [{"name": "gold", "at_least": "500.00", "points_multiplier": 2}],
    },
    rules=[{"id": "base", "kind": "points_per_spend", "points": 1, "per": "1.00"}],
)
ANA = Customer(
    customer_id="ana",
    opening_points=(
        OpeningLot(points=80, earned_at=utc(2025, 6, 1, 0), expires_at=utc(2026, 4, 1, 0)),
    ),
    tier="gold",
    tier_until=utc(2026, 6, 1, 0),
)


def test_a_migrated_member_starts_with_lots_and_a_granted_tier() -> None:
    tea = purchase("p1", utc(2026, 3, 2), line("tea", "10.00"), customer="ana")
    for evaluation in both(CLUB, [tea], [ANA], date(2026, 5, 1)):
        result = evaluation.customer("ana")
        # gold granted until 2026-06-01: 10.00 x 1 x 2 = 20; the 80 opening points expire on
        # 2026-04-01, before the report of 2026-05-01; p1's 20 expire 12 months later
        assert rows(result.ledger) == [
            ("opening#1", "customers.opening_points", "opening", 80, None, None),
            ("p1", "base", "points", 20, None, None),
            ("opening#1", "customers.opening_points", "expiry", -80, None, None),
        ]
        assert (result.points, result.tier) == (20, "gold")
        assert [due.to_dict() for due in result.upcoming_expiry] == [
            {"date": "2027-03-02", "points": 20}
        ]
    for evaluation in both(CLUB, [tea], [ANA], date(2026, 6, 1)):
        # the grant holds until 2026-06-01 00:00, not at it; 10.00 of spend is no level
        assert evaluation.customer("ana").tier is None


def test_a_migrated_member_without_events_is_reported_only_with_as_of() -> None:
    for evaluation in both(CLUB, [], [ANA], date(2026, 3, 1)):
        result = evaluation.customer("ana")
        assert (result.points, result.tier) == (80, "gold")
        assert [due.to_dict() for due in result.upcoming_expiry] == [
            {"date": "2026-04-01", "points": 80}
        ]
    for evaluation in both(CLUB, [], [ANA]):
        assert [result.customer_id for result in evaluation.customers] == []


def test_a_refund_never_takes_from_an_expiring_opening_lot_first() -> None:
    # Regression: where the program's points never expire, the history's points are kept in
    # one merged lot; a refund took back from the oldest lot, the expiring opening lot,
    # instead of from that lot, so the opening points never expired (3 instead of 2).
    never = program(rules=[{"id": "base", "kind": "points_per_spend", "points": 1}])
    migrated = Customer(
        customer_id="c1",
        opening_points=(
            OpeningLot(points=1, earned_at=utc(2026, 3, 2, 9), expires_at=utc(2026, 3, 3, 9)),
        ),
    )
    history = [
        purchase("p1", utc(2026, 3, 2, 9), line("a", "2.50")),
        purchase("p2", utc(2026, 3, 2, 10), line("a", "2.50")),
        refund("r1", utc(2026, 3, 2, 11), "p2"),
    ]
    for evaluation in both(never, history, [migrated], date(2026, 3, 4)):
        result = evaluation.customer("c1")
        # opening 1 (expires 03-03 09:00); p1 and p2 earn 2 each (floor of 2.5); r1 takes
        # p2's 2 back from the points the history earned; the opening 1 expires on 03-03:
        # 1 + 2 + 2 - 2 - 1 = 2
        assert rows(result.ledger) == [
            ("opening#1", "customers.opening_points", "opening", 1, None, None),
            ("p1", "base", "points", 2, None, None),
            ("p2", "base", "points", 2, None, None),
            ("r1", "base", "points", -2, None, None),
            ("opening#1", "customers.opening_points", "expiry", -1, None, None),
        ]
        assert result.points == 2


def test_a_granted_tier_opens_rewards_kept_for_that_tier() -> None:
    # Regression: the batch engine asked a redemption of a reward kept for some tiers at
    # the window's level only, so a migrated member granted silver was rejected ("at no
    # tier") where the reference redeemed.
    lounge = program(
        rewards=[
            {"id": "lounge", "name": "Lounge", "cost": 3, "value": "2.00", "tiers": ["silver"]}
        ],
        tiers={
            "qualify_by": "spend",
            "window": "lifetime",
            "levels": [{"name": "silver", "at_least": "5.00"}],
        },
        rules=[{"id": "base", "kind": "points_per_spend", "points": 1}],
    )
    granted = Customer(
        customer_id="c1",
        opening_points=(OpeningLot(points=3, earned_at=utc(2026, 3, 2, 9)),),
        tier="silver",
        tier_until=utc(2026, 3, 2, 10),
    )
    history = [
        purchase("p1", utc(2026, 3, 2, 9), line("a", "1.00")),
        redemption("x1", utc(2026, 3, 2, 9) + timedelta(minutes=30), "lounge"),
        redemption("x2", utc(2026, 3, 2, 10), "lounge"),
    ]
    reference, batch = both(lounge, history, [granted])
    for evaluation in (reference, batch):
        # silver is granted until 10:00: x1 at 9:30 redeems 3 of the 3 + 1 points; x2 at
        # 10:00 is past the grant, and 1.00 of spend reaches no level: rejected
        assert rows(evaluation.customer("c1").ledger) == [
            ("opening#1", "customers.opening_points", "opening", 3, None, None),
            ("p1", "base", "points", 1, None, None),
            ("x1", "lounge", "redemption", -3, D("2.00"), 1),
            ("x2", "lounge", "rejected", None, None, None),
        ]
        assert evaluation.customer("c1").points == 1
    assert (
        batch.customer("c1").state.model_dump_json()
        == reference.customer("c1").state.model_dump_json()
    )


def test_a_migrated_referrer_reached_only_by_a_friend_is_opened_before_the_reward() -> None:
    referral = program(
        points={"expire_after": "365 days"},
        tiers={
            "qualify_by": "spend",
            "window": "lifetime",
            "levels": [{"name": "gold", "at_least": "100.00"}],
        },
        rewards=[
            {"id": "lounge", "name": "Lounge", "cost": 50, "value": "5.00", "tiers": ["gold"]}
        ],
        rules=[
            {"id": "base", "kind": "points_per_spend", "points": 1},
            {
                "id": "refer",
                "kind": "referral",
                "referrer": {"points": 300},
                "referred": {"points": 100},
            },
        ],
    )
    amy = Customer(
        customer_id="amy",
        opening_points=(
            OpeningLot(points=40, earned_at=utc(2026, 1, 5), expires_at=utc(2026, 6, 1, 0)),
        ),
        tier="gold",
        tier_until=utc(2026, 12, 31),
    )
    ben = Customer(customer_id="ben", referred_by="amy")
    history = [
        purchase("b1", utc(2026, 3, 2), line("kit", "30.00"), customer="ben"),
        redemption("x1", utc(2026, 7, 1), "lounge", customer="amy"),
    ]
    for evaluation in both(referral, history, [amy, ben]):
        # amy has no event before ben's b1: she is opened right before its referral fact
        # (40 opening points), rewarded 300 at b1. Her opening lot expires on 2026-06-01
        # (-40); on 07-01 she redeems the gold-only lounge (granted gold until 12-31) for 50
        # of the 300: 40 + 300 - 40 - 50 = 250. Ben, in running (file) order: 30 points, the
        # referral note, the friend's 100.
        assert rows(evaluation.customer("amy").ledger) == [
            ("opening#1", "customers.opening_points", "opening", 40, None, None),
            ("b1", "refer", "points", 300, None, None),
            ("opening#1", "customers.opening_points", "expiry", -40, None, None),
            ("x1", "lounge", "redemption", -50, D("5.00"), 1),
        ]
        assert (evaluation.customer("amy").points, evaluation.customer("amy").tier) == (250, "gold")
        assert [row[1:4] for row in rows(evaluation.customer("ben").ledger)] == [
            ("base", "points", 30),
            ("refer", "referral", None),
            ("refer", "points", 100),
        ]


def test_opening_lots_do_not_start_the_inactivity_deadline() -> None:
    idle = program(
        points={"expire_on_inactivity": "30 days"},
        rewards=[{"id": "perk", "name": "Perk", "cost": 10, "value": "1.00"}],
        rules=[{"id": "base", "kind": "points_per_spend", "points": 1}],
    )
    lot = (OpeningLot(points=80, earned_at=utc(2025, 12, 1), expires_at=utc(2026, 12, 1, 0)),)
    profiles = [
        Customer(customer_id="saver", opening_points=lot),
        Customer(customer_id="buyer", opening_points=lot),
    ]
    history = [
        redemption("x1", utc(2026, 3, 2), "perk", customer="saver"),
        purchase("p1", utc(2026, 3, 2), line("a", "20.00"), customer="buyer"),
    ]
    for evaluation in both(idle, history, profiles, date(2026, 6, 30)):
        # saver never buys: no deadline; 80 - 10 = 70 kept until their own 2026-12-01.
        # buyer: p1 + 30 days = 2026-04-01 expires every lot earned by then: 80 and 20
        saver, buyer = evaluation.customer("saver"), evaluation.customer("buyer")
        assert saver.points == 70
        assert [due.to_dict() for due in saver.upcoming_expiry] == [
            {"date": "2026-12-01", "points": 70}
        ]
        assert [(row[0], row[2], row[3]) for row in rows(buyer.ledger) if row[2] == "expiry"] == [
            ("opening#1", "expiry", -80),
            ("p1", "expiry", -20),
        ]
        assert buyer.points == 0


def test_status_reached_on_new_years_eve_in_new_york_lasts_to_the_local_new_year() -> None:
    york = ZoneInfo("America/New_York")
    club = program(
        timezone="America/New_York",
        tiers={
            "qualify_by": "spend",
            "window": "lifetime",
            "keep_until": "end_of_year",
            "levels": [{"name": "gold", "at_least": "100.00", "points_multiplier": 2}],
        },
        rules=[{"id": "base", "kind": "points_per_spend", "points": 1}],
    )
    history = [
        purchase("p1", datetime(2026, 12, 31, 22, 0, tzinfo=york), line("a", "100.00")),
        purchase("p2", datetime(2026, 12, 31, 23, 30, tzinfo=york), line("a", "10.00")),
        refund("r1", datetime(2026, 12, 31, 23, 40, tzinfo=york), "p1"),
        purchase("p3", datetime(2026, 12, 31, 23, 50, tzinfo=york), line("a", "10.00")),
        purchase("p4", datetime(2027, 1, 1, 0, 0, tzinfo=york), line("a", "10.00")),
    ]
    for evaluation in both(club, history):
        # p1 crosses 100.00; p2 at 23:30 local (04:30 UTC on 1 January) is the first purchase
        # at gold: 20 points, gold kept to the local New Year 2027-01-01 00:00 (not 2028).
        # r1 drops the window to 10.00; p3 at 23:50 is still kept gold: 20; p4 at local
        # midnight is at the window's level (20.00): none, 10 points
        assert [row[0:4] for row in rows(evaluation.customer("c1").ledger)] == [
            ("p1", "base", "points", 100),
            ("p2", "base", "points", 20),
            ("r1", "base", "points", -100),
            ("p3", "base", "points", 20),
            ("p4", "base", "points", 10),
        ]
        assert evaluation.customer("c1").tier is None


def test_a_lot_expires_at_its_own_date_before_an_opening_lot_the_deadline_takes() -> None:
    # Regression: with an opening lot that expires after the inactivity deadline, the
    # younger lots' own expiry was skipped, and they expired at the deadline instead.
    idle = program(
        points={"expire_after": "3 days", "expire_on_inactivity": "5 days"},
        rules=[{"id": "b", "kind": "bonus_points", "points": 3}],
    )
    start = utc(2026, 3, 2, 9)
    migrated = Customer(
        customer_id="c1",
        opening_points=(
            OpeningLot(points=1, earned_at=start, expires_at=start + timedelta(days=5, hours=1)),
        ),
    )
    history = [
        purchase("p1", start, line("a", "1.00")),
        purchase("p2", start + timedelta(days=5, hours=1), line("a", "0.00")),
    ]
    for evaluation in both(idle, history, [migrated]):
        # p1's 3 expire 3 days after they were earned, on 03-05 09:00; the deadline, p1 + 5
        # days = 03-07 09:00, comes before the opening lot's own 10:00 and takes its 1
        assert [row[:4] for row in rows(evaluation.customer("c1").ledger)] == [
            ("opening#1", "customers.opening_points", "opening", 1),
            ("p1", "b", "points", 3),
            ("p1", "points.expire_after", "expiry", -3),
            ("opening#1", "points.expire_on_inactivity", "expiry", -1),
        ]


def test_a_last_refund_in_full_that_brings_back_a_passed_deadline_expires_the_points() -> None:
    # Regression: when that refund was the customer's last event (and no as_of), nothing
    # brought the points up to it: 7 points stayed, "expiring" on a date already past.
    idle = program(
        points={"expire_on_inactivity": "40 days"},
        rules=[{"id": "b", "kind": "points_per_spend", "points": 1}],
    )
    start = utc(2026, 3, 2, 9)
    history = [
        purchase("p1", start, line("a", "7.00")),
        purchase("p3", start + timedelta(days=30), line("a", "1.00")),
        refund("r3", start + timedelta(days=40, hours=1), "p3"),
    ]
    for evaluation in both(idle, history):
        result = evaluation.customer("c1")
        # p3 returned whole: the deadline is p1 + 40 days = 04-11 09:00, an hour before the
        # refund: p1's 7 expire at it, right after the refund's -1
        assert [row[:4] for row in rows(result.ledger)] == [
            ("p1", "b", "points", 7),
            ("p3", "b", "points", 1),
            ("r3", "b", "points", -1),
            ("p1", "points.expire_on_inactivity", "expiry", -7),
        ]
        assert (result.points, result.upcoming_expiry) == (0, ())


def test_meal_kit_referral_held_through_the_return_window_and_reversed_by_a_refund() -> None:
    meal_kit = program(
        rules=[
            {
                "id": "bring",
                "kind": "referral",
                "referrer": {"points": 500},
                "referred": {"points": 250},
                "min_paid": "40.00",
                "hold_for": "30 days",
            },
        ],
    )
    profiles = [
        Customer(customer_id="bob", referred_by="ann"),
        Customer(customer_id="cy", referred_by="ann"),
    ]
    box = line("box", "50.00")
    history = [
        purchase("b1", utc(2026, 5, 2, 18), box, customer="bob"),
        purchase("c1", utc(2026, 5, 5), box, customer="cy"),
        refund("rc1", utc(2026, 5, 12), "c1", customer="cy"),
        purchase("c2", utc(2026, 5, 20), box, customer="cy"),
    ]
    for evaluation in both(meal_kit, history, profiles, date(2026, 6, 10)):
        # bob's b1 (50.00 >= 40.00) qualifies on 05-02 18:00: held 30 days, ann gets 500 on
        # 06-01 18:00. cy's c1 qualifies on 05-05 but is returned whole on 05-12, inside its
        # hold: reversed (units -1), and cy's 250 taken back; c2 on 05-20 qualifies again,
        # gift again (none kept), held until 06-19, after the report: ann has 500
        ann = evaluation.customer("ann")
        assert [row[:4] for row in rows(ann.ledger)] == [("b1", "bring", "points", 500)]
        assert ann.points == 500
        assert [
            (row[0], row[2], row[3], row[5]) for row in rows(evaluation.customer("cy").ledger)
        ] == [
            ("c1", "referral", None, None),
            ("c1", "points", 250, None),
            ("rc1", "points", -250, None),
            ("rc1", "referral", None, -1),
            ("c2", "referral", None, None),
            ("c2", "points", 250, None),
        ]
    for evaluation in both(meal_kit, history, profiles, date(2026, 6, 19)):
        # by the end of 06-19 cy's second hold (c2 + 30 days = 06-19 00:00) is over too
        assert evaluation.customer("ann").points == 1000


def test_a_gift_at_joining_before_the_opening_lots_expires_at_its_own_date() -> None:
    # Regression: the opening lots are kept first; a sign-up gift at joining, earned before
    # them, expires first, and the walk that stopped at the first lot not yet due missed it
    welcome = program(
        points={"expire_after": "3 days"},
        rules=[{"id": "welcome", "kind": "signup_bonus", "points": 4}],
    )
    joined = utc(2026, 3, 2, 8)
    migrated = Customer(
        customer_id="c1",
        joined_at=joined,
        opening_points=(OpeningLot(points=1, earned_at=utc(2026, 3, 2, 9)),),
    )
    history = [
        purchase("p1", utc(2026, 3, 2, 9), line("a", "0.00")),
        purchase("p2", joined + timedelta(days=3), line("a", "0.00")),
    ]
    for evaluation in both(welcome, history, [migrated]):
        result = evaluation.customer("c1")
        # the gift at joining (03-02 08:00) expires 3 days later, at p2's instant; the
        # opening 1 point, earned at 09:00, expires an hour after p2
        assert [row[:4] for row in rows(result.ledger)] == [
            ("opening#1", "customers.opening_points", "opening", 1),
            ("welcome@2026-03-02", "welcome", "points", 4),
            ("welcome@2026-03-02", "points.expire_after", "expiry", -4),
        ]
        assert result.points == 1
        assert [due.to_dict() for due in result.upcoming_expiry] == [
            {"date": "2026-03-05", "points": 1}
        ]


# --- An airline: status points, status through the end of next year, miles that never expire


AIRLINE = program(
    points={"name": "miles", "expire_after": "24 months"},
    tiers={
        "qualify_by": "points",
        "window": "calendar_year",
        "keep_until": "end_of_next_year",
        "levels": [
            {"name": "silver", "at_least": 100, "points_multiplier": "1.5"},
            {"name": "gold", "at_least": 300, "points_multiplier": 2, "points_never_expire": True},
        ],
    },
    rules=[{"id": "fly", "kind": "points_per_spend", "points": 1}],
)


def test_airline_status_points_keep_until_and_miles_that_never_expire() -> None:
    flights = [
        purchase("p1", utc(2026, 3, 2), line("fare", "150.00")),
        purchase("p2", utc(2026, 4, 1), line("fare", "100.00")),
        purchase("p3", utc(2026, 5, 1), line("fare", "10.00")),
        purchase("p4", utc(2027, 2, 1), line("fare", "10.00")),
        purchase("p5", datetime(2028, 1, 1, tzinfo=UTC), line("fare", "10.00")),
    ]
    for evaluation in both(AIRLINE, flights, as_of=date(2028, 1, 2)):
        result = evaluation.customer("c1")
        # p1: no tier, 150. p2: 150 status points in 2026 -> silver: 100 x 1.5 = 150 (2026: 300).
        # p3: gold: 10 x 2 = 20, never expire. p4: 2027 has no points yet, but gold reached on
        # 2026-05-01 holds until 2028-01-01: 20, never expire. p5 at 2028-01-01 00:00: the
        # hold is over and 2028 is empty: 10.
        assert rows(result.ledger) == [
            ("p1", "fly", "points", 150, None, None),
            ("p2", "fly", "points", 150, None, None),
            ("p3", "fly", "points", 20, None, None),
            ("p4", "fly", "points", 20, None, None),
            ("p5", "fly", "points", 10, None, None),
        ]
        assert (result.points, result.tier) == (350, None)
        # p1 and p2 expire 24 months after they were earned, p5 in 2030; p3 and p4 never
        assert [due.to_dict() for due in result.upcoming_expiry] == [
            {"date": "2028-03-02", "points": 150},
            {"date": "2028-04-01", "points": 150},
            {"date": "2030-01-01", "points": 10},
        ]


# --- Sephora: VIB through the end of next year, points kept alive by a redemption ----------


def sephora(activity: list[str]) -> Program:
    return program(
        points={"expire_on_inactivity": {"after": "18 months", "activity": activity}},
        tiers={
            "qualify_by": "spend",
            "window": "calendar_year",
            "keep_until": "end_of_next_year",
            "levels": [
                {"name": "vib", "at_least": "350.00", "points_multiplier": "1.25"},
                {"name": "rouge", "at_least": "1000.00", "points_multiplier": "1.5"},
            ],
        },
        rewards=[{"id": "perk", "name": "Perk", "cost": 100, "value": "5.00"}],
        rules=[{"id": "pts", "kind": "points_per_spend", "points": 1}],
    )


SEPHORA_HISTORY: list[Any] = [
    purchase("p1", utc(2026, 2, 1), line("serum", "400.00")),
    purchase("p2", utc(2026, 3, 1), line("mask", "100.00")),
    purchase("p3", utc(2026, 12, 31), line("balm", "20.00")),
    redemption("x1", utc(2027, 6, 1), "perk"),
]


def test_sephora_vib_and_a_redemption_that_keeps_points_alive() -> None:
    kept = sephora(["purchase", "redemption"])
    for evaluation in both(kept, SEPHORA_HISTORY, as_of=date(2028, 11, 30)):
        result = evaluation.customer("c1")
        # p1 400 (no tier yet); p2 at vib (400.00 in 2026): 100 x 1.25 = 125; p3 vib: 25;
        # x1 spends 100 of p1's lot. Last activity x1 2027-06-01 + 18 months = 2028-12-01,
        # after the report. vib was reached on 2026-03-01 and held until 2028-01-01: no tier.
        assert [row[1:4] for row in rows(result.ledger)] == [
            ("pts", "points", 400),
            ("pts", "points", 125),
            ("pts", "points", 25),
            ("perk", "redemption", -100),
        ]
        assert (result.points, result.tier) == (450, None)
    for evaluation in both(kept, SEPHORA_HISTORY, as_of=date(2028, 12, 1)):
        # at the deadline, what is left expires lot by lot: p1 300, p2 125, p3 25
        expired = [
            (row[0], row[2], row[3])
            for row in rows(evaluation.customer("c1").ledger)
            if row[2] == "expiry"
        ]
        assert expired == [("p1", "expiry", -300), ("p2", "expiry", -125), ("p3", "expiry", -25)]
        assert evaluation.customer("c1").points == 0
    only_purchases = sephora(["purchase"])
    for evaluation in both(only_purchases, SEPHORA_HISTORY, as_of=date(2028, 11, 30)):
        # the redemption is not activity: p3 2026-12-31 12:00 + 18 months = 2028-06-30 12:00
        assert evaluation.customer("c1").points == 0


# --- Starbucks: the birthday reward for members of 30 days who bought in the last year -----


def test_starbucks_birthday_eligibility() -> None:
    club = program(
        points={"name": "stars"},
        rules=[
            {
                "id": "bday",
                "kind": "birthday",
                "points": 150,
                "member_for": "30 days",
                "purchase_within": "365 days",
            }
        ],
    )
    june2 = {"month": 6, "day": 2}
    profiles = [
        Customer(customer_id="new", joined_at=utc(2026, 5, 20, 0), birthday=june2),
        Customer(customer_id="lapsed", joined_at=utc(2025, 1, 1, 0), birthday=june2),
        Customer(customer_id="active", joined_at=utc(2025, 1, 1, 0), birthday=june2),
        Customer(customer_id="returned", joined_at=utc(2025, 1, 1, 0), birthday=june2),
    ]
    events = [
        purchase("n1", utc(2026, 5, 25), line("latte", "5.00"), customer="new"),
        purchase("l1", utc(2025, 5, 20), line("latte", "5.00"), customer="lapsed"),
        purchase("a1", utc(2026, 3, 1), line("latte", "5.00"), customer="active"),
        purchase("t1", utc(2026, 3, 1), line("latte", "5.00"), customer="returned"),
        refund("t2", utc(2026, 3, 5), "t1", customer="returned"),
    ]
    for evaluation in both(club, events, profiles, date(2026, 6, 30)):
        gifts = {
            result.customer_id: [row for row in rows(result.ledger) if row[1] == "bday"]
            for result in evaluation.customers
        }
        # new: joined 05-20, a member for 30 days only on 06-19, after the 06-02 gift moment;
        # lapsed: got 2025's (bought 2025-05-20, 13 days before 2025-06-02) but not 2026's:
        # 2025-05-20 + 365 days = 2026-05-20, before 06-02; returned: its only purchase was
        # refunded in full; active: bought on 2026-03-01, a member since 2025
        assert gifts == {
            "new": [],
            "lapsed": [("bday@2025-06-02", "bday", "points", 150, None, None)],
            "active": [("bday@2026-06-02", "bday", "points", 150, None, None)],
            "returned": [],
        }


# --- The differential: drawn programs and histories within the family ---------------------

CATEGORIES = (None, "food", "drink", "delivery")
METHODS = ("card", "cash", "stored_value")
START = datetime(2026, 3, 2, 9, tzinfo=UTC)


@st.composite
def _when(draw: st.DrawFn, tier_names: Sequence[str], methods: bool) -> dict[str, Any]:
    when: dict[str, Any] = {}
    if draw(st.booleans()):
        when["categories"] = draw(
            st.lists(st.sampled_from(CATEGORIES[1:]), min_size=1, max_size=2, unique=True)
        )
    if draw(st.booleans()):
        when["exclude_categories"] = [draw(st.sampled_from(CATEGORIES[1:]))]
    if draw(st.booleans()):
        when["min_total"] = draw(st.sampled_from(["5.00", "20.00", "45.00"]))
        if "categories" in when or "exclude_categories" in when:
            when["min_total_of"] = draw(st.sampled_from(["all", "eligible"]))
    if tier_names and draw(st.integers(0, 4)) == 0:
        when["tiers"] = draw(
            st.lists(st.sampled_from(tier_names), min_size=1, max_size=2, unique=True)
        )
    if methods and draw(st.booleans()):
        when["payment_methods"] = draw(
            st.lists(st.sampled_from(METHODS), min_size=1, max_size=2, unique=True)
        )
    return when


@st.composite
def _rule(draw: st.DrawFn, index: int, tier_names: Sequence[str]) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            ["percent", "amount", "gift", "spend", "spend", "bonus", "refer", "birthday", "signup"]
        )
    )
    rule: dict[str, Any] = {"id": f"r{index}"}
    if kind == "signup":
        rule |= {"kind": "signup_bonus", "points": draw(st.sampled_from([4, 50]))}
        if draw(st.booleans()):
            rule["exclusive_group"] = "dated"
        return rule
    if kind == "birthday":
        rule |= {"kind": "birthday", "points": draw(st.sampled_from([4, 50]))}
        if draw(st.booleans()):
            rule["exclusive_group"] = "dated"
        if draw(st.booleans()):
            rule["window"] = "month"
        elif draw(st.booleans()):
            rule["days_around"] = draw(st.integers(1, 3))
        if draw(st.booleans()):
            rule["member_for"] = draw(st.sampled_from(["1 days", "30 days"]))
        if draw(st.booleans()):
            rule["purchase_within"] = draw(st.sampled_from(["10 days", "365 days"]))
        return rule
    if kind == "refer":
        rule |= {"kind": "referral", "referrer": {"points": draw(st.sampled_from([7, 30]))}}
        if draw(st.booleans()):
            rule["referred"] = {"points": draw(st.sampled_from([3, 10]))}
        if draw(st.booleans()):
            rule["min_paid"] = draw(st.sampled_from(["1.00", "20.00"]))
        if draw(st.booleans()):
            rule["hold_for"] = draw(st.sampled_from(["2 days", "30 days"]))
        when = draw(_when(tier_names, methods=False))
        if when:
            rule["when"] = when
        if draw(st.integers(0, 2)) == 0:
            rule["final"] = True
        return rule
    if kind == "percent":
        rule |= {"kind": "order_discount", "percent": draw(st.sampled_from([5, 10, 25, 100]))}
    elif kind == "amount":
        rule |= {
            "kind": "order_discount",
            "amount": draw(st.sampled_from(["0.01", "1.00", "5.00", "12.34"])),
        }
    elif kind == "gift":
        rule |= {"kind": "order_discount", "gift_item": {"sku": "tote", "value": "3.00"}}
    elif kind == "spend":
        rule |= {
            "kind": "points_per_spend",
            "points": draw(st.sampled_from([1, 2, 3])),
            "per": draw(st.sampled_from(["1.00", "0.50", "5.00"])),
        }
        if draw(st.booleans()):
            rule["rounding"] = draw(st.sampled_from(["floor", "half_up", "ceil"]))
        if draw(st.integers(0, 3)) == 0:
            rule["max_per_purchase"] = draw(st.sampled_from([1, 7, 40]))
        if draw(st.booleans()):
            rule["multipliers"] = [
                {
                    "factor": draw(st.sampled_from(["0", "0.5", "2"])),
                    "when": {"categories": [category]},
                }
                for category in draw(
                    st.lists(st.sampled_from(CATEGORIES[1:]), min_size=1, max_size=2, unique=True)
                )
            ]
    else:
        rule |= {"kind": "bonus_points", "points": draw(st.sampled_from([5, 10]))}
    when = draw(_when(tier_names, methods=kind == "spend"))
    if when:
        rule["when"] = when
    if draw(st.booleans()):
        rule["priority"] = draw(st.integers(0, 2))
    if draw(st.integers(0, 2)) == 0:
        rule["exclusive_group"] = draw(st.sampled_from(["g1", "g2"]))
    if draw(st.integers(0, 2)) == 0:
        rule["final"] = True
    return rule


@st.composite
def family_programs(draw: st.DrawFn) -> dict[str, Any]:
    """A program document within the oracle's family."""
    document: dict[str, Any] = {
        "program": "drawn",
        "name": "Drawn",
        "currency": "USD",
        "timezone": draw(st.sampled_from(["UTC", "America/New_York", "Pacific/Kiritimati"])),
        "points": {"value": "0.01"},
        "rewards": [
            {"id": "perk", "name": "Perk", "cost": 5, "value": "1.00"},
            {"id": "mug", "name": "Mug", "cost": 8, "value": "3.00", "per_customer": 2},
        ],
    }
    if draw(st.booleans()):
        document["rewards"][1]["cash"] = draw(st.sampled_from(["1.00", "4.00"]))
    if draw(st.integers(0, 3)) == 0:
        document["points"]["earn_on"] = "gross"
    if draw(st.integers(0, 3)) == 0:
        document["points"]["pending_for"] = draw(st.sampled_from(["1 days", "14 days"]))
    idle = draw(st.sampled_from([None, None, "5 days", "40 days"]))
    if idle is not None:
        activity = draw(
            st.none()
            | st.lists(
                st.sampled_from(["purchase", "redemption", "referral"]), min_size=1, unique=True
            )
        )
        document["points"]["expire_on_inactivity"] = (
            idle if activity is None else {"after": idle, "activity": activity}
        )
    expiry = draw(st.sampled_from([None, "3 days", "30 days", "400 days"]))
    if expiry is not None:
        document["points"]["expire_after"] = expiry
    tier_names: list[str] = []
    if draw(st.booleans()):
        by_points = draw(st.booleans())
        bounds = ([5, 30] if by_points else ["5.00", "30.00"])[: draw(st.integers(1, 2))]
        tier_names = ["silver", "gold"][: len(bounds)]
        document["tiers"] = {
            "qualify_by": "points" if by_points else "spend",
            "window": draw(st.sampled_from(["lifetime", "calendar_year", "30 days"])),
            "levels": [
                {
                    "name": name,
                    "at_least": bound,
                    "points_multiplier": draw(st.sampled_from(["1", "1.5", "2", "0", "0.5"])),
                    "points_never_expire": draw(st.booleans()),
                }
                for name, bound in zip(tier_names, bounds, strict=True)
            ],
        }
        document["rewards"].append(
            {"id": "lounge", "name": "Lounge", "cost": 3, "value": "2.00", "tiers": tier_names[-1:]}
        )
        keep = draw(st.sampled_from([None, "end_of_year", "end_of_next_year"]))
        if keep is not None:
            document["tiers"]["keep_until"] = keep
    document["rules"] = [draw(_rule(index, tier_names)) for index in range(draw(st.integers(1, 4)))]
    return document


@st.composite
def _payments(draw: st.DrawFn, lines: Sequence[Line]) -> tuple[Payment, ...] | None:
    if draw(st.integers(0, 3)) == 0:
        return None
    gross = sum((item.unit_price * item.quantity for item in lines), Decimal(0))
    cents = int(gross * 100)
    methods = draw(st.lists(st.sampled_from(METHODS), min_size=1, max_size=3))
    cuts = sorted(
        draw(st.lists(st.integers(0, cents), min_size=len(methods) - 1, max_size=len(methods) - 1))
    )
    edges = [0, *cuts, cents]
    return tuple(
        Payment(method=method, amount=Decimal(edges[i + 1] - edges[i]) / 100)
        for i, method in enumerate(methods)
    )


@st.composite
def family_histories(
    draw: st.DrawFn, tier_names: Sequence[str]
) -> tuple[list[Any], list[Customer], date | datetime | None]:
    """Purchases (with payments) and whole-line refunds of one or two customers, their
    migrated profiles, and an optional ``as_of`` instant."""
    events: list[Any] = []
    profiles: list[Customer] = []
    span = draw(st.sampled_from([24 * 60, 24 * 800]))
    for customer in draw(st.sampled_from([["c1"], ["c1", "c2"]])):
        hours = sorted(draw(st.lists(st.integers(0, span), min_size=0, max_size=5, unique=True)))
        for number, hour in enumerate(hours, start=1):
            count = draw(st.integers(1, 3))
            lines = tuple(
                Line(
                    sku=f"s{index}",
                    category=draw(st.sampled_from(CATEGORIES)),
                    quantity=draw(st.integers(1, 3)),
                    unit_price=Decimal(draw(st.sampled_from([0, 1, 5, 99, 250, 1000, 1999, 4500])))
                    / 100,
                )
                for index in range(count)
            )
            bought = Purchase(
                id=f"{customer}-p{number}",
                customer_id=customer,
                at=START + timedelta(hours=hour),
                lines=lines,
                payments=draw(_payments(lines)),
            )
            events.append(bought)
            left = {item.sku: item.quantity for item in lines}
            later = bought.at
            for back in range(draw(st.integers(0, 2))):
                if not any(left.values()):
                    break
                later += timedelta(hours=draw(st.integers(1, 24 * 30)))
                whole = draw(st.booleans())
                returned: tuple[RefundLine, ...] = ()
                if not whole:
                    sku = draw(st.sampled_from(sorted(sku for sku, units in left.items() if units)))
                    returned = (RefundLine(sku=sku, quantity=draw(st.integers(1, left[sku]))),)
                events.append(
                    Refund(
                        id=f"{customer}-r{number}-{back}",
                        customer_id=customer,
                        at=later,
                        purchase_id=bought.id,
                        lines=returned or None,
                    )
                )
                if whole:
                    left = dict.fromkeys(left, 0)
                else:
                    left[returned[0].sku] -= returned[0].quantity
        for number in range(draw(st.integers(0, 3))):
            spend = Redemption(
                id=f"{customer}-x{number}",
                customer_id=customer,
                at=START + timedelta(hours=draw(st.integers(0, span))),
                reward=draw(
                    st.sampled_from(["perk", "mug", "lounge"] if tier_names else ["perk", "mug"])
                ),
                quantity=draw(st.integers(1, 2)),
            )
            events.append(spend)
            if draw(st.integers(0, 2)) == 0:
                events.append(
                    CancelRedemption(
                        id=f"{customer}-u{number}",
                        customer_id=customer,
                        at=spend.at + timedelta(hours=draw(st.integers(1, 24 * 20))),
                        redemption_id=spend.id,
                    )
                )
    others = ["c1", "c2", "r0"]
    for customer in sorted({event.customer_id for event in events} | {"r0"}):
        first = min((event.at for event in events if event.customer_id == customer), default=START)
        first = min(first, START)  # a referrer is reached at a friend's purchase, after START
        migrated = draw(st.booleans())
        referred_by = draw(st.sampled_from([None, *(name for name in others if name != customer)]))
        born = draw(st.none() | st.tuples(st.integers(1, 12), st.integers(1, 28)))
        joined = draw(st.none() | st.integers(-24 * 400, 24 * 60))
        if not migrated and referred_by is None and born is None:
            continue
        lots = []
        for _ in range(draw(st.integers(0, 2)) if migrated else 0):
            earned = first - timedelta(days=draw(st.integers(0, 400)))
            offset = draw(st.none() | st.integers(-24 * 10, 24 * 80))
            ends = None if offset is None else first + timedelta(hours=offset)
            if ends is not None and ends <= earned:
                ends = earned + timedelta(days=1)
            lots.append(
                OpeningLot(points=draw(st.integers(1, 500)), earned_at=earned, expires_at=ends)
            )
        grant = migrated and tier_names and draw(st.booleans())
        profiles.append(
            Customer(
                customer_id=customer,
                referred_by=referred_by,
                birthday=None if born is None else {"month": born[0], "day": born[1]},
                joined_at=None if joined is None else START + timedelta(hours=joined),
                opening_points=tuple(lots),
                tier=draw(st.sampled_from(tier_names)) if grant else None,
                tier_until=START + timedelta(hours=draw(st.integers(-24, 24 * 60)))
                if grant
                else None,
            )
        )
    as_of: date | datetime | None = draw(
        st.none() | st.integers(0, span + 24 * 40).map(lambda h: START + timedelta(hours=h))
    )
    if as_of is not None and draw(st.booleans()):
        as_of = as_of.date()
    return events, profiles, as_of


def _outcome(evaluation: Evaluation) -> dict[str, real.Outcome]:
    return {
        result.customer_id: real.Outcome(
            ledger=rows(result.ledger),
            points=result.points,
            available_points=result.available_points,
            tier=result.tier,
            upcoming_expiry=[(due.on.isoformat(), due.points) for due in result.upcoming_expiry],
        )
        for result in evaluation.customers
    }


@settings(max_examples=300)
@given(data=st.data())
def test_both_engines_agree_with_the_oracle(data: st.DataObject) -> None:
    document = data.draw(family_programs(), label="program")
    tier_names = [level["name"] for level in document.get("tiers", {}).get("levels", [])]
    events, profiles, as_of = data.draw(family_histories(tier_names), label="history")
    expected = real.evaluate(document, events, profiles, as_of)
    drawn = Program.model_validate(document)
    for engine in ENGINES:
        got = _outcome(evaluate(drawn, events, profiles, as_of, engine=engine))
        assert got == expected, engine
    # and beyond what the oracle computes: reasons, totals, tier changes, saved states, the
    # batch engine on a history table
    assert same_results(drawn, events, profiles, as_of)
