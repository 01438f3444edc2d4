"""``explain``: what each rule gave each purchase, or why not, and how close the next reward is.

Every text is asserted exactly; each is worked out by hand in the comment above it. The
explanations replay the engine's own step, so their entries must be evaluate's ledger.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from helpers import at, line, program, purchase, refund
from rewardrules.cli.main import cli
from rewardrules.errors import HistoryError
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import Customer, Line, Purchase, Refund
from rewardrules.histories.read import read_customers, read_history
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program
from rewardrules.tools.explain.explanation import (
    CustomerExplanation,
    RuleOutcome,
    explain,
    explain_all,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "rules" / "examples"

TIERS = {
    "qualify_by": "spend",
    "window": "365 days",
    "levels": [{"name": "silver", "at_least": "100.00"}, {"name": "gold", "at_least": "500.00"}],
}


def stars(**when: Any) -> dict[str, Any]:
    """A points rule 'r': 1 star per 1.00 on what ``when`` covers."""
    return {"kind": "points_per_spend", "id": "r", "points": 1, "when": when}


def outcome(explanation: CustomerExplanation, rule: str = "r", event: int = -1) -> RuleOutcome:
    """One rule's outcome for one explained event (the last by default)."""
    return next(found for found in explanation.events[event].outcomes if found.rule == rule)


def card(rule_id: str = "r", every: int = 10, **fields: Any) -> dict[str, Any]:
    """A punch card on ice-cream: every 10th free unless told otherwise."""
    when = {"categories": ["ice-cream"]}
    return {"kind": "every_nth_free", "id": rule_id, "every": every, "when": when, **fields}


def table(explanation: CustomerExplanation, event: int = -1) -> list[tuple[str, bool, str]]:
    """One event's outcomes as (rule, applied, text)."""
    return [(found.rule, found.applied, found.text) for found in explanation.events[event].outcomes]


def why(rules_program: Program, *events: Purchase | Refund, rule: str = "r") -> str:
    """The text of one rule's outcome for the last event of customer c1."""
    return outcome(explain(rules_program, events, "c1"), rule).text


def latte(price: str = "12.00", quantity: int = 1) -> Line:
    return line("latte", price, quantity=quantity, category="coffee")


def cones(quantity: int, price: str = "4.50") -> Line:
    return line("cone", price, quantity=quantity, category="ice-cream")


# --- why a rule's filter or dates leave a purchase out ----------------------------------


@pytest.mark.parametrize(
    ("rule", "store", "expected"),
    [
        pytest.param(
            {**stars(), "starts": "2026-04-01"},
            None,
            "outside its dates (it starts 2026-04-01)",
            id="not-started",
        ),
        pytest.param(
            {**stars(), "ends": "2026-03-01"},
            None,
            "outside its dates (it ended 2026-03-01)",
            id="ended",
        ),
        pytest.param(
            stars(min_total="20.00"),
            None,
            "the purchase total 12.00 USD is below the minimum 20.00 USD",
            id="minimum",
        ),
        pytest.param(stars(stores=["s1"]), "s2", "made in store s2, not one of s1", id="store"),
        pytest.param(
            stars(stores=["s1", "s3"]),
            None,
            "made in no store, it needs one of s1, s3",
            id="no-store",
        ),
        pytest.param(
            stars(weekdays=["saturday", "sunday"]),
            None,
            "not on a listed weekday (saturday, sunday)",
            id="weekday",
        ),
        pytest.param(
            stars(dates=["2026-03-14"]), None, "not on one of its dates (2026-03-14)", id="date"
        ),
        pytest.param(
            stars(categories=["tea"]),
            None,
            "no line of the purchase matches (categories tea)",
            id="category",
        ),
        pytest.param(
            stars(categories=["tea"], skus=["mug"], exclude_categories=["coffee"]),
            None,
            "no line of the purchase matches (categories tea or skus mug, not categories coffee)",
            id="lines",
        ),
        pytest.param(
            # Dates come first: the minimum is never reached either, but is not the reason.
            {**stars(min_total="20.00"), "starts": "2026-04-01"},
            "s2",
            "outside its dates (it starts 2026-04-01)",
            id="first-failing-condition",
        ),
    ],
)
def test_a_rule_that_leaves_the_purchase_out_says_which_condition_failed(
    rule: dict[str, Any], store: str | None, expected: str
) -> None:
    # Monday 2 March 2026, one latte at 12.00.
    rules_program = program(rules=[rule])
    assert why(rules_program, purchase("p1", at(), latte(), store=store)) == expected


