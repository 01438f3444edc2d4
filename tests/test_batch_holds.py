"""The batch engine on referral holds (``hold_for``), worked out by hand.

Histories start on Monday 2 March 2026 at noon UTC (``at(0)``); prices are in USD. The
rule holds for 14 days, so a friend's purchase at ``at(0)`` is held until ``at(14)``.
docs/semantics.md, "Referral holds", states the rules; tests/kinds/test_referral_hold.py
checks them on the reference engine. Every case here runs on the batch engine, and
``same_results`` asserts the reference agrees entry for entry.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import at, ledger, line, program, purchase, refund
from rewardrules.engine.ledger import Evaluation
from rewardrules.errors import HistoryError
from rewardrules.evaluation import batch
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent, Customer, MonthDay, ReferralQualified
from rewardrules.program.model import Program
from strategies import held_referral_cases
from test_batch_engine import same_results

HELD = {
    "id": "friends",
    "kind": "referral",
    "referrer": {"points": 500},
    "referred": {"points": 200},
    "min_paid": "10.00",
    "hold_for": "14 days",
}
STARS = {"id": "stars", "kind": "points_per_spend", "points": "1", "per": "1.00"}
PEOPLE = [Customer(customer_id="ann"), Customer(customer_id="ben", referred_by="ann")]
MICROSECOND = timedelta(microseconds=1)
LATER = date(2026, 4, 30)


def held(*before: dict[str, Any], **changes: Any) -> Program:
    return program(rules=[*before, {**HELD, **changes}])


def on_batch(
    rules: Program,
    history: list[AnyEvent],
    customers: list[Customer] | None = PEOPLE,
    as_of: date | datetime | None = LATER,
) -> Evaluation:
    """The batch engine's evaluation, once the reference is found to agree."""
    assert batch.unsupported(rules) == []
    assert same_results(rules, history, customers, as_of)
    return evaluate(rules, history, customers, as_of, engine="batch")


def _bun(when: datetime, price: str = "12.00", quantity: int = 1) -> Any:
    return purchase("b1", when, line("bun", price, quantity=quantity), customer="ben")


# --- the hold's end --------------------------------------------------------------------


def test_a_refund_exactly_at_the_holds_end_changes_nothing_for_the_referrer() -> None:
    history = [_bun(at(0)), refund("r1", at(14), "b1", customer="ben")]

    evaluation = on_batch(held(), history)

    assert ledger(evaluation, "ann") == [("b1", "friends", "points", 500, None, None)]
    # The full refund takes the friend's own 200 back, as without a hold; no reversal.
    assert ledger(evaluation, "ben") == [
        ("b1", "friends", "referral", None, None, None),
        ("b1", "friends", "points", 200, None, None),
        ("r1", "friends", "points", -200, None, None),
    ]
    assert evaluation.totals.referrals == 1


def test_a_refund_a_microsecond_before_the_holds_end_reverses_the_referral() -> None:
    history = [_bun(at(0)), refund("r1", at(14) - MICROSECOND, "b1", customer="ben")]

    evaluation = on_batch(held(), history)

    assert ledger(evaluation, "ben")[2:] == [
        ("r1", "friends", "points", -200, None, None),
        ("r1", "friends", "referral", None, None, -1),
    ]
    assert evaluation.customer("ben").ledger[-1].reason == (
        "referral: reversed: friend's purchase b1 was refunded on 2026-03-16 within the hold; "
        "ann does not get the referral reward (500 points), and the next qualifying purchase "
        "may earn it"
    )
    # ann had a fact and its reversal: reported, with nothing given.
    assert (evaluation.customer("ann").ledger, evaluation.customer("ann").points) == ((), 0)
    assert evaluation.totals.referrals == 0


def test_as_of_the_instant_the_hold_ends_gives_the_reward_and_a_microsecond_before_not() -> None:
    history: list[AnyEvent] = [_bun(at(0))]

    assert on_batch(held(), history, as_of=at(14)).customer("ann").points == 500
    assert on_batch(held(), history, as_of=at(14) - MICROSECOND).customer("ann").points == 0


def test_without_as_of_a_referrer_with_every_reward_held_is_reported_with_nothing() -> None:
    evaluation = on_batch(held(), [_bun(at(0))], as_of=None)

    ann = evaluation.customer("ann")
    assert (ann.ledger, ann.points) == ((), 0)
    assert evaluation.totals.customers == 2


def test_refunds_under_a_hold_when_no_friend_qualifies_give_nothing() -> None:
    # A free bun pays nothing: no qualifying purchase, so its refund reverses nothing
    # (found by the drawn cases below: the facts pass had no friend's rows to walk).
    history = [_bun(at(0), "0.00"), refund("r1", at(1), "b1", customer="ben")]

    evaluation = on_batch(held(), history)

    assert [customer.customer_id for customer in evaluation.customers] == ["ben"]
    assert ledger(evaluation, "ben") == []
    assert evaluation.totals.referrals == 0


