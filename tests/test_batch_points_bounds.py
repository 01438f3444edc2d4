"""The batch engine's bound on points: what the rules give, after their caps, limits and
exclusive groups, all rules together, adds up to less than 2**62 (docs/batch-engine.md,
"The bounds on amounts"). Within it the batch engine's results are the reference's; past
it, a refusal that names the rule and the event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from rewardrules import evaluate
from rewardrules.evaluation.batch import UnsupportedError
from rewardrules.events import AnyEvent, Customer, Refund, RefundLine
from rewardrules.program.model import Program
from test_batch_amounts import ADVICE, SUM, _minor, _purchase, _refusal
from test_batch_engine import same_results
from test_batch_resume import resumes_as_the_reference

# --- points cut by limits, a cap or a group before the bound -------------------------------

# 1000 points per cent (no multiplier): 2**53 cents want 1000 * 2**53 points, past int64
# on one purchase. The bound is on what the rule gives, after its cap, limits and group.
HUGE = _minor(2**53)
HUGE_WANT = 1000 * 2**53


def _limited_stars(*limits: dict[str, Any], **rule: Any) -> Program:
    others = rule.pop("others", ())
    return Program.model_validate(
        {
            "program": "limited-stars",
            "name": "Limited stars",
            "currency": "USD",
            "timezone": "UTC",
            "points": {"name": "stars", "value": Decimal("0.01")},
            "rules": [
                {
                    "id": "stars",
                    "kind": "points_per_spend",
                    "points": Decimal(1000),
                    "per": Decimal("0.01"),
                    **({"limit": list(limits)} if limits else {}),
                    **rule,
                },
                *others,
            ],
        }
    )


def _ledger(program: Program, events: list[AnyEvent]) -> list[tuple[str, int | None, str]]:
    """The batch engine's ledger, after checking it is the reference's."""
    assert same_results(program, events)
    result = evaluate(program, events, engine="batch").to_dict()
    return [
        (entry["event_id"], entry["points"], entry["reason"])
        for customer in result["customers"]
        for entry in customer["ledger"]
    ]


def test_a_limit_per_purchase_brings_points_past_int64_within_the_bound() -> None:
    program = _limited_stars({"per": "purchase", "points": Decimal(1000)})
    assert _ledger(program, [_purchase("p1", HUGE)]) == [
        (
            "p1",
            1000,
            "90071992547409.92 USD paid at 1000 stars per 0.01 USD: "
            f"{HUGE_WANT} stars (limit reached: at most 1000 stars per purchase; "
            f"1000 of {HUGE_WANT} given)",
        )
    ]


def test_a_lifetime_limit_gives_nothing_more_on_huge_purchases_after_it_is_reached() -> None:
    # The points wanted add up far past 2**62; what is given stops at the limit.
    program = _limited_stars({"per": "lifetime", "points": Decimal(10**18)})
    events: list[AnyEvent] = [_purchase(f"p{day}", HUGE, day=day) for day in range(1, 5)]
    ledger = _ledger(program, events)
    assert [points for _, points, _ in ledger] == [10**18, None, None, None]  # capped
    # How a cut to nothing is worded is for the limits' own tests to pin.
    assert f"{HUGE_WANT} stars (limit reached: at most {10**18} stars in all; " in ledger[1][2]


def test_a_cap_per_purchase_brings_points_past_int64_within_the_bound() -> None:
    program = _limited_stars(max_per_purchase=Decimal(2**61 - 1))
    events: list[AnyEvent] = [_purchase("p1", HUGE), _purchase("p2", HUGE, day=2)]
    assert [points for _, points, _ in _ledger(program, events)] == [2**61 - 1, 2**61 - 1]


def test_capped_points_adding_up_to_the_bound_are_refused() -> None:
    program = _limited_stars(max_per_purchase=Decimal(2**61))
    events: list[AnyEvent] = [_purchase("p1", HUGE), _purchase("p2", HUGE, day=2)]
    assert _refusal(program, events).startswith(
        f"event p2: rule 'stars' gives {2**61} points here; the points it gives add up to {SUM}"
    )


def test_limited_points_adding_up_to_just_under_the_bound_run_as_the_reference() -> None:
    # Each purchase is cut to 2**61 - 1 points: 2**62 - 2 in all, the most that fits.
    program = _limited_stars({"per": "purchase", "points": Decimal(2**61 - 1)})
    events: list[AnyEvent] = [_purchase("p1", HUGE), _purchase("p2", HUGE, day=2)]
    assert [points for _, points, _ in _ledger(program, events)] == [2**61 - 1, 2**61 - 1]


def test_limited_points_adding_up_to_the_bound_are_refused_at_the_event_that_reaches_it() -> None:
    program = _limited_stars({"per": "purchase", "points": Decimal(2**61)})
    events: list[AnyEvent] = [
        _purchase("p1", HUGE),
        _purchase("p2", HUGE, day=2),
        _purchase("p3", "1.00", day=3),
    ]
    assert _refusal(program, events) == (
        f"event p2: rule 'stars' gives {2**61} points here; the points it gives add up to "
        f"{SUM} through this event, which is more than the batch engine's integers allow "
        f"for a sum over a history (2**62 = {SUM})" + ADVICE
    )


def test_a_refund_of_a_limited_purchase_of_huge_points_runs_as_the_reference() -> None:
    program = _limited_stars({"per": "purchase", "points": Decimal(10**6)})
    events: list[AnyEvent] = [
        _purchase("p1", HUGE, quantity=3),
        Refund(
            id="r1",
            customer_id="c1",
            at=datetime(2025, 1, 2, 10, tzinfo=UTC),
            purchase_id="p1",
            lines=(RefundLine(sku="latte-16oz", quantity=2),),
        ),
        Refund(
            id="r2",
            customer_id="c1",
            at=datetime(2025, 1, 3, 10, tzinfo=UTC),
            purchase_id="p1",
        ),
    ]
    # r1 leaves a third of p1, still worth more than the limit: nothing is taken back.
    assert [points for _, points, _ in _ledger(program, events)] == [10**6, -(10**6)]


def _grouped(*limits: dict[str, Any]) -> Program:
    """The stars in an exclusive group with 1% off: each member worth its money."""
    percent = {"id": "percent", "kind": "order_discount", "percent": Decimal(1)}
    return _limited_stars(
        *limits, exclusive_group="one", others=[{**percent, "exclusive_group": "one"}]
    )


def test_a_huge_points_member_of_a_group_wins_within_its_limit_as_the_reference() -> None:
    # p1: the stars within their limit (10**15, worth 10**13 USD) beat 1% off
    # (900719925474.10 USD), though they want 1000 * 2**53; p2: 1000 stars beat 0.50.
    program = _grouped({"per": "purchase", "points": Decimal(10**15)})
    ledger = _ledger(program, [_purchase("p1", HUGE), _purchase("p2", "50.00", day=2)])
    assert [(event, points) for event, points, _ in ledger] == [
        ("p1", None),  # the 1% off, set aside
        ("p1", 10**15),
        ("p2", None),
        ("p2", 5_000_000),
    ]
    assert ledger[1][2].endswith(
        f"(limit reached: at most {10**15} stars per purchase; {10**15} of {HUGE_WANT} "
        "given) (best of exclusive group 'one', over 'percent')"
    )


def test_a_huge_points_member_of_a_group_that_loses_gives_nothing_to_bound() -> None:
    # Unlimited, the stars want 1000 * 2**53 on p1; with a point worth 10**-30 USD they lose
    # to 1% off, so they give nothing there, and nothing is refused.
    program = _grouped().model_copy(
        update={"points": _grouped().points.model_copy(update={"value": Decimal("1e-30")})}
    )
    ledger = _ledger(program, [_purchase("p1", HUGE)])
    assert [(event, points) for event, points, _ in ledger] == [("p1", None), ("p1", None)]


def test_a_huge_points_member_of_a_group_that_wins_past_the_bound_is_refused() -> None:
    assert _refusal(_grouped(), [_purchase("p1", HUGE)]).startswith(
        f"event p1: rule 'stars' gives {HUGE_WANT} points here"
    )


def test_points_past_the_bound_even_after_their_limit_are_refused_not_overflowed() -> None:
    # A limit of 2**63 points per purchase leaves the first purchase's points past int64.
    program = _limited_stars({"per": "purchase", "points": Decimal(2**63)})
    assert _refusal(program, [_purchase("p1", _minor(2**60))]).startswith(
        f"event p1: rule 'stars' gives {2**63} points here; the points it gives add up to "
        f"{2**63} through this event"
    )


# --- the points of every rule together -------------------------------------------------
# The ledger adds the rules' points per event in int64: what all rules give, bonuses and
# gifts included, adds up to less than 2**62 (they wrapped around, silently, before).


def _bonus(points: int) -> Program:
    return Program.model_validate(
        {
            "program": "bonus",
            "name": "Bonus",
            "currency": "USD",
            "timezone": "UTC",
            "rules": [{"id": "bonus", "kind": "bonus_points", "points": points}],
        }
    )


def _days(count: int) -> list[AnyEvent]:
    return [_purchase(f"p{day}", "1.00", day=day) for day in range(1, count + 1)]


def test_bonuses_adding_up_to_just_under_the_bound_run_as_the_reference() -> None:
    assert same_results(_bonus(2**60 - 1), _days(4))
    assert evaluate(_bonus(2**60 - 1), _days(4), engine="batch").customers[0].points == (2**62 - 4)


@pytest.mark.parametrize(
    ("points", "count", "event", "total"),
    [
        (2**61, 4, "p2", SUM),  # 4 x 2**61 wrapped to 0 before
        (2**63, 1, "p1", 2**63),  # wrapped to -2**63 before
        (10**30, 1, "p1", 10**30),  # past uint64: an unlocated refusal before
    ],
)
def test_bonuses_adding_up_past_the_bound_are_refused_at_the_event_that_reaches_it(
    points: int, count: int, event: str, total: int
) -> None:
    assert _refusal(_bonus(points), _days(count)) == (
        f"event {event}: rule 'bonus' gives {points} points here; the points it gives add "
        f"up to {total} through this event, which is more than the batch engine's integers "
        f"allow for a sum over a history (2**62 = {SUM})" + ADVICE
    )


def _birthday_at_purchase(points: int, count: int) -> tuple[Program, list[Any], list[Any]]:
    """A birthday gift given at a purchase in the month, to ``count`` customers."""
    program = Program.model_validate(
        {
            "program": "birthday",
            "name": "Birthday",
            "currency": "USD",
            "timezone": "UTC",
            "rules": [
                {
                    "id": "birthday",
                    "kind": "birthday",
                    "window": "month",
                    "points": points,
                    "requires_purchase": True,
                }
            ],
        }
    )
    customers = [Customer(customer_id=f"c{index}", birthday="01-05") for index in range(count)]
    events = [
        _purchase(f"p{index}", "1.00").model_copy(update={"customer_id": f"c{index}"})
        for index in range(count)
    ]
    return program, events, customers


def test_gifts_at_purchases_adding_up_under_the_bound_run_as_the_reference() -> None:
    assert same_results(*_birthday_at_purchase(2**60, 3))


def test_gifts_at_purchases_adding_up_past_the_bound_are_refused() -> None:
    # Five customers' 2**61 points: the ledger's sum wrapped around before.
    program, events, customers = _birthday_at_purchase(2**61, 5)
    evaluate(program, events, customers)
    with pytest.raises(UnsupportedError) as refused:
        evaluate(program, events, customers, engine="batch")
    assert str(refused.value) == (
        f"event p1: rule 'birthday' gives {2**61} points here; the points it gives add up "
        f"to {SUM} through this event, which is more than the batch engine's integers "
        f"allow for a sum over a history (2**62 = {SUM})" + ADVICE
    )


def _three_stars() -> Program:
    rule = {"kind": "points_per_spend", "points": Decimal(1000), "per": Decimal("0.01")}
    return Program.model_validate(
        {
            "program": "three-stars",
            "name": "Three stars",
            "currency": "USD",
            "timezone": "UTC",
            "rules": [{"id": f"stars{index}", **rule} for index in range(3)],
        }
    )


def test_points_of_several_rules_adding_up_under_the_bound_run_as_the_reference() -> None:
    events: list[AnyEvent] = [_purchase("p1", _minor(SUM // 3000 - 1))]
    assert same_results(_three_stars(), events)


def test_points_of_several_rules_adding_up_past_the_bound_are_refused_naming_the_rule() -> None:
    # Each rule's points fit the bound alone; the three together wrapped around before.
    cents = SUM // 1000 - 1
    assert _refusal(_three_stars(), [_purchase("p1", _minor(cents))]) == (
        f"event p1: rule 'stars1' gives {1000 * cents} points here; with the {1000 * cents} "
        f"points the rules before it give, the points the rules give add up to "
        f"{2000 * cents} through this event, which is more than the batch engine's integers "
        f"allow for a sum over a history (2**62 = {SUM})" + ADVICE
    )


@pytest.mark.parametrize("split", [1, 2, 4])
def test_resuming_a_limit_of_huge_points_runs_as_the_reference(split: int) -> None:
    # The saved usage of a monthly limit, and refunds of saved purchases releasing it.
    program = _limited_stars({"per": "month", "points": Decimal(2**60)})
    events: list[AnyEvent] = [_purchase(f"p{day}", HUGE, day=day) for day in range(1, 4)]
    events += [
        Refund(id="r1", customer_id="c1", at=datetime(2025, 1, 6, tzinfo=UTC), purchase_id="p1"),
        Refund(id="r3", customer_id="c1", at=datetime(2025, 1, 7, tzinfo=UTC), purchase_id="p3"),
    ]
    assert resumes_as_the_reference(program, events, split)


@pytest.mark.parametrize("factor", ["10000000000000000000", "100000000000000000000.5"])
def test_a_multiplier_of_twenty_digits_earns_as_the_reference(factor: str) -> None:
    # Its weight passed int64: the weights' int64 column wrapped it around (and a reason
    # failed with a KeyError).
    program = _limited_stars(
        multipliers=[{"factor": Decimal(factor), "when": {"categories": ["coffee"]}}],
        per=Decimal("100000000.00"),
        points=Decimal(1),
    )
    events: list[AnyEvent] = [
        _purchase("p1", "0.01", category="coffee"),
        _purchase("p2", "1.00", day=2, category="tea"),
    ]
    ledger = _ledger(program, events)
    assert [points for _, points, _ in ledger] == [int(Decimal(factor) // 10**10)]
