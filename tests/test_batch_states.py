"""The batch engine's saved states: ``CustomerResult.state`` is the reference engine's.

Every differential test of ``test_batch_engine`` compares each customer's state JSON (digest
included, through ``same_results``); this module adds the drawn programs whose states hold
most (tiers with purchases forgotten by ``refunds.within``), the table path (the same
integers as from a list), the edges of forgetting, and the law that a state the batch engine
saves resumes, in the reference engine, to one evaluation of the whole history.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bonus_strategies import profiles
from helpers import at, line, purchase, refund
from rewardrules.engine._state_format import micros
from rewardrules.engine.state import CustomerState
from rewardrules.errors import HistoryError
from rewardrules.evaluation import batch
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent, Customer, Purchase, event_sort_key
from rewardrules.histories.columns import events_to_table
from rewardrules.program.model import Program
from strategies import (
    cutoffs,
    held_referral_cases,
    histories,
    lifecycle_histories,
    lifecycle_programs,
    limited_group_programs,
    programs,
    with_limits,
)
from test_batch_engine import (
    EXAMPLES,
    LIMITED_PROGRAMS,
    SUPPORTED_KINDS,
    SUPPORTED_PROGRAMS,
    assert_same_states,
    batch_grouped_programs,
    dense_histories,
    programs_keeping_tiers,
    programs_with_bonuses,
    same_results,
)
from test_batch_gifts import gift_programs
from test_laws import assert_resumed_equals_whole

# --- drawn programs whose states keep tier windows of forgotten purchases -----------------


@st.composite
def programs_forgetting(draw: st.DrawFn) -> Program:
    """A supported program with tiers (sometimes kept with ``keep_for``) in a rolling or
    calendar window, and a ``refunds.within`` short enough to forget most purchases."""
    drawn = draw(
        st.one_of(
            programs(SUPPORTED_KINDS, with_tiers=True, points_tiers=True), programs_keeping_tiers()
        )
    )
    assert drawn.tiers is not None
    tiers = drawn.tiers.model_dump(exclude_none=True)
    tiers["window"] = draw(
        st.sampled_from(("2 days", "10 days", "calendar_month", "calendar_year", "lifetime"))
    )
    within = draw(st.sampled_from(("1 day", "2 days", "1 week", "1 month")))
    return Program.model_validate(
        {**drawn.model_dump(exclude_none=True), "tiers": tiers, "refunds": {"within": within}}
    )


@settings(max_examples=100)
@given(programs_forgetting(), dense_histories(), cutoffs())
def test_drawn_states_with_forgotten_purchases_are_the_reference_states(
    program: Program, events: list[AnyEvent], as_of: date | datetime | None
) -> None:
    same_results(program, events, None, as_of)


@settings(max_examples=40)
@given(st.one_of(SUPPORTED_PROGRAMS, programs_forgetting()), dense_histories())
def test_states_from_a_table_are_the_reference_states_from_that_table(
    program: Program, events: list[AnyEvent]
) -> None:
    # From a table, a purchase's amounts are as the table gives them back (3.5 for 3.50),
    # for both engines.
    table = events_to_table(events)
    try:
        reference = evaluate(program, table)
    except HistoryError:
        return
    assert_same_states(reference, evaluate(program, table, engine="batch"))


def test_every_example_saves_the_reference_states_from_its_table() -> None:
    from rewardrules import load_program, read_history  # noqa: PLC0415 -- the examples only

    checked = 0
    for example in sorted(EXAMPLES.glob("*.yaml")):
        program = load_program(example)
        if batch.unsupported(program):
            continue
        history = next(EXAMPLES.glob(f"{example.stem}.history.*"))
        table = events_to_table(read_history(history))
        assert_same_states(evaluate(program, table), evaluate(program, table, engine="batch"))
        checked += 1
    assert checked >= 5


# --- the edges of forgetting --------------------------------------------------------------


def _edge_program(within: str, window: str) -> Program:
    return Program.model_validate(
        {
            "program": "edges",
            "name": "Edges",
            "currency": "USD",
            "timezone": "UTC",
            "rules": [{"id": "stars", "kind": "points_per_spend", "points": "1", "per": "1"}],
            "refunds": {"within": within},
            "tiers": {
                "qualify_by": "spend",
                "window": window,
                "levels": [{"name": "silver", "at_least": "10"}],
            },
        }
    )


def _saved(program: Program, events: list[AnyEvent]) -> CustomerState:
    """The customer's state, after checking that both engines save the same one."""
    reference = evaluate(program, events)
    batch_run = evaluate(program, events, engine="batch")
    assert_same_states(reference, batch_run)
    return batch_run.customers[0].state


