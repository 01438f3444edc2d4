"""Histories as Arrow tables: events go in and come back out unchanged, and the engine gives
the same evaluation for both."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given

from rewardrules import evaluate, load_program, read_history
from rewardrules.errors import HistoryError
from rewardrules.histories.columns import HISTORY_SCHEMA, events_to_table, table_to_events
from strategies import lifecycle_histories

EXAMPLES = Path(__file__).parent.parent / "rules" / "examples"


@given(lifecycle_histories(catalogue=True))
def test_events_survive_a_table_round_trip(events: list) -> None:  # type: ignore[type-arg]
    table = events_to_table(events)
    assert table.schema == HISTORY_SCHEMA
    assert list(table_to_events(table)) == events


@pytest.mark.parametrize(
    "history",
    sorted(path.name for path in EXAMPLES.glob("*.history.*")),
    ids=str,
)
def test_an_example_evaluates_the_same_from_its_table(history: str) -> None:
    program = load_program(EXAMPLES / (history.split(".history.", maxsplit=1)[0] + ".yaml"))
    events = list(read_history(EXAMPLES / history))
    from_table = list(table_to_events(events_to_table(events)))
    assert evaluate(program, from_table).to_dict() == evaluate(program, events).to_dict()


def test_a_bad_row_names_its_line_and_field() -> None:
    table = pa.table(
        {
            "event_id": ["p1"],
            "type": ["purchase"],
            "customer_id": ["c1"],
            "at": pa.array([0], pa.timestamp("us", tz="UTC")),
            "sku": ["latte"],
            "category": [None],
            "quantity": pa.array([0], pa.int64()),
            "unit_price": pa.array([None], pa.decimal128(38, 12)),
            "purchase_id": pa.array([None], pa.string()),
            "line": [7],
        }
    )
    with pytest.raises(HistoryError) as caught:
        list(table_to_events(table, source="march.parquet"))
    problems = caught.value.problems
    assert {str(problem.location) for problem in problems} == {"march.parquet:7:1"}
    messages = " ".join(problem.message for problem in problems)
    assert "quantity" in messages
    assert "unit_price" in messages


def test_a_table_without_a_needed_column_is_refused_by_name() -> None:
    table = pa.table({"event_id": ["p1"], "type": ["purchase"]})
    with pytest.raises(HistoryError, match="customer_id"):
        list(table_to_events(table))
