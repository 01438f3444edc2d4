"""A saved state's JSON text loads the fast way or, failing that, exactly as before.

``CustomerState.model_validate_json`` first reads a text with a second validator that reads
the saved purchases, their lines and the tier window's pairs as plain tuples with their
numeric bounds tested by pydantic-core (``engine._state_fast``); whatever it refuses is
loaded again the ordinary way. The laws: every state an evaluation saves takes the fast
way and loads to the very state the ordinary way gives; and a state changed anywhere, or
at a bound the fast way tests, is accepted by both ways alike, or refused with the same
problems. No timing here (benchmarks/replay.py).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from bonus_strategies import bonus_programs, profiles
from helpers import at, line, program, purchase
from rewardrules import CustomerState, HistoryError, evaluate
from rewardrules.engine import _state_format
from rewardrules.engine._state_checks import (
    DAY,
    END_AT,
    FIRST_AT,
    _forgotten_problems,
    _plain_and_sound,
)
from rewardrules.engine._state_fast import fast_validator
from rewardrules.engine.state import (
    _AS_READ,
    _BOUNDED,
    _FAST_BOUNDS,
    SavedLine,
    SavedPurchase,
    TierAmount,
    _digest_as_read,
    _fast_validator,
)
from rewardrules.events import AnyEvent, Customer
from rewardrules.program.model import Program
from strategies import lifecycle_histories
from test_state_checks import corruptions

Data = dict[str, Any]
TIERS = {
    "qualify_by": "spend",
    "window": "365 days",
    "levels": [{"name": "silver", "at_least": "20.00"}, {"name": "gold", "at_least": "60.00"}],
}
DISCOUNT = {"kind": "tiered_discount", "id": "levels", "discounts": {"silver": 5, "gold": 10}}
STARS = {"kind": "points_per_spend", "id": "stars", "points": "1"}


def ordinary(text: str) -> CustomerState:
    """The text loaded the ordinary way: any option other than a context skips the fast one."""
    return CustomerState.model_validate_json(text, strict=None)


def fast(text: str) -> CustomerState:
    """The text loaded the fast way only (a ``ValidationError`` when it refuses it)."""
    context = {_AS_READ: _digest_as_read(text), _BOUNDED: True}
    loaded: CustomerState = _fast_validator().validate_json(text, context=context)
    return loaded


def outcome(load: Callable[[str], CustomerState], text: str) -> tuple[str, Any]:
    """What loading ``text`` gives: the state's dump and fields, or the problems raised."""
    try:
        state = load(text)
    except HistoryError as error:
        return "refused", [(problem.code, str(problem)) for problem in error.problems]
    return "loaded", (state.model_dump_json(), vars(state), state.is_checked())


def forgetful_text() -> str:
    """A state that forgot purchases under ``refunds.within`` and keeps window pairs."""
    rules = program(tiers=TIERS, rules=[DISCOUNT, STARS], refunds={"within": "30 days"})
    history = [
        purchase(f"p{n}", at(5 * n), line("latte", "4.50", 2), line("bun", "3.00"))
        for n in range(30)
    ]
    return evaluate(rules, history).customer("c1").state.model_dump_json()


def test_a_saved_state_takes_the_fast_way_to_the_state_the_ordinary_way_gives() -> None:
    text = forgetful_text()
    quick, slow = fast(text), ordinary(text)
    # The parts the fast way reads differently:
    assert quick.purchases
    assert quick.tier_window
    assert vars(quick) == vars(slow)
    assert [type(row) for row in quick.purchases] == [SavedPurchase] * len(quick.purchases)
    assert {type(saved) for row in quick.purchases for saved in row.lines} == {SavedLine}
    assert {type(pair) for pair in quick.tier_window} == {TierAmount}
    assert quick.model_fields_set == slow.model_fields_set
    assert quick.model_dump_json() == slow.model_dump_json() == text
    assert quick.is_checked()
    assert CustomerState.model_validate_json(text) == slow


@settings(max_examples=60)
@given(program=bonus_programs(), events=lifecycle_histories(), customers=profiles())
def test_every_state_an_evaluation_saves_takes_the_fast_way(
    program: Program, events: list[AnyEvent], customers: list[Customer]
) -> None:
    for result in evaluate(program, events, customers).customers:
        text = result.state.model_dump_json()
        assert (
            outcome(fast, text)
            == outcome(ordinary, text)
            == outcome(CustomerState.model_validate_json, text)
        )