def test_a_purchase_whose_refund_window_ends_at_the_last_event_is_kept() -> None:
    events: list[AnyEvent] = [
        purchase("p1", at(0), line("a", "4.00")),
        purchase("p2", at(7), line("b", "6.00")),
    ]
    saved = _saved(_edge_program("7 days", "7 days"), events)
    assert [kept.id for kept in saved.purchases] == ["p1", "p2"]
    assert saved.forgotten_until is None


def test_a_forgotten_purchase_at_the_start_of_a_rolling_window_still_counts() -> None:
    events: list[AnyEvent] = [
        purchase("p1", at(0), line("a", "4.00")),
        purchase("p2", at(7), line("b", "6.00")),
    ]
    saved = _saved(_edge_program("2 days", "7 days"), events)
    assert [kept.id for kept in saved.purchases] == ["p2"]
    assert saved.forgotten_until == at(0)
    assert [(amount.at, amount.amount) for amount in saved.tier_window] == [(micros(at(0)), 400)]


def test_a_forgotten_purchase_counts_in_its_calendar_window_less_its_refunds() -> None:
    events: list[AnyEvent] = [
        purchase("p1", at(0), line("a", "4.00", quantity=2)),
        refund("r1", at(1), "p1", ("a", 1)),
        purchase("p2", at(7), line("b", "6.00")),
    ]
    saved = _saved(_edge_program("2 days", "calendar_month"), events)
    assert [kept.id for kept in saved.purchases] == ["p2"]
    assert saved.tier_amounts == {"2026-03": 400}
    assert saved.refunds == ("r1",)


# --- the law: a state the batch engine saves resumes to one evaluation ---------------------


def _resumes_to_one_evaluation(
    program: Program,
    events: list[AnyEvent],
    split: int,
    customers: list[Customer] | None = None,
) -> None:
    """``events[:split]`` by the batch engine, its states saved as JSON, the rest resumed
    by the reference engine: the states and balances of one batch evaluation, and its
    ledger in two parts."""
    events = sorted(events, key=event_sort_key)
    try:
        whole = evaluate(program, events, customers, engine="batch")
    except HistoryError:
        return  # the whole history is refused (a late refund): nothing to split
    first = evaluate(program, events[:split], customers, engine="batch")
    saved = {
        result.customer_id: CustomerState.model_validate_json(result.state.model_dump_json())
        for result in first.customers
    }
    rest = evaluate(program, events[split:], customers, states=saved)
    assert_resumed_equals_whole(first, rest, whole)


@settings(max_examples=60)
@given(
    st.one_of(SUPPORTED_PROGRAMS, programs_forgetting(), programs_with_bonuses()),
    st.one_of(histories(refunds=True, payments=True), dense_histories()),
    st.data(),
)
def test_a_batch_state_resumed_anywhere_equals_one_evaluation(
    program: Program, events: list[AnyEvent], data: st.DataObject
) -> None:
    split = data.draw(st.integers(0, len(events)), label="split")
    _resumes_to_one_evaluation(program, events, split)


@settings(max_examples=40)
@given(lifecycle_programs(reward_tiers=True), lifecycle_histories(catalogue=True), st.data())
def test_a_batch_state_with_lots_and_redemptions_resumed_anywhere_equals_one_evaluation(
    program: Program, events: list[AnyEvent], data: st.DataObject
) -> None:
    split = data.draw(st.integers(0, len(events)), label="split")
    _resumes_to_one_evaluation(program, events, split)


