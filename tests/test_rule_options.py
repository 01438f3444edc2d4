"""Rule options of issue 15: multipliers below 1, ``min_total_of`` and ``final: true``.

Every number is worked out by hand in the comment above it (docs/semantics.md). Where the
batch engine evaluates the option, the same history is evaluated by both engines and must
give the same results.
"""

from __future__ import annotations

from typing import Any

import pytest

from helpers import at, ledger, line, program, purchase, reasons, refund, run
from rewardrules.errors import RuleFileError
from rewardrules.evaluation import batch
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program_text
from rewardrules.tools.explain.explanation import explain


def stars(rule_id: str = "stars", **fields: Any) -> dict[str, Any]:
    """A points rule: 1 point per 1.00 unless told otherwise."""
    return {"kind": "points_per_spend", "id": rule_id, "points": "1", **fields}


def both_engines(rules_program: Program, *events: AnyEvent) -> list[tuple[Any, ...]]:
    """The reference's ledger, after checking the batch engine gives the same results."""
    reference = evaluate(rules_program, events)
    assert batch.unsupported(rules_program) == []
    assert evaluate(rules_program, events, engine="batch").to_dict() == reference.to_dict()
    return ledger(reference)


# --- multipliers of at least 0 ----------------------------------------------------------


def test_a_half_multiplier_halves_the_points_of_the_lines_it_matches() -> None:
    rules_program = program(
        rules=[stars(multipliers=[{"factor": "0.5", "when": {"categories": ["delivery"]}}])]
    )
    # 10.00 coffee x 1 + 5.00 delivery x 0.5 = 12.50 -> 12 (floor, once per purchase)
    rows = both_engines(
        rules_program,
        purchase(
            "p1",
            at(),
            line("latte", "10.00", category="coffee"),
            line("fee", "5.00", category="delivery"),
        ),
    )
    assert rows == [("p1", "stars", "points", 12, None, None)]


def test_a_zero_multiplier_gives_its_lines_nothing_and_they_are_not_counted_as_paid() -> None:
    rules_program = program(
        rules=[stars(multipliers=[{"factor": "0", "when": {"categories": ["delivery"]}}])]
    )
    evaluation = run(
        rules_program,
        purchase(
            "p1",
            at(),
            line("latte", "4.50", category="coffee"),
            line("fee", "3.00", category="delivery"),
        ),
    )
    # 4.50 x 1 + 3.00 x 0 = 4.50 -> 4; the reason names only the 4.50 that earned
    assert ledger(evaluation) == [("p1", "stars", "points", 4, None, None)]
    assert reasons(evaluation) == ["4.50 USD paid at 1 point per 1.00 USD: 4 points"]


def test_the_largest_factor_wins_also_below_one() -> None:
    rules_program = program(
        rules=[
            stars(
                multipliers=[
                    {"factor": "0", "when": {"categories": ["coffee"]}},
                    {"factor": "2", "when": {"skus": ["latte"]}},
                ]
            )
        ]
    )
    # the latte matches 0 and 2: 2 wins, 3.00 x 2 = 6; the drip matches only 0: nothing
    rows = both_engines(
        rules_program,
        purchase(
            "p1",
            at(),
            line("latte", "3.00", category="coffee"),
            line("drip", "2.00", category="coffee"),
        ),
    )
    assert rows == [("p1", "stars", "points", 6, None, None)]


def test_a_tier_may_earn_nothing_with_a_points_multiplier_of_zero() -> None:
    tiers = {
        "qualify_by": "spend",
        "window": "365 days",
        "levels": [
            {"name": "paused", "at_least": "0", "points_multiplier": "0"},
            {"name": "member", "at_least": "50.00"},
        ],
    }
    rules_program = program(tiers=tiers, rules=[stars()])
    # p1 is made at 'paused' (0 spent before it): 0 points, no entry; 60.00 then reaches
    # 'member', so p2's 10.00 earns 10
    rows = both_engines(
        rules_program,
        purchase("p1", at(), line("tv", "60.00")),
        purchase("p2", at(1), line("tea", "10.00")),
    )
    assert rows == [("p2", "stars", "points", 10, None, None)]


