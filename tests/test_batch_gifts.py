"""The batch engine against the reference on the gifts that read profiles.

Birthday, sign-up and referral rules, with customer profiles, referral facts supplied in
the history, ``as_of`` cutoffs, refunds, redemptions and the points lifecycle: the batch
engine's ``Evaluation.to_dict()`` must equal the reference's, and an error the reference
raises the batch engine raises too (``test_batch_engine.same_results``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bonus_strategies import bonus_rules, limits_for, profiles
from rewardrules.errors import HistoryError
from rewardrules.evaluation import batch
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import (
    AnyEvent,
    Customer,
    Line,
    MonthDay,
    Purchase,
    Redemption,
    ReferralQualified,
    Refund,
)
from rewardrules.histories.read import read_customers, read_history
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program
from strategies import (
    ALL_KINDS,
    CATALOGUE,
    CUSTOMERS,
    ZONES,
    cutoffs,
    instants,
    lifecycle_histories,
    make_program,
    points_per_spend_rules,
    points_settings,
    rule_lists,
    tiers,
)
from test_batch_engine import same_results

EXAMPLES = Path(__file__).resolve().parent.parent / "rules" / "examples"
GIFT_KINDS = ("birthday", "signup_bonus", "referral")


@st.composite
def gift_programs(draw: st.DrawFn, clock: bool = True) -> Program:
    """A points program with other kinds and one to three birthday, sign-up, referral or
    fixed bonus rules; now and then limits on the gift rules, a referral's ``hold_for``, and
    the gifts given at dates in one exclusive group, or those given at purchases in one
    with the points rule; in half the programs, a rule now and then ``final: true``.
    ``clock`` False: points that neither wait nor expire."""
    points = draw(points_settings(clock)) | {"value": Decimal("0.01")}
    if not clock:
        points.pop("pending_for", None)
    settings: dict[str, Any] = {
        "timezone": draw(st.sampled_from(ZONES)),
        "points": points,
        "rewards": list(CATALOGUE),
    }
    tier_names: tuple[str, ...] = ()
    if draw(st.booleans()):
        settings["tiers"] = draw(tiers())
        tier_names = tuple(level["name"] for level in settings["tiers"]["levels"])
    rules = [draw(points_per_spend_rules("earn", tier_names, True))]
    rules += draw(rule_lists(ALL_KINDS, tier_names, (), 0, 2))
    gifts = [draw(bonus_rules(f"gift-{index}")) for index in range(draw(st.integers(1, 3)))]
    for gift in gifts:
        if gift["kind"] in GIFT_KINDS and not draw(st.integers(0, 2)):
            gift["limit"] = draw(limits_for(gift))
    if draw(st.booleans()):
        for gift in gifts:
            if _given_at_a_date(gift):
                gift["exclusive_group"] = "dated"
    elif draw(st.booleans()):  # the gifts at purchases compete with the points rule
        for rule in [rules[0], *gifts]:
            if rule["kind"] != "referral" and not _given_at_a_date(rule):
                rule["exclusive_group"] = "at-purchase"
    rules += gifts
    finals = draw(st.booleans())
    for rule in rules:
        rule["priority"] = draw(st.integers(0, 2))
        if finals and not draw(st.integers(0, 3)):
            rule["final"] = True
    return make_program(rules, **settings)


def _given_at_a_date(rule: dict[str, Any]) -> bool:
    if rule["kind"] == "birthday":
        return not rule.get("requires_purchase")
    return rule["kind"] == "signup_bonus" and "min_first_purchase" not in rule


@settings(max_examples=120)
@given(gift_programs(), lifecycle_histories(catalogue=True), profiles(), cutoffs())
def test_drawn_gift_programs_with_profiles_run_identically(
    program: Program,
    events: list[AnyEvent],
    customers: list[Customer],
    as_of: date | datetime | None,
) -> None:
    assert batch.unsupported(program) == []
    same_results(program, events, customers, as_of)


@st.composite
def supplied_facts(draw: st.DrawFn, program: Program) -> list[ReferralQualified]:
    """Referral facts for friends outside the history, some of them wrong; now and then a
    fact that reverses an earlier one (``reversed_by``: within its hold, after it, or under
    a rule without one)."""
    rules = [rule.id for rule in program.rules if rule.kind == "referral"] + ["no-such-rule"]
    people = (*CUSTOMERS, "dora")
    facts: list[ReferralQualified] = []
    for index in range(draw(st.integers(0, 3))):
        if facts and draw(st.booleans()):
            earlier = draw(st.sampled_from(facts))
            later = earlier.at + timedelta(hours=draw(st.sampled_from((1, 47, 24 * 40))))
            facts.append(earlier.model_copy(update={"at": later, "reversed_by": f"r{index}"}))
            continue
        facts.append(
            ReferralQualified(
                id=draw(st.sampled_from((f"fact-{index}", "fact-0", "p0"))),
                customer_id=draw(st.sampled_from(people)),
                at=draw(instants()),
                referred=draw(st.sampled_from((*people, "erin"))),
                rule=draw(st.sampled_from(rules)),
            )
        )
    return facts


@settings(max_examples=80)
@given(gift_programs(), lifecycle_histories(catalogue=True), profiles(), cutoffs(), st.data())
def test_supplied_referral_facts_run_identically(
    program: Program,
    events: list[AnyEvent],
    customers: list[Customer],
    as_of: date | datetime | None,
    data: st.DataObject,
) -> None:
    facts = data.draw(supplied_facts(program))
    same_results(program, [*events, *facts], customers, as_of)


def test_the_pet_shop_with_its_gift_limits_and_groups_runs_identically() -> None:
    program = load_program(EXAMPLES / "pet-shop.yaml")
    assert any(rule.limit for rule in program.rules if rule.kind in GIFT_KINDS)
    events = list(read_history(EXAMPLES / "pet-shop.history.jsonl"))
    customers = list(read_customers(EXAMPLES / "pet-shop.customers.csv"))
    assert batch.unsupported(program) == []
    for as_of in (None, date(2026, 3, 1), date(2026, 4, 30), datetime(2027, 1, 1, tzinfo=UTC)):
        assert same_results(program, events, customers, as_of)
    result = evaluate(program, events, customers, engine="batch")
    amy = next(customer for customer in result.customers if customer.customer_id == "amy")
    # amy referred ben and dan, who are evaluated too: rewarded in her own ledger, one
    # friend a year (the referral's limit), so dan's reward is capped.
    assert [
        (entry.event_id, entry.kind) for entry in amy.ledger if entry.rule == "refer-a-friend"
    ] == [("b-1", "points"), ("d-1", "capped")]
    # The limit on 'paws' cuts something beside the gifts (else this would test no limit).
    noted = [
        entry
        for customer in result.customers
        for entry in customer.ledger
        if entry.rule == "paws" and (entry.kind == "capped" or "limit" in entry.reason)
    ]
    assert noted


STARS = {"id": "stars", "kind": "points_per_spend", "points": Decimal(1), "per": Decimal(1)}
NEW_YORK = timezone(timedelta(hours=-5))


def _buy(event_id: str, customer: str, at: datetime, price: str = "25.00") -> Purchase:
    line = Line(sku="bone", category="treat", quantity=1, unit_price=Decimal(price))
    return Purchase(id=event_id, customer_id=customer, at=at, lines=(line,))


def test_a_birthday_on_the_day_clocks_change_is_given_at_that_local_midnight() -> None:
    birthday = {"id": "bday", "kind": "birthday", "points": 50, "window": "day"}
    program = make_program([STARS, birthday], timezone="America/New_York")
    profile = Customer(customer_id="ann", birthday=MonthDay(month=3, day=9))
    events: list[AnyEvent] = [
        _buy("p1", "ann", datetime(2025, 3, 8, 23, 30, tzinfo=NEW_YORK)),
        _buy("p2", "ann", datetime(2025, 3, 10, 12, 0, tzinfo=NEW_YORK)),
    ]
    assert same_results(program, events, [profile])
    ledger = evaluate(program, events, [profile], engine="batch").customers[0].ledger
    assert [entry.event_id for entry in ledger] == ["p1", "bday@2025-03-09", "p2"]


def test_a_referrer_in_the_evaluation_is_rewarded_between_their_own_events() -> None:
    referral = {
        "id": "friend",
        "kind": "referral",
        "referrer": {"points": 300},
        "referred": {"points": 100},
        "min_paid": Decimal("20.00"),
    }
    program = make_program(
        [STARS, referral], points={"name": "stars", "pending_for": "14 days"}, rewards=CATALOGUE
    )
    day = datetime(2025, 5, 1, 10, tzinfo=UTC)
    events: list[AnyEvent] = [
        _buy("a1", "amy", day),
        _buy("b1", "ben", day + timedelta(days=1), "10.00"),  # too little: not yet
        _buy("b2", "ben", day + timedelta(days=2)),
        Redemption(id="r1", customer_id="amy", at=day + timedelta(days=3), reward="coffee"),
        Refund(id="rb2", customer_id="ben", at=day + timedelta(days=4), purchase_id="b2"),
        _buy("b3", "ben", day + timedelta(days=5)),  # a friend qualifies once
    ]
    profiles = [Customer(customer_id="ben", referred_by="amy")]
    assert same_results(program, events, profiles)
    result = evaluate(program, events, profiles, engine="batch")
    amy = result.customers[0]
    assert [(entry.event_id, entry.kind) for entry in amy.ledger][:2] == [
        ("a1", "points"),
        ("b2", "points"),
    ]
    assert result.totals.referrals == 1


def test_a_repeated_fact_id_is_refused_before_what_the_repeat_says() -> None:
    # Two supplied facts share an id and an instant; the second also names its referrer
    # as the friend. The reference refuses the repeated id before it reads the fact, and
    # the batch engine must refuse the same (found by the CI profile of the law above).
    referral = {"id": "friend", "kind": "referral", "referrer": {"points": 300}}
    program = make_program([STARS, referral])
    day = datetime(2025, 5, 1, 10, tzinfo=UTC)
    events: list[AnyEvent] = [
        _buy("a1", "alice", day),
        ReferralQualified(id="p0", customer_id="alice", at=day, referred="bob", rule="friend"),
        ReferralQualified(id="p0", customer_id="alice", at=day, referred="alice", rule="friend"),
    ]
    assert not same_results(program, events)
    with pytest.raises(HistoryError) as refused:
        evaluate(program, events, engine="batch")
    assert str(refused.value).startswith(
        "event p0: another event has the same id: the referral fact repeats a purchase"
    )


# Birthdays on the days clocks change (New York, Paris, Auckland), at the turn of the year
# and on 29 February, with purchases near the window's edges and near local midnight.
EDGE_BIRTHDAYS = (
    MonthDay(month=3, day=9),
    MonthDay(month=3, day=30),
    MonthDay(month=4, day=6),
    MonthDay(month=10, day=26),
    MonthDay(month=11, day=2),
    MonthDay(month=2, day=29),
    MonthDay(month=12, day=31),
    MonthDay(month=1, day=1),
)


@st.composite
def birthday_edges(draw: st.DrawFn) -> tuple[Program, list[AnyEvent], list[Customer]]:
    """A birthday rule (dated or at a purchase) and purchases around its window's edges."""
    zone = draw(st.sampled_from(("America/New_York", "Europe/Paris", "Pacific/Auckland")))
    birthday = draw(st.sampled_from(EDGE_BIRTHDAYS))
    rule: dict[str, Any] = {
        "id": "bday",
        "kind": "birthday",
        "points": 40,
        "window": draw(st.sampled_from(("day", "month"))),
        "requires_purchase": draw(st.booleans()),
    }
    if rule["window"] == "day":
        rule["days_around"] = draw(st.sampled_from((0, 1, 3)))
    program = make_program([STARS, rule], timezone=zone)
    year = draw(st.sampled_from((2024, 2025)))
    day = 28 if (birthday.month, birthday.day) == (2, 29) and year == 2025 else birthday.day
    centre = datetime(year, birthday.month, day, tzinfo=UTC)
    events: list[AnyEvent] = []
    for index in range(draw(st.integers(1, 5))):
        shift = draw(st.integers(-36, 36)) * 24 + draw(st.sampled_from((-14, -13, -1, 0, 1, 11)))
        moment = centre + timedelta(hours=shift, minutes=draw(st.sampled_from((0, 30, 59))))
        events.append(_buy(f"p{index}", "ann", moment))
    joined = draw(st.none() | st.just(centre - timedelta(days=40)))
    return program, events, [Customer(customer_id="ann", birthday=birthday, joined_at=joined)]


@settings(max_examples=150)
@given(birthday_edges(), cutoffs())
def test_birthdays_at_window_edges_and_clock_changes_run_identically(
    drawn: tuple[Program, list[AnyEvent], list[Customer]], as_of: date | datetime | None
) -> None:
    program, events, customers = drawn
    assert same_results(program, events, customers, as_of) or as_of is not None
