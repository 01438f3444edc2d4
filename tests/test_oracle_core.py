"""The core rule semantics (issue 2) against an independent oracle, on both engines.

``tests/oracle/core.py`` was written from the issue texts and docs/semantics.md, not from
the engine. Each hand-worked case below states the expected ledger with its arithmetic;
the oracle, ``evaluate(engine="reference")`` and ``evaluate(engine="batch")`` must all give
it. Then hypothesis draws programs and histories within the family and asserts that the
three agree entry for entry, on balances, tiers and stamps.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings

from helpers import line, program, purchase, refund
from oracle.core import Oracle, in_scope
from oracle.core_strategies import cases
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import Purchase, Refund
from rewardrules.histories.read import read_history
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program

Row = tuple[str, str, str, int | None, Decimal | None, int | None]
Outcome = tuple[list[Row], int, str | None, dict[str, int]]


def _rows(entries: Any) -> list[Row]:
    return [(e.event_id, e.rule, e.kind, e.points, e.value, e.units) for e in entries]


def outcomes(
    rules: Program, events: list[Purchase | Refund], as_of: date | datetime | None = None
) -> dict[str, dict[str, Outcome]]:
    """Per source (oracle, reference, batch): per customer, (ledger, points, tier, stamps)."""
    assert in_scope(rules)
    oracle = Oracle(rules)
    found: dict[str, dict[str, Outcome]] = {
        "oracle": {
            customer: (_rows(result.ledger), result.points, result.tier, result.stamps)
            for customer, result in oracle.run(events, as_of).items()
        }
    }
    for engine in ("reference", "batch"):
        evaluation = evaluate(rules, events, as_of=as_of, engine=engine)  # type: ignore[arg-type]
        found[engine] = {
            c.customer_id: (_rows(c.ledger), c.points, c.tier, dict(c.stamps))
            for c in evaluation.customers
        }
        totals = evaluation.totals.to_dict()
        assert {key: totals[key] for key in oracle.totals} == oracle.totals, engine
    return found


def agree(
    rules: Program, events: list[Purchase | Refund], as_of: date | datetime | None = None
) -> dict[str, Outcome]:
    """The three sources agree; their common outcome."""
    found = outcomes(rules, events, as_of)
    assert found["reference"] == found["oracle"]
    assert found["batch"] == found["oracle"]
    return found["oracle"]


def check(
    rules: Program,
    events: list[Purchase | Refund],
    customer: str,
    ledger: list[Row],
    points: int,
    tier: str | None = None,
    stamps: dict[str, int] | None = None,
) -> None:
    outcome = agree(rules, events)[customer]
    assert outcome[0] == ledger
    assert outcome[1] == points
    assert outcome[2] == tier
    assert outcome[3] == (stamps or {})


def utc(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


D = Decimal
COFFEE_CLUB = {
    "currency": "USD",
    "timezone": "America/New_York",
    "points": {"name": "stars", "value": "0.01"},
    "tiers": {
        "qualify_by": "spend",
        "window": "365 days",
        "levels": [
            {"name": "silver", "at_least": "100.00"},
            {"name": "gold", "at_least": "500.00", "points_multiplier": "1.5"},
        ],
    },
    "rules": [
        {
            "id": "member-discount",
            "kind": "tiered_discount",
            "discounts": {"silver": 5, "gold": 10},
            "when": {"exclude_categories": ["merch"]},
        },
        {
            "id": "stars",
            "kind": "points_per_spend",
            "points": "2",
            "per": "1.00",
            "multipliers": [
                {"factor": "2", "when": {"categories": ["coffee"]}},
                {"factor": "3", "when": {"dates": ["2026-03-14"]}},
            ],
        },
    ],
}


# --- a café's coffee club (issue 2, section 6) --------------------------------------------


def test_coffee_club_stars_multipliers_tiers_and_a_refund() -> None:
    rules = program(**COFFEE_CLUB)
    events: list[Purchase | Refund] = [
        # 2 lattes 9.00 (coffee, x2) + bagel 3.25: (9.00 x 2 + 3.25) x 2 stars = 42.5 -> 42
        purchase(
            "p1",
            utc(2026, 3, 2),
            line("latte", "4.50", 2, "coffee"),
            line("bagel", "3.25", 1, "food"),
        ),
        # Appreciation Day (local date 14 March, 11:00 in New York): triple beats double,
        # never 6x: (4.50 x 3 + 12.00 x 3) x 2 = 99
        purchase(
            "p2",
            utc(2026, 3, 14, 15),
            line("latte", "4.50", 1, "coffee"),
            line("mug", "12.00", 1, "merch"),
        ),
        # No tier yet (28.75 before): 95.00 beans x 2 x 2 = 380; spend now 123.75
        purchase("p3", utc(2026, 3, 20), line("beans", "95.00", 1, "coffee")),
        # Silver: 5% off the lattes (9.00 -> 0.45 off, 2 units), the mug is never
        # discounted; stars (8.55 x 2 + 12.00) x 2 = 58.2 -> 58
        purchase(
            "p4",
            utc(2026, 3, 21),
            line("latte", "4.50", 2, "coffee"),
            line("mug", "12.00", 1, "merch"),
        ),
        # The beans come back: 380 stars taken back, spend 123.75 + 20.55 - 95.00 = 49.30
        refund("r1", utc(2026, 3, 22), "p3"),
    ]
    check(
        rules,
        events,
        "c1",
        [
            ("p1", "stars", "points", 42, None, None),
            ("p2", "stars", "points", 99, None, None),
            ("p3", "stars", "points", 380, None, None),
            ("p4", "member-discount", "discount", None, D("0.45"), 2),
            ("p4", "stars", "points", 58, None, None),
            ("r1", "stars", "points", -380, None, None),
        ],
        points=42 + 99 + 380 + 58 - 380,
        tier=None,
    )


def test_coffee_club_gold_and_the_rolling_window_edge() -> None:
    rules = program(**COFFEE_CLUB)
    t = utc(2026, 1, 5, 17)
    events: list[Purchase | Refund] = [
        # 500.00 of beans: 500 x 2 x 2 = 2000 stars; the purchase that crosses is not gold
        purchase("p1", t, line("beans", "100.00", 5, "coffee")),
        # Gold: 10% off 4.50 = 0.45, pays 4.05; 4.05 x 2 x 2 x 1.5 = 24.3 -> 24
        purchase("p2", t + timedelta(days=1), line("latte", "4.50", 1, "coffee")),
        # Exactly 365 x 24 h after p1: its start is included, p1 still counts: gold again
        purchase("p3", t + timedelta(days=365), line("latte", "4.50", 1, "coffee")),
        # An hour later p1 has left the window: 4.05 + 4.05 -> no tier, 4.50 x 4 = 18
        purchase("p4", t + timedelta(days=365, hours=1), line("latte", "4.50", 1, "coffee")),
    ]
    check(
        rules,
        events,
        "c1",
        [
            ("p1", "stars", "points", 2000, None, None),
            ("p2", "member-discount", "discount", None, D("0.45"), 1),
            ("p2", "stars", "points", 24, None, None),
            ("p3", "member-discount", "discount", None, D("0.45"), 1),
            ("p3", "stars", "points", 24, None, None),
            ("p4", "stars", "points", 18, None, None),
        ],
        points=2000 + 24 + 24 + 18,
        # just after p4: 4.05 (p2, within 365 days of p4) + 4.05 + 4.50 = 12.60
        tier=None,
    )


# --- punch cards --------------------------------------------------------------------------


ICE_CREAM = {
    "rules": [
        {
            "id": "tenth-free",
            "kind": "every_nth_free",
            "every": 10,
            "counts": "items",
            "reward": "free",
            "when": {"categories": ["ice-cream"]},
        }
    ]
}


def test_ice_cream_every_tenth_free_cheapest_several_cycles_and_refunds() -> None:
    rules = program(**ICE_CREAM)
    t = utc(2026, 3, 2)
    events: list[Purchase | Refund] = [
        # 9 cones and a free sample (unit price 0 never counts): count 9
        purchase(
            "p1", t, line("cone", "4.50", 9, "ice-cream"), line("sample", "0.00", 1, "ice-cream")
        ),
        # 9 -> 11: one card, the cheapest unit (the cone, 4.50, not the sundae) is free
        purchase(
            "p2",
            t + timedelta(days=1),
            line("sundae", "6.00", 1, "ice-cream"),
            line("cone", "4.50", 1, "ice-cream"),
        ),
        # 11 -> 31: two cards (k = 3 - 1), two 3.00 cones free; coffee does not count
        purchase(
            "p3",
            t + timedelta(days=2),
            line("cone-kids", "3.00", 20, "ice-cream"),
            line("latte", "1.00", 1, "coffee"),
        ),
        # 10 of p3's units back: 31 - 10 = 21, but never below the last card: 30
        refund("r1", t + timedelta(days=3), "p3", ("cone-kids", 10)),
        # 30 -> 32
        purchase("p4", t + timedelta(days=4), line("cone", "4.50", 2, "ice-cream")),
    ]
    check(
        rules,
        events,
        "c1",
        [
            ("p2", "tenth-free", "free", None, D("4.50"), 1),
            ("p3", "tenth-free", "free", None, D("6.00"), 2),
        ],
        points=0,
        stamps={"tenth-free": 2},
    )


def test_exactly_every_units_make_the_last_one_free() -> None:
    rules = program(**ICE_CREAM)
    # 10 units in one basket: the 10th is free (the last of the card, not the 1st of the next)
    events: list[Purchase | Refund] = [
        purchase("p1", utc(2026, 3, 2), line("cone", "4.50", 10, "ice-cream"))
    ]
    check(
        rules,
        events,
        "c1",
        [("p1", "tenth-free", "free", None, D("4.50"), 1)],
        points=0,
        stamps={"tenth-free": 0},
    )


def test_car_wash_voucher_after_every_sixth_paid_visit() -> None:
    rules = program(
        rules=[
            {
                "id": "sixth-wash",
                "kind": "every_nth_free",
                "every": 6,
                "counts": "visits",
                "reward": {"voucher": {"sku": "wash-basic", "value": "8.00"}},
                "when": {"categories": ["wash"]},
            }
        ]
    )
    t = utc(2026, 3, 2)
    events: list[Purchase | Refund] = [
        # a visit with two washes is one visit
        purchase("p1", t, line("wash-deluxe", "15.00", 2, "wash")),
        # a wash paid with a voucher (price 0) is no visit; the air freshener is no wash
        purchase(
            "p2", t + timedelta(days=1), line("wash-basic", "0.00", 1, "wash"), line("air", "2.00")
        ),
        *[
            purchase(f"p{n}", t + timedelta(days=n), line("wash-basic", "8.00", 1, "wash"))
            for n in range(3, 8)
        ],
        # p3..p7 are visits 2..6: the voucher at p7; p8 is the 7th visit
        purchase("p8", t + timedelta(days=8), line("wash-basic", "8.00", 1, "wash")),
        # p8 refunded whole: its visit leaves the count (7 -> 6, the last completed card)
        refund("r8", t + timedelta(days=9), "p8"),
    ]
    check(
        rules,
        events,
        "c1",
        [("p7", "sixth-wash", "voucher", None, D("8.00"), 1)],
        points=0,
        stamps={"sixth-wash": 0},
    )


def test_shoe_shop_every_fifth_pair_thirty_percent_off_the_cheapest() -> None:
    rules = program(
        rules=[
            {
                "id": "fifth-pair",
                "kind": "every_nth_free",
                "every": 5,
                "counts": "items",
                "reward": {"percent_off": 30},
                "when": {"categories": ["shoes"]},
            },
            {"id": "pts", "kind": "points_per_spend", "points": "1", "per": "1.00"},
        ]
    )
    events: list[Purchase | Refund] = [
        purchase(
            "p1",
            utc(2026, 3, 2),
            line("runner", "120.00", 1, "shoes"),
            line("boot", "80.00", 2, "shoes"),
            line("sandal", "39.99", 2, "shoes"),
            line("socks", "5.00", 1, "socks"),
        ),
        # 5 pairs: one card; the cheapest pair is a sandal (39.99): 30% of one of the two
        # units, computed and rounded once per line: 79.98 x 1/2 x 0.30 = 11.997 -> 12.00.
        # Points on what is paid: 120 + 160 + 67.98 + 5 = 352.98 -> 352
    ]
    check(
        rules,
        events,
        "c1",
        [
            ("p1", "fifth-pair", "discount", None, D("12.00"), 1),
            ("p1", "pts", "points", 352, None, None),
        ],
        points=352,
        stamps={"fifth-pair": 0},
    )


def test_a_completed_card_writes_its_entry_even_when_worth_nothing() -> None:
    everyone = {
        "qualify_by": "purchases",
        "window": "lifetime",
        "levels": [{"name": "member", "at_least": 0}],
    }
    rules = program(
        tiers=everyone,
        rules=[
            {"id": "all-off", "kind": "tiered_discount", "discounts": {"member": 100}},
            {"id": "card", "kind": "every_nth_free", "every": 2, "reward": "free"},
            {"id": "tenth", "kind": "every_nth_free", "every": 2, "reward": {"percent_off": 10}},
        ],
    )
    # 100% off takes both units to 0.00; each card (2 units of price 1.00 count) completes
    # and writes its entry of 1 unit, worth 0.00
    check(
        rules,
        [purchase("p1", utc(2026, 3, 2), line("a", "1.00", 2))],
        "c1",
        [
            ("p1", "all-off", "discount", None, D("2.00"), 2),
            ("p1", "card", "free", None, D("0.00"), 1),
            ("p1", "tenth", "discount", None, D("0.00"), 1),
        ],
        points=0,
        tier="member",
        stamps={"card": 0, "tenth": 0},
    )
    # a 5% tier discount of 0.01 rounds to 0.00: that line is not counted (2 units, not 3)
    check(
        program(
            tiers=everyone,
            rules=[{"id": "five", "kind": "tiered_discount", "discounts": {"member": 5}}],
        ),
        [purchase("p1", utc(2026, 3, 2), line("a", "0.01"), line("b", "10.00", 2))],
        "c1",
        [("p1", "five", "discount", None, D("1.00"), 2)],
        points=0,
        tier="member",
    )


def test_units_of_a_line_are_alike_for_the_cards_after_a_percent_off() -> None:
    rules = program(
        rules=[
            {"id": "half", "kind": "every_nth_free", "every": 2, "reward": {"percent_off": 50}},
            {"id": "free", "kind": "every_nth_free", "every": 2, "reward": "free"},
        ]
    )
    # 50% off one of two 10.00 units: 5.00, the line is at 15.00; the free card frees one
    # unit of what is left spread over both, 7.50 (docs/semantics.md, "Cheapest")
    check(
        rules,
        [purchase("p1", utc(2026, 3, 2), line("a", "10.00", 2))],
        "c1",
        [
            ("p1", "half", "discount", None, D("5.00"), 1),
            ("p1", "free", "free", None, D("7.50"), 1),
        ],
        points=0,
        stamps={"half": 0, "free": 0},
    )


# --- partner gift cards -------------------------------------------------------------------


def test_pharmacy_gift_cards_per_calendar_quarter_refunds_never_revoke() -> None:
    rules = program(
        timezone="America/New_York",
        rules=[
            {
                "id": "grocer-card",
                "kind": "partner_gift_card",
                "partner": "Corner Grocery",
                "value": "10.00",
                "every_spend": "200.00",
                "window": "calendar_quarter",
                "when": {"exclude_categories": ["prescription"]},
            }
        ],
    )
    events: list[Purchase | Refund] = [
        purchase("p1", utc(2026, 1, 10), line("vitamins", "150.00")),
        # 150 + 60 = 210: the first card; the prescription does not count
        purchase(
            "p2",
            utc(2026, 2, 1),
            line("cream", "60.00"),
            line("rx", "500.00", 1, "prescription"),
        ),
        # 210 - 60 = 150; the card stays
        refund("r2", utc(2026, 2, 2), "p2", ("cream", 1)),
        # 150 + 55 = 205: back over 200, already rewarded (highest 210): nothing
        purchase("p3", utc(2026, 2, 3), line("cream", "55.00")),
        # 01:30 UTC on 1 April is 31 March in New York: still Q1. 205 + 200 = 405: 2nd card
        purchase("p4", utc(2026, 4, 1, 1, 30), line("vitamins", "200.00")),
        # Q2 starts from nothing: 199.99 is no card
        purchase("p5", utc(2026, 4, 2), line("vitamins", "199.99")),
        # a refund of p4 (Q1) lowers Q1, not Q2: 199.99 + 0.01 = 200.00 gives Q2's first card
        refund("r4", utc(2026, 4, 3), "p4"),
        purchase("p6", utc(2026, 4, 4), line("gum", "0.01")),
    ]
    check(
        rules,
        events,
        "c1",
        [
            ("p2", "grocer-card", "gift_card", None, D("10.00"), 1),
            ("p4", "grocer-card", "gift_card", None, D("10.00"), 1),
            ("p6", "grocer-card", "gift_card", None, D("10.00"), 1),
        ],
        points=0,
    )


def test_several_gift_cards_in_one_purchase_are_one_entry_and_capped_per_window() -> None:
    rules = program(
        rules=[
            {
                "id": "cinema",
                "kind": "partner_gift_card",
                "partner": "Cinema",
                "value": "10.00",
                "every_spend": "50.00",
                "window": "calendar_month",
                "max_per_window": 3,
            }
        ]
    )
    events: list[Purchase | Refund] = [
        # 175.00 reaches 3 multiples of 50.00: one entry of 3 cards, 30.00
        purchase("p1", utc(2026, 3, 2), line("tv", "175.00")),
        # 275.00 would be 5, at most 3 per month: nothing more
        purchase("p2", utc(2026, 3, 3), line("tv", "100.00")),
        # April: 100.00 is 2 cards
        purchase("p3", utc(2026, 4, 3), line("tv", "100.00")),
    ]
    check(
        rules,
        events,
        "c1",
        [
            ("p1", "cinema", "gift_card", None, D("30.00"), 3),
            ("p3", "cinema", "gift_card", None, D("20.00"), 2),
        ],
        points=0,
    )


# --- tiers by purchases (airline style) ---------------------------------------------------


def test_airline_miles_tiers_by_flights_multiply_miles() -> None:
    rules = program(
        timezone="America/Los_Angeles",
        tiers={
            "qualify_by": "purchases",
            "window": "calendar_year",
            "levels": [
                {"name": "silver", "at_least": 2, "points_multiplier": "1.25"},
                {"name": "gold", "at_least": 4, "points_multiplier": "1.5"},
            ],
        },
        rules=[
            {
                "id": "miles",
                "kind": "points_per_spend",
                "points": "5",
                "per": "1.00",
                "when": {"categories": ["fare"]},
            },
            {
                "id": "gold-lounge",
                "kind": "points_per_spend",
                "points": "1",
                "per": "1.00",
                "when": {"tiers": ["gold"]},
            },
        ],
    )
    t = utc(2026, 2, 1)
    fare = [line("fare", "100.00", 1, "fare"), line("bag", "30.00", 1, "fee")]
    events: list[Purchase | Refund] = [
        purchase("f1", t, *fare),  # no tier: 100 x 5 = 500
        purchase("f2", t + timedelta(days=1), *fare),  # 1 flight before: 500
        purchase("f3", t + timedelta(days=2), *fare),  # silver: 500 x 1.25 = 625
        purchase("f4", t + timedelta(days=3), *fare),  # silver: 625
        # gold: 500 x 1.5 = 750; and the gold-only rule: 130 x 1.5 = 195
        purchase("f5", t + timedelta(days=4), *fare),
        refund("r5", t + timedelta(days=5), "f5", ("bag", 1)),  # 130 -> 100: 150, -45
        refund("r1", t + timedelta(days=6), "f1"),  # -500; f1 no longer counts
        # 31 Dec 17:00 in Los Angeles (1 Jan UTC): still 2026, 4 flights counted: gold
        purchase("f6", utc(2027, 1, 1, 1), *fare),
        # 2027 in Los Angeles: a new year, no tier
        purchase("f7", utc(2027, 1, 1, 9), *fare),
    ]
    check(
        rules,
        events,
        "c1",
        [
            ("f1", "miles", "points", 500, None, None),
            ("f2", "miles", "points", 500, None, None),
            ("f3", "miles", "points", 625, None, None),
            ("f4", "miles", "points", 625, None, None),
            ("f5", "miles", "points", 750, None, None),
            ("f5", "gold-lounge", "points", 195, None, None),
            ("r5", "gold-lounge", "points", -45, None, None),
            ("r1", "miles", "points", -500, None, None),
            ("f6", "miles", "points", 750, None, None),
            ("f6", "gold-lounge", "points", 195, None, None),
            ("f7", "miles", "points", 500, None, None),
        ],
        points=500 + 500 + 625 + 625 + 750 + 195 - 45 - 500 + 750 + 195 + 500,
        # just after f7, in 2027: one flight
        tier=None,
    )


def test_beauty_retailer_calendar_year_spend_tiers_with_fractional_multipliers() -> None:
    # A Sephora-like shape: a point per dollar, gift cards earn nothing but count toward
    # status, status by calendar-year spend, VIB 1.25x and Rouge 1.5x.
    rules = program(
        timezone="America/Los_Angeles",
        tiers={
            "qualify_by": "spend",
            "window": "calendar_year",
            "levels": [
                {"name": "insider", "at_least": "0"},
                {"name": "vib", "at_least": "350.00", "points_multiplier": "1.25"},
                {"name": "rouge", "at_least": "1000.00", "points_multiplier": "1.5"},
            ],
        },
        rules=[
            {
                "id": "beauty-points",
                "kind": "points_per_spend",
                "points": "1",
                "per": "1.00",
                "when": {"exclude_categories": ["gift-card"]},
            }
        ],
    )
    events: list[Purchase | Refund] = [
        purchase("s1", utc(2026, 1, 10), line("palette", "300.00")),  # insider: 300
        # a gift card: no points, but 100.00 of status spend: 400
        purchase("s2", utc(2026, 2, 1), line("card", "100.00", 1, "gift-card")),
        # vib: 79.99 x 1.25 = 99.9875 -> 99; spend 479.99
        purchase("s3", utc(2026, 3, 1), line("serum", "79.99")),
        # vib: 700.00 x 1.25 = 875; spend 1,179.99
        purchase("s4", utc(2026, 6, 1), line("dryer", "350.00", 2)),
        # one dryer back: 350.00 x 1.25 = 437.5 -> 437 left, 438 taken back; spend 829.99
        refund("r4", utc(2026, 6, 5), "s4", ("dryer", 1)),
        # still vib: 100 x 1.25 = 125; spend 929.99
        purchase("s5", utc(2026, 6, 10), line("lipstick", "25.00", 4)),
        # 31 Dec 23:30 in Los Angeles (already 2027 in UTC): still 2026, vib: 80 x 1.25 = 100
        purchase("s6", utc(2027, 1, 1, 7, 30), line("mascara", "80.00")),
        # 2027 in Los Angeles: spend starts again, insider: 10
        purchase("s7", utc(2027, 1, 1, 18), line("balm", "10.00")),
    ]
    check(
        rules,
        events,
        "c1",
        [
            ("s1", "beauty-points", "points", 300, None, None),
            ("s3", "beauty-points", "points", 99, None, None),
            ("s4", "beauty-points", "points", 875, None, None),
            ("r4", "beauty-points", "points", -438, None, None),
            ("s5", "beauty-points", "points", 125, None, None),
            ("s6", "beauty-points", "points", 100, None, None),
            ("s7", "beauty-points", "points", 10, None, None),
        ],
        points=300 + 99 + 875 - 438 + 125 + 100 + 10,
        tier="insider",
    )


def test_bakery_loaf_card_and_a_pastry_voucher_every_eighth_visit() -> None:
    rules = program(
        currency="EUR",
        timezone="Europe/Paris",
        rules=[
            {
                "id": "tenth-loaf",
                "kind": "every_nth_free",
                "every": 10,
                "counts": "items",
                "reward": "free",
                "when": {"categories": ["bread"]},
            },
            {
                "id": "eighth-visit",
                "kind": "every_nth_free",
                "every": 8,
                "counts": "visits",
                "reward": {"voucher": {"sku": "croissant", "value": "1.40"}},
            },
        ],
    )
    t = utc(2026, 3, 2, 7)
    baguette = line("baguette", "1.20", 1, "bread")
    # seven daily visits with a baguette each: 7 loaves, 7 visits
    events: list[Purchase | Refund] = [
        purchase(f"d{n}", t + timedelta(days=n), baguette) for n in range(1, 8)
    ]
    events += [
        # visit 8 (the voucher): 2 baguettes and a country loaf, 7 -> 10 loaves: the
        # cheapest loaf (a baguette, 1.20) is free
        purchase(
            "d8",
            t + timedelta(days=8),
            line("baguette", "1.20", 2, "bread"),
            line("campagne", "4.10", 1, "bread"),
        ),
        # visit 9: a croissant paid with the voucher (price 0) is no visit
        purchase("d9", t + timedelta(days=9), line("croissant", "0.00")),
        # visit 9: 12 loaves in one basket, 10 -> 22: 22 // 10 - 10 // 10 = one card
        purchase("d10", t + timedelta(days=10), line("baguette", "1.20", 12, "bread")),
    ]
    check(
        rules,
        events,
        "c1",
        [
            ("d8", "tenth-loaf", "free", None, D("1.20"), 1),
            ("d8", "eighth-visit", "voucher", None, D("1.40"), 1),
            ("d10", "tenth-loaf", "free", None, D("1.20"), 1),
        ],
        points=0,
        stamps={"tenth-loaf": 2, "eighth-visit": 1},
    )


# --- points: rounding, caps, factors, refunds ---------------------------------------------


def test_rounding_is_once_per_purchase_and_the_cap_applies_after_it() -> None:
    def rule(**fields: Any) -> Program:
        base = {"id": "pts", "kind": "points_per_spend", "points": "1", "per": "1.00"}
        return program(rules=[base | fields])

    two_halves = [line("a", "2.25"), line("b", "2.25")]
    # 2.25 + 2.25 = 4.50 once: floor 4, half_up 5, ceil 5 (per-line rounding would give 4/4/6)
    for rounding, expected in (("floor", 4), ("half_up", 5), ("ceil", 5)):
        check(
            rule(rounding=rounding),
            [purchase("p1", utc(2026, 3, 2), *two_halves)],
            "c1",
            [("p1", "pts", "points", expected, None, None)],
            points=expected,
        )
    # 11.00 per 1.10 is 10 exactly (never 9.999...)
    check(
        rule(per="1.10"),
        [purchase("p1", utc(2026, 3, 2), line("a", "11.00"))],
        "c1",
        [("p1", "pts", "points", 10, None, None)],
        points=10,
    )
    # Cap 100: 300.00 earns 100; returning half leaves 150 -> still 100, nothing back;
    # returning one more of the 3 leaves 100.00 -> 100; the last leaves 0: -100.
    events: list[Purchase | Refund] = [
        purchase("p1", utc(2026, 3, 2), line("a", "50.00", 6)),
        refund("r1", utc(2026, 3, 3), "p1", ("a", 3)),
        refund("r2", utc(2026, 3, 4), "p1", ("a", 1)),
        refund("r3", utc(2026, 3, 5), "p1"),
    ]
    check(
        rule(max_per_purchase=100),
        events,
        "c1",
        [("p1", "pts", "points", 100, None, None), ("r3", "pts", "points", -100, None, None)],
        points=0,
    )


def test_the_largest_matching_factor_applies_per_line() -> None:
    rules = program(
        rules=[
            {
                "id": "pts",
                "kind": "points_per_spend",
                "points": "1",
                "per": "1.00",
                "multipliers": [
                    {"factor": "0.5", "when": {"categories": ["merch"]}},
                    {"factor": "2", "when": {"skus": ["mug"]}},
                    {"factor": "0", "when": {"categories": ["gift-card"]}},
                    {"factor": "3", "when": {"min_total": "100.00"}},
                ],
            }
        ]
    )
    events: list[Purchase | Refund] = [
        # mug matches 0.5 and 2: 2 -> 20; tote 0.5 -> 5; gift card 0 -> 0: 25
        purchase(
            "p1",
            utc(2026, 3, 2),
            line("mug", "10.00", 1, "merch"),
            line("tote", "10.00", 1, "merch"),
            line("card", "50.00", 1, "gift-card"),
        ),
        # gross 120.00 reaches the 3x (min_total is the gross total): every line matches
        # it, and it is the largest for each: (10 + 10 + 100) x 3 = 360
        purchase(
            "p2",
            utc(2026, 3, 3),
            line("mug", "10.00", 1, "merch"),
            line("tote", "10.00", 1, "merch"),
            line("card", "100.00", 1, "gift-card"),
        ),
    ]
    check(
        rules,
        events,
        "c1",
        [("p1", "pts", "points", 25, None, None), ("p2", "pts", "points", 360, None, None)],
        points=385,
    )


def test_refunded_units_take_their_paid_share_and_the_last_the_remainder() -> None:
    rules = program(
        tiers={
            "qualify_by": "purchases",
            "window": "lifetime",
            "levels": [{"name": "silver", "at_least": 1}],
        },
        rules=[
            {"id": "off", "kind": "tiered_discount", "discounts": {"silver": 5}},
            # a point per cent paid, so every cent shows
            {"id": "pts", "kind": "points_per_spend", "points": "1", "per": "0.01"},
        ],
    )
    events: list[Purchase | Refund] = [
        purchase("p1", utc(2026, 3, 2), line("x", "1.00")),  # 100 points
        # silver: 3 x 3.33 = 9.99, 5% = 0.4995 -> 0.50, paid 9.49: 949 points
        purchase("p2", utc(2026, 3, 3), line("tea", "3.33", 3)),
        # one unit back at 9.49 / 3 = 3.1633 -> 3.16: 6.33 left, 633 points: -316
        refund("r1", utc(2026, 3, 4), "p2", ("tea", 1)),
        # the last two take the remainder, 6.33: -633
        refund("r2", utc(2026, 3, 5), "p2", ("tea", 2)),
    ]
    check(
        rules,
        events,
        "c1",
        [
            ("p1", "pts", "points", 100, None, None),
            ("p2", "off", "discount", None, D("0.50"), 3),
            ("p2", "pts", "points", 949, None, None),
            ("r1", "pts", "points", -316, None, None),
            ("r2", "pts", "points", -633, None, None),
        ],
        points=100,
        # p2 is fully refunded and no longer counts; p1 does
        tier="silver",
    )


def test_a_refund_never_gives_back_more_than_the_line_has_left() -> None:
    rules = program(
        tiers={
            "qualify_by": "purchases",
            "window": "lifetime",
            "levels": [{"name": "silver", "at_least": 1}],
        },
        rules=[
            {"id": "off", "kind": "tiered_discount", "discounts": {"silver": 25}},
            {"id": "pts", "kind": "points_per_spend", "points": "1", "per": "0.01"},
        ],
    )
    events: list[Purchase | Refund] = [
        purchase("p1", utc(2026, 3, 2), line("x", "1.00")),  # 100 points
        # silver: 10 x 0.02 = 0.20, 25% = 0.05 off, paid 0.15: 15 points
        purchase("p2", utc(2026, 3, 3), line("t", "0.02", 10)),
        # 9 units at 0.015 -> 0.02 each would be 0.18, more than the 0.15 paid: the
        # refund gives back 0.15, so all 15 points go; the last unit gives back nothing
        refund("r1", utc(2026, 3, 4), "p2", ("t", 9)),
        refund("r2", utc(2026, 3, 5), "p2"),
    ]
    check(
        rules,
        events,
        "c1",
        [
            ("p1", "pts", "points", 100, None, None),
            ("p2", "off", "discount", None, D("0.05"), 10),
            ("p2", "pts", "points", 15, None, None),
            ("r1", "pts", "points", -15, None, None),
        ],
        points=100,
        tier="silver",
    )


def test_refund_lines_fill_the_purchase_lines_of_a_sku_in_order() -> None:
    rules = program(rules=[{"id": "pts", "kind": "points_per_spend", "points": "1", "per": "1.00"}])
    events: list[Purchase | Refund] = [
        # two lines of one sku at different prices: 2 x 10.00 then 1 x 40.00: 60 points
        purchase("p1", utc(2026, 3, 2), line("a", "10.00", 2), line("a", "40.00", 1)),
        # returning 2 "a" takes the first line's two units (20.00): 40 left, -20
        refund("r1", utc(2026, 3, 3), "p1", ("a", 2)),
    ]
    check(
        rules,
        events,
        "c1",
        [("p1", "pts", "points", 60, None, None), ("r1", "pts", "points", -20, None, None)],
        points=40,
    )


# --- filters, dates and priority ----------------------------------------------------------


def test_filters_dates_weekdays_and_stores_are_read_in_the_programs_time_zone() -> None:
    rules = program(
        timezone="Pacific/Auckland",
        rules=[
            {
                "id": "weekend",
                "kind": "points_per_spend",
                "points": "1",
                "per": "1.00",
                "when": {"weekdays": ["saturday"], "stores": ["s1"]},
            },
            {
                "id": "march",
                "kind": "points_per_spend",
                "points": "10",
                "per": "1.00",
                "starts": "2026-03-07",
                "ends": "2026-03-07",
                "when": {"skus": ["tea"], "categories": ["food"], "exclude_skus": ["cake"]},
            },
        ],
    )
    events: list[Purchase | Refund] = [
        # Friday 6 March 12:00 UTC is Saturday 7 March 01:00 in Auckland, store s1:
        # weekend 1 x (5 + 3 + 2) = 10; march: tea (sku) 5 + bun (food) 3, cake excluded
        # although food: 8 x 10 = 80
        purchase(
            "p1",
            utc(2026, 3, 6, 12),
            line("tea", "5.00"),
            line("bun", "3.00", 1, "food"),
            line("cake", "2.00", 1, "food"),
            store="s1",
        ),
        # Saturday 7 March 12:00 UTC is Sunday 8 March in Auckland: neither rule
        purchase("p2", utc(2026, 3, 7, 12), line("tea", "5.00"), store="s1"),
        # Friday 6 March 10:59 UTC is Friday 23:59 in Auckland (UTC+13 in March): nothing
        purchase("p3", utc(2026, 3, 6, 10, 59), line("tea", "5.00"), store="s1"),
        # Saturday in Auckland, no store: the weekend rule needs s1; march gives 50
        purchase("p4", utc(2026, 3, 6, 11, 0), line("tea", "5.00")),
    ]
    check(
        rules,
        events,
        "c1",
        # in event order: p3 (Friday in Auckland), p4, p1, p2
        [
            ("p4", "march", "points", 50, None, None),
            ("p1", "weekend", "points", 10, None, None),
            ("p1", "march", "points", 80, None, None),
        ],
        points=140,
    )


def test_min_total_is_the_gross_total_before_any_reward() -> None:
    rules = program(
        tiers={
            "qualify_by": "purchases",
            "window": "lifetime",
            "levels": [{"name": "gold", "at_least": 1}],
        },
        rules=[
            {"id": "half", "kind": "tiered_discount", "discounts": {"gold": 50}},
            {
                "id": "big",
                "kind": "points_per_spend",
                "points": "1",
                "per": "1.00",
                "when": {"min_total": "20.00"},
            },
            {
                "id": "food-min",
                "kind": "points_per_spend",
                "points": "1",
                "per": "1.00",
                "when": {
                    "exclude_categories": ["delivery"],
                    "min_total": "20.00",
                    "min_total_of": "eligible",
                },
            },
        ],
    )
    events: list[Purchase | Refund] = [
        purchase("p1", utc(2026, 3, 2), line("x", "1.00")),  # no tier, below both minimums
        # gold: half off. Gross 18.00 + 5.00 = 23.00 >= 20 (all): paid 11.50 -> 11;
        # eligible gross 18.00 < 20: food-min gives nothing. Discount 9.00 + 2.50 = 11.50
        purchase(
            "p2",
            utc(2026, 3, 3),
            line("pizza", "18.00", 1, "food"),
            line("fee", "5.00", 1, "delivery"),
        ),
    ]
    check(
        rules,
        events,
        "c1",
        [
            ("p2", "half", "discount", None, D("11.50"), 2),
            ("p2", "big", "points", 11, None, None),
        ],
        points=11,
        tier="gold",
    )


def test_price_rules_run_by_priority_each_on_what_the_previous_left() -> None:
    def rules(card_priority: int) -> Program:
        return program(
            tiers={
                "qualify_by": "purchases",
                "window": "lifetime",
                "levels": [{"name": "gold", "at_least": 1}],
            },
            rules=[
                {"id": "ten", "kind": "tiered_discount", "discounts": {"gold": 10}, "priority": 1},
                {
                    "id": "card",
                    "kind": "every_nth_free",
                    "every": 2,
                    "reward": "free",
                    "priority": card_priority,
                },
                {"id": "pts", "kind": "points_per_spend", "points": "1", "per": "0.01"},
            ],
        )

    events: list[Purchase | Refund] = [
        purchase("p1", utc(2026, 3, 2), line("x", "1.00")),  # count 1, 100 points
        purchase("p2", utc(2026, 3, 3), line("y", "5.00"), line("z", "3.00")),
    ]
    # The card first (priority 0): 3.00 free; then 10% of 5.00 = 0.50; paid 4.50
    check(
        rules(0),
        events,
        "c1",
        [
            ("p1", "pts", "points", 100, None, None),
            ("p2", "card", "free", None, D("3.00"), 1),
            ("p2", "ten", "discount", None, D("0.50"), 1),
            ("p2", "pts", "points", 450, None, None),
        ],
        points=550,
        tier="gold",
        stamps={"card": 1},
    )
    # The discount first (the card at 2): 0.50 + 0.30 off, then the cheapest left (2.70)
    # is free; paid 4.50
    check(
        rules(2),
        events,
        "c1",
        [
            ("p1", "pts", "points", 100, None, None),
            ("p2", "ten", "discount", None, D("0.80"), 2),
            ("p2", "card", "free", None, D("2.70"), 1),
            ("p2", "pts", "points", 450, None, None),
        ],
        points=550,
        tier="gold",
        stamps={"card": 1},
    )


def test_a_rolling_window_is_elapsed_hours_across_a_clock_change_and_as_of_its_end() -> None:
    new_york = ZoneInfo("America/New_York")
    rules = program(
        timezone="America/New_York",
        tiers={
            "qualify_by": "purchases",
            "window": "7 days",
            "levels": [{"name": "silver", "at_least": 1}],
        },
        rules=[
            {
                "id": "silver-pts",
                "kind": "points_per_spend",
                "points": "1",
                "per": "1.00",
                "when": {"tiers": ["silver"]},
            }
        ],
    )
    first = purchase("p1", datetime(2026, 3, 5, 12, tzinfo=new_york), line("x", "1.00"))
    # Clocks went forward on 8 March: 13:00 EDT on the 12th is exactly 7 x 24 h after
    # 12:00 EST on the 5th (start included: silver, 10 points); 13:01 is past it.
    for hour, minute, points in ((12, 0, 10), (13, 0, 10), (13, 1, 0)):
        later = datetime(2026, 3, 12, hour, minute, tzinfo=new_york)
        expected = [("p2", "silver-pts", "points", 10, None, None)] if points else []
        check(
            rules,
            [first, purchase("p2", later, line("x", "10.00"))],
            "c1",
            expected,
            points=points,
            tier="silver",  # just after p2, p2 itself is in the window
        )
    # as_of a date: the tier at the end of that local day, the next midnight; a purchase
    # exactly 7 x 24 h before that midnight still counts. 5 March 12:00 EST + 7 days is
    # 12 March 13:00 EDT, so no midnight is ever exactly 7 days on: as_of the 11th counts
    # p1 (11th 24:00 is less than 7 days on), the 12th does not.
    for day, tier in ((11, "silver"), (12, None)):
        outcome = agree(rules, [first], as_of=date(2026, 3, day))["c1"]
        assert outcome == ([], 0, tier, {})


EXAMPLES = Path(__file__).resolve().parent.parent / "rules" / "examples"


@pytest.mark.parametrize(
    "name",
    ["coffee-club", "ice-cream-parlour", "car-wash", "shoe-shop", "pharmacy", "airline-miles"],
)
def test_the_six_example_programs_of_the_issue_agree_with_the_oracle(name: str) -> None:
    rules = load_program(EXAMPLES / f"{name}.yaml")
    (history,) = EXAMPLES.glob(f"{name}.history.*")
    events = list(read_history(history))
    assert all(isinstance(event, Purchase | Refund) for event in events)
    outcome = agree(rules, events)  # type: ignore[arg-type]
    assert any(entries for entries, *_ in outcome.values())


# --- hypothesis: drawn programs and histories ---------------------------------------------


@settings(max_examples=150)
@given(cases())
def test_drawn_programs_agree_with_the_oracle_on_both_engines(
    case: tuple[Program, list[Purchase | Refund], date | datetime | None],
) -> None:
    agree(*case)


@settings(max_examples=25)
@given(cases(("ann", "bob", "cem", "dia", "eve"), 40))
def test_longer_histories_of_several_customers_agree_with_the_oracle(
    case: tuple[Program, list[Purchase | Refund], date | datetime | None],
) -> None:
    # The batch engine works on columns of every customer at once: more customers and
    # events than above, fewer examples.
    agree(*case)
