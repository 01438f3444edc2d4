"""Points reasons written many at once (``earn_texts``) are ``earn_text``'s, one by one."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.kinds.points_per_spend import PointsPlan, _weight, earn_text, earn_texts
from rewardrules.rulefiles.loader import load_program

EXAMPLES = Path(__file__).resolve().parent.parent / "rules" / "examples"
PLANS = [
    rule
    for path in sorted(EXAMPLES.glob("*.yaml"))
    for rule in ProgramPlan.compile(load_program(path)).earning_rules
    if isinstance(rule, PointsPlan)
]
PLANS += [  # with a cap: the reason says so when the points are at it
    PointsPlan.compile(
        plan.rule.model_copy(update={"max_per_purchase": 40}),
        plan.money,
        plan.tiers,
        plan.points_name,
    )
    for plan in PLANS[:3]
]


def test_the_examples_have_points_rules_with_multipliers_tiers_and_caps() -> None:
    """What the property below draws from: boosted lines, tiers and caps are all met."""
    assert any(plan.rule.multipliers for plan in PLANS)
    assert any(plan.tiers is not None for plan in PLANS)
    assert any(plan.cap is not None for plan in PLANS)


@st.composite
def purchases(draw: st.DrawFn) -> tuple[PointsPlan, list[tuple[int, dict[int, int], int, int]]]:
    """A points plan of the examples and rows of (eligible, lines per boosted weight,
    tier index or -1, points); points often at the plan's cap."""
    plan = draw(st.sampled_from(PLANS))
    weights = sorted(
        {_weight(plan, multiplier.factor) for multiplier in plan.rule.multipliers}
        - {plan.base_weight}
    )
    tiers = len(plan.tiers.names) if plan.tiers is not None else 0
    points = st.integers(-(10**6), 10**6)
    if plan.cap is not None:
        points = st.one_of(points, st.just(plan.cap), st.integers(-1, 1))
    row = st.tuples(
        st.integers(-(10**12), 10**12),
        st.fixed_dictionaries({weight: st.integers(0, 3) for weight in weights}),
        st.integers(-1, tiers - 1),
        points,
    )
    return plan, draw(st.lists(row, max_size=8))


@given(drawn=purchases())
def test_many_points_reasons_are_each_purchases_own(
    drawn: tuple[PointsPlan, list[tuple[int, dict[int, int], int, int]]],
) -> None:
    plan, rows = drawn
    money = plan.money
    names = plan.tiers.names if plan.tiers is not None else ()
    at = [(None, None) if tier < 0 else (tier, names[tier]) for _e, _l, tier, _p in rows]
    weights = sorted({weight for _e, lines, _t, _p in rows for weight in lines}, reverse=True)
    expected = [
        earn_text(
            money,
            plan,
            eligible,
            [(weight, lines[weight]) for weight in weights if lines[weight]],
            index,
            name,
            points,
        )
        for (eligible, lines, _tier, points), (index, name) in zip(rows, at, strict=True)
    ]
    boosted = [(weight, [lines[weight] for _e, lines, _t, _p in rows]) for weight in weights]
    found = earn_texts(money, plan, [row[0] for row in rows], boosted, at, [r[3] for r in rows])
    assert found == expected
