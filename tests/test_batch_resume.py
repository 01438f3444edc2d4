"""The batch engine resumes from saved states as the reference engine does.

A history is split at a drawn point; the reference engine evaluates the first part and
saves each customer's state (through JSON, as a caller would keep it); then the second
part is resumed from those states by both engines. The batch engine's evaluation must be
the reference's, entry for entry, with the same balances, stamps, totals and saved states;
and both must be the whole history's, split in two. What the batch engine does not resume
yet is refused by name (``UnsupportedError``), never computed another way.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import at, line, purchase, refund
from rewardrules.engine.state import CustomerState
from rewardrules.errors import HistoryError
from rewardrules.evaluation.batch import UnsupportedError, resume_unsupported
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent, CancelRedemption, Customer, Redemption, event_sort_key
from rewardrules.program.model import Program
from strategies import (
    cutoffs,
    histories,
    lifecycle_histories,
    lifecycle_programs,
    make_program,
    programs,
)
from test_batch_engine import (
    SUPPORTED_KINDS,
    dense_histories,
    programs_keeping_tiers,
    programs_with_bonuses,
)
from test_batch_migration import migrations
from test_batch_states import programs_forgetting

REFUSALS = ("a saved state with a granted tier",)
"""What the batch engine says when it does not resume a drawn history yet."""


def _saved(program: Program, events: list[AnyEvent]) -> dict[str, CustomerState]:
    first = evaluate(program, events)
    return {
        result.customer_id: CustomerState.model_validate_json(result.state.model_dump_json())
        for result in first.customers
    }


def _states_json(evaluation: Any) -> list[str]:
    return [result.state.model_dump_json() for result in evaluation.customers]


def resumes_as_the_reference(
    program: Program,
    events: list[AnyEvent],
    split: int,
    as_of: date | datetime | None = None,
) -> bool:
    """Assert the batch engine resumes ``events[split:]`` from the reference's states at
    ``split`` as the reference does; returns whether it evaluated (not refused)."""
    events = sorted(events, key=event_sort_key)
    try:
        saved = _saved(program, events[:split])
    except HistoryError:
        return False  # the first part is refused already
    rest = events[split:]
    try:
        expected: Any = evaluate(program, rest, states=saved, as_of=as_of)
    except HistoryError as error:
        expected = error
    batch_run: Any
    try:
        batch_run = evaluate(program, rest, states=saved, as_of=as_of, engine="batch")
    except (UnsupportedError, HistoryError) as error:
        batch_run = error
    if isinstance(batch_run, UnsupportedError):
        assert any(reason in str(batch_run) for reason in REFUSALS), str(batch_run)
        return False
    if isinstance(batch_run, HistoryError):
        assert isinstance(expected, HistoryError), str(batch_run)
        assert str(batch_run) == str(expected)
        return False
    assert not isinstance(expected, HistoryError), str(expected)
    assert batch_run.to_dict() == expected.to_dict()
    assert _states_json(batch_run) == _states_json(expected)
    return True


def resumes_to_one_evaluation(program: Program, events: list[AnyEvent], split: int) -> None:
    """The batch engine resumed at ``split`` gives the whole history's states and balances,
    and the whole ledger in two parts."""
    events = sorted(events, key=event_sort_key)
    if not resumes_as_the_reference(program, events, split):
        return
    try:
        whole = evaluate(program, events)
    except HistoryError:
        return
    saved = _saved(program, events[:split])
    first = evaluate(program, events[:split])
    rest = evaluate(program, events[split:], states=saved, engine="batch")
    assert [result.customer_id for result in rest.customers] == [
        result.customer_id for result in whole.customers
    ]
    for resumed, single in zip(rest.customers, whole.customers, strict=True):
        assert (resumed.points, resumed.available_points, resumed.stamps) == (
            single.points,
            single.available_points,
            single.stamps,
        )
        assert resumed.state.model_dump_json() == single.state.model_dump_json()
    parts: dict[str, list[dict[str, Any]]] = {
        result.customer_id: [entry.to_dict() for entry in result.ledger]
        for result in first.customers
    }
    for result in rest.customers:
        parts.setdefault(result.customer_id, []).extend(entry.to_dict() for entry in result.ledger)
    assert parts == {
        result.customer_id: [entry.to_dict() for entry in result.ledger]
        for result in whole.customers
    }


# --- drawn: a history split anywhere -------------------------------------------------------


@settings(max_examples=80)
@given(
    st.one_of(
        programs(SUPPORTED_KINDS, points_tiers=True),
        programs_keeping_tiers(),
        programs_forgetting(),
        programs_with_bonuses(),
    ),
    st.one_of(histories(refunds=True, payments=True), dense_histories()),
    st.data(),
)
def test_drawn_programs_resume_as_the_reference_resumes(
    program: Program, events: list[AnyEvent], data: st.DataObject
) -> None:
    split = data.draw(st.integers(0, len(events)), label="split")
    resumes_to_one_evaluation(program, events, split)


@settings(max_examples=100)
@given(
    lifecycle_programs(reward_tiers=True),
    lifecycle_histories(catalogue=True),
    st.data(),
    cutoffs(),
)
def test_drawn_lifecycles_resume_as_the_reference_resumes(
    program: Program, events: list[AnyEvent], data: st.DataObject, as_of: Any
) -> None:
    split = data.draw(st.integers(0, len(events)), label="split")
    resumes_as_the_reference(program, events, split, as_of)
    resumes_to_one_evaluation(program, events, split)


# --- hand-worked cases ---------------------------------------------------------------------

EARN = {"id": "points", "kind": "points_per_spend", "points": 1, "per": "1.00"}
CARD = {"id": "card", "kind": "every_nth_free", "every": 3, "counts": "items", "reward": "free"}
ONCE = {"id": "welcome", "kind": "bonus_points", "points": 50, "once_per_customer": True}
CAKE = {"id": "cake", "name": "Cake", "cost": 10, "value": "6.00"}


def _shop(**points: Any) -> Program:
    return make_program(
        [EARN], points={"value": "0.01", **points}, rewards=[CAKE], refunds={"within": "30 days"}
    )


def _both(
    program: Program, before: list[AnyEvent], after: list[AnyEvent], **options: Any
) -> tuple[Any, Any]:
    """The reference's and the batch engine's evaluations of ``after`` resumed from the
    reference's states after ``before``; asserted equal (states included)."""
    saved = _saved(program, before)
    reference = evaluate(program, after, states=saved, **options)
    batch_run = evaluate(program, after, states=saved, engine="batch", **options)
    assert batch_run.to_dict() == reference.to_dict()
    assert _states_json(batch_run) == _states_json(reference)
    return reference, batch_run