@settings(max_examples=150)
@given(
    program=bonus_programs(),
    events=lifecycle_histories(),
    customers=profiles(),
    keep_digest=st.booleans(),
    data=st.data(),
)
def test_a_state_changed_in_one_field_loads_or_is_refused_as_the_ordinary_way_does(
    program: Program,
    events: list[AnyEvent],
    customers: list[Customer],
    keep_digest: bool,
    data: st.DataObject,
) -> None:
    states = {
        result.customer_id: json.loads(result.state.model_dump_json())
        for result in evaluate(program, events, customers).customers
    }
    customer = data.draw(st.sampled_from(sorted(states)), label="customer")
    corrupted, change = data.draw(corruptions(states[customer]), label="change")
    if not keep_digest:
        corrupted.pop("digest", None)
    text = json.dumps(corrupted, separators=(",", ":"))
    assert outcome(CustomerState.model_validate_json, text) == outcome(ordinary, text), change


def _lines(data: Data) -> list[Any]:
    return [saved for row in data["purchases"] for saved in row[5]]


# Each place the fast way tests a bound, and values at and beyond it.
BOUNDED: dict[str, tuple[Callable[[Data], list[Any]], int, tuple[int, ...]]] = {
    "purchases[i].at": (
        lambda data: data["purchases"],
        1,
        (FIRST_AT - 1, FIRST_AT, END_AT - 1, END_AT),
    ),
    "purchases[i].offset": (lambda data: data["purchases"], 2, (-DAY, -DAY + 1, DAY - 1, DAY)),
    "purchases[i].lines[j].quantity": (_lines, 2, (-1, 0, 1)),
    "purchases[i].lines[j].unit_price": (_lines, 3, (-1, 0)),
    "purchases[i].lines[j].paid": (_lines, 4, (-1, 0)),
    "purchases[i].lines[j].refunded_units": (_lines, 5, (-1, 0)),
    "purchases[i].lines[j].refunded_amount": (_lines, 6, (-1, 0)),
    "tier_window[i].amount": (lambda data: data["tier_window"], 1, (-1, 0)),
}


@pytest.mark.parametrize("where", sorted(BOUNDED))
@settings(max_examples=30)
@given(data=st.data())
def test_a_value_at_or_beyond_a_bound_the_fast_way_tests_loads_as_the_ordinary_way_does(
    where: str, data: st.DataObject
) -> None:
    original: Data = json.loads(forgetful_text())
    changed = copy.deepcopy(original)
    rows_of, position, edges = BOUNDED[where]
    rows = rows_of(changed)
    row = data.draw(st.sampled_from(rows), label="row")
    row[position] = data.draw(st.sampled_from(edges) | st.integers(-3, 3), label="value")
    changed.pop("digest")
    text = json.dumps(changed, separators=(",", ":"))
    assert outcome(CustomerState.model_validate_json, text) == outcome(ordinary, text)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda data: data["purchases"][0].pop(), id="a purchase one item short"),
        pytest.param(lambda data: data["purchases"][0][5][0].append(0), id="a line one too long"),
        pytest.param(
            lambda data: data["tier_window"].__setitem__(0, {"at": 1, "amount": 2}),
            id="a pair as an object",
        ),
        pytest.param(
            lambda data: data["purchases"][0].__setitem__(6, {"stars": -1}), id="negative points"
        ),
        pytest.param(
            lambda data: data["purchases"][0].__setitem__(8, {"stars": [-1]}),
            id="a negative earned_on amount",
        ),
        pytest.param(lambda data: data.__setitem__("extra", 1), id="an unknown key"),
        pytest.param(lambda data: data.__setitem__("format", 4), id="an older format"),
        pytest.param(
            lambda data: data["purchases"][0].__setitem__(1, "1"), id="an instant as text"
        ),
    ],
)
def test_what_the_fast_way_refuses_gives_the_ordinary_way_s_answer(
    change: Callable[[Data], object],
) -> None:
    changed: Data = json.loads(forgetful_text())
    changed.pop("digest")
    change(changed)
    text = json.dumps(changed, separators=(",", ":"))
    with pytest.raises(ValidationError):  # pydantic's own, or the checks' refusal inside it
        fast(text)
    assert outcome(CustomerState.model_validate_json, text) == outcome(ordinary, text)


