"""Tiers: which level a purchase is made at, and which level a customer is reported at.

Most examples read the tier a purchase was made at from its points: the rule earns 1 point
per 1.00, and the levels multiply that by 2 (silver) and 3 (gold).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from helpers import BASE, at, ledger, line, program, purchase, refund, run
from rewardrules.program.model import Program

STARS = {"kind": "points_per_spend", "id": "stars", "points": "1"}


def tiered(
    window: str = "lifetime",
    qualify_by: str = "spend",
    rules: tuple[dict[str, Any], ...] = (),
    **fields: Any,
) -> Program:
    """Silver at 100 (x2), gold at 500 (x3) (3 and 5 purchases), with ``rules`` and stars."""
    silver, gold = ("100.00", "500.00") if qualify_by == "spend" else ("3", "5")
    tiers = {
        "qualify_by": qualify_by,
        "window": window,
        "levels": [
            {"name": "silver", "at_least": silver, "points_multiplier": "2"},
            {"name": "gold", "at_least": gold, "points_multiplier": "3"},
        ],
    }
    return program(tiers=tiers, rules=[*rules, STARS], **fields)


def points(evaluation: Any) -> list[int | None]:
    """Each purchase's points entry, in order (refund entries left out)."""
    return [row[3] for row in ledger(evaluation) if row[2] == "points" and row[0][0] == "p"]


def ten(id: str, when: datetime, **kw: Any) -> Any:
    """A 10.00 purchase: 10 points with no tier, 20 at silver, 30 at gold."""
    return purchase(id, when, line("cd", "10.00"), **kw)


# --- reaching a level -------------------------------------------------------------------


def test_the_purchase_that_crosses_a_threshold_is_not_yet_at_the_new_level() -> None:
    evaluation = run(
        tiered(),
        purchase("p1", at(), line("a", "60.00")),
        purchase("p2", at(1), line("b", "50.00")),
        ten("p3", at(2)),
    )
    # p1: 60 (none); p2: 50 (none: 60.00 before it); p3: 110.00 before it -> silver, 20
    assert points(evaluation) == [60, 50, 20]
    assert evaluation.customer("c1").tier == "silver"


def test_a_threshold_reached_exactly_counts() -> None:
    evaluation = run(tiered(), purchase("p1", at(), line("a", "100.00")), ten("p2", at(1)))
    assert points(evaluation) == [100, 20]


def test_one_cent_below_a_threshold_is_not_enough() -> None:
    evaluation = run(tiered(), purchase("p1", at(), line("a", "99.99")), ten("p2", at(1)))
    # 99.99 -> 99 points, then p2 at no tier: 10
    assert points(evaluation) == [99, 10]
    assert evaluation.customer("c1").tier == "silver"  # 109.99 after p2


def test_a_customer_is_at_the_highest_level_they_reach() -> None:
    evaluation = run(tiered(), purchase("p1", at(), line("sofa", "500.00")), ten("p2", at(1)))
    assert points(evaluation) == [500, 30]
    assert evaluation.customer("c1").tier == "gold"


def test_below_the_lowest_level_there_is_no_tier() -> None:
    evaluation = run(tiered(), ten("p1", at()))
    assert evaluation.customer("c1").tier is None


def test_spend_counts_what_was_paid_after_discounts() -> None:
    free_cake = {"kind": "every_nth_free", "id": "bogo", "every": 2, "when": {"skus": ["cake"]}}
    evaluation = run(
        tiered(rules=(free_cake,)),
        purchase("p1", at(), line("cake", "10.00", quantity=2), line("tv", "90.00")),
        ten("p2", at(1)),
    )
    # p1: 110.00 gross, 10.00 free -> 100.00 paid; p2 at silver
    assert points(evaluation) == [100, 20]


def test_spend_below_a_threshold_after_discounts_is_not_enough() -> None:
    free_cake = {"kind": "every_nth_free", "id": "bogo", "every": 2, "when": {"skus": ["cake"]}}
    evaluation = run(
        tiered(rules=(free_cake,)),
        purchase("p1", at(), line("cake", "10.00", quantity=2), line("tv", "89.99")),
        ten("p2", at(1)),
    )
    # p1: 109.99 gross but 99.99 paid: p2 has no tier
    assert points(evaluation) == [99, 10]