def test_a_negative_multiplier_is_refused_where_it_is_written() -> None:
    text = (
        "program: club\nname: Club\ncurrency: USD\ntimezone: UTC\nrules:\n"
        "  - id: stars\n    kind: points_per_spend\n    points: 1\n    multipliers:\n"
        "      - factor: -0.5\n        when: {categories: [delivery]}\n"
    )
    with pytest.raises(RuleFileError) as raised:
        load_program_text(text, "club.yaml")
    assert str(raised.value.problems[0]) == (
        "club.yaml:10:17: rules[0].multipliers[0].factor: must be at least 0 (got -0.5)"
    )


# --- min_total_of ----------------------------------------------------------------------

WITHOUT_DELIVERY = {"exclude_categories": ["delivery"], "min_total": "20.00"}


@pytest.mark.parametrize(
    ("of", "expected"),
    [
        # all (the default): 18.00 + 5.00 delivery = 23.00 >= 20.00, so 18 points on the food
        (None, [("p1", "stars", "points", 18, None, None)]),
        ("all", [("p1", "stars", "points", 18, None, None)]),
        # eligible: the food alone is 18.00 < 20.00, so nothing
        ("eligible", []),
    ],
)
def test_a_minimum_order_counts_all_lines_or_only_the_eligible_ones(
    of: str | None, expected: list[tuple[Any, ...]]
) -> None:
    when = WITHOUT_DELIVERY if of is None else WITHOUT_DELIVERY | {"min_total_of": of}
    rules_program = program(rules=[stars(when=when)])
    food = line("pizza", "18.00", category="food")
    fee = line("fee", "5.00", category="delivery")
    assert both_engines(rules_program, purchase("p1", at(), food, fee)) == expected


def test_an_eligible_minimum_reached_by_the_eligible_lines_applies() -> None:
    rules_program = program(rules=[stars(when=WITHOUT_DELIVERY | {"min_total_of": "eligible"})])
    # food 2 x 10.00 = 20.00 >= 20.00 on its own: 20 points; the delivery earns nothing
    rows = both_engines(
        rules_program,
        purchase(
            "p1", at(), line("pizza", "10.00", 2, "food"), line("fee", "5.00", category="delivery")
        ),
        refund("r1", at(1), "p1", ("pizza", 1)),
    )
    # the refund recomputes on what is left (10.00): 10 now instead of 20
    assert rows == [
        ("p1", "stars", "points", 20, None, None),
        ("r1", "stars", "points", -10, None, None),
    ]


def test_explain_says_the_eligible_lines_fall_short() -> None:
    rules_program = program(rules=[stars(when=WITHOUT_DELIVERY | {"min_total_of": "eligible"})])
    history = [
        purchase(
            "p1",
            at(),
            line("pizza", "18.00", category="food"),
            line("fee", "5.00", category="delivery"),
        )
    ]
    found = explain(rules_program, history, "c1").events[0].outcomes[0]
    assert (found.rule, found.applied, found.text) == (
        "stars",
        False,
        "its eligible lines total 18.00 USD, below the minimum 20.00 USD (min_total_of: eligible)",
    )


# --- final: true -----------------------------------------------------------------------

CARD_FIRST = [
    stars("card-stars", points="2", final=True, when={"stores": ["app"]}),
    stars("base-stars"),
    {"kind": "bonus_points", "id": "visit", "points": 5},
]


