"""What the history table's checks hand on to the batch engine's reader (``histories._checked``).

A table ``read_history_table`` returned carries facts (where its events start, which text
is plain) that ``read_frame`` uses instead of checking again. Each test holds the reader to
what it finds on a copy of the same table, which has no facts: the same frame, or the
same error.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewardrules.errors import HistoryError
from rewardrules.evaluation.batch._frame import Frame, read_frame
from rewardrules.events import AnyEvent
from rewardrules.histories._checked import _FACTS, facts_of
from rewardrules.histories._table_rules import filled, scan
from rewardrules.histories.columns import events_to_table, read_history_table
from rewardrules.money import Currency
from strategies import histories
from test_history_table import COLUMNS, GOOD, good_rows, write_rows

USD = Currency("USD", 2)
ZONE = ZoneInfo("America/New_York")


def copy_of(table: pa.Table) -> pa.Table:
    """The same rows in a new table object: no facts."""
    return pa.Table.from_batches(table.to_batches(), schema=table.schema)


def frame_values(frame: Frame) -> dict[str, Any]:
    """Every field of a frame as plain Python values."""
    found: dict[str, Any] = {}
    for name in Frame.__dataclass_fields__:
        value = getattr(frame, name)
        if hasattr(value, "codes"):  # Codes
            value = (value.codes.tolist(), value.values.to_pylist(), value.texts_of)
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, pa.Array | pa.ChunkedArray):
            value = value.to_pylist()
        found[name] = value
    return found


def read(table: pa.Table, until: tuple[int, bool] | None = None) -> object:
    """The frame's values, or the problems of the error it raises."""
    try:
        return frame_values(read_frame(table, USD, ZONE, "h", until))
    except HistoryError as error:
        return [(problem.code, str(problem)) for problem in error.problems]


