"""The batch engine resumes saved states of programs with referral rules as the reference
engine does, worked out by hand, and a law over drawn referral programs.

Histories start on Monday 2 March 2026 at noon UTC (``at(0)``); prices are in USD. ``ann``
referred ``ben``, and ``ben`` referred ``cal``. The held rule gives the referrer 500 stars
and the friend 200 once the friend pays at least 10.00, held 14 days: a friend's purchase at
``at(0)`` is held until ``at(14)``. A history is split; the reference evaluates the first
part and saves every state (through JSON); both engines resume the rest from those states.
``resumed`` asserts the batch engine's evaluation is the reference's (entries, balances,
totals and re-saved states, JSON and digest) and the whole history's, split in two; each
case then checks the numbers by hand.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bonus_strategies import profiles
from helpers import at, ledger, line, program, purchase, refund
from rewardrules.engine.ledger import Evaluation
from rewardrules.engine.state import CustomerState, SavedHold, SavedReferral
from rewardrules.errors import HistoryError
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent, Customer, ReferralQualified, event_sort_key
from rewardrules.program.model import Program
from strategies import cutoffs, held_referral_cases, lifecycle_histories
from test_batch_gifts import gift_programs, supplied_facts

HELD = {
    "id": "friends",
    "kind": "referral",
    "referrer": {"points": 500},
    "referred": {"points": 200},
    "min_paid": "10.00",
    "hold_for": "14 days",
}
STARS = {"id": "stars", "kind": "points_per_spend", "points": "1", "per": "1.00"}
PEOPLE = [
    Customer(customer_id="ann"),
    Customer(customer_id="ben", referred_by="ann"),
    Customer(customer_id="cal", referred_by="ben"),
]
LATER = date(2026, 4, 30)


def _program(**changes: Any) -> Program:
    return program(rules=[STARS, {**HELD, **changes}])


def _saved(
    rules: Program, events: list[AnyEvent], customers: list[Customer] | None
) -> dict[str, CustomerState]:
    first = evaluate(rules, events, customers)
    return {
        result.customer_id: CustomerState.model_validate_json(result.state.model_dump_json())
        for result in first.customers
    }


def _states(evaluation: Evaluation) -> list[str]:
    return [result.state.model_dump_json() for result in evaluation.customers]


def resumed(
    rules: Program,
    events: list[AnyEvent],
    split: int,
    customers: list[Customer] | None = PEOPLE,
    as_of: date | datetime | None = None,
) -> Evaluation | None:
    """The batch engine's evaluation of ``events[split:]`` resumed from the reference's
    states at ``split``, once it is found to be the reference's resumed one and (without
    ``as_of``, the whole history accepted) the whole history's split in two; None where
    both refuse alike. The first part is saved without ``as_of``, as a caller keeps it."""
    events = sorted(events, key=event_sort_key)
    try:
        saved = _saved(rules, events[:split], customers)
    except HistoryError:
        return None  # the first part is refused already
    rest = events[split:]
    expected: Any
    try:
        expected = evaluate(rules, rest, customers, as_of, states=saved)
    except HistoryError as error:
        expected = error
    ours: Any
    try:
        ours = evaluate(rules, rest, customers, as_of, states=saved, engine="batch")
    except HistoryError as error:
        ours = error
    if isinstance(ours, HistoryError):
        assert isinstance(expected, HistoryError), str(ours)
        assert str(ours) == str(expected)
        return None
    assert not isinstance(expected, HistoryError), str(expected)
    assert ours.to_dict() == expected.to_dict()
    assert _states(ours) == _states(expected)
    assert [result.state.digest for result in ours.customers] == [
        result.state.digest for result in expected.customers
    ]
    if as_of is not None:
        return ours  # the first part was saved without as_of: not one evaluation split
    try:
        whole = evaluate(rules, events, customers)
    except HistoryError:
        return ours
    first = evaluate(rules, events[:split], customers)
    by_id = {result.customer_id: result for result in ours.customers}
    for single in whole.customers:
        mine = by_id[single.customer_id]
        assert (mine.points, mine.available_points, mine.stamps) == (
            single.points,
            single.available_points,
            single.stamps,
        )
        assert mine.state.model_dump_json() == single.state.model_dump_json()
    parts: dict[str, list[dict[str, Any]]] = {
        result.customer_id: [entry.to_dict() for entry in result.ledger]
        for result in first.customers
    }
    for result in ours.customers:
        parts.setdefault(result.customer_id, []).extend(entry.to_dict() for entry in result.ledger)
    assert parts == {
        result.customer_id: [entry.to_dict() for entry in result.ledger]
        for result in whole.customers
    }
    return ours


def _every_split(rules: Program, events: list[AnyEvent], **options: Any) -> None:
    for split in range(len(events) + 1):
        resumed(rules, events, split, **options)


def _buy(event_id: str, customer: str, when: datetime, price: str = "12.00", units: int = 1) -> Any:
    return purchase(event_id, when, line("bun", price, quantity=units), customer=customer)


# --- the referrer's side ------------------------------------------------------------------


def test_a_reward_held_in_the_saved_state_is_given_at_the_referrers_next_event() -> None:
    rules = _program()
    events: list[AnyEvent] = [
        _buy("a1", "ann", at(-1), "5.00"),
        _buy("b1", "ben", at(0)),  # ann's 500 held until at(14)
        _buy("a2", "ann", at(20), "3.00"),
    ]
    _every_split(rules, events)
    found = resumed(rules, events, 2)
    assert found is not None
    assert ledger(found, "ann") == [
        ("b1", "friends", "points", 500, None, None),  # the hold's end, before a2
        ("a2", "stars", "points", 3, None, None),
    ]
    assert found.customer("ann").points == 5 + 500 + 3
    assert found.customer("ann").state.referrals == (
        SavedReferral(id="b1", rule="friends", referred="ben", held_until=None),
    )
    assert found.customer("ben").ledger == ()  # resumed as saved: nothing new
    assert found.totals.points_issued == 503


def test_a_held_reward_is_given_in_a_new_history_with_no_profile_nor_fact() -> None:
    rules = _program()
    events: list[AnyEvent] = [
        ReferralQualified(id="f1", customer_id="ann", at=at(0), referred="dora", rule="friends"),
        _buy("a1", "ann", at(0), "3.00"),
        _buy("a2", "ann", at(14), "3.00"),  # at the hold's end: given before a2
    ]
    _every_split(rules, events, customers=None)
    found = resumed(rules, events, 2, customers=None)  # a1 and f1 saved, the reward held
    assert found is not None
    assert ledger(found, "ann") == [
        ("f1", "friends", "points", 500, None, None),
        ("a2", "stars", "points", 3, None, None),
    ]


def test_a_reward_held_in_the_saved_state_waits_without_a_later_event_or_as_of() -> None:
    rules = _program()
    events: list[AnyEvent] = [_buy("b1", "ben", at(0)), _buy("a1", "ann", at(5), "3.00")]
    _every_split(rules, events)
    found = resumed(rules, events, 1)
    assert found is not None
    assert ledger(found, "ann") == [("a1", "stars", "points", 3, None, None)]
    assert found.customer("ann").state.referrals[0].held_until == at(14)
    by_then = resumed(rules, events, 2, as_of=LATER)  # nothing new but the hold's end
    assert by_then is not None
    assert ledger(by_then, "ann") == [("b1", "friends", "points", 500, None, None)]
    assert by_then.customer("ann").points == 503


def test_a_referrer_with_a_state_and_no_new_event_gets_the_new_friends_reward() -> None:
    rules = _program(hold_for=None)
    events: list[AnyEvent] = [_buy("a1", "ann", at(0), "5.00"), _buy("b1", "ben", at(1))]
    _every_split(rules, events)
    found = resumed(rules, events, 1)  # ann resumed from a1 with no event of her own
    assert found is not None
    assert ledger(found, "ann") == [("b1", "friends", "points", 500, None, None)]
    assert found.customer("ann").points == 505
    assert found.totals.points_issued == 12 + 200 + 500
    assert found.totals.referrals == 1
    held = resumed(_program(), events, 1, as_of=LATER)  # held, and given by as_of
    assert held is not None
    assert ledger(held, "ann") == [("b1", "friends", "points", 500, None, None)]


def test_supplied_facts_reward_a_resumed_referrer_and_repeats_are_the_reference_errors() -> None:
    rules = _program()
    events: list[AnyEvent] = [
        _buy("a1", "ann", at(0), "5.00"),
        _buy("b1", "ben", at(1)),
        ReferralQualified(
            id="shop-9", customer_id="ann", at=at(2), referred="dora", rule="friends"
        ),
        _buy("a2", "ann", at(20), "3.00"),
    ]
    _every_split(rules, events)
    found = resumed(rules, events, 2)
    assert found is not None
    assert ledger(found, "ann") == [
        ("b1", "friends", "points", 500, None, None),  # held until at(15)
        ("shop-9", "friends", "points", 500, None, None),  # held until at(16)
        ("a2", "stars", "points", 3, None, None),
    ]
    assert [kept.id for kept in found.customer("ann").state.referrals] == ["b1", "shop-9"]
    # b1 is in ann's saved referrals: supplied again, or ben again under another id.
    for again in (
        ReferralQualified(id="b1", customer_id="ann", at=at(3), referred="ben", rule="friends"),
        ReferralQualified(id="b9", customer_id="ann", at=at(3), referred="ben", rule="friends"),
    ):
        assert resumed(rules, [*events[:2], again], 2) is None  # both refuse, alike
        saved = _saved(rules, events[:2], PEOPLE)
        with pytest.raises(HistoryError) as error:
            evaluate(rules, [again], PEOPLE, states=saved, engine="batch")
        assert "already" in str(error.value) or "same id" in str(error.value)


def test_a_new_purchase_repeating_a_saved_facts_id_is_the_reference_error() -> None:
    rules = _program()
    supplied = ReferralQualified(
        id="shop-9", customer_id="ann", at=at(1), referred="dora", rule="friends"
    )
    saved = _saved(rules, [_buy("a1", "ann", at(0)), supplied], PEOPLE)
    again = [_buy("shop-9", "cal", at(2))]
    with pytest.raises(HistoryError) as reference:
        evaluate(rules, again, PEOPLE, states=saved)
    with pytest.raises(HistoryError) as ours:
        evaluate(rules, again, PEOPLE, states=saved, engine="batch")
    assert str(ours.value) == str(reference.value)
    assert "same id" in str(ours.value)


def test_a_supplied_reversal_takes_back_a_reward_held_in_the_saved_state() -> None:
    rules = _program()
    events: list[AnyEvent] = [
        _buy("a1", "ann", at(0), "3.00"),
        ReferralQualified(id="f1", customer_id="ann", at=at(1), referred="dora", rule="friends"),
        ReferralQualified(
            id="f1",
            customer_id="ann",
            at=at(4),
            referred="dora",
            rule="friends",
            reversed_by="dora-refund",
        ),
        _buy("a2", "ann", at(20), "3.00"),
    ]
    _every_split(rules, events)
    _every_split(rules, events[:3], as_of=LATER)  # ann resumed with no event of her own
    found = resumed(rules, events, 2)
    assert found is not None
    assert ledger(found, "ann") == [("a2", "stars", "points", 3, None, None)]
    assert found.customer("ann").points == 6
    assert found.customer("ann").state.referrals == ()
    # Reversed once the hold has ended (at(15)): given already, the reference's error.
    late = events[2].model_copy(update={"at": at(16)})
    assert resumed(rules, [*events[:2], events[3], late], 2) is None


@pytest.mark.parametrize(
    "late",
    [
        _buy("b1", "ben", at(1)),  # ben qualifies: ann's fact comes before her state
        ReferralQualified(id="f1", customer_id="ann", at=at(1), referred="dora", rule="friends"),
        _buy("a2", "ann", at(1)),  # ann's own event
    ],
    ids=["a friend's fact", "a supplied fact", "an event"],
)
def test_what_comes_before_the_referrers_saved_state_is_the_reference_error(
    late: AnyEvent,
) -> None:
    rules = _program()
    saved = _saved(rules, [_buy("a1", "ann", at(5), "3.00")], PEOPLE)
    with pytest.raises(HistoryError) as reference:
        evaluate(rules, [late], PEOPLE, states=saved)
    with pytest.raises(HistoryError) as ours:
        evaluate(rules, [late], PEOPLE, states=saved, engine="batch")
    assert str(ours.value) == str(reference.value)
    assert "before the customer's saved state" in str(ours.value)


# --- the friend's side --------------------------------------------------------------------


def test_a_refund_after_the_split_within_the_hold_reverses_the_referrers_held_reward() -> None:
    rules = _program()
    events: list[AnyEvent] = [
        _buy("a1", "ann", at(-1), "5.00"),
        _buy("b1", "ben", at(0)),
        refund("r1", at(3), "b1", customer="ben"),  # within the hold: reversed
        _buy("b2", "ben", at(5), "15.00"),  # qualifies again, held until at(19)
        _buy("a2", "ann", at(20), "3.00"),
    ]
    _every_split(rules, events)
    found = resumed(rules, events, 2)
    assert found is not None
    assert ledger(found, "ben") == [
        ("r1", "stars", "points", -12, None, None),
        ("r1", "friends", "points", -200, None, None),
        ("r1", "friends", "referral", None, None, -1),
        ("b2", "stars", "points", 15, None, None),
        ("b2", "friends", "referral", None, None, None),
        ("b2", "friends", "points", 200, None, None),  # the first gift was taken back
    ]
    assert ledger(found, "ann") == [
        ("b2", "friends", "points", 500, None, None),  # for b2, not b1
        ("a2", "stars", "points", 3, None, None),
    ]
    assert found.customer("ann").points == 508
    assert found.totals.referrals == 0  # one reversed, one new
    ben = found.customer("ben").state
    assert ben.bonuses == ("friends",)
    assert ben.referral_holds == (
        SavedHold(rule="friends", purchase="b2", until=at(19), reversed_by=None, gift_kept=False),
    )
    reversed_only = resumed(rules, events[:3], 2)
    assert reversed_only is not None
    assert ledger(reversed_only, "ann") == []
    assert reversed_only.totals.referrals == -1
    assert reversed_only.customer("ben").state.bonuses == ()
    assert reversed_only.customer("ann").state.referrals == ()


def test_a_friend_rewarded_before_the_split_does_not_qualify_again() -> None:
    rules = _program(hold_for=None)
    events: list[AnyEvent] = [
        _buy("b1", "ben", at(0)),
        refund("r1", at(1), "b1", customer="ben"),  # no hold: the referral stands
        _buy("b2", "ben", at(2), "20.00"),
        _buy("a1", "ann", at(3), "3.00"),
    ]
    _every_split(rules, events)
    found = resumed(rules, events, 1)
    assert found is not None
    assert ledger(found, "ben") == [
        ("r1", "stars", "points", -12, None, None),
        ("r1", "friends", "points", -200, None, None),
        ("b2", "stars", "points", 20, None, None),  # no second marker, no second gift
    ]
    assert ledger(found, "ann") == [("a1", "stars", "points", 3, None, None)]
    assert found.customer("ann").points == 503
    assert found.customer("ben").state.bonuses == ("friends",)


def test_a_friend_who_kept_their_gift_before_the_split_qualifies_again_without_it() -> None:
    rules = _program()
    events: list[AnyEvent] = [
        _buy("b1", "ben", at(0), "6.00", units=2),  # 12.00: qualifies, 200 to ben
        refund("r1", at(2), "b1", ("bun", 1), customer="ben"),  # 6.00 left: reversed, kept
        _buy("b2", "ben", at(4)),  # qualifies again: the marker, no second gift
        _buy("a1", "ann", at(20), "3.00"),
    ]
    _every_split(rules, events)
    for split in (1, 2):  # the reversal before the split, or after it (a saved purchase)
        found = resumed(rules, events, split)
        assert found is not None
        assert ledger(found, "ben")[-2:] == [
            ("b2", "stars", "points", 12, None, None),
            ("b2", "friends", "referral", None, None, None),
        ]
        assert found.customer("ben").points == 12 - 6 + 200 + 12
        assert found.customer("ben").state.referral_holds == (
            SavedHold(
                rule="friends", purchase="b2", until=at(18), reversed_by=None, gift_kept=True
            ),
        )
        assert ledger(found, "ann") == [
            ("b2", "friends", "points", 500, None, None),
            ("a1", "stars", "points", 3, None, None),
        ]


# --- both sides ---------------------------------------------------------------------------


def test_a_customer_both_referrer_and_friend_resumes_on_both_sides() -> None:
    rules = _program()
    events: list[AnyEvent] = [
        _buy("b1", "ben", at(0)),  # ann's 500 held until at(14)
        _buy("c1", "cal", at(1)),  # ben's 500 held until at(15)
        refund("r1", at(2), "b1", customer="ben"),  # ann's reward reversed
        _buy("b2", "ben", at(20)),  # ben gets cal's 500 first; qualifies again for ann
    ]
    _every_split(rules, events, as_of=LATER)
    _every_split(rules, events)
    found = resumed(rules, events, 2, as_of=LATER)
    assert found is not None
    assert ledger(found, "ben") == [
        ("r1", "stars", "points", -12, None, None),
        ("r1", "friends", "points", -200, None, None),
        ("r1", "friends", "referral", None, None, -1),
        ("c1", "friends", "points", 500, None, None),  # cal's, at at(15)
        ("b2", "stars", "points", 12, None, None),
        ("b2", "friends", "referral", None, None, None),
        ("b2", "friends", "points", 200, None, None),
    ]
    assert ledger(found, "ann") == [("b2", "friends", "points", 500, None, None)]  # by as_of
    assert found.customer("ben").points == 500 + 12 + 200
    ben = found.customer("ben").state
    assert ben.referrals == (
        SavedReferral(id="c1", rule="friends", referred="cal", held_until=None),
    )
    assert ben.referral_holds[0].purchase == "b2"


# --- the law ------------------------------------------------------------------------------

REFERRAL_PROGRAMS = gift_programs().filter(
    lambda drawn: any(rule.kind == "referral" for rule in drawn.rules)
)
"""Gift programs with a referral rule (with or without ``hold_for``, limits, groups of the
other gifts, ``final``)."""


@settings(max_examples=60)
@given(held_referral_cases(), cutoffs(), st.data())
def test_drawn_held_referrals_resume_as_the_reference_and_the_whole_history(
    case: tuple[Program, list[AnyEvent], list[Customer]],
    as_of: date | datetime | None,
    data: st.DataObject,
) -> None:
    rules, events, customers = case
    split = data.draw(st.integers(0, len(events)), label="split")
    resumed(rules, events, split, customers, data.draw(st.sampled_from((None, as_of))))


@settings(max_examples=60)
@given(REFERRAL_PROGRAMS, lifecycle_histories(catalogue=True), profiles(), cutoffs(), st.data())
def test_drawn_referral_programs_with_supplied_facts_resume_as_the_reference(
    rules: Program,
    events: list[AnyEvent],
    customers: list[Customer],
    as_of: date | datetime | None,
    data: st.DataObject,
) -> None:
    facts = data.draw(supplied_facts(rules))
    history = sorted([*events, *facts], key=event_sort_key)
    split = data.draw(st.integers(0, len(history)), label="split")
    resumed(rules, history, split, customers, data.draw(st.sampled_from((None, as_of))))
