"""Issue 15's lifecycle options, with values worked out by hand: inactivity that counts other
activity (and no longer counts a purchase refunded in full), status kept to the end of a
calendar year, levels whose points never expire, and tiers that qualify by points.

Every history starts on Monday 2 March 2026 at noon UTC (``at(0)``); ``at(30)`` is
1 April. The rule ``stars`` gives 1 point per 1.00 paid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from helpers import at, line, program, purchase, redemption, refund
from rewardrules import evaluate, step
from rewardrules.engine.ledger import Evaluation
from rewardrules.errors import RuleFileError
from rewardrules.events import AnyEvent, Customer
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import loads_program
from rewardrules.tools.explain.explanation import explain

STARS = {"kind": "points_per_spend", "id": "stars", "points": "1"}
MUG = {"id": "mug", "name": "Mug", "cost": 5, "value": "1.00"}
ENGINES = ("reference", "batch")
NEW_YORK = ZoneInfo("America/New_York")


def both(rules: Program, events: list[AnyEvent], **options: Any) -> Evaluation:
    """Evaluate with both engines; they must agree. Return the reference's."""
    reference = evaluate(rules, events, **options)
    batch = evaluate(rules, events, engine="batch", **options)
    assert batch.to_dict() == reference.to_dict()
    return reference


def expiries(evaluation: Evaluation) -> list[tuple[str, int | None, str]]:
    return [
        (entry.event_id, entry.points, entry.reason)
        for entry in evaluation.customer("c1").ledger
        if entry.kind == "expiry"
    ]


def resumed_at_each_event(rules: Program, events: list[AnyEvent]) -> Evaluation:
    """The history evaluated one event at a time, from saved states: must equal the whole."""
    whole = evaluate(rules, events)
    state = None
    for event in events:
        state, _ = step(rules, state, event)
    assert state == whole.customer("c1").state
    for cut in range(1, len(events)):
        first = evaluate(rules, events[:cut]).customer("c1").state
        rest = evaluate(rules, events[cut:], states=[first]).customer("c1")
        assert rest.ledger == whole.customer("c1").ledger[-len(rest.ledger) :]
        assert rest.state == whole.customer("c1").state
    return whole


# --- inactivity that counts other activity --------------------------------------------------


def inactivity(activity: list[str] | None) -> Program:
    setting: Any = "30 days" if activity is None else {"after": "30 days", "activity": activity}
    return program(rules=[STARS], points={"expire_on_inactivity": setting}, rewards=[MUG])


REDEEMING = [
    purchase("p1", at(0), line("latte", "20.00")),
    redemption("x1", at(25), "mug"),
    purchase("p2", at(50), line("latte", "1.00")),
]


def test_a_redemption_that_counts_as_activity_keeps_points_alive() -> None:
    # 20 earned, 5 spent at day 25: the deadline is day 55, after p2 at day 50.
    evaluation = both(inactivity(["purchase", "redemption"]), REDEEMING)
    assert expiries(evaluation) == []
    assert evaluation.customer("c1").points == 20 - 5 + 1


def test_by_default_only_purchases_count_and_a_redemption_does_not() -> None:
    # The deadline is p1 plus 30 days (1 April): the 15 left expire before p2.
    evaluation = both(inactivity(None), REDEEMING)
    assert expiries(evaluation) == [
        (
            "p1",
            -15,
            "15 points earned on 2026-03-02 expired on 2026-04-01 (30 days without a purchase)",
        )
    ]
    assert evaluation.customer("c1").points == 1


def test_the_expiry_names_every_kind_of_activity_that_counts() -> None:
    events = [
        purchase("p1", at(0), line("latte", "20.00")),
        purchase("p2", at(40), line("a", "1.00")),
    ]
    evaluation = both(inactivity(["purchase", "redemption", "referral"]), events)
    assert expiries(evaluation) == [
        (
            "p1",
            -20,
            "20 points earned on 2026-03-02 expired on 2026-04-01 "
            "(30 days without a purchase, redemption or referral)",
        )
    ]


