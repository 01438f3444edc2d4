"""Writing an evaluation's ledger as CSV that a spreadsheet opens without running anything.

Customer ids, event ids and reasons come from histories and rule files we do not control. A
spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and some also one that
starts with a tab or a carriage return) as a formula: ``=HYPERLINK("http://evil",
"Click")`` in a customer id would become a live link in the marketer's sheet. Following
the OWASP advice on CSV injection, such a text cell is written with a single quote in front
(``'=HYPERLINK(...)``), which spreadsheets show as the text it was.

Only the text columns are neutralised. The number columns (``points``, ``value``,
``units``) are written by this module from integers and exact decimals, never copied from
input, so a ``-5`` there is the number minus five (points taken back by a refund), and is
written as such: a quote would turn it into text and break the sums a spreadsheet does.
Each number is checked to be a plain decimal numeral before it is written.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, TextIO

from rewardrules.engine.ledger import Evaluation, LedgerEntry
from rewardrules.money import Currency, divide_half_up

LEDGER_COLUMNS: Final = (
    "customer_id",
    "event_id",
    "rule",
    "kind",
    "points",
    "value",
    "units",
    "reason",
)
"""The columns of :func:`ledger_csv`, in order."""

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
"""The first characters that make a spreadsheet read a cell as a formula (OWASP)."""

_NUMERAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def neutralise(text: str) -> str:
    """A text cell a spreadsheet shows as text: quoted with ``'`` if it could run as a formula.

    >>> neutralise("=1+1")
    "'=1+1"
    >>> neutralise("c-1")
    'c-1'
    """
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _number(value: int | Decimal | None) -> str:
    """A number cell: empty for None, else a plain numeral (never exponent notation)."""
    if value is None:
        return ""
    written = format(value, "f") if isinstance(value, Decimal) else str(int(value))
    if not _NUMERAL.fullmatch(written):
        raise ValueError(f"a ledger number must be a finite decimal number (got {written!r})")
    return written


def ledger_row(entry: LedgerEntry) -> tuple[str, ...]:
    """One ledger entry as the cells of a CSV row, in :data:`LEDGER_COLUMNS` order."""
    return (
        neutralise(entry.customer_id),
        neutralise(entry.event_id),
        neutralise(entry.rule),
        neutralise(entry.kind),
        _number(entry.points),
        _number(entry.value),
        _number(entry.units),
        neutralise(entry.reason),
    )


def ledger_rows(evaluation: Evaluation) -> Iterator[tuple[str, ...]]:
    """The header, then one row per ledger entry, customer by customer, cells as written."""
    yield LEDGER_COLUMNS
    for result in evaluation.customers:
        for entry in result.ledger:
            yield ledger_row(entry)


def write_ledger_csv(evaluation: Evaluation, stream: TextIO) -> None:
    """Write the ledger as CSV to a text stream, one row per entry after a header.

    Cells are quoted only when they must be (a comma, a quote, a carriage return or a line
    feed in them); rows end with ``\\r\\n`` as RFC 4180 has it. That line end is also why
    a lone carriage return in a cell is quoted: the ``csv`` module quotes only the characters
    of its line end, and a spreadsheet would start a new row at an unquoted one. Open a file
    for it with ``newline=""``.

    Args:
        evaluation: what :func:`rewardrules.evaluation.fold.evaluate` returned.
        stream: where the CSV goes.
    """
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerows(ledger_rows(evaluation))


def ledger_csv(evaluation: Evaluation) -> str:
    """The ledger as CSV text, as :func:`write_ledger_csv` writes it.

    Columns: ``customer_id, event_id, rule, kind, points, value, units, reason``. Text cells
    that a spreadsheet would run as a formula start with ``'``; numbers are plain numerals,
    negative ones included, and a number that does not apply to the entry's kind is empty.
    """
    buffer = io.StringIO(newline="")
    write_ledger_csv(evaluation, buffer)
    return buffer.getvalue()


SHEET_COLUMNS: Final = (*LEDGER_COLUMNS, "date", "points_value")
"""The columns of ``rewardrules dry-run --format csv``: the ledger's, then the entry's date
and the money value of its points."""

_GIFT_DAY = re.compile(r"(?s)^(?P<rule>.*)@(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})$")


@dataclass(frozen=True)
class SheetStyle:
    """How ``dry-run --format csv`` writes its cells for a spreadsheet.

    Attributes:
        delimiter: the character between cells (``;`` where a comma is the decimal mark).
        decimal_comma: numbers are written ``4,50`` instead of ``4.50``.
    """

    delimiter: str = ","
    decimal_comma: bool = False


def entry_date(event_id: str, dates: Mapping[str, str], rule_ids: frozenset[str]) -> str:
    """The local date (``YYYY-MM-DD``) of an entry: its event's, from ``dates`` (event id to
    date in the program's time zone); a gift given at a date has the id ``RULE@YYYY-MM-DD``
    and that date; else empty.

    >>> entry_date("birthday@2026-04-12", {}, frozenset({"birthday"}))
    '2026-04-12'
    """
    found = dates.get(event_id)
    if found is not None:
        return found
    gift = _GIFT_DAY.fullmatch(event_id)
    if gift is not None and gift["rule"] in rule_ids:
        return gift["day"]
    return ""


def points_value(points: int | None, point_value: Decimal, money: Currency) -> Decimal | None:
    """What ``points`` are worth at ``point_value`` each, rounded half-up to the currency's
    minor unit as the totals' ``points_cost`` is; None for no points or no value."""
    if points is None or not point_value:
        return None
    numerator, denominator = point_value.as_integer_ratio()
    minor = divide_half_up(points * numerator * money.minor_per_major, denominator)
    return money.to_decimal(minor)


def sheet_csv(
    evaluation: Evaluation,
    *,
    dates: Mapping[str, str],
    rule_ids: frozenset[str],
    point_value: Decimal,
    style: SheetStyle = SheetStyle(),
) -> str:
    """The ledger as ``dry-run --format csv`` prints it: :data:`SHEET_COLUMNS`.

    The first eight cells of each row are those of :func:`ledger_csv` (with the default
    style, byte for byte); ``date`` is :func:`entry_date`, ``points_value`` is
    :func:`points_value` (empty when the program has no ``points.value``).
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=style.delimiter, lineterminator="\r\n")
    writer.writerow(SHEET_COLUMNS)
    numbers = (4, 5, 6, 9)
    for result in evaluation.customers:
        for entry in result.ledger:
            worth = points_value(entry.points, point_value, evaluation.money)
            row = [
                *ledger_row(entry),
                entry_date(entry.event_id, dates, rule_ids),
                _number(worth),
            ]
            if style.decimal_comma:
                for place in numbers:
                    row[place] = row[place].replace(".", ",")
            writer.writerow(row)
    return buffer.getvalue()
