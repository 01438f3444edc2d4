"""``explain`` for the rules that read profiles, for limits and for exclusive groups.

The birthday, sign-up and referral rules say why they gave nothing for a purchase in the
engine's own order of checks; a limit that left nothing and a rule set aside by its
exclusive group are read from the ledger's own notes (``capped``, ``set_aside``). Gifts at
dates and the rewards for referred friends come as their own blocks. Every text is asserted
exactly, worked out by hand in the comment above it, and every account is checked against
``evaluate``'s ledger.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from helpers import at, line, program, purchase, redemption, refund
from rewardrules.errors import HistoryError
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent, Customer, Line, ReferralQualified
from rewardrules.program.model import Program
from rewardrules.tools.explain.explanation import (
    CustomerExplanation,
    RuleOutcome,
    explain,
    explain_all,
)
from test_explain import assert_explains_the_ledger


def latte(price: str = "12.00") -> Line:
    return line("latte", price, category="coffee")


def tea(price: str = "5.00") -> Line:
    return line("tea", price, category="tea")


def profile(customer: str = "c1", **fields: Any) -> Customer:
    return Customer(customer_id=customer, **fields)


def account(
    rules_program: Program,
    events: list[AnyEvent],
    customers: list[Customer] | None = None,
    customer: str = "c1",
    as_of: date | None = None,
) -> CustomerExplanation:
    """One customer's account, after checking that it is evaluate's ledger."""
    explanation = explain(rules_program, events, customer, customers=customers, as_of=as_of)
    result = evaluate(rules_program, events, customers, as_of).customer(customer)
    assert explanation.entries == result.ledger
    return explanation


def outcome(explanation: CustomerExplanation, rule: str = "r", event: int = -1) -> RuleOutcome:
    return next(found for found in explanation.events[event].outcomes if found.rule == rule)


def text_of(
    rules_program: Program, events: list[AnyEvent], customers: list[Customer] | None = None
) -> str:
    """The text of rule 'r' for c1's last event."""
    return outcome(account(rules_program, events, customers)).text


def stars() -> dict[str, Any]:
    return {"points": {"name": "stars"}}


# --- birthday -----------------------------------------------------------------------------

BIRTHDAY = {
    "kind": "birthday",
    "id": "r",
    "points": 100,
    "days_around": 7,
    "requires_purchase": True,
    "when": {"categories": ["coffee"]},
}


@pytest.mark.parametrize(
    ("customers", "lines", "expected"),
    [
        pytest.param(None, [latte()], "no customer profile, so no birthday", id="no-profile"),
        pytest.param(
            [profile(joined_at=at(-30))], [latte()], "no birthday in the profile", id="none"
        ),
        pytest.param(
            # 2 March is not within 7 days of 14 July; the next window is this July's.
            [profile(birthday="07-14")],
            [latte()],
            "not in the birthday window 2026-07-07 to 2026-07-21",
            id="window",
        ),
        pytest.param(
            # In the window (26 February to 12 March) but the rule looks at coffee only.
            [profile(birthday="03-05")],
            [tea()],
            "no line of the purchase matches (categories coffee)",
            id="filter",
        ),
    ],
)
def test_a_birthday_rule_says_why_a_purchase_got_no_gift(
    customers: list[Customer] | None, lines: list[Line], expected: str
) -> None:
    rules_program = program(**stars(), rules=[BIRTHDAY])
    assert text_of(rules_program, [purchase("p1", at(), *lines)], customers) == expected


def test_a_birthday_gift_is_given_once_a_year() -> None:
    rules_program = program(**stars(), rules=[BIRTHDAY])
    history: list[AnyEvent] = [purchase("p1", at(), latte()), purchase("p2", at(1), latte())]
    explanation = account(rules_program, history, [profile(birthday="03-05")])
    assert outcome(explanation, event=0).text == (
        "birthday 2026 (birthday 03-05; window 2026-02-26 to 2026-03-12): 100 stars"
    )
    assert outcome(explanation).text == "already given for 2026"
    assert explanation.next_rewards[-1] == (
        "r: 100 stars at a purchase in the birthday window 2027-02-26 to 2027-03-12"
    )