def test_a_final_rule_that_gives_stops_the_later_rules_of_that_purchase() -> None:
    rules_program = program(rules=CARD_FIRST)
    evaluation = run(
        rules_program,
        purchase("p1", at(), line("latte", "4.00"), store="app"),
        purchase("p2", at(1), line("latte", "4.00"), store="kiosk"),
    )
    # p1 in the app: 2 x 4.00 = 8 and nothing else; p2 elsewhere: card-stars gives nothing,
    # so base-stars (4) and the visit bonus (5) run
    assert ledger(evaluation) == [
        ("p1", "card-stars", "points", 8, None, None),
        ("p2", "base-stars", "points", 4, None, None),
        ("p2", "visit", "points", 5, None, None),
    ]
    assert evaluation.customer("c1").points == 17
    assert batch.unsupported(rules_program) == []
    history = [
        purchase("p1", at(), line("latte", "4.00"), store="app"),
        purchase("p2", at(1), line("latte", "4.00"), store="kiosk"),
    ]
    assert evaluate(rules_program, history, engine="batch").to_dict() == evaluation.to_dict()


def test_priority_decides_what_runs_after_a_final_rule() -> None:
    # base-stars runs first (priority 0 before 1), so the final rule stops only the bonus
    rules = [CARD_FIRST[0] | {"priority": 1}, CARD_FIRST[1], CARD_FIRST[2] | {"priority": 2}]
    evaluation = run(program(rules=rules), purchase("p1", at(), line("latte", "4.00"), store="app"))
    assert ledger(evaluation) == [
        ("p1", "base-stars", "points", 4, None, None),
        ("p1", "card-stars", "points", 8, None, None),
    ]


def test_a_final_rule_cut_to_nothing_by_its_limit_stops_nothing() -> None:
    limited = CARD_FIRST[0] | {"limit": {"per": "day", "points": 8}}
    evaluation = run(
        program(rules=[limited, *CARD_FIRST[1:]]),
        purchase("p1", at(), line("latte", "4.00"), store="app"),
        purchase("p2", at(0, hours=1), line("latte", "4.00"), store="app"),
    )
    # p1 uses the day's 8; at p2 the limit leaves nothing (a capped note), so the rules
    # after it run: 4 + 5
    rows = ledger(evaluation)
    assert rows[0] == ("p1", "card-stars", "points", 8, None, None)
    assert rows[1:] == [
        ("p2", "card-stars", "capped", None, None, None),
        ("p2", "base-stars", "points", 4, None, None),
        ("p2", "visit", "points", 5, None, None),
    ]


def test_a_final_winner_of_an_exclusive_group_stops_the_rules_after_the_group() -> None:
    group = {"exclusive_group": "promo"}
    rules = [
        stars("double", points="2", final=True) | group,
        stars("triple", points="3", when={"stores": ["app"]}) | group,
        {"kind": "bonus_points", "id": "visit", "points": 5},
    ]
    evaluation = run(
        program(rules=rules),
        purchase("p1", at(), line("latte", "4.00"), store="kiosk"),
        purchase("p2", at(1), line("latte", "4.00"), store="app"),
    )
    # p1: only 'double' rewards (8) and it is final: the bonus does not run.
    # p2: 'triple' (12) beats 'double' (8); 'triple' is not final, so the bonus runs (5)
    assert [row[:4] for row in ledger(evaluation)] == [
        ("p1", "double", "points", 8),
        ("p2", "double", "set_aside", None),
        ("p2", "triple", "points", 12),
        ("p2", "visit", "points", 5),
    ]


def test_a_refund_leaves_the_rules_a_final_rule_stopped_be() -> None:
    rules_program = program(rules=CARD_FIRST)
    history: list[AnyEvent] = [
        purchase("p1", at(), line("latte", "4.00"), line("cake", "6.00"), store="app"),
        refund("r1", at(1), "p1", ("cake", 1)),
    ]
    # p1: 2 x 10.00 = 20; the refund recomputes card-stars on 4.00: 8, so -12; the visit
    # bonus never gave anything at p1, so it takes nothing back
    assert ledger(evaluate(rules_program, history)) == [
        ("p1", "card-stars", "points", 20, None, None),
        ("r1", "card-stars", "points", -12, None, None),
    ]
    explained = explain(rules_program, history, "c1")
    purchase_words = {found.rule: found.text for found in explained.events[0].outcomes}
    assert purchase_words["base-stars"] == (
        "stopped by rule 'card-stars' (final: true), which gave something for this purchase"
    )
    refund_words = {found.rule: found.text for found in explained.events[1].outcomes}
    assert refund_words["visit"] == (
        "stopped at purchase p1 by a final rule, so the refund leaves it be"
    )


