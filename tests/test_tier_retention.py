"""Tier retention (``tiers.keep_for``), tier changes and the next tier of each customer.

The examples read the tier a purchase was made at from its points: the rule earns 1 point
per 1.00, doubled at silver (100.00 in the window) and tripled at gold (500.00). The window
is a rolling 30 days, so a level drops soon after the spend that earned it, and gold is
kept for 60 days after it was reached: at the first purchase made at gold.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import at, ledger, line, program, purchase, refund, run
from rewardrules.engine._state_format import instant
from rewardrules.engine.ledger import Evaluation
from rewardrules.engine.state import CustomerState
from rewardrules.engine.tiers import NextTier, TierChange
from rewardrules.errors import HistoryError
from rewardrules.evaluation.fold import evaluate, step
from rewardrules.events import Purchase
from rewardrules.program.model import Program
from strategies import Event, histories, programs

STARS = {"kind": "points_per_spend", "id": "stars", "points": "1"}


def kept(
    keep_for: str | None = "60 days", window: str = "30 days", qualify_by: str = "spend"
) -> Program:
    """Silver x2 and gold x3 (100.00 / 500.00, or 3 / 5 purchases), kept for ``keep_for``."""
    silver, gold = ("100.00", "500.00") if qualify_by == "spend" else ("3", "5")
    tiers: dict[str, Any] = {
        "qualify_by": qualify_by,
        "window": window,
        "levels": [
            {"name": "silver", "at_least": silver, "points_multiplier": "2"},
            {"name": "gold", "at_least": gold, "points_multiplier": "3"},
        ],
    }
    if keep_for is not None:
        tiers["keep_for"] = keep_for
    return program(tiers=tiers, rules=[STARS])


def ten(id: str, when: datetime) -> Purchase:
    """A 10.00 purchase: 10 points with no tier, 20 at silver, 30 at gold."""
    return purchase(id, when, line("cd", "10.00"))


def big(id: str, when: datetime, price: str = "500.00") -> Purchase:
    """One purchase of ``price`` (500.00 reaches gold)."""
    return purchase(id, when, line("sofa", price))


def points(evaluation: Evaluation) -> list[int | None]:
    """Each purchase's points, in order."""
    return [row[3] for row in ledger(evaluation) if row[2] == "points" and row[0][0] == "p"]


def changes(evaluation: Evaluation, customer: str = "c1") -> list[tuple[datetime, Any, Any]]:
    """A customer's tier changes as (at, from, to)."""
    return [
        (change.at, change.before, change.after)
        for change in evaluation.customer(customer).tier_changes
    ]


# --- keep_for ---------------------------------------------------------------------------


def test_a_kept_tier_holds_after_the_rolling_window_drops_below_it() -> None:
    evaluation = run(kept(), big("p1", at()), ten("p2", at(1)), ten("p3", at(40)))
    # p1 crosses gold at none (500); p2 is the first purchase at gold: reached on day 1.
    # On day 40 the window (from day 10) is empty, but gold is kept until day 61.
    assert points(evaluation) == [500, 30, 30]
    assert evaluation.customer("c1").tier == "gold"


def test_without_keep_for_the_window_alone_decides() -> None:
    evaluation = run(kept(None), big("p1", at()), ten("p2", at(1)), ten("p3", at(40)))
    assert points(evaluation) == [500, 30, 10]
    assert evaluation.customer("c1").tier is None
    assert evaluation.customer("c1").state.window_tier is None
    assert evaluation.customer("c1").state.tier_reached == {}


def test_a_kept_tier_ends_exactly_keep_for_after_it_was_reached() -> None:
    history = (big("p1", at()), ten("p2", at(1)))
    just_before = run(kept(), *history, ten("p3", at(61, microseconds=-1)))
    at_the_end = run(kept(), *history, ten("p3", at(61)))
    assert points(just_before) == [500, 30, 30]
    assert points(at_the_end) == [500, 30, 10]


def test_a_kept_tier_does_not_hold_below_a_higher_window_level() -> None:
    # Silver reached on day 1, then the window gives gold: gold is what applies.
    evaluation = run(
        kept(), big("p1", at(), "100.00"), big("p2", at(1), "400.00"), ten("p3", at(2))
    )
    assert points(evaluation) == [100, 800, 30]