def test_zero_priced_matching_lines_never_count() -> None:
    rules_program = program(rules=[stars(categories=["ice-cream"])])
    spoon = line("tasting-spoon", "0.00", category="ice-cream")
    assert why(rules_program, purchase("p1", at(), spoon, latte())) == (
        "the matching lines cost nothing (zero-priced lines never count)"
    )


def test_a_tier_filter_names_the_tier_needed_or_the_tier_the_customer_is_at() -> None:
    rules_program = program(tiers=TIERS, rules=[stars(tiers=["gold"])])
    first = purchase("p1", at(), latte("150.00"))
    second = purchase("p2", at(1), latte())
    # p1 is made without a tier; its 150.00 makes p2 a silver purchase.
    explanation = explain(rules_program, [first, second], "c1")
    assert outcome(explanation, event=0).text == "no tier yet, it needs gold"
    assert outcome(explanation, event=1).text == "tier silver is not one of gold"
    assert [event.tier for event in explanation.events] == [None, "silver"]
    assert explanation.events[1].title() == (
        "Purchase p2 on 2026-03-03 12:00, 12.00 USD, at tier silver"
    )


# --- what each kind says when its filter lets the purchase through ----------------------


def test_points_that_round_to_nothing_say_so() -> None:
    rules_program = program(points={"name": "stars"}, rules=[{**stars(), "points": "0.5"}])
    # 1.50 x 0.5 = 0.75 stars, rounded down (the default) to 0.
    assert why(rules_program, purchase("p1", at(), latte("1.50"))) == (
        "1.50 USD paid rounds to 0 stars (floor)"
    )


def test_a_punch_card_that_completes_nothing_shows_the_count() -> None:
    rules_program = program(rules=[card()])
    # 5 + 2 = 7 of 10.
    history = [purchase("p1", at(), cones(5)), purchase("p2", at(1), cones(2), latte())]
    assert why(rules_program, *history) == "counted 2 ice-cream, 7/10 on the card"


def test_a_visit_card_counts_one_visit_however_many_units() -> None:
    rules_program = program(rules=[card(every=6, counts="visits", when={})])
    history = [purchase(f"p{day}", at(day), latte(quantity=3)) for day in range(3)]
    assert why(rules_program, *history) == "counted 1 visit, 3/6 on the card"


def test_a_card_whose_units_another_rule_already_freed_says_so() -> None:
    # Three cards of 2 on one line of 2 cones: a frees one, b the other, c finds none left;
    # the points rule then finds nothing paid.
    pair: dict[str, Any] = {"every": 2, "when": {}}
    rules_program = program(
        rules=[card("a", **pair), card("b", **pair), card("c", **pair), stars()]
    )
    explanation = explain(rules_program, [purchase("p1", at(), cones(2))], "c1")
    free = "2nd qualifying item of the card: cheapest qualifying item free (4.50 USD)"
    assert table(explanation) == [
        ("a", True, free),
        ("b", True, free),
        (
            "c",
            False,
            "completed a card, but every qualifying item of the purchase was already free",
        ),
        ("r", False, "nothing was left to pay on the matching lines after earlier rules"),
    ]


def test_a_tiered_discount_names_the_tier_it_lacks() -> None:
    discount = {"kind": "tiered_discount", "id": "r", "discounts": {"gold": 10}}
    rules_program = program(tiers=TIERS, rules=[discount])
    first = purchase("p1", at(), latte("150.00"))
    second = purchase("p2", at(1), latte())
    explanation = explain(rules_program, [first, second], "c1")
    assert outcome(explanation, event=0).text == "no tier yet, it needs gold"
    assert outcome(explanation, event=1).text == "tier silver has no discount in this rule"


