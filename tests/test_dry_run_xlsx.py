"""``dry-run --format xlsx``: the workbook is written, read back with openpyxl, and checked
cell by cell against ``--format csv`` and ``--format json`` of the same run (issue 16)."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from rewardrules.cli import _workbook
from rewardrules.cli.main import cli
from rewardrules.money import currency
from rewardrules.tools.export import SHEET_COLUMNS
from rewardrules.tools.export_xlsx import money_format

EXAMPLES = Path(__file__).resolve().parent.parent / "rules" / "examples"
COFFEE = [
    "dry-run",
    str(EXAMPLES / "coffee-club.yaml"),
    str(EXAMPLES / "coffee-club.history.csv"),
]
TEXT_COLUMNS = ("customer_id", "event_id", "rule", "kind", "reason")


def invoke(*arguments: str) -> Any:
    return CliRunner().invoke(cli, list(arguments))


def workbook_of(tmp_path: Path, *arguments: str) -> Any:
    target = tmp_path / "results.xlsx"
    result = invoke(*arguments, "--format", "xlsx", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert result.output == ""
    return openpyxl.load_workbook(target)


def test_the_ledger_sheet_has_the_csv_rows_as_typed_cells(tmp_path: Path) -> None:
    book = workbook_of(tmp_path, *COFFEE)
    assert book.sheetnames == ["Ledger", "Totals"]
    sheet = book["Ledger"]
    rows = list(csv.reader(io.StringIO(invoke(*COFFEE, "--format", "csv").output)))
    assert [cell.value for cell in sheet[1]] == list(SHEET_COLUMNS) == rows[0]
    assert sheet.max_row == len(rows) > 2
    for number, written in enumerate(rows[1:], start=2):
        cells = dict(zip(SHEET_COLUMNS, sheet[number]))
        texts = dict(zip(SHEET_COLUMNS, written))
        for name in TEXT_COLUMNS:
            assert cells[name].value == texts[name]
            assert cells[name].data_type == "s"
        for name in ("points", "units"):
            assert cells[name].value == (int(texts[name]) if texts[name] else None)
        for name in ("value", "points_value"):
            if texts[name]:
                assert Decimal(str(cells[name].value)) == Decimal(texts[name])
                assert cells[name].number_format == '#,##0.00 "USD"'
            else:
                assert cells[name].value is None
        assert isinstance(cells["date"].value, datetime)
        assert cells["date"].value.date().isoformat() == texts["date"]
        assert cells["date"].number_format == "yyyy-mm-dd"


def test_the_first_ledger_row_by_hand(tmp_path: Path) -> None:
    # pat's c-1001: 9.75 USD of coffee at 2 stars per 1.00, doubled: 30 stars at 0.01 USD.
    sheet = workbook_of(tmp_path, *COFFEE)["Ledger"]
    row = [cell.value for cell in sheet[2]]
    assert row[:5] == ["pat", "c-1001", "stars", "points", 30]
    assert row[8] == datetime(2026, 1, 6)  # a date cell: no zone
    assert Decimal(str(row[9])) == Decimal("0.30")
    assert sheet["E2"].number_format == "#,##0"


def test_the_totals_sheet_has_every_figure_of_the_json_totals(tmp_path: Path) -> None:
    sheet = workbook_of(tmp_path, *COFFEE)["Totals"]
    totals = json.loads(invoke(*COFFEE, "--format", "json").output)["totals"]
    assert [cell.value for cell in sheet[1]] == ["figure", "value"]
    found = {row[0].value: row[1] for row in sheet.iter_rows(min_row=2)}
    assert list(found) == list(totals)
    for name, value in totals.items():
        cell = found[name]
        if isinstance(value, str):
            assert Decimal(str(cell.value)) == Decimal(value), name
            assert cell.number_format == '#,##0.00 "USD"'
        else:
            assert cell.value == value, name
            assert cell.number_format == "#,##0"
    assert found["refunded_purchases"].value == 2
    assert found["fully_refunded_purchases"].value == 1


def test_standard_output_gets_the_same_workbook_when_redirected(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [*COFFEE, "--format", "xlsx"])
    assert result.exit_code == 0
    piped = tmp_path / "piped.xlsx"
    piped.write_bytes(result.stdout_bytes)
    assert result.stdout_bytes.startswith(b"PK")  # a zip, as every .xlsx
    rows = [[cell.value for cell in row] for row in openpyxl.load_workbook(piped)["Ledger"]]
    written = workbook_of(tmp_path, *COFFEE)["Ledger"]
    assert rows == [[cell.value for cell in row] for row in written]


def test_a_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    program = tmp_path / "tea.yaml"
    program.write_text(
        "program: tea\nname: Tea\ncurrency: JPY\ntimezone: UTC\npoints:\n  value: 1\n"
        "rules:\n  - id: earn\n    kind: points_per_spend\n    points: 1\n    per: 100\n",
        encoding="utf-8",
    )
    history = tmp_path / "tea.csv"
    history.write_text(
        "event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id\n"
        '"=1+1",purchase,"=HYPERLINK(""http://x"")",2026-03-02T09:00:00+00:00,tea,tea,1,1500,\n',
        encoding="utf-8",
    )
    sheet = workbook_of(tmp_path, "dry-run", str(program), str(history))["Ledger"]
    assert (sheet["A2"].value, sheet["A2"].data_type) == ('=HYPERLINK("http://x")', "s")
    assert (sheet["B2"].value, sheet["B2"].data_type) == ("=1+1", "s")
    assert sheet["E2"].value == 15
    assert (sheet["J2"].value, sheet["J2"].number_format) == (15, '#,##0 "JPY"')


def test_money_formats_follow_the_currency() -> None:
    assert money_format(currency("USD")) == '#,##0.00 "USD"'
    assert money_format(currency("JPY")) == '#,##0 "JPY"'
    assert money_format(currency("KWD")) == '#,##0.000 "KWD"'


def test_without_openpyxl_the_message_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # import openpyxl raises ImportError
    result = invoke(*COFFEE, "--format", "xlsx", "--output", str(tmp_path / "r.xlsx"))
    assert result.exit_code == 1
    assert result.output == (
        "openpyxl is not installed; install rewardrules with the 'xlsx' extra: "
        "pip install 'rewardrules[xlsx]'\n"
    )
    assert not (tmp_path / "r.xlsx").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--output", "r.xlsx"],
            "Error: r.xlsx is a workbook: add --format xlsx (or name a .parquet, .csv or "
            ".jsonl ledger file)",
        ),
        (
            ["--format", "xlsx", "--output", "r.csv"],
            "Error: --format xlsx writes a workbook: name it FILE.xlsx (got r.csv)",
        ),
        (
            ["--format", "xlsx", "--summary"],
            "Error: --format xlsx writes the ledger and the totals; it cannot go with --summary",
        ),
        (
            ["--format", "xlsx", "--workers", "2"],
            "Error: --format xlsx writes the ledger; with a cluster use --output DIR/",
        ),
    ],
    ids=["workbook-without-format", "format-without-workbook", "summary", "cluster"],
)
def test_what_cannot_make_a_workbook_is_a_usage_error(options: list[str], message: str) -> None:
    result = invoke(*COFFEE, *options)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == message


def test_a_terminal_gets_no_workbook_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_workbook, "stdout_is_terminal", lambda: True)
    result = invoke(*COFFEE, "--format", "xlsx")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: --format xlsx writes a workbook, not text: give --output results.xlsx "
        "(or redirect: > results.xlsx)"
    )
