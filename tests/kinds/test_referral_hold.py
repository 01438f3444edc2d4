"""``referral`` with ``hold_for``: the referrer's reward waits out the friend's return window.

Histories start on Monday 2 March 2026 at noon UTC (``at(0)``); prices are in USD. The rule
holds for 14 days, so a friend's purchase at ``at(0)`` is held until ``at(14)``, Monday
16 March 2026 at noon UTC. docs/semantics.md, "Referral holds", states the rules.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from helpers import at, ledger, line, program, purchase, refund
from rewardrules import CustomerState, HistoryError, referral_facts, step
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import Customer, ReferralQualified
from rewardrules.program.model import Program
from rewardrules.tools.explain.explanation import explain

HELD = {
    "id": "friends",
    "kind": "referral",
    "referrer": {"points": 500},
    "referred": {"points": 200},
    "min_paid": "10.00",
    "hold_for": "14 days",
}
PEOPLE = [Customer(customer_id="ann"), Customer(customer_id="ben", referred_by="ann")]
MICROSECOND = timedelta(microseconds=1)


def held(**changes: Any) -> Program:
    return program(rules=[{**HELD, **changes}])


def _has(result: Any, customer: str) -> bool:
    return any(found.customer_id == customer for found in result.customers)


# --- when the referrer's reward is given ------------------------------------------------


def test_the_referrers_reward_is_given_when_the_hold_ends_not_at_the_purchase() -> None:
    history = [
        purchase("b1", at(0), line("bun", "12.00"), customer="ben"),
        purchase("a1", at(20), line("tea", "3.00"), customer="ann"),
    ]

    evaluation = evaluate(held(), history, PEOPLE)

    # The friend's own gift is not held: 200 points at the purchase.
    assert ledger(evaluation, "ben") == [
        ("b1", "friends", "referral", None, None, None),
        ("b1", "friends", "points", 200, None, None),
    ]
    # Given before ann's own purchase at at(20), the first event after the hold's end.
    assert ledger(evaluation, "ann") == [("b1", "friends", "points", 500, None, None)]
    assert evaluation.customer("ann").ledger[0].reason == (
        "referral: ben, whom you referred, made a first qualifying purchase (b1), not "
        "returned within the hold of 14 days: 500 points"
    )


def test_as_of_the_day_before_the_hold_ends_the_reward_is_not_given_yet() -> None:
    history = [purchase("b1", at(0), line("bun", "12.00"), customer="ben")]

    before = evaluate(held(), history, PEOPLE, as_of=date(2026, 3, 15))
    on_the_day = evaluate(held(), history, PEOPLE, as_of=date(2026, 3, 16))

    assert before.customer("ann").points == 0
    assert before.customer("ann").ledger == ()
    assert ledger(on_the_day, "ann") == [("b1", "friends", "points", 500, None, None)]


def test_as_of_the_instant_the_hold_ends_gives_it_and_a_microsecond_before_does_not() -> None:
    history = [purchase("b1", at(0), line("bun", "12.00"), customer="ben")]

    just_before = evaluate(held(), history, PEOPLE, as_of=at(14) - MICROSECOND)
    at_the_end = evaluate(held(), history, PEOPLE, as_of=at(14))

    assert just_before.customer("ann").points == 0
    assert at_the_end.customer("ann").points == 500


def test_without_as_of_a_held_reward_waits_for_the_referrers_next_event() -> None:
    # Like a gift at a date: nothing after the hold's end reaches ann, so nothing is given;
    # ann is in the results all the same, with the reward held in her state.
    history = [
        purchase("b1", at(0), line("bun", "12.00"), customer="ben"),
        purchase("b2", at(30), line("bun", "1.00"), customer="ben"),
    ]

    ann = evaluate(held(), history, PEOPLE).customer("ann")

    assert (ann.ledger, ann.points) == ((), 0)
    assert [(kept.id, kept.held_until) for kept in ann.state.referrals] == [("b1", at(14))]


def test_a_hold_in_months_ends_on_the_same_local_time_of_the_month_or_its_last_day() -> None:
    rules = program(timezone="Europe/Paris", rules=[{**HELD, "hold_for": "1 month"}])
    # 31 January 2026 at 10:00 in Paris (09:00 UTC): held until 28 February at 10:00 Paris.
    history = [purchase("b1", at(-30, hours=-3), line("bun", "12.00"), customer="ben")]
    assert history[0].at.isoformat() == "2026-01-31T09:00:00+00:00"

    before = evaluate(rules, history, PEOPLE, as_of=at(-2, hours=-3) - MICROSECOND)
    at_end = evaluate(rules, history, PEOPLE, as_of=at(-2, hours=-3))

    assert at(-2, hours=-3).isoformat() == "2026-02-28T09:00:00+00:00"
    assert before.customer("ann").points == 0
    assert at_end.customer("ann").points == 500


# --- reversal by a refund within the hold ----------------------------------------------


def test_a_full_refund_within_the_hold_reverses_the_referral() -> None:
    history = [
        purchase("b1", at(0), line("bun", "12.00"), customer="ben"),
        refund("r1", at(3), "b1", customer="ben"),
    ]

    evaluation = evaluate(held(), history, PEOPLE, as_of=date(2026, 4, 30))

    assert ledger(evaluation, "ben") == [
        ("b1", "friends", "referral", None, None, None),
        ("b1", "friends", "points", 200, None, None),
        ("r1", "friends", "points", -200, None, None),
        ("r1", "friends", "referral", None, None, -1),
    ]
    assert evaluation.customer("ben").ledger[-1].reason == (
        "referral: reversed: friend's purchase b1 was refunded on 2026-03-05 within the hold; "
        "ann does not get the referral reward (500 points), and the next qualifying purchase "
        "may earn it"
    )
    assert (evaluation.customer("ann").ledger, evaluation.customer("ann").state.referrals) == (
        (),
        (),
    )
    assert evaluation.totals.referrals == 0  # one qualifying purchase, one reversal


def test_a_full_refund_reverses_even_with_no_minimum() -> None:
    history = [
        purchase("b1", at(0), line("bun", "12.00"), customer="ben"),
        refund("r1", at(3), "b1", customer="ben"),
    ]

    evaluation = evaluate(held(min_paid="0"), history, PEOPLE, as_of=date(2026, 4, 30))

    assert ledger(evaluation, "ben")[-1] == ("r1", "friends", "referral", None, None, -1)


def test_a_partial_refund_with_no_minimum_leaves_the_referral_standing() -> None:
    history = [
        purchase("b1", at(0), line("bun", "6.00", quantity=2), customer="ben"),
        refund("r1", at(3), "b1", ("bun", 1), customer="ben"),
    ]

    evaluation = evaluate(held(min_paid="0"), history, PEOPLE, as_of=date(2026, 4, 30))

    assert evaluation.customer("ann").points == 500


def test_a_refund_leaving_exactly_the_minimum_keeps_the_referral() -> None:
    # 3 x 5.00 = 15.00; one back leaves 10.00, the minimum: it still qualifies.
    history = [
        purchase("b1", at(0), line("bun", "5.00", quantity=3), customer="ben"),
        refund("r1", at(3), "b1", ("bun", 1), customer="ben"),
    ]

    evaluation = evaluate(held(), history, PEOPLE, as_of=date(2026, 4, 30))

    assert evaluation.customer("ann").points == 500
    assert evaluation.totals.referrals == 1


def test_a_refund_leaving_a_cent_under_the_minimum_reverses_it() -> None:
    # 2 x 5.00 + 0.01 = 10.01 on eligible lines: giving back the mint leaves 10.00, the
    # minimum (it stands); then giving back a bun leaves 5.00, under it (reversed by r2).
    history = [
        purchase(
            "b1", at(0), line("bun", "5.00", quantity=2), line("mint", "0.01"), customer="ben"
        ),
        refund("r1", at(1), "b1", ("mint", 1), customer="ben"),
        refund("r2", at(2), "b1", ("bun", 1), customer="ben"),
    ]

    evaluation = evaluate(held(), history, PEOPLE, as_of=date(2026, 4, 30))

    assert [row[0] for row in ledger(evaluation, "ben") if row[5] == -1] == ["r2"]
    assert evaluation.customer("ann").points == 0


def test_only_the_rules_lines_count_towards_the_minimum_after_a_refund() -> None:
    # The rule counts bakery lines only: 12.00 of buns and a 20.00 mug. Returning one bun
    # (6.00) leaves 6.00 of bakery, under 10.00, however much the mug paid.
    rules = held(when={"categories": ["bakery"]})
    history = [
        purchase(
            "b1",
            at(0),
            line("bun", "6.00", quantity=2, category="bakery"),
            line("mug", "20.00", category="home"),
            customer="ben",
        ),
        refund("r1", at(1), "b1", ("bun", 1), customer="ben"),
    ]

    evaluation = evaluate(rules, history, PEOPLE, as_of=date(2026, 4, 30))

    assert evaluation.customer("ann").points == 0


def test_a_refund_a_microsecond_before_the_hold_ends_reverses_and_at_the_end_does_not() -> None:
    def outcome(when: Any) -> int:
        history = [
            purchase("b1", at(0), line("bun", "12.00"), customer="ben"),
            refund("r1", when, "b1", customer="ben"),
        ]
        evaluation = evaluate(held(), history, PEOPLE, as_of=date(2026, 4, 30))
        return evaluation.customer("ann").points if _has(evaluation, "ann") else 0

    assert outcome(at(14) - MICROSECOND) == 0
    assert outcome(at(14)) == 500  # the hold is over: a refund from then on changes nothing


def test_a_refund_after_the_hold_changes_nothing_for_the_referrer() -> None:
    history = [
        purchase("b1", at(0), line("bun", "12.00"), customer="ben"),
        refund("r1", at(20), "b1", customer="ben"),
    ]

    evaluation = evaluate(held(), history, PEOPLE, as_of=date(2026, 4, 30))

    assert ledger(evaluation, "ann") == [("b1", "friends", "points", 500, None, None)]
    assert ledger(evaluation, "ben")[-1] == ("r1", "friends", "points", -200, None, None)
    assert evaluation.totals.referrals == 1


def test_a_refund_of_another_purchase_within_the_hold_changes_nothing() -> None:
    history = [
        purchase("b1", at(0), line("bun", "12.00"), customer="ben"),
        purchase("b2", at(1), line("cake", "30.00"), customer="ben"),
        refund("r2", at(2), "b2", customer="ben"),
    ]

    evaluation = evaluate(held(), history, PEOPLE, as_of=date(2026, 4, 30))

    assert evaluation.customer("ann").points == 500


# --- qualifying again after a reversal --------------------------------------------------


def test_after_a_reversal_the_friends_next_purchase_qualifies_not_one_made_before_it() -> None:
    history = [
        purchase("b1", at(0), line("bun", "12.00"), customer="ben"),
        purchase("b2", at(1), line("cake", "30.00"), customer="ben"),  # ben had qualified
        refund("r1", at(2), "b1", customer="ben"),
        purchase("b3", at(5), line("bread", "11.00"), customer="ben"),
    ]

    evaluation = evaluate(held(), history, PEOPLE, as_of=date(2026, 4, 30))

    # b3 is held until at(19); given then.
    assert ledger(evaluation, "ann") == [("b3", "friends", "points", 500, None, None)]
    # The full refund took ben's 200 back, so b3 gives them again.
    assert [row for row in ledger(evaluation, "ben") if row[1] == "friends"] == [
        ("b1", "friends", "referral", None, None, None),
        ("b1", "friends", "points", 200, None, None),
        ("r1", "friends", "points", -200, None, None),
        ("r1", "friends", "referral", None, None, -1),
        ("b3", "friends", "referral", None, None, None),
        ("b3", "friends", "points", 200, None, None),
    ]
    assert evaluation.customer("ben").points == 200  # the program gives no other points
    assert evaluation.totals.referrals == 1


def test_a_friend_who_kept_their_gift_through_a_partial_refund_does_not_get_it_twice() -> None:
    # One bun of two back leaves 6.00 (under 10.00): reversed, but a bun is left, so ben
    # keeps his 200 points; his next qualifying purchase rewards ann only.
    history = [
        purchase("b1", at(0), line("bun", "6.00", quantity=2), customer="ben"),
        refund("r1", at(2), "b1", ("bun", 1), customer="ben"),
        purchase("b2", at(5), line("bread", "11.00"), customer="ben"),
    ]

    evaluation = evaluate(held(), history, PEOPLE, as_of=date(2026, 4, 30))

    assert ledger(evaluation, "ben")[-1] == ("b2", "friends", "referral", None, None, None)
    assert evaluation.customer("ben").points == 200
    assert evaluation.customer("ann").points == 500


def test_a_friend_keeps_a_voucher_so_it_is_not_given_again() -> None:
    voucher = {"voucher": {"sku": "cookie", "value": "2.00"}}
    history = [
        purchase("b1", at(0), line("bun", "12.00"), customer="ben"),
        refund("r1", at(2), "b1", customer="ben"),
        purchase("b2", at(5), line("bread", "11.00"), customer="ben"),
    ]

    evaluation = evaluate(held(referred=voucher), history, PEOPLE, as_of=date(2026, 4, 30))

    vouchers = [row for row in ledger(evaluation, "ben") if row[2] == "voucher"]
    assert vouchers == [("b1", "friends", "voucher", None, Decimal("2.00"), 1)]


# --- explain -----------------------------------------------------------------------------


def test_explain_shows_the_hold_the_reversal_and_the_release() -> None:
    history = [
        purchase("b1", at(0), line("bun", "12.00"), customer="ben"),
        refund("r1", at(2), "b1", customer="ben"),
        purchase("b2", at(5), line("bread", "11.00"), customer="ben"),
    ]

    account = explain(held(), history, "ann", customers=PEOPLE, as_of=date(2026, 4, 30))

    assert [(event.title(False), [o.text for o in event.outcomes]) for event in account.events] == [
        (
            "Referral b1 on 2026-03-02 12:00: friend ben's first qualifying purchase",
            ["held until 2026-03-16 12:00 (friend's purchase b1 may still be returned)"],
        ),
        (
            "Referral b1 reversed on 2026-03-04 12:00: friend ben's refund r1 within the hold",
            [
                "reversed: friend's purchase b1 was refunded on 2026-03-04 within the hold "
                "(refund r1); nothing is given"
            ],
        ),
        (
            "Referral b2 on 2026-03-07 12:00: friend ben's first qualifying purchase",
            ["held until 2026-03-21 12:00 (friend's purchase b2 may still be returned)"],
        ),
        (
            "Referral b2 on 2026-03-21 12:00: friend ben's first qualifying purchase",
            [
                "referral: ben, whom you referred, made a first qualifying purchase (b2), not "
                "returned within the hold of 14 days: 500 points"
            ],
        ),
    ]


def test_explain_counts_the_rewards_still_held() -> None:
    history = [purchase("b1", at(0), line("bun", "12.00"), customer="ben")]

    account = explain(held(), history, "ann", customers=PEOPLE, as_of=date(2026, 3, 10))

    assert account.next_rewards[-1] == (
        "friends: 500 points for each referred friend's first purchase of at least 10.00 USD "
        "(1 friend qualified so far, 1 reward held)"
    )


# --- step, saved states and supplied facts -----------------------------------------------


def test_step_carries_the_hold_in_both_saved_states() -> None:
    rules = held()
    ben, entries = step(
        rules, None, purchase("b1", at(0), line("bun", "12.00"), customer="ben"), PEOPLE[1]
    )
    (fact,) = referral_facts(entries)
    ann, given = step(rules, None, fact)
    assert given == []
    assert [(kept.id, kept.held_until) for kept in ann.referrals] == [("b1", at(14))]
    assert [(hold.purchase, hold.until, hold.reversed_by) for hold in ben.referral_holds] == [
        ("b1", at(14), None)
    ]
    # Through JSON and back, then the refund within the hold: the reversal reaches ann.
    ben = CustomerState.model_validate_json(ben.model_dump_json())
    ann = CustomerState.model_validate_json(ann.model_dump_json())
    ben, entries = step(rules, ben, refund("r1", at(3), "b1", customer="ben"), PEOPLE[1])
    (reversal,) = referral_facts(entries)
    assert (reversal.id, reversal.reversed_by, reversal.at) == ("b1", "r1", at(3))
    ann, given = step(rules, ann, reversal)
    assert (given, ann.referrals) == ([], ())
    assert [(hold.purchase, hold.reversed_by, hold.gift_kept) for hold in ben.referral_holds] == [
        ("b1", "r1", False)
    ]


def test_a_supplied_reversal_takes_back_a_supplied_held_fact() -> None:
    fact = ReferralQualified(id="b1", customer_id="ann", at=at(0), referred="ben", rule="friends")
    reversal = fact.model_copy(update={"at": at(2), "reversed_by": "r1"})

    alone = evaluate(held(), [fact], as_of=date(2026, 4, 30))
    reversed_ = evaluate(held(), [fact, reversal], as_of=date(2026, 4, 30))

    assert alone.customer("ann").points == 500
    assert reversed_.customer("ann").points == 0


def test_a_reversal_of_nothing_held_is_refused_with_what_to_do() -> None:
    reversal = ReferralQualified(
        id="b1", customer_id="ann", at=at(2), referred="ben", rule="friends", reversed_by="r1"
    )

    with pytest.raises(HistoryError) as raised:
        evaluate(held(), [reversal])

    assert str(raised.value.problems[0]) == (
        "event b1.reversed_by: it reverses the referral of ben's purchase b1 under rule "
        "'friends', but customer ann holds no such reward (never held, already reversed, or "
        "given when its hold ended); supply the fact of the purchase first, and a reversal "
        "only for a refund within the hold"
    )


def test_a_reversal_under_a_rule_without_hold_for_is_refused() -> None:
    fact = ReferralQualified(id="b1", customer_id="ann", at=at(0), referred="ben", rule="friends")
    reversal = fact.model_copy(update={"at": at(2), "reversed_by": "r1"})
    rules = program(rules=[{key: value for key, value in HELD.items() if key != "hold_for"}])

    with pytest.raises(HistoryError) as raised:
        evaluate(rules, [fact, reversal])

    assert str(raised.value.problems[0]) == (
        "event b1.reversed_by: it reverses a referral under rule 'friends', which holds "
        "nothing (it has no hold_for): leave reversed_by out, or give the rule a hold_for"
    )


# The batch engine evaluates holds too: tests/test_batch_holds.py.


def test_a_hold_of_0_days_gives_at_the_purchase_as_without_a_hold() -> None:
    history = [
        purchase("b1", at(0), line("bun", "12.00"), customer="ben"),
        refund("r1", at(0, minutes=1), "b1", customer="ben"),
    ]

    evaluation = evaluate(held(hold_for="0 days"), history, PEOPLE)

    assert ledger(evaluation, "ann") == [("b1", "friends", "points", 500, None, None)]
    assert evaluation.customer("ben").ledger[0].reason == (
        "referral: first qualifying purchase of a friend referred by ann; the referral reward "
        "(500 points) goes to ann's ledger"
    )


def test_a_state_holding_a_reward_under_a_rule_the_program_lacks_is_refused() -> None:
    fact = ReferralQualified(id="b1", customer_id="ann", at=at(0), referred="ben", rule="friends")
    state = evaluate(held(), [fact]).customer("ann").state
    other = program(rules=[{**HELD, "id": "pals"}])

    with pytest.raises(HistoryError) as raised:
        evaluate(
            other, [purchase("a1", at(20), line("tea", "3.00"), customer="ann")], states=[state]
        )

    assert str(raised.value.problems[0]).startswith(
        "state of ann.referrals[0].rule: holds a reward under 'friends', which is not a "
        "referral rule of the program; a state belongs to its program"
    )


def test_a_gift_kept_through_two_reversals_is_never_given_twice_even_across_saved_states() -> None:
    # r1 returns one bun of b1: reversed, ben keeps his 200 (a bun is left). b2 qualifies
    # again, giftless, and r2 returns all of it within its hold: reversed again. What ben
    # kept of b1 is still kept: b3 qualifies with no second gift. Stepped one event at a
    # time through the saved state's JSON, the state carries that (gift_kept on b2's hold).
    history = [
        purchase("b1", at(0), line("bun", "6.00", quantity=2), customer="ben"),
        refund("r1", at(1), "b1", ("bun", 1), customer="ben"),
        purchase("b2", at(3), line("bread", "11.00"), customer="ben"),
        refund("r2", at(4), "b2", customer="ben"),
        purchase("b3", at(6), line("cake", "12.00"), customer="ben"),
    ]
    rules = held()

    whole = evaluate(rules, history, PEOPLE)

    gifts = [row[0] for row in ledger(whole, "ben") if row[2] == "points"]
    assert gifts == ["b1"]
    assert whole.customer("ben").points == 200
    state: CustomerState | None = None
    stepped = []
    for event in history:
        state, entries = step(rules, state, event, PEOPLE[1])
        stepped += [(entry.event_id, entry.kind, entry.points) for entry in entries]
        if event.id == "b2":
            assert [(hold.purchase, hold.gift_kept) for hold in state.referral_holds] == [
                ("b2", True)
            ]
        state = CustomerState.model_validate_json(state.model_dump_json())
    assert [row for row in stepped if row[1] == "points"] == [("b1", "points", 200)]