def test_a_rejected_redemption_is_no_activity() -> None:
    # 3 points cannot pay for the 5-point mug: nothing was redeemed, so nothing moved.
    events = [
        purchase("p1", at(0), line("latte", "3.00")),
        redemption("x1", at(25), "mug"),
        purchase("p2", at(50), line("latte", "1.00")),
    ]
    evaluation = both(inactivity(["purchase", "redemption"]), events)
    assert [points for _, points, _ in expiries(evaluation)] == [-3]


def test_when_only_redemptions_count_a_purchase_does_not_keep_points_alive() -> None:
    events = [
        purchase("p1", at(0), line("latte", "20.00")),
        purchase("p2", at(20), line("latte", "10.00")),
        purchase("p3", at(40), line("latte", "1.00")),
    ]
    evaluation = both(inactivity(["redemption"]), events)
    # No activity ever: no deadline, nothing expires.
    assert expiries(evaluation) == []
    events.insert(1, redemption("x1", at(5), "mug"))
    evaluation = both(inactivity(["redemption"]), events)
    # Deadline day 35: the 15 left of p1 and p2's 10 expire; p3's point is after it.
    assert [(source, points) for source, points, _ in expiries(evaluation)] == [
        ("p1", -15),
        ("p2", -10),
    ]
    assert evaluation.customer("c1").points == 1


REFER = {"id": "refer", "kind": "referral", "referrer": {"points": 100}, "min_paid": "10.00"}


def test_a_friend_s_qualifying_purchase_keeps_the_referrer_s_points_alive() -> None:
    # amy earns 20 at day 0; her friend ben's purchase at day 25 gives her 100. With
    # referrals counting, the deadline is day 55 (after p2): nothing expires. With
    # purchases only, it is day 30: p1's 20 and the 100 given at day 25 expire.
    events = [
        purchase("p1", at(0), line("latte", "20.00"), customer="amy"),
        purchase("b1", at(25), line("latte", "10.00"), customer="ben"),
        purchase("p2", at(50), line("latte", "1.00"), customer="amy"),
    ]
    friend = Customer(customer_id="ben", joined_at=at(20), referred_by="amy")
    for activity, points, expired in (
        (["purchase", "referral"], 20 + 100 + 1, []),
        (None, 1, [("p1", -20), ("b1", -100)]),
    ):
        setting: Any = "30 days" if activity is None else {"after": "30 days", "activity": activity}
        rules = program(rules=[STARS, REFER], points={"expire_on_inactivity": setting})
        amy = both(rules, events, customers=[friend]).customer("amy")
        assert amy.points == points
        assert [(e.event_id, e.points) for e in amy.ledger if e.kind == "expiry"] == expired


BOUGHT_AND_RETURNED = [
    purchase("p1", at(0), line("latte", "20.00")),
    purchase("p2", at(20), line("mug", "5.00"), line("cup", "5.00")),
]


def test_a_purchase_refunded_in_full_no_longer_keeps_points_alive() -> None:
    # p2 is returned whole: the deadline goes back to p1 plus 30 days (1 April), so p1's
    # 20 expire before p3 at day 40. Before issue 15 the deadline stayed at day 50.
    events = [
        *BOUGHT_AND_RETURNED,
        refund("r1", at(21), "p2"),
        purchase("p3", at(40), line("latte", "1.00")),
    ]
    evaluation = both(inactivity(None), events)
    assert expiries(evaluation) == [
        (
            "p1",
            -20,
            "20 points earned on 2026-03-02 expired on 2026-04-01 (30 days without a purchase)",
        )
    ]
    assert evaluation.customer("c1").points == 1
    resumed_at_each_event(inactivity(None), events)


def test_a_deadline_already_passed_at_the_refund_expires_the_points_at_it() -> None:
    # p2 at day 25 kept p1's points past day 30; its return at day 35 takes that back: the
    # 20 expire at day 30 (1 April), written after the refund, before p3.
    events = [
        purchase("p1", at(0), line("latte", "20.00")),
        purchase("p2", at(25), line("mug", "10.00")),
        refund("r1", at(35), "p2"),
        purchase("p3", at(40), line("latte", "1.00")),
    ]
    evaluation = both(inactivity(None), events)
    assert [
        (entry.event_id, entry.kind, entry.points) for entry in evaluation.customer("c1").ledger
    ] == [
        ("p1", "points", 20),
        ("p2", "points", 10),
        ("r1", "points", -10),
        ("p1", "expiry", -20),
        ("p3", "points", 1),
    ]
    assert "expired on 2026-04-01" in evaluation.customer("c1").ledger[3].reason
    resumed_at_each_event(inactivity(None), events)