def test_a_gift_at_a_date_is_its_own_block_before_the_event_that_follows_it() -> None:
    dated = {"kind": "birthday", "id": "cake", "points": 100}
    rules_program = program(
        **stars(), rules=[{"kind": "points_per_spend", "id": "r", "points": 1}, dated]
    )
    history: list[AnyEvent] = [purchase("p1", at(), latte()), purchase("p2", at(5), latte())]
    # The birthday (4 March) comes between p1 and p2: its gift is given at its midnight,
    # with the entry id cake@2026-03-04, and the purchases do not list the rule.
    explanation = account(rules_program, history, [profile(birthday="03-04")])
    assert [(event.type, event.event_id) for event in explanation.events] == [
        ("purchase", "p1"),
        ("gift", "cake@2026-03-04"),
        ("purchase", "p2"),
    ]
    gift = explanation.events[1]
    assert gift.title() == "Gift cake@2026-03-04: given at a date, not for a purchase"
    assert gift.at == datetime.fromisoformat("2026-03-04T00:00:00+00:00")
    assert [(found.rule, found.applied, found.text) for found in gift.outcomes] == [
        ("cake", True, "birthday 2026 (birthday 03-04; window 2026-03-04 to 2026-03-04): 100 stars")
    ]
    assert [found.rule for found in explanation.events[2].outcomes] == ["r"]
    # --event picks a gift by its entry id.
    customers = [profile(birthday="03-04")]
    only = explain(rules_program, history, "c1", customers=customers, event_id="cake@2026-03-04")
    assert [event.event_id for event in only.events] == ["cake@2026-03-04"]


def test_a_customer_without_events_is_explained_by_the_gifts_as_of_a_date() -> None:
    rules_program = program(**stars(), rules=[{"kind": "birthday", "id": "cake", "points": 100}])
    customers = [profile(birthday="03-04", joined_at=at(-10))]
    with pytest.raises(HistoryError):
        explain(rules_program, [], "c1", customers=customers)  # no as_of: nothing is due
    explanation = account(rules_program, [], customers, as_of=date(2026, 3, 31))
    assert [event.title() for event in explanation.events] == [
        "Gift cake@2026-03-04: given at a date, not for a purchase"
    ]
    assert list(explain_all(rules_program, [], customers=customers, as_of=date(2026, 3, 31)))
    assert explanation.next_rewards == (
        "balance: 100 stars",
        "cake: 100 stars in the birthday window 2027-03-04 to 2027-03-04",
    )


# --- sign-up bonus ------------------------------------------------------------------------

SIGNUP = {
    "kind": "signup_bonus",
    "id": "r",
    "points": 250,
    "min_first_purchase": "10.00",
    "when": {"categories": ["coffee"]},
}


@pytest.mark.parametrize(
    ("customers", "lines", "expected"),
    [
        pytest.param(None, [latte()], "no customer profile, so no joined_at", id="no-profile"),
        pytest.param(
            [profile(birthday="07-14")], [latte()], "no joined_at in the profile", id="none"
        ),
        pytest.param(
            [profile(joined_at=at(1))],
            [latte()],
            "not joined yet (joins 2026-03-03 12:00)",
            id="not-joined",
        ),
        pytest.param(
            # The tea is not a line of the rule: 8.00 of coffee counts, not 13.00.
            [profile(joined_at=at(-1))],
            [latte("8.00"), tea()],
            "pays 8.00 USD on eligible lines, needs 10.00 USD",
            id="minimum",
        ),
    ],
)
def test_a_sign_up_bonus_says_why_a_purchase_got_no_bonus(
    customers: list[Customer] | None, lines: list[Line], expected: str
) -> None:
    rules_program = program(**stars(), rules=[SIGNUP])
    assert text_of(rules_program, [purchase("p1", at(), *lines)], customers) == expected