def test_a_refund_of_a_saved_purchase_takes_its_points_back() -> None:
    program = _shop()
    bought = purchase("p1", at(0), line("tea", "4.00", 3))
    _, resumed = _both(program, [bought], [refund("r1", at(2), "p1", ("tea", 1))])
    (customer,) = resumed.customers
    # 12 points for 12.00; one tea of three back: 8 points on the 8.00 left
    assert [(entry.event_id, entry.points) for entry in customer.ledger] == [("r1", -4)]
    assert customer.points == 8
    (row,) = customer.state.purchases
    assert (row.id, row.lines[0].refunded_units, row.points) == ("p1", 1, {"points": 8})
    assert customer.state.refunds == ("r1",)
    resumes_to_one_evaluation(program, [bought, refund("r1", at(2), "p1", ("tea", 1))], 1)


def test_a_late_refund_of_a_saved_purchase_is_the_reference_error() -> None:
    program = _shop()
    saved = _saved(program, [purchase("p1", at(0), line("tea", "4.00"))])
    late = [refund("r1", at(31), "p1")]
    with pytest.raises(HistoryError) as reference:
        evaluate(program, late, states=saved)
    with pytest.raises(HistoryError) as batch_error:
        evaluate(program, late, states=saved, engine="batch")
    assert str(batch_error.value) == str(reference.value)
    assert "refunds.within" in str(reference.value)


def test_a_refund_of_a_saved_purchase_floors_the_punch_card() -> None:
    program = make_program([CARD, EARN])
    before: list[AnyEvent] = [
        purchase("p1", at(0), line("tea", "2.00", 2)),
        purchase("p2", at(1), line("tea", "2.00", 2)),  # the third tea is free: count 4
    ]
    after: list[AnyEvent] = [refund("r1", at(2), "p1"), purchase("p3", at(3), line("tea", "2.00"))]
    _, resumed = _both(program, before, after)
    # The refund takes 2 off the count, floored at the last card (3); p3 makes it 4.
    assert resumed.customers[0].state.stamps == {"card": 4}
    resumes_to_one_evaluation(program, before + after, 2)


