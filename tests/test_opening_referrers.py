"""A migrated referrer reached only by a friend's qualifying purchase is started from their
opening, right before that referral fact, in both engines (docs/lifecycle.md, "Opening
balances").

Histories start on Monday 2 March 2026 at noon UTC (``at(0)``); prices are in USD. ``ann``
was migrated with 100 stars earned on 1 January 2025, and referred ``ben``. The referral
rule gives the referrer 500 stars and the friend 200 once the friend pays at least 10.00;
every 1.00 paid earns a star. ``ann`` has no event of her own before her friend's purchase,
no referral fact is supplied and no ``as_of`` is given: the friend's purchase is the first
thing that reaches her.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import at, line, program, purchase
from rewardrules import evaluate, explain, explain_all, step
from rewardrules.engine.ledger import Evaluation
from rewardrules.engine.state import CustomerState
from rewardrules.errors import HistoryError
from rewardrules.events import AnyEvent, Customer, OpeningLot, ReferralQualified, event_sort_key
from rewardrules.program.model import Program
from strategies import held_referral_cases
from strategies.holds import HOLD_START
from test_batch_engine import same_results

ENGINES: tuple[Literal["reference", "batch"], ...] = ("reference", "batch")
STARS = {"id": "stars", "kind": "points_per_spend", "points": 1, "per": "1.00"}
REFER = {
    "id": "refer",
    "kind": "referral",
    "referrer": {"points": 500},
    "referred": {"points": 200},
    "min_paid": "10.00",
}
CLUB = program(rules=[STARS, REFER])
GOLD_CLUB = program(
    tiers={
        "qualify_by": "spend",
        "window": {"days": 30},
        "levels": [{"name": "gold", "at_least": "500.00", "points_multiplier": 2}],
    },
    rules=[STARS, REFER],
)
JANUARY = datetime(2025, 1, 1, tzinfo=UTC)
ANN = Customer(customer_id="ann", opening_points=(OpeningLot(points=100, earned_at=JANUARY),))
BEN = Customer(customer_id="ben", referred_by="ann")
BEN_BUYS = purchase("b1", at(0), line("bun", "12.00"), customer="ben")
ANN_BUYS = purchase("a1", at(2), line("bun", "3.00"), customer="ann")


def _rows(evaluation: Evaluation, customer: str) -> list[tuple[str, str, int | None]]:
    return [
        (entry.event_id, entry.kind, entry.points) for entry in evaluation.customer(customer).ledger
    ]


def _states(evaluation: Evaluation) -> dict[str, str]:
    return {result.customer_id: result.state.model_dump_json() for result in evaluation.customers}


def _saved(evaluation: Evaluation) -> dict[str, CustomerState]:
    return {
        result.customer_id: CustomerState.model_validate_json(result.state.model_dump_json())
        for result in evaluation.customers
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_a_migrated_referrer_reached_by_a_friends_purchase_gets_their_opening(
    engine: Literal["reference", "batch"],
) -> None:
    found = evaluate(CLUB, [BEN_BUYS], [ANN, BEN], engine=engine)
    # The opening first, then the reward: 100 + 500 (it was 500 alone).
    assert _rows(found, "ann") == [("opening#1", "opening", 100), ("b1", "points", 500)]
    assert (found.customer("ann").points, found.customer("ann").available_points) == (600, 600)
    saved = found.customer("ann").state
    # Points that never expire are kept as one lot, under the first lot's source.
    assert [(lot.source, lot.points) for lot in saved.lots] == [("opening#1", 600)]
    assert saved.first_event_at == at(0)
    assert found.totals.points_issued == 100 + 500 + 12 + 200
    assert same_results(CLUB, [BEN_BUYS], [ANN, BEN])


def test_the_opening_is_placed_before_the_first_fact_not_at_the_start() -> None:
    # ben buys twice (one fact, at b1); cal, another friend, qualifies later (a second fact).
    cal = Customer(customer_id="cal", referred_by="ann")
    events: list[AnyEvent] = [
        purchase("b2", at(1), line("bun", "15.00"), customer="ben"),
        BEN_BUYS,
        purchase("c1", at(3), line("bun", "10.00"), customer="cal"),
    ]
    for engine in ENGINES:
        found = evaluate(CLUB, events, [ANN, BEN, cal], engine=engine)
        assert _rows(found, "ann") == [
            ("opening#1", "opening", 100),
            ("b1", "points", 500),
            ("c1", "points", 500),
        ]
        assert found.customer("ann").points == 1100
    assert same_results(CLUB, events, [ANN, BEN, cal])


@pytest.mark.parametrize("first_engine", ENGINES)
@pytest.mark.parametrize("second_engine", ENGINES)
def test_the_split_law_holds_for_a_referrer_first_reached_by_a_derived_fact(
    first_engine: Literal["reference", "batch"], second_engine: Literal["reference", "batch"]
) -> None:
    # ann's own purchase comes only in the second half: the first half reaches her by
    # ben's purchase alone, and its saved state must hold her opening.
    whole = evaluate(CLUB, [BEN_BUYS, ANN_BUYS], [ANN, BEN])
    assert whole.customer("ann").points == 100 + 500 + 3
    first = evaluate(CLUB, [BEN_BUYS], [ANN, BEN], engine=first_engine)
    assert _states(first) == _states(evaluate(CLUB, [BEN_BUYS], [ANN, BEN]))
    rest = evaluate(CLUB, [ANN_BUYS], [ANN, BEN], states=_saved(first), engine=second_engine)
    assert rest.customer("ann").points == 603  # it was 503: the opening was lost
    assert _rows(rest, "ann") == [("a1", "points", 3)]  # the opening is not given again
    assert _rows(first, "ann") + _rows(rest, "ann") == _rows(whole, "ann")
    assert _states(rest)["ann"] == _states(whole)["ann"]


@pytest.mark.parametrize("engine", ENGINES)
def test_an_opening_lot_after_the_friends_purchase_is_the_located_late_opening_error(
    engine: Literal["reference", "batch"],
) -> None:
    late = Customer(
        customer_id="ann",
        opening_points=(
            OpeningLot(points=100, earned_at=JANUARY),
            OpeningLot(points=40, earned_at=at(1)),
        ),
    )
    with pytest.raises(HistoryError) as raised:
        evaluate(CLUB, [BEN_BUYS], [late, BEN], engine=engine)
    [problem] = raised.value.problems
    assert problem.code == "late-opening"
    assert problem.path == ("customer ann", "opening_points", 1, "earned_at")
    assert problem.message.startswith(
        "is 2026-03-03T12:00:00+00:00, after the customer's first event (2026-03-02T12:00:00+00:00)"
    )


def test_the_late_opening_error_comes_at_the_fact_in_both_engines() -> None:
    late = Customer(customer_id="ann", opening_points=(OpeningLot(points=1, earned_at=at(1)),))
    # Without a friend's purchase ann is not started: nothing to refuse, nothing reported.
    alone = Customer(customer_id="ben")
    for engine in ENGINES:
        found = evaluate(CLUB, [BEN_BUYS], [late, alone], engine=engine)
        assert [result.customer_id for result in found.customers] == ["ben"]
    assert not same_results(CLUB, [BEN_BUYS], [late, BEN])
    # A lot at the friend's very instant is not late.
    on_time = Customer(customer_id="ann", opening_points=(OpeningLot(points=1, earned_at=at(0)),))
    assert same_results(CLUB, [BEN_BUYS], [on_time, BEN])


ZED_FACT = ReferralQualified(id="z1", customer_id="ann", at=at(3), referred="zed", rule="refer")


@pytest.mark.parametrize(
    ("events", "as_of"),
    [
        ([BEN_BUYS], date(2026, 3, 31)),  # started at the start by as_of
        ([BEN_BUYS, ANN_BUYS.model_copy(update={"at": at(5)})], None),  # by her own event
        ([BEN_BUYS, ZED_FACT], None),  # by a supplied fact (as a partition of a scale-out)
    ],
    ids=["as_of", "own-event-later", "supplied-fact-later"],
)
@pytest.mark.parametrize("engine", ENGINES)
def test_a_friends_purchase_before_the_referrers_own_events_is_their_first_event(
    events: list[AnyEvent], as_of: date | None, engine: Literal["reference", "batch"]
) -> None:
    # ann is started at the start of the evaluation, but the first event that reaches her
    # is ben's purchase at at(0): a lot earned at at(1) comes after it.
    late = Customer(customer_id="ann", opening_points=(OpeningLot(points=40, earned_at=at(1)),))
    with pytest.raises(HistoryError) as raised:
        evaluate(CLUB, events, [late, BEN], as_of, engine=engine)
    [problem] = raised.value.problems
    assert (problem.code, problem.path[-2:]) == ("late-opening", (0, "earned_at"))
    assert "after the customer's first event (2026-03-02T12:00:00+00:00)" in problem.message
    # Earned at ben's very instant, it is the opening, before his reward.
    on_time = late.model_copy(update={"opening_points": (OpeningLot(points=40, earned_at=at(0)),)})
    found = evaluate(CLUB, events, [on_time, BEN], as_of, engine=engine)
    assert _rows(found, "ann")[:2] == [("opening#1", "opening", 40), ("b1", "points", 500)]


@pytest.mark.parametrize(
    ("events", "as_of"),
    [
        ([BEN_BUYS], None),
        ([BEN_BUYS], date(2026, 3, 31)),
        ([BEN_BUYS, ANN_BUYS.model_copy(update={"at": at(5)})], None),
        ([BEN_BUYS, ZED_FACT], None),
    ],
    ids=["alone", "as_of", "own-event-later", "supplied-fact-later"],
)
def test_explain_opens_and_refuses_as_evaluate(events: list[AnyEvent], as_of: date | None) -> None:
    found = explain(CLUB, events, "ann", customers=[ANN, BEN], as_of=as_of)
    ledger = evaluate(CLUB, events, [ANN, BEN], as_of).customer("ann").ledger
    assert [entry.to_dict() for entry in found.entries] == [entry.to_dict() for entry in ledger]
    assert [event.event_id for event in found.events[:2]] == ["opening#1", "b1"]
    late = Customer(customer_id="ann", opening_points=(OpeningLot(points=40, earned_at=at(1)),))
    for explained in (
        lambda: explain(CLUB, events, "ann", customers=[late, BEN], as_of=as_of),
        lambda: explain_all(CLUB, events, customers=[late, BEN], as_of=as_of),
    ):
        with pytest.raises(HistoryError) as raised:
            explained()
        assert raised.value.problems[0].code == "late-opening"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_granted_tier_is_given_to_a_referrer_reached_by_a_friends_purchase(
    engine: Literal["reference", "batch"],
) -> None:
    gold = ANN.model_copy(update={"tier": "gold", "tier_until": at(10)})
    found = evaluate(GOLD_CLUB, [BEN_BUYS], [gold, BEN], engine=engine)
    ann = found.customer("ann")
    assert (ann.tier, ann.points) == ("gold", 600)
    assert (ann.state.tier_granted, ann.state.tier_granted_until) == ("gold", at(10))
    assert same_results(GOLD_CLUB, [BEN_BUYS], [gold, BEN])
    # Resumed: ann's own purchase at at(2), still gold, earns double (6, not 3).
    rest = evaluate(GOLD_CLUB, [ANN_BUYS], [gold, BEN], states=_saved(found), engine=engine)
    assert _rows(rest, "ann") == [("a1", "points", 6)]
    whole = evaluate(GOLD_CLUB, [BEN_BUYS, ANN_BUYS], [gold, BEN])
    assert _states(rest)["ann"] == _states(whole)["ann"]


def test_step_opens_a_migrated_referrer_at_a_referral_fact() -> None:
    fact = ReferralQualified(id="b1", customer_id="ann", at=at(0), referred="ben", rule="refer")
    state, entries = step(CLUB, None, fact, ANN)
    assert [(entry.event_id, entry.kind, entry.points) for entry in entries] == [
        ("opening#1", "opening", 100),
        ("b1", "points", 500),
    ]
    assert state.points == 600
    assert state.model_dump_json() == _states(evaluate(CLUB, [BEN_BUYS], [ANN, BEN]))["ann"]


# --- the law --------------------------------------------------------------------------------


@st.composite
def migrated_referrers(
    draw: st.DrawFn,
) -> tuple[Program, list[AnyEvent], list[Customer], int]:
    """A held-referral case whose referrer was migrated: opening lots (one sometimes earned
    within the friends' purchases: late for some), and a split of the history."""
    rules, events, customers = draw(held_referral_cases())
    lots = [
        OpeningLot(
            points=draw(st.integers(1, 300)),
            earned_at=HOLD_START - timedelta(days=draw(st.sampled_from((400, 30, 1)))),
        )
        for _ in range(draw(st.integers(1, 2)))
    ]
    if draw(st.integers(0, 4)) == 0:
        lots.append(
            OpeningLot(points=7, earned_at=HOLD_START + timedelta(hours=draw(st.integers(0, 200))))
        )
    referrer = customers[0].model_copy(update={"opening_points": tuple(lots)})
    return rules, events, [referrer, *customers[1:]], draw(st.integers(0, len(events)))


@settings(max_examples=60)
@given(migrated_referrers(), st.sampled_from((None, date(2026, 3, 10), date(2026, 4, 30))))
def test_drawn_migrated_referrers_run_and_resume_as_the_whole_history(
    drawn: tuple[Program, list[AnyEvent], list[Customer], int], as_of: date | None
) -> None:
    rules, events, customers, split = drawn
    same_results(rules, events, customers, as_of)
    events = sorted(events, key=event_sort_key)
    try:
        whole = evaluate(rules, events, customers)
        first = evaluate(rules, events[:split], customers)
    except HistoryError:
        return
    saved = _saved(first)
    assert _states(evaluate(rules, events[:split], customers, engine="batch")) == _states(first)
    expected: Any = _states(whole)
    for engine in ENGINES:
        rest = evaluate(rules, events[split:], customers, states=saved, engine=engine)
        assert {**_states(first), **_states(rest)} == expected
        for result in rest.customers:
            assert result.points == whole.customer(result.customer_id).points


def test_as_of_still_starts_a_referrer_without_events_at_the_start() -> None:
    for engine in ENGINES:
        found = evaluate(CLUB, [BEN_BUYS], [ANN, BEN], date(2026, 3, 31), engine=engine)
        assert _rows(found, "ann") == [("opening#1", "opening", 100), ("b1", "points", 500)]