def test_a_sign_up_bonus_counts_what_is_paid_after_price_rules() -> None:
    # Every 2nd coffee free: the second 6.00 latte is free, 6.00 of 12.00 is paid.
    card = {"kind": "every_nth_free", "id": "card", "every": 2, "when": {"categories": ["coffee"]}}
    rules_program = program(**stars(), rules=[card, SIGNUP])
    history: list[AnyEvent] = [purchase("p1", at(), line("latte", "6.00", 2, "coffee"))]
    assert text_of(rules_program, history, [profile(joined_at=at(-1))]) == (
        "pays 6.00 USD on eligible lines, needs 10.00 USD"
    )


def test_a_sign_up_bonus_is_given_once_and_says_so() -> None:
    rules_program = program(**stars(), rules=[SIGNUP])
    history: list[AnyEvent] = [
        purchase("p1", at(), latte("8.00")),
        purchase("p2", at(1), latte()),
        purchase("p3", at(2), latte()),
    ]
    customers = [profile(joined_at=at(-1))]
    assert [outcome(account(rules_program, history[:stop], customers)).text for stop in (1, 3)] == [
        "pays 8.00 USD on eligible lines, needs 10.00 USD",
        "bonus already given",
    ]
    first = account(rules_program, history[:1], customers)
    assert first.next_rewards == (
        "balance: 0 stars",
        "r: 250 stars at a first purchase of at least 10.00 USD",
    )
    assert account(rules_program, history, customers).next_rewards[-1] == "r: already given"


def test_a_refund_keeps_a_bonus_while_an_eligible_unit_is_left() -> None:
    rules_program = program(**stars(), rules=[{**SIGNUP, "min_first_purchase": "0"}])
    history: list[AnyEvent] = [
        purchase("p1", at(), line("latte", "6.00", 2, "coffee")),
        refund("r1", at(1), "p1", ("latte", 1)),
        refund("r2", at(2), "p1", ("latte", 1)),
    ]
    explanation = account(rules_program, history, [profile(joined_at=at(-1))])
    # One latte is still bought after r1; r2 returns the last one and the bonus goes.
    assert outcome(explanation, event=1).text == (
        "the points stay: some of what earned them is still bought"
    )
    assert outcome(explanation).text == (
        "refund of purchase p1: nothing it earned the bonus with is left, 250 stars taken back"
    )


# --- referral -----------------------------------------------------------------------------

REFERRAL = {
    "kind": "referral",
    "id": "r",
    "referrer": {"points": 500},
    "referred": {"points": 100},
    "min_paid": "15.00",
}


@pytest.mark.parametrize(
    ("customers", "price", "expected"),
    [
        pytest.param(
            None, "20.00", "not a referred customer (no referred_by in the profile)", id="none"
        ),
        pytest.param(
            [profile(joined_at=at(1), referred_by="ana")],
            "20.00",
            "not joined yet (joins 2026-03-03 12:00)",
            id="not-joined",
        ),
        pytest.param(
            [profile(referred_by="ana")],
            "12.00",
            "pays 12.00 USD on eligible lines, needs 15.00 USD",
            id="minimum",
        ),
    ],
)
def test_a_referral_rule_says_why_a_purchase_did_not_qualify(
    customers: list[Customer] | None, price: str, expected: str
) -> None:
    rules_program = program(**stars(), rules=[REFERRAL])
    assert text_of(rules_program, [purchase("p1", at(), latte(price))], customers) == expected


