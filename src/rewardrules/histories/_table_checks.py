"""The checks the row readers make, made on whole columns; then the history table.

A history arrives here as a table of cells: every column as text (CSV, or a Parquet file of
strings), or typed (a Parquet file with timestamp, decimal and integer columns). Each check
marks the rows it refuses with vectorised Arrow and numpy operations, on whole columns or on
the few distinct values of a column (types, quantities and prices repeat). The checks write
no message: the first run of rows they refuse is handed to the CSV row reader
(:mod:`rewardrules.histories._csv`), each row at its own line, so that the error is the row
reader's own, word for word. A check must therefore refuse exactly what the row reader
refuses; ``tests/test_history_table.py`` holds them to that.

Some rules are the table reader's own (:mod:`rewardrules.histories._table_rules`): a price finer
than
the table's 12 decimals, and a column of the wrong Arrow type; a row that repeats the row
before it is found here too, but the row reader, asked first, words it.
"""

from __future__ import annotations

import csv
import decimal
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from rewardrules._model_errors import ModelInputError
from rewardrules.errors import REPEATED_EVENT_ID, HistoryError, Location, Problem
from rewardrules.events import MAX_TEXT, Payment
from rewardrules.histories import _csv as _csv_history
from rewardrules.histories import _table_rules
from rewardrules.histories._checked import TYPES, CheckedFacts, remember
from rewardrules.histories._csv import payment_pairs
from rewardrules.histories._records import CsvOptions, RecordError, amount, whole
from rewardrules.histories._table_rules import (
    Column,
    Ints,
    Mask,
    cell_text,
    dictionary,
    numpy_of,
    positions,
)
from rewardrules.histories.columns import AMOUNT, HISTORY_SCHEMA, INSTANT, payments_text

EVENT_COLUMNS = (*_csv_history._EVENT_COLUMNS, *_csv_history._OPTIONAL_EVENT_COLUMNS)
"""The columns a history's cells may have, as a CSV header names them."""
_HEAD = ("type", "customer_id", "at", "purchase_id", "store", "reward", "payments", "redemption_id")
_TYPES = {name: code for code, name in enumerate(TYPES)}
_PURCHASE, _REFUND, _REDEMPTION, _CANCEL = 0, 1, 2, 3  # places in TYPES
_CONTROL = r"[\x00-\x1f\x7f-\x9f]"
_IDS = ("event_id", "customer_id", "purchase_id", "reward", "redemption_id")
# Columns that most histories leave empty in every row (or have not at all): such a column
# is not made into text, and each check below treats it as empty cells without reading it.
_MAY_BE_BLANK = ("sku", "category", "purchase_id", "store", "reward", "payments", "redemption_id")
_TEXT = (*_IDS, "sku", "category", "store")
_OK, _BAD, _TOO_FINE = 0, 1, 2
_WIDE = decimal.Context(prec=100)  # 24 digits and 12 decimals are past the default 28


class _TooFineError(Exception):
    """An amount with more decimals than the table keeps."""


@dataclass(frozen=True)
class Cells:
    """A history's cells, as read, before any check.

    Attributes:
        table: a column per name of :data:`EVENT_COLUMNS` present in the input.
        lines: the line (CSV) or row (Parquet) of each row, 1-based.
        source: the name errors show.
        options: the CSV options the cells were written with (decimal comma).
        rows: True when ``lines`` count the rows of a table, not the lines of a text.
        distinct: tells, of the first id of each run of rows with one event id, that no
            two are equal (True only when sure: False sends them to the exact check);
            ``_table_rules.surely_unique`` by default. A reader that hashes the ids
            anyway (the streaming reader) tells it from its hashes.
    """

    table: pa.Table
    lines: Ints
    source: str
    options: CsvOptions = field(default_factory=CsvOptions)
    rows: bool = False
    distinct: Callable[[Column], bool] = _table_rules.surely_unique