def test_points_expire_across_the_split() -> None:
    program = _shop(expire_after="30 days")
    before: list[AnyEvent] = [purchase("p1", at(0), line("tea", "5.00"))]
    after: list[AnyEvent] = [purchase("p2", at(40), line("tea", "3.00"))]
    _, resumed = _both(program, before, after)
    kinds = [(entry.event_id, entry.kind, entry.points) for entry in resumed.customers[0].ledger]
    assert kinds == [("p1", "expiry", -5), ("p2", "points", 3)]
    resumes_to_one_evaluation(program, before + after, 1)


def test_a_cancellation_of_a_saved_redemption_gives_its_points_back() -> None:
    program = _shop()
    before: list[AnyEvent] = [
        purchase("p1", at(0), line("tea", "15.00")),
        Redemption(id="d1", customer_id="c1", at=at(1), reward="cake"),
    ]
    undo = CancelRedemption(id="x1", customer_id="c1", at=at(2), redemption_id="d1")
    _, resumed = _both(program, before, [undo])
    assert resumed.customers[0].points == 15
    assert resumed.customers[0].state.cancellations == {"x1": "d1"}
    again = CancelRedemption(id="x2", customer_id="c1", at=at(3), redemption_id="d1")
    with pytest.raises(HistoryError) as reference:
        evaluate(program, [undo, again], states=_saved(program, before))
    with pytest.raises(HistoryError) as batch_error:
        evaluate(program, [undo, again], states=_saved(program, before), engine="batch")
    assert str(batch_error.value) == str(reference.value)


def test_a_bonus_given_once_before_the_state_is_not_given_again() -> None:
    program = make_program([EARN, ONCE])
    before: list[AnyEvent] = [purchase("p1", at(0), line("tea", "2.00"))]
    after: list[AnyEvent] = [purchase("p2", at(1), line("tea", "2.00"))]
    _, resumed = _both(program, before, after)
    assert [entry.rule for entry in resumed.customers[0].ledger] == ["points"]
    assert resumed.customers[0].state.bonuses == ("welcome",)


def test_a_customer_with_a_state_and_no_new_event_is_reported_as_saved() -> None:
    program = _shop(expire_after="30 days")
    before: list[AnyEvent] = [
        purchase("p1", at(0), line("tea", "5.00")),
        purchase("q1", at(0), line("tea", "2.00"), customer="c2"),
    ]
    after: list[AnyEvent] = [purchase("p2", at(1), line("tea", "1.00"))]
    _, resumed = _both(program, before, after, as_of=at(45))
    assert [customer.customer_id for customer in resumed.customers] == ["c1", "c2"]
    assert resumed.customers[1].ledger[0].kind == "expiry"
    assert resumed.totals.customers == 2


def test_an_event_repeating_a_saved_id_is_the_reference_error() -> None:
    program = _shop()
    saved = _saved(program, [purchase("p1", at(0), line("tea", "5.00"))])
    again = [purchase("p1", at(1), line("tea", "5.00"), customer="c2")]
    with pytest.raises(HistoryError) as reference:
        evaluate(program, again, states=saved)
    with pytest.raises(HistoryError) as batch_error:
        evaluate(program, again, states=saved, engine="batch")
    assert str(batch_error.value) == str(reference.value)


def test_what_the_batch_engine_does_not_resume_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    friends = {"id": "friends", "kind": "referral", "referrer": {"points": 5}}
    program = make_program([EARN, friends])
    saved = _saved(program, [purchase("p1", at(0), line("tea", "5.00"))])
    assert resume_unsupported(program) == []  # every rule kind's states resume now
    # The refusal's plumbing, with a refusal made up where ``_resume`` looks it up.
    monkeypatch.setattr(
        "rewardrules.evaluation.batch._resume.resume_unsupported",
        lambda program: ["rule 'friends': saved states of a made-up kind"],
    )
    with pytest.raises(UnsupportedError, match="rule 'friends': saved states of a made-up kind"):
        evaluate(
            program, [purchase("p2", at(1), line("tea", "1.00"))], states=saved, engine="batch"
        )


SILVER_OFF = {
    "id": "silver-off",
    "kind": "tiered_discount",
    "discounts": {"silver": 10},
}


def _tiered(window: str, **tiers: Any) -> Program:
    return make_program(
        [SILVER_OFF, EARN],
        tiers={
            "qualify_by": "spend",
            "window": window,
            "levels": [{"name": "silver", "at_least": "10.00"}],
            **tiers,
        },
        refunds={"within": "3 days"},
    )


