"""A big checked history table evaluated in parts of whole customers (``batch._parts``).

Cut into parts of about ``PART_ROWS`` rows, the table must give what the reference engine
gives for the whole history: every entry, balance, tier, total and saved state, in the
same customer order, with profiles (customers without rows too) routed to the part whose
ids cover them. Here parts hold a few rows, so that small drawn histories are cut.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from datetime import date, datetime
from itertools import accumulate
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from helpers import at, line, purchase, refund
from rewardrules.errors import HistoryError
from rewardrules.evaluation.batch import _evaluate, _parts, evaluate_table
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent
from rewardrules.histories.columns import events_to_table, read_history_table
from rewardrules.histories.read import read_customers
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program
from strategies import cutoffs, histories
from test_batch_engine import SUPPORTED_PROGRAMS, assert_same_states

EXAMPLES = Path(__file__).resolve().parent.parent / "rules" / "examples"


def _checked(table: pa.Table, folder: str) -> pa.Table:
    """``table`` written as Parquet and read back through the history checks."""
    path = Path(folder) / "history.parquet"
    pq.write_table(table, path)
    return read_history_table(path)


@pytest.fixture
def parts_of(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Parts of at most 3 rows (a customer is never cut); the rows of each part evaluated."""
    seen: list[int] = []
    real = _evaluate._evaluate

    def counting(*arguments: object, **options: object) -> object:
        seen.append(arguments[2].num_rows)  # type: ignore[attr-defined]
        return real(*arguments, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(_parts, "PART_ROWS", 3)
    monkeypatch.setattr(_parts, "WHOLE_ROWS", 3)
    monkeypatch.setattr(_evaluate, "_evaluate", counting)
    return seen


# The fixture's patches hold for every input; its list is cleared before each run.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(SUPPORTED_PROGRAMS, histories(refunds=True, payments=True), cutoffs(), st.booleans())
def test_drawn_tables_in_parts_give_the_reference_results(
    parts_of: list[int],
    program: Program,
    events: list[AnyEvent],
    as_of: date | datetime | None,
    shuffled: bool,
) -> None:
    table = events_to_table(events)
    if shuffled:  # customers' rows interleaved: parts are picked out, not sliced
        table = table.take(pa.array(sorted(range(table.num_rows), key=lambda row: row % 3)))
    with tempfile.TemporaryDirectory() as folder:
        # The reference reads the same table (Parquet keeps instants, not their offsets);
        # a history the checks refuse (a row repeated exactly) is not one to cut.
        try:
            checked = _checked(table, folder)
            reference = evaluate(program, checked, None, as_of, engine="reference")
        except HistoryError:
            assume(False)
            raise
        parts_of.clear()
        found = evaluate_table(program, checked, None, as_of)
    assert found.to_dict() == reference.to_dict()
    assert_same_states(reference, found)
    # A part ends before the first customer (in id order) with 3 rows or more before them.
    rows = Counter(table["customer_id"].to_pylist())
    before = list(accumulate(rows[customer] for customer in sorted(rows)))[:-1]
    if any(count >= 3 for count in before):
        assert len(parts_of) > 1  # evaluated in parts, not in one piece
        assert sum(parts_of) == table.num_rows


def test_profiles_go_to_the_part_whose_ids_cover_them(parts_of: list[int]) -> None:
    # The café's birthdays with its customers file and 50 welcome stars at joining, and
    # three profiles without purchases: one before every id with rows, one between two
    # parts' ids, one after them all. Each gets its welcome stars in its part, as the
    # whole history gives them.
    cafe = load_program(EXAMPLES / "cafe-birthdays.yaml")
    welcome = {"id": "welcome", "kind": "signup_bonus", "points": 50}
    program = Program.model_validate(
        {**cafe.model_dump(exclude_none=True), "rules": [*cafe.model_dump()["rules"], welcome]}
    )
    as_of = date.fromisoformat((EXAMPLES / "cafe-birthdays.as-of").read_text().strip())
    profiles = list(read_customers(EXAMPLES / "cafe-birthdays.customers.csv"))
    table = read_history_table(EXAMPLES / "cafe-birthdays.history.csv")
    with_rows = sorted(set(table["customer_id"].to_pylist()))
    template = next(profile for profile in profiles if profile.birthday is not None)
    extra = ["!first", f"{with_rows[len(with_rows) // 2]}-between", "~last"]
    profiles += [template.model_copy(update={"customer_id": name}) for name in extra]
    reference = evaluate(program, table, profiles, as_of, engine="reference")
    parts_of.clear()
    found = evaluate_table(program, table, profiles, as_of)
    assert len(parts_of) > 1
    assert found.to_dict() == reference.to_dict()
    for name in extra:
        assert [entry.points for entry in found.customer(name).ledger] == [50]


def test_an_error_in_a_later_part_is_the_one_piece_evaluation_s(parts_of: list[int]) -> None:
    # c1's purchases fill the first part; c2's refund names a purchase of c1. The parts
    # find it in the second part; the error is then the whole table's, as one piece says it.
    events = [
        purchase("p1", at(0), line("latte", "4.50", 1, "coffee"), customer="c1"),
        purchase("p2", at(1), line("latte", "4.50", 1, "coffee"), customer="c1"),
        purchase("p3", at(2), line("latte", "4.50", 1, "coffee"), customer="c1"),
        purchase("p4", at(3), line("bun", "3.00", 1, "food"), customer="c2"),
        refund("r1", at(4), "p1", customer="c2"),
    ]
    program = load_program(EXAMPLES / "coffee-club.yaml")
    with tempfile.TemporaryDirectory() as folder:
        checked = _checked(events_to_table(events), folder)
        with pytest.raises(HistoryError) as in_parts:
            evaluate_table(program, checked)
    assert len(parts_of) == 3  # two parts, then the whole table
    with pytest.raises(HistoryError) as in_one_piece:
        evaluate(program, events, engine="reference")
    assert str(in_parts.value).split(": ", 1)[-1] == str(in_one_piece.value).split(": ", 1)[-1]


def test_a_table_of_at_most_whole_rows_is_evaluated_in_one_piece(
    parts_of: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Six customers of one row each: parts of 3 rows would cut it, 6 whole rows keep it.
    events = [
        purchase(f"p{index}", at(index), line("latte", "4.50", 1, "coffee"), customer=f"c{index}")
        for index in range(6)
    ]
    program = load_program(EXAMPLES / "coffee-club.yaml")
    with tempfile.TemporaryDirectory() as folder:
        checked = _checked(events_to_table(events), folder)
        monkeypatch.setattr(_parts, "WHOLE_ROWS", 6)
        evaluate_table(program, checked)
        assert parts_of == [6]
        monkeypatch.setattr(_parts, "WHOLE_ROWS", 5)
        evaluate_table(program, checked)
        assert parts_of == [6, 3, 3]


def test_a_table_the_checks_did_not_return_is_evaluated_in_one_piece(
    parts_of: list[int],
) -> None:
    events = [
        purchase(f"p{index}", at(index), line("latte", "4.50", 1, "coffee"), customer=f"c{index}")
        for index in range(6)
    ]
    program = load_program(EXAMPLES / "coffee-club.yaml")
    found = evaluate_table(program, events_to_table(events))
    assert parts_of == [6]
    assert found.to_dict() == evaluate(program, events, engine="reference").to_dict()
