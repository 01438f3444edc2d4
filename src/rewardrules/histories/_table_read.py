"""Reading history and customer files into Arrow tables (``read_history_table``).

- **CSV** is read by pyarrow, every column as text, when the file has no quote and one row
  per line (so that row i is line i + 2); otherwise by Python's csv module, as the row
  reader reads it. Either way the cells are then checked column-wise
  (:mod:`rewardrules.histories._table_checks`).
- **Parquet** columns may be text or typed (timestamp with a time zone, decimal, integer);
  a row's place is its 1-based row number.
- **JSON Lines and JSON** hold nested objects whose amounts pyarrow's JSON reader would
  read through binary floating point, so they are read by the row reader, event by event,
  and put in columns with the line each event starts on.

Every error is the row reader's, located at the same line: decoding errors, CSV syntax and
JSON syntax are found by running the row reader itself on the input.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import stat
import tempfile
from collections.abc import Iterator
from typing import IO, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from rewardrules.errors import HistoryError, Location, Problem
from rewardrules.events import AnyEvent, Customer, ReferralQualified
from rewardrules.histories import _csv as _csv_history
from rewardrules.histories import _json as _json_history
from rewardrules.histories import read as histories
from rewardrules.histories._records import CsvOptions, located
from rewardrules.histories._table_checks import EVENT_COLUMNS, Cells, check_header, history_table
from rewardrules.histories._table_rules import dictionary, empty, is_text, nfc
from rewardrules.histories.columns import (
    HISTORY_SCHEMA,
    customers_to_table,
    events_to_table,
)

TableFormat = Literal["csv", "jsonl", "json", "parquet"]
"""The formats a history table is read from."""

PathOrStream = str | os.PathLike[str] | IO[bytes]

_REQUIRED = _csv_history._EVENT_COLUMNS
_OPTIONAL = _csv_history._OPTIONAL_EVENT_COLUMNS
_KEPT = ("utc_offset", "line")  # columns of a written history table, read back


def read_history_table(
    path_or_stream: PathOrStream,
    *,
    format: TableFormat | None = None,
    delimiter: str = ",",
    decimal_comma: bool = False,
    encoding: str = "utf-8",
    source: str | None = None,
) -> pa.Table:
    """Read a history file into a table of :data:`~rewardrules.histories.columns.HISTORY_SCHEMA`.

    Args:
        path_or_stream: a file, or a binary stream (such as ``sys.stdin.buffer``).
        format: ``"csv"``, ``"jsonl"``, ``"json"`` or ``"parquet"``; told by the file's
            extension when not given (a stream needs it).
        delimiter: as for :func:`~rewardrules.histories.read.read_history`.
        decimal_comma: as for :func:`~rewardrules.histories.read.read_history`.
        encoding: as for :func:`~rewardrules.histories.read.read_history` (text formats only).
        source: the name errors show; the path, or ``<stream>``, by default.

    Returns:
        One row per purchase line, refund line or whole refund, redemption and
        cancellation, in file order, with the line (or Parquet row) each came from in ``line``.

    Raises:
        HistoryError: the first problem the row reader would report, at the same place; or
            a Parquet column of a type that cannot hold its values exactly.
    """
    name, data, path = _open(path_or_stream, source, format)
    fmt = _format_of(name, format, path is not None)
    options = histories._csv_options(fmt, delimiter, decimal_comma)
    if fmt == "parquet":
        if encoding != "utf-8":
            raise HistoryError([Problem("encoding applies to text files only", code="bad-option")])
        return history_table(_parquet_cells(data, name))
    codec = histories._codec(encoding)
    if fmt == "csv" and data.isascii():  # the common case: no need to decode to check
        fast = _pyarrow_cells(data, name, options, codec)
        if fast is not None:
            return history_table(fast)
    text = _decode(data, name, codec, path)
    if fmt == "csv":
        fast = None if data.isascii() else _pyarrow_cells(data, name, options, codec)
        return history_table(fast or _python_cells(text, name, options))
    return _json_table(text, name, fmt)


def read_customers_table(
    path_or_stream: PathOrStream,
    *,
    format: TableFormat | None = None,
    delimiter: str = ",",
    encoding: str = "utf-8",
    source: str | None = None,
) -> pa.Table:
    """Read customer profiles into a table of
    :data:`~rewardrules.histories.columns.CUSTOMERS_SCHEMA`.

    Profiles are few next to events: each is checked by the row reader
    (:func:`~rewardrules.histories.read.read_customers`); a Parquet row is checked the same way,
    its place being its row number.

    Raises:
        HistoryError: as :func:`~rewardrules.histories.read.read_customers` raises it.
    """
    name, data, path = _open(path_or_stream, source, format)
    fmt = _format_of(name, format, path is not None)
    if fmt == "parquet":
        table = _parquet(data, name)
        return customers_to_table(_parquet_customers(table, name))
    options = histories._csv_options(fmt, delimiter, False)
    text = _decode(data, name, histories._codec(encoding), path)
    stream = io.StringIO(text, newline="")
    profiles = histories._parse(stream, name, fmt, histories._CUSTOMERS, options)
    return customers_to_table(profiles)


# --- opening and decoding
def _open(
    path_or_stream: PathOrStream, source: str | None, given: str | None
) -> tuple[str, bytes, str | None]:
    """The name to show, the bytes, and the path if the input is a file."""
    if isinstance(path_or_stream, str | os.PathLike):
        path = os.fspath(path_or_stream)
        name = path if source is None else source
        _format_of(name, given, True)  # an unknown extension is said before the file is read
        try:
            mode = os.stat(path).st_mode
            if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
                message = f"cannot read {name}: it is not a regular file (a device, a pipe...)"
                raise HistoryError([Problem(message, code="not-a-file")])
            with open(path, "rb") as stream:
                return name, stream.read(), path
        except OSError as exc:
            raise histories._unreadable(name, exc) from None
    name = source or str(getattr(path_or_stream, "name", "<stream>"))
    data = path_or_stream.read()
    return name, data.encode() if isinstance(data, str) else bytes(data), None


def _format_of(name: str, given: str | None, is_path: bool) -> TableFormat:
    if given is None and not is_path:
        message = "a history read from a stream needs its format: csv, jsonl, json or parquet"
        raise HistoryError([Problem(message, code="unknown-format")])
    return histories._format_of(name, given)


def decode_history(data: bytes, name: str, encoding: str) -> str:
    """The text of a history read as bytes (standard input), or the row reader's error.

    Raises:
        HistoryError: an unknown encoding; a byte it cannot read, located as in a file.
    """
    return _decode(data, name, histories._codec(encoding), None)


def _decode(data: bytes, name: str, codec: str, path: str | None) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        pass
    if path is not None and name == path:
        raise histories._not_decodable(path, codec)
    with tempfile.TemporaryDirectory() as folder:  # the finder reads a file: give it one
        copy = os.path.join(folder, "history")
        with open(copy, "wb") as stream:
            stream.write(data)
        error = histories._not_decodable(copy, codec)
    problems = [
        Problem(
            p.message,
            p.path,
            None if p.location is None else Location(name, p.location.line, p.location.column),
            p.code,
            p.suggestion,
        )
        for p in error.problems
    ]
    raise HistoryError(problems)


# --- CSV
_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
_FEW_VALUES = ("type", "quantity", "unit_price")  # read as dictionaries: checked per value


def _pyarrow_cells(data: bytes, name: str, options: CsvOptions, codec: str) -> Cells | None:
    """The cells, read by pyarrow, when each row is one line; None when not so simple.

    ``data`` is known to decode with ``codec``.
    """
    if not data:
        return None
    if codec == "utf-8-sig":
        body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    else:
        body = data.decode(codec).encode()
    header_end = body.find(b"\n")
    if header_end < 0:
        return None
    if b"\r" in body and body.count(b"\r\n") != body.count(b"\r"):
        return None  # a lone carriage return: Python's csv module counts it as a line
    header = body[:header_end].decode().rstrip("\r")
    quoted = b'"' in body
    if '"' in header:
        return None
    for _ in _csv_history.read_events(io.StringIO(header + "\n"), name, options):
        pass  # the header's problems, as the row reader words them
    names = header.split(options.delimiter)
    try:
        table = pa_csv.read_csv(
            io.BytesIO(body),
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1),
            # A blank line is then a row of empty cells, found below: every line is a row.
            parse_options=pa_csv.ParseOptions(
                delimiter=options.delimiter,
                quote_char='"' if quoted else False,
                ignore_empty_lines=False,
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={
                    column: _DICTIONARY if column in _FEW_VALUES else pa.string()
                    for column in names
                },
                strings_can_be_null=False,
                null_values=[],
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # a row of the wrong width, and such: the row reader will say
    table = table.combine_chunks()
    if table.num_rows and (_longest(table) > _CELL_LIMIT or empty(table["event_id"]).any()):
        return None  # a blank line (read as a row of empty cells), or a bad row: to the slow path
    if quoted and not _quotes_agree(body, table, names, options):
        return None
    return Cells(table, np.arange(2, table.num_rows + 2, dtype=np.int64), name, options)


_CELL_LIMIT = 131072  # Python's csv field limit: longer cells are the row reader's error
_FEW_QUOTED = 0.05  # above this share of quoted lines, Python's csv module reads the file


def _quotes_agree(body: bytes, table: pa.Table, names: list[str], options: CsvOptions) -> bool:
    """Whether Python's csv module reads each line with a quote into pyarrow's cells.

    pyarrow is laxer than the row reader with a quote in the middle of a cell or text after
    a closing quote; the lines with a quote (few, in most exports) are read again to be sure.
    """
    raw = np.frombuffer(body, np.uint8)
    breaks = np.flatnonzero(raw == ord("\n"))
    lines = np.unique(np.searchsorted(breaks, np.flatnonzero(raw == ord('"'))))
    if len(lines) > _FEW_QUOTED * max(table.num_rows, 1):
        return False
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(body)]))
    for line in lines.tolist():
        text = body[starts[line] : ends[line]].decode().rstrip("\r")
        try:
            cells = next(csv.reader([text], delimiter=options.delimiter, strict=True))
        except csv.Error:
            return False
        row = line - 1
        if row >= table.num_rows or cells != [table[name][row].as_py() for name in names]:
            return False
    return True


def _longest(table: pa.Table) -> int:
    """The longest cell of a table of text, in bytes (of a dictionary's values)."""
    longest = 0
    for column in table.columns:
        cells: Any = (
            dictionary(column).dictionary if pa.types.is_dictionary(column.type) else column
        )
        longest = max(longest, pc.max(pc.binary_length(cells)).as_py() or 0)
    return longest


def _python_cells(text: str, name: str, options: CsvOptions) -> Cells:
    """The cells, read by the row reader's own tokenizer: exact lines, quotes and errors."""
    stream = io.StringIO(text, newline="")
    columns, rows = _csv_history._csv_table(
        stream, name, options, _REQUIRED, _OPTIONAL, _csv_history._TWO_UNITS_HINT
    )
    names = list(columns)
    cells: list[list[str]] = [[] for _ in names]
    lines: list[int] = []
    where = [columns[column] for column in names]
    try:
        for line, row in rows:
            lines.append(line)
            for values, index in zip(cells, where, strict=True):
                values.append(row[index])
    except HistoryError:
        _raise_row_reader_error(text, name, options)
        raise
    table = pa.table(
        {column: pa.array(values, pa.string()) for column, values in zip(names, cells, strict=True)}
    )
    return Cells(table, np.array(lines, np.int64), name, options)


def _raise_row_reader_error(text: str, name: str, options: CsvOptions) -> None:
    """Read the whole text with the row reader, to raise the first error it meets."""
    stream = io.StringIO(text, newline="")
    for _ in histories._parse(stream, name, "csv", histories._EVENTS, options):
        pass


# --- Parquet
def _parquet(data: bytes, name: str) -> pa.Table:
    try:
        schema = pq.read_schema(pa.BufferReader(data))
        # Text columns of few values come as dictionaries, as Parquet stores them: each
        # distinct value is then checked once, with no hashing.
        few = [
            column
            for column in _FEW_VALUES
            if column in schema.names and pa.types.is_string(schema.field(column).type)
        ]
        return pq.read_table(pa.BufferReader(data), read_dictionary=few)
    except (pa.ArrowInvalid, OSError) as exc:
        message = f"cannot read {name} as Parquet: {exc}"
        raise HistoryError([Problem(message, code="not-parquet")]) from None


def _parquet_cells(data: bytes, name: str) -> Cells:
    table = _parquet(data, name)
    names = [column for column in table.column_names if column not in _KEPT]
    check_header(names, name, CsvOptions())
    kept = table.select([column for column in EVENT_COLUMNS if column in names])
    lines = np.arange(1, table.num_rows + 1, dtype=np.int64)
    return Cells(kept, lines, name, CsvOptions(), rows=True)


def _parquet_customers(table: pa.Table, name: str) -> Iterator[Customer]:
    for index, row in enumerate(table.to_pylist(), start=1):
        cells = {key: value for key, value in row.items() if value is not None}
        for key in ("joined_at", "tier_until"):  # typed Parquet: a timestamp, not text
            if key in cells and not isinstance(cells[key], str):
                cells[key] = cells[key].isoformat()
        try:
            yield _json_history.customer_from_object(cells)
        except ValueError as exc:  # a RecordError or a pydantic ValidationError
            raise located(exc, name, index) from None  # type: ignore[arg-type]


# --- JSON Lines and JSON
class _CountedLines:
    """A text stream that counts the lines read from it: the line of the event just read."""

    def __init__(self, text: str) -> None:
        self.stream = io.StringIO(text, newline="")
        self.number = 0

    def readline(self, limit: int = -1) -> str:
        line = self.stream.readline(limit)
        if line:
            self.number += 1
        return line

    def read(self, limit: int = -1) -> str:
        return self.stream.read(limit)


def _json_table(text: str, name: str, fmt: str) -> pa.Table:
    counted = _CountedLines(text)
    events: list[AnyEvent] = []
    lines: list[int] = []
    for event in histories._parse(counted, name, fmt, histories._EVENTS, CsvOptions()):  # type: ignore[arg-type]
        events.append(event)
        lines.append(counted.number)
    return _table_of(events, _json_lines(text, fmt, lines), name)


def _json_lines(text: str, fmt: str, lines: list[int]) -> list[int]:
    """The line of each event read: as counted for JSON Lines, of its ``{`` in JSON."""
    if fmt != "json":
        return lines
    starts = _json_history._json_elements(text, histories._EVENTS.top_key)
    found = []
    for offset, _ in itertools.islice(starts, len(lines)):
        found.append(_json_history._line_column(text, offset)[0])
    return found


def _table_of(events: list[AnyEvent], lines: list[int], name: str) -> pa.Table:
    for event, line in zip(events, lines, strict=True):
        if isinstance(event, ReferralQualified):
            message = (
                f"a {event.type} is not a row of a history table; read this file with "
                "read_history and pass its events to evaluate"
            )
            location = Location(name, line, 1)
            raise HistoryError([Problem(message, ("type",), location, "unknown-type")])
    table = events_to_table(events)
    counts = [len(getattr(event, "lines", None) or ()) or 1 for event in events]
    line_column = pa.array(np.repeat(np.array(lines, np.int64), counts), pa.int64())
    table = table.set_column(HISTORY_SCHEMA.get_field_index("line"), "line", line_column)
    for column in ("event_id", "customer_id", "purchase_id", "reward", "redemption_id"):
        index = HISTORY_SCHEMA.get_field_index(column)
        table = table.set_column(index, HISTORY_SCHEMA.field(column), nfc(table[column]))
    return table


__all__ = ["TableFormat", "is_text", "read_customers_table", "read_history_table"]
