"""A rule kind defined here, in the test, runs through the whole pipeline.

``unit_points`` gives ``per_unit`` points for each priced unit of the lines its filter
admits, and a refund takes back the points of the units returned. Nothing in the package
names it: the program's model takes it through ``program_model``, and the engine through a
kind table passed to ``compile_program``. A kind that lacks a part fails where it lacks it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, tzinfo
from decimal import Decimal
from typing import Any, Literal

import pytest
from pydantic import Field, ValidationError

from helpers import at, line, purchase, refund, rows
from rewardrules import evaluate, explain
from rewardrules._types import WholeNumber
from rewardrules.engine.basket import Basket
from rewardrules.engine.kind import (
    Finding,
    Kind,
    KindSpec,
    Now,
    ReferenceExamples,
    Returned,
    Settings,
)
from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.scope import PurchaseContext, Scope
from rewardrules.engine.scope_words import scope_refusal
from rewardrules.engine.working_state import PurchaseRecord, WorkingState
from rewardrules.evaluation.batch import UnsupportedError, evaluate_table, unsupported
from rewardrules.evaluation.fold import compile_program
from rewardrules.evaluation.plan import UnknownKindError
from rewardrules.events import Purchase, Refund
from rewardrules.histories.columns import events_to_table
from rewardrules.kinds._gifts import eligible_priced_units
from rewardrules.kinds.table import KINDS
from rewardrules.money import Currency
from rewardrules.program._rule_base import RuleParts, _Rule
from rewardrules.program.model import Program, program_model
from rewardrules.rulefiles.schema import program_schema
from rewardrules.tools.lint.warnings import lint_program
from rewardrules.tools.reference.pages import reference_markdown


class UnitPoints(_Rule):
    """``per_unit`` points for each priced unit of the lines the filter admits."""

    kind: Literal["unit_points"] = Field(description="Points per unit bought.")
    per_unit: WholeNumber = Field(ge=1, description="Points per priced unit.", examples=[2])
    at_most: WholeNumber | None = Field(
        default=None, ge=0, description="At most this many points a purchase.", examples=[50]
    )

    def gives_points(self) -> bool:
        return True

    def rewards_a_purchase(self) -> bool:
        return True

    def parts(self) -> RuleParts:
        return RuleParts(
            filters=(),
            vouchers=(),
            amounts=(),
            tiers=(),
            given_at_a_date=None,
            rewards_instead=None,
            problems=(),
        )


@dataclass(frozen=True, slots=True)
class UnitPointsPlan:
    rule: UnitPoints
    scope: Scope
    money: Currency
    points_name: str


def _compile(rule: UnitPoints, settings: Settings) -> UnitPointsPlan:
    scope = Scope.compile(rule.when, settings.money, rule.starts, rule.ends)
    return UnitPointsPlan(rule, scope, settings.money, settings.points_name)


def _purchase(
    plan: UnitPointsPlan, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    units = eligible_priced_units(plan.scope, context)
    if units == 0:
        return []
    points = units * plan.rule.per_unit
    if plan.rule.at_most is not None:
        points = min(points, plan.rule.at_most)
    if points == 0:
        return []
    basket.points[plan.rule.id] = points
    purchase = context.purchase
    return [
        LedgerEntry(
            purchase.id,
            purchase.customer_id,
            plan.rule.id,
            "points",
            points,
            None,
            None,
            plan.money,
            "{0} units: {1} points",
            (units, points),
        )
    ]


def _refund(
    plan: UnitPointsPlan,
    state: WorkingState,
    record: PurchaseRecord,
    refund: Refund,
    before: list[int],
    refunded: list[int],
) -> list[LedgerEntry]:
    earned = record.points.get(plan.rule.id, 0)
    left = eligible_priced_units(plan.scope, record.context, record.refunded_units)
    now = min(earned, left * plan.rule.per_unit)
    if now == earned:
        return []
    record.points[plan.rule.id] = now
    customer = record.context.purchase.customer_id
    return [
        LedgerEntry(
            refund.id,
            customer,
            plan.rule.id,
            "points",
            now - earned,
            None,
            None,
            plan.money,
            "{0} units returned",
            (left,),
        )
    ]


def _why_not(
    plan: UnitPointsPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    state: WorkingState,
    zone: tzinfo,
) -> str:
    return scope_refusal(plan, record.context) or "no priced unit it counts"


def _next_reward(
    plan: UnitPointsPlan, state: WorkingState, now: Now
) -> tuple[str | None, date | None]:
    return f"{plan.rule.per_unit} points a unit on the next purchase", now.local_date


def _refund_words(
    plan: UnitPointsPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    returned: Returned,
    state: WorkingState,
) -> str:
    return "no counted unit was returned"


def _worthless(rule: UnitPoints, program: Program) -> Iterator[Finding]:
    if rule.at_most == 0:
        yield Finding(("at_most",), "at most 0 points a purchase: the rule never gives any")


SPEC: KindSpec[UnitPoints, UnitPointsPlan] = KindSpec(
    model=UnitPoints,
    compile=_compile,
    purchase=_purchase,
    refund=_refund,
    state_slices=lambda plan: (),
    changes_prices=lambda plan: False,
    dated=None,
    rewards_referrer=None,
    units_are_rewards=False,
    stamps_every=lambda plan: None,
    why_not=_why_not,
    next_reward=_next_reward,
    refund_words=_refund_words,
    gives_fixed_gifts=False,
    lint={"worthless-reward": _worthless},
    reference=ReferenceExamples(
        rule_id="toy-units", keys={"at_most": 40}, apart=(), refused=frozenset()
    ),
)

TOY_KINDS: dict[type[_Rule], Kind] = {**KINDS, UnitPoints: SPEC}
ToyProgram = program_model(UnitPoints)


def toy_program(*rules: dict[str, Any], **fields: Any) -> Program:
    document: dict[str, Any] = {
        "program": "toy",
        "name": "Toy",
        "currency": "USD",
        "timezone": "UTC",
        "points": {"name": "points", "value": "0.01"},
        "rules": list(rules),
        **fields,
    }
    return ToyProgram.model_validate(document)


UNITS = {"kind": "unit_points", "id": "units", "per_unit": 2}


def test_a_toy_rule_validates_and_a_wrong_field_is_refused_at_its_path() -> None:
    program = toy_program(UNITS)
    assert isinstance(program.rules[0], UnitPoints)
    with pytest.raises(ValidationError) as caught:
        toy_program({**UNITS, "per_unit": 0})
    (error,) = caught.value.errors()
    assert error["loc"] == ("rules", 0, "unit_points", "per_unit")


def test_the_schema_of_a_program_with_the_toy_kind_lists_it() -> None:
    schema = program_schema(ToyProgram)
    kinds = schema["definitions"]["Rule"]["properties"]["kind"]["enum"]
    assert "unit_points" in kinds
    assert len(kinds) == len(KINDS) + 1
    assert program_schema(Program)["definitions"]["Rule"]["properties"]["kind"]["enum"] == [
        kind for kind in kinds if kind != "unit_points"
    ]


def test_the_toy_kind_gives_points_and_a_refund_takes_them_back() -> None:
    compiled = compile_program(toy_program(UNITS), TOY_KINDS)
    history = [
        purchase("p1", at(), line("cake", "3.00", quantity=3), line("bag", "0.00")),
        refund("r1", at(1), "p1", ("cake", 2)),
    ]
    evaluation = evaluate(compiled, history)
    assert rows(evaluation.customer("c1").ledger) == [
        ("p1", "units", "points", 6, None, None),
        ("r1", "units", "points", -4, None, None),
    ]
    assert evaluation.customer("c1").points == 2
    assert [entry.reason for entry in evaluation.customer("c1").ledger] == [
        "3 units: 6 points",
        "1 units returned",
    ]


def test_the_toy_kind_competes_in_an_exclusive_group_by_worth() -> None:
    rules = (
        {**UNITS, "exclusive_group": "offers"},
        {"kind": "bonus_points", "id": "bonus", "points": 3, "exclusive_group": "offers"},
    )
    compiled = compile_program(toy_program(*rules), TOY_KINDS)
    history = [
        purchase("one", at(), line("cake", "3.00")),  # toy 2 points, bonus 3: bonus wins
        purchase("three", at(1), line("cake", "3.00", quantity=3)),  # toy 6 wins
    ]
    ledger = rows(evaluate(compiled, history).customer("c1").ledger)
    assert ledger == [
        ("one", "units", "set_aside", None, None, None),
        ("one", "bonus", "points", 3, None, None),
        ("three", "units", "points", 6, None, None),
        ("three", "bonus", "set_aside", None, None, None),
    ]


def test_the_toy_kind_keeps_within_its_limit() -> None:
    limited = {**UNITS, "limit": {"per": "day", "points": 5}}
    compiled = compile_program(toy_program(limited), TOY_KINDS)
    history = [purchase("p1", at(), line("cake", "3.00", quantity=3))]
    (entry,) = evaluate(compiled, history).customer("c1").ledger
    assert (entry.kind, entry.points) == ("points", 5)


def test_explain_says_why_the_toy_kind_gave_nothing_and_what_comes_next() -> None:
    compiled = compile_program(toy_program({**UNITS, "when": {"skus": ["cake"]}}), TOY_KINDS)
    history: list[Purchase | Refund] = [
        purchase("p1", at(), line("tea", "2.00")),
        purchase("p2", at(1), line("cake", "0.00")),
        purchase("p3", at(1), line("cake", "3.00")),
        refund("r1", at(2), "p1"),
    ]
    account = explain(compiled, history, "c1")
    outcomes = {event.event_id: event.outcomes[0] for event in account.events}
    assert not outcomes["p1"].applied
    assert outcomes["p1"].text == "no line of the purchase matches (skus cake)"
    assert outcomes["p2"].text == "the matching lines cost nothing (zero-priced lines never count)"
    assert outcomes["p3"].applied
    assert outcomes["r1"].text == "no counted unit was returned"
    assert "units: 2 points a unit on the next purchase" in account.next_rewards


def test_lint_reads_the_toy_rule_like_any_other() -> None:
    program = toy_program({**UNITS, "ends": "2026-01-31"})
    (warning,) = lint_program(program, None, as_of=date(2026, 6, 1), kinds=TOY_KINDS)
    assert (warning.code, warning.path) == ("rule-ended", ("rules", 0, "ends"))


def test_lint_runs_the_toy_kinds_own_check_under_its_code() -> None:
    program = toy_program({**UNITS, "at_most": 0})
    (warning,) = lint_program(program, None, kinds=TOY_KINDS)
    assert (warning.code, warning.path, warning.message) == (
        "worthless-reward",
        ("rules", 0, "at_most"),
        "at most 0 points a purchase: the rule never gives any",
    )


def test_the_reference_documents_the_toy_kind_with_the_examples_of_its_spec() -> None:
    text = reference_markdown(ToyProgram, TOY_KINDS)
    assert "`unit_points`" in text
    assert "- id: toy-units\n  kind: unit_points\n  per_unit: 2\n  at_most: 40\n" in text
    assert "`unit_points`" not in reference_markdown(Program)


# --- a kind that lacks a part fails where it lacks it ---------------------------------


def test_a_program_with_a_kind_missing_from_the_table_does_not_compile() -> None:
    with pytest.raises(UnknownKindError, match="rule 'units' is a UnitPoints, which the kind"):
        compile_program(toy_program(UNITS))


def test_whether_a_kind_keeps_a_card_or_rewards_referrers_comes_from_its_spec() -> None:
    compiled = compile_program(toy_program(UNITS), TOY_KINDS)
    assert (dict(compiled.stamp_cards), compiled.rewards_referrers) == ({}, False)
    carded = dataclasses.replace(SPEC, stamps_every=lambda plan: 3 * plan.rule.per_unit)
    compiled = compile_program(toy_program(UNITS), {**KINDS, UnitPoints: carded})
    assert compiled.stamp_cards == {"units": 6}


def test_the_reference_of_a_kind_missing_from_the_table_fails_instead_of_deriving() -> None:
    with pytest.raises(UnknownKindError, match="the rule kind UnitPoints is not in the kind"):
        reference_markdown(ToyProgram)


@pytest.mark.parametrize("part", ["refund_words", "lint", "gives_fixed_gifts", "reference"])
def test_a_spec_without_one_of_its_parts_cannot_be_built(part: str) -> None:
    fields = {field.name: getattr(SPEC, field.name) for field in dataclasses.fields(SPEC)}
    del fields[part]
    with pytest.raises(TypeError, match=part):
        KindSpec(**fields)


def test_a_lint_check_under_a_code_no_warning_has_is_refused() -> None:
    stray = dataclasses.replace(SPEC, lint={"worthless-rewards": _worthless})
    with pytest.raises(ValueError, match="UnitPoints has lint checks under worthless-rewards"):
        lint_program(toy_program(UNITS), None, kinds={**KINDS, UnitPoints: stray})


def test_lint_of_a_kind_missing_from_the_table_fails_instead_of_skipping_its_checks() -> None:
    with pytest.raises(UnknownKindError, match="rule 'units' is a UnitPoints, which the kind"):
        lint_program(toy_program({**UNITS, "at_most": 0}), None)


def test_a_model_without_its_parts_cannot_be_built() -> None:
    class Partless(_Rule):
        kind: Literal["partless"] = Field(description="Says nothing of its parts.")

        def gives_points(self) -> bool:
            return True

        def rewards_a_purchase(self) -> bool:
            return True

    with pytest.raises(TypeError, match="abstract method parts"):
        Partless(id="partless", kind="partless")  # type: ignore[abstract]


def test_a_model_that_does_not_say_whether_it_gives_points_cannot_be_built() -> None:
    class Silent(_Rule):
        kind: Literal["silent"] = Field(description="Says nothing.")

    with pytest.raises(TypeError, match="abstract"):
        Silent(id="silent", kind="silent")  # type: ignore[abstract]


def test_a_spec_for_one_model_refuses_a_rule_of_another() -> None:
    table: dict[type[_Rule], Kind] = {**KINDS, UnitPoints: KINDS[next(iter(KINDS))]}
    with pytest.raises(TypeError, match="maps UnitPoints to the spec of PointsPerSpend"):
        compile_program(toy_program(UNITS), table)


def test_money_in_the_toy_program_is_exact() -> None:
    compiled = compile_program(toy_program(UNITS), TOY_KINDS)
    history = [purchase("p1", at(), line("cake", "0.10", quantity=3))]
    evaluation = evaluate(compiled, history)
    assert evaluation.totals.points_cost == 6  # 6 points at 0.01, in minor units
    assert evaluation.totals.to_dict()["points_cost"] == str(Decimal("0.06"))


def test_the_batch_engine_refuses_the_toy_kind_by_name_instead_of_running_another_kinds_code() -> (
    None
):
    # The batch engine's columnar code is per kind (docs/adding-a-kind.md): a kind it has
    # none for is refused before anything runs, never evaluated through another kind's path.
    program = toy_program(UNITS)
    assert unsupported(program) == ["rule 'units': kind unit_points"]
    with pytest.raises(UnsupportedError, match="kind unit_points"):
        evaluate_table(program, events_to_table([]))