def test_a_tiered_discount_with_nothing_left_to_discount_says_why() -> None:
    tiers = {
        "qualify_by": "purchases",
        "window": "lifetime",
        "levels": [{"name": "silver", "at_least": 1}],
    }
    discount = {"kind": "tiered_discount", "id": "r", "discounts": {"silver": 10}, "priority": 1}
    rules_program = program(tiers=tiers, rules=[card("card", every=2), discount])
    history = [
        purchase("p1", at(), cones(1, "0.04")),
        purchase("p2", at(1), cones(1)),
        purchase("p3", at(2), cones(1, "0.04")),
    ]
    explanation = explain(rules_program, history, "c1")
    # p2 is the 2nd cone: the card frees it before the discount runs. 10% of 0.04 is 0.004.
    assert [outcome(explanation, event=index).text for index in range(3)] == [
        "no tier yet, it needs silver",
        "nothing was left to pay on the matching lines after earlier rules",
        "the discount rounds to 0.00 USD",
    ]


GIFT_CARD = {
    "kind": "partner_gift_card",
    "id": "r",
    "partner": "Green Basket Grocery",
    "value": "10.00",
    "every_spend": "200.00",
    "window": "calendar_quarter",
    "max_per_window": 1,
}


def test_a_gift_card_shows_the_spend_counted_and_the_way_to_the_next_card() -> None:
    rules_program = program(rules=[GIFT_CARD])
    # 100.00 then 45.00 in 2026-Q1: 145.00 of the 200.00 the first card needs.
    history = [purchase("p1", at(), latte("100.00")), purchase("p2", at(1), latte("45.00"))]
    assert why(rules_program, *history) == "45.00 USD counted, 145.00/200.00 USD in 2026-Q1"


def test_a_gift_card_at_its_limit_says_the_limit_is_reached() -> None:
    rules_program = program(rules=[GIFT_CARD])
    history = [purchase("p1", at(), latte("250.00")), purchase("p2", at(1), latte("45.00"))]
    explanation = explain(rules_program, history, "c1")
    assert outcome(explanation, event=0).text == (
        "1st Green Basket Grocery gift card: 250.00 USD spent in 2026-Q1, one card per "
        "200.00 USD (10.00 USD)"
    )
    assert outcome(explanation).text == "45.00 USD counted, limit of 1 reached for 2026-Q1"
    assert explanation.next_rewards == ("r: limit of 1 reached for 2026-Q1",)


STAY = "gift cards already given stay"


# --- refunds -----------------------------------------------------------------------------


def test_a_refund_says_what_each_rule_took_back_and_why_nothing_else() -> None:
    discount = {"kind": "tiered_discount", "id": "member", "discounts": {"silver": 5}}
    rules_program = program(
        tiers=TIERS,
        points={"name": "stars"},
        rules=[discount, card("card"), {**stars(), "id": "stars"}, {**GIFT_CARD, "id": "gift"}],
    )
    history: list[Purchase | Refund] = [
        purchase("p1", at(), latte("150.00")),
        purchase("p2", at(1), cones(4, "5.00")),
        refund("r1", at(2), "p2", ("cone", 3)),
    ]
    explanation = explain(rules_program, history, "c1")
    # p2 at silver: 4 x 5.00 = 20.00, 5% off = 1.00, 19.00 paid, 19 stars. Three cones back:
    # 3 x 4.75 = 14.25, so 4.75 left, 4 stars now instead of 19.
    assert explanation.events[-1].title() == (
        "Refund r1 on 2026-03-04 12:00 of purchase p2, 14.25 USD back"
    )
    assert table(explanation) == [
        ("member", False, "a discount given at the till is not taken back"),
        ("card", False, "3 ice-cream left the card, 1/10 on the card"),
        (
            "stars",
            True,
            "refund of purchase p2: stars recomputed on 4.75 USD left, 4 now instead of 19",
        ),
        ("gift", False, "14.25 USD less spend in 2026-Q1, 154.75 USD now; " + STAY),
    ]


def test_a_refund_never_unfills_a_completed_card() -> None:
    rules_program = program(rules=[card(when={})])
    # 8 + 4 = 12 (one card); 3 back would make 9, but the count stays at 10.
    history: list[Purchase | Refund] = [
        purchase("p1", at(), cones(8)),
        purchase("p2", at(1), cones(4)),
        refund("r1", at(2), "p2", ("cone", 3)),
    ]
    assert why(rules_program, *history) == (
        "2 of the 3 qualifying items returned left the card (a completed card stays completed), "
        "0/10 on the card"
    )