def _final_cases() -> dict[str, tuple[Program, list[AnyEvent]]]:
    """The final: true cases above, and a final price rule, as program and history."""
    limited = CARD_FIRST[0] | {"limit": {"per": "day", "points": 8}}
    tiers = {
        "qualify_by": "purchases",
        "window": "lifetime",
        "levels": [{"name": "member", "at_least": "0"}],
    }
    discount = {
        "kind": "tiered_discount",
        "id": "member-off",
        "discounts": {"member": "10"},
        "when": {"stores": ["app"]},
        "final": True,
    }
    card = {"kind": "every_nth_free", "id": "card", "every": 2, "reward": "free"}
    app = purchase("p1", at(), line("latte", "4.00"), line("cake", "6.00"), store="app")
    kiosk = purchase("p2", at(1), line("latte", "4.00"), store="kiosk")
    group = {"exclusive_group": "promo"}
    grouped = [
        stars("double", points="2", final=True) | group,
        stars("triple", points="3", when={"stores": ["app"]}) | group,
        {"kind": "bonus_points", "id": "visit", "points": 5},
    ]
    before = [
        stars("first", final=True, when={"stores": ["app"]}),
        stars("a") | group,
        {"kind": "bonus_points", "id": "b", "points": 5, "once_per_customer": True} | group,
    ]
    return {
        "a final points rule": (program(rules=CARD_FIRST), [app, kiosk]),
        "a final winner of an exclusive group": (
            program(rules=grouped),
            [app, kiosk, purchase("p3", at(2), line("latte", "4.00"), store="app")],
        ),
        "a final rule before an exclusive group": (
            program(rules=before, points={"value": "0.01"}),
            [app, kiosk, refund("r1", at(2), "p1"), purchase("p3", at(3), line("tea", "1.00"))],
        ),
        "by priority": (
            program(rules=[CARD_FIRST[0] | {"priority": 1}, CARD_FIRST[1], CARD_FIRST[2]]),
            [app, kiosk],
        ),
        "cut to nothing by its limit": (
            program(rules=[limited, *CARD_FIRST[1:]]),
            [app, purchase("p3", at(0, hours=1), line("latte", "4.00"), store="app")],
        ),
        "a refund": (
            program(rules=CARD_FIRST),
            [app, kiosk, refund("r1", at(2), "p1", ("cake", 1)), refund("r2", at(3), "p2")],
        ),
        "a final price rule stops the card and the points": (
            program(tiers=tiers, rules=[discount, card, *CARD_FIRST[1:]]),
            [
                app,
                kiosk,
                purchase("p3", at(2), line("latte", "4.00"), store="kiosk"),
                refund("r1", at(3), "p1"),
            ],
        ),
    }


@pytest.mark.parametrize("case", list(_final_cases()))
def test_the_batch_engine_stops_what_the_reference_stops(case: str) -> None:
    rules_program, history = _final_cases()[case]
    assert batch.unsupported(rules_program) == []
    reference = evaluate(rules_program, history)
    result = evaluate(rules_program, history, engine="batch")
    assert result.to_dict() == reference.to_dict()
    if not any(rule.limit or rule.exclusive_group for rule in rules_program.rules):
        # The batch engine builds no state of limits or exclusive groups yet.
        for expected, found in zip(reference.customers, result.customers, strict=True):
            assert found.state.model_dump_json() == expected.state.model_dump_json()