def test_a_kept_tier_falls_back_to_a_lower_window_level_when_it_ends() -> None:
    evaluation = run(
        kept(),
        big("p1", at()),
        ten("p2", at(1)),  # gold reached
        big("p3", at(50), "120.00"),  # window empty: gold kept
        ten("p4", at(61)),  # gold ends; the window holds 120.00: silver
    )
    assert points(evaluation) == [500, 30, 360, 20]
    assert evaluation.customer("c1").tier == "silver"


def test_reaching_a_level_again_restarts_its_retention() -> None:
    evaluation = run(
        kept(),
        big("p1", at()),
        ten("p2", at(1)),  # gold reached on day 1
        ten("p3", at(40)),  # window empty: gold kept
        big("p4", at(41), "490.00"),  # window 10.00: gold kept
        ten("p5", at(42)),  # window 500.00: gold reached again on day 42, kept to day 102
        ten("p6", at(90)),  # window empty, past day 61: still gold
        ten("p7", at(102)),  # day 102: no longer
    )
    assert points(evaluation) == [500, 30, 30, 1470, 30, 30, 10]
    assert evaluation.customer("c1").state.tier_reached == {
        "silver": at(42),
        "gold": at(42),
    }


def test_staying_at_a_level_does_not_restart_its_retention() -> None:
    evaluation = run(
        kept(),
        big("p1", at()),
        ten("p2", at(1)),  # gold reached on day 1
        big("p3", at(25)),  # window 510.00: still gold, not reached again
        ten("p4", at(50)),  # window 500.00: gold
        ten("p5", at(61)),  # window 10.00; gold was reached 60 days ago: it ends
    )
    assert points(evaluation) == [500, 30, 1500, 30, 10]


def test_keep_for_in_months_counts_calendar_months_in_the_program_zone() -> None:
    history = (big("p1", at()), ten("p2", at(1)))  # gold reached 2026-03-03 12:00 UTC
    in_time = run(kept("1 month"), *history, ten("p3", datetime(2026, 4, 3, 11, 59, tzinfo=UTC)))
    too_late = run(kept("1 month"), *history, ten("p3", datetime(2026, 4, 3, 12, tzinfo=UTC)))
    assert points(in_time) == [500, 30, 30]
    assert points(too_late) == [500, 30, 10]


def test_the_reported_tier_keeps_a_level_as_of_an_instant() -> None:
    history = (big("p1", at()), ten("p2", at(1)))
    kept_then = run(kept(), *history, as_of=at(61, microseconds=-1))
    gone_then = run(kept(), *history, as_of=at(61))
    assert kept_then.customer("c1").tier == "gold"
    assert gone_then.customer("c1").tier is None


def test_keep_for_works_with_purchases_and_calendar_windows() -> None:
    # Gold from 5 purchases in the calendar month; the 6th (March 8th) is the first at gold.
    march = [ten(f"p{day}", at(day)) for day in range(1, 7)]
    evaluation = run(kept("1 month", "calendar_month", "purchases"), *march, ten("p9", at(31)))
    # April 2nd: the month started again, but gold (reached March 8th) is kept to April 8th.
    assert points(evaluation) == [10, 10, 10, 20, 20, 30, 30]


# --- tier changes -----------------------------------------------------------------------


def test_tier_changes_are_dated_at_the_purchases_that_see_them() -> None:
    evaluation = run(
        kept(),
        big("p1", at(), "100.00"),
        ten("p2", at(1)),  # silver
        big("p3", at(2), "400.00"),
        ten("p4", at(3)),  # gold
        ten("p5", at(40)),  # gold kept
        big("p6", at(63), "150.00"),  # gold ended on day 63: none
        ten("p7", at(64)),  # silver
    )
    assert changes(evaluation) == [
        (at(1), None, "silver"),
        (at(3), "silver", "gold"),
        (at(63), "gold", None),
        (at(64), None, "silver"),
    ]
    assert [change.to_dict() for change in evaluation.customer("c1").tier_changes][2] == {
        "at": "2026-05-04T12:00:00+00:00",
        "from": "gold",
        "to": None,
    }


