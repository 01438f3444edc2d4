"""Saved states of older formats load as the state this rewardrules saves for the same
history, and evaluation goes on from them exactly as from that state (format 3: each
purchase as the integers a refund needs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers import at, line, program, purchase
from rewardrules import CustomerState, HistoryError, evaluate, step
from rewardrules.engine._state_format import FORMAT
from state_fixtures import CARD, CASES, STARS

STATES = Path(__file__).parent / "data" / "states"
OLD_STATES = sorted(STATES.glob("format-*.json"))


def _case(path: Path) -> str:
    return path.stem.split("-", 2)[2]


def _old(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_there_are_saved_states_of_each_older_format() -> None:
    formats = {int(path.stem.split("-")[1]) for path in OLD_STATES}
    assert formats == set(range(1, FORMAT))


@pytest.mark.parametrize("path", OLD_STATES, ids=lambda path: path.stem)
def test_an_older_state_loads_as_the_state_saved_now_for_the_same_history(path: Path) -> None:
    rules, before, _ = CASES[_case(path)]()
    now = evaluate(rules, before).customer("c1").state
    from_text = CustomerState.model_validate_json(path.read_text())
    from_data = CustomerState.model_validate(_old(path))
    assert from_text == from_data == now
    assert from_text.model_dump_json() == now.model_dump_json()


@pytest.mark.parametrize("path", OLD_STATES, ids=lambda path: path.stem)
def test_evaluation_goes_on_from_an_older_state_as_from_the_whole_history(path: Path) -> None:
    rules, before, after = CASES[_case(path)]()
    whole = evaluate(rules, [*before, *after]).customer("c1")
    old = CustomerState.model_validate_json(path.read_text())
    resumed = evaluate(rules, after, states=[old]).customer("c1")
    assert resumed.ledger == whole.ledger[-len(resumed.ledger) :]
    assert resumed.state == whole.state
    state: CustomerState | None = old
    entries = []
    for event in after:
        state, given = step(rules, state, event)
        entries += given
    assert tuple(entries) == resumed.ledger
    assert state == whole.state


def test_a_format_2_purchase_of_another_customer_is_refused_as_it_is_upgraded() -> None:
    data = _old(STATES / "format-2-refunds.json")
    data["purchases"][1]["purchase"]["customer_id"] = "c2"
    with pytest.raises(HistoryError) as raised:
        CustomerState.model_validate(data)
    assert [str(problem) for problem in raised.value.problems] == [
        "state of c1.purchases[1].purchase.customer_id: is 'c2': a purchase of another "
        "customer in the state of 'c1' (in a state of format 2, upgraded as it is loaded) "
        "(use the state exactly as rewardrules saved it, or rebuild it by evaluating the "
        "customer's history)"
    ]


def test_a_format_2_amount_that_is_not_money_is_refused_with_its_place() -> None:
    data = _old(STATES / "format-2-refunds.json")
    data["purchases"][0]["paid"][1] = "lots"
    with pytest.raises(HistoryError) as raised:
        CustomerState.model_validate(data)
    assert [problem.path for problem in raised.value.problems] == [
        ("state of c1", "purchases", 0, "paid", 1)
    ]


def test_a_state_is_refused_by_a_program_whose_currency_has_other_decimal_places() -> None:
    rules, before, _ = CASES["refunds"]()
    state = evaluate(rules, before).customer("c1").state
    yen = program(rules=[dict(rule) for rule in (STARS, CARD)], currency="JPY")
    with pytest.raises(HistoryError) as raised:
        step(yen, state, purchase("p9", at(9), line("latte", "350")))
    assert [str(problem) for problem in raised.value.problems] == [
        "state of c1.exponent: is 2, but the program's currency JPY has 0 decimal places; a "
        "state belongs to its program (use the state exactly as rewardrules saved it, or "
        "rebuild it by evaluating the customer's history)"
    ]


def test_the_saved_purchases_are_columns_of_integers_and_ids_only() -> None:
    rules, before, _ = CASES["refunds"]()
    data = json.loads(evaluate(rules, before).customer("c1").state.model_dump_json())
    assert data["exponent"] == 2
    assert data["purchases"] == {
        "id": ["p1", "p2", "p3"],
        # 2026-03-02T12:00:00Z... in microseconds
        "at": [1772452800000000, 1772539200000000, 1772712000000000],
        "offset": [0, 19800, 0],  # p2 written at +05:30
        "store": [None, "s1", None],
        "tier": [None, None, None],
        "lines": [2, 1, 1],  # p1's lines are the first two of the line columns
        "points": {"stars": [9, 3, 12]},
        "set_aside": {},
        "earned_on": {},
        "sku": ["latte", "bun", "latte", "mug"],
        "category": ["coffee", None, "coffee", None],
        "quantity": [3, 1, 2, 1],
        "unit_price": [350, 225, 350, 1200],
        "paid": [1050, 225, 350, 1200],  # the 4th coffee is free
        "refunded_units": [1, 0, 0, 0],
        "refunded_amount": [350, 0, 0, 0],
    }


@pytest.mark.parametrize("path", sorted(STATES.glob("format-5-*.json")), ids=lambda path: path.stem)
def test_a_format_5_state_is_upgraded_to_the_same_content_as_columns(path: Path) -> None:
    rules, before, after = CASES[_case(path)]()
    old = _old(path)
    state = CustomerState.model_validate_json(path.read_text())
    now = evaluate(rules, before).customer("c1").state
    assert state.model_dump_json() == now.model_dump_json()
    # The rows read from the columns are the rows format 5 saved.
    assert [list(row) for row in json.loads(json.dumps(state.purchases))] == old["purchases"]
    assert [list(pair) for pair in state.tier_window] == old["tier_window"]
    resumed, entries = state, []
    for event in after:
        resumed, given = step(rules, resumed, event)
        entries += given
    whole = evaluate(rules, [*before, *after]).customer("c1")
    assert tuple(entries) == whole.ledger[-len(entries) :]
    assert resumed.model_dump_json() == whole.state.model_dump_json()


def test_a_format_5_purchase_of_another_shape_is_refused_with_its_place() -> None:
    data = _old(STATES / "format-5-refunds.json")
    data["purchases"][1] = data["purchases"][1][:-1]
    with pytest.raises(HistoryError) as raised:
        CustomerState.model_validate(data)
    assert [problem.path for problem in raised.value.problems] == [("state of c1", "purchases", 1)]


@pytest.mark.parametrize("path", sorted(STATES.glob("format-6-*.json")), ids=lambda path: path.stem)
def test_a_format_6_state_is_upgraded_with_no_write_off_to_recover(path: Path) -> None:
    old = _old(path)
    assert "written_off" not in old
    state = CustomerState.model_validate_json(path.read_text())
    assert (state.format, state.written_off) == (FORMAT, ())
