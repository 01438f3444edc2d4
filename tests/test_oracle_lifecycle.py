"""The points lifecycle against an independent oracle (tests/oracle/lifecycle.py).

The oracle was written from issue 3 and issue 18 and docs/lifecycle.md alone. Each
hand-worked case asserts the numbers worked out by hand (the arithmetic in the comments),
then that the oracle and both engines give exactly the same ledger and balances.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.lifecycle import Oracle, engine_totals, engine_view, totals
from rewardrules import (
    CancelRedemption,
    Customer,
    Program,
    Purchase,
    Redemption,
    Refund,
    RefundLine,
    evaluate,
    step,
)


def program(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "program": "club",
        "name": "Club",
        "currency": "USD",
        "timezone": "America/New_York",
        "points": {"name": "stars", "value": "0.01"},
        "rules": [{"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1.00"}],
    }
    base.update(fields)
    return base


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def buy(id: str, when: str, *lines: tuple[str, int, str], customer: str = "c1") -> Purchase:
    return Purchase(
        id=id,
        customer_id=customer,
        at=at(when),
        lines=[
            {"sku": sku, "quantity": q, "unit_price": Decimal(price)} for sku, q, price in lines
        ],
    )


def refund(id: str, when: str, purchase: str, *lines: tuple[str, int]) -> Refund:
    back = [RefundLine(sku=sku, quantity=q) for sku, q in lines] or None
    return Refund(id=id, customer_id="c1", at=at(when), purchase_id=purchase, lines=back)


def redeem(id: str, when: str, reward: str, quantity: int = 1) -> Redemption:
    return Redemption(id=id, customer_id="c1", at=at(when), reward=reward, quantity=quantity)


def cancel(id: str, when: str, redemption: str) -> CancelRedemption:
    return CancelRedemption(id=id, customer_id="c1", at=at(when), redemption_id=redemption)


def agree(
    spec: dict[str, Any],
    events: list[Any],
    profiles: list[Customer] | None = None,
    as_of: date | datetime | None = None,
) -> dict[str, dict[str, Any]]:
    """The oracle's view, checked equal to both engines'."""
    expected = Oracle(spec).run(events, profiles, as_of)
    model = Program.model_validate(spec)
    for engine in ("reference", "batch"):
        evaluation = evaluate(model, events, profiles, as_of, engine=engine)
        assert engine_view(evaluation) == expected, engine
        assert engine_totals(evaluation) == totals(expected), engine
    return expected


# --- expiry --------------------------------------------------------------------------


STARBUCKS = program(
    points={
        "name": "stars",
        "value": "0.01",
        "expire_after": "6 months",
        "expire_round_up_to": "month",
    },
    rules=[{"id": "stars", "kind": "points_per_spend", "points": 2, "per": "1.00"}],
    rewards=[{"id": "drink", "name": "Any drink", "cost": 20, "value": "2.00"}],
)
STARBUCKS_EVENTS = [
    buy("p1", "2026-01-15T10:00:00-05:00", ("latte", 1, "12.50")),  # 2 x 12.50 = 25 stars
    buy("p2", "2026-02-10T10:00:00-05:00", ("mocha", 1, "5.00")),  # 2 x 5.00 = 10 stars
    redeem("x1", "2026-03-01T09:00:00-05:00", "drink"),  # 20 from p1 (oldest): p1 5, p2 10
]


def test_stars_expire_six_months_after_the_calendar_month_they_were_earned() -> None:
    # p1: 2026-01-15 + 6 months = 2026-07-15, the end of July: 2026-08-01T00:00-04:00.
    # p2: 2026-02-10 + 6 months = 2026-08-10, the end of August: 2026-09-01T00:00-04:00.
    # With as_of the date 2026-07-31 (the whole day) nothing has expired: 5 + 10 = 15.
    kept = agree(STARBUCKS, STARBUCKS_EVENTS, as_of=date(2026, 7, 31))["c1"]
    assert (kept["points"], kept["available"]) == (15, 15)
    # At the instant of midnight p1's 5 left expire (issue 18: an instant includes itself).
    gone = agree(STARBUCKS, STARBUCKS_EVENTS, as_of=at("2026-08-01T00:00:00-04:00"))["c1"]
    assert gone["ledger"][-1] == ("p1", "points.expire_after", "expiry", -5, None, None)
    assert gone["points"] == 10
    # On 2026-09-01 p2's 10 go too: nothing left, two expiry entries in all.
    done = agree(STARBUCKS, STARBUCKS_EVENTS, as_of=date(2026, 9, 1))["c1"]
    assert [e[3] for e in done["ledger"] if e[2] == "expiry"] == [-5, -10]
    assert done["points"] == 0


def test_days_are_24_hour_spans_across_daylight_saving() -> None:
    # Issue 18's Sydney example: earned 2025-03-28 07:42:13+11:00 = 2025-03-27T20:42:13Z,
    # plus 10 x 7 x 24 hours = 2025-06-05T20:42:13Z (06:42:13 local at +10:00).
    spec = program(
        timezone="Australia/Sydney",
        currency="AUD",
        points={"name": "points", "value": "0.01", "expire_after": "10 weeks"},
    )
    events = [buy("p1", "2025-03-28T07:42:13+11:00", ("flat-white", 1, "7.00"))]  # 7 points
    before = agree(spec, events, as_of=at("2025-06-05T20:42:12+00:00"))["c1"]
    assert before["points"] == 7
    after = agree(spec, events, as_of=at("2025-06-05T20:42:13+00:00"))["c1"]
    assert after["points"] == 0
    assert after["ledger"][-1][3] == -7


AIRLINE = program(
    timezone="Europe/London",
    currency="GBP",
    points={"name": "miles", "value": "0.01", "expire_on_inactivity": "18 months"},
    rules=[{"id": "fares", "kind": "points_per_spend", "points": 1, "per": "1.00"}],
)


def test_airline_miles_expire_after_eighteen_months_without_a_flight() -> None:
    events = [
        buy("f1", "2024-01-10T08:00:00+00:00", ("fare", 1, "1000.00")),  # 1000 miles
        buy("f2", "2024-05-01T08:00:00+01:00", ("fare", 1, "200.00")),  # 200 miles
    ]
    # Deadline: the last flight 2024-05-01 08:00 BST + 18 months = 2025-11-01 08:00 GMT.
    kept = agree(AIRLINE, events, as_of=date(2025, 10, 31))["c1"]
    assert kept["points"] == 1200
    gone = agree(AIRLINE, events, as_of=date(2025, 11, 1))["c1"]
    # Every lot left expires at the deadline, one entry per lot, oldest first.
    assert gone["ledger"][-2:] == [
        ("f1", "points.expire_on_inactivity", "expiry", -1000, None, None),
        ("f2", "points.expire_on_inactivity", "expiry", -200, None, None),
    ]
    assert gone["points"] == 0


def test_a_purchase_refunded_in_full_no_longer_keeps_points_alive() -> None:
    spec = program(points={"name": "miles", "value": "0.01", "expire_on_inactivity": "30 days"})
    events = [
        buy("p1", "2026-03-02T12:00:00-05:00", ("a", 1, "20.00")),  # 20
        buy("p2", "2026-03-22T12:00:00-04:00", ("a", 1, "10.00")),  # 10; deadline 04-21
        refund("r1", "2026-03-27T12:00:00-04:00", "p2"),  # -10; deadline back to 04-01
        buy("p3", "2026-04-16T12:00:00-04:00", ("a", 1, "1.00")),  # 1
    ]
    # Before p3, p1's 20 expired at 2026-04-01T12:00-04:00 (p1 + 30 x 24 hours).
    result = agree(spec, events)["c1"]
    assert result["ledger"] == [
        ("p1", "earn", "points", 20, None, None),
        ("p2", "earn", "points", 10, None, None),
        ("r1", "earn", "points", -10, None, None),
        ("p1", "points.expire_on_inactivity", "expiry", -20, None, None),
        ("p3", "earn", "points", 1, None, None),
    ]
    assert result["points"] == 1


# --- pending points, debts ------------------------------------------------------------


CAFE = program(
    points={"name": "beans", "value": "0.01", "pending_for": "14 days"},
    rewards=[{"id": "cake", "name": "Cake", "cost": 10, "value": "3.00"}],
)


def test_pending_points_wait_out_the_return_period() -> None:
    events = [
        buy("p1", "2026-03-01T10:00:00-05:00", ("beans", 1, "30.00")),  # 30 pending to 03-15
        buy("p2", "2026-03-02T10:00:00-05:00", ("beans", 1, "20.00")),  # 20 pending to 03-16
        refund("r1", "2026-03-05T10:00:00-05:00", "p1"),  # -30 from p1's own pending lot
        redeem("x1", "2026-03-10T10:00:00-04:00", "cake"),  # available 0 < 10: rejected
        redeem("x2", "2026-03-17T10:00:00-04:00", "cake"),  # p2 available: 20 - 10 = 10
    ]
    mid = agree(CAFE, events, as_of=date(2026, 3, 12))["c1"]
    assert (mid["available"], mid["pending"]) == (0, 20)
    result = agree(CAFE, events)["c1"]
    assert [e[2] for e in result["ledger"]] == [
        "points",
        "points",
        "points",
        "rejected",
        "redemption",
    ]
    assert (result["available"], result["pending"]) == (10, 0)


def debt_events() -> list[Any]:
    return [
        buy("p1", "2026-03-01T10:00:00-05:00", ("a", 1, "100.00")),  # 100, available 03-15
        redeem("x1", "2026-03-16T10:00:00-04:00", "big"),  # -100: 0 left
        refund("r1", "2026-03-17T10:00:00-04:00", "p1"),  # -100, nothing to take from
        buy("p2", "2026-03-18T10:00:00-04:00", ("a", 1, "150.00")),  # 150
    ]


def test_a_debt_is_paid_at_once_by_pending_points() -> None:
    spec = program(
        points={"name": "stars", "value": "0.01", "pending_for": "14 days"},
        rewards=[{"id": "big", "name": "Big", "cost": 100, "value": "5.00"}],
    )
    # Debt 100 after r1; p2's 150 pay it first: available 0, pending 50 (issue 18, item 3).
    result = agree(spec, debt_events())["c1"]
    assert (result["points"], result["available"], result["pending"]) == (50, 0, 50)
    before = agree(spec, debt_events()[:3])["c1"]
    assert (before["points"], before["available"], before["pending"]) == (-100, -100, 0)


def test_clamp_writes_off_what_a_refund_cannot_take_back() -> None:
    spec = program(
        points={
            "name": "stars",
            "value": "0.01",
            "pending_for": "14 days",
            "negative_balance": "clamp",
        },
        rewards=[{"id": "big", "name": "Big", "cost": 100, "value": "5.00"}],
    )
    result = agree(spec, debt_events())["c1"]
    assert ("r1", "points.negative_balance", "written_off", 100, None, None) in result["ledger"]
    # 100 - 100 (redeemed) - 100 (reversed) + 100 (written off) + 150 = 150, all pending.
    assert (result["points"], result["available"], result["pending"]) == (150, 0, 150)


def test_clamp_a_cancellation_recovers_what_a_refund_after_it_wrote_off() -> None:
    spec = program(
        points={
            "name": "stars",
            "value": "0.01",
            "pending_for": "14 days",
            "negative_balance": "clamp",
        },
        rewards=[{"id": "big", "name": "Big", "cost": 100, "value": "5.00"}],
    )
    # As above: 100 written off at r1 (after x1), p2's 150 kept whole (pending to 04-01).
    # x2 on 04-02 spends 100 of p2's (50 left) and u2 cancels it: all 100 back (r1 came
    # before x2). u1 cancels x1: its 100 go back to p1's lot, and recover r1's 100 first.
    events = [
        *debt_events(),
        redeem("x2", "2026-04-02T10:00:00-04:00", "big"),
        cancel("u2", "2026-04-03T10:00:00-04:00", "x2"),
        cancel("u1", "2026-04-04T10:00:00-04:00", "x1"),
    ]
    result = agree(spec, events)["c1"]
    assert result["ledger"][-4:] == [
        ("x2", "big", "redemption", -100, 500, 1),
        ("u2", "big", "redemption", 100, -500, -1),
        ("u1", "big", "redemption", 100, -500, -1),
        ("u1", "points.negative_balance", "written_off", -100, None, None),
    ]
    # 100 - 100 - 100 + 100 + 150 - 100 + 100 + 100 - 100 = 150, all available by then.
    assert (result["points"], result["available"], result["pending"]) == (150, 150, 0)


@st.composite
def write_off_histories(draw: st.DrawFn) -> tuple[dict[str, Any], list[Any]]:
    """One customer under ``clamp`` who redeems much, returns, and cancels: the histories
    where refunds write off and cancellations recover (rare in ``lifecycle_histories``)."""
    points: dict[str, Any] = {"name": "stars", "value": "0.01", "negative_balance": "clamp"}
    points |= draw(st.sampled_from(({}, {"expire_after": "20 days"}, {"pending_for": "2 days"})))
    spec = program(
        points=points,
        rewards=[
            {"id": "pin", "name": "Pin", "cost": 3, "value": "1.00"},
            {"id": "cap", "name": "Cap", "cost": 8, "value": "4.00"},
        ],
    )
    moment = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    events: list[Any] = []
    bought: dict[str, int] = {}  # purchase -> units left
    live: list[str] = []  # redemptions not cancelled (rejected ones too: nothing back)
    for number in range(draw(st.integers(3, 12))):
        moment += timedelta(hours=draw(st.sampled_from((1, 20, 24 * 9))))
        id, when = f"e{number:02d}", moment.isoformat()
        choice = draw(st.sampled_from(("buy", "redeem", "redeem", "refund", "cancel")))
        left = [key for key, units in bought.items() if units]
        if choice == "refund" and left:
            target = draw(st.sampled_from(left))
            units = draw(st.integers(1, bought[target]))
            bought[target] -= units
            events.append(refund(id, when, target, ("a", units)))
        elif choice == "cancel" and live:
            target = draw(st.sampled_from(live))
            live.remove(target)
            events.append(cancel(id, when, target))
        elif choice == "redeem":
            events.append(
                redeem(id, when, draw(st.sampled_from(("pin", "cap"))), draw(st.integers(1, 2)))
            )
            live.append(id)
        else:
            units = draw(st.integers(1, 4))
            events.append(buy(id, when, ("a", units, draw(st.sampled_from(("2.00", "3.50"))))))
            bought[id] = units
    return spec, events


@given(drawn=write_off_histories())
def test_drawn_write_offs_and_recoveries_agree_with_the_oracle(
    drawn: tuple[dict[str, Any], list[Any]],
) -> None:
    spec, events = drawn
    agree(spec, events)


# --- the catalogue ----------------------------------------------------------------------


SHOP = program(
    points={"name": "points", "value": "0.01", "expire_after": "30 days"},
    timezone="UTC",
    rewards=[
        {"id": "cake", "name": "Cake", "cost": 80, "value": "6.00"},
        {
            "id": "mug",
            "name": "Mug",
            "cost": 10,
            "value": "5.00",
            "cash": "2.00",
            "per_customer": 2,
        },
        {
            "id": "tote",
            "name": "Tote",
            "cost": 5,
            "value": "1.00",
            "available": {"starts": date(2026, 4, 1), "ends": date(2026, 4, 30)},
        },
    ],
)


def test_a_cancelled_redemption_gives_back_only_what_has_not_expired() -> None:
    events = [
        buy("p1", "2026-03-01T12:00:00+00:00", ("a", 1, "50.00")),  # 50, expires 03-31
        buy("p2", "2026-03-21T12:00:00+00:00", ("a", 1, "50.00")),  # 50, expires 04-20
        redeem("x1", "2026-03-26T12:00:00+00:00", "cake"),  # 80: 50 from p1, 30 from p2
        cancel("u1", "2026-04-05T12:00:00+00:00", "x1"),  # p1 expired: only p2's 30 back
    ]
    result = agree(SHOP, events)["c1"]
    assert result["ledger"][-1] == ("u1", "cake", "redemption", 30, -600, -1)
    assert result["points"] == 50  # p2: 20 + 30 back
    # p2's lot keeps its own expiry: gone on 2026-04-20.
    assert agree(SHOP, events, as_of=date(2026, 4, 20))["c1"]["points"] == 0


def test_catalogue_checks_each_reject() -> None:
    events = [
        buy("p1", "2026-03-01T12:00:00+00:00", ("a", 1, "50.00")),  # 50
        redeem("x1", "2026-03-02T12:00:00+00:00", "pie"),  # unknown: rejected
        redeem("x2", "2026-03-03T12:00:00+00:00", "tote"),  # before April: rejected
        redeem("x3", "2026-03-04T12:00:00+00:00", "mug", 3),  # 3 > per_customer 2: rejected
        redeem("x4", "2026-03-05T12:00:00+00:00", "mug", 2),  # -20, value (5.00-2.00) x 2
        redeem("x5", "2026-03-06T12:00:00+00:00", "cake"),  # 30 < 80: rejected
        cancel("u4", "2026-03-07T12:00:00+00:00", "x4"),  # +20, the mugs count no more
        redeem("x6", "2026-03-08T12:00:00+00:00", "mug", 2),  # allowed again: -20
    ]
    result = agree(SHOP, events)["c1"]
    assert [e[2] for e in result["ledger"][1:]] == [
        "rejected",
        "rejected",
        "rejected",
        "redemption",
        "rejected",
        "redemption",
        "redemption",
    ]
    assert result["ledger"][4] == ("x4", "mug", "redemption", -20, 600, 2)
    assert result["points"] == 30


# --- limits and groups -----------------------------------------------------------------


def test_a_refund_gives_points_back_to_the_month_allowance() -> None:
    spec = program(
        timezone="UTC",
        rules=[
            {
                "id": "earn",
                "kind": "points_per_spend",
                "points": 1,
                "per": "1.00",
                "limit": {"per": "month", "points": 120},
            }
        ],
    )
    events = [
        buy("p1", "2026-04-03T12:00:00+00:00", ("a", 1, "85.00"), ("b", 1, "15.00")),  # 100
        buy("p2", "2026-04-10T12:00:00+00:00", ("a", 1, "60.00")),  # 60 cut to 20
        refund("r1", "2026-04-12T12:00:00+00:00", "p1", ("b", 1)),  # -15: 15 back to April
        buy("p3", "2026-04-20T12:00:00+00:00", ("a", 1, "30.00")),  # 30 cut to 15
        buy("p4", "2026-05-01T12:00:00+00:00", ("a", 1, "30.00")),  # May: 30
        refund("r2", "2026-05-02T12:00:00+00:00", "p2", ("a", 1)),  # all of p2: its 20 back
    ]
    result = agree(spec, events)["c1"]
    assert [e[3] for e in result["ledger"]] == [100, 20, -15, 15, 30, -20]
    assert result["points"] == 130


def test_a_purchase_cut_by_a_limit_keeps_its_points_while_enough_is_left() -> None:
    spec = program(
        timezone="UTC",
        rules=[
            {
                "id": "earn",
                "kind": "points_per_spend",
                "points": 1,
                "per": "1.00",
                "limit": {"per": "day", "points": 25},
            }
        ],
    )
    events = [
        buy("p1", "2026-04-03T12:00:00+00:00", ("a", 2, "30.00")),  # 60 cut to 25
        refund("r1", "2026-04-04T12:00:00+00:00", "p1", ("a", 1)),  # 30 left >= 25: keeps 25
        buy("p2", "2026-04-04T13:00:00+00:00", ("a", 1, "40.00")),  # new day: 40 cut to 25
        buy("p3", "2026-04-04T14:00:00+00:00", ("a", 1, "5.00")),  # nothing left: capped
        refund("r2", "2026-04-05T12:00:00+00:00", "p1", ("a", 1)),  # nothing left: -25
    ]
    result = agree(spec, events)["c1"]
    assert result["ledger"] == [
        ("p1", "earn", "points", 25, None, None),
        ("p2", "earn", "points", 25, None, None),
        ("p3", "earn", "capped", None, None, None),
        ("r2", "earn", "points", -25, None, None),
    ]


def test_a_capped_purchase_does_not_use_a_reward_of_the_month() -> None:
    # Issue 18, item 4: a day's 100 points given, the month's 2 rewards not used up.
    spec = program(
        timezone="UTC",
        rules=[
            {
                "id": "earn",
                "kind": "points_per_spend",
                "points": 1,
                "per": "1.00",
                "limit": [{"per": "day", "points": 100}, {"per": "month", "rewards": 2}],
            }
        ],
    )
    events = [
        buy("p1", "2026-04-03T10:00:00+00:00", ("a", 1, "100.00")),  # 100 (reward 1)
        buy("p2", "2026-04-03T11:00:00+00:00", ("a", 1, "10.00")),  # capped, no reward
        buy("p3", "2026-04-04T10:00:00+00:00", ("a", 1, "10.00")),  # 10 (reward 2)
        buy("p4", "2026-04-05T10:00:00+00:00", ("a", 1, "10.00")),  # rewards used: capped
    ]
    result = agree(spec, events)["c1"]
    assert [e[2:4] for e in result["ledger"]] == [
        ("points", 100),
        ("capped", None),
        ("points", 10),
        ("capped", None),
    ]


def test_the_exclusive_group_gives_the_bonus_worth_most() -> None:
    spec = program(
        timezone="Europe/London",
        currency="GBP",
        rules=[
            {"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1.00"},
            {
                "id": "saturday",
                "kind": "bonus_points",
                "points": 150,
                "when": {"weekdays": ["saturday"]},
                "exclusive_group": "offers",
            },
            {
                "id": "first",
                "kind": "bonus_points",
                "points": 100,
                "once_per_customer": True,
                "exclusive_group": "offers",
            },
        ],
    )
    events = [
        buy("p1", "2026-04-04T12:00:00+01:00", ("a", 1, "10.00")),  # Saturday: 150 beats 100
        buy("p2", "2026-04-06T12:00:00+01:00", ("a", 1, "10.00")),  # Monday: first is unused
    ]
    got = agree(spec, events)["c1"]
    # p1: earn 10, saturday 150, first set aside (not used up); p2: earn 10, first 100.
    assert got["ledger"] == [
        ("p1", "earn", "points", 10, None, None),
        ("p1", "saturday", "points", 150, None, None),
        ("p1", "first", "set_aside", None, None, None),
        ("p2", "earn", "points", 10, None, None),
        ("p2", "first", "points", 100, None, None),
    ]
    assert got["points"] == 270


# --- gifts at dates -----------------------------------------------------------------------


def test_sign_up_and_birthday_gifts_at_joining() -> None:
    spec = program(
        points={"name": "paws", "value": "0.01", "expire_after": "2 months"},
        rules=[
            {"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1.00"},
            {"id": "welcome", "kind": "signup_bonus", "points": 200},
            {"id": "birthday", "kind": "birthday", "points": 100, "window": "month"},
        ],
    )
    # Joins 2026-04-05 inside the April birthday month: both gifts at the moment of joining,
    # in running order (file order at priority 0), ids <rule>@<local date>.
    amy = Customer(customer_id="amy", joined_at=at("2026-04-05T15:00:00-04:00"), birthday="04-18")
    events = [buy("p1", "2026-04-10T10:00:00-04:00", ("a", 1, "20.00"), customer="amy")]
    result = agree(spec, events, [amy], as_of=date(2026, 6, 30))["amy"]
    assert result["ledger"] == [
        ("welcome@2026-04-05", "welcome", "points", 200, None, None),
        ("birthday@2026-04-05", "birthday", "points", 100, None, None),
        ("p1", "earn", "points", 20, None, None),
        ("welcome@2026-04-05", "points.expire_after", "expiry", -200, None, None),
        ("birthday@2026-04-05", "points.expire_after", "expiry", -100, None, None),
        ("p1", "points.expire_after", "expiry", -20, None, None),
    ]
    # Next year's window opens at 2027-04-01T00:00-04:00.
    later = agree(spec, events, [amy], as_of=date(2027, 4, 1))["amy"]
    assert later["ledger"][-1] == ("birthday@2027-04-01", "birthday", "points", 100, None, None)
    assert later["points"] == 100


# --- drawn programs and histories -----------------------------------------------------------


VOUCHER = {"sku": "tote", "value": "4.00", "name": "a tote bag"}
ZONES = ("UTC", "America/New_York", "Australia/Sydney")
PRICES = ("0.50", "4.00", "9.99", "25.00", "60.00")
GAPS = (0, 1, 24, 72, 14 * 24, 40 * 24, 100 * 24)  # hours between events
REWARD_IDS = ("snack", "snack", "cake", "tote", "pie", "lounge", "pin")
TIERS = {
    "qualify_by": "purchases",
    "window": "lifetime",
    "levels": [{"name": "silver", "at_least": 1}, {"name": "gold", "at_least": 3}],
}
CATALOGUE = [
    {"id": "snack", "name": "Snack", "cost": 5, "value": "0.50", "per_customer": 4},
    {"id": "cake", "name": "Cake", "cost": 40, "value": "6.00", "cash": "1.50"},
    {
        "id": "tote",
        "name": "Tote",
        "cost": 20,
        "value": "3.00",
        "available": {"starts": date(2026, 2, 1), "ends": date(2026, 5, 31)},
    },
    {"id": "lounge", "name": "Lounge", "cost": 3, "value": "2.00", "tiers": ["gold"]},
    {"id": "pin", "name": "Pin", "cost": 2, "value": "1.00", "cash": "1.50"},
]


@st.composite
def limits(draw: st.DrawFn, money: bool = False) -> list[dict[str, Any]] | None:
    """Limits on a rule that gives points, or (``money``) on one that gives vouchers."""
    measure = (
        st.sampled_from(("3.00", "5.00", "12.00")).map(lambda v: ("value", v))
        if money
        else st.integers(1, 200).map(lambda n: ("points", n))
    )
    drawn = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "per": st.sampled_from(
                        ("purchase", "day", "week", "month", "year", "lifetime")
                    ),
                }
            ).flatmap(
                lambda base: st.one_of(
                    measure.map(lambda pair: {**base, pair[0]: pair[1]}),
                    st.integers(1, 3).map(lambda n: {**base, "rewards": n}),
                )
            ),
            max_size=2,
        )
    )
    return drawn or None


@st.composite
def lifecycle_specs(draw: st.DrawFn) -> dict[str, Any]:
    points: dict[str, Any] = {
        "name": "stars",
        "value": draw(st.sampled_from(("0", "0.01", "0.05"))),
        "negative_balance": draw(st.sampled_from(("allow", "clamp"))),
    }
    pending = draw(st.sampled_from((None, "3 days", "14 days", "1 month")))
    if pending:
        points["pending_for"] = pending
    expire = draw(st.sampled_from((None, "30 days", "2 months", "1 year")))
    if expire:
        points["expire_after"] = expire
        round_to = draw(st.sampled_from((None, "month", "quarter", "year")))
        if round_to:
            points["expire_round_up_to"] = round_to
    inactivity = draw(
        st.sampled_from(
            (
                None,
                "60 days",
                "6 months",
                {"after": "45 days", "activity": ["purchase", "redemption"]},
                {"after": "30 days", "activity": ["redemption"]},
                {"after": "40 days", "activity": ["purchase", "referral"]},
            )
        )
    )
    if inactivity:
        points["expire_on_inactivity"] = inactivity
    earn: dict[str, Any] = {
        "id": "earn",
        "kind": "points_per_spend",
        "points": draw(st.sampled_from((1, 2, "0.5"))),
        "per": draw(st.sampled_from(("1.00", "5.00"))),
    }
    rules: list[dict[str, Any]] = [earn]
    limit = draw(limits())
    if limit:
        earn["limit"] = limit
    group = draw(st.booleans())
    for name in draw(st.lists(st.sampled_from(("first", "weekend", "bag")), unique=True)):
        bonus: dict[str, Any] = {
            "id": name,
            "kind": "bonus_points",
            "points": draw(st.sampled_from((10, 50, 150))),
            "priority": draw(st.integers(0, 2)),
        }
        if name == "first":
            bonus["once_per_customer"] = True
        elif name == "weekend":
            bonus["when"] = {"weekdays": ["saturday", "sunday"]}
        else:
            bonus["when"] = {"skus": ["b"]}
        if group:
            bonus["exclusive_group"] = "offers"
        limit = draw(limits())
        if limit:
            bonus["limit"] = limit
        rules.append(bonus)
    # Gifts: at dates (a group of them may compete) or at a purchase (in the purchase group).
    at_purchase = draw(st.booleans())
    gift_group = draw(st.booleans())
    for name in draw(st.lists(st.sampled_from(("welcome", "hello")), unique=True)):
        signup: dict[str, Any] = {
            "id": name,
            "kind": "signup_bonus",
            "points": draw(st.sampled_from((30, 100))),
        }
        if at_purchase:
            signup["min_first_purchase"] = draw(st.sampled_from(("0", "10.00")))
            if group:
                signup["exclusive_group"] = "offers"
        elif gift_group:
            signup["exclusive_group"] = "gifts"
        limit = draw(limits())
        if limit:
            signup["limit"] = limit
        rules.append(signup)
    for name in draw(st.lists(st.sampled_from(("birthday", "cake-day")), unique=True)):
        birthday: dict[str, Any] = {"id": name, "kind": "birthday"}
        if not at_purchase and draw(st.booleans()):
            birthday["voucher"] = {"sku": "cake", "value": draw(st.sampled_from(("0.20", "5.00")))}
            points["value"] = draw(st.sampled_from(("0.01", "0.05")))  # a group may mix
            limit = draw(limits(money=True))
            if limit:
                birthday["limit"] = limit
        else:
            birthday["points"] = draw(st.sampled_from((25, 80)))
        if draw(st.booleans()):
            birthday["window"] = "month"
        else:
            birthday["days_around"] = draw(st.sampled_from((0, 3, 40)))
        if draw(st.booleans()):
            birthday["member_for"] = draw(st.sampled_from(("30 days", "2 months")))
        if draw(st.booleans()):
            birthday["purchase_within"] = draw(st.sampled_from(("60 days", "1 year")))
        if at_purchase:
            birthday["requires_purchase"] = True
            if draw(st.booleans()):
                birthday["when"] = {"skus": ["b"]}
            if group:
                birthday["exclusive_group"] = "offers"
        elif gift_group:
            birthday["exclusive_group"] = "gifts"
        rules.append(birthday)
    if draw(st.booleans()):
        referral: dict[str, Any] = {
            "id": "refer",
            "kind": "referral",
            "referrer": draw(
                st.sampled_from(({"points": 40}, {"points": 300}, {"voucher": VOUCHER}))
            ),
            "min_paid": draw(st.sampled_from(("0", "20.00"))),
        }
        if draw(st.booleans()):
            referral["referred"] = {"points": 60}
        if draw(st.booleans()):
            referral["hold_for"] = draw(st.sampled_from(("30 days", "1 month", "0 days")))
        if draw(st.booleans()):
            referral["when"] = {"skus": ["a"]}
        limit = draw(limits(money="voucher" in referral["referrer"]))
        if limit:
            referral["limit"] = limit
        rules.append(referral)
    if draw(st.booleans()):
        return program(
            timezone=draw(st.sampled_from(ZONES)),
            points=points,
            rules=rules,
            rewards=CATALOGUE,
            tiers=TIERS,
        )
    return program(
        timezone=draw(st.sampled_from(ZONES)),
        points=points,
        rules=rules,
        rewards=[reward for reward in CATALOGUE if "tiers" not in reward],
    )


@st.composite
def lifecycle_histories(draw: st.DrawFn) -> tuple[list[Any], list[Customer], Any]:
    # Some histories start at 01:30 or 02:30 New York time a month or a few before a
    # daylight-saving change, so that months-long periods end in a skipped or repeated hour.
    moment = draw(
        st.sampled_from(
            (
                datetime(2026, 1, 3, 12, 0, tzinfo=UTC),
                datetime(2026, 2, 8, 7, 30, tzinfo=UTC),  # 02:30 EST; 03-08 02:30 is skipped
                datetime(2026, 10, 1, 5, 30, tzinfo=UTC),  # 01:30 EDT; 11-01 01:30 repeats
                datetime(2026, 8, 1, 5, 30, tzinfo=UTC),
            )
        )
    )
    events: list[Any] = []
    bought: dict[str, tuple[str, list[list[Any]]]] = {}  # id -> customer, [sku, units left]
    redeemed: dict[str, str] = {}  # live redemption ids -> customer
    for number in range(draw(st.integers(1, 14))):
        if number:
            gap = timedelta(hours=draw(st.sampled_from(GAPS)), minutes=draw(st.integers(0, 59)))
            moment += draw(st.sampled_from((gap, gap, timedelta(days=28), timedelta(days=31))))
        id = f"e{number:02d}"
        customer = draw(st.sampled_from(("c1", "c1", "c2")))
        choice = draw(st.sampled_from(("buy", "buy", "buy", "refund", "redeem", "cancel")))
        mine = [p for p, (c, left) in bought.items() if c == customer and any(n for _, n in left)]
        if choice == "refund" and mine:
            target = draw(st.sampled_from(mine))
            left = bought[target][1]
            if draw(st.booleans()):
                events.append(Refund(id=id, customer_id=customer, at=moment, purchase_id=target))
                for line in left:
                    line[1] = 0
                continue
            sku = draw(st.sampled_from([line[0] for line in left if line[1]]))
            units = sum(line[1] for line in left if line[0] == sku)
            back = draw(st.integers(1, units))
            events.append(
                Refund(
                    id=id,
                    customer_id=customer,
                    at=moment,
                    purchase_id=target,
                    lines=[RefundLine(sku=sku, quantity=back)],
                )
            )
            for line in left:
                if line[0] == sku:
                    taken = min(back, line[1])
                    line[1] -= taken
                    back -= taken
            continue
        live = [r for r, c in redeemed.items() if c == customer]
        if choice == "cancel" and live:
            target = draw(st.sampled_from(live))
            del redeemed[target]
            events.append(
                CancelRedemption(id=id, customer_id=customer, at=moment, redemption_id=target)
            )
            continue
        if choice == "redeem":
            events.append(
                Redemption(
                    id=id,
                    customer_id=customer,
                    at=moment,
                    reward=draw(st.sampled_from(REWARD_IDS)),
                    quantity=draw(st.sampled_from((1, 1, 2))),
                )
            )
            redeemed[id] = customer
            continue
        lines = draw(
            st.lists(
                st.tuples(st.sampled_from(("a", "b")), st.integers(1, 3), st.sampled_from(PRICES)),
                min_size=1,
                max_size=2,
            )
        )
        events.append(
            Purchase(
                id=id,
                customer_id=customer,
                at=moment,
                lines=[
                    {"sku": sku, "quantity": q, "unit_price": Decimal(price)}
                    for sku, q, price in lines
                ],
            )
        )
        bought[id] = (customer, [[sku, q] for sku, q, _ in lines])
    profiles = []
    for customer in ("c1", "c2", "c3"):
        if draw(st.booleans()):
            joined = datetime(2026, 1, 3, 12, 0, tzinfo=UTC) + timedelta(
                hours=draw(st.integers(-24 * 60, 24 * 60))
            )
            birthday = draw(st.none() | st.dates(date(2024, 1, 1), date(2024, 12, 31)))
            profiles.append(
                Customer(
                    customer_id=customer,
                    joined_at=draw(st.sampled_from((joined, joined, None))),
                    birthday=None if birthday is None else birthday.strftime("%m-%d"),
                    referred_by=draw(
                        st.sampled_from([None, *sorted({"c1", "c2", "c3"} - {customer})])
                    ),
                )
            )
    as_of = draw(
        st.none()
        | st.dates(date(2026, 1, 1), date(2027, 12, 31))
        | st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31)).map(
            lambda moment: moment.replace(tzinfo=UTC)
        )
    )
    return events, profiles, as_of


@settings(max_examples=250)
@given(spec=lifecycle_specs(), drawn=lifecycle_histories())
def test_drawn_lifecycles_agree_with_the_oracle(
    spec: dict[str, Any], drawn: tuple[list[Any], list[Customer], Any]
) -> None:
    events, profiles, as_of = drawn
    agree(spec, events, profiles, as_of)


def test_a_refund_that_brings_back_a_passed_deadline_expires_the_points_at_once() -> None:
    # Regression: the refund was the customer's last event, no as_of. p1 (20.00 -> 20)
    # 2026-01-03, p2 (5.00 -> 5) 2026-02-12: deadline 2026-04-13. r1 on 2026-03-24 returns
    # p2 in full: the deadline is p1's again, 2026-01-03 + 60 days = 2026-03-04, passed, so
    # p1's 20 expire after the refund's entry. The engines left them: 20 points, not 0.
    spec = program(
        timezone="UTC", points={"name": "stars", "value": "0.01", "expire_on_inactivity": "60 days"}
    )
    events = [
        buy("p1", "2026-01-03T12:00:00+00:00", ("a", 1, "20.00")),
        buy("p2", "2026-02-12T12:00:00+00:00", ("a", 1, "5.00")),
        refund("r1", "2026-03-24T12:00:00+00:00", "p2"),
    ]
    result = agree(spec, events)["c1"]
    assert result["ledger"][-2:] == [
        ("r1", "earn", "points", -5, None, None),
        ("p1", "points.expire_on_inactivity", "expiry", -20, None, None),
    ]
    assert result["points"] == 0
    # step gives the expiry with the refund, so the saved state holds 0 points too.
    model = Program.model_validate(spec)
    state = None
    for event in events:
        state, entries = step(model, state, event)
    assert [(e.event_id, e.kind, e.points) for e in entries] == [
        ("r1", "points", -5),
        ("p1", "expiry", -20),
    ]
    assert state.points == 0


def test_a_cancelled_redemption_still_kept_points_alive() -> None:
    # Inactivity 30 days, purchases and redemptions count. p1 2026-01-03 (20), x1 on 01-20
    # (-5) cancelled on 01-21 (+5): the deadline stays 01-20 + 30 days = 02-19, so p2 on
    # 02-10 finds p1's 20 alive: 20 + 1 = 21 (docs/lifecycle.md, "Inactivity").
    spec = program(
        timezone="UTC",
        points={
            "name": "stars",
            "value": "0.01",
            "expire_on_inactivity": {"after": "30 days", "activity": ["purchase", "redemption"]},
        },
        rewards=CATALOGUE,
        tiers=TIERS,
    )
    events = [
        buy("p1", "2026-01-03T12:00:00+00:00", ("a", 1, "20.00")),
        redeem("x1", "2026-01-20T12:00:00+00:00", "snack"),
        cancel("u1", "2026-01-21T12:00:00+00:00", "x1"),
        buy("p2", "2026-02-10T12:00:00+00:00", ("a", 1, "1.00")),
    ]
    assert agree(spec, events)["c1"]["points"] == 21


def test_a_birthday_without_joined_at_is_given_at_the_first_event_inside_its_window() -> None:
    # Birthday 01-01, days_around 3: the window 2025-12-29 to 2026-01-04. No joined_at: the
    # first event (2026-01-03) stands for joining, inside the window, so the gift is dated
    # 2026-01-03, not the window's start before the customer was known.
    spec = program(
        timezone="UTC",
        rules=[
            {"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1.00"},
            {"id": "birthday", "kind": "birthday", "points": 25, "days_around": 3},
        ],
    )
    events = [buy("p1", "2026-01-03T12:00:00+00:00", ("a", 1, "0.50"))]
    result = agree(spec, events, [Customer(customer_id="c1", birthday="01-01")])["c1"]
    assert result["ledger"] == [("birthday@2026-01-03", "birthday", "points", 25, None, None)]


def test_deadlines_and_expiries_at_an_event_instant_come_first() -> None:
    # An inactivity deadline at the very instant of a purchase has passed (no activity
    # came before it); a lot whose own expiry is the redemption's instant is gone, and
    # one that becomes available at that instant can be spent.
    spec = program(
        timezone="UTC", points={"name": "s", "value": "0.01", "expire_on_inactivity": "30 days"}
    )
    events = [
        buy("p1", "2026-01-03T12:00:00+00:00", ("a", 1, "20.00")),
        buy("p2", "2026-02-02T12:00:00+00:00", ("a", 1, "1.00")),  # 01-03 + 30 x 24 h
    ]
    assert agree(spec, events)["c1"]["points"] == 1
    spec = program(
        timezone="UTC",
        points={"name": "s", "value": "0.01", "expire_after": "30 days", "pending_for": "3 days"},
        rewards=CATALOGUE,
        tiers=TIERS,
    )
    events = [
        buy("p1", "2026-01-03T12:00:00+00:00", ("a", 1, "20.00")),  # expires 02-02 12:00
        buy("p2", "2026-01-30T12:00:00+00:00", ("a", 1, "5.00")),  # available 02-02 12:00
        redeem("x1", "2026-02-02T12:00:00+00:00", "snack"),  # p1 gone, p2's 5 spent
        redeem("x2", "2026-02-02T12:00:00+00:00", "snack"),  # nothing left: rejected
    ]
    result = agree(spec, events)["c1"]
    assert [e[2] for e in result["ledger"][2:]] == ["expiry", "redemption", "rejected"]


def test_a_purchase_a_points_limit_cuts_to_nothing_says_not_given() -> None:
    # docs/lifecycle.md, "How a reward is cut": a capped entry's note ends "; not given)".
    # p1 earns the day's 100 points; p2's 10 find nothing left: capped, "not given" (the
    # engines said "0 of 10 given"), in both engines.
    spec = program(
        timezone="UTC",
        rules=[
            {
                "id": "earn",
                "kind": "points_per_spend",
                "points": 1,
                "per": "1.00",
                "limit": {"per": "day", "points": 100},
            }
        ],
    )
    events = [
        buy("p1", "2026-04-03T10:00:00+00:00", ("a", 1, "100.00")),
        buy("p2", "2026-04-03T11:00:00+00:00", ("a", 1, "10.00")),
    ]
    agree(spec, events)
    for engine in ("reference", "batch"):
        ledger = evaluate(Program.model_validate(spec), events, engine=engine).customer("c1").ledger
        assert ledger[1].reason == (
            "10.00 USD paid at 1 star per 1.00 USD: 10 stars "
            "(limit reached: at most 100 stars a day; not given)"
        )


def test_a_pet_shop_referral_rewards_the_referrer_and_the_friend() -> None:
    # Refer a friend: the referrer 300 paws, the friend 100, on a first purchase paying at
    # least 20.00; at most 1 friend a year rewarded per referrer.
    spec = program(
        currency="GBP",
        timezone="Europe/London",
        points={"name": "paws", "value": "0.01", "pending_for": "14 days"},
        rules=[
            {"id": "paws", "kind": "points_per_spend", "points": 1, "per": "1.00"},
            {
                "id": "refer",
                "kind": "referral",
                "referrer": {"points": 300},
                "referred": {"points": 100},
                "min_paid": "20.00",
                "limit": {"per": "year", "rewards": 1},
            },
        ],
    )
    profiles = [
        Customer(customer_id="ben", joined_at=at("2026-03-10T12:00:00+00:00"), referred_by="amy"),
        Customer(customer_id="cat", joined_at=at("2026-03-11T12:00:00+00:00"), referred_by="amy"),
    ]
    events = [
        buy("b1", "2026-03-11T12:00:00+00:00", ("toy", 1, "15.00"), customer="ben"),  # < 20.00
        buy("b2", "2026-03-12T12:15:00+00:00", ("food", 1, "25.00"), customer="ben"),  # qualifies
        buy("c1", "2026-03-13T09:00:00+00:00", ("food", 1, "30.00"), customer="cat"),  # 2nd friend
        refund("zz", "2026-03-14T09:00:00+00:00", "b2").model_copy(update={"customer_id": "ben"}),
    ]
    result = agree(spec, events, profiles)
    # amy: 300 available at once for b2; cat's purchase is capped by the year's 1 reward.
    assert result["amy"]["ledger"] == [
        ("b2", "refer", "points", 300, None, None),
        ("c1", "refer", "capped", None, None, None),
    ]
    assert (result["amy"]["available"], result["amy"]["pending"]) == (300, 0)
    # ben: 15 + 25 + 100 earned; the refund of b2 takes 25 + 100 back; amy keeps her 300.
    assert [e[2:4] for e in result["ben"]["ledger"]] == [
        ("points", 15),
        ("points", 25),
        ("referral", None),
        ("points", 100),
        ("points", -25),
        ("points", -100),
    ]
    assert result["ben"]["points"] == 15
    # cat still gets her own 100 (the friend's gift is not limited): 30 + 100 pending.
    assert (result["cat"]["available"], result["cat"]["pending"]) == (0, 130)


def test_a_beauty_shop_birthday_gift_in_the_birthday_month_at_a_purchase() -> None:
    # A birthday gift of 250 points at the first purchase in the birthday month (one a
    # year); points expire 12 months after they were earned, rounded up to the year's end.
    spec = program(
        points={
            "name": "points",
            "value": "0.01",
            "expire_after": "12 months",
            "expire_round_up_to": "year",
        },
        rules=[
            {"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1.00"},
            {
                "id": "birthday",
                "kind": "birthday",
                "points": 250,
                "window": "month",
                "requires_purchase": True,
            },
        ],
    )
    profile = [
        Customer(customer_id="c1", joined_at=at("2025-01-05T10:00:00-05:00"), birthday="06-20")
    ]
    events = [
        buy("p1", "2026-05-31T20:00:00-04:00", ("lipstick", 1, "20.00")),  # May: 20
        buy("p2", "2026-06-02T10:00:00-04:00", ("lipstick", 1, "30.00")),  # June: 30 + 250
        buy("p3", "2026-06-25T10:00:00-04:00", ("lipstick", 1, "10.00")),  # 10, year given
        buy("p4", "2027-06-01T10:00:00-04:00", ("lipstick", 1, "5.00")),  # 5 + 250 (2027)
    ]
    result = agree(spec, events, profile, as_of=date(2027, 12, 31))["c1"]
    assert [e[3] for e in result["ledger"] if e[2] == "points"] == [20, 30, 250, 10, 5, 250]
    # Earned in 2026 (20 + 30 + 250 + 10 = 310): 12 months later is in 2027, rounded up to
    # 2028-01-01; earned in 2027 (5 + 250 = 255): 2029-01-01. All 565 still there.
    assert result["points"] == 565
    assert result["upcoming"] == [(date(2028, 1, 1), 310), (date(2029, 1, 1), 255)]
    assert agree(spec, events, profile, as_of=date(2028, 1, 1))["c1"]["points"] == 255


def test_a_reward_for_gold_members_counts_the_purchases_kept() -> None:
    # Gold from 3 purchases (lifetime); a purchase refunded in full no longer counts.
    spec = program(timezone="UTC", rewards=CATALOGUE, tiers=TIERS)
    events = [
        buy("p1", "2026-01-03T12:00:00+00:00", ("a", 1, "4.00")),  # 4 points, silver
        buy("p2", "2026-01-04T12:00:00+00:00", ("a", 1, "4.00")),  # 8
        redeem("x1", "2026-01-05T12:00:00+00:00", "lounge"),  # 2 purchases: rejected
        buy("p3", "2026-01-06T12:00:00+00:00", ("a", 1, "4.00")),  # 12, gold
        redeem("x2", "2026-01-07T12:00:00+00:00", "lounge"),  # -3: 9
        refund("r1", "2026-01-08T12:00:00+00:00", "p3"),  # -4: 5, silver again
        redeem("x3", "2026-01-09T12:00:00+00:00", "lounge"),  # rejected
        redeem("x4", "2026-01-10T12:00:00+00:00", "pin"),  # -2, value max(1.00 - 1.50, 0)
    ]
    result = agree(spec, events)["c1"]
    assert [e[2:] for e in result["ledger"] if e[0].startswith("x")] == [
        ("rejected", None, None, None),
        ("redemption", -3, 200, 1),
        ("rejected", None, None, None),
        ("redemption", -2, 0, 1),
    ]
    assert result["points"] == 3


def test_points_expiring_in_a_repeated_or_skipped_hour_expire_at_that_very_instant() -> None:
    # Regression. New York: 1 month after 2026-10-01 01:30 EDT is 2026-11-01 01:30, the
    # first of the two 01:30s (EDT, 05:30Z). 1 month after 2026-02-08 02:30 EST is
    # 2026-03-08 02:30, which the clocks skip: the pre-change offset, EST, so 07:30Z.
    # At exactly that instant the points are gone (issue 18: an instant includes itself);
    # the engines kept them (an instant in a named zone in such an hour is never equal to
    # one in another tzinfo), and expired them one instant later.
    spec = program(points={"name": "stars", "value": "0.01", "expire_after": "1 month"})
    for bought, gone in (
        ("2026-10-01T01:30:00-04:00", "2026-11-01T05:30:00+00:00"),
        ("2026-02-08T02:30:00-05:00", "2026-03-08T07:30:00+00:00"),
    ):
        events = [buy("p1", bought, ("a", 1, "20.00"))]
        before = at(gone) - timedelta(seconds=1)
        assert agree(spec, events, as_of=before)["c1"]["points"] == 20
        assert agree(spec, events, as_of=at(gone))["c1"]["points"] == 0
        # An event at that instant comes after the expiry too.
        late = [*events, buy("p2", gone, ("a", 1, "1.00"))]
        assert agree(spec, late)["c1"]["ledger"][1][2] == "expiry"


def test_a_gift_its_limit_cuts_to_nothing_does_not_compete_in_its_group() -> None:
    # Regression. Birthday month gifts in one group: a 5.00 voucher whose limit allows 3.00
    # a gift (cut to nothing: capped) and 25 points. As in a purchase's group, the capped
    # gift does not compete: capped, 25 points given, nothing set aside (the engines wrote
    # the voucher set aside, "worth 0.00 USD").
    spec = program(
        timezone="UTC",
        rules=[
            {
                "id": "voucher-gift",
                "kind": "birthday",
                "voucher": {"sku": "cake", "value": "5.00"},
                "limit": {"per": "purchase", "value": "3.00"},
                "window": "month",
                "exclusive_group": "gifts",
            },
            {
                "id": "points-gift",
                "kind": "birthday",
                "points": 25,
                "window": "month",
                "exclusive_group": "gifts",
            },
        ],
    )
    profile = [
        Customer(customer_id="c1", joined_at=at("2026-01-03T12:00:00+00:00"), birthday="01-01")
    ]
    events = [buy("p1", "2026-01-03T12:00:00+00:00", ("a", 1, "0.50"))]
    result = agree(spec, events, profile)["c1"]
    assert result["ledger"] == [
        ("voucher-gift@2026-01-03", "voucher-gift", "capped", None, None, None),
        ("points-gift@2026-01-03", "points-gift", "points", 25, None, None),
    ]


def test_a_meal_kit_referral_held_for_the_return_window() -> None:
    # Bring a friend: 500 to the referrer once the friend's first purchase of at least
    # 40.00 cannot be returned any more (30 days), 250 to the friend at once.
    spec = program(
        currency="EUR",
        timezone="Europe/Berlin",
        points={"name": "points", "value": "0.01"},
        rules=[
            {"id": "points", "kind": "points_per_spend", "points": 1, "per": "1.00"},
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
    profiles = [Customer(customer_id="bob", referred_by="ann")]
    events = [
        buy("b1", "2026-05-02T18:00:00+02:00", ("kit", 1, "50.00"), customer="bob"),  # 50+250
        refund("r1", "2026-05-12T10:00:00+02:00", "b1").model_copy(update={"customer_id": "bob"}),
        buy("b2", "2026-05-20T18:00:00+02:00", ("kit", 1, "45.00"), customer="bob"),  # again
        buy("a1", "2026-06-25T09:00:00+02:00", ("kit", 1, "10.00"), customer="ann"),
    ]
    result = agree(spec, events, profiles)
    # r1 returns all of b1 within the hold: -50, -250, and the referral is reversed; b2
    # qualifies again (the 250 were taken back, so bob gets them again), held to 06-19 18:00.
    assert [e[2:] for e in result["bob"]["ledger"]] == [
        ("points", 50, None, None),
        ("referral", None, None, None),
        ("points", 250, None, None),
        ("points", -50, None, None),
        ("points", -250, None, None),
        ("referral", None, None, -1),
        ("points", 45, None, None),
        ("referral", None, None, None),
        ("points", 250, None, None),
    ]
    assert result["bob"]["points"] == 295
    # ann: the reward of b2 at the hold's end (2026-06-19 18:00), before her own a1.
    assert result["ann"]["ledger"] == [
        ("b2", "bring", "points", 500, None, None),
        ("a1", "points", "points", 10, None, None),
    ]