def test_a_rolling_tier_window_reaches_across_the_split() -> None:
    program = _tiered("30 days")
    before: list[AnyEvent] = [purchase("p1", at(0), line("tea", "10.00"))]
    after: list[AnyEvent] = [
        purchase("p2", at(5), line("tea", "10.00")),  # silver: p1 is in its window
        purchase("p3", at(40), line("tea", "10.00")),  # p1 and p2 have left it
    ]
    _, resumed = _both(program, before, after)
    (customer,) = resumed.customers
    assert [row.tier for row in customer.state.purchases] == [None, "silver", None][-1:]
    discounts = [entry.event_id for entry in customer.ledger if entry.kind == "discount"]
    assert discounts == ["p2"]
    resumes_to_one_evaluation(program, before + after, 1)


def test_a_refund_of_a_saved_purchase_lowers_the_window_from_then_on() -> None:
    program = _tiered("calendar_month")
    before: list[AnyEvent] = [purchase("p1", at(0), line("tea", "10.00"))]
    after: list[AnyEvent] = [
        refund("r1", at(1), "p1"),
        purchase("p2", at(2), line("tea", "5.00")),  # p1 no longer counts: no tier
    ]
    _, resumed = _both(program, before, after)
    assert [entry.kind for entry in resumed.customers[0].ledger] == ["points", "points"]
    resumes_to_one_evaluation(program, before + after, 1)


def test_a_tier_kept_for_a_while_holds_across_the_split() -> None:
    program = _tiered("7 days", keep_for="30 days")
    before: list[AnyEvent] = [
        purchase("p1", at(0), line("tea", "10.00")),
        purchase("p2", at(1), line("tea", "1.00")),  # silver reached here
    ]
    after: list[AnyEvent] = [
        purchase("p3", at(20), line("tea", "10.00")),  # the window is empty: kept silver
        purchase("p4", at(60), line("tea", "10.00")),  # kept no longer, window empty again
    ]
    _, resumed = _both(program, before, after)
    state = resumed.customers[0].state
    assert [row.tier for row in state.purchases] == [None]  # p4's; the others forgotten
    assert state.tier_reached == {"silver": at(1)}
    discounts = [
        entry.event_id for entry in resumed.customers[0].ledger if entry.kind == "discount"
    ]
    assert discounts == ["p3"]
    resumes_to_one_evaluation(program, before + after, 2)


GROCER = {
    "id": "grocer",
    "kind": "partner_gift_card",
    "partner": "Green Basket",
    "value": "1.00",
    "every_spend": "10.00",
    "window": "calendar_month",
    "max_per_window": 3,
}


def test_a_gift_card_window_goes_on_from_the_saved_spend() -> None:
    program = make_program([GROCER, EARN])
    before: list[AnyEvent] = [purchase("p1", at(0), line("tea", "8.00"))]
    after: list[AnyEvent] = [
        purchase("p2", at(1), line("tea", "5.00")),  # 13.00 in the month: a card
        refund("r2", at(2), "p2"),  # back to 8.00; the card stays issued
        purchase("p3", at(3), line("tea", "20.00")),  # 28.00, highest 28.00: one more
    ]
    _, resumed = _both(program, before, after)
    cards = [
        (entry.event_id, entry.units)
        for entry in resumed.customers[0].ledger
        if entry.kind == "gift_card"
    ]
    assert cards == [("p2", 1), ("p3", 1)]
    (window,) = resumed.customers[0].state.gift_cards["grocer"].values()
    assert (window.net_spend, window.highest_spend, window.cards) == (
        Decimal("28.00"),
        Decimal("28.00"),
        2,
    )
    resumes_to_one_evaluation(program, before + after, 1)


def test_a_tier_granted_before_the_state_holds_until_its_end() -> None:
    program = _tiered("30 days")
    profile = Customer(customer_id="c1", tier="silver", tier_until=at(10))
    first = evaluate(program, [purchase("p1", at(0), line("tea", "2.00"))], [profile])
    saved = {
        result.customer_id: CustomerState.model_validate_json(result.state.model_dump_json())
        for result in first.customers
    }
    assert saved["c1"].tier_granted == "silver"
    after: list[AnyEvent] = [
        purchase("p2", at(5), line("tea", "2.00")),  # granted silver: 10% off
        purchase("p3", at(15), line("tea", "2.00")),  # the grant has ended
    ]
    reference = evaluate(program, after, states=saved)
    resumed = evaluate(program, after, states=saved, engine="batch")
    assert resumed.to_dict() == reference.to_dict()
    assert _states_json(resumed) == _states_json(reference)
    discounts = [
        entry.event_id for entry in resumed.customers[0].ledger if entry.kind == "discount"
    ]
    assert discounts == ["p2"]
    assert resumed.customers[0].state.tier_granted == "silver"