# --- how close the next rewards are ---------------------------------------------------


WASH = {"sku": "wash", "value": "12.00", "name": "Free Basic Wash"}


def test_the_next_rewards_say_how_far_each_rule_is() -> None:
    rules_program = program(
        tiers=TIERS,
        points={"name": "stars"},
        rules=[
            {"kind": "tiered_discount", "id": "member", "discounts": {"silver": 5, "gold": 10}},
            card("cones"),
            card("visits", every=6, counts="visits", reward={"voucher": WASH}, when={}),
            card("half", every=5, reward={"percent_off": "50"}, when={}),
            {**stars(), "id": "stars"},
            {**GIFT_CARD, "id": "gift", "max_per_window": None},
            card("old", every=100, ends="2026-03-02"),
        ],
    )
    # 7 cones at 4.00 on 2 March: 'half' completes a card, 2.00 off; 26.00 paid.
    # 4 more on 5 March: 'cones' reaches 11 and frees one (4.00), 'half' reaches 11 and
    # takes 2.00 off another; 10.00 paid. 36.00 paid in all: 64.00 more reaches silver,
    # 36 stars, 164.00 more for the first gift card. Visits: 2 of 6.
    history = [
        purchase("p1", at(), cones(7, "4.00")),
        purchase("p2", at(3), cones(4, "4.00")),
    ]
    explanation = explain(rules_program, history, "c1")
    assert explanation.next_rewards == (
        "no tier yet: 64.00 USD more spend within 365 days to reach silver",
        "member: no discount now, 5% off from silver",
        "cones: 9 more ice-cream to a free one",
        "visits: 4 more visits to a voucher for Free Basic Wash",
        "half: 4 more qualifying items to 50% off one",
        "balance: 36 stars",
        "gift: 164.00 USD more spend in 2026-Q1 for the next Green Basket Grocery gift card",
        "old: it ended 2026-03-02",
    )


def test_tiers_by_purchases_count_what_is_missing_in_their_calendar_window() -> None:
    tiers = {
        "qualify_by": "purchases",
        "window": "calendar_year",
        "levels": [{"name": "silver", "at_least": 2}, {"name": "gold", "at_least": 4}],
    }
    rules_program = program(tiers=tiers, rules=[stars()])
    history = [purchase(f"p{day}", at(day), latte()) for day in range(3)]
    explanation = explain(rules_program, history, "c1")
    assert explanation.next_rewards[0] == "tier silver: 1 more purchase in 2026 to reach gold"
    assert explanation.tier == "silver"
    more = [purchase(f"q{day}", at(10 + day), latte()) for day in range(2)]
    assert explain(rules_program, history + more, "c1").next_rewards[0] == (
        "tier gold: the highest tier"
    )


def test_as_of_ends_the_account_and_the_next_rewards_on_that_day() -> None:
    rules_program = program(points={"name": "stars"}, rules=[stars()])
    history = [purchase("p1", at(), latte()), purchase("p2", at(5), latte())]
    explanation = explain(rules_program, history, "c1", as_of=date(2026, 3, 3))
    assert [event.event_id for event in explanation.events] == ["p1"]
    assert explanation.as_of == date(2026, 3, 3)
    assert explanation.next_rewards == ("balance: 12 stars",)


# --- the whole account -------------------------------------------------------------------


def test_the_text_account_of_a_customer() -> None:
    rules_program = program(
        points={"name": "stars"},
        rules=[
            card("cones", every=3),
            {**stars(), "id": "stars", "when": {"min_total": "5.00"}},
        ],
    )
    history = [
        purchase("p1", at(), cones(2, "3.00")),
        purchase("p2", at(1, hours=3), cones(1, "3.50"), line("water", "1.25", category="drinks")),
        purchase("p3", at(2), line("water", "1.25", category="drinks")),
        purchase("p9", at(1), cones(1, "3.00"), customer="c2"),
    ]
    # A program without tiers names none. p1: 2 cones, 2/3 on the card, 6.00 >= 5.00 earns
    # 6 stars. p2: the 3rd cone is free, but its gross 4.75 is below the 5.00 minimum.
    # p3: water only: no cone, and 1.25 is below the minimum too. c2's p9 is not c1's.
    assert explain(rules_program, history, "c1").render_text().splitlines() == [
        "Test Club (test-club): customer c1, as of 2026-03-04",
        "",
        "Purchase p1 on 2026-03-02 12:00, 6.00 USD",
        "  cones  nothing  counted 2 ice-cream, 2/3 on the card",
        "  stars  gave     6.00 USD paid at 1 star per 1.00 USD: 6 stars",
        "",
        "Purchase p2 on 2026-03-03 15:00, 4.75 USD",
        "  cones  gave     3rd ice-cream of the card: cheapest ice-cream free (3.50 USD)",
        "  stars  nothing  the purchase total 4.75 USD is below the minimum 5.00 USD",
        "",
        "Purchase p3 on 2026-03-04 12:00, 1.25 USD",
        "  cones  nothing  no line of the purchase matches (categories ice-cream)",
        "  stars  nothing  the purchase total 1.25 USD is below the minimum 5.00 USD",
        "",
        "Next rewards",
        "  cones: 3 more ice-cream to a free one",
        "  balance: 6 stars",
    ]