# --- partial refunds --------------------------------------------------------------------


def test_a_partial_refund_leaving_the_minimum_keeps_the_referral_and_a_later_one_is_late() -> None:
    # 3 x 5.00 = 15.00. r1 (day 3) gives one back: 10.00 left, the minimum, so it stands.
    # r2 (day 20) leaves 5.00, under it, but the hold ended on day 14: nothing changes.
    history = [
        _bun(at(0), "5.00", 3),
        refund("r1", at(3), "b1", ("bun", 1), customer="ben"),
        refund("r2", at(20), "b1", ("bun", 1), customer="ben"),
    ]

    evaluation = on_batch(held(), history)

    assert ledger(evaluation, "ann") == [("b1", "friends", "points", 500, None, None)]
    # A bun is still bought after each refund: ben keeps his 200.
    assert ledger(evaluation, "ben") == [
        ("b1", "friends", "referral", None, None, None),
        ("b1", "friends", "points", 200, None, None),
    ]
    assert evaluation.totals.referrals == 1


def test_after_a_partial_refund_reverses_the_next_purchase_after_it_qualifies_without_a_gift() -> (
    None
):
    # b1: 2 x 6.00. b2 (day 1) comes while ben had qualified: it does not count. r1 (day 2)
    # returns a bun: 6.00 left, under 10.00, so the referral is reversed, but a bun is left
    # and ben keeps his 200. b3 (day 5) qualifies again, held until day 19, with no second
    # 200. ann's own a1 (day 25) comes after the hold's end: her 500 is given just before it.
    history = [
        purchase("b1", at(0), line("bun", "6.00", quantity=2), customer="ben"),
        purchase("b2", at(1), line("cake", "30.00"), customer="ben"),
        refund("r1", at(2), "b1", ("bun", 1), customer="ben"),
        purchase("b3", at(5), line("bread", "11.00"), customer="ben"),
        purchase("a1", at(25), line("tea", "3.00"), customer="ann"),
    ]

    evaluation = on_batch(held(STARS), history, as_of=None)

    assert ledger(evaluation, "ben") == [
        ("b1", "stars", "points", 12, None, None),
        ("b1", "friends", "referral", None, None, None),
        ("b1", "friends", "points", 200, None, None),
        ("b2", "stars", "points", 30, None, None),
        ("r1", "stars", "points", -6, None, None),
        ("r1", "friends", "referral", None, None, -1),
        ("b3", "stars", "points", 11, None, None),
        ("b3", "friends", "referral", None, None, None),
    ]
    assert evaluation.customer("ben").points == 12 + 200 + 30 - 6 + 11
    assert ledger(evaluation, "ann") == [
        ("b3", "friends", "points", 500, None, None),
        ("a1", "stars", "points", 3, None, None),
    ]
    assert evaluation.customer("ann").ledger[0].reason == (
        "referral: ben, whom you referred, made a first qualifying purchase (b3), not "
        "returned within the hold of 14 days: 500 points"
    )
    assert evaluation.totals.referrals == 1  # two qualifying purchases, one reversal


def test_a_gift_kept_through_a_reversal_is_not_given_again_after_a_second_reversal() -> None:
    # r1 returns a bun of b1: reversed, and ben keeps his 200 (a bun is left). b2 (day 3)
    # qualifies again with no gift; r2 returns all of b2 within its hold: reversed again.
    # b3 (day 6) qualifies a third time: ben still holds b1's 200, so no second gift.
    history = [
        purchase("b1", at(0), line("bun", "6.00", quantity=2), customer="ben"),
        refund("r1", at(1), "b1", ("bun", 1), customer="ben"),
        purchase("b2", at(3), line("bread", "11.00"), customer="ben"),
        refund("r2", at(4), "b2", customer="ben"),
        purchase("b3", at(6), line("cake", "12.00"), customer="ben"),
    ]

    evaluation = on_batch(held(), history, as_of=at(20))

    assert ledger(evaluation, "ben") == [
        ("b1", "friends", "referral", None, None, None),
        ("b1", "friends", "points", 200, None, None),
        ("r1", "friends", "referral", None, None, -1),
        ("b2", "friends", "referral", None, None, None),
        ("r2", "friends", "referral", None, None, -1),
        ("b3", "friends", "referral", None, None, None),
    ]
    assert evaluation.customer("ben").points == 200
    assert ledger(evaluation, "ann") == [("b3", "friends", "points", 500, None, None)]