def test_a_purchase_partly_refunded_still_counts() -> None:
    # One of p2's two lines is returned: p2 still counts, the deadline stays at day 50.
    events = [
        *BOUGHT_AND_RETURNED,
        refund("r1", at(21), "p2", ("mug", 1)),
        purchase("p3", at(40), line("latte", "1.00")),
    ]
    evaluation = both(inactivity(None), events)
    assert expiries(evaluation) == []
    assert evaluation.customer("c1").points == 20 + 10 - 5 + 1


def test_returning_the_rest_later_takes_the_activity_back_then() -> None:
    events = [
        *BOUGHT_AND_RETURNED,
        refund("r1", at(21), "p2", ("mug", 1)),
        refund("r2", at(22), "p2", ("cup", 1)),
        purchase("p3", at(40), line("latte", "1.00")),
    ]
    evaluation = both(inactivity(None), events)
    assert [(source, points) for source, points, _ in expiries(evaluation)] == [("p1", -20)]
    resumed_at_each_event(inactivity(None), events)


def test_a_refund_in_full_after_a_redemption_keeps_the_redemption_as_activity() -> None:
    # Activity: p1 (day 0), x1 (day 10), p2 (day 20, then returned). The deadline falls
    # back to x1 plus 30 days: day 40, before p3 at day 45.
    events = [
        purchase("p1", at(0), line("latte", "20.00")),
        redemption("x1", at(10), "mug"),
        purchase("p2", at(20), line("mug", "5.00")),
        refund("r1", at(21), "p2"),
        purchase("p3", at(45), line("latte", "1.00")),
    ]
    rules = inactivity(["purchase", "redemption"])
    evaluation = both(rules, events)
    assert expiries(evaluation) == [
        (
            "p1",
            -15,
            "15 points earned on 2026-03-02 expired on 2026-04-11 "
            "(30 days without a purchase or redemption)",
        )
    ]
    resumed_at_each_event(rules, events)


def test_explain_says_what_kept_points_alive_and_what_stopped_counting() -> None:
    events = [
        purchase("p1", at(0), line("latte", "20.00")),
        redemption("x1", at(10), "mug"),
        purchase("p2", at(20), line("mug", "5.00")),
        refund("r1", at(21), "p2"),
    ]
    account = explain(inactivity(["purchase", "redemption"]), events, "c1")
    notes = [
        outcome.text
        for event in account.events
        for outcome in event.outcomes
        if outcome.rule == "points.expire_on_inactivity"
    ]
    assert notes == [
        "kept alive by redemption x1: without more activity, all points expire on 2026-04-11",
        "purchase p2 was refunded in full and no longer counts: without more activity, all "
        "points expire on 2026-04-11",
    ]
    assert "  points.expire_on_inactivity  activity  kept alive by redemption x1" in (
        account.render_text()
    )


def test_the_activity_list_names_known_kinds_once() -> None:
    with pytest.raises(ValueError, match="redemption' more than once"):
        inactivity(["redemption", "redemption"])
    with pytest.raises(ValueError, match="activity"):
        inactivity(["login"])


# --- status to the end of a calendar year --------------------------------------------------


def status(keep_until: str | None, zone: str = "UTC", **extra: Any) -> Program:
    tiers: dict[str, Any] = {
        "qualify_by": "spend",
        "window": "calendar_year",
        "levels": [{"name": "gold", "at_least": "100.00", "points_multiplier": "2"}],
    }
    if keep_until is not None:
        tiers["keep_until"] = keep_until
    return program(rules=[STARS], tiers=tiers | extra, timezone=zone)


def gold_year(*later: datetime) -> list[AnyEvent]:
    """Gold is reached at p2 (1 June 2026, after 100.00 in 2026), then purchases at ``later``."""
    events: list[AnyEvent] = [
        purchase("p1", datetime(2026, 3, 2, 12, tzinfo=NEW_YORK), line("suit", "100.00")),
        purchase("p2", datetime(2026, 6, 1, 12, tzinfo=NEW_YORK), line("tie", "10.00")),
    ]
    events += [
        purchase(f"p{number}", moment, line("sock", "10.00"))
        for number, moment in enumerate(later, 3)
    ]
    return events