def test_a_friend_qualifies_once_and_the_referrer_gets_a_referral_block() -> None:
    rules_program = program(**stars(), rules=[REFERRAL])
    customers = [profile(referred_by="ana"), profile("ana")]
    history: list[AnyEvent] = [
        purchase("a1", at(), latte("4.00"), customer="ana"),
        purchase("p1", at(1), latte("20.00")),
        purchase("p2", at(2), latte("20.00")),
    ]
    friend = account(rules_program, history, customers)
    assert [(found.applied, found.text) for found in friend.events[0].outcomes] == [
        (
            True,
            "referral: first qualifying purchase of a friend referred by ana; the referral "
            "reward (500 stars) goes to ana's ledger; referral: first qualifying purchase as "
            "a friend of ana: 100 stars",
        )
    ]
    assert outcome(friend).text == "friend already qualified (referred by ana; once per rule)"
    referrer = account(rules_program, history, customers, customer="ana")
    block = referrer.events[-1]
    assert (block.type, block.event_id, block.friend) == ("referral", "p1", "c1")
    assert block.title() == "Referral p1 on 2026-03-03 12:00: friend c1's first qualifying purchase"
    assert [(found.rule, found.applied, found.text) for found in block.outcomes] == [
        ("r", True, "referral: c1, whom you referred, made a first qualifying purchase: 500 stars")
    ]
    assert block.to_dict()["friend"] == "c1"
    assert referrer.next_rewards == (
        "balance: 500 stars",
        "r: 500 stars for each referred friend's first purchase of at least 15.00 USD "
        "(1 friend qualified so far)",
    )


def test_a_friend_still_to_qualify_is_told_what_qualifies() -> None:
    rules_program = program(**stars(), rules=[REFERRAL])
    history: list[AnyEvent] = [purchase("p1", at(), latte())]
    explanation = account(rules_program, history, [profile(referred_by="ana")])
    assert explanation.next_rewards == (
        "balance: 0 stars",
        "r: waiting for a qualifying purchase of at least 15.00 USD (referred by ana), "
        "which gives 100 stars",
    )


def test_a_referrer_without_events_of_their_own_is_explained_by_the_referrals() -> None:
    rules_program = program(**stars(), rules=[REFERRAL])
    history: list[AnyEvent] = [purchase("p1", at(), latte("20.00"))]
    explanation = account(rules_program, history, [profile(referred_by="ana")], customer="ana")
    assert [event.type for event in explanation.events] == ["referral"]
    friends = [profile(referred_by="ana")]
    only = explain(rules_program, history, "ana", customers=friends, event_id="p1")
    assert [(event.event_id, event.friend) for event in only.events] == [("p1", "c1")]
    with pytest.raises(HistoryError):
        explain(rules_program, history, "ana")  # without profiles nobody was referred


def test_a_referral_fact_in_the_history_is_explained_as_a_referral() -> None:
    rules_program = program(**stars(), rules=[REFERRAL])
    fact = ReferralQualified(id="x-9", customer_id="ana", at=at(), referred="zoe", rule="r")
    explanation = account(rules_program, [fact], customer="ana")
    assert [(event.type, event.friend) for event in explanation.events] == [("referral", "zoe")]
    assert outcome(explanation).text == (
        "referral: zoe, whom you referred, made a first qualifying purchase: 500 stars"
    )


# --- limits -------------------------------------------------------------------------------


def test_a_limit_cuts_a_reward_then_leaves_nothing_and_explain_says_so() -> None:
    limited = {
        "kind": "points_per_spend",
        "id": "r",
        "points": 1,
        "limit": {"per": "month", "points": 15},
    }
    rules_program = program(**stars(), rules=[limited])
    history: list[AnyEvent] = [purchase(f"p{day}", at(day), latte()) for day in range(3)]
    explanation = account(rules_program, history)
    # 12 stars fit; 3 of the next 12 fit in the month's 15; then none is left.
    assert [outcome(explanation, event=index).applied for index in range(3)] == [
        True,
        True,
        False,
    ]
    assert outcome(explanation, event=1).text == (
        "12.00 USD paid at 1 star per 1.00 USD: 12 stars "
        "(limit reached: at most 15 stars a month; 3 of 12 given)"
    )
    assert outcome(explanation).text == (
        "limit reached (at most 15 stars a month); it would have given: "
        "12.00 USD paid at 1 star per 1.00 USD: 12 stars"
    )
    assert [entry.kind for entry in outcome(explanation).entries] == ["capped"]
    assert explanation.render_text().splitlines()[-6:] == [
        "Purchase p2 on 2026-03-04 12:00, 12.00 USD",
        "  r  nothing  limit reached (at most 15 stars a month); it would have given: 12.00 USD "
        "paid at 1 star per 1.00 USD: 12 stars",
        "",
        "Next rewards",
        "  balance: 15 stars",
        "  r: limit reached (at most 15 stars a month)",
    ]


