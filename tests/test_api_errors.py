"""The Python API errs as clearly as the command line: a file name says how to read it, a
float says to use Decimal, and no pydantic text or link reaches a user."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import at, program
from rewardrules import (
    Customer,
    CustomerState,
    Line,
    Purchase,
    Redemption,
    ReferralQualified,
    Refund,
    RefundLine,
    compile_program,
    evaluate,
    step,
)
from rewardrules.errors import HistoryError
from rewardrules.events import MonthDay

FLOAT_MESSAGE = (
    "money must be exact: give Decimal('4.5') or the text '4.5', never a float (got 4.5)"
)
MODELS = (Purchase, Refund, Redemption, ReferralQualified, Customer, Line, RefundLine, MonthDay)


def one_purchase() -> Purchase:
    return Purchase(
        id="p1",
        customer_id="c1",
        at=at(),
        lines=(Line(sku="latte", quantity=1, unit_price=Decimal("4.50")),),
    )


# --- evaluate's arguments -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["history.csv", Path("history.csv"), b"history.csv"])
def test_evaluate_given_a_file_name_says_to_read_it_with_read_history(name: object) -> None:
    with pytest.raises(TypeError) as caught:
        evaluate(program(), name)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "evaluate takes the events themselves, not a file name: "
        "read them with read_history('history.csv')"
    )


def test_evaluate_given_a_customer_file_name_says_to_read_it_with_read_customers() -> None:
    with pytest.raises(TypeError) as caught:
        evaluate(program(), [], "customers.csv")  # type: ignore[arg-type]
    assert str(caught.value) == (
        "evaluate takes the customers themselves, not a file name: "
        "read them with read_customers('customers.csv')"
    )


def test_evaluate_given_a_rule_file_name_says_to_load_it() -> None:
    with pytest.raises(TypeError) as caught:
        evaluate("rules/coffee.yaml", [])  # type: ignore[arg-type]
    assert str(caught.value) == (
        "evaluate takes a Program as its first argument: load it with "
        "load_program('rules/coffee.yaml')"
    )


def test_evaluate_given_dicts_says_to_build_events() -> None:
    with pytest.raises(TypeError) as caught:
        evaluate(program(), [{"type": "purchase"}])  # type: ignore[list-item]
    assert str(caught.value) == (
        "events must be Purchase, Refund, Redemption, CancelRedemption or ReferralQualified "
        "objects (the first "
        "is a dict): build them with Purchase.model_validate(...), or read a file with "
        "read_history('history.csv')"
    )


def test_evaluate_given_one_event_says_to_put_it_in_a_list() -> None:
    with pytest.raises(TypeError, match=r"takes a list of events, not one: write \[event\]"):
        evaluate(program(), one_purchase())  # type: ignore[arg-type]


def test_evaluate_still_takes_any_iterable_of_events() -> None:
    assert len(evaluate(program(), iter([one_purchase()])).customers) == 1
    assert len(evaluate(program(), (one_purchase(),), customers=iter(())).customers) == 1


# --- floats ---------------------------------------------------------------------------------


def test_a_float_price_in_a_line_says_to_use_decimal_or_text() -> None:
    with pytest.raises(HistoryError) as caught:
        Line(sku="latte", quantity=1, unit_price=4.5)  # type: ignore[arg-type]
    assert str(caught.value) == f"unit_price: {FLOAT_MESSAGE}"


def test_a_float_price_in_a_lines_dict_is_located_inside_the_purchase() -> None:
    with pytest.raises(HistoryError) as caught:
        Purchase(
            id="p1",
            customer_id="c1",
            at=at(),
            lines=[{"sku": "latte", "quantity": 1, "unit_price": 4.5}],  # type: ignore[list-item]
        )
    [problem] = caught.value.problems
    assert (problem.path, problem.message) == (("lines", 0, "unit_price"), FLOAT_MESSAGE)


def test_model_errors_are_history_errors_and_value_errors() -> None:
    with pytest.raises(ValueError, match="customer_id: 'customer_id' is required here") as caught:
        Customer.model_validate({})
    assert isinstance(caught.value, HistoryError)


def test_a_naive_time_and_an_unknown_key_are_said_plainly() -> None:
    with pytest.raises(HistoryError) as caught:
        Refund.model_validate(
            {"id": "r1", "customer_id": "c1", "at": "2026-03-01T09:00:00", "purchse_id": "p1"}
        )
    assert [str(problem) for problem in caught.value.problems] == [
        "at: must have a UTC offset, like 2026-03-01T09:30:00+01:00 (got '2026-03-01T09:00:00')",
        "purchase_id: 'purchase_id' is required here",
        "purchse_id: unknown key 'purchse_id' (did you mean 'purchase_id'?)",
    ]


def test_a_saved_state_that_does_not_fit_is_said_plainly() -> None:
    with pytest.raises(HistoryError) as caught:
        CustomerState.model_validate_json('{"program": "p", "customer_id": "c1", "lotz": []}')
    [problem] = caught.value.problems
    assert (problem.code, str(problem)) == (
        "bad-state",
        "state of c1.lotz: unknown key 'lotz' (did you mean 'lots'?)",
    )


# --- no pydantic text anywhere --------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
keys = st.sampled_from(
    ["type", "id", "customer_id", "at", "lines", "sku", "quantity", "unit_price", "reward"]
)
records = st.dictionaries(keys, json_values, max_size=6)


def assert_plain(error: HistoryError) -> None:
    text = str(error) + "".join(str(problem.suggestion) for problem in error.problems)
    assert "pydantic" not in text
    assert "https://" not in text
    assert "[type=" not in text


@given(st.sampled_from(MODELS), records)
def test_no_model_lets_pydantic_text_through(model: type[Any], record: dict[str, Any]) -> None:
    for build in (model.model_validate, lambda data: model(**data)):
        try:
            build(record)
        except HistoryError as error:
            assert_plain(error)


@given(st.sampled_from((*MODELS, CustomerState)), st.text(max_size=20) | records.map(json.dumps))
def test_no_json_text_lets_pydantic_text_through(model: type[Any], text: str) -> None:
    try:
        model.model_validate_json(text)
    except HistoryError as error:
        assert_plain(error)


# --- step's arguments -----------------------------------------------------------------------
STEP_EVENT = (
    "step takes one event, a Purchase, Refund, Redemption, CancelRedemption or "
    "ReferralQualified, as its third argument"
)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            ("rules/coffee.yaml", None, None),
            "step takes a Program as its first argument: load it with "
            "load_program('rules/coffee.yaml')",
        ),
        (
            (None, {"customer_id": "c1"}, None),
            "step takes the customer's CustomerState, or None, as its second argument (got a "
            "dict): read a saved one with CustomerState.model_validate_json(text)",
        ),
        (
            (None, 3, None),
            "step takes the customer's CustomerState, or None, as its second argument (got an "
            "int): give None for a customer the program has not seen",
        ),
        (
            (None, None, "history.csv"),
            f"{STEP_EVENT} (got a str): to evaluate a file, pass read_history('history.csv') "
            "to evaluate",
        ),
        (
            (None, None, []),
            f"{STEP_EVENT} (got a list): call step once per event, or pass them all to evaluate",
        ),
        (
            (None, None, {"type": "purchase"}),
            f"{STEP_EVENT} (got a dict): build it with Purchase.model_validate(...) (or Refund, "
            "Redemption)",
        ),
    ],
)
def test_step_says_what_it_takes(arguments: tuple[Any, Any, Any], expected: str) -> None:
    given, state, event = arguments
    with pytest.raises(TypeError) as caught:
        step(
            program() if given is None else given, state, one_purchase() if event is None else event
        )
    assert str(caught.value) == expected


def test_step_refuses_a_customer_that_is_not_a_profile() -> None:
    with pytest.raises(TypeError) as caught:
        step(program(), None, one_purchase(), "c1")  # type: ignore[arg-type]
    assert (
        str(caught.value) == "step takes the customer's profile as a Customer, or None (got a str)"
    )


def test_step_still_takes_a_compiled_program() -> None:
    state, entries = step(compile_program(program()), None, one_purchase())
    assert (state.customer_id, entries) == ("c1", step(program(), None, one_purchase())[1])


# --- results as dicts -----------------------------------------------------------------------
def test_results_give_dicts_of_json_values_under_to_dict() -> None:
    evaluation = evaluate(program(), [one_purchase()])
    (result,) = evaluation.customers
    for item in (evaluation, evaluation.totals, result, *result.ledger):
        assert json.loads(item.to_json()) == item.to_dict()
        assert json.loads(json.dumps(item.to_dict())) == item.to_dict()
    assert evaluation.to_dict()["totals"]["purchases"] == 1
