"""The batch engine resumes programs with limits, exclusive groups and gifts as the
reference engine does.

A history is split at a drawn point; the reference engine evaluates the first part and
saves each customer's state (through JSON); both engines resume the rest from those
states. The batch engine's evaluation must be the reference's (entries, balances, tiers,
totals, saved states) and the whole history's, split in two. No refusal is accepted: these
programs' states resume in the batch engine.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bonus_strategies import profiles
from helpers import at, line, purchase, refund
from rewardrules.engine.state import CustomerState, LimitUsage
from rewardrules.errors import HistoryError
from rewardrules.evaluation import batch
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent, Customer, event_sort_key
from rewardrules.program.model import Program
from strategies import (
    birthday_at_purchase_rules,
    cutoffs,
    filters,
    final_group_programs,
    histories,
    limited_group_programs,
    make_program,
    profiles_near,
    signup_at_purchase_rules,
    with_limits,
)
from test_batch_engine import LIMITED_PROGRAMS, batch_grouped_programs, dense_histories
from test_laws import assert_resumed_equals_whole


def _saved(
    program: Program, events: list[AnyEvent], customers: list[Customer] | None
) -> dict[str, CustomerState]:
    first = evaluate(program, events, customers)
    return {
        result.customer_id: CustomerState.model_validate_json(result.state.model_dump_json())
        for result in first.customers
    }


def _states(evaluation: Any) -> list[str]:
    return [result.state.model_dump_json() for result in evaluation.customers]


def resumes_as_one(
    program: Program,
    events: list[AnyEvent],
    split: int,
    customers: list[Customer] | None = None,
) -> Any:
    """Assert the batch engine resumes ``events[split:]`` from the reference's states as
    the reference does, and (when the whole history is accepted) as the whole history's
    evaluation split in two. Returns the batch evaluation (None where both refuse)."""
    events = sorted(events, key=event_sort_key)
    try:
        saved = _saved(program, events[:split], customers)
    except HistoryError:
        return None  # the first part is refused already
    rest = events[split:]
    try:
        expected: Any = evaluate(program, rest, customers, states=saved)
    except HistoryError as error:
        expected = error
    try:
        resumed: Any = evaluate(program, rest, customers, states=saved, engine="batch")
    except HistoryError as error:
        resumed = error
    if isinstance(resumed, HistoryError):
        assert isinstance(expected, HistoryError), str(resumed)
        assert str(resumed) == str(expected)
        return None
    assert not isinstance(expected, HistoryError), str(expected)
    assert resumed.to_dict() == expected.to_dict()
    assert _states(resumed) == _states(expected)
    try:
        whole = evaluate(program, events, customers)
    except HistoryError:
        return resumed
    first = evaluate(program, events[:split], customers)
    assert_resumed_equals_whole(first, resumed, whole)
    return resumed


# --- drawn: a history split anywhere, no refusal accepted ------------------------------------


@settings(max_examples=60)
@given(LIMITED_PROGRAMS, st.one_of(histories(refunds=True), dense_histories()), st.data())
def test_drawn_limited_programs_resume_as_the_reference_and_the_whole_history(
    program: Program, events: list[AnyEvent], data: st.DataObject
) -> None:
    split = data.draw(st.integers(0, len(events)), label="split")
    resumes_as_one(program, events, split)


# --- limits ------------------------------------------------------------------------------

DAILY = {
    "id": "points",
    "kind": "points_per_spend",
    "points": 1,
    "per": "1.00",
    "limit": {"per": "day", "points": 10},
}


def _given(evaluation: Any, rule: str = "points") -> list[tuple[str, str, int | None]]:
    return [
        (entry.event_id, entry.kind, entry.points)
        for customer in evaluation.customers
        for entry in customer.ledger
        if entry.rule == rule
    ]


def test_a_limit_reached_before_the_split_cuts_the_purchase_after_it() -> None:
    program = make_program([DAILY])
    events: list[AnyEvent] = [
        purchase("p1", at(0), line("tea", "8.00")),  # 8 of the day's 10
        purchase("p2", at(0, hours=2), line("tea", "5.00")),  # 2 of 5 given
        purchase("p3", at(1), line("tea", "5.00")),  # a new day: all 5
    ]
    resumed = resumes_as_one(program, events, 1)
    assert _given(resumed) == [("p2", "points", 2), ("p3", "points", 5)]
    assert resumed.customers[0].state.limits == {
        "points#0": LimitUsage(period=at(1).date().isoformat(), used=5)
    }


def test_a_weekly_limit_used_up_before_the_split_gives_nothing_after_it() -> None:
    program = make_program([{**DAILY, "limit": {"per": "week", "points": 10}}])
    monday = at(0) - timedelta(days=at(0).weekday())
    events: list[AnyEvent] = [
        purchase("p1", monday, line("tea", "12.00")),  # 10 of 12 given
        purchase("p2", monday + timedelta(days=3), line("tea", "5.00")),  # capped
        purchase("p3", monday + timedelta(days=7), line("tea", "5.00")),  # next week
    ]
    resumed = resumes_as_one(program, events, 1)
    assert _given(resumed) == [("p2", "capped", None), ("p3", "points", 5)]


def test_a_refund_after_the_split_gives_back_to_the_limit_of_its_purchase_day() -> None:
    program = make_program([DAILY], refunds={"within": "30 days"})
    events: list[AnyEvent] = [
        purchase("p1", at(0), line("tea", "4.00", 2)),  # 8 points
        refund("r1", at(0, hours=1), "p1", ("tea", 1)),  # 4 back: 4 of 10 used
        purchase("p2", at(0, hours=2), line("tea", "7.00")),  # 6 of 7 given
        refund("r2", at(1), "p1"),  # the other 4 back, a day later: day 0 is not counted
        purchase("p3", at(1, hours=1), line("tea", "9.00")),  # 9 of 10
    ]
    resumed = resumes_as_one(program, events, 1)
    assert _given(resumed) == [
        ("r1", "points", -4),
        ("p2", "points", 6),
        ("r2", "points", -4),
        ("p3", "points", 9),
    ]
    for split in range(len(events) + 1):
        resumes_as_one(program, events, split)


def test_a_limited_price_rule_counts_on_from_the_saved_rewards() -> None:
    card = {
        "id": "card",
        "kind": "every_nth_free",
        "every": 2,
        "counts": "items",
        "reward": "free",
        "limit": {"per": "month", "rewards": 1},
    }
    program = make_program([card])
    events: list[AnyEvent] = [
        purchase("p1", at(0), line("tea", "3.00", 2)),  # one free: the month's one
        purchase("p2", at(1), line("tea", "3.00", 2)),  # a card completed, none given
    ]
    resumed = resumes_as_one(program, events, 1)
    assert [entry.kind for entry in resumed.customers[0].ledger] == ["capped"]


@settings(max_examples=60)
@given(
    st.one_of(
        batch_grouped_programs(),
        with_limits(batch_grouped_programs()),
        limited_group_programs(),
    ),
    st.one_of(histories(refunds=True, payments=True), dense_histories()),
    st.data(),
)
def test_drawn_grouped_programs_resume_as_the_reference_and_the_whole_history(
    program: Program, events: list[AnyEvent], data: st.DataObject
) -> None:
    if batch.unsupported(program):
        return  # refused as a whole, not only its states
    split = data.draw(st.integers(0, len(events)), label="split")
    resumes_as_one(program, events, split)


# --- exclusive groups --------------------------------------------------------------------

GROUPED_CARD = {
    "id": "card",
    "kind": "every_nth_free",
    "every": 3,
    "counts": "items",
    "reward": "free",
    "exclusive_group": "offers",
}
GROUPED_POINTS = {
    "id": "points",
    "kind": "points_per_spend",
    "points": 1,
    "per": "1.00",
    "exclusive_group": "offers",
}


def test_a_group_winner_is_decided_by_a_card_filled_before_the_split() -> None:
    cake_points = {**GROUPED_POINTS, "when": {"skus": ["cake"]}}
    program = make_program(
        [GROUPED_CARD, cake_points], points={"value": "0.01"}, refunds={"within": "30 days"}
    )
    events: list[AnyEvent] = [
        purchase("p1", at(0), line("tea", "2.00", 2)),  # no points on tea: the card counts 2
        purchase("p2", at(1), line("tea", "2.00"), line("cake", "5.00")),  # free tea wins
        purchase("p3", at(2), line("cake", "5.00")),  # the card gives nothing: 5 points
        refund("r2", at(3), "p2", ("cake", 1)),  # the points were set aside at p2
        refund("r3", at(3, hours=1), "p3"),  # 5 points back
    ]
    resumed = resumes_as_one(program, events, 1)
    ledger = resumed.customers[0].ledger
    assert [(entry.event_id, entry.rule, entry.kind) for entry in ledger] == [
        ("p2", "card", "free"),
        ("p2", "points", "set_aside"),
        ("p3", "points", "points"),
        ("r3", "points", "points"),
    ]
    for split in range(len(events) + 1):
        resumes_as_one(program, events, split)


def test_a_limited_member_counts_on_from_the_saved_usage_in_its_group() -> None:
    limited = {**GROUPED_POINTS, "limit": {"per": "day", "points": 5}}
    bonus = {"id": "bonus", "kind": "bonus_points", "points": 3, "exclusive_group": "offers"}
    program = make_program([limited, bonus], points={"value": "0.01"})
    events: list[AnyEvent] = [
        purchase("p1", at(0), line("tea", "4.00")),  # 4 points of 5 beat the bonus's 3
        purchase("p2", at(0, hours=1), line("tea", "4.00")),  # 1 point left: the bonus wins
        purchase("p3", at(1), line("tea", "4.00")),  # a new day: 4 points again
    ]
    resumed = resumes_as_one(program, events, 1)
    given = [
        (entry.event_id, entry.rule)
        for entry in resumed.customers[0].ledger
        if entry.kind == "points"
    ]
    assert given == [("p2", "bonus"), ("p3", "points")]


def test_a_bonus_given_once_before_the_split_does_not_win_its_group_again() -> None:
    once = {**ONCE_BONUS, "exclusive_group": "offers"}
    program = make_program([once, GROUPED_POINTS], points={"value": "0.01"})
    events: list[AnyEvent] = [
        purchase("p1", at(0), line("tea", "1.00")),  # the bonus (50) wins
        purchase("p2", at(1), line("tea", "1.00")),  # given already: the point wins
    ]
    resumed = resumes_as_one(program, events, 1)
    assert [(entry.rule, entry.kind) for entry in resumed.customers[0].ledger] == [
        ("points", "points")
    ]


ONCE_BONUS = {"id": "welcome", "kind": "bonus_points", "points": 50, "once_per_customer": True}


# --- gifts ------------------------------------------------------------------------------

SIGNUP = {"id": "hello", "kind": "signup_bonus", "points": 20, "min_first_purchase": "5.00"}


@st.composite
def signup_programs(draw: st.DrawFn) -> Program:
    """A points rule and a sign-up bonus given at the first purchase after joining (now
    and then limited, in a group with the points rule, or beside a bonus once per
    customer)."""
    points: dict[str, Any] = {"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1"}
    signup = draw(signup_at_purchase_rules())
    if draw(st.booleans()):
        signup["limit"] = [{"per": draw(st.sampled_from(("day", "month"))), "points": 30}]
    if draw(st.booleans()):
        points["exclusive_group"] = signup["exclusive_group"] = "offers"
    rules = [points, signup]
    if draw(st.booleans()):
        rules.append({**ONCE_BONUS, "when": draw(filters())})
    return make_program(rules, points={"value": "0.01"}, refunds={"within": "30 days"})


@settings(max_examples=60)
@given(signup_programs(), histories(refunds=True), profiles(), st.data())
def test_drawn_signup_programs_resume_as_the_reference_and_the_whole_history(
    program: Program, events: list[AnyEvent], customers: list[Customer], data: st.DataObject
) -> None:
    split = data.draw(st.integers(0, len(events)), label="split")
    resumes_as_one(program, events, split, customers)


@settings(max_examples=60)
@given(final_group_programs(), histories(("alice", "bob"), 2, 12), st.data())
def test_drawn_final_groups_resume_as_the_reference_and_the_whole_history(
    program: Program, events: list[AnyEvent], data: st.DataObject
) -> None:
    customers = data.draw(profiles_near(events, program.timezone))
    split = data.draw(st.integers(0, len(events)), label="split")
    resumes_as_one(program, events, split, customers)


def test_a_signup_bonus_given_before_the_split_is_not_given_again() -> None:
    program = make_program([SIGNUP], refunds={"within": "30 days"})
    joined = [Customer(customer_id="c1", joined_at=at(0))]
    events: list[AnyEvent] = [
        purchase("p1", at(1), line("tea", "3.00")),  # too little: not yet
        purchase("p2", at(2), line("tea", "6.00")),  # the bonus
        purchase("p3", at(3), line("tea", "6.00")),  # given already
        refund("r2", at(4), "p2"),  # its points back; the mark stays
        purchase("p4", at(5), line("tea", "6.00")),  # still given already
    ]
    for split in range(len(events) + 1):
        resumes_as_one(program, events, split, joined)
    resumed = resumes_as_one(program, events, 3, joined)
    assert [(entry.event_id, entry.points) for entry in resumed.customers[0].ledger] == [
        ("r2", -20)
    ]
    assert resumed.customers[0].state.bonuses == ("hello",)


@st.composite
def birthday_programs(draw: st.DrawFn) -> Program:
    """A points rule and a birthday gift at a purchase (sometimes for members of some
    standing, now and then limited or in a group with the points rule)."""
    points: dict[str, Any] = {"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1"}
    birthday = draw(birthday_at_purchase_rules())
    if draw(st.booleans()):
        birthday["limit"] = [{"per": "year", "rewards": 1}]
    if draw(st.booleans()):
        points["exclusive_group"] = birthday["exclusive_group"] = "offers"
    return make_program(
        [points, birthday],
        timezone=draw(st.sampled_from(("UTC", "America/New_York", "Asia/Tokyo"))),
        points={"value": "0.01"},
        refunds={"within": "30 days"},
    )


@settings(max_examples=60)
@given(birthday_programs(), histories(("alice", "bob"), 2, 12), st.data())
def test_drawn_birthday_programs_resume_as_the_reference_and_the_whole_history(
    program: Program, events: list[AnyEvent], data: st.DataObject
) -> None:
    customers = data.draw(profiles_near(events, program.timezone))
    split = data.draw(st.integers(0, len(events)), label="split")
    resumes_as_one(program, events, split, customers)


def test_a_birthday_gift_given_before_the_split_waits_for_the_next_year() -> None:
    cake = {
        "id": "cake",
        "kind": "birthday",
        "points": 30,
        "requires_purchase": True,
        "window": "month",
        "member_for": "20 days",
    }
    program = make_program([cake], refunds={"within": "30 days"})
    born = at(0).date()
    profile = [Customer(customer_id="c1", birthday={"month": born.month, "day": born.day})]
    events: list[AnyEvent] = [
        purchase("p0", at(-30), line("tea", "1.00")),  # a member from here
        purchase("p1", at(0), line("tea", "1.00")),  # this year's gift
        purchase("p2", at(5), line("tea", "1.00")),  # the same window: given already
        purchase("p3", at(366), line("tea", "1.00")),  # next year's window: given
    ]
    for split in range(len(events) + 1):
        resumes_as_one(program, events, split, profile)
    resumed = resumes_as_one(program, events, 2, profile)
    assert [entry.event_id for entry in resumed.customers[0].ledger] == ["p3"]
    assert resumed.customers[0].state.birthdays == {"cake": born.year + 1}


def test_a_member_for_counts_from_the_saved_first_event() -> None:
    cake = {
        "id": "cake",
        "kind": "birthday",
        "points": 30,
        "requires_purchase": True,
        "window": "month",
        "member_for": "20 days",
    }
    program = make_program([cake])
    born = at(0).date()
    profile = [Customer(customer_id="c1", birthday={"month": born.month, "day": born.day})]
    events: list[AnyEvent] = [
        purchase("p0", at(-25), line("tea", "1.00")),  # the first event, before the split
        purchase("p1", at(0), line("tea", "1.00")),  # a member for 25 days: the gift
    ]
    resumed = resumes_as_one(program, events, 1, profile)
    assert [entry.event_id for entry in resumed.customers[0].ledger] == ["p1"]


@st.composite
def dated_gift_programs(draw: st.DrawFn) -> Program:
    """A points rule, a birthday given at dates (a day or month window, sometimes for
    members of some standing: ``member_for``, ``purchase_within``) and a sign-up bonus at
    joining or at a first purchase; now and then limited, or the gifts at dates in one
    exclusive group."""
    points: dict[str, Any] = {"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1"}
    birthday: dict[str, Any] = {
        "id": "cake",
        "kind": "birthday",
        "points": draw(st.sampled_from((25, 60))),
        "window": draw(st.sampled_from(("day", "month"))),
    }
    member_for = draw(st.sampled_from((None, None, "20 days")))
    if member_for is not None:
        birthday["member_for"] = member_for
    within = draw(st.sampled_from((None, None, "2 days", "30 days")))
    if within is not None:
        birthday["purchase_within"] = within
    signup: dict[str, Any] = {"id": "hello", "kind": "signup_bonus", "points": 40}
    if draw(st.booleans()):
        signup["min_first_purchase"] = "0"
    for rule in (birthday, signup):
        if not draw(st.integers(0, 2)):
            rule["limit"] = [{"per": draw(st.sampled_from(("day", "month"))), "points": 50}]
    if "min_first_purchase" not in signup and draw(st.booleans()):
        birthday["exclusive_group"] = signup["exclusive_group"] = "dated"
    return make_program(
        [points, birthday, signup],
        timezone=draw(st.sampled_from(("UTC", "America/New_York", "Asia/Tokyo"))),
        points={"value": "0.01"},
        refunds={"within": "30 days"},
    )


@settings(max_examples=60)
@given(dated_gift_programs(), histories(("alice", "bob"), 2, 12), st.data())
def test_drawn_gifts_at_dates_resume_as_the_reference_and_the_whole_history(
    program: Program, events: list[AnyEvent], data: st.DataObject
) -> None:
    customers = data.draw(profiles_near(events, program.timezone))
    split = data.draw(st.integers(0, len(events)), label="split")
    resumes_as_one(program, events, split, customers)


@settings(max_examples=60)
@given(dated_gift_programs(), histories(("alice", "bob"), 2, 12), cutoffs(), st.data())
def test_drawn_gifts_at_dates_resume_as_the_reference_up_to_a_cutoff(
    program: Program, events: list[AnyEvent], as_of: Any, data: st.DataObject
) -> None:
    customers = data.draw(profiles_near(events, program.timezone))
    events = sorted(events, key=event_sort_key)
    split = data.draw(st.integers(0, len(events)), label="split")
    try:
        saved = _saved(program, events[:split], customers)
    except HistoryError:
        return
    rest = events[split:]
    outcomes: list[Any] = []
    for engine in ("reference", "batch"):
        try:
            outcomes.append(
                evaluate(program, rest, customers, states=saved, as_of=as_of, engine=engine)
            )
        except HistoryError as error:
            outcomes.append(str(error))
    expected, resumed = outcomes
    if isinstance(expected, str) or isinstance(resumed, str):
        assert resumed == expected
        return
    assert resumed.to_dict() == expected.to_dict()
    assert _states(resumed) == _states(expected)


def test_a_birthday_gift_due_across_the_split_is_given_once() -> None:
    cake = {"id": "cake", "kind": "birthday", "points": 30, "window": "day"}
    hello = {"id": "hello", "kind": "signup_bonus", "points": 40}
    program = make_program([cake, hello], points={"value": "0.01"})
    born = at(10).date()
    profile = [
        Customer(
            customer_id="c1",
            joined_at=at(-1),
            birthday={"month": born.month, "day": born.day},
        )
    ]
    events: list[AnyEvent] = [
        purchase("p1", at(0), line("tea", "1.00")),  # the sign-up bonus, given at joining
        purchase("p2", at(5), line("tea", "1.00")),
        purchase("p3", at(20), line("tea", "1.00")),  # the birthday (day 10) given before it
        purchase("p4", at(400), line("tea", "1.00")),  # next year's, given before it
    ]
    for split in range(len(events) + 1):
        resumes_as_one(program, events, split, profile)
    resumed = resumes_as_one(program, events, 2, profile)
    assert [(entry.rule, entry.points) for entry in resumed.customers[0].ledger] == [
        ("cake", 30),
        ("cake", 30),
    ]
    assert resumed.customers[0].state.bonuses == ("hello",)
    assert resumed.customers[0].state.birthdays == {"cake": born.year + 1}
    # A resumed customer without a new event gets the gift due by ``as_of``.
    saved = _saved(program, events[:2], profile)
    as_of = at(11)
    expected = evaluate(program, [], profile, states=saved, as_of=as_of)
    idle = evaluate(program, [], profile, states=saved, as_of=as_of, engine="batch")
    assert idle.to_dict() == expected.to_dict()
    assert [entry.rule for entry in idle.customers[0].ledger] == ["cake"]
    assert idle.totals.points_issued == 30


def test_purchase_within_reads_the_saved_purchases_and_their_refunds() -> None:
    cake = {"id": "cake", "kind": "birthday", "points": 30, "purchase_within": "30 days"}
    program = make_program([cake], refunds={"within": "60 days"})
    born = at(10).date()
    profile = [Customer(customer_id="c1", birthday={"month": born.month, "day": born.day})]
    kept: list[AnyEvent] = [
        purchase("p1", at(0), line("tea", "1.00")),  # before the split
        purchase("p2", at(12), line("tea", "1.00")),  # the birthday (day 10) given before it
    ]
    resumed = resumes_as_one(program, kept, 1, profile)
    assert [entry.rule for entry in resumed.customers[0].ledger] == ["cake"]
    refunded: list[AnyEvent] = [
        purchase("p1", at(0), line("tea", "1.00")),
        refund("r1", at(5), "p1"),  # p1 refunded in full: no purchase within 30 days
        purchase("p2", at(12), line("tea", "1.00")),
    ]
    resumed = resumes_as_one(program, refunded, 1, profile)
    assert [entry.rule for entry in resumed.customers[0].ledger] == []
    at_purchase = {**cake, "requires_purchase": True, "window": "month"}
    program = make_program([at_purchase], refunds={"within": "60 days"})
    for events in (kept, refunded):
        for split in range(len(events) + 1):
            resumes_as_one(program, events, split, profile)