def tiers_and_points(evaluation: Evaluation) -> list[tuple[str, int | None]]:
    return [
        (entry.event_id, entry.points)
        for entry in evaluation.customer("c1").ledger
        if entry.kind == "points"
    ]


def test_without_keep_until_the_calendar_window_drops_gold_in_january() -> None:
    events = gold_year(datetime(2027, 1, 5, 12, tzinfo=NEW_YORK))
    evaluation = both(status(None, "America/New_York"), events)
    assert tiers_and_points(evaluation) == [("p1", 100), ("p2", 20), ("p3", 10)]


def test_end_of_year_holds_gold_to_new_year_only() -> None:
    events = gold_year(
        datetime(2026, 12, 31, 23, 59, tzinfo=NEW_YORK),
        datetime(2027, 1, 1, 0, 0, tzinfo=NEW_YORK),
    )
    evaluation = both(status("end_of_year", "America/New_York"), events)
    # p3 on New Year's Eve is gold (the window too); p4 at local midnight: the year is new.
    assert tiers_and_points(evaluation) == [("p1", 100), ("p2", 20), ("p3", 20), ("p4", 10)]


def test_end_of_next_year_holds_gold_through_the_following_year() -> None:
    events = gold_year(
        datetime(2027, 1, 5, 12, tzinfo=NEW_YORK),
        datetime(2027, 12, 31, 23, 59, tzinfo=NEW_YORK),
        datetime(2028, 1, 1, 0, 0, tzinfo=NEW_YORK),
    )
    rules = status("end_of_next_year", "America/New_York")
    evaluation = both(rules, events)
    assert tiers_and_points(evaluation) == [
        ("p1", 100),
        ("p2", 20),
        ("p3", 20),
        ("p4", 20),
        ("p5", 10),
    ]
    resumed_at_each_event(rules, events)


def test_the_year_a_level_is_reached_in_is_the_program_s_local_year() -> None:
    # Reached at 23:30 on 31 December in New York, which is already 2027 in UTC: held to
    # local New Year 2027 only, so p4 ten minutes later is not gold.
    events: list[AnyEvent] = [
        purchase("p1", datetime(2026, 3, 2, 12, tzinfo=NEW_YORK), line("suit", "100.00")),
        purchase("p2", datetime(2026, 12, 31, 23, 30, tzinfo=NEW_YORK), line("tie", "10.00")),
        purchase("p3", datetime(2027, 1, 1, 0, 10, tzinfo=NEW_YORK), line("sock", "10.00")),
    ]
    evaluation = both(status("end_of_year", "America/New_York"), events)
    assert tiers_and_points(evaluation) == [("p1", 100), ("p2", 20), ("p3", 10)]


def test_keep_for_and_keep_until_together_are_refused_where_written() -> None:
    text = "\n".join(
        [
            "program: club",
            "name: Club",
            "currency: USD",
            "timezone: UTC",
            "tiers:",
            "  qualify_by: spend",
            "  window: calendar_year",
            "  keep_for: 12 months",
            "  keep_until: end_of_next_year",
            "  levels: [{name: gold, at_least: 100}]",
            "rules: []",
        ]
    )
    with pytest.raises(RuleFileError) as raised:
        loads_program(text, "club.yaml")
    assert [str(problem) for problem in raised.value.problems] == [
        "club.yaml:9:15: tiers.keep_until: keep_until (end_of_next_year) and keep_for "
        "(12 months) both say how long a level is kept; keep one of them"
    ]


# --- points that never expire at a level ---------------------------------------------------


def never_expiring(**points: Any) -> Program:
    return program(
        rules=[STARS],
        points=points,
        tiers={
            "qualify_by": "spend",
            "window": "30 days",
            "levels": [
                {"name": "member", "at_least": "0"},
                {"name": "gold", "at_least": "100.00", "points_never_expire": True},
            ],
        },
    )