def same_frames(table: pa.Table) -> None:
    assert facts_of(table) is not None
    assert facts_of(copy_of(table)) is None
    assert read(table) == read(copy_of(table))
    instants = table["at"].cast(pa.int64()).to_pylist()
    if instants:  # as of a middle instant: the reader filters the rows first
        middle = sorted(instants)[len(instants) // 2]
        for inclusive in (False, True):
            assert read(table, (middle, inclusive)) == read(copy_of(table), (middle, inclusive))


def test_a_checked_table_keeps_its_facts_while_it_lives(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text(GOOD, encoding="utf-8")
    table = read_history_table(tmp_path / "h.csv")
    facts = facts_of(table)
    assert facts is not None
    assert facts.starts is not None
    assert facts.starts.tolist() == [0, 2, 3, 4, 5]  # p1 has two rows
    assert "event_id" in facts.plain
    assert "redemption_id" in facts.plain
    assert facts_of(table.slice(0)) is None
    assert facts_of(copy_of(table)) is None
    key = id(table)
    assert key in _FACTS
    del table, facts
    gc.collect()
    # This table's entry is gone (others may go with it: tables earlier tests left behind).
    assert key not in _FACTS


def test_read_frame_reads_a_checked_table_as_a_copy(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text(GOOD, encoding="utf-8")
    same_frames(read_history_table(tmp_path / "h.csv"))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (",c2,", ",Rene\u0301,"),  # a customer id NFC composes
        ("latte,coffee", "lat\u0301te,caf\u00e9"),  # a sku NFC composes, a category not ASCII
        ("p2,purchase", "p\u00e92,purchase"),  # an event id not ASCII, already composed
        ("r1,refund", "r\u00e9,refund"),
        ("r2,refund", "re\u0301,refund"),  # NFC makes r2 the id of r1: refused by the engine
        (",downtown,", ",dé ntown,"),  # a store with a space inside
    ],
)
def test_text_that_is_not_plain_reads_as_a_copy(tmp_path: Path, old: str, new: str) -> None:
    (tmp_path / "h.csv").write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    try:
        table = read_history_table(tmp_path / "h.csv")
    except HistoryError:
        return  # the checks refuse it: no table, no facts
    same_frames(table)


def test_event_ids_that_nfc_makes_one_are_refused_by_the_checks(tmp_path: Path) -> None:
    # Two events apart whose ids NFC makes one: the checks refuse them at the id's first row
    # (so no checked table, no facts), not read as the lines of one event.
    rows = good_rows()
    rows[0][0] = rows[1][0] = "Ren\u00e9"  # p1, two rows
    rows[4][0] = "Rene\u0301"  # r2
    write_rows(tmp_path / "h.csv", rows)
    with pytest.raises(HistoryError) as refused:
        read_history_table(tmp_path / "h.csv")
    [problem] = refused.value.problems
    assert problem.code == "invalid-event"
    assert "same id" in str(problem)
    assert problem.location is not None
    assert problem.location.line == 2  # the first row of René's first event


CELLS = st.sampled_from(
    ["", "0", "1", "2", "4.50", "0.001", "purchase", "refund", "redemption", "p1", "p2", "r1",
     "c1", "x1", "2026-03-01T09:30:00Z", "latte", "caf\u00e9", "Rene\u0301", "a b", "x" * 256,
     "free-drink"]
)  # fmt: skip


@given(
    row=st.integers(1, 6),
    column=st.sampled_from(COLUMNS),
    cell=CELLS,
    other=st.tuples(st.integers(1, 6), st.sampled_from(COLUMNS), CELLS),
)
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_table_the_checks_return_reads_as_a_copy(
    tmp_path: Path, row: int, column: str, cell: str, other: tuple[int, str, str]
) -> None:
    rows = good_rows()
    rows[row - 1][COLUMNS.index(column)] = cell
    rows[other[0] - 1][COLUMNS.index(other[1])] = other[2]
    write_rows(tmp_path / "h.csv", rows)
    try:
        table = read_history_table(tmp_path / "h.csv")
    except HistoryError:
        return
    same_frames(table)


@given(events=histories(payments=True))
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_drawn_histories_read_as_a_copy(tmp_path: Path, events: list[AnyEvent]) -> None:
    pq.write_table(events_to_table(events), tmp_path / "h.parquet")
    try:
        table = read_history_table(tmp_path / "h.parquet")
    except HistoryError:  # two equal lines of one purchase: a repeated row
        return
    same_frames(table)


@pytest.mark.parametrize(
    "stores",
    [
        [None, None, None, None, None, None],  # blank: not read at all
        ["downtown", None, None, None, None, None],  # the empty cells are the nulls
        ["downtown", "", None, None, "", None],  # empty text and nulls: both null
        ["downtown", "", "", "", "", ""],  # empty text only
        ["caf\u00e9", None, "", None, None, None],  # not ASCII
    ],
)
def test_empty_and_null_cells_of_a_parquet_column_read_as_null(
    tmp_path: Path, stores: list[str | None]
) -> None:
    rows = good_rows()
    rows[1][COLUMNS.index("store")] = "downtown"  # p1's rows agree
    table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(COLUMNS)})
    store = [*stores[:1], stores[0], *stores[2:]]  # p1's two rows agree
    table = table.set_column(COLUMNS.index("store"), "store", pa.array(store, pa.string()))
    pq.write_table(table, tmp_path / "h.parquet")
    read = read_history_table(tmp_path / "h.parquet")
    expected = [None if not value else value.replace("e\u0301", "\u00e9") for value in store]
    assert read["store"].to_pylist() == expected
    assert read["store"].null_count == expected.count(None)
    same_frames(read)


@given(
    st.lists(st.sampled_from([None, "", "a", "b\u00e9", "xyz ", " q"]), max_size=30),
    st.integers(0, 5),
)
def test_text_filled_with_empty_cells_is_fill_null(values: list[str | None], cut: int) -> None:
    column = pa.array(values, pa.string())
    for array in (column, column.slice(min(cut, len(column)))):
        found = filled(array)
        assert found.null_count == 0
        assert found.to_pylist() == array.fill_null("").to_pylist()
        assert scan(found) == scan(pa.chunked_array([array.fill_null("")]))


def test_null_cells_that_hold_bytes_are_filled_empty() -> None:
    validity = pa.array([True, False]).buffers()[1]
    offsets = pa.array([0, 1, 3], pa.int32()).buffers()[1]
    column = pa.Array.from_buffers(pa.string(), 2, [validity, offsets, pa.py_buffer(b"abc")], 1)
    assert filled(column).to_pylist() == ["a", ""]
