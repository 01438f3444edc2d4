"""The ledger and the totals as an Excel workbook: ``rewardrules dry-run --format xlsx``.

Marketers open results in a spreadsheet; a CSV makes them pick a separator and a decimal
mark, and dates and amounts arrive as text in some locales. The workbook has typed cells
instead: sheet ``Ledger`` has the columns of ``--format csv`` (``tools.export.SHEET_COLUMNS``)
with dates as dates, money as numbers in the currency's format (``#,##0.00 "USD"``) and
points and units as integers; sheet ``Totals`` has one row per figure of the totals.

Text cells are always written as text, never as formulas: a customer id
``=HYPERLINK(...)`` stays that text (so no ``'`` is needed, unlike the CSV). Excel holds
numbers as binary doubles: amounts beyond 15 significant digits lose precision there (the
JSON output keeps them exact).

openpyxl (pure Python) is the ``xlsx`` extra: ``pip install 'rewardrules[xlsx]'``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from rewardrules.engine.ledger import Evaluation
from rewardrules.money import Currency
from rewardrules.tools.export import SHEET_COLUMNS, entry_date, points_value
from rewardrules.tools.scale import MissingExtraError

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

__all__ = ["LEDGER_SHEET", "TOTALS_SHEET", "money_format", "sheet_xlsx"]

LEDGER_SHEET: Final = "Ledger"
TOTALS_SHEET: Final = "Totals"
_MONEY_COLUMNS: Final = frozenset({"value", "points_value"})
_INTEGER_COLUMNS: Final = frozenset({"points", "units"})
_WIDTHS: Final = {"reason": 60, "customer_id": 14, "event_id": 14, "rule": 18}


def money_format(money: Currency) -> str:
    """The number format of the currency's amounts: ``#,##0.00 "USD"`` (``#,##0 "JPY"``)."""
    places = "." + "0" * money.exponent if money.exponent else ""
    return f'#,##0{places} "{money.code}"'


def sheet_xlsx(
    evaluation: Evaluation,
    *,
    dates: Mapping[str, str],
    rule_ids: frozenset[str],
    point_value: Decimal,
) -> bytes:
    """The workbook of ``dry-run --format xlsx``, as the bytes of an .xlsx file.

    The ledger rows are those of ``tools.export.sheet_csv``, cell for cell, typed.

    Raises:
        MissingExtraError: openpyxl is not installed (the ``xlsx`` extra).
    """
    try:
        from openpyxl import Workbook  # noqa: PLC0415 -- the optional extra, on demand
    except ImportError as missing:
        raise MissingExtraError("xlsx", missing.name or "openpyxl") from None
    workbook = Workbook()
    ledger = workbook.active
    assert ledger is not None  # noqa: S101 -- a new workbook has one sheet
    ledger.title = LEDGER_SHEET
    money = evaluation.money
    currency = money_format(money)
    _header(ledger, SHEET_COLUMNS)
    row = 1
    for result in evaluation.customers:
        for entry in result.ledger:
            row += 1
            day = entry_date(entry.event_id, dates, rule_ids)
            cells: dict[str, Any] = {
                "customer_id": entry.customer_id,
                "event_id": entry.event_id,
                "rule": entry.rule,
                "kind": entry.kind,
                "points": entry.points,
                "value": entry.value,
                "units": entry.units,
                "reason": entry.reason,
                "date": date.fromisoformat(day) if day else None,
                "points_value": points_value(entry.points, point_value, money),
            }
            for column, name in enumerate(SHEET_COLUMNS, start=1):
                _write(ledger, row, column, name, cells[name], currency)
    ledger.freeze_panes = "A2"
    if row > 1:
        ledger.auto_filter.ref = ledger.dimensions
    totals = workbook.create_sheet(TOTALS_SHEET)
    _header(totals, ("figure", "value"))
    for place, (name, value) in enumerate(evaluation.totals.to_dict().items(), start=2):
        _text(totals, place, 1, name)
        cell = totals.cell(row=place, column=2)
        if isinstance(value, str):  # the totals' amounts are text in the JSON contract
            cell.value = Decimal(value)
            cell.number_format = currency
        else:
            cell.value = value
            cell.number_format = "#,##0"
    totals.column_dimensions["A"].width = 26
    totals.column_dimensions["B"].width = 18
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _header(sheet: Worksheet, names: tuple[str, ...]) -> None:
    from openpyxl.styles import Font  # noqa: PLC0415 -- the optional extra, on demand
    from openpyxl.utils import get_column_letter  # noqa: PLC0415

    for column, name in enumerate(names, start=1):
        _text(sheet, 1, column, name).font = Font(bold=True)
        sheet.column_dimensions[get_column_letter(column)].width = _WIDTHS.get(name, 12)


def _text(sheet: Worksheet, row: int, column: int, text: str) -> Any:
    """A text cell, never a formula whatever it starts with."""
    cell = sheet.cell(row=row, column=column)
    cell.value = text
    cell.data_type = "s"
    return cell


def _write(sheet: Worksheet, row: int, column: int, name: str, value: Any, currency: str) -> None:
    if value is None:
        return
    if isinstance(value, str):
        _text(sheet, row, column, value)
        return
    cell = sheet.cell(row=row, column=column, value=value)
    if name in _MONEY_COLUMNS:
        cell.number_format = currency
    elif name in _INTEGER_COLUMNS:
        cell.number_format = "#,##0"
    elif name == "date":
        cell.number_format = "yyyy-mm-dd"