def test_after_a_full_refund_reverses_the_friend_gets_their_gift_again() -> None:
    # The full refund took the 200 back, so b2 gives them again; held until day 18.
    history = [
        _bun(at(0)),
        refund("r1", at(3), "b1", customer="ben"),
        purchase("b2", at(4), line("bread", "11.00"), customer="ben"),
    ]

    evaluation = on_batch(held(), history, as_of=at(18))

    assert ledger(evaluation, "ben") == [
        ("b1", "friends", "referral", None, None, None),
        ("b1", "friends", "points", 200, None, None),
        ("r1", "friends", "points", -200, None, None),
        ("r1", "friends", "referral", None, None, -1),
        ("b2", "friends", "referral", None, None, None),
        ("b2", "friends", "points", 200, None, None),
    ]
    assert ledger(evaluation, "ann") == [("b2", "friends", "points", 500, None, None)]
    assert on_batch(held(), history, as_of=at(18) - MICROSECOND).customer("ann").points == 0


def test_a_friend_who_kept_a_voucher_gets_no_second_one() -> None:
    voucher = {"voucher": {"sku": "cookie", "value": "2.00"}}
    history = [
        _bun(at(0)),
        refund("r1", at(2), "b1", customer="ben"),
        purchase("b2", at(5), line("bread", "11.00"), customer="ben"),
    ]

    evaluation = on_batch(held(referred=voucher), history)

    assert [row[0] for row in ledger(evaluation, "ben") if row[2] == "voucher"] == ["b1"]
    assert evaluation.customer("ann").points == 500


# --- the referrer's other gifts -----------------------------------------------------------


@pytest.mark.parametrize(
    ("birthday", "expected"),
    [
        # The birthday's midnight comes before the hold's end (16 March, noon): given first.
        (16, ["bday@2026-03-16", "b1", "a1"]),
        # The next midnight comes after it: the referral reward first.
        (17, ["b1", "bday@2026-03-17", "a1"]),
    ],
)
def test_a_held_reward_is_given_in_time_order_with_the_referrers_gifts_at_dates(
    birthday: int, expected: list[str]
) -> None:
    gift = {"id": "bday", "kind": "birthday", "points": 50, "window": "day"}
    people = [
        Customer(customer_id="ann", birthday=MonthDay(month=3, day=birthday)),
        PEOPLE[1],
    ]
    history = [_bun(at(0)), purchase("a1", at(20), line("tea", "3.00"), customer="ann")]

    evaluation = on_batch(held(STARS, gift), history, people, as_of=None)

    assert [row[0] for row in ledger(evaluation, "ann")] == expected
    assert evaluation.customer("ann").points == 50 + 500 + 3


# --- supplied facts ---------------------------------------------------------------------


FACT = ReferralQualified(id="b1", customer_id="ann", at=at(0), referred="ben", rule="friends")


def test_a_supplied_reversal_within_the_hold_takes_the_supplied_reward_back() -> None:
    reversal = FACT.model_copy(update={"at": at(14) - MICROSECOND, "reversed_by": "r1"})

    assert on_batch(held(), [FACT], None).customer("ann").points == 500
    reversed_ = on_batch(held(), [FACT, reversal], None)
    assert (reversed_.customer("ann").ledger, reversed_.customer("ann").points) == ((), 0)


def test_a_supplied_reversal_at_the_holds_end_is_refused_as_the_reference_refuses_it() -> None:
    # The reward was given at the hold's end, before the reversal at that very instant.
    reversal = FACT.model_copy(update={"at": at(14), "reversed_by": "r1"})

    assert not same_results(held(), [FACT, reversal])
    with pytest.raises(HistoryError) as raised:
        evaluate(held(), [FACT, reversal], engine="batch")

    assert str(raised.value.problems[0]) == (
        "event b1.reversed_by: it reverses the referral of ben's purchase b1 under rule "
        "'friends', but customer ann holds no such reward (never held, already reversed, or "
        "given when its hold ended); supply the fact of the purchase first, and a reversal "
        "only for a refund within the hold"
    )


def test_after_a_supplied_reversal_the_friend_may_be_rewarded_again() -> None:
    reversal = FACT.model_copy(update={"at": at(2), "reversed_by": "r1"})
    again = ReferralQualified(id="b2", customer_id="ann", at=at(3), referred="ben", rule="friends")

    evaluation = on_batch(held(), [FACT, reversal, again], None)

    assert ledger(evaluation, "ann") == [("b2", "friends", "points", 500, None, None)]


# --- drawn cases at the hold's edges -------------------------------------------------------


@settings(max_examples=150)
@given(held_referral_cases(), st.data())
def test_drawn_holds_with_refunds_at_their_edges_run_identically(
    case: tuple[Program, list[AnyEvent], list[Customer]], data: st.DataObject
) -> None:
    program_, events, customers = case
    as_of = data.draw(st.sampled_from((None, LATER, *(event.at for event in events))))
    assert batch.unsupported(program_) == []
    same_results(program_, events, customers, as_of)