def test_the_report_adds_the_change_it_sees_after_the_last_purchase() -> None:
    # Just after p1 the customer is silver; as of day 40 the window is empty again.
    now_silver = run(kept(None), big("p1", at(), "100.00"))
    dropped = run(kept(None), big("p1", at(), "100.00"), as_of=at(40))
    assert changes(now_silver) == [(at(), None, "silver")]
    assert changes(dropped) == []
    silver_then_none = run(kept(None), big("p1", at(), "100.00"), ten("p2", at(1)), as_of=at(40))
    assert changes(silver_then_none) == [(at(1), None, "silver"), (at(40), "silver", None)]


def test_a_date_as_of_dates_the_reported_change_at_the_last_instant_of_that_day() -> None:
    evaluation = run(kept(), big("p1", at()), ten("p2", at(1)), as_of=date(2026, 5, 3))
    # Gold was reached 2026-03-03 12:00 and is kept to 2026-05-02 12:00.
    assert changes(evaluation) == [
        (at(1), None, "gold"),
        (datetime(2026, 5, 3, 23, 59, 59, 999999, tzinfo=UTC), "gold", None),
    ]


def test_a_refund_that_lowers_the_window_shows_at_the_report() -> None:
    evaluation = run(
        kept(None),
        big("p1", at(), "100.00"),
        ten("p2", at(1)),
        refund("r1", at(2), "p1"),
    )
    assert changes(evaluation) == [(at(1), None, "silver"), (at(2), "silver", None)]


def test_a_resumed_evaluation_lists_only_its_own_changes_from_the_saved_tier() -> None:
    first = run(kept(), big("p1", at()), ten("p2", at(1)))
    saved = first.customer("c1").state
    rest = run(kept(), ten("p3", at(61)), states=[saved])
    assert changes(rest) == [(at(61), "gold", None)]


def test_without_tiers_there_are_no_changes_and_no_next_tier() -> None:
    evaluation = run(program(rules=[STARS]), ten("p1", at()))
    result = evaluation.customer("c1")
    assert result.tier_changes == ()
    assert result.next_tier is None
    assert result.to_dict()["tier_changes"] == []
    assert result.to_dict()["next_tier"] is None


# --- next tier --------------------------------------------------------------------------


def test_next_tier_by_spend_is_the_money_still_needed() -> None:
    evaluation = run(kept(), big("p1", at(), "87.65"))
    assert evaluation.customer("c1").next_tier == NextTier("silver", Decimal("12.35"))
    assert evaluation.customer("c1").to_dict()["next_tier"] == {
        "tier": "silver",
        "needs": "12.35",
    }


def test_next_tier_by_purchases_is_a_count() -> None:
    evaluation = run(
        kept(qualify_by="purchases"), ten("p1", at()), ten("p2", at(1)), ten("p3", at(2))
    )
    # Three purchases: silver; gold needs two more.
    assert evaluation.customer("c1").tier == "silver"
    assert evaluation.customer("c1").to_dict()["next_tier"] == {"tier": "gold", "needs": 2}


def test_next_tier_is_none_at_the_top_level() -> None:
    evaluation = run(kept(), big("p1", at()))
    assert evaluation.customer("c1").tier == "gold"
    assert evaluation.customer("c1").next_tier is None


def test_next_tier_counts_from_the_window_while_a_level_is_kept() -> None:
    evaluation = run(kept(), big("p1", at()), ten("p2", at(1)), big("p3", at(40), "30.00"))
    result = evaluation.customer("c1")
    # Gold is kept, but the window holds 30.00: silver is 70.00 away.
    assert result.tier == "gold"
    assert result.next_tier == NextTier("silver", Decimal("70.00"))


def test_next_tier_follows_a_refund() -> None:
    evaluation = run(kept(), big("p1", at(), "150.00"), refund("r1", at(1), "p1"), as_of=at(2))
    assert evaluation.customer("c1").next_tier == NextTier("silver", Decimal("100.00"))


