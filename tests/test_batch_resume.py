"""The batch engine resumes from saved states as the reference engine does.

A history is split at a drawn point; the reference engine evaluates the first part and
saves each customer's state (through JSON, as a caller would keep it); then the second
part is resumed from those states by both engines. The batch engine's evaluation must be
the reference's, entry for entry, with the same balances, stamps, totals and saved states;
and both must be the whole history's, split in two. What the batch engine does not resume
yet is refused by name (``UnsupportedError``), never computed another way.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rewardrules.engine.state import CustomerState
from rewardrules.errors import HistoryError
from rewardrules.evaluation.batch import UnsupportedError
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent, event_sort_key
from rewardrules.program.model import Program
from strategies import cutoffs, histories, lifecycle_histories, lifecycle_programs, programs
from test_batch_engine import SUPPORTED_KINDS, dense_histories

RESUMED_KINDS = tuple(kind for kind in SUPPORTED_KINDS if kind != "tiered_discount")
"""Kinds resumed without tiers (a tiered discount needs them)."""

REFUSALS = (
    "a refund of a purchase made before the saved state, in a program with a partner_gift_card",
    "a purchase in a gift card window the saved state holds",
    "saved states of a program with tiers",
)
"""What the batch engine says when it does not resume a drawn history yet."""


def _saved(program: Program, events: list[AnyEvent]) -> dict[str, CustomerState]:
    first = evaluate(program, events)
    return {
        result.customer_id: CustomerState.model_validate_json(result.state.model_dump_json())
        for result in first.customers
    }


def _states_json(evaluation: Any) -> list[str]:
    return [result.state.model_dump_json() for result in evaluation.customers]


def resumes_as_the_reference(
    program: Program,
    events: list[AnyEvent],
    split: int,
    as_of: date | datetime | None = None,
) -> bool:
    """Assert the batch engine resumes ``events[split:]`` from the reference's states at
    ``split`` as the reference does; returns whether it evaluated (not refused)."""
    events = sorted(events, key=event_sort_key)
    try:
        saved = _saved(program, events[:split])
    except HistoryError:
        return False  # the first part is refused already
    rest = events[split:]
    try:
        expected: Any = evaluate(program, rest, states=saved, as_of=as_of)
    except HistoryError as error:
        expected = error
    batch_run: Any
    try:
        batch_run = evaluate(program, rest, states=saved, as_of=as_of, engine="batch")
    except (UnsupportedError, HistoryError) as error:
        batch_run = error
    if isinstance(batch_run, UnsupportedError):
        assert any(reason in str(batch_run) for reason in REFUSALS), str(batch_run)
        return False
    if isinstance(batch_run, HistoryError):
        assert isinstance(expected, HistoryError), str(batch_run)
        assert str(batch_run) == str(expected)
        return False
    assert not isinstance(expected, HistoryError), str(expected)
    assert batch_run.to_dict() == expected.to_dict()
    assert _states_json(batch_run) == _states_json(expected)
    return True


def resumes_to_one_evaluation(program: Program, events: list[AnyEvent], split: int) -> None:
    """The batch engine resumed at ``split`` gives the whole history's states and balances,
    and the whole ledger in two parts."""
    events = sorted(events, key=event_sort_key)
    if not resumes_as_the_reference(program, events, split):
        return
    try:
        whole = evaluate(program, events)
    except HistoryError:
        return
    saved = _saved(program, events[:split])
    first = evaluate(program, events[:split])
    rest = evaluate(program, events[split:], states=saved, engine="batch")
    assert [result.customer_id for result in rest.customers] == [
        result.customer_id for result in whole.customers
    ]
    for resumed, single in zip(rest.customers, whole.customers, strict=True):
        assert (resumed.points, resumed.available_points, resumed.stamps) == (
            single.points,
            single.available_points,
            single.stamps,
        )
        assert resumed.state.model_dump_json() == single.state.model_dump_json()
    parts: dict[str, list[dict[str, Any]]] = {
        result.customer_id: [entry.to_dict() for entry in result.ledger]
        for result in first.customers
    }
    for result in rest.customers:
        parts.setdefault(result.customer_id, []).extend(entry.to_dict() for entry in result.ledger)
    assert parts == {
        result.customer_id: [entry.to_dict() for entry in result.ledger]
        for result in whole.customers
    }


# --- drawn: a history split anywhere -------------------------------------------------------


@settings(max_examples=80)
@given(
    programs(RESUMED_KINDS, with_tiers=False),
    st.one_of(histories(refunds=True, payments=True), dense_histories()),
    st.data(),
)
def test_drawn_programs_resume_as_the_reference_resumes(
    program: Program, events: list[AnyEvent], data: st.DataObject
) -> None:
    split = data.draw(st.integers(0, len(events)), label="split")
    resumes_to_one_evaluation(program, events, split)


@settings(max_examples=60)
@given(
    lifecycle_programs(rule_options=()).filter(lambda program: program.tiers is None),
    lifecycle_histories(catalogue=True),
    st.data(),
    cutoffs(),
)
def test_drawn_lifecycles_resume_as_the_reference_resumes(
    program: Program, events: list[AnyEvent], data: st.DataObject, as_of: Any
) -> None:
    split = data.draw(st.integers(0, len(events)), label="split")
    resumes_as_the_reference(program, events, split, as_of)
    resumes_to_one_evaluation(program, events, split)