def test_a_limit_on_a_punch_card_drops_the_free_unit() -> None:
    card = {
        "kind": "every_nth_free",
        "id": "r",
        "every": 2,
        "when": {"categories": ["coffee"]},
        "limit": {"per": "year", "rewards": 1},
    }
    rules_program = program(rules=[card])
    history: list[AnyEvent] = [
        purchase("p1", at(), line("latte", "4.00", 2, "coffee")),
        purchase("p2", at(1), line("latte", "4.00", 2, "coffee")),
    ]
    explanation = account(rules_program, history)
    assert outcome(explanation).text == (
        "limit reached (at most 1 reward a calendar year); it would have given: "
        "4th coffee of the card: cheapest coffee free (4.00 USD)"
    )
    assert explanation.next_rewards == (
        "r: 2 more coffee to a free one; limit reached (at most 1 reward a calendar year)",
    )


def test_a_limit_used_up_this_year_is_not_said_of_next_years_window() -> None:
    rules_program = program(**stars(), rules=[{**BIRTHDAY, "limit": {"per": "year", "points": 60}}])
    explanation = account(
        rules_program, [purchase("p1", at(), latte())], [profile(birthday="03-05")]
    )
    assert outcome(explanation).text == (
        "birthday 2026 (birthday 03-05; window 2026-02-26 to 2026-03-12): 100 stars "
        "(limit reached: at most 60 stars a calendar year; 60 of 100 given)"
    )
    # The next window is in 2027, where the yearly limit starts again.
    assert explanation.next_rewards == (
        "balance: 60 stars",
        "r: 100 stars at a purchase in the birthday window 2027-02-26 to 2027-03-12",
    )


def test_a_referrers_limit_caps_the_second_friend() -> None:
    rules_program = program(**stars(), rules=[{**REFERRAL, "limit": {"per": "year", "rewards": 1}}])
    customers = [profile("ben", referred_by="ana"), profile("cat", referred_by="ana")]
    history: list[AnyEvent] = [
        purchase("b1", at(), latte("20.00"), customer="ben"),
        purchase("c1", at(1), latte("20.00"), customer="cat"),
    ]
    explanation = account(rules_program, history, customers, customer="ana")
    second = explanation.events[-1]
    assert (second.type, second.friend, second.outcomes[0].applied) == ("referral", "cat", False)
    assert second.outcomes[0].text == (
        "limit reached (at most 1 reward a calendar year); it would have given: "
        "referral: cat, whom you referred, made a first qualifying purchase: 500 stars"
    )
    assert explanation.next_rewards[-1] == (
        "r: 500 stars for each referred friend's first purchase of at least 15.00 USD "
        "(2 friends qualified so far); limit reached (at most 1 reward a calendar year)"
    )


# --- exclusive groups ---------------------------------------------------------------------


def bonus(rule_id: str, points: int, **fields: Any) -> dict[str, Any]:
    return {"kind": "bonus_points", "id": rule_id, "points": points, **fields}