def history_table(cells: Cells) -> pa.Table:
    """The history table of ``cells``, or the error the row reader gives for the first bad row.

    Raises:
        HistoryError: as the row reader raises it, located at the same line and column.
    """
    return _Checker(cells).table()


def check_header(names: Sequence[str], source: str, options: CsvOptions) -> None:
    """Check column names as the CSV row reader checks a header.

    Raises:
        HistoryError: an unknown, missing or repeated column, as the row reader words it.
    """
    error = _read_rows(Cells(pa.table({}), np.zeros(0, np.int64), source, options), names, ())
    if error is not None:
        raise error


@dataclass(frozen=True)
class _Distinct:
    """A column read one distinct cell at a time: which distinct value each row has."""

    index: Ints  # per row, into values and status
    values: list[Any]
    status: npt.NDArray[np.int8]

    def rows(self, status: int) -> Mask:
        return np.asarray(self.status[self.index] == status)


class _Checker:
    """One pass of checks over one history's cells."""

    def __init__(self, cells: Cells) -> None:
        self.cells = cells
        self.count = cells.table.num_rows
        self.bad = np.zeros(self.count, np.bool_)
        self.own: list[tuple[int, Problem]] = []
        self.text: dict[str, Column] = {}
        self.blank: set[str] = set()  # optional columns absent or null in every row
        self.empty: dict[str, Mask] = {}
        self.plain: set[str] = set()  # text columns of plain text only (see CheckedFacts)
        self.scans: dict[str, _table_rules.Scan] = {}
        self.nulls: dict[str, pa.Array[Any]] = {}  # text columns read with null cells

    def table(self) -> pa.Table:
        if self.count == 0:
            return HISTORY_SCHEMA.empty_table()
        table = self.cells.table
        _table_rules.refuse_wrong_types(self.cells)
        for name in EVENT_COLUMNS:
            present = name in table.column_names and name not in ("quantity", "unit_price")
            if name in _MAY_BE_BLANK and (not present or _all_null(table[name])):
                self.blank.add(name)  # absent or empty: nothing to read, check or copy
            elif present and (name != "at" or _table_rules.is_text(table[name].type)):
                given = _table_rules.string_array(table[name])
                self.text[name] = _table_rules.filled(given)
                if given.null_count:
                    self.nulls[name] = given
        self._runs()
        self.types = types = self._types()
        at, offsets = self._instants()
        quantity = self._quantities(types)
        price = self._prices(types)
        self._cells_by_type(types)
        payments = self._payments(types, quantity, price)
        self._texts()
        self.own += _table_rules.repeated_rows(self.cells, ~self.is_start[1:])
        self._raise_first_problem()
        return self._build(at, offsets, quantity, price, payments)

    def _runs(self) -> None:
        """Runs of adjacent rows with one event id; an id that comes back is split-event."""
        ids = self.text["event_id"]
        starts = np.ones(self.count, np.bool_)
        if self.count > 1:
            starts[1:] = numpy_of(pc.not_equal(ids[1:], ids[:-1]))
        self.is_start = starts
        self.starts = np.flatnonzero(starts)
        self.run = np.cumsum(starts) - 1
        self.first = self.starts[self.run]
        self.size = np.diff(np.append(self.starts, self.count))[self.run]
        self.split: int | None = None
        head_ids = ids.take(positions(self.starts))
        if self.cells.distinct(head_ids):
            return
        # Dictionary codes are given in order of first appearance: a run repeats an id
        # when its code is not above every code before it.
        head = dictionary(head_ids)
        codes = numpy_of(head.indices)
        before = np.maximum.accumulate(np.concatenate(([-1], codes[:-1])))
        repeats = np.flatnonzero(codes <= before)
        self.split = int(repeats[0]) if len(repeats) else None
        if self.split is not None:
            first_run = int(np.flatnonzero(codes == codes[self.split])[0])
            self.split_first = int(self.starts[first_run])

    def _types(self) -> npt.NDArray[np.int8]:
        """Each row's type, as its event's first row gives it (-1 for an unknown type)."""
        # The cells as read: a Parquet or CSV type column is read as a dictionary already.
        distinct = self._distinct(self.cells.table["type"], lambda text: _TYPES[text])
        codes = np.array([-1 if value is None else value for value in distinct.values], np.int8)
        types = codes[distinct.index]
        self._refuse((types < 0) & self.is_start)
        return np.asarray(types[self.first])

    def _instants(self) -> tuple[Ints, npt.NDArray[np.int32]]:
        column = self.cells.table["at"]
        if not _table_rules.is_text(column.type):
            instants, bad = _table_rules.typed_instants(self.cells)
            self._refuse(bad)
            return instants, np.zeros(self.count, np.int32)
        instants, offsets, bad = _table_rules.text_instants(
            self.text["at"].take(positions(self.starts))
        )
        self._refuse(bad[self.run] & self.is_start)
        return instants[self.run], offsets[self.run]

    def _quantities(self, types: npt.NDArray[np.int8]) -> Ints:
        def read(text: str) -> int:
            value = whole(text, ("quantity",))
            if value < 1:  # the event models refuse it
                raise ValueError(text)
            return value

        distinct = self._distinct(self.cells.table["quantity"], read)
        values = np.array([value or 0 for value in distinct.values], np.int64)[distinct.index]
        self.has_quantity = (values > 0) | distinct.rows(_BAD)
        no_sku = self._empty("sku")
        self._refuse(distinct.rows(_BAD))
        self._refuse((types == _CANCEL) & self.has_quantity)
        self._refuse((types == _PURCHASE) & ~self.has_quantity)
        whole_refund = (types == _REFUND) & ~self.has_quantity & no_sku
        self._refuse((types == _REFUND) & ~self.has_quantity & ~no_sku)
        self._refuse(whole_refund & (self.size > 1))
        return np.asarray(values)

    def _prices(self, types: npt.NDArray[np.int8]) -> Column:
        decimal_comma = self.cells.options.decimal_comma
        finest = Decimal("1e-12")

        def read(text: str) -> Decimal:
            value = amount(text, ("unit_price",), decimal_comma)
            if value < 0:  # the event models refuse it
                raise ValueError(text)
            exponent = value.as_tuple().exponent
            fine = isinstance(exponent, int) and exponent < -12
            if fine and _WIDE.quantize(value, finest) != value:
                raise _TooFineError(text)
            return value

        distinct = self._distinct(self.cells.table["unit_price"], read)
        present = np.array([value is not None for value in distinct.values])[distinct.index]
        present |= ~distinct.rows(_OK)
        self._refuse((types == _PURCHASE) & (distinct.rows(_BAD) | ~present))
        self._refuse((types != _PURCHASE) & present)
        too_fine = np.flatnonzero(distinct.rows(_TOO_FINE) & (types == _PURCHASE))
        if len(too_fine):
            row = int(too_fine[0])
            text = cell_text(self.cells.table["unit_price"][row].as_py())
            self.own.append(_table_rules.too_fine(self.cells, row, text))
        prices = pa.array(distinct.values, AMOUNT).take(positions(distinct.index))
        return pa.chunked_array([prices])

    def _cells_by_type(self, types: npt.NDArray[np.int8]) -> None:
        """Which cells a type of event leaves empty and which it needs; rows of one event agree."""
        purchase, refund, redemption = types == _PURCHASE, types == _REFUND, types == _REDEMPTION
        cancel = types == _CANCEL
        start = self.is_start
        no_purchase_id, no_store, no_reward, no_payments, no_redemption_id = (
            self._empty(name)
            for name in ("purchase_id", "store", "reward", "payments", "redemption_id")
        )
        self._refuse(start & ~refund & ~no_purchase_id)
        self._refuse(start & ~purchase & ~no_store)
        self._refuse(start & ~purchase & ~no_payments)
        self._refuse(start & ~redemption & ~no_reward)
        self._refuse(start & refund & no_purchase_id)
        self._refuse(start & redemption & no_reward)
        if "reward" not in self.cells.table.column_names:
            self._refuse(start & redemption)
        self._refuse(start & ~cancel & ~no_redemption_id)
        self._refuse(start & cancel & no_redemption_id)
        if "redemption_id" not in self.cells.table.column_names:
            self._refuse(start & cancel)
        # A redemption's quantity is its units; a cancellation has none (refused above).
        lineless = self._empty("sku") & self._empty("category")
        self._refuse((redemption | cancel) & (~start | ~lineless))
        self._refuse(refund & ~self._empty("category"))
        self._refuse(purchase & self._empty("sku"))
        self._refuse(refund & self._empty("sku") & self.has_quantity)
        # Each row agrees with the row before it in its event, so with the event's first row.
        later = ~self.is_start[1:] & ~redemption[1:] & ~cancel[1:]
        for name in _HEAD:
            column = self.text.get(name, self.cells.table["at"] if name == "at" else None)
            if column is not None and later.any():
                if name != "at":  # rows may differ in the spelling NFC makes one
                    column = self._nfc(name, column)
                differs = numpy_of(pc.not_equal(column[1:], column[:-1]).fill_null(True))
                self.bad[1:] |= differs & later

    def _payments(self, types: npt.NDArray[np.int8], quantity: Ints, price: Column) -> Column:
        """Each purchase's payments: pairs the event model takes, adding up to the lines'
        gross total; as the table keeps them (``columns.payments_text``), null for none."""
        if "payments" in self.blank:
            return self._null_text()
        column = self.text["payments"]
        decimal_comma = self.cells.options.decimal_comma

        def read(text: str) -> tuple[str, Decimal]:
            payments = [Payment(**pair) for pair in payment_pairs(text, decimal_comma)]
            paid = sum((payment.amount for payment in payments), Decimal(0))
            return payments_text(payments), paid

        distinct = self._distinct(column, read)
        self._refuse((types == _PURCHASE) & distinct.rows(_BAD))
        known = np.array([value is not None for value in distinct.values])[distinct.index]
        paying = np.flatnonzero(known & self.is_start & (types == _PURCHASE))
        if len(paying):
            # The payments add up to the gross total of their purchase's rows (an
            # event's rows all have its payments, or the rows disagree and are refused).
            prices = price.to_pylist()
            for row in paying.tolist():
                end = row + int(self.size[row])
                total = sum(
                    (
                        (prices[line] or Decimal(0)) * int(quantity[line])
                        for line in range(row, end)
                    ),
                    Decimal(0),
                )
                if distinct.values[distinct.index[row]][1] != total:
                    self.bad[row] = True
        texts = [None if value is None else value[0] for value in distinct.values]
        return pa.chunked_array([pa.array(texts, pa.string()).take(positions(distinct.index))])

    def _texts(self) -> None:
        """Text: not empty where needed, at most 256 characters, nothing hidden, no end spaces."""
        for name in ("event_id", "customer_id"):
            self._refuse(self._empty(name) & self.is_start)
        for name in _TEXT:
            if name in self.blank:
                self.plain.add(name)  # null in every row
                continue
            column = self.text[name]
            self._refuse(_table_rules.surrounding_space(column))
            seen = self._scan(name)
            if seen.longest <= MAX_TEXT and seen.printable:
                # Printable ASCII of 0 to 256 bytes, padded cells refused: plain text once
                # an empty cell is refused (ids) or null (the other columns).
                self.plain.add(name)
                continue
            too_long = numpy_of(pc.utf8_length(column)) > MAX_TEXT
            self._refuse(too_long | numpy_of(pc.match_substring_regex(column, _CONTROL)))
            if not seen.ascii:
                self._refuse(_table_rules.hidden(column))

    def _null_text(self) -> Column:
        """A text column null in every row (what a blank optional column reads as)."""
        return pa.chunked_array([pa.nulls(self.count, pa.string())])

    def _scan(self, name: str) -> _table_rules.Scan:
        """What one look at a text column's bytes tells, made once."""
        if name not in self.scans:
            self.scans[name] = _table_rules.scan(self.text[name])
        return self.scans[name]

    def _nfc(self, name: str, column: Column) -> Column:
        """A column of ``name``'s cells (nulls or empty cells aside) in composed form."""
        return column if self._scan(name).ascii else _table_rules.nfc(column)

    def _empty(self, name: str) -> Mask:
        if name not in self.empty:
            blank = name in self.blank
            found = np.ones(self.count, np.bool_) if blank else _table_rules.empty(self.text[name])
            self.empty[name] = found
        return self.empty[name]

    def _refuse(self, rows: Mask) -> None:
        self.bad |= rows

    def _distinct(self, column: Column, read: Callable[[str], Any]) -> _Distinct:
        """Read each distinct cell once; an empty cell is None, a refused one None and _BAD."""
        encoded = dictionary(column)
        values: list[Any] = []
        status = []
        for cell in encoded.dictionary.to_pylist():
            text, outcome, value = cell_text(cell), _OK, None
            if text:
                try:
                    value = read(text)
                except _TooFineError:
                    outcome = _TOO_FINE
                except (RecordError, ModelInputError, ValueError, KeyError):
                    outcome = _BAD
            values.append(value)
            status.append(outcome)
        values.append(None)  # where a null cell points
        status.append(_OK)
        index = numpy_of(
            encoded.indices.fill_null(pa.scalar(len(values) - 1, encoded.indices.type))
        )
        return _Distinct(index, values, np.array(status, np.int8))

    def _raise_first_problem(self) -> None:
        bad_rows = np.flatnonzero(self.bad)
        bad_run = int(self.run[bad_rows[0]]) if len(bad_rows) else None
        own_row, own_problem = min(self.own, key=lambda item: item[0], default=(None, None))
        own_run = None if own_row is None else int(self.run[own_row])
        candidates = [run for run in (bad_run, own_run, self.split) if run is not None]
        if not candidates:
            return
        first = min(candidates)
        if self.split is not None and self.split <= first:
            raise self._split_event()
        error = self._row_reader_error(first)
        if error is not None:
            lines = [p.location.line for p in error.problems if p.location is not None]
            own_line = None if own_row is None else int(self.cells.lines[own_row])
            if own_run != first or own_line is None or min(lines, default=0) <= own_line:
                raise error
        if own_problem is None or own_run != first:  # pragma: no cover - a bug, said so
            line = self.cells.lines[self.starts[first]]
            message = (
                f"the column checks refuse line {line} but the row reader reads it; "
                "this is a bug in rewardrules, please report it"
            )
            raise AssertionError(message)
        raise HistoryError([own_problem])

    def _split_event(self) -> HistoryError:
        row = int(self.starts[self.split or 0])
        event_id = self.text["event_id"][row].as_py()
        message = (
            f"event {event_id!r} appears again (its first rows start on "
            f"{'row' if self.cells.rows else 'line'} {self.cells.lines[self.split_first]}); "
            "the rows of one event must be adjacent, and an event id is used by one event only"
        )
        hint = "remove the rows of a re-sent export before reading"
        location = Location(self.cells.source, int(self.cells.lines[row]), 1)
        return HistoryError([Problem(message, ("event_id",), location, "split-event", hint)])

    def _row_reader_error(self, run: int) -> HistoryError | None:
        """The row reader's error for one run of rows (and the row after it, read first)."""
        start = int(self.starts[run])
        end = min(start + int(self.size[start]) + 1, self.count)
        names = [name for name in EVENT_COLUMNS if name in self.cells.table.column_names]
        return _read_rows(self.cells, names, range(start, end))

    def _build(
        self,
        at: Ints,
        offsets: npt.NDArray[np.int32],
        quantity: Ints,
        price: Column,
        payments: Column,
    ) -> pa.Table:
        def absent(name: str) -> Column:
            """The column, null where its cell is empty, in composed form."""
            if name in self.blank:
                return self._null_text()
            column = self.text[name]
            empty = self._empty(name)
            given = self.nulls.get(name)
            if given is not None and np.count_nonzero(empty) == given.null_count:
                column = pa.chunked_array([given])  # its empty cells are the nulls read
            elif empty.any():
                column = pc.if_else(pa.array(empty), pa.scalar(None, pa.string()), column)
            return self._nfc(name, column)

        text = self.text
        event_ids = self._nfc("event_id", text["event_id"])
        if event_ids is not text["event_id"]:
            _refuse_events_made_one(self.cells, event_ids, self.starts)
        columns = {
            "event_id": event_ids,
            "type": text["type"],
            "customer_id": self._nfc("customer_id", text["customer_id"]),
            "at": pa.array(at, pa.int64()).cast(INSTANT),
            "utc_offset": pa.array(offsets, pa.int32()),
            "sku": absent("sku"),
            "category": absent("category"),
            "quantity": pa.array(quantity, pa.int64(), mask=quantity == 0),
            "unit_price": price,
            "purchase_id": absent("purchase_id"),
            "store": absent("store"),
            "reward": absent("reward"),
            "payments": payments,
            "redemption_id": absent("redemption_id"),
            "line": pa.array(self.cells.lines, pa.int64()),
        }
        # No run repeats an id as read (else split-event was raised): so in the table too,
        # when NFC left the ids as they were.
        same_ids = columns["event_id"] is self.text["event_id"]
        starts = self.starts.astype(np.int64, copy=False) if same_ids else None
        facts = CheckedFacts(
            starts=starts, plain=frozenset(self.plain), types=self.types, source=self.cells.source
        )
        return remember(pa.table(columns, schema=HISTORY_SCHEMA), facts)