def test_levels_must_rise() -> None:
    tiers = {
        "qualify_by": "spend",
        "window": "lifetime",
        "levels": [
            {"name": "silver", "at_least": "100.00"},
            {"name": "gold", "at_least": "100.00"},
        ],
    }
    expected = (
        "tiers.levels[1].at_least: levels must rise: 'gold' needs 100.00, which is not more "
        "than the 100.00 of 'silver' below it"
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        program(tiers=tiers)


# --- windows ----------------------------------------------------------------------------


def test_a_rolling_window_includes_a_purchase_exactly_its_length_earlier() -> None:
    evaluation = run(
        tiered("365 days"),
        purchase("p1", at(), line("tv", "100.00")),
        ten("p2", at(365)),
    )
    # p1 is exactly 365 x 24 hours before p2: the start of the window is included
    assert points(evaluation) == [100, 20]


def test_a_rolling_window_excludes_a_purchase_one_second_older() -> None:
    evaluation = run(
        tiered("365 days"),
        purchase("p1", at(), line("tv", "100.00")),
        ten("p2", at(365, seconds=1)),
    )
    assert points(evaluation) == [100, 10]


def test_a_rolling_window_may_be_written_in_weeks() -> None:
    evaluation = run(
        tiered("52 weeks"),
        purchase("p1", at(), line("tv", "100.00")),
        ten("p2", at(364)),
        ten("p3", at(364, seconds=1)),
    )
    # 52 weeks = 364 days: p2 still sees p1 (110.00 -> silver); p3 sees only p2's 10.00
    assert points(evaluation) == [100, 20, 10]


def test_a_rolling_window_forgets_old_purchases_but_keeps_recent_ones() -> None:
    evaluation = run(
        tiered("30 days"),
        purchase("p1", at(), line("a", "60.00")),
        purchase("p2", at(20), line("b", "50.00")),
        ten("p3", at(25)),
        ten("p4", at(45)),
    )
    # p3: 110.00 in the last 30 days -> silver; p4: p1 is gone, 50.00 + 10.00 -> none
    assert points(evaluation) == [60, 50, 20, 10]


def test_a_calendar_year_window_starts_again_on_new_years_day_local_time() -> None:
    evaluation = run(
        tiered("calendar_year", timezone="Asia/Tokyo"),
        purchase("p1", datetime(2026, 12, 30, 12, tzinfo=UTC), line("tv", "100.00")),
        # 31 December 14:59 UTC is 23:59 in Tokyo: still 2026
        ten("p2", datetime(2026, 12, 31, 14, 59, tzinfo=UTC)),
        # 31 December 15:00 UTC is 1 January 00:00 in Tokyo: 2027 starts from nothing
        ten("p3", datetime(2026, 12, 31, 15, 0, tzinfo=UTC)),
    )
    assert points(evaluation) == [100, 20, 10]


def test_a_calendar_quarter_window_counts_its_quarter_only() -> None:
    evaluation = run(
        tiered("calendar_quarter"),
        purchase("p1", datetime(2026, 3, 31, 12, tzinfo=UTC), line("tv", "100.00")),
        ten("p2", datetime(2026, 3, 31, 13, tzinfo=UTC)),
        ten("p3", datetime(2026, 4, 1, 12, tzinfo=UTC)),
    )
    assert points(evaluation) == [100, 20, 10]


def test_a_calendar_month_window_counts_its_month_only() -> None:
    evaluation = run(
        tiered("calendar_month"),
        purchase("p1", datetime(2026, 1, 31, 12, tzinfo=UTC), line("tv", "100.00")),
        ten("p2", datetime(2026, 2, 1, 12, tzinfo=UTC)),
    )
    assert points(evaluation) == [100, 10]


# --- qualifying by purchases ------------------------------------------------------------


def test_qualifying_by_purchases_counts_purchases_not_money() -> None:
    evaluation = run(
        tiered(qualify_by="purchases"),
        *(purchase(f"p{n}", at(n), line("gum", "1.00")) for n in range(1, 4)),
        ten("p4", at(4)),
    )
    # silver at 3 purchases: p4 is the first made at silver
    assert points(evaluation) == [1, 1, 1, 20]


def test_a_fully_refunded_purchase_stops_counting() -> None:
    evaluation = run(
        tiered(qualify_by="purchases"),
        *(purchase(f"p{n}", at(n), line("gum", "1.00", quantity=2)) for n in range(1, 4)),
        refund("r2", at(3, hours=1), "p2"),
        ten("p4", at(4)),
    )
    # 3 purchases, one refunded in full: 2 count, p4 is not at silver
    assert points(evaluation) == [2, 2, 2, 10]
    assert evaluation.customer("c1").tier == "silver"  # p1, p3, p4


def test_a_partly_refunded_purchase_still_counts() -> None:
    evaluation = run(
        tiered(qualify_by="purchases"),
        *(purchase(f"p{n}", at(n), line("gum", "1.00", quantity=2)) for n in range(1, 4)),
        refund("r2", at(3, hours=1), "p2", ("gum", 1)),
        ten("p4", at(4)),
    )
    assert points(evaluation) == [2, 2, 2, 20]


def test_a_purchase_whose_every_line_was_free_still_counts() -> None:
    free_cake = {"kind": "every_nth_free", "id": "bogo", "every": 2, "when": {"skus": ["cake"]}}
    evaluation = run(
        tiered(qualify_by="purchases", rules=(free_cake,)),
        purchase("p1", at(1), line("cake", "1.00")),
        purchase("p2", at(2), line("cake", "1.00")),  # the second cake: free, 0.00 paid
        purchase("p3", at(3), line("gum", "1.00")),
        ten("p4", at(4)),
    )
    # p1: 1 point; p2: nothing paid, no points; p3: 1; p4 after 3 purchases: silver
    assert points(evaluation) == [1, 1, 20]


# --- refunds ----------------------------------------------------------------------------


def test_a_refund_lowers_tier_spend() -> None:
    evaluation = run(
        tiered(),
        purchase("p1", at(), line("chair", "50.00", quantity=2)),
        refund("r1", at(1), "p1", ("chair", 1)),
        ten("p2", at(2)),
    )
    # 100.00 - 50.00 = 50.00 before p2: no tier
    assert points(evaluation) == [100, 10]


def test_a_refund_lowers_the_spend_of_the_original_purchases_window_only() -> None:
    evaluation = run(
        tiered("calendar_month"),
        purchase("p1", datetime(2026, 3, 30, 12, tzinfo=UTC), line("chair", "60.00", quantity=2)),
        purchase("p2", datetime(2026, 4, 1, 12, tzinfo=UTC), line("desk", "100.00")),
        refund("r1", datetime(2026, 4, 2, 12, tzinfo=UTC), "p1", ("chair", 1)),
        ten("p3", datetime(2026, 4, 3, 12, tzinfo=UTC)),
    )
    # r1 takes 60.00 off March (120.00 -> 60.00); April keeps 100.00, so p3 is at silver
    assert points(evaluation) == [120, 100, 20]


def test_a_refund_lowers_the_reported_tier_of_the_window() -> None:
    evaluation = run(
        tiered("calendar_month"),
        purchase("p1", datetime(2026, 3, 2, 12, tzinfo=UTC), line("chair", "60.00", quantity=2)),
        refund("r1", datetime(2026, 3, 3, 12, tzinfo=UTC), "p1", ("chair", 1)),
    )
    # March: 120.00 - 60.00 = 60.00 after the refund
    assert evaluation.customer("c1").tier is None


def test_a_refund_in_a_rolling_window_lowers_its_spend() -> None:
    evaluation = run(
        tiered("365 days"),
        purchase("p1", at(), line("chair", "60.00", quantity=2)),
        refund("r1", at(1), "p1", ("chair", 1)),
        ten("p2", at(2)),
    )
    assert points(evaluation) == [120, 10]


# --- the reported tier ------------------------------------------------------------------


def test_the_reported_tier_is_as_of_a_timestamp() -> None:
    rules_program = tiered("365 days")
    history = (purchase("p1", at(), line("tv", "100.00")),)
    # at exactly 365 days the purchase is still in the window; one second later it is not
    assert run(rules_program, *history, as_of=at(365)).customer("c1").tier == "silver"
    assert run(rules_program, *history, as_of=at(365, seconds=1)).customer("c1").tier is None


def test_the_reported_tier_for_a_date_is_at_the_end_of_that_local_day() -> None:
    rules_program = tiered("calendar_month", timezone="America/New_York")
    history = (
        # 31 March 2026 23:30 in New York (EDT, UTC-4)
        purchase("p1", datetime(2026, 4, 1, 3, 30, tzinfo=UTC), line("tv", "100.00")),
    )
    # on 31 March (local) the customer is silver; on 1 April a new month has nothing
    assert run(rules_program, *history, as_of=date(2026, 3, 31)).customer("c1").tier == "silver"
    assert run(rules_program, *history, as_of=date(2026, 4, 1)).customer("c1").tier is None


def test_the_reported_tier_without_as_of_is_just_after_the_last_event() -> None:
    evaluation = run(
        tiered("30 days"),
        purchase("p1", at(), line("tv", "100.00")),
        ten("p2", at(29)),
    )
    # just after p2, p1 is 29 days old: 110.00 in the window
    assert evaluation.customer("c1").tier == "silver"


@pytest.mark.parametrize(
    ("as_of", "tier"),
    [
        (BASE, "silver"),
        (BASE + timedelta(days=30), "silver"),
        (BASE + timedelta(days=30, seconds=1), None),
    ],
)
def test_the_reported_tier_follows_the_rolling_window_to_as_of(
    as_of: datetime, tier: str | None
) -> None:
    evaluation = run(tiered("30 days"), purchase("p1", at(), line("tv", "100.00")), as_of=as_of)
    assert evaluation.customer("c1").tier == tier