def test_points_earned_at_the_level_never_expire_and_the_others_do() -> None:
    # p1 (member): 100 points, expire day 30. p2 (gold: the window holds p1's 100.00): 10
    # lasting points. p3 at day 50: the window (days 20-50) is empty, member again: its
    # point expires at day 80, before p4. p2's points outlive the level.
    events = [
        purchase("p1", at(0), line("suit", "100.00")),
        purchase("p2", at(10), line("tie", "10.00")),
        purchase("p3", at(50), line("sock", "1.00")),
        purchase("p4", at(100), line("sock", "1.00")),
    ]
    rules = never_expiring(expire_after="30 days")
    evaluation = both(rules, events)
    assert [(source, points) for source, points, _ in expiries(evaluation)] == [
        ("p1", -100),
        ("p3", -1),
    ]
    assert evaluation.customer("c1").points == 10 + 1
    lots = evaluation.customer("c1").state.lots
    assert [(lot.source, lot.expires_at, lot.lasting) for lot in lots] == [
        ("p2", None, True),
        ("p4", at(130), False),
    ]
    resumed_at_each_event(rules, events)


def test_points_earned_at_the_level_outlive_inactivity() -> None:
    events = [
        purchase("p1", at(0), line("suit", "100.00")),
        purchase("p2", at(1), line("tie", "10.00")),
        purchase("p3", at(40), line("sock", "1.00")),
    ]
    evaluation = both(never_expiring(expire_on_inactivity="20 days"), events)
    # The deadline (day 21) takes p1's 100; p2's 10 were earned at gold.
    assert [(source, points) for source, points, _ in expiries(evaluation)] == [("p1", -100)]
    assert evaluation.customer("c1").points == 10 + 1


def test_points_that_never_expire_where_nothing_expires_make_an_ordinary_lot() -> None:
    events = [
        purchase("p1", at(0), line("suit", "100.00")),
        purchase("p2", at(10), line("tie", "10.00")),
    ]
    state = both(never_expiring(), events).customer("c1").state
    assert [(lot.points, lot.lasting) for lot in state.lots] == [(110, False)]


# --- tiers that qualify by points ----------------------------------------------------------


def by_points() -> Program:
    return program(
        rules=[STARS],
        tiers={
            "qualify_by": "points",
            "window": "lifetime",
            "levels": [{"name": "silver", "at_least": 50, "points_multiplier": 2}],
        },
    )


def test_tiers_count_the_points_purchases_earned_less_what_refunds_take_back() -> None:
    events = [
        purchase("p1", at(0), line("a", "30.00")),  # 30 points, no tier (0 before)
        purchase("p2", at(1), line("a", "30.00")),  # 30, no tier (30 before)
        purchase("p3", at(2), line("a", "10.00")),  # silver (60): 20
        refund("r1", at(3), "p2"),  # takes back 30: 50 left, still silver
        purchase("p4", at(4), line("a", "10.00")),  # silver: 20
        refund("r2", at(5), "p1"),  # takes back 30: 40 left
        purchase("p5", at(6), line("a", "10.00")),  # below 50: no tier, 10 (then 50)
    ]
    rules = by_points()
    evaluation = both(rules, events)  # the batch engine's levels are the same
    assert [(entry.event_id, entry.points) for entry in evaluation.customer("c1").ledger] == [
        ("p1", 30),
        ("p2", 30),
        ("p3", 20),
        ("r1", -30),
        ("p4", 20),
        ("r2", -30),
        ("p5", 10),
    ]
    changes = [(change.before, change.after) for change in evaluation.customer("c1").tier_changes]
    # Silver at p3, none at p5, and silver again after it: p3, p4 and p5 hold 50 points.
    assert changes == [(None, "silver"), ("silver", None), (None, "silver")]
    assert evaluation.customer("c1").tier == "silver"
    assert evaluation.customer("c1").points == 50
    resumed_at_each_event(rules, events)


def test_explain_says_how_many_more_points_the_next_tier_needs() -> None:
    events = [purchase("p1", at(0), line("a", "30.00"))]
    account = explain(by_points(), events, "c1")
    assert "no tier yet: 20 more points earned to reach silver" in account.next_rewards


def test_a_points_threshold_must_be_whole() -> None:
    with pytest.raises(ValueError, match="a number of points must be a whole number"):
        program(
            tiers={
                "qualify_by": "points",
                "window": "lifetime",
                "levels": [{"name": "silver", "at_least": "50.5"}],
            }
        )
