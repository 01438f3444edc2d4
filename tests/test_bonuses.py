"""Birthday, sign-up and referral rules (docs/lifecycle.md), worked out by hand.

Histories start at ``BASE``, Monday 2 March 2026 at noon UTC; ``EARN`` gives 1 point per
1.00 paid, so a purchase of ``N.00`` earns N points beside the bonus under test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from helpers import at, ledger, line, program, purchase, reasons, refund
from rewardrules.engine.ledger import Evaluation
from rewardrules.errors import HistoryError
from rewardrules.evaluation.fold import evaluate, step
from rewardrules.events import AnyEvent, Customer, MonthDay, ReferralQualified
from rewardrules.kinds.referral import referral_facts
from rewardrules.program.model import Program

EARN = {"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1.00"}


def club(*rules: dict[str, Any], **settings: Any) -> Program:
    """A program earning 1 point per 1.00, plus ``rules``."""
    return program(rules=[EARN, *rules], points={"value": "0.01"}, **settings)


def buy(id: str, when: datetime, amount: str, customer: str = "c1") -> AnyEvent:
    return purchase(id, when, line("bun", amount), customer=customer)


def profile(customer: str = "c1", **fields: Any) -> Customer:
    return Customer(customer_id=customer, **fields)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def run(rules: Program, events: list[AnyEvent], *customers: Customer, **options: Any) -> Evaluation:
    return evaluate(rules, events, customers, **options)


# --- birthday -----------------------------------------------------------------------------

BIRTHDAY_POINTS = {"id": "bday", "kind": "birthday", "points": 100}


def test_a_birthday_gift_is_given_at_the_first_midnight_of_its_window_between_events() -> None:
    events = [buy("p1", at(0), "5.00"), buy("p2", at(18), "3.00")]  # 2 and 20 March

    evaluation = run(club(BIRTHDAY_POINTS), events, profile(birthday="03-10"))

    assert ledger(evaluation) == [
        ("p1", "earn", "points", 5, None, None),
        ("bday@2026-03-10", "bday", "points", 100, None, None),
        ("p2", "earn", "points", 3, None, None),
    ]
    assert reasons(evaluation)[1] == (
        "birthday 2026 (birthday 03-10; window 2026-03-10 to 2026-03-10): 100 points"
    )
    assert evaluation.customer("c1").points == 108


def test_a_birthday_after_the_last_event_needs_as_of_to_be_given() -> None:
    events = [buy("p1", at(0), "5.00")]
    rules = club(BIRTHDAY_POINTS)

    without = run(rules, events, profile(birthday="03-10"))
    with_as_of = run(rules, events, profile(birthday="03-10"), as_of=date(2026, 3, 10))
    day_before = run(rules, events, profile(birthday="03-10"), as_of=date(2026, 3, 9))

    assert without.customer("c1").points == 5
    assert with_as_of.customer("c1").points == 105
    assert day_before.customer("c1").points == 5


def test_joining_inside_the_birthday_month_gives_at_the_moment_of_joining() -> None:
    rule = {**BIRTHDAY_POINTS, "window": "month"}
    joined = utc("2026-03-15T09:30:00")
    events = [buy("p1", at(20), "2.00")]

    evaluation = run(club(rule), events, profile(birthday="03-02", joined_at=joined))

    assert [row[0] for row in ledger(evaluation)] == ["bday@2026-03-15", "p1"]


def test_a_window_that_ended_before_the_customer_joined_gives_nothing() -> None:
    joined = utc("2026-03-15T09:30:00")
    events = [buy("p1", at(20), "2.00")]

    evaluation = run(club(BIRTHDAY_POINTS), events, profile(birthday="03-10", joined_at=joined))

    assert ledger(evaluation) == [("p1", "earn", "points", 2, None, None)]


def test_without_a_joining_date_the_first_event_is_when_the_customer_became_known() -> None:
    # Birthday 1 March: the 2026 window ended before the first purchase (2 March).
    events = [buy("p1", at(0), "1.00")]
    rules = club(BIRTHDAY_POINTS)

    evaluation = run(rules, events, profile(birthday="03-01"), as_of=date(2027, 3, 1))

    assert [row[0] for row in ledger(evaluation)] == ["p1", "bday@2027-03-01"]


def test_no_birthday_or_no_profile_gives_nothing_and_no_error() -> None:
    events = [buy("p1", at(0), "5.00"), buy("p2", at(40), "5.00", customer="c2")]

    evaluation = run(club(BIRTHDAY_POINTS), events, profile(), as_of=date(2027, 1, 1))

    assert evaluation.customer("c1").points == 5
    assert evaluation.customer("c2").points == 5


def test_each_birthday_year_gives_once() -> None:
    rule = {**BIRTHDAY_POINTS, "window": "month"}
    events = [buy(f"p{month}", at(30 * month), "1.00") for month in range(15)]

    evaluation = run(club(rule), events, profile(birthday="04-20"))

    gifts = [row[0] for row in ledger(evaluation) if row[1] == "bday"]
    assert gifts == ["bday@2026-04-01", "bday@2027-04-01"]


def test_29_february_falls_on_28_february_in_other_years() -> None:
    events = [buy("p1", at(0), "1.00")]

    evaluation = run(
        club(BIRTHDAY_POINTS), events, profile(birthday="02-29"), as_of=date(2028, 3, 1)
    )

    assert [row[0] for row in ledger(evaluation)] == ["p1", "bday@2027-02-28", "bday@2028-02-29"]


def test_a_window_across_new_year_belongs_to_the_year_of_the_birthday_in_it() -> None:
    rule = {**BIRTHDAY_POINTS, "days_around": 5, "requires_purchase": True}
    events = [
        buy("p1", utc("2026-12-30T10:00:00"), "1.00"),
        buy("p2", utc("2027-01-03T10:00:00"), "1.00"),
    ]

    evaluation = run(club(rule), events, profile(birthday="01-02"))

    assert ledger(evaluation)[1] == ("p1", "bday", "points", 100, None, None)
    assert (
        "birthday 2027 (birthday 01-02; window 2026-12-28 to 2027-01-07)" in reasons(evaluation)[1]
    )
    assert [row for row in ledger(evaluation) if row[0] == "p2"] == [
        ("p2", "earn", "points", 1, None, None)
    ]


def test_a_birthday_window_is_in_the_programs_time_zone() -> None:
    rule = {**BIRTHDAY_POINTS, "requires_purchase": True}
    rules = club(rule, timezone="America/New_York")
    late_evening = utc("2026-03-10T03:30:00")  # 9 March, 23:30 in New York
    morning = utc("2026-03-10T13:00:00")

    evaluation = run(
        rules,
        [buy("p1", late_evening, "1.00"), buy("p2", morning, "1.00")],
        profile(birthday="03-10"),
    )

    assert [row[:3] for row in ledger(evaluation) if row[1] == "bday"] == [("p2", "bday", "points")]


def test_a_birthday_voucher_waits_for_the_first_purchase_in_the_window() -> None:
    rule = {
        "id": "cake",
        "kind": "birthday",
        "voucher": {"sku": "cake", "value": "3.50", "name": "a slice of cake"},
        "window": "month",
        "requires_purchase": True,
    }
    events = [buy("p1", at(0), "2.00"), buy("p2", at(40), "2.00"), buy("p3", at(45), "2.00")]

    evaluation = run(club(rule), events, profile(birthday="04-09"))

    assert [row for row in ledger(evaluation) if row[1] == "cake"] == [
        ("p2", "cake", "voucher", None, Decimal("3.50"), 1)
    ]
    assert evaluation.totals.voucher_value == 350


def test_a_purchase_the_birthday_filter_refuses_does_not_use_up_the_year() -> None:
    rule = {
        **BIRTHDAY_POINTS,
        "window": "month",
        "requires_purchase": True,
        "when": {"min_total": "10.00"},
    }
    events = [buy("p1", at(0), "4.00"), buy("p2", at(3), "12.00")]

    evaluation = run(club(rule), events, profile(birthday="03-20"))

    assert [row[0] for row in ledger(evaluation) if row[1] == "bday"] == ["p2"]


def test_birthday_points_given_at_a_date_are_available_at_once() -> None:
    rules = program(rules=[EARN, BIRTHDAY_POINTS], points={"pending_for": "14 days"})
    events = [buy("p1", at(0), "5.00")]

    result = run(rules, events, profile(birthday="03-03"), as_of=date(2026, 3, 4)).customer("c1")

    assert (result.points, result.available_points, result.pending_points) == (105, 100, 5)


def test_refunding_the_birthday_purchase_takes_its_points_back_and_the_year_stays_used() -> None:
    rule = {**BIRTHDAY_POINTS, "window": "month", "requires_purchase": True}
    events = [
        buy("p1", at(0), "2.00"),
        refund("r1", at(1), "p1"),
        buy("p2", at(2), "2.00"),
    ]

    evaluation = run(club(rule), events, profile(birthday="03-20"))

    assert [row for row in ledger(evaluation) if row[1] == "bday"] == [
        ("p1", "bday", "points", 100, None, None),
        ("r1", "bday", "points", -100, None, None),
    ]
    assert evaluation.customer("c1").points == 2


def test_a_profile_only_customer_gets_the_gifts_up_to_as_of() -> None:
    rules = club(BIRTHDAY_POINTS, {"id": "welcome", "kind": "signup_bonus", "points": 50})
    joined = utc("2026-01-05T08:00:00")

    with_as_of = run(rules, [], profile(joined_at=joined, birthday="02-01"), as_of=date(2026, 3, 1))
    without = run(rules, [], profile(joined_at=joined, birthday="02-01"))

    assert ledger(with_as_of) == [
        ("welcome@2026-01-05", "welcome", "points", 50, None, None),
        ("bday@2026-02-01", "bday", "points", 100, None, None),
    ]
    assert without.customers == ()


def test_a_birthday_gift_does_not_revive_points_that_expired_for_inactivity() -> None:
    rules = program(rules=[EARN, BIRTHDAY_POINTS], points={"expire_on_inactivity": "30 days"})
    events = [buy("p1", at(0), "5.00")]  # expires on 1 April

    evaluation = run(rules, events, profile(birthday="04-10"), as_of=date(2026, 6, 1))

    assert [row[:4] for row in ledger(evaluation)] == [
        ("p1", "earn", "points", 5),
        ("p1", "points.expire_on_inactivity", "expiry", -5),
        ("bday@2026-04-10", "bday", "points", 100),
    ]
    assert evaluation.customer("c1").points == 100


# --- sign-up bonus --------------------------------------------------------------------------

WELCOME = {"id": "welcome", "kind": "signup_bonus", "points": 50}
FIRST_20 = {"id": "first-20", "kind": "signup_bonus", "points": 25, "min_first_purchase": "20.00"}


def test_a_signup_bonus_is_given_at_the_moment_of_joining() -> None:
    joined = at(1)
    events = [buy("p1", at(0), "3.00"), buy("p2", at(2), "4.00")]

    evaluation = run(club(WELCOME), events, profile(joined_at=joined))

    assert ledger(evaluation) == [
        ("p1", "earn", "points", 3, None, None),
        ("welcome@2026-03-03", "welcome", "points", 50, None, None),
        ("p2", "earn", "points", 4, None, None),
    ]
    assert reasons(evaluation)[1] == "welcome bonus, for joining: 50 points"


def test_without_a_joining_date_there_is_no_signup_bonus() -> None:
    evaluation = run(club(WELCOME), [buy("p1", at(0), "3.00")], profile(birthday="01-01"))

    assert evaluation.customer("c1").points == 3


def test_a_signup_bonus_outside_the_rules_dates_is_not_given() -> None:
    rule = {**WELCOME, "starts": "2026-04-01"}

    evaluation = run(club(rule), [buy("p1", at(3), "3.00")], profile(joined_at=at(0)))

    assert evaluation.customer("c1").points == 3


def test_a_signup_bonus_with_a_minimum_waits_for_a_first_purchase_that_reaches_it() -> None:
    events = [
        buy("p0", at(0), "30.00"),  # before joining: does not count
        buy("p1", at(2), "12.00"),
        buy("p2", at(3), "25.00"),
        buy("p3", at(4), "40.00"),
    ]

    evaluation = run(club(FIRST_20), events, profile(joined_at=at(1)))

    assert [row for row in ledger(evaluation) if row[1] == "first-20"] == [
        ("p2", "first-20", "points", 25, None, None)
    ]
    assert reasons(evaluation)[3] == (
        "welcome bonus, at the first purchase of at least 20.00 USD after joining: 25 points"
    )


def test_the_minimum_is_on_what_is_paid_after_price_rules() -> None:
    card = {"id": "card", "kind": "every_nth_free", "every": 2}
    events = [purchase("p1", at(1), line("bun", "12.00", 2))]  # one bun free: 12.00 paid

    evaluation = run(club(card, FIRST_20), events, profile(joined_at=at(0)))

    assert [row[1] for row in ledger(evaluation)] == ["card", "earn"]


def test_a_refunded_signup_purchase_takes_the_bonus_back_for_good() -> None:
    events = [buy("p1", at(1), "25.00"), refund("r1", at(2), "p1"), buy("p2", at(3), "25.00")]

    evaluation = run(club(FIRST_20), events, profile(joined_at=at(0)))

    assert [row for row in ledger(evaluation) if row[1] == "first-20"] == [
        ("p1", "first-20", "points", 25, None, None),
        ("r1", "first-20", "points", -25, None, None),
    ]


# --- referral -------------------------------------------------------------------------------

FRIENDS = {
    "id": "friends",
    "kind": "referral",
    "referrer": {"points": 500},
    "referred": {"points": 200},
    "min_paid": "10.00",
}


def test_a_friends_first_qualifying_purchase_rewards_both_at_that_instant() -> None:
    events = [
        buy("a1", at(0), "4.00", customer="ann"),
        buy("b1", at(1), "6.00", customer="ben"),  # under the minimum
        buy("b2", at(2), "15.00", customer="ben"),
        buy("b3", at(3), "30.00", customer="ben"),
    ]
    customers = [profile("ben", referred_by="ann")]

    evaluation = run(club(FRIENDS), events, *customers)

    assert ledger(evaluation, "ann") == [
        ("a1", "earn", "points", 4, None, None),
        ("b2", "friends", "points", 500, None, None),
    ]
    assert [row for row in ledger(evaluation, "ben") if row[1] == "friends"] == [
        ("b2", "friends", "referral", None, None, None),
        ("b2", "friends", "points", 200, None, None),
    ]
    assert reasons(evaluation, "ann")[1] == (
        "referral: ben, whom you referred, made a first qualifying purchase: 500 points"
    )
    assert evaluation.totals.referrals == 1


def test_a_referrer_without_events_of_their_own_appears_with_the_reward() -> None:
    events = [buy("b1", at(1), "15.00", customer="ben")]

    evaluation = run(club(FRIENDS), events, profile("ben", referred_by="ann"))

    assert [result.customer_id for result in evaluation.customers] == ["ann", "ben"]
    assert evaluation.customer("ann").points == 500


def test_a_referrer_evaluated_alone_with_the_fact_gets_the_same() -> None:
    events = [buy("a1", at(0), "4.00", customer="ann"), buy("b1", at(1), "15.00", customer="ben")]
    together = run(club(FRIENDS), events, profile("ben", referred_by="ann"))
    fact = ReferralQualified(id="b1", customer_id="ann", at=at(1), referred="ben", rule="friends")

    alone = run(club(FRIENDS), [events[0], fact])

    assert ledger(alone, "ann") == ledger(together, "ann")
    assert alone.customer("ann").state == together.customer("ann").state
    assert referral_facts(together.customer("ben").ledger) == [fact]


def test_step_on_the_friend_gives_the_fact_to_pass_to_the_referrer() -> None:
    rules = club(FRIENDS)
    ben = profile("ben", referred_by="ann")

    _, entries = step(rules, None, buy("b1", at(1), "15.00", customer="ben"), ben)
    (fact,) = referral_facts(entries)
    ann_state, ann_entries = step(rules, None, fact)

    assert [(entry.rule, entry.points) for entry in ann_entries] == [("friends", 500)]
    assert ann_state.points == 500
    assert [referral.referred for referral in ann_state.referrals] == ["ben"]


def test_a_friend_qualifies_once_per_rule_and_a_repeated_fact_is_refused() -> None:
    fact = ReferralQualified(id="b1", customer_id="ann", at=at(1), referred="ben", rule="friends")
    again = fact.model_copy(update={"id": "b9", "at": at(5)})

    with pytest.raises(HistoryError, match="already rewarded for referring ben"):
        run(club(FRIENDS), [fact, again])


def test_a_fact_that_repeats_a_purchase_of_the_evaluation_is_refused() -> None:
    events = [buy("b1", at(1), "15.00", customer="ben")]
    fact = ReferralQualified(id="b1", customer_id="ann", at=at(1), referred="ben", rule="friends")

    with pytest.raises(HistoryError, match="supply referral facts only for friends"):
        run(club(FRIENDS), [*events, fact], profile("ben", referred_by="ann"))


def test_a_fact_naming_an_unknown_rule_is_refused_with_the_known_ones() -> None:
    fact = ReferralQualified(id="b1", customer_id="ann", at=at(1), referred="ben", rule="pals")

    with pytest.raises(HistoryError, match=r"'pals'.*its referral rules: friends"):
        run(club(FRIENDS), [fact])


def test_a_customer_referring_themselves_is_refused() -> None:
    with pytest.raises(HistoryError, match="cannot refer themselves"):
        run(club(FRIENDS), [], profile("ann", referred_by="ann"))


def test_a_customer_with_two_profiles_is_refused() -> None:
    with pytest.raises(HistoryError, match="two profiles"):
        run(club(FRIENDS), [], profile("ann"), profile("ann"))


def test_a_referral_limit_bounds_the_referrers_rewards() -> None:
    rule = {**FRIENDS, "limit": {"per": "year", "rewards": 1}}
    events = [buy("b1", at(1), "15.00", customer="ben"), buy("c1", at(2), "15.00", customer="cy")]
    customers = [profile("ben", referred_by="ann"), profile("cy", referred_by="ann")]

    evaluation = run(club(rule), events, *customers)

    assert ledger(evaluation, "ann") == [
        ("b1", "friends", "points", 500, None, None),
        ("c1", "friends", "capped", None, None, None),
    ]
    assert reasons(evaluation, "ann")[1].endswith(
        "(limit reached: at most 1 reward a calendar year; not given)"
    )
    assert evaluation.customer("cy").points == 215  # the friend's own reward is not limited


def test_the_referrers_reward_stays_when_the_friend_returns_the_purchase() -> None:
    events = [buy("b1", at(1), "15.00", customer="ben"), refund("r1", at(2), "b1", customer="ben")]

    evaluation = run(club(FRIENDS), events, profile("ben", referred_by="ann"))

    assert evaluation.customer("ann").points == 500
    assert evaluation.customer("ben").points == 0


def test_a_referral_voucher_for_the_referrer() -> None:
    rule = {**FRIENDS, "referrer": {"voucher": {"sku": "coffee", "value": "3.00"}}}
    events = [buy("b1", at(1), "15.00", customer="ben")]

    evaluation = run(club(rule), events, profile("ben", referred_by="ann"))

    assert ledger(evaluation, "ann") == [("b1", "friends", "voucher", None, Decimal("3.00"), 1)]


def test_a_purchase_before_the_friend_joined_does_not_qualify() -> None:
    events = [buy("b1", at(1), "15.00", customer="ben"), buy("b2", at(5), "15.00", customer="ben")]

    evaluation = run(club(FRIENDS), events, profile("ben", referred_by="ann", joined_at=at(3)))

    assert ledger(evaluation, "ann") == [("b2", "friends", "points", 500, None, None)]


def test_birthday_month_day_parsing_matches_the_profile_field() -> None:
    assert profile(birthday="--07-14").birthday == MonthDay(month=7, day=14)


def test_a_birthday_purchase_before_joining_does_not_count() -> None:
    rule = {**BIRTHDAY_POINTS, "window": "month", "requires_purchase": True}
    events = [buy("p1", at(0), "2.00"), buy("p2", at(5), "2.00")]

    evaluation = run(club(rule), events, profile(birthday="03-20", joined_at=at(3)))

    assert [row[0] for row in ledger(evaluation) if row[1] == "bday"] == ["p2"]


def test_one_purchase_may_qualify_a_friend_under_two_referral_rules() -> None:
    second = {**FRIENDS, "id": "spring", "referrer": {"points": 50}, "referred": None}
    events = [buy("b1", at(1), "15.00", customer="ben")]
    customers = [profile("ben", referred_by="ann")]

    together = run(club(FRIENDS, second), events, *customers)
    facts = referral_facts(together.entries)
    alone = run(club(FRIENDS, second), facts)

    assert [(fact.id, fact.rule) for fact in facts] == [("b1", "friends"), ("b1", "spring")]
    assert ledger(together, "ann") == [
        ("b1", "friends", "points", 500, None, None),
        ("b1", "spring", "points", 50, None, None),
    ]
    assert ledger(alone, "ann") == ledger(together, "ann")
    assert alone.customer("ann").state == together.customer("ann").state