def test_one_event_can_be_explained_alone() -> None:
    rules_program = program(points={"name": "stars"}, rules=[stars()])
    history = [purchase("p1", at(), latte()), purchase("p2", at(1), latte("3.00"))]
    explanation = explain(rules_program, history, "c1", event_id="p2")
    assert [event.event_id for event in explanation.events] == ["p2"]
    # The history before it still counts: the balance is of both purchases.
    assert explanation.next_rewards == ("balance: 15 stars",)


def test_the_json_form() -> None:
    rules_program = program(points={"name": "stars"}, rules=[stars()])
    explanation = explain(rules_program, [purchase("p1", at(), latte())], "c1")
    assert explanation.to_dict() == {
        "program": "test-club",
        "customer_id": "c1",
        "as_of": "2026-03-02",
        "tier": None,
        "events": [
            {
                "event_id": "p1",
                "type": "purchase",
                "at": "2026-03-02T12:00:00+00:00",
                "tier": None,
                "amount": "12.00",
                "purchase_id": None,
                "outcomes": [
                    {
                        "rule": "r",
                        "applied": True,
                        "text": "12.00 USD paid at 1 star per 1.00 USD: 12 stars",
                    }
                ],
            }
        ],
        "next_rewards": ["balance: 12 stars"],
        "upcoming_expiry": [],
    }


def test_an_unknown_customer_or_event_is_an_error_with_a_suggestion() -> None:
    rules_program = program(rules=[stars()])
    history = [purchase("p-1001", at(), latte(), customer="ana")]
    with pytest.raises(HistoryError) as raised:
        explain(rules_program, history, "anna")
    assert raised.value.render() == (
        "customer 'anna' has no events in the history (did you mean 'ana'?)"
    )
    with pytest.raises(HistoryError) as raised:
        explain(rules_program, history, "ana", event_id="p-1010")
    assert raised.value.render() == (
        "customer 'ana' has no event 'p-1010' (did you mean 'p-1001'?)"
    )
    with pytest.raises(HistoryError) as raised:
        explain(rules_program, history, "ana", as_of=date(2026, 3, 1))
    assert raised.value.render() == "customer 'ana' has no events in the history up to 2026-03-01"


# --- identical to evaluate ---------------------------------------------------------------


NOT_GIVEN = {"rejected", "capped", "set_aside"}
"""Entry kinds that say something was not given: an outcome with only these did not apply."""


def assert_explains_the_ledger(
    rules_program: Program,
    history: list[Any],
    customers: list[Customer] | None,
    as_of: date | None,
) -> None:
    """explain and explain_all give, for each customer evaluate reports, its very ledger;
    an outcome applied exactly when one of its entries gives something, and then its text
    is the entries' reasons."""
    evaluation = evaluate(rules_program, history, customers, as_of)
    everyone = explain_all(rules_program, history, customers=customers, as_of=as_of)
    assert sorted(everyone) == [result.customer_id for result in evaluation.customers]
    for result in evaluation.customers:
        explanation = explain(
            rules_program, history, result.customer_id, customers=customers, as_of=as_of
        )
        assert explanation.entries == result.ledger
        assert explanation.tier == result.tier
        assert everyone[result.customer_id] == explanation
        for event in explanation.events:
            for found in event.outcomes:
                kinds = {entry.kind for entry in found.entries}
                assert found.applied == bool(kinds - NOT_GIVEN)
                if found.applied:
                    assert found.text == "; ".join(entry.reason for entry in found.entries)