# --- saved state ------------------------------------------------------------------------


def test_the_saved_state_keeps_the_retention_through_json() -> None:
    history = [big("p1", at()), ten("p2", at(1)), ten("p3", at(40)), ten("p4", at(60))]
    whole = run(kept(), *history)
    first = run(kept(), *history[:2])
    saved = CustomerState.model_validate_json(first.customer("c1").state.model_dump_json())
    assert saved.window_tier == "gold"
    assert saved.tier_reached == {"silver": at(1), "gold": at(1)}

    rest = run(kept(), *history[2:], states=[saved])

    assert points(rest) == [30, 30]
    assert rest.customer("c1").tier == whole.customer("c1").tier == "gold"
    assert rest.customer("c1").state == whole.customer("c1").state
    assert rest.customer("c1").state.window_tier is None


def test_step_keeps_the_retention_from_one_event_to_the_next() -> None:
    state = None
    earned = []
    for event in (big("p1", at()), ten("p2", at(1)), ten("p3", at(40))):
        state, entries = step(kept(), state, event)
        earned += [entry.points for entry in entries]
    assert earned == [500, 30, 30]


def test_a_saved_state_naming_an_unknown_tier_is_rejected() -> None:
    saved = run(kept(), big("p1", at()), ten("p2", at(1))).customer("c1").state
    broken = saved.model_copy(update={"tier_reached": {"platinum": at(1)}})
    with pytest.raises(HistoryError) as raised:
        run(kept(), ten("p3", at(2)), states=[broken])
    assert [problem.message for problem in raised.value.problems] == [
        "saved state of c1: 'platinum' is not one of the tiers (silver, gold)"
    ]


def test_a_program_without_keep_for_drops_a_saved_retention() -> None:
    saved = run(kept(), big("p1", at()), ten("p2", at(1))).customer("c1").state
    rest = run(kept(None), ten("p3", at(40)), states=[saved])
    assert points(rest) == [10]
    assert rest.customer("c1").state.tier_reached == {}


# --- the laws, with retention -----------------------------------------------------------


@st.composite
def kept_programs(draw: st.DrawFn) -> Program:
    """A program with tiers (from the law strategies) and some ``keep_for``."""
    drawn = draw(programs(with_tiers=True))
    assert drawn.tiers is not None
    keep_for = draw(st.sampled_from(("1 day", "30 days", "3 months", "1 year")))
    return drawn.model_copy(update={"tiers": drawn.tiers.model_copy(update={"keep_for": keep_for})})


@given(program=kept_programs(), events=histories(), data=st.data())
def test_with_keep_for_a_split_and_resumed_evaluation_equals_one_evaluation(
    program: Program, events: list[Event], data: st.DataObject
) -> None:
    split = data.draw(st.integers(0, len(events)), label="split")
    whole = evaluate(program, events)

    first = evaluate(program, events[:split])
    saved = [
        CustomerState.model_validate_json(result.state.model_dump_json())
        for result in first.customers
    ]
    rest = evaluate(program, events[split:], states=saved)

    for resumed, single in zip(rest.customers, whole.customers, strict=True):
        assert resumed.tier == single.tier
        assert resumed.next_tier == single.next_tier
        assert resumed.state.model_dump() == single.state.model_dump()
        assert [entry.to_dict() for entry in resumed.ledger] == [
            entry.to_dict()
            for entry in single.ledger
            if entry.event_id in {event.id for event in events[split:]}
        ]


@given(program=kept_programs(), events=histories())
def test_with_keep_for_the_tier_changes_follow_the_tiers_of_the_purchases(
    program: Program, events: list[Event]
) -> None:
    evaluation = evaluate(program, events)
    for result in evaluation.customers:
        state = result.state
        seen: list[TierChange] = []
        previous = None
        for saved in state.purchases:
            if saved.tier != previous:
                seen.append(TierChange(instant(saved.at, saved.offset), previous, saved.tier))
                previous = saved.tier
        if result.tier != previous:
            assert state.last_event_at is not None
            seen.append(TierChange(state.last_event_at, previous, result.tier))
        assert list(result.tier_changes) == seen