SMALL_EDGES = (-2, -1, 0, 1)
FIELD_EDGES = {
    "at": (FIRST_AT - 1, FIRST_AT, END_AT - 1, END_AT),
    "offset": (-DAY, -DAY + 1, DAY - 1, DAY),
    **dict.fromkeys(("points", "quantity", "unit_price", "paid", "units", "back"), SMALL_EDGES),
}
"""Per number the fast way bounds, values at and beyond its bound."""
LINE_FIELDS = {"quantity": 2, "unit_price": 3, "paid": 4, "units": 5, "back": 6}


@st.composite
def saved_lines(draw: st.DrawFn) -> list[Any]:
    """A sound line as a saved state writes it."""
    quantity = draw(st.integers(1, 3))
    price = draw(st.integers(0, 500))
    paid = draw(st.sampled_from((0, quantity * price)) | st.integers(0, quantity * price))
    units = draw(st.integers(0, quantity))
    back = draw(st.integers(0, paid))
    return ["latte", draw(st.sampled_from(("coffee", None))), quantity, price, paid, units, back]


@st.composite
def saved_rows(draw: st.DrawFn) -> list[Any]:
    """A saved purchase, sound, or with one number at or beyond a bound."""
    lines = draw(st.lists(saved_lines(), min_size=1, max_size=2))
    row = [
        draw(st.sampled_from(("p1", "p2", "p3"))),
        draw(st.integers(FIRST_AT, END_AT - 1)),
        draw(st.integers(-DAY + 1, DAY - 1)),
        None,
        None,
        lines,
        {"stars": draw(st.integers(0, 9))},
        [],
        {},
    ]
    where = draw(st.sampled_from([*FIELD_EDGES, "none"]))
    if where == "none":
        return row
    edge = draw(st.sampled_from(FIELD_EDGES[where]))
    if where == "points":
        row[6] = {"stars": edge}
    elif where in LINE_FIELDS:
        lines[0][4:] = [0, 0, 0]  # nothing paid nor refunded: only the bound can fail
        lines[0][LINE_FIELDS[where]] = edge
    else:
        row[1 if where == "at" else 2] = edge
    return row


PURCHASES = fast_validator(
    TypeAdapter(tuple[SavedPurchase, ...]).core_schema,
    {name: _FAST_BOUNDS[name] for name in ("SavedPurchase", "SavedLine")},
)
PAIRS = fast_validator(
    TypeAdapter(tuple[TierAmount, ...]).core_schema, {"TierAmount": _FAST_BOUNDS["TierAmount"]}
)


@settings(max_examples=300)
@given(rows=st.lists(saved_rows(), min_size=1, max_size=2))
def test_the_checks_skip_only_bounds_the_fast_way_has_tested(rows: list[Any]) -> None:
    try:
        purchases = PURCHASES.validate_json(json.dumps(rows))
    except ValidationError:
        return  # loaded again the ordinary way
    assert _plain_and_sound(purchases, bounded=True) == _plain_and_sound(purchases)


@given(pairs=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(SMALL_EDGES)), min_size=1))
def test_the_window_checks_skip_only_bounds_the_fast_way_has_tested(pairs: list[Any]) -> None:
    try:
        window = PAIRS.validate_json(json.dumps(sorted(pairs)))
    except ValidationError:
        return
    state = SimpleNamespace(
        forgotten_until=_state_format.instant(10),
        settled_purchase_at=None,
        purchases=(),
        tier_amounts={},
        tier_window=window,
    )
    assert list(_forgotten_problems(state, bounded=True)) == list(_forgotten_problems(state))


def test_a_bound_the_state_s_schema_has_no_field_for_is_refused_when_the_validator_is_built() -> (
    None
):
    bounds = {**_FAST_BOUNDS, "TierAmount": {"amount": {"ge": 0}, "instant": {"ge": 0}}}
    with pytest.raises(TypeError, match=r"\[\('TierAmount', 'instant'\)\]"):
        fast_validator(CustomerState.__pydantic_core_schema__, bounds)