def _refuse_events_made_one(cells: Cells, event_ids: Column, starts: Ints) -> None:
    """Two events whose ids differ as read but are one id in composed form (``cafe\u0301``
    and ``caf\u00e9``), adjacent or not: the row reader reads them as two events with one
    id, which the engine refuses; so are they here, located at the id's first row as the
    engine's error is, rather than read as the lines of one event (which would merge two
    customers' purchases into one) or left to the engine (which, evaluating a history chunk
    of customers by chunk, would not see two chunks' events at once). The id named is the
    first, in row order, whose second event is met."""
    if len(starts) < 2:
        return
    heads = event_ids.take(positions(starts))
    if len(pc.unique(heads)) == len(heads):
        return
    codes = numpy_of(dictionary(heads).indices)  # in order of first appearance
    before = np.maximum.accumulate(np.concatenate(([-1], codes[:-1])))
    again = int(np.flatnonzero(codes <= before)[0])
    event_id = heads[again].as_py()
    first = pc.index(event_ids, event_id).as_py()
    location = Location(cells.source, int(cells.lines[first]), 1)
    path = (f"event {event_id}",)
    raise HistoryError([Problem(REPEATED_EVENT_ID, path, location, "invalid-event")])


def _all_null(column: Column) -> bool:
    return column.null_count == len(column)


def _read_rows(cells: Cells, names: Sequence[str], rows: Sequence[int]) -> HistoryError | None:
    """Run the CSV row reader over a header and some rows, each row at its own line."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=cells.options.delimiter, lineterminator="\n")
    writer.writerow(names)
    written = 1
    columns = [cells.table[name] for name in names] if rows else []
    shift = 1 if cells.rows else 0  # a table's row 1 is read as line 2, under the header
    for row in rows:
        target = int(cells.lines[row]) + shift
        if target - 1 > written:
            out.write("\n" * (target - 1 - written))
            written = target - 1
        before = out.tell()
        writer.writerow([cell_text(column[row].as_py()) for column in columns])
        written += out.getvalue().count("\n", before)
    out.seek(0)
    try:
        for _ in _csv_history.read_events(out, cells.source, cells.options):
            pass
    except HistoryError as error:
        return _table_rules.as_rows(error, cells)
    return None
