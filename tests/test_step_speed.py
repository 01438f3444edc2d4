"""What ``step`` skips to be fast leaves the same results as the slow way would.

A state ``step`` saves is built without ``model_construct`` (``engine.state.trusted_state``):
it must be the very model ``model_construct`` gives, marked checked, and only that object;
its lots are built without validation (``engine._state_save._trusted_lot``): each must be the
very lot ``SavedLot(...)`` validates.
A purchase forgets what ``refunds.within`` no longer covers once: the state is the one a
whole evaluation of the same history saves. No timing here (benchmarks/replay.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import at, line, program, purchase, refund
from rewardrules import CustomerState, compile_program, evaluate, step
from rewardrules.engine.state import SavedLot
from rewardrules.errors import HistoryError
from rewardrules.events import AnyEvent
from rewardrules.program.model import Program

STARS = {"kind": "points_per_spend", "id": "stars", "points": "1"}


def _program_within(days: int) -> Program:
    return program(rules=[STARS], refunds={"within": f"{days} days"})


def test_a_stepped_state_is_the_model_construct_of_its_fields() -> None:
    rules = _program_within(30)
    history = [purchase(f"p{n}", at(10 * n), line("x", "5.00")) for n in range(4)]
    state = evaluate(rules, history[:-1]).customer("c1").state
    saved, _entries = step(rules, state, history[-1])
    fields = {name: getattr(saved, name) for name in CustomerState.model_fields}
    given_fields = {k: v for k, v in fields.items() if k not in {"format", "digest"}}
    constructed = CustomerState.model_construct(**given_fields)
    assert list(vars(saved)) == list(vars(constructed)) == list(CustomerState.model_fields)
    assert vars(saved) == vars(constructed)
    assert saved.model_fields_set == constructed.model_fields_set
    assert saved.__pydantic_extra__ == constructed.__pydantic_extra__
    assert saved.model_dump_json() == constructed.model_dump_json()
    assert saved == constructed
    assert saved.is_checked()
    assert not constructed.is_checked()
    assert not saved.model_copy().is_checked()


def test_a_stepped_state_s_lots_are_the_lots_validation_would_give() -> None:
    rules = program(
        rules=[STARS],
        points={"value": "0.01", "expire_after": "30 days", "pending_for": "2 days"},
        refunds={"within": "60 days"},
    )
    history = [purchase(f"p{n}", at(3 * n), line("x", "5.00")) for n in range(5)]
    state = evaluate(rules, history[:-1]).customer("c1").state
    saved, _entries = step(rules, state, history[-1])
    assert len(saved.lots) == 5
    assert [lot.expires_at for lot in saved.lots] == [at(3 * n + 30) for n in range(5)]
    for lot in saved.lots:
        validated = SavedLot(**{name: getattr(lot, name) for name in SavedLot.model_fields})
        assert list(vars(lot)) == list(vars(validated)) == list(SavedLot.model_fields)
        assert vars(lot) == vars(validated)
        assert lot.model_fields_set == validated.model_fields_set
        assert lot.__pydantic_extra__ == validated.__pydantic_extra__
        assert lot.__pydantic_private__ == validated.__pydantic_private__
        assert lot.model_dump_json() == validated.model_dump_json()
        assert lot == validated
    assert CustomerState.model_validate_json(saved.model_dump_json()) == saved


@settings(max_examples=40, deadline=None)
@given(
    days=st.integers(min_value=1, max_value=40),
    gaps=st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=8),
    refunded=st.integers(min_value=0, max_value=8),
)
def test_stepping_one_event_at_a_time_saves_what_one_evaluation_saves(
    days: int, gaps: list[int], refunded: int
) -> None:
    rules = _program_within(days)
    compiled = compile_program(rules)
    events: list[AnyEvent] = []
    moment = at()
    for index, gap in enumerate(gaps):
        moment += timedelta(days=gap, minutes=1)
        events.append(purchase(f"p{index}", moment, line("x", "3.00", 2)))
    if refunded < len(gaps):
        events.append(refund("r1", moment + timedelta(minutes=1), f"p{refunded}", ("x", 1)))
    state: CustomerState | None = None
    for event in events:
        try:
            state, _entries = step(compiled, state, event)
        except HistoryError:  # a refund outside the window: one evaluation refuses it too
            with pytest.raises(HistoryError):
                evaluate(rules, events)
            return
        state = CustomerState.model_validate_json(state.model_dump_json())
    whole = evaluate(rules, events).customer("c1").state
    assert state is not None
    assert state.model_dump_json() == whole.model_dump_json()
