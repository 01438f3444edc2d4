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


@pytest.mark.parametrize(
    ("qualify_by", "amounts", "levels", "made_at"),
    [
        ("spend", (600, 200), ("10.00", "12.00", "13.00"), (None, None, "silver")),
        ("points", (6, 2), ("10", "12", "13"), (None, None, "silver")),
        ("purchases", (1, 1), (3, 4, 5), (None, "bronze", "silver")),
    ],
)
def test_a_resumed_rolling_window_counts_each_kept_purchase_as_it_was_left(
    qualify_by: str,
    amounts: tuple[int, int],
    levels: tuple[object, object, object],
    made_at: tuple[str | None, ...],
) -> None:
    # A step sums the kept purchases' tier amounts in C and reads one only when it needs
    # it (forgotten into the window's pairs, or refunded): each must be what is left of it.
    # Stars at 1 a 1.00, so points and spend count alike; refunds within 5 days:
    # p1 at day 0, 6.00 (2 x 3.00); p2 at day 3, 4.00 (2 x 2.00), one unit refunded at
    # day 4: 2.00 left (2 points; 1 purchase, not refunded in full). p3 at day 10 sees
    # 6 + 2 = 8 (2 purchases), below bronze at 10 (3), and forgets p1 and p2 into the
    # 30-day window's pairs; p4 at day 12 sees 8 + 1 = 9 (3: bronze by purchases); p5 at
    # day 13 sees 9 + 3 = 12 (4): silver. With p2's refund missed, p3 would see 10
    # (bronze) and p5 14 (gold).
    tiers = {
        "qualify_by": qualify_by,
        "window": "30 days",
        "levels": [
            {"name": name, "at_least": least}
            for name, least in zip(("bronze", "silver", "gold"), levels, strict=True)
        ],
    }
    rules = program(rules=[STARS], tiers=tiers, refunds={"within": "5 days"})
    events: list[AnyEvent] = [
        purchase("p1", at(0), line("a", "3.00", 2)),
        purchase("p2", at(3), line("a", "2.00", 2)),
        refund("r1", at(4), "p2", ("a", 1)),
        purchase("p3", at(10), line("a", "1.00")),
        purchase("p4", at(12), line("a", "3.00")),
        purchase("p5", at(13), line("a", "1.00")),
    ]
    compiled = compile_program(rules)
    state: CustomerState | None = None
    for event in events:
        state, _entries = step(compiled, state, event)
        state = CustomerState.model_validate_json(state.model_dump_json())
    assert state is not None
    assert state.purchase_columns.id == ("p3", "p4", "p5")
    assert state.purchase_columns.tier == made_at
    assert state.window_columns.amount == amounts
    whole = evaluate(rules, events).customer("c1").state
    assert state.model_dump_json() == whole.model_dump_json()


def test_a_saved_purchase_is_kept_to_the_very_microsecond_its_refunds_within_ends() -> None:
    # refunds.within 30 days: p1 at day 0 can be refunded up to day 30 inclusive, so a
    # purchase at exactly day 30 keeps it and one a microsecond later forgets it (the
    # step compares the saved instant in microseconds, the fold as datetimes).
    rules = _program_within(30)
    compiled = compile_program(rules)
    first = purchase("p1", at(0), line("x", "5.00"))
    state, _entries = step(compiled, None, first)
    for moment, kept in [
        (at(30), ("p1", "p2")),
        (at(30) + timedelta(microseconds=1), ("p2",)),
    ]:
        loaded = CustomerState.model_validate_json(state.model_dump_json())
        saved, _entries = step(compiled, loaded, purchase("p2", moment, line("x", "5.00")))
        assert saved.purchase_columns.id == kept
        whole = evaluate(rules, [first, purchase("p2", moment, line("x", "5.00"))])
        assert saved.model_dump_json() == whole.customer("c1").state.model_dump_json()
