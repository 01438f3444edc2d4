"""Points after they are earned (docs/lifecycle.md): pending, expiry, redemption, debts.

Every program here earns 1 point per 1.00 paid, so a purchase of ``N.00`` earns N points,
and histories start at ``BASE``, Monday 2 March 2026 at noon UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from helpers import at, ledger, line, program, purchase, reasons, redemption, refund
from rewardrules.engine.ledger import Evaluation
from rewardrules.engine.state import CustomerState, SavedLot
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent
from rewardrules.program.model import Program

EARN = {"id": "points", "kind": "points_per_spend", "points": 1, "per": "1.00"}
"""1 point per 1.00 paid, rounded down per purchase."""

CAKE = {"id": "cake", "name": "Cake", "cost": 100, "value": "6.00"}
TOTE = {
    "id": "tote-bag",
    "name": "Tote bag",
    "cost": 40,
    "value": "3.25",
    "available": {"starts": "2026-04-01", "ends": "2026-06-30"},
}
NEW_YORK = "America/New_York"
EDT = timezone(timedelta(hours=-4))
EST = timezone(timedelta(hours=-5))
JUST = timedelta(microseconds=1)


def club(rules: tuple[dict[str, Any], ...] = (EARN,), **points: Any) -> Program:
    """A program earning 1 point per 1.00, with a cake and a tote bag in the catalogue."""
    timezone_name = points.pop("timezone", "UTC")
    return program(
        timezone=timezone_name,
        points={"value": "0.01", **points},
        rewards=[CAKE, TOTE],
        rules=list(rules),
    )


def run(rules_program: Program, *events: AnyEvent, **options: Any) -> Evaluation:
    """Evaluate purchases, refunds and redemptions given as arguments."""
    return evaluate(rules_program, events, **options)


def buy(id: str, when: datetime, amount: str, customer: str = "c1") -> AnyEvent:
    """A purchase of one ``cake-slice`` line worth ``amount``."""
    return purchase(id, when, line("cake-slice", amount), customer=customer)


def balances(evaluation: Evaluation, customer: str = "c1") -> tuple[int, int, int]:
    """(points, available_points, pending_points) of a customer."""
    result = evaluation.customer(customer)
    return result.points, result.available_points, result.pending_points


def lots(evaluation: Evaluation, customer: str = "c1") -> list[tuple[str, int]]:
    """The saved lots of a customer as (purchase id, points left)."""
    return [(lot.source, lot.points) for lot in evaluation.customer(customer).state.lots]


def expiry_of(rules_program: Program, when: datetime) -> datetime | None:
    """When the points of a purchase at ``when`` expire, read from the saved lot."""
    saved = run(rules_program, buy("p1", when, "10.00")).customer("c1").state
    return saved.lots[0].expires_at


# --- pending points ---------------------------------------------------------------------


def test_pending_points_cannot_be_redeemed_and_the_reason_says_how_many_are_pending() -> None:
    evaluation = run(
        club(pending_for="14 days"),
        buy("p1", at(0), "150.00"),
        redemption("x1", at(14) - JUST, "cake"),
        redemption("x2", at(14), "cake"),
    )

    assert ledger(evaluation) == [
        ("p1", "points", "points", 150, None, None),
        ("x1", "cake", "rejected", None, None, None),
        # earned + 14 days: the 150 points are available at that very instant.
        ("x2", "cake", "redemption", -100, Decimal("6.00"), 1),
    ]
    assert reasons(evaluation)[1] == (
        "rejected: Cake costs 100 points, but only 0 are available (150 more are still pending)"
    )
    assert balances(evaluation) == (50, 50, 0)


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (at(0), (150, 0, 150)),
        (at(14) - JUST, (150, 0, 150)),
        (at(14), (150, 150, 0)),
        (date(2026, 3, 15), (150, 0, 150)),
        (date(2026, 3, 16), (150, 150, 0)),
    ],
    ids=["at-purchase", "just-before", "at-earned-plus-14-days", "day-before", "that-day"],
)
def test_pending_points_become_available_exactly_at_earned_plus_pending_for(
    as_of: date | datetime, expected: tuple[int, int, int]
) -> None:
    evaluation = run(club(pending_for="14 days"), buy("p1", at(0), "150.00"), as_of=as_of)

    assert balances(evaluation) == expected
    assert ledger(evaluation) == [("p1", "points", "points", 150, None, None)]


def test_a_refund_inside_the_pending_period_cancels_the_points_from_their_own_lot() -> None:
    evaluation = run(
        club(pending_for="14 days"),
        buy("p1", at(0), "100.00"),
        buy("p2", at(20), "50.00"),
        refund("r2", at(21), "p2"),
        # p1's 100 points were never touched: the cake is paid with them.
        redemption("x1", at(22), "cake"),
    )

    assert ledger(evaluation) == [
        ("p1", "points", "points", 100, None, None),
        ("p2", "points", "points", 50, None, None),
        ("r2", "points", "points", -50, None, None),
        ("x1", "cake", "redemption", -100, Decimal("6.00"), 1),
    ]
    assert balances(evaluation) == (0, 0, 0)
    assert lots(evaluation) == [("p1", 0), ("p2", 0)]


def test_a_partial_refund_inside_the_pending_period_leaves_the_rest_pending() -> None:
    evaluation = run(
        club(pending_for="14 days"),
        buy("p1", at(0), "100.00"),
        purchase("p2", at(20), line("bread", "4.00", 5)),
        refund("r2", at(21), "p2", ("bread", 2)),
    )

    # 5 x 4.00 = 20 points; 2 loaves back leave 12.00 paid: 12 points, 8 taken back.
    assert ledger(evaluation)[-1] == ("r2", "points", "points", -8, None, None)
    assert balances(evaluation) == (112, 100, 12)
    assert lots(evaluation) == [("p1", 100), ("p2", 12)]


# --- expiry: when ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "earned", "expires"),
    [
        ({"expire_after": "30 days"}, at(0), at(30)),
        ({"expire_after": "2 weeks"}, at(0), at(14)),
        # A month after 31 January is the last day of February, same time of day.
        (
            {"expire_after": "1 month"},
            datetime(2026, 1, 31, 15, tzinfo=UTC),
            datetime(2026, 2, 28, 15, tzinfo=UTC),
        ),
        (
            {"expire_after": "1 month"},
            datetime(2028, 1, 31, 15, tzinfo=UTC),
            datetime(2028, 2, 29, 15, tzinfo=UTC),
        ),
        (
            {"expire_after": "1 year"},
            datetime(2028, 2, 29, 15, tzinfo=UTC),
            datetime(2029, 2, 28, 15, tzinfo=UTC),
        ),
        # 23:30 on 31 January in New York is 1 February in UTC: the month is New York's.
        (
            {"expire_after": "1 month", "timezone": NEW_YORK},
            datetime(2026, 1, 31, 23, 30, tzinfo=EST),
            datetime(2026, 2, 28, 23, 30, tzinfo=EST),
        ),
        (
            {"expire_after": "1 month"},
            datetime(2026, 1, 31, 23, 30, tzinfo=EST),
            datetime(2026, 3, 1, 4, 30, tzinfo=UTC),
        ),
        # Same local time of day across the change to summer time (8 March 2026).
        (
            {"expire_after": "1 month", "timezone": NEW_YORK},
            datetime(2026, 2, 20, 9, tzinfo=EST),
            datetime(2026, 3, 20, 9, tzinfo=EDT),
        ),
    ],
    ids=[
        "30-days",
        "2-weeks",
        "31-jan-plus-a-month",
        "31-jan-plus-a-month-in-a-leap-year",
        "29-feb-plus-a-year",
        "month-in-new-york",
        "same-instant-month-in-utc",
        "month-across-summer-time",
    ],
)
def test_points_expire_after_days_or_calendar_months_counted_from_when_they_were_earned(
    settings: dict[str, Any], earned: datetime, expires: datetime
) -> None:
    assert expiry_of(club(**settings), earned) == expires


@pytest.mark.parametrize(
    ("period", "expires"),
    [
        # 15 January 10:00 EST + 6 months = 15 July 10:00 EDT, in July ...
        ("month", datetime(2026, 8, 1, tzinfo=EDT)),  # ... so the first instant of August
        ("quarter", datetime(2026, 10, 1, tzinfo=EDT)),  # ... of the fourth quarter
        ("year", datetime(2027, 1, 1, tzinfo=EST)),  # ... of 2027
    ],
)
def test_expiry_rounds_up_to_the_end_of_the_local_calendar_period(
    period: str, expires: datetime
) -> None:
    rules_program = club(expire_after="6 months", expire_round_up_to=period, timezone=NEW_YORK)

    assert expiry_of(rules_program, datetime(2026, 1, 15, 10, tzinfo=EST)) == expires


@pytest.mark.parametrize(
    ("zone", "expires"),
    [
        # 22:00 on 31 January in New York: + 1 month = 28 February 22:00, rounded to March.
        (NEW_YORK, datetime(2026, 3, 1, tzinfo=EST)),
        # The same instant is 03:00 on 1 February in UTC: + 1 month = 1 March, to April.
        ("UTC", datetime(2026, 4, 1, tzinfo=UTC)),
    ],
)
def test_the_round_up_uses_the_programs_time_zone(zone: str, expires: datetime) -> None:
    rules_program = club(expire_after="1 month", expire_round_up_to="month", timezone=zone)

    assert expiry_of(rules_program, datetime(2026, 1, 31, 22, tzinfo=EST)) == expires


# --- expiry: the entries ---------------------------------------------------------------


def test_an_expiry_is_an_entry_on_the_earning_event_at_the_moment_it_is_due() -> None:
    rules_program = club(expire_after="30 days")
    history = (buy("p1", at(0), "40.00"), buy("p2", at(10), "5.00"))

    before = run(rules_program, *history, as_of=at(30) - JUST)
    due = run(rules_program, *history, as_of=at(30))

    assert ledger(before) == [
        ("p1", "points", "points", 40, None, None),
        ("p2", "points", "points", 5, None, None),
    ]
    assert balances(before) == (45, 45, 0)
    assert ledger(due)[2:] == [("p1", "points.expire_after", "expiry", -40, None, None)]
    assert reasons(due)[2] == (
        "40 points earned on 2026-03-02 expired on 2026-04-01 (30 days after they were earned)"
    )
    assert balances(due) == (5, 5, 0)


def test_expiry_entries_come_before_the_event_they_precede() -> None:
    evaluation = run(
        club(expire_after="30 days"),
        buy("p1", at(0), "140.00"),
        buy("p2", at(29), "20.00"),
        # At day 30 p1's 140 expire first; p2's 20 do not buy a cake.
        redemption("x1", at(30), "cake"),
    )

    assert ledger(evaluation) == [
        ("p1", "points", "points", 140, None, None),
        ("p2", "points", "points", 20, None, None),
        ("p1", "points.expire_after", "expiry", -140, None, None),
        ("x1", "cake", "rejected", None, None, None),
    ]
    assert reasons(evaluation)[3] == "rejected: Cake costs 100 points, but only 20 are available"


@pytest.mark.parametrize(
    ("as_of", "expired"),
    [
        (None, False),  # up to the last event (p2, in May) only
        (date(2026, 7, 31), False),  # the lot expires at the next local midnight: not yet
        (datetime(2026, 8, 1, tzinfo=EDT) - JUST, False),
        (date(2026, 8, 1), True),
        (datetime(2026, 8, 1, tzinfo=EDT), True),
        # 23:30 on 31 July in New York is already 1 August in UTC; the day is New York's.
        (datetime(2026, 8, 1, 3, 30, tzinfo=UTC), False),
    ],
    ids=[
        "no-as-of",
        "date-before",
        "instant-before",
        "date-of-expiry",
        "instant-of-expiry",
        "utc-date-already-august",
    ],
)
def test_expiry_entries_are_written_up_to_as_of_and_no_further(
    as_of: date | datetime | None, expired: bool
) -> None:
    # 15 January + 6 months, to the end of July: p1 expires at 1 August 00:00 New York time.
    evaluation = run(
        club(expire_after="6 months", expire_round_up_to="month", timezone=NEW_YORK),
        buy("p1", datetime(2026, 1, 15, 10, tzinfo=EST), "40.00"),
        buy("p2", datetime(2026, 5, 4, 10, tzinfo=EDT), "5.00"),
        as_of=as_of,
    )

    expiry = [("p1", "points.expire_after", "expiry", -40, None, None)]
    assert ledger(evaluation)[2:] == (expiry if expired else [])
    assert balances(evaluation) == ((5, 5, 0) if expired else (45, 45, 0))


def test_an_expiry_at_the_instant_of_the_last_event_is_written_without_as_of() -> None:
    evaluation = run(
        club(expire_after="30 days"), buy("p1", at(0), "40.00"), buy("p2", at(30), "5.00")
    )

    assert ledger(evaluation) == [
        ("p1", "points", "points", 40, None, None),
        ("p1", "points.expire_after", "expiry", -40, None, None),
        ("p2", "points", "points", 5, None, None),
    ]


def test_a_spent_lot_expires_nothing() -> None:
    evaluation = run(
        club(expire_after="30 days"),
        buy("p1", at(0), "100.00"),
        redemption("x1", at(1), "cake"),
        as_of=at(60),
    )

    assert ledger(evaluation) == [
        ("p1", "points", "points", 100, None, None),
        ("x1", "cake", "redemption", -100, Decimal("6.00"), 1),
    ]
    assert balances(evaluation) == (0, 0, 0)


def test_a_redemption_spends_the_oldest_lot_first_so_the_newer_lot_expires_later() -> None:
    rules_program = club(expire_after="30 days")
    history = (
        buy("p1", at(0), "100.00"),
        buy("p2", at(10), "100.00"),
        redemption("x1", at(20), "cake"),  # all of p1's 100
    )

    at_day_30 = run(rules_program, *history, as_of=at(30))
    at_day_40 = run(rules_program, *history, as_of=at(40))

    # p1 was spent: it expires nothing at day 30; p2's 100 expire at day 40.
    assert ledger(at_day_30) == [
        ("p1", "points", "points", 100, None, None),
        ("p2", "points", "points", 100, None, None),
        ("x1", "cake", "redemption", -100, Decimal("6.00"), 1),
    ]
    assert balances(at_day_30) == (100, 100, 0)
    assert ledger(at_day_40)[3:] == [("p2", "points.expire_after", "expiry", -100, None, None)]
    assert balances(at_day_40) == (0, 0, 0)


def test_a_redemption_from_two_lots_leaves_the_newer_lot_to_expire() -> None:
    evaluation = run(
        club(expire_after="30 days"),
        buy("p1", at(0), "60.00"),
        buy("p2", at(10), "70.00"),
        # 100 points: the 60 of p1, then 40 of p2; 30 of p2 are left.
        redemption("x1", at(20), "cake"),
        as_of=at(40),
    )

    assert ledger(evaluation)[3:] == [("p2", "points.expire_after", "expiry", -30, None, None)]
    assert balances(evaluation) == (0, 0, 0)


# --- inactivity ------------------------------------------------------------------------


def test_every_lot_expires_at_the_last_purchase_plus_the_inactivity_period() -> None:
    rules_program = club(expire_on_inactivity="90 days")
    history = (buy("p1", at(0), "10.00"), buy("p2", at(50), "20.00"))

    # The deadline is p2 + 90 days = day 140, 20 July 2026 at noon.
    before = run(rules_program, *history, as_of=at(140) - JUST)
    due = run(rules_program, *history, as_of=at(140))

    assert balances(before) == (30, 30, 0)
    assert ledger(due)[2:] == [
        ("p1", "points.expire_on_inactivity", "expiry", -10, None, None),
        ("p2", "points.expire_on_inactivity", "expiry", -20, None, None),
    ]
    assert reasons(due)[2:] == [
        "10 points earned on 2026-03-02 expired on 2026-07-20 (90 days without a purchase)",
        "20 points earned on 2026-04-21 expired on 2026-07-20 (90 days without a purchase)",
    ]
    assert balances(due) == (0, 0, 0)


def test_a_purchase_before_the_inactivity_deadline_moves_it() -> None:
    evaluation = run(
        club(expire_on_inactivity="90 days"),
        buy("p1", at(0), "10.00"),
        buy("p2", at(90) - JUST, "20.00"),
        as_of=at(179),
    )

    assert [row[2] for row in ledger(evaluation)] == ["points", "points"]
    assert balances(evaluation) == (30, 30, 0)


def test_redemptions_and_refunds_do_not_move_the_inactivity_deadline() -> None:
    evaluation = run(
        club(expire_on_inactivity="90 days"),
        buy("p1", at(0), "200.00"),
        buy("p2", at(1), "30.00"),
        redemption("x1", at(80), "cake"),
        refund("r2", at(85), "p2"),
        # p2 at day 1 set the deadline to day 91; nothing after it moved it.
        as_of=at(91),
    )

    # 200 + 30 - 100 (cake) - 30 (refund of p2, from its own lot) = 100, all of p1.
    assert ledger(evaluation)[4:] == [
        ("p1", "points.expire_on_inactivity", "expiry", -100, None, None)
    ]
    assert balances(evaluation) == (0, 0, 0)


def test_inactivity_expires_pending_points_too() -> None:
    evaluation = run(
        club(pending_for="30 days", expire_on_inactivity="7 days"),
        buy("p1", at(0), "25.00"),
        as_of=at(7),
    )

    assert ledger(evaluation)[1:] == [
        ("p1", "points.expire_on_inactivity", "expiry", -25, None, None)
    ]
    assert balances(evaluation) == (0, 0, 0)


def test_a_lot_expiring_before_the_inactivity_deadline_expires_on_its_own_date() -> None:
    evaluation = run(
        club(expire_after="60 days", expire_on_inactivity="45 days"),
        # p1 expires at day 60, before the deadline (p2 + 45 = day 75); p2 at day 90 would
        # be after it, so it goes at the deadline.
        buy("p1", at(0), "10.00"),
        buy("p2", at(30), "20.00"),
        as_of=at(100),
    )

    assert ledger(evaluation)[2:] == [
        ("p1", "points.expire_after", "expiry", -10, None, None),
        ("p2", "points.expire_on_inactivity", "expiry", -20, None, None),
    ]


# --- redemption -------------------------------------------------------------------------


def test_a_redemption_of_an_unknown_reward_is_rejected_with_the_rewards_listed() -> None:
    evaluation = run(club(), buy("p1", at(0), "500.00"), redemption("x1", at(1), "pie"))

    assert ledger(evaluation)[1:] == [("x1", "pie", "rejected", None, None, None)]
    assert reasons(evaluation)[1] == (
        "rejected: there is no reward 'pie' (the rewards are: cake, tote-bag)"
    )
    assert balances(evaluation) == (500, 500, 0)


def test_a_reward_can_be_redeemed_only_on_the_local_dates_of_its_window() -> None:
    evaluation = run(
        club(timezone=NEW_YORK),
        buy("p1", datetime(2026, 3, 1, 10, tzinfo=EST), "500.00"),
        # 23:30 on 31 March in New York is 1 April in UTC: still too early.
        redemption("x1", datetime(2026, 3, 31, 23, 30, tzinfo=EDT), "tote-bag"),
        redemption("x2", datetime(2026, 4, 1, 0, 0, tzinfo=EDT), "tote-bag"),
        redemption("x3", datetime(2026, 6, 30, 23, 59, tzinfo=EDT), "tote-bag"),
        redemption("x4", datetime(2026, 7, 1, 0, 0, tzinfo=EDT), "tote-bag"),
    )

    assert ledger(evaluation)[1:] == [
        ("x1", "tote-bag", "rejected", None, None, None),
        ("x2", "tote-bag", "redemption", -40, Decimal("3.25"), 1),
        ("x3", "tote-bag", "redemption", -40, Decimal("3.25"), 1),
        ("x4", "tote-bag", "rejected", None, None, None),
    ]
    assert reasons(evaluation)[1] == (
        "rejected: Tote bag can be redeemed from 2026-04-01 to 2026-06-30, not on 2026-03-31"
    )
    assert reasons(evaluation)[4] == (
        "rejected: Tote bag can be redeemed from 2026-04-01 to 2026-06-30, not on 2026-07-01"
    )
    assert balances(evaluation) == (420, 420, 0)


def test_a_redemption_without_enough_available_points_is_rejected_and_changes_nothing() -> None:
    evaluation = run(
        club(pending_for="14 days"),
        buy("p1", at(0), "60.00"),
        buy("p2", at(1), "39.00"),
        buy("p3", at(16), "80.00"),
        # Available: 60 + 39 = 99 of 100; p3's 80 are pending.
        redemption("x1", at(17), "cake"),
    )

    assert ledger(evaluation)[3:] == [("x1", "cake", "rejected", None, None, None)]
    assert reasons(evaluation)[3] == (
        "rejected: Cake costs 100 points, but only 99 are available (80 more are still pending)"
    )
    assert balances(evaluation) == (179, 99, 80)
    assert lots(evaluation) == [("p1", 60), ("p2", 39), ("p3", 80)]


def test_a_redemption_of_exactly_the_available_balance_leaves_zero() -> None:
    evaluation = run(club(), buy("p1", at(0), "100.00"), redemption("x1", at(1), "cake"))

    assert balances(evaluation) == (0, 0, 0)
    assert reasons(evaluation)[1] == "redeemed Cake for 100 points"


def test_a_customer_in_debt_cannot_redeem() -> None:
    evaluation = run(
        club(),
        buy("p1", at(0), "100.00"),
        redemption("x1", at(1), "cake"),
        refund("r1", at(2), "p1"),
        buy("p2", at(3), "60.00"),
        # -100 + 60 = -40: nothing is available, not even for the 40-point tote bag.
        redemption("x2", datetime(2026, 4, 2, tzinfo=UTC), "tote-bag"),
    )

    assert ledger(evaluation)[-1] == ("x2", "tote-bag", "rejected", None, None, None)
    assert reasons(evaluation)[-1] == (
        "rejected: Tote bag costs 40 points, but only 0 are available"
    )
    assert balances(evaluation) == (-40, -40, 0)


# --- refunds after spending ------------------------------------------------------------


def test_with_allow_a_refund_after_spending_leaves_a_debt_the_next_earnings_pay_first() -> None:
    rules_program = club(negative_balance="allow")
    history = (
        buy("p1", at(0), "100.00"),
        redemption("x1", at(1), "cake"),
        refund("r1", at(2), "p1"),
    )

    in_debt = run(rules_program, *history)
    paying = run(rules_program, *history, buy("p2", at(3), "30.00"))
    paid = run(rules_program, *history, buy("p2", at(3), "30.00"), buy("p3", at(4), "100.00"))

    assert ledger(in_debt) == [
        ("p1", "points", "points", 100, None, None),
        ("x1", "cake", "redemption", -100, Decimal("6.00"), 1),
        ("r1", "points", "points", -100, None, None),
    ]
    assert balances(in_debt) == (-100, -100, 0)
    assert in_debt.customer("c1").state.debt == 100
    # The 30 points of p2 pay 30 of the debt; no lot is kept.
    assert balances(paying) == (-70, -70, 0)
    assert paying.customer("c1").state.debt == 70
    assert lots(paying) == [("p1", 0)]
    # p3's 100 pay the last 70; 30 are kept. Without waiting or expiry the program keeps
    # every point in one lot (they are all alike), so they join p1's spent lot.
    assert balances(paid) == (30, 30, 0)
    assert paid.customer("c1").state.debt == 0
    assert lots(paid) == [("p1", 30)]


def test_a_debt_is_paid_before_the_new_points_start_to_wait() -> None:
    evaluation = run(
        club(pending_for="14 days"),
        buy("p1", at(0), "100.00"),
        redemption("x1", at(14), "cake"),
        refund("r1", at(15), "p1"),
        buy("p2", at(16), "150.00"),
    )

    # 150 points: 100 pay the debt at once, 50 wait in p2's lot until day 30.
    assert balances(evaluation) == (50, 0, 50)
    assert lots(evaluation)[-1] == ("p2", 50)


def test_with_clamp_a_refund_after_spending_writes_the_spent_points_off() -> None:
    evaluation = run(
        club(negative_balance="clamp"),
        buy("p1", at(0), "100.00"),
        redemption("x1", at(1), "cake"),
        refund("r1", at(2), "p1"),
    )

    assert ledger(evaluation) == [
        ("p1", "points", "points", 100, None, None),
        ("x1", "cake", "redemption", -100, Decimal("6.00"), 1),
        ("r1", "points", "points", -100, None, None),
        ("r1", "points.negative_balance", "written_off", 100, None, None),
    ]
    assert reasons(evaluation)[3] == (
        "100 points of refunded purchase p1 were already spent or expired; written off "
        "(the program clamps the balance at 0)"
    )
    assert balances(evaluation) == (0, 0, 0)
    assert evaluation.customer("c1").state.debt == 0


def test_a_refund_takes_from_the_other_lots_before_anything_is_written_off() -> None:
    evaluation = run(
        club(negative_balance="clamp"),
        buy("p1", at(0), "100.00"),
        buy("p2", at(1), "50.00"),
        # The cake takes p1's 100 (oldest first); p2 keeps its 50.
        redemption("x1", at(2), "cake"),
        # p1's 100 back: 0 from its own lot, 50 from p2's, 50 written off.
        refund("r1", at(3), "p1"),
    )

    assert ledger(evaluation)[3:] == [
        ("r1", "points", "points", -100, None, None),
        ("r1", "points.negative_balance", "written_off", 50, None, None),
    ]
    assert balances(evaluation) == (0, 0, 0)


def test_a_refund_after_expiry_leaves_a_debt_with_allow() -> None:
    evaluation = run(
        club(expire_after="30 days"),
        buy("p1", at(0), "40.00"),
        refund("r1", at(31), "p1"),
    )

    # +40 - 40 (expired) - 40 (taken back) = -40: the customer lost the points, then owes them.
    assert ledger(evaluation) == [
        ("p1", "points", "points", 40, None, None),
        ("p1", "points.expire_after", "expiry", -40, None, None),
        ("r1", "points", "points", -40, None, None),
    ]
    assert balances(evaluation) == (-40, -40, 0)


# --- earn_on ---------------------------------------------------------------------------

FREE_SECOND = {
    "id": "card",
    "kind": "every_nth_free",
    "every": 2,
    "counts": "items",
    "reward": "free",
}
TIERS = {
    "qualify_by": "purchases",
    "window": "lifetime",
    "levels": [{"name": "silver", "at_least": 1}],
}
SILVER_OFF = {"id": "silver-off", "kind": "tiered_discount", "discounts": {"silver": 10}}


@pytest.mark.parametrize(
    ("earn_on", "earned", "taken_back"),
    [
        # 2 x 5.00 with the 2nd free: 10.00 gross, 5.00 paid. One back: 5.00 gross left
        # (5 points), paid 5.00 / 2 = 2.50 left (2 points).
        ("gross", 10, -5),
        ("paid", 5, -3),
    ],
)
def test_earn_on_chooses_gross_or_paid_amounts_with_a_free_unit(
    earn_on: str, earned: int, taken_back: int
) -> None:
    evaluation = run(
        club((FREE_SECOND, EARN), earn_on=earn_on),
        purchase("p1", at(0), line("bun", "5.00", 2)),
        refund("r1", at(1), "p1", ("bun", 1)),
    )

    assert ledger(evaluation) == [
        ("p1", "card", "free", None, Decimal("5.00"), 1),
        ("p1", "points", "points", earned, None, None),
        ("r1", "points", "points", taken_back, None, None),
    ]
    assert balances(evaluation) == (earned + taken_back,) * 2 + (0,)


@pytest.mark.parametrize(("earn_on", "earned"), [("gross", 90), ("paid", 81)])
def test_earn_on_chooses_gross_or_paid_amounts_with_a_tiered_discount(
    earn_on: str, earned: int
) -> None:
    rules_program = program(
        points={"earn_on": earn_on},
        tiers=TIERS,
        rules=[SILVER_OFF, EARN],
    )

    evaluation = run(
        rules_program,
        buy("p1", at(0), "1.00"),
        # At silver: 90.00 less 10% = 81.00 paid.
        buy("p2", at(1), "90.00"),
    )

    assert ledger(evaluation)[1:] == [
        ("p2", "silver-off", "discount", None, Decimal("9.00"), 1),
        ("p2", "points", "points", earned, None, None),
    ]


# --- totals ----------------------------------------------------------------------------


def test_the_totals_count_redemptions_expiry_and_write_offs() -> None:
    evaluation = run(
        club(expire_after="30 days", negative_balance="clamp"),
        buy("p1", at(0), "150.00"),
        redemption("x1", at(1), "cake"),
        redemption("x2", at(2), "pie"),
        redemption("x3", at(3), "cake"),
        refund("r1", at(4), "p1"),
        buy("p2", at(5), "70.00", customer="c2"),
        redemption("x4", datetime(2026, 4, 1, tzinfo=UTC), "tote-bag", customer="c2"),
        as_of=at(40),
    )

    # c1: +150 -100 (cake) -150 (refund: 50 from the lot, 100 written off); x2 and x3
    # rejected. c2: +70 -40 (tote bag on 1 April), 30 left expire on day 35.
    totals = evaluation.totals
    assert (
        totals.redemptions,
        totals.points_redeemed,
        totals.redemption_value,
        totals.rejected_redemptions,
        totals.points_expired,
        totals.points_written_off,
    ) == (2, 140, 925, 2, 30, 100)
    assert (totals.points_issued, totals.points_reversed, totals.points_net) == (220, 150, 70)
    shown = totals.to_dict()
    assert (shown["redemption_value"], shown["points_cost"]) == ("9.25", "0.70")
    # Both customers end with 0 points: nothing is owed, so the cost is what the redeemed
    # rewards cost; c2's 30 expired points are breakage, beside the cost and not in it.
    assert (
        shown["points_outstanding"],
        shown["liability"],
        shown["estimated_cost"],
        shown["breakage"],
    ) == (0, "0.00", "9.25", "0.30")
    assert [balances(evaluation, customer) for customer in ("c1", "c2")] == [(0, 0, 0)] * 2


def test_the_results_show_available_and_pending_points_in_json() -> None:
    evaluation = run(
        club(pending_for="14 days"),
        buy("p1", at(0), "30.00"),
        buy("p2", at(20), "12.00"),
    )

    shown = evaluation.customer("c1").to_dict()
    assert (shown["points"], shown["available_points"], shown["pending_points"]) == (42, 30, 12)


# --- saved states ----------------------------------------------------------------------

LIFECYCLE_HISTORY: tuple[AnyEvent, ...] = (
    buy("p1", at(0), "100.00"),
    redemption("x1", at(10), "cake"),  # rejected: pending until day 14
    redemption("x2", at(14), "tote-bag"),  # rejected: not before 1 April
    buy("p2", at(20), "50.00"),
    redemption("x3", datetime(2026, 4, 1, tzinfo=UTC), "tote-bag"),  # day 30: 40 of p1
    buy("p3", at(31), "10.00"),  # p1's 60 left expired at day 30
    refund("r2", at(32), "p2", ("cake-slice", 1)),  # from p2's own lot, still pending
    buy("p4", at(70), "5.00"),  # p3 expired at day 61
)


def test_the_lifecycle_history_gives_these_entries() -> None:
    evaluation = run(club(pending_for="14 days", expire_after="30 days"), *LIFECYCLE_HISTORY)

    assert ledger(evaluation) == [
        ("p1", "points", "points", 100, None, None),
        ("x1", "cake", "rejected", None, None, None),
        ("x2", "tote-bag", "rejected", None, None, None),
        ("p2", "points", "points", 50, None, None),
        ("x3", "tote-bag", "redemption", -40, Decimal("3.25"), 1),
        # Before p3: p1 expired at day 30 with 100 - 40 = 60 left.
        ("p1", "points.expire_after", "expiry", -60, None, None),
        ("p3", "points", "points", 10, None, None),
        ("r2", "points", "points", -50, None, None),
        # Before p4: p2's emptied lot expires nothing at day 50; p3's 10 expire at day 61.
        ("p3", "points.expire_after", "expiry", -10, None, None),
        ("p4", "points", "points", 5, None, None),
    ]
    # 100 + 50 - 40 - 60 + 10 - 50 - 10 + 5 = 5, pending until day 84.
    assert balances(evaluation) == (5, 0, 5)


@pytest.mark.parametrize("split", range(len(LIFECYCLE_HISTORY) + 1))
def test_a_saved_state_with_lots_resumes_to_the_same_results(split: int) -> None:
    rules_program = club(pending_for="14 days", expire_after="30 days")
    whole = run(rules_program, *LIFECYCLE_HISTORY)

    first = run(rules_program, *LIFECYCLE_HISTORY[:split])
    saved = [
        CustomerState.model_validate_json(result.state.model_dump_json())
        for result in first.customers
    ]
    rest = evaluate(rules_program, LIFECYCLE_HISTORY[split:], states=saved)

    assert balances(rest) == balances(whole)
    assert rest.customer("c1").state == whole.customer("c1").state
    assert [*first.entries, *rest.entries] == list(whole.entries)


def test_a_saved_state_keeps_each_lot_with_its_moments() -> None:
    rules_program = club(pending_for="14 days", expire_after="30 days")

    saved = run(rules_program, *LIFECYCLE_HISTORY[:1]).customer("c1").state
    restored = CustomerState.model_validate_json(saved.model_dump_json())

    assert restored.lots == (
        SavedLot(source="p1", earned_at=at(0), available_at=at(14), expires_at=at(30), points=100),
    )
    assert restored.last_purchase_at == at(0)
