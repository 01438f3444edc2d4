"""A row that repeats the row before it is refused (an export resumed with an overlap);
two different lines of one purchase, or one sku at two prices, are read as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardrules.errors import HistoryError
from rewardrules.histories.read import parse_history_text, read_customers, read_history

HEADER = "event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id\n"
ROW = "p1,purchase,c1,2026-03-01T09:30:00Z,latte,coffee,1,4.50,\n"
TWO_UNITS_HINT = (
    "a row is one line of an event, so a repeat is not read as a second unit: for two units, "
    "write quantity 2 on one row; if an export was resumed with an overlap, delete the "
    "repeated row"
)
EVENT = (
    '{"type": "refund", "id": "r1", "customer_id": "c1", "at": "2026-03-01T09:30:00Z", '
    '"purchase_id": "p1"}'
)


def problem_of(path: Path) -> tuple[str, str]:
    with pytest.raises(HistoryError) as caught:
        list(read_customers(path) if path.stem == "c" else read_history(path))
    [problem] = caught.value.problems
    return problem.code, str(problem)


def test_a_csv_row_repeated_is_refused_naming_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(HEADER + ROW + ROW)
    assert problem_of(path) == (
        "duplicate-row",
        f"{path}:3:1: this row repeats line 2 exactly ({TWO_UNITS_HINT})",
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (ROW, ROW.replace("\n", "\r\n")),
        (ROW, ROW.replace("latte", '"latte"')),
        (ROW, "\n\n" + ROW),
    ],
    ids=["another line ending", "quoted cells", "blank lines between"],
)
def test_a_csv_repeat_is_the_same_cells_whatever_the_quoting(
    tmp_path: Path, first: str, second: str
) -> None:
    path = tmp_path / "h.csv"
    path.write_text(HEADER + first + second, newline="")
    assert problem_of(path)[0] == "duplicate-row"


def test_a_repeat_of_a_row_further_up_is_not_a_repeated_row(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    other = ROW.replace("latte", "bagel")
    path.write_text(HEADER + ROW + other + ROW)
    [event] = read_history(path)
    assert [(line.sku, line.quantity) for line in event.lines] == [
        ("latte", 1),
        ("bagel", 1),
        ("latte", 1),
    ]


def test_two_lines_of_one_purchase_and_one_sku_at_two_prices_are_read(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(
        HEADER + ROW + ROW.replace("4.50", "4.00") + ROW.replace("latte,coffee", "bagel,food")
    )
    [event] = read_history(path)
    assert [(line.sku, str(line.unit_price)) for line in event.lines] == [
        ("latte", "4.50"),
        ("latte", "4.00"),
        ("bagel", "4.50"),
    ]


def test_a_refund_row_repeated_is_refused_too(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    refund = "r1,refund,c1,2026-03-02T09:30:00Z,latte,,1,,p1\n"
    path.write_text(HEADER + ROW + refund + refund)
    assert problem_of(path) == (
        "duplicate-row",
        f"{path}:4:1: this row repeats line 3 exactly ({TWO_UNITS_HINT})",
    )


def test_a_json_lines_line_repeated_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(EVENT + "\r\n\n" + EVENT)
    assert problem_of(path) == (
        "duplicate-row",
        f"{path}:3:1: this line repeats line 1 exactly "
        "(if an export was resumed with an overlap, delete the repeated line)",
    )


def test_a_json_element_repeated_is_refused_at_its_brace(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    path.write_text(f'{{"events": [\n  {EVENT},\n  {EVENT}\n]}}')
    assert problem_of(path) == (
        "duplicate-row",
        f"{path}:3:3: this element repeats the element on line 2 exactly "
        "(if an export was resumed with an overlap, delete the repeated element)",
    )


def test_a_json_event_with_its_id_again_but_other_text_is_a_duplicate_id(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(EVENT + "\n" + EVENT.replace('"p1"', '"p2"'))
    assert problem_of(path)[0] == "duplicate-id"


def test_a_customer_row_repeated_is_refused_without_the_quantity_hint(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("customer_id,birthday\nc1,07-14\nc1,07-14\n")
    assert problem_of(path) == (
        "duplicate-row",
        f"{path}:3:1: this row repeats line 2 exactly "
        "(if an export was resumed with an overlap, delete the repeated row)",
    )


skus = st.sampled_from(["latte", "bagel", "beans"])
prices = st.sampled_from(["4.50", "4.00", "0.10"])


@given(st.lists(st.tuples(skus, st.integers(1, 3), prices), min_size=1, max_size=6))
def test_a_purchase_is_read_unless_two_adjacent_rows_are_the_same(
    rows: list[tuple[str, int, str]],
) -> None:
    text = HEADER + "".join(
        f"p1,purchase,c1,2026-03-01T09:30:00Z,{sku},,{quantity},{price},\n"
        for sku, quantity, price in rows
    )
    path = Path("h.csv")
    # the row of rows[index] is on line index + 2, under the header
    repeats = [index + 2 for index in range(1, len(rows)) if rows[index] == rows[index - 1]]
    events = read_history_text(text, path)
    if repeats:
        assert events == ("duplicate-row", repeats[0])
    else:
        assert events == ("read", len(rows))


def read_history_text(text: str, path: Path) -> tuple[str, int]:
    """Read CSV text; ("read", lines of the one event) or (code, line of the problem)."""
    try:
        [event] = parse_history_text(text, "csv", source=str(path))
    except HistoryError as error:
        [problem] = error.problems
        assert problem.location is not None
        return problem.code, problem.location.line
    assert event.type == "purchase"
    return "read", len(event.lines)
