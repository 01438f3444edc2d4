"""Histories read into Arrow tables: the same events and the same errors as the row readers.

Every check of the table reader is column-wise; every error must still be the row reader's,
at the same line. These tests hold the two readers to the same answer on good files, on
each class of bad cell, on hostile files, and on histories drawn by hypothesis with one
cell broken.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.errors import HistoryError
from rewardrules.events import AnyEvent
from rewardrules.histories.columns import (
    HISTORY_SCHEMA,
    events_to_table,
    read_customers_table,
    read_history_table,
    table_to_events,
)
from rewardrules.histories.read import locate_event, read_customers, read_history
from strategies import histories, lifecycle_histories
from test_hostile_histories import HOSTILE

DATA = Path(__file__).parent / "data" / "histories"
COLUMNS = [
    "event_id", "type", "customer_id", "at", "sku", "category", "quantity", "unit_price",
    "purchase_id", "store", "reward",
]  # fmt: skip
GOOD = """event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id,store,reward
p1,purchase,c1,2026-03-01T09:30:00-05:00,latte,coffee,2,4.50,,downtown,
p1,purchase,c1,2026-03-01T09:30:00-05:00,bagel,,1,0.1,,downtown,
p2,purchase,c2,2026-03-02T12:00:00Z,beans,,3,12.00,,,
r1,refund,c1,2026-03-03T10:00:00+01:00,latte,,1,,p1,,
r2,refund,c2,2026-03-04T10:00:00Z,,,,,p2,,
x1,redemption,c1,2026-03-05T08:00:00Z,,,,,,,free-drink
"""


def problems(call: Any) -> list[tuple[str, str]]:
    with pytest.raises(HistoryError) as info:
        call()
    return [(problem.code, str(problem)) for problem in info.value.problems]


def row_problems(path: Path | str, **options: Any) -> list[tuple[str, str]]:
    return problems(lambda: list(read_history(path, **options)))


def table_problems(path: Path | str, **options: Any) -> list[tuple[str, str]]:
    return problems(lambda: read_history_table(path, **options))


def same_answer(path: Path | str, **options: Any) -> None:
    """The table reader and the row reader agree: the same events, or the same problems."""
    try:
        events = list(read_history(path, **options))
    except HistoryError as error:
        expected = [(problem.code, str(problem)) for problem in error.problems]
        assert table_problems(path, **options) == expected
        return
    table = read_history_table(path, **options)
    assert table.schema == HISTORY_SCHEMA
    assert list(table_to_events(table)) == events


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- good files
@pytest.mark.parametrize("name", ["small.csv", "small.jsonl", "small.json"])
def test_a_good_file_gives_the_events_the_row_reader_gives(name: str) -> None:
    same_answer(DATA / name)


def test_each_row_keeps_the_line_it_came_from(in_tmp: Path) -> None:
    Path("h.csv").write_text(GOOD)
    table = read_history_table("h.csv")
    assert table["line"].to_pylist() == [2, 3, 4, 5, 6, 7]
    assert table["type"].to_pylist() == ["purchase"] * 3 + ["refund"] * 2 + ["redemption"]
    assert table["quantity"].to_pylist() == [2, 1, 3, 1, None, None]
    assert (
        table["unit_price"].to_pylist()
        == [Decimal("4.5"), Decimal("0.1"), Decimal(12)] + [None] * 3
    )
    assert table["sku"].to_pylist() == ["latte", "bagel", "beans", "latte", None, None]
    assert table["utc_offset"].to_pylist() == [-18000, -18000, 0, 3600, 0, 0]
    assert table["at"][0].as_py() == datetime(2026, 3, 1, 14, 30, tzinfo=UTC)


def test_json_rows_keep_the_line_their_event_starts_on() -> None:
    assert read_history_table(DATA / "small.jsonl")["line"].to_pylist() == [1, 1, 2, 4, 5]


@given(lifecycle_histories(catalogue=True))
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_drawn_histories_read_back_from_csv_and_parquet(
    tmp_path: Path, events: list[AnyEvent]
) -> None:
    # Cancellations and redemptions of several units are rows too (redemption_id, quantity).
    # Two equal lines of one purchase are two equal rows, refused as duplicate-row: a shop
    # writes them as one line of both units.
    lines = [getattr(event, "lines", None) or () for event in events]
    assume(all(len(set(each)) == len(each) for each in lines))
    write_csv(tmp_path / "h.csv", events)
    same_answer(tmp_path / "h.csv")
    pq.write_table(events_to_table(events), tmp_path / "h.parquet")
    assert list(read_history(tmp_path / "h.parquet")) == events


# --- one bad cell of each class: the same problem from both readers
BAD_CELLS = {
    "a naive timestamp": (1, "at", "2026-03-01T09:30:00"),
    "an epoch timestamp": (1, "at", "1772357400"),
    "a year out of range": (1, "at", "2100-01-01T00:00:00+01:00"),
    "a year just in range": (1, "at", "2099-12-31T23:00:00-05:00"),
    "a basic-format offset": (1, "at", "2026-03-01T09:30:00+0100"),
    "a day that does not exist": (1, "at", "2026-02-30T09:30:00Z"),
    "a timestamp of the wrong row": (2, "at", "2026-03-01T09:31:00-05:00"),
    "an empty timestamp": (3, "at", ""),
    "a decimal comma": (1, "unit_price", "4,50"),
    "an exponent": (1, "unit_price", "1e3"),
    "a negative price": (1, "unit_price", "-4.50"),
    "a long price": (1, "unit_price", "1" * 25),
    "a price of 24 digits": (1, "unit_price", "9" * 24),
    "a price of 24 characters with 12 decimals": (1, "unit_price", "12345678901.000000000000"),
    "NaN": (1, "unit_price", "NaN"),
    "no price": (3, "unit_price", ""),
    "a price on a refund": (4, "unit_price", "1.00"),
    "a zero quantity": (2, "quantity", "0"),
    "a negative quantity": (1, "quantity", "-1"),
    "a fractional quantity": (1, "quantity", "1.5"),
    "a plus sign": (1, "quantity", "+1"),
    "arabic-indic digits": (1, "quantity", "\u0661"),
    "too many digits": (1, "quantity", "1" * 19),
    "no quantity on a refund line": (4, "quantity", ""),
    "a quantity on a redemption": (6, "quantity", "1"),
    "an unknown type": (3, "type", "sale"),
    "a referral row": (3, "type", "referral"),
    "a type that changes in an event": (2, "type", "refund"),
    "a customer that changes in an event": (2, "customer_id", "c2"),
    "no customer": (3, "customer_id", ""),
    "no event id": (3, "event_id", ""),
    "a control character": (3, "customer_id", "c\x072"),
    "a long sku": (3, "sku", "x" * 257),
    "a sku of 256 characters": (3, "sku", "x" * 256),
    "no sku": (3, "sku", ""),
    "a category on a refund": (4, "category", "coffee"),
    "a purchase id on a purchase": (3, "purchase_id", "p1"),
    "no purchase id on a refund": (5, "purchase_id", ""),
    "a store on a refund": (5, "store", "downtown"),
    "a reward on a purchase": (3, "reward", "free-drink"),
    "no reward on a redemption": (6, "reward", ""),
    "a sku on a redemption": (6, "sku", "latte"),
    "a whole refund with a line": (4, "event_id", "r2"),
    "an event id that comes back": (4, "event_id", "p1"),
    "a redemption on two rows": (5, "event_id", "x1"),
}


def write_rows(path: Path, rows: list[list[str]], header: list[str] = COLUMNS) -> None:
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def good_rows() -> list[list[str]]:
    return [row.split(",") for row in GOOD.splitlines()[1:]]


@pytest.mark.parametrize(("row", "column", "cell"), BAD_CELLS.values(), ids=list(BAD_CELLS))
def test_a_bad_cell_gets_the_row_readers_problem(
    in_tmp: Path, row: int, column: str, cell: str
) -> None:
    rows = good_rows()
    rows[row - 1][COLUMNS.index(column)] = cell
    if column == "event_id" and cell == "x1":  # a redemption's repeated row, not a refund
        rows[row - 1] = list(rows[row])
    write_rows(Path("h.csv"), rows)
    same_answer("h.csv")


@pytest.mark.parametrize(("row", "column", "cell"), BAD_CELLS.values(), ids=list(BAD_CELLS))
def test_a_bad_cell_of_a_parquet_file_names_its_row(
    in_tmp: Path, row: int, column: str, cell: str
) -> None:
    """A Parquet file of text cells is read like CSV; its rows count from 1, after no header."""
    rows = good_rows()
    rows[row - 1][COLUMNS.index(column)] = cell
    if column == "event_id" and cell == "x1":
        rows[row - 1] = list(rows[row])
    write_rows(Path("h.csv"), rows)
    columns = {name: [r[index] or None for r in rows] for index, name in enumerate(COLUMNS)}
    pq.write_table(
        pa.table(columns, schema=pa.schema([(n, pa.string()) for n in COLUMNS])), "h.parquet"
    )
    try:
        events = list(read_history("h.csv"))
    except HistoryError as error:
        expected = [(p.code, str(p).replace("h.csv:", "h.parquet:")) for p in error.problems]
        got = table_problems("h.parquet")
        assert [code for code, _ in got] == [code for code, _ in expected]
        assert not any(re.search(r"\bline \d", text) for _, text in got)
        assert [text.split(":")[1] for _, text in got] == [
            str(int(text.split(":")[1]) - 1) for _, text in expected
        ]
    else:
        assert list(table_to_events(read_history_table("h.parquet"))) == events


@pytest.mark.parametrize(
    ("name", "content", "options", "expected"),
    [case for case in HOSTILE.values() if case[0].endswith((".csv", ".jsonl", ".json"))],
    ids=[key for key, case in HOSTILE.items() if case[0].endswith((".csv", ".jsonl", ".json"))],
)
def test_a_hostile_file_gets_the_same_problems(
    in_tmp: Path, name: str, content: bytes, options: dict[str, Any], expected: Any
) -> None:
    Path(name).write_bytes(content)
    assert table_problems(name, **options) == expected


BROKEN_FILES = {
    "blank lines between rows": GOOD.replace("\np2", "\n\n\np2"),
    "blank lines then a bad row": GOOD.replace("\np2", "\n\np2").replace("12.00", "12,00"),
    "a quoted cell": GOOD.replace("downtown", '"Lyon, 2e"'),
    "a quoted cell then a bad one": GOOD.replace("downtown", '"Lyon"').replace("0.1", "x"),
    "a quoted line break": GOOD.replace("beans", '"be\nans"'),
    "a row too short": GOOD.replace(",free-drink", ""),
    "crlf line ends": GOOD.replace("\n", "\r\n"),
    "a lone carriage return": GOOD.replace("beans", "be\rans"),
    "no final line break": GOOD.rstrip("\n"),
    "only a header": GOOD.splitlines()[0],
    "an empty file": "",
    "a header with an unknown column": GOOD.replace("store", "shop"),
    "a byte order mark": "\ufeff" + GOOD,
    "a tab in a cell": GOOD.replace("beans", "be\tans"),
    "a cell over the csv limit": GOOD.replace("beans", "b" * 140_000),
}


@pytest.mark.parametrize("text", BROKEN_FILES.values(), ids=list(BROKEN_FILES))
def test_an_odd_file_gets_the_same_answer(in_tmp: Path, text: str) -> None:
    Path("h.csv").write_text(text, encoding="utf-8", newline="")
    same_answer("h.csv")


def test_a_semicolon_file_with_decimal_commas_reads_the_same(in_tmp: Path) -> None:
    text = GOOD.replace(",", ";").replace("4.50", "4,50").replace("0.1", "0,1")
    Path("h.csv").write_text(text.replace("12.00", "12,00"))
    same_answer("h.csv", delimiter=";", decimal_comma=True)
    Path("h.csv").write_text(text.replace("12.00", "1.234,00"))
    same_answer("h.csv", delimiter=";", decimal_comma=True)


def test_a_cp1252_file_reads_the_same(in_tmp: Path) -> None:
    Path("h.csv").write_bytes(GOOD.replace("downtown", "caf\xe9").encode("cp1252"))
    same_answer("h.csv", encoding="cp1252")
    same_answer("h.csv")  # not UTF-8: the byte and its offset


@given(
    st.integers(1, 6),
    st.sampled_from(COLUMNS),
    st.sampled_from(
        [
            "",
            "0",
            "1",
            "-1",
            "2.5",
            "4,50",
            "x",
            "purchase",
            "refund",
            "redemption",
            "p1",
            "p2",
            "r1",
            "c1",
            "2026-03-01T09:30:00Z",
            "2026-03-01T09:30:00",
            "1969-12-31T23:00:00-05:00",
            "latte",
            "\u00a0",
            "a\x00b",
            "1" * 30,
        ]
    ),
)
@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_one_broken_cell_gets_the_same_answer(
    tmp_path: Path, row: int, column: str, cell: str
) -> None:
    rows = good_rows()
    rows[row - 1][COLUMNS.index(column)] = cell
    write_rows(tmp_path / "h.csv", rows)
    same_answer(tmp_path / "h.csv")


# --- issue 9's rules: a repeated row, hidden characters, end spaces, one spelling
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\np2", "\n" + GOOD.splitlines()[2] + "\np2"),  # a row repeated exactly
        (",c2,", ",c2\u00a0,"),  # a no-break space in an id
        (",beans,", ",be\u200bans,"),  # a zero-width space in a sku
        (",downtown,", ",downtown ,"),  # a padded store
        (",c1,", ",c1,"),  # nothing: the file reads
        ("latte,coffee", "lat\u0301te,coffee"),  # a combining accent, no hidden character
    ],
)
def test_issue_9_rules_give_the_row_readers_problem(in_tmp: Path, old: str, new: str) -> None:
    Path("h.csv").write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    same_answer("h.csv")


def test_the_rows_of_one_event_may_differ_in_unicode_spelling_only(in_tmp: Path) -> None:
    nfd = GOOD.replace(",c1,2026-03-01", ",Rene\u0301,2026-03-01", 1)
    Path("h.csv").write_text(nfd.replace(",c1,2026-03-01", ",Ren\u00e9,2026-03-01", 1))
    same_answer("h.csv")
    assert read_history_table("h.csv")["customer_id"][:2].to_pylist() == ["Ren\u00e9"] * 2


def test_ids_are_read_in_composed_unicode(in_tmp: Path) -> None:
    Path("h.csv").write_text(GOOD.replace(",c2,", ",Rene\u0301,"), encoding="utf-8")
    assert read_history_table("h.csv")["customer_id"][2].as_py() == "Ren\u00e9"


def test_a_price_finer_than_twelve_decimals_is_refused(in_tmp: Path) -> None:
    Path("h.csv").write_text(GOOD.replace("0.1,", "0.1000000000001,"))
    assert table_problems("h.csv") == [
        (
            "bad-amount",
            "h.csv:3:1: unit_price: must have at most 12 decimals, finer than any currency's "
            "minor unit (got '0.1000000000001')",
        )
    ]
    Path("h.csv").write_text(GOOD.replace("0.1,", "0.100000000000000,"))
    assert read_history_table("h.csv")["unit_price"][1].as_py() == Decimal("0.1")


# --- Parquet with typed columns
def typed_table(**changes: pa.Array) -> pa.Table:
    table = events_to_table(read_history(DATA / "small.csv"))
    for name, column in changes.items():
        table = table.set_column(table.schema.get_field_index(name), name, column)
    return table.drop_columns(["line"])


def test_a_typed_parquet_file_reads_back_its_events(in_tmp: Path) -> None:
    pq.write_table(typed_table(), "h.parquet")
    assert list(read_history("h.parquet")) == list(read_history(DATA / "small.csv"))
    assert read_history_table("h.parquet")["line"].to_pylist() == [1, 2, 3, 4, 5]


def test_typed_columns_of_other_widths_are_read_exactly(in_tmp: Path) -> None:
    table = typed_table(
        at=typed_table()["at"].cast(pa.timestamp("ms", tz="Europe/Paris")),
        unit_price=typed_table()["unit_price"].cast(pa.decimal128(10, 2)),
        quantity=typed_table()["quantity"].cast(pa.int16()),
    )
    pq.write_table(table, "h.parquet")
    assert list(read_history("h.parquet")) == list(read_history(DATA / "small.csv"))


def test_float_prices_are_refused_naming_the_column_and_row(in_tmp: Path) -> None:
    pq.write_table(typed_table(unit_price=pa.array([4.5, 0.1, 12.0, None, None])), "h.parquet")
    assert table_problems("h.parquet") == [
        (
            "bad-amount",
            "h.parquet:1:1: unit_price: the column is double, which cannot hold cents exactly "
            "(0.1 is not one tenth); write amounts as a decimal column, such as "
            "decimal128(38, 12), or as text, like 4.50",
        )
    ]


def test_naive_timestamps_are_refused(in_tmp: Path) -> None:
    naive = typed_table()["at"].cast(pa.timestamp("us"))
    pq.write_table(typed_table(at=naive), "h.parquet")
    [(code, text)] = table_problems("h.parquet")
    assert code == "naive-timestamp"
    assert text.startswith("h.parquet:1:1: at: the column is timestamp[us], without a time zone")


def test_numeric_ids_are_refused(in_tmp: Path) -> None:
    table = typed_table(event_id=pa.array([7, 7, 2, 3, 4]))
    pq.write_table(table, "h.parquet")
    assert table_problems("h.parquet") == [
        (
            "bad-column",
            "h.parquet:1:1: event_id: the column is int64; write it as text (ids stay text: "
            "007 is not 7)",
        )
    ]


def test_a_typed_zero_quantity_names_its_row(in_tmp: Path) -> None:
    pq.write_table(typed_table(quantity=pa.array([2, 0, 3, 1, None])), "h.parquet")
    assert table_problems("h.parquet") == [
        ("invalid-value", "h.parquet:2:1: quantity: must be at least 1 (got 0)")
    ]


def test_a_parquet_file_without_a_column_is_refused_by_name(in_tmp: Path) -> None:
    pq.write_table(typed_table().drop_columns(["category"]), "h.parquet")
    assert table_problems("h.parquet") == [
        ("missing-column", "h.parquet:1:1: the header has no 'category' column")
    ]


def test_a_file_that_is_not_parquet_says_so(in_tmp: Path) -> None:
    Path("h.parquet").write_text(GOOD)
    [(code, text)] = table_problems("h.parquet")
    assert code == "not-parquet"
    assert text.startswith("cannot read h.parquet as Parquet")


def test_an_evaluation_error_is_located_at_its_parquet_row(in_tmp: Path) -> None:
    pq.write_table(typed_table(), "h.parquet")
    location = locate_event("h.parquet", "r1")
    assert location is not None
    assert (location.source, location.line) == ("h.parquet", 4)
    assert locate_event("h.parquet", "nope") is None


# --- streams, customers, the API
def test_a_stream_needs_its_format_and_names_its_source() -> None:
    with pytest.raises(HistoryError, match="needs its format"):
        read_history_table(io.BytesIO(GOOD.encode()))
    table = read_history_table(io.BytesIO(GOOD.encode()), format="csv", source="<stdin>")
    assert table.num_rows == 6
    bad = GOOD.replace("4.50", "4,50").replace(",downtown", "")
    with pytest.raises(HistoryError, match=r"^<stdin>:2:1: "):
        read_history_table(io.BytesIO(bad.encode()), format="csv", source="<stdin>")


def test_a_parquet_stream_reads_like_the_file(in_tmp: Path) -> None:
    pq.write_table(typed_table(), "h.parquet")
    with open("h.parquet", "rb") as stream:
        table = read_history_table(stream, format="parquet", source="<stdin>")
    assert list(table_to_events(table)) == list(read_history("h.parquet"))


def test_an_undecodable_stream_names_the_byte() -> None:
    data = GOOD.replace("downtown", "caf\xe9").encode("cp1252")
    [(code, text)] = problems(lambda: read_history_table(io.BytesIO(data), format="csv"))
    assert code == "not-utf8"
    assert text.startswith("<stream>:2:")


@pytest.mark.parametrize("name", ["customers.csv", "customers.jsonl", "customers.json"])
def test_customers_read_into_a_table_and_back(in_tmp: Path, name: str) -> None:
    table = read_customers_table(DATA / name)
    pq.write_table(table, "customers.parquet")
    assert list(read_customers("customers.parquet")) == list(read_customers(DATA / name))


def test_read_history_table_is_public() -> None:
    assert rewardrules.read_history_table is read_history_table
    assert rewardrules.__all__ == sorted(rewardrules.__all__)


def test_a_referral_in_json_lines_is_not_a_table_row(in_tmp: Path) -> None:
    Path("h.jsonl").write_text(
        '{"type": "referral", "id": "b-1", "customer_id": "amy", '
        '"at": "2026-03-12T12:15:00Z", "referred": "ben", "rule": "refer-a-friend"}\n'
    )
    [(code, text)] = table_problems("h.jsonl")
    assert code == "unknown-type"
    assert text.startswith("h.jsonl:1:1: type: a referral is not a row of a history table")


def write_csv(path: Path, events: list[AnyEvent], payments: bool = False) -> None:
    """The CSV a shop would export for these events (times at their written offsets);
    with ``payments``, a ``payments`` column too."""
    rows = []
    for row in events_to_table(events).to_pylist():
        at = row["at"].astimezone(timezone(timedelta(seconds=row["utc_offset"] or 0)))
        quantity, price = row["quantity"], row["unit_price"]
        cells = [row["event_id"], row["type"], row["customer_id"], at.isoformat()]
        cells += [row["sku"] or "", row["category"] or ""]
        cells += ["" if quantity is None else str(quantity)]
        cells += ["" if price is None else format(price.normalize(), "f")]
        cells += [row["purchase_id"] or "", row["store"] or "", row["reward"] or ""]
        cells += [row["redemption_id"] or ""]
        cells += [row["payments"] or ""] if payments else []
        rows.append(cells)
    write_rows(path, rows, [*COLUMNS, "redemption_id", *(["payments"] if payments else [])])


# --- payments: the same events, or the same problems, as the row reader


@given(histories(refunds=True, payments=True))
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_drawn_histories_with_payments_read_back_from_csv_and_parquet(
    tmp_path: Path, events: list[AnyEvent]
) -> None:
    lines = [getattr(event, "lines", None) or () for event in events]
    assume(all(len(set(each)) == len(each) for each in lines))
    write_csv(tmp_path / "h.csv", events, payments=True)
    same_answer(tmp_path / "h.csv")
    pq.write_table(events_to_table(events), tmp_path / "h.parquet")
    same_answer(tmp_path / "h.parquet")
    assert list(read_history(tmp_path / "h.parquet")) == events


PAID = [
    # p1 is 2 x 4.50 + 0.10 = 9.10, p2 3 x 12.00 = 36.00
    [*row, cell]
    for row, cell in zip(
        [row.split(",") for row in GOOD.splitlines()[1:]],
        ["card:9.10", "card:9.10", "cash:30.00 card:6.00", "", "", ""],
        strict=True,
    )
]


@given(
    st.integers(1, 6),
    st.sampled_from(
        [
            "",
            "card:9.10",
            "card:9.1",
            "card:4.55 cash:4.55",
            "card:9.00",
            "card:36.00",
            "cash:30.00 card:6.00",
            "card:",
            ":9.10",
            "card",
            "card:9,10",
            "card:-9.10",
            "card:1e3",
            "car/d:9.10",
            "card:9.105 cash:-0.005",
            "card:0 card:9.10",
        ]
    ),
)
@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_one_payments_cell_gets_the_same_answer(tmp_path: Path, row: int, cell: str) -> None:
    rows = [list(each) for each in PAID]
    rows[row - 1][-1] = cell
    write_rows(tmp_path / "h.csv", rows, [*COLUMNS, "payments"])
    same_answer(tmp_path / "h.csv")


@pytest.mark.parametrize(
    "written",
    [
        "2026-03-01T09:30:00Z",
        "2026-03-01 09:30:00+05:30",
        "2026-03-01T09:30:00.25-03:00",
        "2026-03-01T09:30:00+0100",
        "2026-03-01T09:30:00-01",
        "2026-03-01T09:30+14:00",
    ],
)
def test_the_written_offset_is_kept_for_each_form(in_tmp: Path, written: str) -> None:
    Path("h.csv").write_text(GOOD.replace("2026-03-02T12:00:00Z", written))
    offset = datetime.fromisoformat(written).utcoffset()
    assert offset is not None
    assert read_history_table("h.csv")["utc_offset"][2].as_py() == offset.total_seconds()


PIECES = [
    "p1", "p2", "r1", "x1", "c1", "purchase", "refund", "redemption", "2026-03-01T09:30:00Z",
    "2026-03-01T09:30:00+01:00", "latte", "coffee", "1", "2", "0", "4.50", "12", "-1", "",
    ",", "\n", '"', "\r\n", ";", "é", "\u200b", "\t",
]  # fmt: skip


@given(st.lists(st.sampled_from(PIECES), max_size=60))
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_after_a_good_header_gets_the_same_answer(
    tmp_path: Path, pieces: list[str]
) -> None:
    text = GOOD.splitlines()[0] + "\n" + "".join(pieces)
    (tmp_path / "h.csv").write_text(text, encoding="utf-8", newline="")
    same_answer(tmp_path / "h.csv")


def test_a_hidden_character_in_json_lines_gets_the_row_readers_problem(in_tmp: Path) -> None:
    good = (DATA / "small.jsonl").read_text(encoding="utf-8").splitlines()
    good[1] = good[1].replace('"c-2"', '"c-2\\u200b"')
    Path("h.jsonl").write_text("\n".join(good) + "\n", encoding="utf-8")
    same_answer("h.jsonl")


@pytest.mark.parametrize("name", ["missing.csv", "folder.csv", "h.txt", "h.jsonl"])
def test_a_file_that_cannot_be_read_gets_the_same_problem(in_tmp: Path, name: str) -> None:
    Path("folder.csv").mkdir()
    Path("h.txt").write_text(GOOD)
    Path("h.jsonl").write_bytes(b'{"type": "refund", "id": "r\xff"}\n')
    same_answer(name)


def test_options_that_do_not_fit_the_format_are_refused(in_tmp: Path) -> None:
    pq.write_table(typed_table(), "h.parquet")
    Path("empty.csv").write_text("")
    assert [code for code, _ in table_problems("h.parquet", delimiter=";")] == ["bad-option"]
    assert [code for code, _ in table_problems("h.parquet", encoding="cp1252")] == ["bad-option"]
    assert problems(lambda: read_customers_table("empty.csv")) == problems(
        lambda: list(read_customers("empty.csv"))
    )


# --- optional columns absent, or present and empty in every row
OPTIONAL_EMPTY = ["store", "reward", "payments", "redemption_id"]


def text_parquet(path: str, rows: list[list[str]], names: list[str]) -> None:
    columns = {name: [r[index] or None for r in rows] for index, name in enumerate(names)}
    schema = pa.schema([(name, pa.string()) for name in names])
    pq.write_table(pa.table(columns, schema=schema), path)


@pytest.mark.parametrize("column", OPTIONAL_EMPTY)
def test_an_optional_column_empty_in_every_row_reads_as_an_absent_one(
    in_tmp: Path, column: str
) -> None:
    """A column null in every row is read as empty cells, without its text: the table is
    the one read from the file without that column (a redemption's reward kept aside)."""
    names = [*COLUMNS, "payments", "redemption_id"]
    rows = [[*row, "", ""] for row in good_rows() if row[1] != "redemption"]
    for row in rows:
        row[names.index(column)] = ""
    text_parquet("with.parquet", rows, names)
    kept = [name for name in names if name != column]
    text_parquet("without.parquet", [[r[names.index(n)] for n in kept] for r in rows], kept)
    with_column, without = read_history_table("with.parquet"), read_history_table("without.parquet")
    assert with_column.equals(without)
    assert with_column[column].null_count == len(rows)


@pytest.mark.parametrize(
    ("kind", "column"), [("redemption", "reward"), ("cancel_redemption", "redemption_id")]
)
def test_a_row_that_needs_an_empty_optional_column_gets_the_row_readers_problem(
    in_tmp: Path, kind: str, column: str
) -> None:
    """The cell a redemption or a cancellation needs, in a column null in every row: the
    row reader's problem, at the row."""
    names = [*COLUMNS, "payments", "redemption_id"]
    rows = [[*row, "", ""] for row in good_rows() if row[1] != "redemption"]
    rows.append(["x9", kind, "c1", "2026-03-06T08:00:00Z", *[""] * (len(names) - 4)])
    write_rows(Path("h.csv"), rows, names)
    text_parquet("h.parquet", rows, names)
    expected = row_problems("h.csv")
    assert expected
    assert all(column in text for _, text in expected)
    assert table_problems("h.parquet") == [
        (code, text.replace(f"h.csv:{len(rows) + 1}:", f"h.parquet:{len(rows)}:"))
        for code, text in expected
    ]