@settings(max_examples=60)
@given(LIMITED_PROGRAMS, st.one_of(histories(refunds=True), dense_histories()), st.data())
def test_a_batch_state_with_limits_resumed_anywhere_equals_one_evaluation(
    program: Program, events: list[AnyEvent], data: st.DataObject
) -> None:
    split = data.draw(st.integers(0, len(events)), label="split")
    _resumes_to_one_evaluation(program, events, split)


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
def test_a_batch_state_with_groups_resumed_anywhere_equals_one_evaluation(
    program: Program, events: list[AnyEvent], data: st.DataObject
) -> None:
    if batch.unsupported(program):
        return  # a combination in a group the batch engine refuses as a whole
    split = data.draw(st.integers(0, len(events)), label="split")
    _resumes_to_one_evaluation(program, events, split)


@settings(max_examples=60)
@given(gift_programs(), lifecycle_histories(catalogue=True), profiles(), st.data())
def test_a_batch_state_with_gifts_resumed_anywhere_equals_one_evaluation(
    program: Program, events: list[AnyEvent], customers: list[Customer], data: st.DataObject
) -> None:
    split = data.draw(st.integers(0, len(events)), label="split")
    _resumes_to_one_evaluation(program, events, split, customers)


@settings(max_examples=40)
@given(held_referral_cases(), st.data())
def test_a_batch_state_with_referral_holds_resumed_anywhere_equals_one_evaluation(
    case: tuple[Program, list[AnyEvent], list[Customer]], data: st.DataObject
) -> None:
    program, events, customers = case
    split = data.draw(st.integers(0, len(events)), label="split")
    _resumes_to_one_evaluation(program, events, split, customers)


def test_a_saved_purchase_is_the_same_from_a_list_or_a_table() -> None:
    program = _edge_program("7 days", "7 days")
    events: list[AnyEvent] = [purchase("p1", at(0), line("a", "4.50"))]
    saved = evaluate(program, events, engine="batch").customers[0].state
    table_saved = evaluate(program, events_to_table(events), engine="batch").customers[0].state
    assert table_saved.model_dump_json() == saved.model_dump_json()
    assert saved.exponent == 2
    assert [kept.unit_price for kept in saved.purchases[0].lines] == [450]
    assert (saved.purchases[0].at, saved.purchases[0].offset) == (micros(at(0)), 0)


def _with_rules(program: Program, *rules: dict[str, Any]) -> Program:
    return Program.model_validate({**program.model_dump(exclude_none=True), "rules": rules})


def test_a_state_keeps_what_each_limit_counted_in_its_period() -> None:
    stars = {
        "id": "stars",
        "kind": "points_per_spend",
        "points": "1",
        "per": "1",
        "limit": [{"per": "day", "points": 5}, {"per": "month", "rewards": 3}],
    }
    limited = _with_rules(_edge_program("7 days", "7 days"), stars)
    events: list[AnyEvent] = [
        purchase("p1", at(0), line("a", "4.00")),
        purchase("p2", at(0, hours=1), line("b", "3.00")),  # cut to 1 of 3
        purchase("p3", at(1), line("c", "2.00")),
        refund("r1", at(1, hours=1), "p3", ("c", 1)),  # gives its 2 back to that day's limit
    ]
    saved = _saved(limited, events)
    assert {key: (usage.period, usage.used) for key, usage in saved.limits.items()} == {
        "stars#0": ("2026-03-03", 0),
        "stars#1": ("2026-03", 3),
    }
    assert [kept.points for kept in saved.purchases] == [{"stars": 4}, {"stars": 1}, {"stars": 0}]


def test_a_limit_that_cuts_points_to_none_keeps_the_shares_they_were_earned_on() -> None:
    cards = {
        "id": "cards",
        "kind": "points_per_spend",
        "points": "1",
        "per": "1",
        "when": {"payment_methods": ["card"]},
        "limit": [{"per": "day", "points": 4}],
    }
    limited = _with_rules(_edge_program("7 days", "7 days"), cards)

    def paid(id: str, when: datetime, price: str, **methods: str) -> Purchase:
        payments = [{"method": method, "amount": amount} for method, amount in methods.items()]
        return Purchase.model_validate(
            {
                "id": id,
                "customer_id": "c1",
                "at": when,
                "lines": [line("a", price)],
                "payments": payments,
            }
        )

    events: list[AnyEvent] = [
        paid("p1", at(0), "10.00", card="10.00"),  # 10 points, cut to the day's 4
        paid("p2", at(0, hours=1), "4.00", card="2.00", cash="2.00"),  # 2 wanted, none left
    ]
    saved = _saved(limited, events)
    # The reference keeps the shares a rule earned on where it earned, even cut to none.
    assert saved.purchases[1].points == {}
    assert saved.purchases[1].earned_on == {"cards": (200,)}