@settings(max_examples=40)
@given(migrations(expiry=True), st.data())
def test_migrated_customers_resume_as_the_reference_resumes(
    drawn: tuple[Program, list[AnyEvent], list[Customer], Any], data: st.DataObject
) -> None:
    """Opening lots and granted tiers reach the state of the first part (the reference's,
    with the profiles); the second part resumes with the profiles or without them (a
    resumed customer's opening is in their state, and is not opened again)."""
    program, events, profiles, as_of = drawn
    again = profiles if data.draw(st.booleans(), label="profiles again") else None
    events = sorted(events, key=event_sort_key)
    split = data.draw(st.integers(0, len(events)), label="split")
    try:
        first = evaluate(program, events[:split], profiles)
    except HistoryError:
        return
    saved = {
        result.customer_id: CustomerState.model_validate_json(result.state.model_dump_json())
        for result in first.customers
    }
    rest = events[split:]
    try:
        expected: Any = evaluate(program, rest, again, as_of, states=saved)
    except HistoryError as error:
        expected = error
    found: Any
    try:
        found = evaluate(program, rest, again, as_of, states=saved, engine="batch")
    except HistoryError as error:
        found = error
    if isinstance(expected, HistoryError) or isinstance(found, HistoryError):
        assert str(found) == str(expected)
        return
    assert found.to_dict() == expected.to_dict()
    assert _states_json(found) == _states_json(expected)


def test_a_refund_of_a_saved_purchase_gives_back_its_gift_card_spend() -> None:
    program = make_program([GROCER, EARN])
    before: list[AnyEvent] = [purchase("p1", at(0), line("tea", "8.00", 2))]  # 16.00: a card
    after: list[AnyEvent] = [
        refund("r1", at(1), "p1", ("tea", 1)),  # 8.00 back: net 8.00, highest 16.00
        purchase("p2", at(2), line("tea", "10.00")),  # net 18.00: under 20.00, no card
        purchase("p3", at(3), line("tea", "3.00")),  # net 21.00: a second card
    ]
    _, resumed = _both(program, before, after)
    cards = [entry.event_id for entry in resumed.customers[0].ledger if entry.kind == "gift_card"]
    assert cards == ["p3"]
    resumes_to_one_evaluation(program, before + after, 1)
    _both(program, before, after[:1])  # the rule runs on no new purchase


def test_errors_of_refunds_are_raised_in_the_reference_order() -> None:
    program = _shop()
    saved = _saved(program, [purchase("p1", at(0), line("tea", "4.00"))])
    for late_first in (True, False):
        late = refund("r1", at(31 if late_first else 35), "p1")
        bad = refund("r2", at(33), "p2", ("cake", 1))  # p2 has no cake
        after: list[AnyEvent] = [purchase("p2", at(32), line("tea", "1.00")), bad, late]
        with pytest.raises(HistoryError) as reference:
            evaluate(program, after, states=saved)
        with pytest.raises(HistoryError) as batch_error:
            evaluate(program, after, states=saved, engine="batch")
        assert str(batch_error.value) == str(reference.value)
        assert ("r1" if late_first else "r2") in str(reference.value)


def test_a_resumed_and_a_new_customer_redeeming_keep_their_own_entries() -> None:
    # The resumed customer's account is replayed after the new customer's integer one:
    # the ledger still gets each entry at its own event and customer.
    program = _shop()
    saved = _saved(program, [purchase("p1", at(0), line("tea", "15.00"))])
    after: list[AnyEvent] = [
        Redemption(id="x1", customer_id="c1", at=at(1), reward="cake"),
        Redemption(id="x2", customer_id="c2", at=at(1), reward="cake"),  # rejected
        Redemption(id="x3", customer_id="c1", at=at(2), reward="cake"),
    ]
    _, resumed = _both_with(program, saved, after)
    owners = {
        entry.event_id: customer.customer_id
        for customer in resumed.customers
        for entry in customer.ledger
    }
    assert owners == {"x1": "c1", "x2": "c2", "x3": "c1"}


def _both_with(
    program: Program, saved: dict[str, CustomerState], after: list[AnyEvent]
) -> tuple[Any, Any]:
    reference = evaluate(program, after, states=saved)
    batch_run = evaluate(program, after, states=saved, engine="batch")
    assert batch_run.to_dict() == reference.to_dict()
    assert _states_json(batch_run) == _states_json(reference)
    return reference, batch_run
