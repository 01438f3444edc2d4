"""Spreadsheet exports as they come: each file's dialect, column names, local times, every error.

Each test runs the real command and asserts its exact output; where the row reader and the
table reader (``--engine batch``) both read a file, both are run and must agree.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from rewardrules.cli._exports import Told
from rewardrules.cli._support import HistoryReading
from rewardrules.cli.main import cli
from rewardrules.errors import HistoryError
from rewardrules.histories.columns import table_to_events
from rewardrules.histories.exports import (
    Dialect,
    ExportSettings,
    detect_dialect,
    parse_columns,
    prepare,
)

PROGRAM = """\
program: corner-shop
name: Corner Shop
currency: EUR
timezone: Europe/Paris
points:
  name: points
  value: 0.01
rules:
  - id: points
    kind: points_per_spend
    points: 1
    per: 1.00
"""

HEADER = "event_id;type;customer_id;at;sku;category;quantity;unit_price;purchase_id\r\n"
EXPORT = (
    HEADER
    + "A1;purchase;zoé;2026-03-02T10:15:00+01:00;tea;Café;2;4,50;\r\n"
    + "A2;purchase;tom;2026-03-03T11:00:00+01:00;cake;Café;1;12,00;\r\n"
)
CUSTOMERS = "customer_id;birthday\r\nzoé;04-12\r\ntom;11-30\r\n"

MAPPED_HEADER = "Order ID,Kind,Customer No.,Date,Item,Group,Qty,Amount,Refund of\n"
MAPPED_COLUMNS = (
    "id=Order ID,type=Kind,customer_id=Customer No.,at=Date,sku=Item,category=Group,"
    "quantity=Qty,unit_price=Amount,purchase_id=Refund of"
)


def run(*arguments: str | Path, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(argument) for argument in arguments], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def points_of(out: str) -> dict[str, int]:
    return {c["customer_id"]: c["points"] for c in json.loads(out)["customers"]}


@pytest.fixture
def program(tmp_path: Path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(PROGRAM, encoding="utf-8")
    return path


# --- one dialect per file -------------------------------------------------------------------
def test_each_file_gets_its_own_dialect_detected_and_said(program: Path) -> None:
    history, customers = program.parent / "export.csv", program.parent / "customers.csv"
    history.write_bytes(EXPORT.encode("cp1252"))
    customers.write_bytes(CUSTOMERS.encode("cp1252"))
    for engine in ("reference", "batch"):
        code, out, err = run(
            "dry-run", program, history, "--customers", customers, "--format", "json",
            "--engine", engine,
        )  # fmt: skip
        assert err.splitlines() == [
            f"{customers}: read as ';'-separated, cp1252 (detected)",
            f"{history}: read as ';'-separated, decimal commas, cp1252 (detected)",
        ]
        assert code == 0
        # zoé: 2 x 4,50 = 9.00 -> 9 points; tom: 12,00 -> 12 points
        assert points_of(out) == {"tom": 12, "zoé": 9}


def test_the_history_options_no_longer_refuse_the_customers_file(program: Path) -> None:
    history, customers = program.parent / "export.csv", program.parent / "customers.csv"
    history.write_text(EXPORT, encoding="utf-8")
    customers.write_text(CUSTOMERS, encoding="utf-8")
    code, out, err = run(
        "dry-run", program, history, "--delimiter", ";", "--decimal-comma",
        "--customers", customers, "--format", "json",
    )  # fmt: skip
    assert (code, err) == (0, f"{customers}: read as ';'-separated (detected)\n")
    assert points_of(out) == {"tom": 12, "zoé": 9}


def test_an_explicit_encoding_wins_over_detection(program: Path) -> None:
    history = program.parent / "export.csv"
    history.write_bytes(EXPORT.encode("cp1252"))
    code, _, err = run("dry-run", program, history, "--encoding", "utf-8")
    assert code == 1
    assert err.splitlines()[0] == f"{history}: read as ';'-separated, decimal commas (detected)"
    assert err.splitlines()[1].startswith(f"{history}:2:15: the file is not UTF-8: byte 0xE9")


def test_standard_input_is_detected_too(program: Path) -> None:
    code, out, err = run("dry-run", program, "-", "--format", "json", stdin=EXPORT.encode())
    assert (code, err) == (0, "<stdin>: read as ';'-separated, decimal commas (detected)\n")
    assert points_of(out) == {"tom": 12, "zoé": 9}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a,b\n1,2\n", Dialect(",", False, "utf-8", ())),
        ("a;unit_price\n1;2.50\n", Dialect(";", False, "utf-8", ("';'-separated",))),
        (
            "a;unit_price\n1;2,50\n",
            Dialect(";", True, "utf-8", ("';'-separated", "decimal commas")),
        ),
        ("a\tb\n", Dialect("\t", False, "utf-8", ("tab-separated",))),
        ("a,b;c\n", Dialect(",", False, "utf-8", ())),  # a tie keeps the comma
        ("a", Dialect(",", False, "utf-8", ())),
    ],
)
def test_the_delimiter_is_the_one_the_header_holds_most_of(text: str, expected: Dialect) -> None:
    assert detect_dialect(text.encode(), ExportSettings()) == expected


def test_a_given_delimiter_is_not_detected() -> None:
    dialect = detect_dialect(b"a;unit_price\n1;2,50\n", ExportSettings(delimiter=","))
    assert dialect == Dialect(",", False, "utf-8", ())


# --- local times ----------------------------------------------------------------------------
PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("fold", "written", "expected"),
    [
        ("earlier", "2026-03-02 10:15", "2026-03-02T10:15:00+01:00"),
        ("earlier", "2026-07-01T08:00", "2026-07-01T08:00:00+02:00"),
        ("earlier", "2026-10-25 02:30", "2026-10-25T02:30:00+02:00"),  # the first 02:30
        ("later", "2026-10-25 02:30", "2026-10-25T02:30:00+01:00"),  # the second 02:30
        ("later", "2026-03-02 10:15", "2026-03-02T10:15:00+01:00"),  # once: no choice
        ("earlier", "2026-03-02T10:15:00Z", "2026-03-02T10:15:00Z"),  # has an offset: kept
        ("earlier", "2026-03-02", "2026-03-02"),  # not a time: the reader judges it
    ],
)
def test_a_local_time_gets_the_zones_offset(fold: str, written: str, expected: str) -> None:
    settings = ExportSettings(zone=PARIS, fold=fold)  # type: ignore[arg-type]
    text = f"event_id,at\ne1,{written}\n"
    assert prepare(text, "h.csv", Dialect(), settings) == f"event_id,at\ne1,{expected}\n"


def test_a_local_time_that_does_not_exist_is_a_located_error() -> None:
    text = "event_id,at\ne1,2026-03-02 10:15\ne2,2026-03-29 02:30\n"
    with pytest.raises(HistoryError) as caught:
        prepare(text, "h.csv", Dialect(), ExportSettings(zone=PARIS))
    assert str(caught.value) == (
        "h.csv:3:1: at: 2026-03-29 02:30 does not exist in Europe/Paris: the clocks went "
        "forward that night (from UTC+01:00 to UTC+02:00), skipping it (check the time, or "
        "write it with its UTC offset, like 2026-03-29T02:30:00+01:00)"
    )


LOCAL = (
    HEADER
    + "A1;purchase;zoé;2026-10-25 02:30;tea;Café;2;4,50;\r\n"
    + "A2;purchase;tom;2026-10-26 11:00;cake;Café;1;12,00;\r\n"
)


@pytest.mark.parametrize("engine", ["reference", "batch"])
def test_a_time_that_happens_twice_is_the_first_unless_fold_later(
    program: Path, engine: str
) -> None:
    history = program.parent / "export.csv"
    history.write_text(LOCAL, encoding="utf-8")
    # The first 02:30 is 00:30 UTC, the second 01:30 UTC: as of 01:00 UTC only the first is in.
    as_of = ("--as-of", "2026-10-25T01:00:00Z", "--format", "json", "--engine", engine)
    code, out, _ = run("dry-run", program, history, "--local-times", *as_of)
    assert (code, points_of(out)) == (0, {"zoé": 9})
    code, out, err = run("dry-run", program, history, "--local-times", "--fold", "later", *as_of)
    assert (code, json.loads(out)["customers"]) == (0, [])
    assert err == f"{history}: read as ';'-separated, decimal commas (detected)\n"


def test_a_gap_is_refused_alike_by_both_readers(program: Path) -> None:
    history = program.parent / "export.csv"
    history.write_text(LOCAL.replace("2026-10-26 11:00", "2026-03-29 02:00"), encoding="utf-8")
    expected = (
        f"{history}:3:1: at: 2026-03-29 02:00 does not exist in Europe/Paris: the clocks went "
        "forward that night (from UTC+01:00 to UTC+02:00), skipping it (check the time, or "
        "write it with its UTC offset, like 2026-03-29T02:00:00+01:00)\n"
    )
    for engine in ("reference", "batch"):
        code, _, err = run("dry-run", program, history, "--local-times", "--engine", engine)
        assert (code, err.splitlines(keepends=True)[-1]) == (1, expected)


def test_local_times_can_name_their_zone(tmp_path: Path) -> None:
    history = tmp_path / "export.csv"
    history.write_text(LOCAL, encoding="utf-8")
    reading = HistoryReading(told=frozenset(), exports=Told(local_times="America/New_York"))
    first = next(iter(reading.read(history)))
    assert first.at == datetime(2026, 10, 25, 6, 30, tzinfo=UTC)
    no_zone = HistoryReading(told=frozenset(), exports=Told(local_times="program"))
    with pytest.raises(HistoryError) as caught:
        list(no_zone.read(history))
    assert str(caught.value) == (
        "--local-times needs a time zone here, as there is no program: --local-times ZONE"
    )


def test_sort_history_reads_local_times_in_the_zone_given(tmp_path: Path) -> None:
    history, out = tmp_path / "export.csv", tmp_path / "sorted.csv"
    history.write_text(MAPPED_HEADER + "B1,purchase,c1,2026-03-02 10:15,tea,drinks,1,4.50,\n")
    code, _, err = run(
        "sort-history", history, out, "--columns", MAPPED_COLUMNS,
        "--local-times", "Europe/Paris",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert ",2026-03-02T10:15:00+01:00," in out.read_text()


def test_a_zone_that_does_not_exist_is_bad_usage(program: Path) -> None:
    code, _, err = run("dry-run", program, program, "--local-times", "Europe/Pariss")
    assert code == 2
    assert "'Europe/Pariss' is not an IANA time zone" in err


# --- column names ---------------------------------------------------------------------------
MAPPED = (
    MAPPED_HEADER
    + "B1,purchase,ann,2026-03-02 10:15,tea,drinks,2,4.50,\n"
    + "B2,purchase,ann,2026-03-09 10:15,tea,drinks,1,4.50,\n"
)


def test_columns_map_the_exports_names(program: Path) -> None:
    history = program.parent / "orders.csv"
    history.write_text(MAPPED, encoding="utf-8")
    outputs = {
        run(
            "dry-run",
            program,
            history,
            "--columns",
            MAPPED_COLUMNS,
            "--local-times",
            "--format",
            "json",
            "--engine",
            engine,
        )
        for engine in ("reference", "batch")
    }
    ((code, out, err),) = outputs  # both engines give the same
    assert (code, err, points_of(out)) == (0, "", {"ann": 13})


def test_both_readers_read_a_mapped_export_alike(tmp_path: Path) -> None:
    history = tmp_path / "orders.csv"
    history.write_text(MAPPED, encoding="utf-8")
    told = Told(columns=tuple(parse_columns(MAPPED_COLUMNS).items()), local_times="Europe/Paris")
    reading = HistoryReading(exports=told)
    events = list(reading.read(history))
    assert events == list(table_to_events(reading.read_table(history), str(history)))
    assert [event.at for event in events] == [
        datetime(2026, 3, 2, 9, 15, tzinfo=UTC),
        datetime(2026, 3, 9, 9, 15, tzinfo=UTC),
    ]


def test_a_mapped_column_missing_names_the_closest_header(program: Path) -> None:
    history = program.parent / "orders.csv"
    history.write_text(MAPPED, encoding="utf-8")
    columns = MAPPED_COLUMNS.replace("at=Date", "at=Datum").replace("Customer No.", "Customer")
    code, _, err = run("dry-run", program, history, "--columns", columns)
    assert (code, err) == (
        1,
        f"{history}:1:1: the header has no column 'Customer', which --columns maps to "
        "'customer_id' (the closest header is 'Customer No.': write customer_id=Customer No.)\n"
        f"{history}:1:1: the header has no column 'Datum', which --columns maps to 'at' "
        "(the closest header is 'Date': write at=Date)\n",
    )


def test_columns_that_are_not_name_equals_header_are_bad_usage(program: Path) -> None:
    code, _, err = run("dry-run", program, program, "--columns", "id=Order ID,Date")
    assert code == 2
    assert "'Date' is not NAME=HEADER, such as at=Date" in err


def test_a_settings_file_beside_the_history_maps_and_localises(program: Path) -> None:
    history = program.parent / "orders.csv"
    history.write_text(MAPPED, encoding="utf-8")
    mapping = "\n".join(f"  {pair.replace('=', ': ', 1)}" for pair in MAPPED_COLUMNS.split(","))
    (program.parent / "orders.map.yaml").write_text(
        f"columns:\n{mapping}\ntimestamps: local\n", encoding="utf-8"
    )
    code, out, err = run("dry-run", program, history, "--format", "json")
    assert (code, err, points_of(out)) == (0, "", {"ann": 13})


def test_a_settings_file_with_an_unknown_key_is_located(program: Path) -> None:
    history = program.parent / "orders.csv"
    history.write_text(MAPPED, encoding="utf-8")
    settings = program.parent / "orders.map.yaml"
    settings.write_text("colums: {at: Date}\n", encoding="utf-8")
    code, _, err = run("dry-run", program, history)
    assert (code, err) == (1, f"{settings}:1:1: unknown key 'colums' (did you mean 'columns'?)\n")


# --- every bad record -----------------------------------------------------------------------
BAD = (
    "event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id\n"
    "p1,purchase,c1,2026-03-02T10:00:00Z,tea,drinks,1,£4.50,\n"
    "p2,purchase,c1,2026-03-02T11:00:00Z,tea,drinks,1,4.50,\n"
    "p3,purchase,c1,2026-03-0,tea,drinks,1,4.50,\n"
    "p4,purchase,c1,2026-03-02T12:00:00Z,tea,drinks,1,4.50,\n"
    "p5,purchse,c1,2026-03-02T13:00:00Z,tea,drinks,1,4.50,\n"
)
BAD_LINES = [
    "unit_price: must be an amount like 4.50 (digits, a point, decimals; no currency sign, "
    "comma or exponent) (got '£4.50') (write 4.50)",
    "at: must be an ISO 8601 timestamp like 2026-03-01T09:30:00+01:00 (got '2026-03-0')",
    "type: must be 'purchase', 'refund', 'redemption' or 'cancel_redemption' (got 'purchse')",
]


@pytest.mark.parametrize("engine", ["reference", "batch"])
def test_every_bad_record_is_reported(program: Path, engine: str) -> None:
    history = program.parent / "bad.csv"
    history.write_text(BAD, encoding="utf-8")
    code, _, err = run("dry-run", program, history, "--engine", engine)
    assert code == 1
    assert err.splitlines() == [
        f"{history}:{line}:1: {said}" for line, said in zip((2, 4, 6), BAD_LINES, strict=True)
    ]


@pytest.mark.parametrize("engine", ["reference", "batch"])
def test_max_errors_shows_so_many_then_how_many_more(program: Path, engine: str) -> None:
    history = program.parent / "bad.csv"
    history.write_text(BAD, encoding="utf-8")
    code, _, err = run("dry-run", program, history, "--max-errors", "1", "--engine", engine)
    assert (code, err.splitlines()) == (
        1,
        [
            f"{history}:2:1: {BAD_LINES[0]}",
            "and 2 more bad records (--max-errors 3 shows them all)",
        ],
    )


def test_every_bad_customer_is_reported(program: Path) -> None:
    history, customers = program.parent / "export.csv", program.parent / "customers.csv"
    history.write_text(EXPORT, encoding="utf-8")
    customers.write_text(
        "customer_id,birthday\nzoé,1990-04-12\ntom,11-30\nann,31-12\n", encoding="utf-8"
    )
    code, _, err = run("dry-run", program, history, "--customers", customers)
    assert code == 1
    assert err.splitlines() == [
        f"{customers}:2:1: birthday: a birthday is a month and day without a year: "
        "write 04-12 (got '1990-04-12')",
        f"{customers}:4:1: birthday: '31-12' is not a day of the year; the month comes "
        "first: write 12-31",
    ]


def test_a_json_lines_history_reports_every_bad_line(program: Path) -> None:
    history = program.parent / "bad.jsonl"
    good = (
        '{"type": "purchase", "id": "ID", "customer_id": "c", "at": "2026-03-02T10:00:00Z", '
        '"lines": [{"sku": "a", "quantity": 1, "unit_price": "PRICE"}]}\n'
    )
    history.write_text(
        good.replace("ID", "p1").replace("PRICE", "4.50")
        + good.replace("ID", "p2").replace("PRICE", "x")
        + good.replace("ID", "p3").replace("PRICE", "4.50")
        + good.replace("ID", "p4").replace("PRICE", "€2"),
        encoding="utf-8",
    )
    code, _, err = run("dry-run", program, history)
    assert code == 1
    assert [line.split(": ", 1)[0] for line in err.splitlines()] == [
        f"{history}:2:1",
        f"{history}:4:1",
    ]
    assert err.endswith("(got '€2') (write 2)\n")


def test_lint_reads_a_mapped_export_with_local_times(program: Path) -> None:
    history = program.parent / "orders.csv"
    history.write_text(MAPPED, encoding="utf-8")
    code, out, err = run(
        "lint", program, "--history", history, "--columns", MAPPED_COLUMNS, "--local-times"
    )
    assert (code, out, err) == (0, f"{program}: OK, no warnings\n", "")


@pytest.mark.parametrize("engine", ["reference", "batch"])
def test_a_time_without_an_offset_says_how_to_read_local_times(program: Path, engine: str) -> None:
    history = program.parent / "export.csv"
    history.write_text(LOCAL, encoding="utf-8")
    code, _, err = run("dry-run", program, history, "--engine", engine, "--max-errors", "1")
    assert code == 1
    assert err.splitlines()[1:] == [
        f"{history}:2:1: at: timestamp has no UTC offset; write it like "
        "2026-03-01T09:30:00+01:00 or 2026-03-01T09:30:00Z (got '2026-10-25 02:30') (if the "
        "file's times are local times of the program's time zone, read them with --local-times)",
        "and 1 more bad record (--max-errors 2 shows them all)",
    ]


def test_the_lines_a_later_problem_names_are_the_files_own(program: Path) -> None:
    history = program.parent / "bad.csv"
    row = "p2,purchase,c1,2026-03-02T11:00:00Z,tea,drinks,1,4.50,\n"
    history.write_text(
        BAD.splitlines(keepends=True)[0] + BAD.splitlines(keepends=True)[1] + row + row
    )
    code, _, err = run("dry-run", program, history)
    assert code == 1
    assert err.splitlines() == [
        f"{history}:2:1: {BAD_LINES[0]}",
        f"{history}:4:1: this row repeats line 3 exactly (a row is one line of an event, so a "
        "repeat is not read as a second unit: for two units, write quantity 2 on one row; if an "
        "export was resumed with an overlap, delete the repeated row)",
    ]


@given(
    cells=st.lists(
        st.sampled_from(
            [
                "2026-03-29 02:30",
                "2026-10-25 02:30",
                "0001-01-01 00:00",
                "9999-12-31 23:59",
                "2026-03-02T10:15:00+01:00",
                "",
                '"',
                ";",
                ",",
                "\r\n",
                "x" * 40,
                "é",
                "\x00",
            ]
        ),
        max_size=12,
    ),
    zone=st.sampled_from(["Europe/Paris", "Asia/Tokyo", "Pacific/Kiritimati", "UTC"]),
    fold=st.sampled_from(["earlier", "later"]),
)
def test_rewriting_any_text_raises_nothing_but_a_history_error(
    cells: list[str], zone: str, fold: str
) -> None:
    text = "event_id,at\n" + "".join(f"e,{cell}\n" for cell in cells)
    settings = ExportSettings(zone=ZoneInfo(zone), fold=fold)  # type: ignore[arg-type]
    codes: set[str | None] = set()
    try:
        rewritten = prepare(text, "h.csv", Dialect(), settings)
    except HistoryError as error:
        codes = {problem.code for problem in error.problems}
        rewritten = ""
    if codes:
        assert codes == {"nonexistent-time"}
    else:  # every row kept on its line: as many line ends, or more where a quote was closed
        assert rewritten.count("\n") >= text.count("\n") - text.count("\r")