def test_a_state_keeps_the_once_only_marks_and_birthday_years_of_gifts() -> None:
    welcome = {"id": "welcome", "kind": "signup_bonus", "points": 10, "min_first_purchase": "1.00"}
    cake = {"id": "cake", "kind": "birthday", "points": 5}
    gifted = _with_rules(
        _edge_program("7 days", "7 days"),
        _edge_program("7 days", "7 days").rules[0].model_dump(exclude_none=True),
        welcome,
        cake,
    )
    profile = Customer(customer_id="c1", joined_at=at(-40), birthday="03-05")
    events: list[AnyEvent] = [purchase("p1", at(0), line("a", "4.00"))]
    reference = evaluate(gifted, events, [profile], as_of=at(10).date())
    batch_run = evaluate(gifted, events, [profile], as_of=at(10).date(), engine="batch")
    assert_same_states(reference, batch_run)
    saved = batch_run.customers[0].state
    assert saved.bonuses == ("welcome",)
    assert saved.birthdays == {"cake": 2026}


def test_a_referrer_whose_own_friend_gift_is_taken_back_gets_that_much_limit_back() -> None:
    # amy is rewarded for ben (300 of a month's 300), then, as carl's friend, gets 100 and
    # returns the purchase: the reference gives those 100 back to the referral rule's limit,
    # so her reward for dan is 100 of 300, not capped.
    friends = {
        "id": "friends",
        "kind": "referral",
        "min_paid": "10",
        "referrer": {"points": 300},
        "referred": {"points": 100},
        "limit": [{"per": "month", "points": 300}],
    }
    program = _with_rules(_edge_program("7 days", "7 days"), friends)
    events: list[AnyEvent] = [
        purchase("b1", at(0), line("a", "20.00"), customer="ben"),
        purchase("a1", at(1), line("a", "20.00"), customer="amy"),
        refund("r1", at(2), "a1", ("a", 1), customer="amy"),
        purchase("d1", at(3), line("a", "20.00"), customer="dan"),
    ]
    profiles = [
        Customer(customer_id="ben", referred_by="amy"),
        Customer(customer_id="amy", referred_by="carl"),
        Customer(customer_id="dan", referred_by="amy"),
    ]
    reference = evaluate(program, events, profiles)
    batch_run = evaluate(program, events, profiles, engine="batch")
    assert batch_run.to_dict() == reference.to_dict()
    assert_same_states(reference, batch_run)
    amy = next(result for result in batch_run.customers if result.customer_id == "amy")
    assert amy.points == 400
    assert {key: usage.used for key, usage in amy.state.limits.items()} == {"friends#0": 300}


def test_a_referrer_whose_only_held_reward_was_reversed_saves_a_state_that_loads() -> None:
    # The friend's only qualifying purchase is refunded within the hold: the referrer's
    # reward is taken back before it was given. The referrer's state keeps nothing but
    # the instants of the events evaluated for them, and must load again in both engines.
    program = Program.model_validate(
        {
            "program": "holds",
            "name": "Holds",
            "currency": "USD",
            "timezone": "UTC",
            "rules": [
                {"id": "earn", "kind": "points_per_spend", "points": 1, "per": 1},
                {"id": "friends", "kind": "referral", "referrer": {"points": 40},
                 "hold_for": "3 days"},
            ],
        }
    )  # fmt: skip
    customers = [Customer(customer_id="amy"), Customer(customer_id="bob", referred_by="amy")]
    events: list[AnyEvent] = [
        purchase("p1", at(0), line("latte", "4.00"), customer="bob"),
        refund("r1", at(1), "p1", customer="bob"),
    ]
    for engine in ("reference", "batch"):
        result = evaluate(program, events, customers, engine=engine)  # type: ignore[arg-type]
        amy = next(found for found in result.customers if found.customer_id == "amy")
        assert (amy.points, amy.state.referrals, amy.state.last_event_at is not None) == (
            0,
            (),
            True,
        )
        loaded = CustomerState.model_validate_json(amy.state.model_dump_json())
        assert loaded == amy.state
