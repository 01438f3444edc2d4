"""The batch engine's runs of events between gifts at dates, taken in bulk (``_quiet_runs``).

A customer who gets a gift at a date is walked (``_timeline``); where points neither wait
nor expire, the purchases and refunds between two gifts are replayed with prefix sums
instead of event by event. Each case here is compared with the reference engine
(``same_results``: every entry, balance, tier, total and saved state), and says which way
the customer was walked: in runs (``_walk_runs``) or event by event (``_walk_items``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bonus_strategies import profiles
from rewardrules.evaluation import batch
from rewardrules.evaluation.batch import _timeline
from rewardrules.evaluation.batch._quiet_runs import QuietRuns
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import (
    AnyEvent,
    CancelRedemption,
    Customer,
    Line,
    MonthDay,
    OpeningLot,
    Purchase,
    Redemption,
    ReferralQualified,
    Refund,
)
from rewardrules.program.model import Program
from strategies import CATALOGUE, cutoffs, lifecycle_histories, make_program
from test_batch_engine import same_results
from test_batch_gifts import gift_programs, supplied_facts
from test_batch_migration import opening_lots
from test_batch_resume_slices import resumes_as_one

STARS = {"id": "stars", "kind": "points_per_spend", "points": Decimal(1), "per": Decimal(1)}
BIRTHDAY = {"id": "bday", "kind": "birthday", "points": 50, "window": "day"}
WELCOME = {"id": "welcome", "kind": "signup_bonus", "points": 100}
ANA = Customer(
    customer_id="ana",
    joined_at=datetime(2025, 1, 10, 9, tzinfo=UTC),
    birthday=MonthDay(month=3, day=9),
)


@pytest.fixture
def walked(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """Which customers were walked in runs and which event by event."""
    found: dict[str, set[str]] = {"runs": set(), "items": set()}
    in_runs, by_item = _timeline.Walker._walk_runs, _timeline.Walker._walk_items

    def runs(self: Any, done: Any, *rest: Any) -> Any:
        found["runs"].add(done.customer_id)
        return in_runs(self, done, *rest)

    def items(self: Any, done: Any, *rest: Any) -> Any:
        found["items"].add(done.customer_id)
        return by_item(self, done, *rest)

    monkeypatch.setattr(_timeline.Walker, "_walk_runs", runs)
    monkeypatch.setattr(_timeline.Walker, "_walk_items", items)
    return found


@pytest.fixture
def bulk(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """What each bulk replay of a run answered (False: declined, taken event by event)."""
    answers: list[bool] = []
    replay = QuietRuns.replay

    def spy(self: Any, *arguments: Any) -> bool:
        answer = replay(self, *arguments)
        answers.append(answer)
        return answer

    monkeypatch.setattr(QuietRuns, "replay", spy)
    return answers


def _buy(event_id: str, at: datetime, price: str, customer: str = "ana") -> Purchase:
    line = Line(sku="bone", category="treat", quantity=1, unit_price=Decimal(price))
    return Purchase(id=event_id, customer_id=customer, at=at, lines=(line,))


def _day(month: int, day: int, year: int = 2025) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def _points(program: Program, events: list[AnyEvent], customers: list[Customer]) -> Any:
    result = evaluate(program, events, customers, engine="batch").customers[0]
    return [(entry.event_id, entry.kind, entry.points) for entry in result.ledger], result


def test_purchases_and_refunds_between_gifts_are_replayed_in_bulk(
    walked: dict[str, set[str]], bulk: list[bool]
) -> None:
    program = make_program([STARS, BIRTHDAY, WELCOME])
    events: list[AnyEvent] = [
        _buy("p1", _day(3, 1), "25.00"),
        _buy("p2", _day(3, 20), "10.00"),
        Refund(id="r2", customer_id="ana", at=_day(3, 21), purchase_id="p2"),
    ]
    assert same_results(program, events, [ANA])
    ledger, result = _points(program, events, [ANA])
    # Joined 2025-01-10: 100; p1 25.00 at 1 star a dollar: 25; birthday 03-09: 50;
    # p2: 10, taken back by r2: -10. Balance 100 + 25 + 50 + 10 - 10 = 175.
    assert ledger == [
        ("welcome@2025-01-10", "points", 100),
        ("p1", "points", 25),
        ("bday@2025-03-09", "points", 50),
        ("p2", "points", 10),
        ("r2", "points", -10),
    ]
    assert result.points == 175
    assert walked == {"runs": {"ana"}, "items": set()}
    assert bulk
    assert all(bulk)


def test_a_refund_that_finds_too_few_points_under_clamp_is_taken_event_by_event(
    walked: dict[str, set[str]], bulk: list[bool]
) -> None:
    program = make_program(
        [STARS, BIRTHDAY],
        points={"name": "stars", "negative_balance": "clamp"},
        rewards=list(CATALOGUE),
    )
    events: list[AnyEvent] = [
        _buy("p1", _day(2, 1), "25.00"),
        Redemption(id="x1", customer_id="ana", at=_day(2, 2), reward="cake"),
        Refund(id="r1", customer_id="ana", at=_day(2, 3), purchase_id="p1"),
        _buy("p2", _day(3, 20), "10.00"),
    ]
    assert same_results(program, events, [ANA])
    ledger, result = _points(program, events, [ANA])
    # p1: 25; the cake costs 25: 0 left; r1 wants 25 back and finds 0: written off
    # (clamp), balance 0; birthday 03-09: 50; p2: 10. Balance 60.
    assert ("r1", "written_off", 25) in ledger
    assert result.points == 60
    assert walked["runs"] == {"ana"}
    assert False in bulk  # the run holding r1 was declined, then taken one by one


def test_a_refund_leaves_a_debt_that_the_birthday_repays_in_bulk(
    walked: dict[str, set[str]], bulk: list[bool]
) -> None:
    program = make_program([STARS, BIRTHDAY], rewards=list(CATALOGUE))
    events: list[AnyEvent] = [
        _buy("p1", _day(2, 1), "25.00"),
        Redemption(id="x1", customer_id="ana", at=_day(2, 2), reward="cake"),
        Refund(id="r1", customer_id="ana", at=_day(2, 3), purchase_id="p1"),
        _buy("p2", _day(3, 20), "10.00"),
        CancelRedemption(id="y1", customer_id="ana", at=_day(3, 22), redemption_id="x1"),
        _buy("p3", _day(3, 23), "4.00"),
    ]
    assert same_results(program, events, [ANA])
    _, result = _points(program, events, [ANA])
    # p1: 25; the cake: 0 left; r1 takes 25 back: a debt of 25 (-25); birthday 03-09: 50,
    # 25 of it repays the debt: 25; p2: 35; y1 gives the cake's 25 back: 60; p3: 64.
    assert result.points == 64
    assert walked["runs"] == {"ana"}
    assert all(bulk)


def test_purchase_within_reads_the_last_purchase_not_refunded_in_full(
    walked: dict[str, set[str]],
) -> None:
    rule = BIRTHDAY | {"purchase_within": "365 days"}
    program = make_program([STARS, rule])
    profile = Customer(customer_id="ana", birthday=MonthDay(month=1, day=20))
    kept: list[AnyEvent] = [
        _buy("p1", _day(1, 5), "10.00"),
        _buy("p2", _day(2, 1), "10.00"),
        _buy("p3", _day(3, 1, 2026), "10.00"),
    ]
    emptied = [*kept, Refund(id="r2", customer_id="ana", at=_day(2, 10), purchase_id="p2")]
    emptied.sort(key=lambda event: event.at)
    for events, is_given in ((kept, True), (emptied, False)):
        assert same_results(program, events, [profile])
        ledger, _ = _points(program, events, [profile])
        # The 2026 gift (midnight of 2026-01-20): p2 of 2025-02-01 is within 365 days;
        # refunded in full, the last one left is p1 of 2025-01-05, 380 days before.
        assert (("bday@2026-01-20", "points", 50) in ledger) is is_given
    assert walked["items"] == set()


def test_an_exclusive_group_and_a_limit_on_dated_gifts_walk_in_runs(
    walked: dict[str, set[str]],
) -> None:
    birthday = BIRTHDAY | {"exclusive_group": "dated", "limit": [{"per": "year", "points": 30}]}
    welcome = WELCOME | {"exclusive_group": "dated"}
    program = make_program([STARS, birthday, welcome])
    # Joined at the midnight of their birthday: both gifts due at once, one of them given.
    ana = Customer(
        customer_id="ana",
        joined_at=datetime(2025, 3, 9, tzinfo=UTC),
        birthday=MonthDay(month=3, day=9),
    )
    events: list[AnyEvent] = [_buy("p1", _day(3, 1), "5.00"), _buy("p2", _day(3, 20), "5.00")]
    assert same_results(program, events, [ana], date(2026, 6, 1))
    assert walked["runs"] == {"ana"}


@pytest.mark.parametrize(
    "points",
    [
        {"name": "stars", "expire_after": "1 year"},
        {"name": "stars", "pending_for": "14 days"},
    ],
    ids=["expiring", "pending"],
)
def test_points_with_a_clock_are_walked_event_by_event(
    walked: dict[str, set[str]], points: dict[str, Any]
) -> None:
    program = make_program([STARS, BIRTHDAY, WELCOME], points=points)
    events: list[AnyEvent] = [_buy("p1", _day(3, 1), "25.00"), _buy("p2", _day(3, 20), "10.00")]
    assert same_results(program, events, [ANA], date(2026, 12, 31))
    assert walked == {"runs": set(), "items": {"ana"}}


def test_an_opening_lot_that_expires_is_walked_event_by_event(
    walked: dict[str, set[str]],
) -> None:
    program = make_program([STARS, BIRTHDAY])
    lot = OpeningLot(points=40, earned_at=datetime(2024, 6, 1, tzinfo=UTC), expires_at=_day(3, 15))
    ana = ANA.model_copy(update={"opening_points": (lot,)})
    events: list[AnyEvent] = [_buy("p1", _day(3, 1), "25.00"), _buy("p2", _day(3, 20), "10.00")]
    assert same_results(program, events, [ana])
    ledger, result = _points(program, events, [ana])
    # 40 opening; p1: 65; birthday: 115; the lot's 40 expire on 03-15: 75; p2: 85.
    assert ("opening#1", "expiry", -40) in ledger
    assert result.points == 85
    assert walked == {"runs": set(), "items": {"ana"}}


def test_a_referrer_rewarded_between_their_events_walks_in_runs(
    walked: dict[str, set[str]], bulk: list[bool]
) -> None:
    referral = {"id": "friend", "kind": "referral", "referrer": {"points": 300}}
    program = make_program([STARS, BIRTHDAY, referral])
    noon = _day(3, 10)
    events: list[AnyEvent] = [
        _buy("a1", _day(3, 1), "25.00"),
        _buy("a2", noon, "10.00"),
        _buy("b1", noon, "20.00", customer="bo"),  # bo's first purchase: ana's reward
        _buy("a3", _day(3, 20), "5.00"),
    ]
    customers = [ANA, Customer(customer_id="bo", referred_by="ana")]
    assert same_results(program, events, customers)
    ledger, result = _points(program, events, customers)
    # a1: 25; birthday 03-09: 50; a2 at noon: 10; bo's b1 at the same instant comes after
    # a2 by id ("a2" < "b1"): 300; a3: 5. Balance 25 + 50 + 10 + 300 + 5 = 390.
    assert [(event_id, points) for event_id, _, points in ledger] == [
        ("a1", 25),
        ("bday@2025-03-09", 50),
        ("a2", 10),
        ("b1", 300),
        ("a3", 5),
    ]
    assert result.points == 390
    assert walked == {"runs": {"ana"}, "items": set()}
    assert all(bulk)


def test_gifts_at_an_events_instant_come_before_it_and_before_a_fact_then(
    walked: dict[str, set[str]],
) -> None:
    referral = {"id": "friend", "kind": "referral", "referrer": {"points": 300}}
    program = make_program([STARS, BIRTHDAY, WELCOME, referral])
    joined = _day(3, 1)
    midnight = datetime(2025, 3, 9, tzinfo=UTC)  # the birthday window's first instant
    ana = ANA.model_copy(update={"joined_at": joined})
    events: list[AnyEvent] = [
        _buy("p1", joined, "25.00"),  # at the instant of joining
        _buy("a2", midnight, "10.00"),
        _buy("b1", midnight, "20.00", customer="bo"),  # ana's reward, after a2 by id
    ]
    customers = [ana, Customer(customer_id="bo", referred_by="ana")]
    assert same_results(program, events, customers)
    ledger, result = _points(program, events, customers)
    # A gift due at an instant comes before the events and facts at that instant: the
    # sign-up (100) before p1 (25), the birthday (50) before a2 (10) and b1's reward (300).
    assert [(event_id, points) for event_id, _, points in ledger] == [
        ("welcome@2025-03-01", 100),
        ("p1", 25),
        ("bday@2025-03-09", 50),
        ("a2", 10),
        ("b1", 300),
    ]
    assert result.points == 485
    assert walked["runs"] == {"ana"}


def test_a_referrer_with_a_held_reward_is_walked_event_by_event(
    walked: dict[str, set[str]],
) -> None:
    referral = {
        "id": "friend",
        "kind": "referral",
        "referrer": {"points": 300},
        "hold_for": "14 days",
    }
    program = make_program([STARS, BIRTHDAY, referral])
    events: list[AnyEvent] = [
        _buy("p1", _day(3, 1), "25.00"),
        ReferralQualified(id="q1", customer_id="ana", at=_day(3, 2), referred="bo", rule="friend"),
        _buy("p2", _day(3, 20), "10.00"),
    ]
    assert same_results(program, events, [ANA])
    assert walked["runs"] == set()
    assert "ana" in walked["items"]


@st.composite
def opening_profiles(draw: st.DrawFn) -> list[Customer]:
    """Profiles (joined, birthday, referred by), some with opening lots."""
    found = []
    for profile in draw(profiles()):
        opening = draw(opening_lots()) if draw(st.booleans()) else ()
        found.append(profile.model_copy(update={"opening_points": opening}))
    return found


@settings(max_examples=150)
@given(
    gift_programs(clock=False),
    lifecycle_histories(catalogue=True),
    opening_profiles(),
    cutoffs(),
)
def _same_without_a_clock(
    program: Program,
    events: list[AnyEvent],
    customers: list[Customer],
    as_of: date | datetime | None,
) -> None:
    assert batch.unsupported(program) == []
    same_results(program, events, customers, as_of)


def test_drawn_gift_programs_without_a_clock_run_identically(
    walked: dict[str, set[str]], bulk: list[bool]
) -> None:
    # Points that neither wait nor expire: the walks take the runs in bulk (but for held
    # referrers' rewards and opening lots that expire), with refunds, redemptions,
    # cancellations, clamp or debts, limits and groups of the gifts at dates. The draws
    # must reach the bulk replay (100 to 300 runs replayed in 150 examples), not only the
    # walks event by event.
    _same_without_a_clock()
    assert walked["runs"]
    assert bulk.count(True) >= 10


@settings(max_examples=100)
@given(
    gift_programs(clock=False),
    lifecycle_histories(catalogue=True),
    profiles(),
    cutoffs(),
    st.data(),
)
def _same_with_supplied_facts(
    program: Program,
    events: list[AnyEvent],
    customers: list[Customer],
    as_of: date | datetime | None,
    data: st.DataObject,
) -> None:
    facts = data.draw(supplied_facts(program))
    same_results(program, [*events, *facts], customers, as_of)


def test_drawn_referral_facts_without_a_clock_run_identically(
    walked: dict[str, set[str]],
) -> None:
    # Supplied facts (some wrong, some reversing a held reward) beside the friends' own:
    # a referrer whose rewards are not held is walked in runs, its facts placed among its
    # events by (instant, id).
    _same_with_supplied_facts()
    assert walked["runs"]


@settings(max_examples=60)
@given(gift_programs(clock=False), lifecycle_histories(catalogue=True), profiles(), st.data())
def _resumes_without_a_clock(
    program: Program,
    events: list[AnyEvent],
    customers: list[Customer],
    data: st.DataObject,
) -> None:
    split = data.draw(st.integers(0, len(events)), label="split")
    resumes_as_one(program, events, split, customers)


def test_drawn_gift_programs_without_a_clock_resume_as_the_reference(
    walked: dict[str, set[str]],
) -> None:
    # From a saved state: the walk in runs starts from the saved account (in bulk while it
    # is one lot that never expires) and reads the saved purchases for purchase_within.
    _resumes_without_a_clock()
    assert walked["runs"]
