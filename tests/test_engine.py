"""The engine: event order, rule order, ``as_of``, errors, and the dispatch tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, get_args

import pytest

from helpers import BASE, at, ledger, line, program, purchase, refund, rows, run
from rewardrules.errors import HistoryError
from rewardrules.evaluation.fold import compile_program, evaluate, step
from rewardrules.events import Purchase, Refund
from rewardrules.kinds.table import KINDS
from rewardrules.program.model import RULE_KINDS, Program, Rule
from rewardrules.tools.reference.examples import kind_example, kind_name

STARS = {"kind": "points_per_spend", "id": "stars", "points": "1"}


def every_second_free(rule_id: str = "bogo", **fields: Any) -> dict[str, Any]:
    return {"kind": "every_nth_free", "id": rule_id, "every": 2, **fields}


def half_off_every_second(rule_id: str = "half", **fields: Any) -> dict[str, Any]:
    return every_second_free(rule_id, reward={"percent_off": 50}, **fields)


def problem_of(error: pytest.ExceptionInfo[HistoryError]) -> tuple[tuple[Any, ...], str]:
    (problem,) = error.value.problems
    return problem.path, problem.message


# --- the order of events ----------------------------------------------------------------


def test_events_are_ordered_by_instant_whatever_their_utc_offsets() -> None:
    paris = timezone(timedelta(hours=2))
    evaluation = run(
        program(rules=[every_second_free()]),
        # 09:00 UTC, shown first but later than the other
        purchase("p-early-clock", datetime(2026, 6, 1, 9, 0, tzinfo=UTC), line("cake", "3.00")),
        # 10:00+02:00 is 08:00 UTC: this one happens first although its clock reads later
        purchase("p-late-clock", datetime(2026, 6, 1, 10, 0, tzinfo=paris), line("cake", "2.00")),
    )
    # the second cake is the one bought at 09:00 UTC, so that purchase gets the free unit
    assert ledger(evaluation) == [("p-early-clock", "bogo", "free", None, Decimal("3.00"), 1)]


def test_events_at_the_same_instant_are_ordered_by_id_as_text() -> None:
    tokyo = timezone(timedelta(hours=9))
    evaluation = run(
        program(rules=[every_second_free()]),
        purchase("p2", datetime(2026, 6, 1, 12, 0, tzinfo=UTC), line("cake", "3.00")),
        # the same instant written in another offset: "p10" < "p2" as text, so it comes first
        purchase("p10", datetime(2026, 6, 1, 21, 0, tzinfo=tokyo), line("cake", "2.00")),
    )
    assert ledger(evaluation) == [("p2", "bogo", "free", None, Decimal("3.00"), 1)]


def test_the_order_events_are_given_in_does_not_matter() -> None:
    rules_program = program(rules=[every_second_free(when={"skus": ["cake"]}), STARS])
    history: list[Purchase | Refund] = [
        purchase("p1", at(), line("cake", "3.00")),
        purchase("p2", at(1), line("cake", "2.00"), line("tea", "1.50")),
        refund("r1", at(2), "p2", ("tea", 1)),
        purchase("p3", at(3), line("cake", "4.00"), customer="c2"),
    ]
    forwards = evaluate(rules_program, history)
    backwards = evaluate(rules_program, list(reversed(history)))
    assert ledger(forwards) == ledger(backwards)
    # p1: 3.00 -> 3; p2: the 2nd cake is free, 1.50 tea paid -> 1; r1: 0.00 left -> -1
    assert ledger(forwards) == [
        ("p1", "stars", "points", 3, None, None),
        ("p2", "bogo", "free", None, Decimal("2.00"), 1),
        ("p2", "stars", "points", 1, None, None),
        ("r1", "stars", "points", -1, None, None),
    ]
    # c2's single cake is the first on c2's own card: 4 points, nothing free
    assert ledger(forwards, "c2") == ledger(backwards, "c2")
    assert ledger(forwards, "c2") == [("p3", "stars", "points", 4, None, None)]


def test_each_customer_has_their_own_card() -> None:
    evaluation = run(
        program(rules=[every_second_free()]),
        purchase("p1", at(), line("cake", "3.00"), customer="c1"),
        purchase("p2", at(1), line("cake", "3.00"), customer="c2"),
    )
    # one cake each: neither card is complete
    assert evaluation.entries == []
    assert [(r.customer_id, dict(r.stamps)) for r in evaluation.customers] == [
        ("c1", {"bogo": 1}),
        ("c2", {"bogo": 1}),
    ]


# --- the order of rules -----------------------------------------------------------------

TWO_CAKES = (line("big", "4.00"), line("small", "2.00"))


def test_price_rules_of_equal_priority_run_in_file_order() -> None:
    evaluation = run(
        program(rules=[half_off_every_second(), every_second_free()]),
        purchase("p1", at(), *TWO_CAKES),
    )
    # half: 50% off the cheaper small cake (2.00) -> 1.00 off, small now 1.00
    # bogo: the cheapest unit is still the small one, at 1.00 -> free
    assert ledger(evaluation) == [
        ("p1", "half", "discount", None, Decimal("1.00"), 1),
        ("p1", "bogo", "free", None, Decimal("1.00"), 1),
    ]


def test_file_order_the_other_way_round_gives_the_other_result() -> None:
    evaluation = run(
        program(rules=[every_second_free(), half_off_every_second()]),
        purchase("p1", at(), *TWO_CAKES),
    )
    # bogo frees the small cake (2.00); half finds only the big one left: 50% of 4.00
    assert ledger(evaluation) == [
        ("p1", "bogo", "free", None, Decimal("2.00"), 1),
        ("p1", "half", "discount", None, Decimal("2.00"), 1),
    ]


def test_a_lower_priority_runs_first_whatever_the_file_order() -> None:
    evaluation = run(
        program(rules=[half_off_every_second(priority=1), every_second_free(priority=0)]),
        purchase("p1", at(), *TWO_CAKES),
    )
    assert ledger(evaluation) == [
        ("p1", "bogo", "free", None, Decimal("2.00"), 1),
        ("p1", "half", "discount", None, Decimal("2.00"), 1),
    ]


def test_a_missing_priority_is_zero() -> None:
    evaluation = run(
        program(rules=[half_off_every_second(priority=1), every_second_free()]),
        purchase("p1", at(), *TWO_CAKES),
    )
    assert [row[1] for row in ledger(evaluation)] == ["bogo", "half"]


def test_price_rules_run_before_earning_rules_whatever_their_priority() -> None:
    evaluation = run(
        program(rules=[{**STARS, "priority": -5}, every_second_free(priority=5)]),
        purchase("p1", at(), line("cake", "3.00", quantity=2)),
    )
    # bogo frees one cake first; stars earns on the 3.00 paid, not the 6.00 gross
    assert ledger(evaluation) == [
        ("p1", "bogo", "free", None, Decimal("3.00"), 1),
        ("p1", "stars", "points", 3, None, None),
    ]


def test_earning_rules_run_in_priority_order() -> None:
    voucher = every_second_free("card", reward={"voucher": {"sku": "cake", "value": "3.00"}})
    evaluation = run(
        program(rules=[{**voucher, "priority": 2}, {**STARS, "priority": 1}]),
        purchase("p1", at(), line("cake", "3.00", quantity=2)),
    )
    assert ledger(evaluation) == [
        ("p1", "stars", "points", 6, None, None),
        ("p1", "card", "voucher", None, Decimal("3.00"), 1),
    ]


# --- as_of ------------------------------------------------------------------------------

NEW_YORK = program(timezone="America/New_York", rules=[STARS])


def test_as_of_a_date_counts_the_whole_local_day() -> None:
    history = [
        # New York is UTC-5 on 2 March 2026
        purchase("p1", datetime(2026, 3, 3, 4, 59, 59, tzinfo=UTC), line("a", "1.00")),  # 23:59:59
        purchase("p2", datetime(2026, 3, 3, 5, 0, tzinfo=UTC), line("b", "2.00")),  # 3 March 00:00
    ]
    evaluation = evaluate(NEW_YORK, history, as_of=date(2026, 3, 2))
    assert ledger(evaluation) == [("p1", "stars", "points", 1, None, None)]
    assert evaluation.totals.purchases == 1


def test_as_of_a_timestamp_counts_events_at_or_before_it() -> None:
    history = [
        purchase("p1", at(), line("a", "1.00")),
        purchase("p2", at(seconds=1), line("b", "2.00")),
    ]
    evaluation = evaluate(NEW_YORK, history, as_of=BASE)
    assert ledger(evaluation) == [("p1", "stars", "points", 1, None, None)]


def test_as_of_a_timestamp_compares_instants_across_offsets() -> None:
    history = [purchase("p1", at(), line("a", "1.00"))]
    # BASE is 12:00 UTC, the same instant as 07:00-05:00
    same_instant = BASE.astimezone(timezone(timedelta(hours=-5)))
    assert evaluate(NEW_YORK, history, as_of=same_instant).customer("c1").points == 1


def test_as_of_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^as_of must be a date or a timezone-aware datetime$"):
        evaluate(NEW_YORK, [], as_of=datetime(2026, 3, 2, 12, 0))


def test_the_reported_tier_is_the_tier_as_of() -> None:
    tiers = {
        "qualify_by": "spend",
        "window": "calendar_month",
        "levels": [{"name": "silver", "at_least": "100.00"}],
    }
    rules_program = program(tiers=tiers, rules=[STARS])
    history = [
        purchase("p1", datetime(2026, 3, 30, 12, tzinfo=UTC), line("tv", "100.00")),
        purchase("p2", datetime(2026, 4, 2, 12, tzinfo=UTC), line("cd", "10.00")),
    ]
    # without as_of: just after p2, in April: 10.00 -> no tier
    assert evaluate(rules_program, history).customer("c1").tier is None
    # as of 31 March (the whole day): March has 100.00 -> silver
    assert evaluate(rules_program, history, as_of=date(2026, 3, 31)).customer("c1").tier == (
        "silver"
    )
    # as of a timestamp in April, after p2 is excluded: April has nothing
    as_of = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
    assert evaluate(rules_program, history, as_of=as_of).customer("c1").tier is None


# --- errors -----------------------------------------------------------------------------


def test_two_events_with_the_same_id_are_an_error() -> None:
    with pytest.raises(HistoryError) as caught:
        run(
            program(rules=[STARS]),
            purchase("p1", at(), line("a", "1.00")),
            purchase("p1", at(1), line("b", "1.00"), customer="c2"),
        )
    assert problem_of(caught) == (
        ("event p1",),
        "another event has the same id; event ids must be unique",
    )


def test_a_refund_of_an_unknown_purchase_is_an_error() -> None:
    with pytest.raises(HistoryError) as caught:
        run(program(rules=[STARS]), refund("r1", at(), "p9"))
    assert problem_of(caught) == (
        ("event r1", "purchase_id"),
        "it refunds purchase p9, but customer c1 has no such purchase before it; check the "
        "purchase id, and that the refund comes after its purchase",
    )


def test_a_refund_of_another_customers_purchase_is_an_error() -> None:
    with pytest.raises(HistoryError) as caught:
        run(
            program(rules=[STARS]),
            purchase("p1", at(), line("a", "1.00"), customer="c1"),
            refund("r1", at(1), "p1", customer="c2"),
        )
    path, message = problem_of(caught)
    assert path == ("event r1", "purchase_id")
    assert message.startswith("it refunds purchase p1, but customer c2 has no such purchase")


def test_a_refund_ordered_before_its_purchase_is_an_error() -> None:
    with pytest.raises(HistoryError) as caught:
        run(
            program(rules=[STARS]),
            # the same instant: "p1" sorts after "a-refund", so the refund comes first
            purchase("p1", at(), line("a", "1.00")),
            refund("a-refund", at(), "p1"),
        )
    assert problem_of(caught)[0] == ("event a-refund", "purchase_id")


def test_returning_more_units_than_are_left_is_an_error() -> None:
    with pytest.raises(HistoryError) as caught:
        run(
            program(rules=[STARS]),
            purchase("p1", at(), line("cone", "1.00", quantity=3)),
            refund("r1", at(1), "p1", ("cone", 1)),
            refund("r2", at(2), "p1", ("cone", 3)),
        )
    assert problem_of(caught) == (
        ("event r2", "lines", 0, "quantity"),
        "it returns 3 x cone, but purchase p1 has only 2 x cone left to refund",
    )


def test_refunding_a_purchase_already_refunded_in_full_is_an_error() -> None:
    with pytest.raises(HistoryError) as caught:
        run(
            program(rules=[STARS]),
            purchase("p1", at(), line("cone", "1.00", quantity=3)),
            refund("r1", at(1), "p1"),
            refund("r2", at(2), "p1"),
        )
    assert problem_of(caught) == (
        ("event r2", "purchase_id"),
        "purchase p1 is already refunded in full",
    )


def test_returning_a_sku_the_purchase_does_not_have_is_an_error() -> None:
    with pytest.raises(HistoryError) as caught:
        run(
            program(rules=[STARS]),
            purchase("p1", at(), line("cone", "1.00")),
            refund("r1", at(1), "p1", ("tea", 1)),
        )
    assert problem_of(caught) == (
        ("event r1", "lines", 0, "sku"),
        "it returns sku tea, which purchase p1 does not have",
    )


def test_a_refund_without_lines_returns_only_what_is_left() -> None:
    evaluation = run(
        program(rules=[STARS]),
        purchase("p1", at(), line("cone", "1.00", quantity=3)),
        refund("r1", at(1), "p1", ("cone", 1)),
        refund("r2", at(2), "p1"),
    )
    # 3 -> 2 -> 0 points
    assert [row[3] for row in ledger(evaluation)] == [3, -1, -2]


def test_a_price_finer_than_the_currency_is_an_error_naming_the_event() -> None:
    with pytest.raises(HistoryError) as caught:
        run(program(rules=[STARS]), purchase("p1", at(), line("cone", "0.125")))
    assert problem_of(caught) == (
        ("event p1", "lines", 0, "unit_price"),
        "the unit price 0.125 of sku cone is finer than USD allows (2 decimal places); "
        "prices must be whole minor units",
    )


def test_an_event_older_than_the_saved_state_is_an_error() -> None:
    rules_program = program(rules=[STARS])
    state, _ = step(rules_program, None, purchase("p2", at(1), line("a", "1.00")))
    with pytest.raises(HistoryError) as caught:
        step(rules_program, state, purchase("p1", at(), line("b", "1.00")))
    path, message = problem_of(caught)
    assert path == ("event p1", "at")
    assert message == (
        "it happened at 2026-03-02T12:00:00+00:00, before the customer's saved state "
        "(last event at 2026-03-03T12:00:00+00:00); evaluate it from an earlier state"
    )


def test_evaluate_refuses_an_event_older_than_a_saved_state_too() -> None:
    rules_program = program(rules=[STARS])
    first = run(rules_program, purchase("p2", at(1), line("a", "1.00")))
    with pytest.raises(HistoryError) as caught:
        evaluate(
            rules_program,
            [purchase("p1", at(), line("b", "1.00"))],
            states=[first.customer("c1").state],
        )
    assert problem_of(caught)[0] == ("event p1", "at")


def test_an_event_at_the_same_instant_as_the_saved_state_is_accepted() -> None:
    rules_program = program(rules=[STARS])
    state, _ = step(rules_program, None, purchase("p1", at(), line("a", "1.00")))
    state, entries = step(rules_program, state, purchase("p2", at(), line("b", "2.00")))
    assert rows(entries) == [("p2", "stars", "points", 2, None, None)]
    assert state.points == 3


def test_a_saved_state_of_another_program_is_an_error() -> None:
    state, _ = step(program(rules=[STARS]), None, purchase("p1", at(), line("a", "1.00")))
    other = program(program="other-club", rules=[STARS])
    with pytest.raises(HistoryError) as caught:
        step(other, state, purchase("p2", at(1), line("b", "1.00")))
    (problem,) = caught.value.problems
    assert (problem.code, problem.message) == (
        "state-mismatch",
        "the saved state of customer c1 belongs to program 'test-club', not 'other-club'",
    )


def test_a_purchase_id_already_in_the_saved_state_is_an_error() -> None:
    rules_program = program(rules=[STARS])
    state, _ = step(rules_program, None, purchase("p1", at(), line("a", "1.00")))
    with pytest.raises(HistoryError) as caught:
        step(rules_program, state, purchase("p1", at(1), line("b", "1.00")))
    assert problem_of(caught)[0] == ("event p1",)


def test_a_refund_reusing_the_id_of_a_saved_purchase_is_an_error() -> None:
    rules_program = program(rules=[STARS])
    state, _ = step(rules_program, None, purchase("p1", at(), line("a", "3.00")))
    # evaluated in one go, the same two events raise "another event has the same id"
    with pytest.raises(HistoryError) as caught:
        step(rules_program, state, refund("p1", at(1), "p1"))
    assert problem_of(caught)[0] == ("event p1",)


def test_resuming_with_an_id_already_used_in_a_saved_state_is_an_error() -> None:
    rules_program = program(rules=[STARS])
    whole = [
        purchase("p1", at(), line("a", "1.00"), customer="c1"),
        purchase("p1", at(1), line("b", "1.00"), customer="c2"),
    ]
    with pytest.raises(HistoryError):
        evaluate(rules_program, whole)
    # the same history split after its first event must fail the same way
    saved = evaluate(rules_program, whole[:1]).customer("c1").state
    with pytest.raises(HistoryError) as caught:
        evaluate(rules_program, whole[1:], states=[saved])
    assert problem_of(caught)[0] == ("event p1",)


def test_step_refuses_an_event_of_another_customer() -> None:
    rules_program = program(rules=[STARS])
    state, _ = step(rules_program, None, purchase("p1", at(), line("a", "1.00")))
    with pytest.raises(HistoryError) as caught:
        step(rules_program, state, refund("r1", at(1), "p1", customer="c2"))
    assert problem_of(caught) == (
        ("event r1", "customer_id"),
        "it belongs to customer c2, but the state to customer c1",
    )


# --- step -------------------------------------------------------------------------------


def test_step_starts_a_new_customer_from_none_and_leaves_the_old_state_alone() -> None:
    rules_program = program(rules=[STARS, every_second_free()])
    first, entries = step(rules_program, None, purchase("p1", at(), line("cake", "3.00")))
    assert rows(entries) == [("p1", "stars", "points", 3, None, None)]
    second, entries = step(rules_program, first, purchase("p2", at(1), line("cake", "3.00")))
    assert rows(entries) == [("p2", "bogo", "free", None, Decimal("3.00"), 1)]
    assert (first.points, first.stamps) == (3, {"bogo": 1})
    assert (second.points, second.stamps) == (3, {"bogo": 2})


# --- the dispatch tables ----------------------------------------------------------------


def test_every_rule_kind_of_the_union_is_listed_in_rule_kinds() -> None:
    (union, _) = get_args(Rule)
    assert set(get_args(union)) == set(RULE_KINDS)


def test_every_rule_kind_has_one_spec_in_the_kind_table_and_the_table_no_other() -> None:
    assert set(KINDS) == set(RULE_KINDS)
    for model, spec in KINDS.items():
        assert spec.model is model


SAMPLE_RULES: dict[str, dict[str, Any]] = {
    kind_name(model) or model.__name__: kind_example(model) for model in RULE_KINDS
}
"""One rule of each kind: the reference's own example of the kind."""


def test_every_rule_kind_compiles_to_rules_the_engine_runs() -> None:
    rules_program: Program = program(
        tiers={
            "qualify_by": "spend",
            "window": "lifetime",
            "levels": [{"name": "silver", "at_least": "0"}, {"name": "gold", "at_least": "100"}],
        },
        rules=list(SAMPLE_RULES.values()),
    )
    compiled = compile_program(rules_program).plan
    ran = [rule.id for rule in (*compiled.running, *compiled.dated)]
    assert sorted(ran) == sorted(rule["id"] for rule in SAMPLE_RULES.values())
    for rule in compiled.running:
        assert KINDS[type(rule.rule)].model is type(rule.rule)
        assert rule.plan.rule is rule.rule