def example_as_of(path: Path) -> date:
    """The date an example's goldens are made as of (its NAME.as-of), else the year's end."""
    as_of_file = path.with_name(f"{path.stem}.as-of")
    if as_of_file.is_file():
        return date.fromisoformat(as_of_file.read_text(encoding="utf-8").strip())
    return date(2026, 12, 31)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda path: path.stem)
@pytest.mark.parametrize(
    "as_of", [None, date(2026, 3, 31), "example"], ids=["all", "march", "example"]
)
def test_the_entries_are_the_ledger_evaluate_gives(path: Path, as_of: date | str | None) -> None:
    rules_program = load_program(path)
    (history_file,) = EXAMPLES.glob(f"{path.stem}.history.*")
    history = list(read_history(history_file))
    profiles = list(EXAMPLES.glob(f"{path.stem}.customers.*"))
    customers = [found for file in profiles for found in read_customers(file)] or None
    when = example_as_of(path) if as_of == "example" else as_of
    assert not isinstance(when, str)
    assert_explains_the_ledger(rules_program, history, customers, when)


# --- the command line --------------------------------------------------------------------


def run(*arguments: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(argument) for argument in arguments])
    return result.exit_code, result.stdout, result.stderr


COFFEE = EXAMPLES / "coffee-club.yaml"
COFFEE_HISTORY = EXAMPLES / "coffee-club.history.csv"


def test_explain_command_tells_a_customers_story() -> None:
    code, out, err = run("explain", COFFEE, COFFEE_HISTORY, "--customer", "pat")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Coffee Club (coffee-club): customer pat, as of 2026-04-02"
    # c-1001 is pat's first visit: no tier yet, so no member discount.
    assert lines[2:5] == [
        "Purchase c-1001 on 2026-01-06 08:05, 9.75 USD, no tier",
        "  member-discount  nothing  no tier yet, it needs one of silver, gold",
        "  stars            gave     9.75 USD paid at 2 stars per 1.00 USD, x2 on 1 line "
        "(Double stars on coffee): 30 stars",
    ]
    assert "Refund r-1004 on 2026-03-16 17:00 of purchase c-1004, 29.95 USD back" in lines
    # Paid in the last 365 days: 9.75 + 51.98 + 49.90 + 49.18 - 29.95 + 7.26 = 138.12.
    assert lines[-4:] == [
        "Next rewards",
        "  tier silver: 361.88 USD more spend within 365 days to reach gold",
        "  member-discount: 5% off now, 10% off from gold",
        "  balance: 535 stars",
    ]


def test_explain_command_one_event_as_json() -> None:
    code, out, _ = run(
        "explain", COFFEE, COFFEE_HISTORY, "--customer", "pat", "--event", "r-1004",
        "--format", "json",
    )  # fmt: skip
    assert code == 0
    document = json.loads(out)
    assert [event["event_id"] for event in document["events"]] == ["r-1004"]
    assert document["events"][0]["outcomes"][1] == {
        "rule": "stars",
        "applied": True,
        "text": "refund of purchase c-1004: stars recomputed on 19.23 USD left, "
        "115 now instead of 295",
    }


def test_explain_command_as_of() -> None:
    code, out, _ = run(
        "explain", COFFEE, COFFEE_HISTORY, "--customer", "pat", "--as-of", "2026-01-31"
    )
    assert code == 0
    assert out.splitlines()[0] == "Coffee Club (coffee-club): customer pat, as of 2026-01-31"
    assert out.splitlines()[-1] == "  balance: 201 stars"


BIRTHDAY_CLUB = """\
program: birthday-club
name: Birthday Club
currency: USD
timezone: UTC
points: {name: stars}
rules:
  - {id: stars, kind: points_per_spend, points: 1}
  - {id: cake, kind: birthday, points: 100}
"""