def test_a_rule_set_aside_by_its_group_names_the_winner() -> None:
    rules_program = program(
        **stars(), rules=[bonus("a", 30, exclusive_group="g"), bonus("b", 40, exclusive_group="g")]
    )
    explanation = account(rules_program, [purchase("p1", at(), latte())])
    assert [
        (found.rule, found.applied, found.text) for found in explanation.events[0].outcomes
    ] == [
        (
            "a",
            False,
            "lost to another rule of its group: exclusive group 'g' went to 'b', worth "
            "40 stars against 30 stars; this rule would have given: bonus: 30 stars",
        ),
        ("b", True, "bonus: 40 stars (best of exclusive group 'g', over 'a')"),
    ]
    assert [entry.kind for entry in explanation.events[0].outcomes[0].entries] == ["set_aside"]


def test_a_refund_leaves_a_rule_set_aside_at_its_purchase_be() -> None:
    # 500 stars at 0.01 (5.00) beat a free 4.00 latte: the card is set aside at p1, so
    # the purchase never counted for it, nor does its refund.
    card = {"kind": "every_nth_free", "id": "card", "every": 2, "exclusive_group": "g"}
    rules_program = program(
        points={"name": "stars", "value": "0.01"},
        rules=[card, bonus("r", 500, exclusive_group="g")],
    )
    history: list[AnyEvent] = [
        purchase("p1", at(), line("latte", "4.00", 2, "coffee")),
        refund("r1", at(1), "p1", ("latte", 1)),
    ]
    explanation = account(rules_program, history)
    assert outcome(explanation, "card", event=0).text.startswith(
        "lost to another rule of its group: exclusive group 'g' went to 'r'"
    )
    assert outcome(explanation, "card").text == (
        "set aside at purchase p1 by its exclusive group, so the refund leaves it be"
    )


def test_a_group_runs_at_its_first_members_place() -> None:
    # b runs with a, before the points rule between them in the file: the outcomes (and so
    # the entries) come in the engine's order, a, b, then the points rule.
    rules_program = program(
        **stars(),
        rules=[
            bonus("a", 30, exclusive_group="g"),
            {"kind": "points_per_spend", "id": "pts", "points": 1},
            bonus("b", 40, exclusive_group="g"),
        ],
    )
    explanation = account(rules_program, [purchase("p1", at(), latte())])
    assert [found.rule for found in explanation.events[0].outcomes] == ["a", "b", "pts"]


def test_a_group_member_that_would_give_nothing_says_why_as_usual() -> None:
    rules_program = program(
        **stars(),
        rules=[
            bonus("a", 30, exclusive_group="g", when={"categories": ["tea"]}),
            bonus("b", 40, exclusive_group="g"),
        ],
    )
    explanation = account(rules_program, [purchase("p1", at(), latte())])
    assert outcome(explanation, "a").text == "no line of the purchase matches (categories tea)"
    assert outcome(explanation, "b").text == "bonus: 40 stars"


# --- all together, against evaluate -------------------------------------------------------

