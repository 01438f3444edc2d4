"""A birthday's ``member_for`` and ``purchase_within``, worked out by hand, in both engines.

Times are UTC and the program's zone is UTC, so each edge is a plain sum of days: joined
10 February 2026 plus 30 days is 12 March 2026 (18 days to the end of February, 12 more).
Every case that the batch engine evaluates is also run through it
(``test_batch_engine.same_results``).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bonus_strategies import profiles
from helpers import ledger, line, program, purchase, refund
from rewardrules import CustomerState, HistoryError, evaluate
from rewardrules.events import AnyEvent, Customer
from rewardrules.program.model import Program, RefundSettings
from rewardrules.tools.explain.explanation import explain
from strategies import ZONES, lifecycle_histories
from test_batch_engine import same_results
from test_laws import assert_split_and_resume_equals_one_evaluation

BIRTHDAY = {"id": "bday", "kind": "birthday", "points": 100}


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def gifts(
    rule: dict[str, Any], history: list[AnyEvent], ana: Customer, **options: Any
) -> list[str]:
    """The ids of the birthday entries, after checking that both engines agree."""
    rules = program(rules=[{**BIRTHDAY, **rule}])
    assert same_results(rules, history, [ana], options.get("as_of"))
    evaluation = evaluate(rules, history, [ana], **options)
    return [row[0] for row in ledger(evaluation) if row[1] == "bday"]


def why(rule: dict[str, Any], history: list[AnyEvent], ana: Customer, **options: Any) -> list[str]:
    """Per block of the account, its id and what the birthday rule did."""
    rules = program(rules=[{**BIRTHDAY, **rule}])
    account = explain(rules, history, "c1", customers=[ana], **options)
    return [
        f"{block.event_id}: {outcome.text}"
        for block in account.events
        for outcome in block.outcomes
        if outcome.rule == "bday"
    ]


BUN = line("bun", "1.00")


# --- member_for -------------------------------------------------------------------------


def test_a_member_for_exactly_member_for_at_the_window_gets_the_gift() -> None:
    ana = Customer(customer_id="c1", birthday="03-12", joined_at=utc(2026, 2, 10))
    history = [purchase("p1", utc(2026, 3, 20), BUN)]
    assert gifts({"member_for": "30 days"}, history, ana) == ["bday@2026-03-12"]


def test_a_member_one_second_short_waits_for_next_years_birthday() -> None:
    ana = Customer(customer_id="c1", birthday="03-12", joined_at=utc(2026, 2, 10, 0, 0, 1))
    history = [purchase("p1", utc(2026, 3, 20), BUN)]
    rule = {"member_for": "30 days"}
    assert gifts(rule, history, ana, as_of=date(2027, 3, 12)) == ["bday@2027-03-12"]
    assert why(rule, history, ana, as_of=date(2027, 3, 12)) == [
        "bday@2026-03-12: not a member for 30 days yet: joined 2026-02-10",
        "bday@2027-03-12: birthday 2027 (birthday 03-12; window 2027-03-12 to 2027-03-12): "
        "100 points",
    ]


def test_without_joined_at_membership_starts_at_the_first_event() -> None:
    rule = {"member_for": "30 days"}
    ana = Customer(customer_id="c1", birthday="03-12")
    on_time = [purchase("p0", utc(2026, 2, 10), BUN), purchase("p1", utc(2026, 3, 20), BUN)]
    assert gifts(rule, on_time, ana) == ["bday@2026-03-12"]
    late = [purchase("p0", utc(2026, 2, 10, 0, 1), BUN), purchase("p1", utc(2026, 3, 20), BUN)]
    assert gifts(rule, late, ana) == []
    assert why(rule, late, ana) == [
        "bday@2026-03-12: not a member for 30 days yet: first event 2026-02-10 (no joined_at)"
    ]


def test_at_a_purchase_a_later_purchase_in_the_window_can_be_old_enough() -> None:
    # Window 10 to 14 March; joined 1 March, so a member for 10 days from 11 March 00:00.
    rule = {"member_for": "10 days", "requires_purchase": True, "days_around": 2}
    ana = Customer(customer_id="c1", birthday="03-12", joined_at=utc(2026, 3, 1))
    history = [
        purchase("p1", utc(2026, 3, 10, 23, 59), BUN),
        purchase("p2", utc(2026, 3, 11), BUN),
        purchase("p3", utc(2026, 3, 12), BUN),
    ]
    assert gifts(rule, history, ana) == ["p2"]
    assert why(rule, history, ana) == [
        "p1: not a member for 10 days yet: joined 2026-03-01",
        "p2: birthday 2026 (birthday 03-12; window 2026-03-10 to 2026-03-14): 100 points",
        "p3: already given for 2026",
    ]


# --- purchase_within --------------------------------------------------------------------


JOINED_LONG_AGO = Customer(customer_id="c1", birthday="05-01", joined_at=utc(2025, 1, 1))


def test_a_purchase_exactly_purchase_within_before_the_window_counts() -> None:
    # 2025-05-01 plus 365 days is 2026-05-01 (no 29 February between). In 2025 the purchase
    # is at the window's very first instant: the gift comes before it, so it does not count.
    history = [purchase("p1", utc(2025, 5, 1), BUN)]
    rule = {"purchase_within": "365 days"}
    assert gifts(rule, history, JOINED_LONG_AGO, as_of=date(2026, 5, 1)) == ["bday@2026-05-01"]
    assert why(rule, history, JOINED_LONG_AGO, as_of=date(2026, 5, 1))[0] == (
        "bday@2025-05-01: no purchase in the 365 days before 2025-05-01"
    )


def test_a_purchase_a_minute_longer_before_does_not_count() -> None:
    history = [purchase("p1", utc(2025, 4, 30, 23, 59), BUN)]
    rule = {"purchase_within": "365 days"}
    assert gifts(rule, history, JOINED_LONG_AGO, as_of=date(2026, 5, 1)) == ["bday@2025-05-01"]
    assert why(rule, history, JOINED_LONG_AGO, as_of=date(2026, 5, 1))[-1] == (
        "bday@2026-05-01: no purchase in the 365 days before 2026-05-01; the last was on 2025-04-30"
    )


def test_a_purchase_refunded_in_full_before_the_gift_does_not_count() -> None:
    rule = {"purchase_within": "30 days"}
    bought = purchase("p1", utc(2026, 4, 15), line("bun", "1.00", 2))
    as_of = date(2026, 5, 3)
    before = [bought, refund("r1", utc(2026, 4, 20), "p1")]
    assert gifts(rule, before, JOINED_LONG_AGO, as_of=as_of) == []
    partly = [bought, refund("r1", utc(2026, 4, 20), "p1", ("bun", 1))]
    assert gifts(rule, partly, JOINED_LONG_AGO, as_of=as_of) == ["bday@2026-05-01"]
    # A refund after the gift cannot take back what was decided at it.
    after = [bought, refund("r1", utc(2026, 5, 2), "p1")]
    assert gifts(rule, after, JOINED_LONG_AGO, as_of=as_of) == ["bday@2026-05-01"]


def test_at_a_purchase_only_an_earlier_purchase_counts() -> None:
    # A lapsed customer: the first purchase in the window finds none before it; the second
    # finds the first.
    rule = {"purchase_within": "365 days", "requires_purchase": True, "window": "month"}
    history = [
        purchase("p1", utc(2026, 5, 3, 10, 30), BUN),
        purchase("p2", utc(2026, 5, 20), BUN),
    ]
    assert gifts(rule, history, JOINED_LONG_AGO) == ["p2"]
    assert why(rule, history, JOINED_LONG_AGO)[0] == (
        "p1: no purchase in the 365 days before 2026-05-03 10:30"
    )


def test_a_refund_before_the_next_purchase_stops_the_first_counting_for_it() -> None:
    rule = {"purchase_within": "365 days", "requires_purchase": True, "window": "month"}
    history = [
        purchase("p1", utc(2026, 5, 3), BUN),
        refund("r1", utc(2026, 5, 4), "p1"),
        purchase("p2", utc(2026, 5, 20), BUN),
        purchase("p3", utc(2026, 5, 21), BUN),
    ]
    assert gifts(rule, history, JOINED_LONG_AGO) == ["p3"]


# --- saved states -----------------------------------------------------------------------


def _resumed(refunded: bool) -> tuple[list[str], list[str], CustomerState]:
    """p1 is forgotten (refunds.within 10 days) before the save; p2, the newest, is kept
    but refunded in full; only p1 can make the 1 May gift (60 days: p1 counts to 4 May)."""
    rules = program(
        rules=[{**BIRTHDAY, "purchase_within": "60 days"}], refunds={"within": "10 days"}
    )
    before: list[AnyEvent] = [
        purchase("p1", utc(2026, 3, 5), BUN),
        *([refund("r1", utc(2026, 3, 6), "p1")] if refunded else []),
        purchase("p2", utc(2026, 4, 10), BUN),
        refund("r2", utc(2026, 4, 12), "p2"),
    ]
    after: list[AnyEvent] = [purchase("p3", utc(2026, 5, 5), BUN)]
    ana = [JOINED_LONG_AGO]
    whole = evaluate(rules, [*before, *after], ana).customer("c1")
    saved = evaluate(rules, before, ana).customer("c1").state
    resumed = evaluate(rules, after, ana, states=[saved]).customer("c1")
    assert resumed.state == whole.state
    ids = [entry.event_id for entry in whole.ledger if entry.rule == "bday"]
    return ids, [entry.event_id for entry in resumed.ledger if entry.rule == "bday"], saved


def test_a_forgotten_purchase_still_counts_after_the_state_is_saved() -> None:
    whole, resumed, saved = _resumed(refunded=False)
    assert whole == resumed == ["bday@2026-05-01"]
    assert saved.settled_purchase_at == utc(2026, 3, 5)


def test_a_forgotten_purchase_refunded_in_full_does_not_count_after_the_save() -> None:
    whole, resumed, saved = _resumed(refunded=True)
    assert whole == resumed == []
    assert (saved.forgotten_until, saved.settled_purchase_at) == (utc(2026, 3, 5), None)


def test_a_format_4_state_takes_its_latest_forgotten_purchase_to_count() -> None:
    _, _, saved = _resumed(refunded=False)
    data = saved.model_dump(mode="json")
    del data["settled_purchase_at"], data["digest"]
    data["format"] = 4
    # Format 4 saved each purchase and window pair as an array (format 6: as columns).
    data["purchases"] = json.loads(json.dumps(saved.purchases))
    data["tier_window"] = json.loads(json.dumps(saved.tier_window))
    assert CustomerState.model_validate(data).settled_purchase_at == utc(2026, 3, 5)


def test_a_saved_state_whose_settled_purchase_was_not_forgotten_is_refused() -> None:
    _, _, saved = _resumed(refunded=False)
    what_to_do = (
        " (use the state exactly as rewardrules saved it, or rebuild it by evaluating the "
        "customer's history)"
    )
    later = saved.model_dump(mode="json") | {"settled_purchase_at": "2026-04-01T00:00:00Z"}
    none_forgotten = later | {
        "forgotten_until": None,
        "settled_purchase_at": "2026-03-01T00:00:00Z",
    }
    found = []
    for data in (later, none_forgotten):
        del data["digest"]
        with pytest.raises(HistoryError) as raised:
            CustomerState.model_validate(data)
        found += [str(problem) for problem in raised.value.problems]
    assert found == [
        "state of c1.settled_purchase_at: is after forgotten_until (2026-03-05T00:00:00+00:00); "
        "it is a forgotten purchase" + what_to_do,
        "state of c1.settled_purchase_at: is a forgotten purchase, but none is forgotten"
        + what_to_do,
    ]


# --- exclusive groups (the reference engine; the batch engine refuses them) -------------


def test_a_group_member_the_customer_is_not_eligible_for_does_not_compete() -> None:
    rules = program(
        rules=[
            {**BIRTHDAY, "points": 500, "member_for": "1 year", "exclusive_group": "g"},
            {**BIRTHDAY, "id": "small", "points": 50, "exclusive_group": "g"},
        ]
    )
    ana = Customer(customer_id="c1", birthday="03-12", joined_at=utc(2026, 1, 1))
    history = [purchase("p1", utc(2026, 3, 20), BUN)]
    rows = ledger(evaluate(rules, history, [ana]))
    assert rows == [("small@2026-03-12", "small", "points", 50, None, None)]


# --- laws ---------------------------------------------------------------------------------


@st.composite
def eligible_programs(draw: st.DrawFn) -> Program:
    """Points and one or two birthday rules with member_for and purchase_within, and a
    refunds.within that makes saved states forget purchases."""
    rules: list[dict[str, Any]] = [{"id": "stars", "kind": "points_per_spend", "points": 1}]
    for index in range(draw(st.integers(1, 2))):
        rules.append(
            {
                **BIRTHDAY,
                "id": f"bday-{index}",
                "window": draw(st.sampled_from(("day", "month"))),
                "requires_purchase": draw(st.booleans()),
                "member_for": draw(st.sampled_from(("1 day", "30 days", "2 months"))),
                "purchase_within": draw(st.sampled_from(("10 days", "60 days", "365 days"))),
            }
        )
    within = draw(st.sampled_from(("5 days", "20 days", "120 days")))
    return program(rules=rules, refunds={"within": within}, timezone=draw(st.sampled_from(ZONES)))


@settings(max_examples=60, suppress_health_check=[HealthCheck.filter_too_much])
@given(eligible_programs(), lifecycle_histories(in_full=True), profiles(), st.data())
def test_resuming_from_a_saved_state_gives_the_gifts_of_the_whole_history(
    rules: Program, events: list[AnyEvent], customers: list[Customer], data: st.DataObject
) -> None:
    try:
        evaluate(rules, events, customers)
    except HistoryError:
        assume(False)  # a refund later than refunds.within: no history to split
    split = data.draw(st.integers(0, len(events)), label="split")
    assert_split_and_resume_equals_one_evaluation(rules, events, split, customers)


@settings(max_examples=60)
@given(eligible_programs(), lifecycle_histories(in_full=True), profiles(), st.randoms())
def test_the_order_of_the_input_does_not_change_the_gifts(
    rules: Program, events: list[AnyEvent], customers: list[Customer], shuffle: random.Random
) -> None:
    rules = rules.model_copy(update={"refunds": RefundSettings()})
    shuffled = list(events)
    shuffle.shuffle(shuffled)
    assert evaluate(rules, shuffled, customers).to_dict() == (
        evaluate(rules, events, customers).to_dict()
    )
    assert same_results(rules, shuffled, customers)