def test_explain_command_reads_the_profiles_with_customers(tmp_path: Path) -> None:
    program_file = tmp_path / "club.yaml"
    program_file.write_text(BIRTHDAY_CLUB, encoding="utf-8")
    history_file = tmp_path / "history.csv"
    history_file.write_text(
        "event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id\n"
        "p1,purchase,ana,2026-03-02T12:00:00+00:00,latte,coffee,1,4.00,\n"
        "p2,purchase,ana,2026-03-20T12:00:00+00:00,latte,coffee,1,4.00,\n",
        encoding="utf-8",
    )
    customers_file = tmp_path / "customers.csv"
    customers_file.write_text("customer_id,birthday\nana,03-14\n", encoding="utf-8")
    arguments = ("explain", program_file, history_file, "--customer", "ana")
    code, out, err = run(*arguments, "--customers", customers_file)
    assert (code, err) == (0, "")
    # The birthday gift is given at the window's first midnight (the window is the day
    # itself), between p1 and p2: 4 + 100 + 4 stars.
    assert out.splitlines()[5:8] == [
        "Gift cake@2026-03-14: given at a date, not for a purchase",
        "  cake  gave  birthday 2026 (birthday 03-14; window 2026-03-14 to 2026-03-14): 100 stars",
        "",
    ]
    assert out.splitlines()[-3:] == [
        "Next rewards",
        "  balance: 108 stars",
        "  cake: 100 stars in the birthday window 2027-03-14 to 2027-03-14",
    ]
    # Without the profiles there is no birthday, as in dry-run without --customers.
    code, out, _ = run(*arguments)
    assert code == 0
    assert out.splitlines()[-1] == "  cake: no customer profile, so no birthday"


def test_explain_command_for_an_unknown_customer_exits_1() -> None:
    code, out, err = run("explain", COFFEE, COFFEE_HISTORY, "--customer", "patt")
    assert (code, out) == (1, "")
    assert err == "customer 'patt' has no events in the history (did you mean 'pat'?)\n"


def test_explain_command_needs_a_customer() -> None:
    code, _, err = run("explain", COFFEE, COFFEE_HISTORY)
    assert code == 2
    assert "Missing option '--customer'" in err


def test_explain_command_shows_a_broken_program_like_dry_run(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(COFFEE.read_text(encoding="utf-8").replace("USD", "XYZ"), encoding="utf-8")
    code, _, err = run("explain", broken, COFFEE_HISTORY, "--customer", "pat")
    assert code == 1
    assert err.startswith(f"{broken}:")


def test_dry_run_json_can_include_the_explanations() -> None:
    code, out, _ = run("dry-run", COFFEE, COFFEE_HISTORY, "--format", "json", "--explain")
    assert code == 0
    customers = json.loads(out)["customers"]
    rae = next(customer for customer in customers if customer["customer_id"] == "rae")
    assert [event["event_id"] for event in rae["explanations"]] == [
        "c-3001", "c-3002", "c-3003", "r-3003",
    ]  # fmt: skip
    assert rae["next_rewards"] == [
        "no tier yet: 87.10 USD more spend within 365 days to reach silver",
        "member-discount: no discount now, 5% off from silver",
        "balance: 66 stars",
    ]
    plain = json.loads(run("dry-run", COFFEE, COFFEE_HISTORY, "--format", "json")[1])
    assert "explanations" not in plain["customers"][0]


def test_dry_run_explain_needs_json() -> None:
    code, _, err = run("dry-run", COFFEE, COFFEE_HISTORY, "--explain")
    assert code == 2
    assert "--explain needs --format json" in err


def test_a_tier_kept_by_keep_for_is_the_tier_of_the_next_rewards() -> None:
    rules_program = program(tiers={**TIERS, "window": "30 days", "keep_for": "90 days"})
    # 500.00 on day 0 crosses gold; the purchase on day 1 is the first at gold (reached then).
    # On day 40 the 30-day window holds only day 40's 10.00: the window says no tier, but
    # gold is kept until day 91. The next level above the window's is silver: 90.00 more
    # within 30 days (next_tier counts from the window, as docs/json-output.md says).
    history = [
        purchase("p1", at(), line("tv", "500.00")),
        purchase("p2", at(1), line("cable", "0.00")),
        purchase("p3", at(40), line("cable", "10.00")),
    ]
    explanation = explain(rules_program, history, "c1")
    assert explanation.tier == "gold"
    assert explanation.next_rewards[0] == (
        "tier gold (kept): 90.00 USD more spend within 30 days to reach silver"
    )