EVERYTHING = program(
    points={"name": "stars", "value": "0.01", "expire_after": "20 days", "pending_for": "3 days"},
    rewards=[{"id": "mug", "name": "Mug", "cost": 40, "value": "4.00"}],
    rules=[
        {
            "kind": "every_nth_free",
            "id": "card",
            "every": 3,
            "when": {"categories": ["coffee"]},
            "exclusive_group": "offers",
            "limit": {"per": "month", "rewards": 1},
        },
        bonus("weekend", 50, exclusive_group="offers", when={"weekdays": ["saturday"]}),
        {
            "kind": "points_per_spend",
            "id": "pts",
            "points": 1,
            "limit": {"per": "week", "points": 30},
        },
        {"kind": "birthday", "id": "cake", "points": 100, "window": "month"},
        {**BIRTHDAY, "id": "treat", "limit": {"per": "year", "points": 60}},
        {"kind": "signup_bonus", "id": "welcome", "points": 200},
        {**SIGNUP, "id": "first"},
        {**REFERRAL, "limit": {"per": "year", "rewards": 1}},
    ],
)
PROFILES = [
    profile("ana", joined_at=at(-40), birthday="03-09"),
    profile("ben", joined_at=at(2), birthday="04-02", referred_by="ana"),
    profile("cat", referred_by="ana", birthday="02-29"),
    profile("dee", joined_at=at(10), birthday="03-20"),
]
HISTORY: list[AnyEvent] = [
    purchase("a1", at(), line("latte", "4.00", 3, "coffee"), customer="ana"),
    purchase("a2", at(5), line("latte", "4.00", 3, "coffee"), tea(), customer="ana"),
    purchase("b1", at(1), latte("20.00"), customer="ben"),
    purchase("b2", at(3), latte("20.00"), customer="ben"),
    refund("rb2", at(4), "b2", customer="ben"),
    # Saturday 7 March: cat's third coffee is free (4.00), worth more than the weekend
    # bonus (50 stars at 0.01), which is set aside; 8.00 paid does not qualify cat yet.
    purchase("c0", at(5), line("latte", "4.00", 3, "coffee"), customer="cat"),
    purchase("c1", at(6), latte("16.00"), line("mug", "9.00", category="gear"), customer="cat"),
    purchase("a3", at(12), latte("30.00"), customer="ana"),
    redemption("x1", at(13), "mug", customer="ana"),
    purchase("a4", at(33), tea("2.00"), customer="ana"),
    purchase("e1", at(2), latte(), customer="eve"),
]


@pytest.mark.parametrize(
    "as_of", [None, date(2026, 3, 10), date(2026, 6, 30)], ids=["all", "march", "june"]
)
def test_every_account_is_evaluates_ledger_with_profiles_limits_and_groups(
    as_of: date | None,
) -> None:
    assert_explains_the_ledger(EVERYTHING, HISTORY, PROFILES, as_of)


def test_the_accounts_cover_every_kind_of_block_and_note() -> None:
    # The history above is only worth checking if it reaches every new case.
    accounts = explain_all(EVERYTHING, HISTORY, customers=PROFILES, as_of=date(2026, 6, 30))
    blocks = {event.type for found in accounts.values() for event in found.events}
    kinds = {entry.kind for found in accounts.values() for entry in found.entries}
    assert {"gift", "referral", "purchase", "refund", "redemption"} <= blocks
    assert {"capped", "set_aside", "referral", "expiry"} <= kinds
    assert "dee" in accounts  # a profile and gifts at dates, no event
    assert sum(
        Decimal(entry.points or 0) for entry in accounts["ana"].entries if entry.kind == "points"
    )


def test_a_refund_explains_the_spend_a_grouped_gift_card_counted() -> None:
    silver = {
        "qualify_by": "purchases",
        "window": "lifetime",
        "levels": [{"name": "silver", "at_least": 0}],
    }
    rules = program(
        points={"value": "0.01"},
        tiers=silver,
        rules=[
            {"id": "card", "kind": "every_nth_free", "every": 10, "priority": 1,
             "exclusive_group": "g"},
            {"id": "cinema", "kind": "partner_gift_card", "partner": "Cinema", "value": "1.00",
             "every_spend": "100.00", "priority": 1, "exclusive_group": "g"},
            {"id": "half-off", "kind": "tiered_discount", "discounts": {"silver": 50},
             "priority": 2},
        ],
    )  # fmt: skip
    history = [
        purchase("p1", at(0), line("shoes", "40.00"), line("belt", "20.00")),
        refund("r1", at(1), "p1", ("belt", 1)),
    ]

    account = explain(rules, history, "c1")

    (refunded,) = [event for event in account.events if event.event_id == "r1"]
    (cinema,) = [outcome for outcome in refunded.outcomes if outcome.rule == "cinema"]
    # The card counted 60.00 before the 50% discount; the belt's share of that is 20.00.
    assert cinema.text == ("20.00 USD less spend, 40.00 USD now; gift cards already given stay")
