"""Writing a ledger to a file as it is produced: Parquet, CSV or JSON Lines, by extension.

A :class:`LedgerFile` takes one customer's result at a time and writes that customer's
entries at once, so that an engine that yields customers one by one never has the whole
ledger in memory: CSV and JSON Lines go straight to the file, and Parquet keeps at most one
row group (``row_group_entries`` entries) before writing it. The rows are those of
``rewardrules dry-run --format csv`` less its ``date`` and ``points_value``
(docs/json-output.md):

``customer_id, event_id, rule, kind, points, value, units, reason``

``value`` is exact: ``decimal128(38, e)`` in Parquet (``e`` the currency's decimal places),
text in CSV (``4.50``) and a JSON string in JSON Lines (``"4.50"``), never a float. CSV
cells are written as :mod:`rewardrules.tools.export` writes them, neutralised for spreadsheets.

The file is written under a temporary name beside the target and renamed into place when
the writer is closed without an error, so a failed run leaves no half-written ledger.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from rewardrules.engine.ledger import CustomerResult, LedgerEntry
from rewardrules.errors import HistoryError, Problem, RewardRulesError
from rewardrules.money import Currency
from rewardrules.tools._ledger_text import csv_text, json_lines_text
from rewardrules.tools.export import LEDGER_COLUMNS, ledger_row

__all__ = [
    "LEDGER_FILE_FORMATS",
    "ROW_GROUP_ENTRIES",
    "LedgerFile",
    "LedgerFileError",
    "ledger_file_format",
    "ledger_schema",
    "write_ledger",
]

LedgerFileFormat = Literal["parquet", "csv", "jsonl"]
"""The formats a ledger file is written in."""

LEDGER_FILE_FORMATS: Final[dict[str, LedgerFileFormat]] = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
}
"""The ledger file formats, by file extension."""

ROW_GROUP_ENTRIES: Final = 65_536
"""Entries per Parquet row group: what a Parquet ledger holds in memory at most."""


STATISTICS: Final = ("customer_id", "points", "value", "units")
"""The columns whose row groups carry statistics (min, max, null count) in a Parquet ledger:
the customers (entries are in customer order, so a reader skips the row groups of other
customers) and the amounts. Those of the event ids, rules, kinds and reasons were a fifth of
the writer's time and let a reader skip nothing (every row group spans the same few rules
and kinds, and ids and reasons in no order)."""


class LedgerFileError(RewardRulesError, OSError):
    """A ledger file that cannot be written: an unknown extension, a missing folder."""


def ledger_file_format(path: str | os.PathLike[str]) -> LedgerFileFormat:
    """The format of a ledger file, told by its extension.

    Raises:
        LedgerFileError: the extension is not ``.parquet``, ``.csv`` or ``.jsonl``.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in LEDGER_FILE_FORMATS:
        raise LedgerFileError(
            [
                Problem(
                    f"cannot tell the format of the ledger file {os.fspath(path)} from its "
                    "extension; name it .parquet, .csv or .jsonl",
                    code="unknown-format",
                )
            ]
        )
    return LEDGER_FILE_FORMATS[suffix]


def ledger_schema(money: Currency) -> pa.Schema:
    """The Arrow columns of a Parquet ledger; ``value`` has the currency's decimal places."""
    fields: list[pa.Field[Any]] = [
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("rule", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("points", pa.int64()),
        pa.field("value", pa.decimal128(38, money.exponent)),
        pa.field("units", pa.int64()),
        pa.field("reason", pa.string(), nullable=False),
    ]
    return pa.schema(fields)


_INT64: Final = range(-(2**63), 2**63)
"""What the ledger's ``points`` and ``units`` columns hold (Arrow's int64)."""


def append_entry(columns: dict[str, list[Any]], entry: LedgerEntry) -> None:
    """Add one entry to lists of the ledger's columns (:func:`ledger_schema`'s names).

    Raises:
        HistoryError: ``figure-too-large``: the entry's points or units do not fit the
            columns' 64-bit integers (the reference engine computes any size).
    """
    for name, figure in (("points", entry.points), ("units", entry.units)):
        if figure is not None and figure not in _INT64:
            raise _too_large(entry, name, figure)
    columns["customer_id"].append(entry.customer_id)
    columns["event_id"].append(entry.event_id)
    columns["rule"].append(entry.rule)
    columns["kind"].append(entry.kind)
    columns["points"].append(entry.points)
    columns["value"].append(entry.value)
    columns["units"].append(entry.units)
    columns["reason"].append(entry.reason)


def refuse_too_large(entries: Iterable[LedgerEntry]) -> None:
    """Raise the refusal of the first entry whose points, units or value in minor units do
    not fit 64-bit integers (what a report's and a ledger's columns hold), if any.

    Raises:
        HistoryError: ``figure-too-large``, naming the entry's event, rule and figure.
    """
    for entry in entries:
        for name, figure in (
            ("points", entry.points),
            ("units", entry.units),
            ("minor units of value", entry.value_minor),
        ):
            if figure is not None and figure not in _INT64:
                raise _too_large(entry, name, figure)


def _too_large(entry: LedgerEntry, name: str, figure: int) -> HistoryError:
    """The refusal of an entry whose ``name`` (points or units) a ledger table cannot hold."""
    message = (
        f"rule '{entry.rule}' gives customer {entry.customer_id!r} a {entry.kind} entry of "
        f"{figure:,} {name}; a ledger's {name} column holds 64-bit integers (at most "
        f"{2**63 - 1:,}), so this ledger cannot be written, totalled or reported"
    )
    suggestion = (
        "write smaller figures in the program, or see this history's results with "
        "'rewardrules dry-run --format json', which writes integers of any size"
    )
    return HistoryError(
        [
            Problem(
                message=message,
                path=(f"event {entry.event_id}",),
                code="figure-too-large",
                suggestion=suggestion,
            )
        ]
    )


class _Sink:
    """Where the rows of one format go; ``add`` takes one customer, ``add_table`` a table
    of entries (:func:`ledger_schema`'s columns), ``close`` finishes."""

    def add(self, result: CustomerResult) -> None:
        raise NotImplementedError

    def add_table(self, table: pa.Table) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _CsvSink(_Sink):
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._writer = csv.writer(stream, lineterminator="\r\n")
        self._writer.writerow(LEDGER_COLUMNS)

    def add(self, result: CustomerResult) -> None:
        self._writer.writerows(ledger_row(entry) for entry in result.ledger)

    def add_table(self, table: pa.Table) -> None:
        self._stream.write(csv_text(table))

    def close(self) -> None:
        self._stream.close()


class _JsonLinesSink(_Sink):
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def add(self, result: CustomerResult) -> None:
        write = self._stream.write
        for entry in result.ledger:
            row = {"customer_id": entry.customer_id, **entry.to_dict()}
            write(json.dumps(row, ensure_ascii=False))
            write("\n")

    def add_table(self, table: pa.Table) -> None:
        self._stream.write(json_lines_text(table))

    def close(self) -> None:
        self._stream.close()


class _ParquetSink(_Sink):
    """Columns built in lists, written as one row group every ``row_group_entries``.

    A result whose entries are still columns (the batch engine's, see
    :func:`_ledger_rows`) is written from those columns, a run of customers at a time,
    without making its entries.
    """

    def __init__(self, path: Path, money: Currency, row_group_entries: int) -> None:
        self._schema = ledger_schema(money)
        # Every column dictionary-encoded but the event ids: nearly every event has its own
        # id, so their dictionary is the ids again plus a code each (writing one took a
        # third of the writer's time, and the file is smaller without it).
        encoded = [name for name in self._schema.names if name != "event_id"]
        self._writer = pq.ParquetWriter(
            path,
            self._schema,
            use_dictionary=encoded,  # type: ignore[arg-type] # pyarrow takes names; the stubs a bool
            write_statistics=list(STATISTICS),
        )
        self._limit = row_group_entries
        self._columns: dict[str, list[Any]] = {name: [] for name in LEDGER_COLUMNS}
        self._rows: list[Any] = []  # [columns, start, end, customer ids] not yet written
        self._tables: list[pa.Table] = []  # tables given, not yet written
        self._table_rows = 0
        self._reasons: tuple[Any, dict[Any, Any]] = (None, {})
        """Reasons written from one columnar ledger, for its next row groups (only: the
        results of another evaluation may be of another program)."""

    def add(self, result: CustomerResult) -> None:
        self._flush_tables()
        rows = _ledger_rows(result)
        if rows is not None:
            self._add_rows(*rows)
            return
        self._flush_rows()
        columns = self._columns
        for entry in result.ledger:
            append_entry(columns, entry)
            if len(columns["kind"]) >= self._limit:
                self._flush()

    def add_table(self, table: pa.Table) -> None:
        """Tables are written in row groups of exactly ``row_group_entries`` entries (but the
        last), whatever their own lengths: the file is the same however it was cut."""
        self._flush()
        self._flush_rows()
        if not table.num_rows:
            return
        self._tables.append(table.cast(self._schema))
        self._table_rows += table.num_rows
        if self._table_rows >= self._limit:
            self._write_tables(self._table_rows - self._table_rows % self._limit)

    def _write_tables(self, count: int) -> None:
        """Write the first ``count`` entries of the tables given, in row groups of
        ``row_group_entries`` (the last may be shorter), as they are: the writer cuts the
        row groups across the tables' chunks (a copy into one chunk first cost a fifth
        of the writing, for the same bytes)."""
        pending = pa.concat_tables(self._tables)
        self._writer.write_table(pending.slice(0, count), row_group_size=self._limit)
        rest = pending.slice(count)
        self._tables, self._table_rows = ([rest] if rest.num_rows else []), rest.num_rows

    def _add_rows(self, source: Any, start: int, end: int, customer_ids: Any) -> None:
        """Entries ``start`` to ``end`` of a columnar ledger, after those pending."""
        self._flush()
        pending = self._rows
        if pending and (pending[0] is not source or pending[2] != start):
            self._flush_rows()
        if not self._rows:
            self._rows = [source, start, start, customer_ids]
        self._rows[2] = end
        while self._rows and self._rows[2] - self._rows[1] >= self._limit:
            self._flush_rows(self._rows[1] + self._limit)

    def _flush_rows(self, until: int | None = None) -> None:
        """Write the pending columnar entries (up to ``until``)."""
        if not self._rows:
            return
        source, start, end, customer_ids = self._rows
        stop = end if until is None else until
        if stop > start:
            if self._reasons[0] is not source:
                self._reasons = (source, {})
            table = source.table(start, stop, customer_ids, self._schema, self._reasons[1])
            self._writer.write_table(table, row_group_size=self._limit)
        self._rows = [] if stop == end else [source, stop, end, customer_ids]

    def _flush(self) -> None:
        columns = self._columns
        if not columns["kind"]:
            return
        table = pa.Table.from_pydict(columns, schema=self._schema)
        self._writer.write_table(table, row_group_size=self._limit)
        # Emptied in place: ``add`` holds the same dict while it fills a customer's rows.
        for values in columns.values():
            values.clear()

    def close(self) -> None:
        try:
            self._flush_tables()
            self._flush()
            self._flush_rows()
        finally:
            self._writer.close()

    def _flush_tables(self) -> None:
        if self._table_rows:
            self._write_tables(self._table_rows)


class LedgerFile:
    """A ledger file being written, customer by customer; use it as a context manager.

    Attributes:
        entries: how many entries were written so far.

    Args:
        path: the file to write; its extension tells the format (``.parquet``, ``.csv``,
            ``.jsonl``). An existing file is replaced when the writer closes successfully.
        money: the program's currency (it sets the decimal places of a Parquet ``value``).
        row_group_entries: Parquet only: entries per row group.

    Raises:
        LedgerFileError: the extension is unknown, or the file cannot be created.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        money: Currency,
        *,
        row_group_entries: int = ROW_GROUP_ENTRIES,
    ) -> None:
        if row_group_entries < 1:
            raise ValueError(f"row_group_entries must be at least 1 (got {row_group_entries})")
        self.path = Path(path)
        self.format = ledger_file_format(self.path)
        self.entries = 0
        self._partial = self.path.with_name(f".{self.path.name}.partial")
        try:
            self._sink = self._open(money, row_group_entries)
        except OSError as error:
            raise _cannot_write(self.path, error) from None

    def _open(self, money: Currency, row_group_entries: int) -> _Sink:
        if self.format == "parquet":
            return _ParquetSink(self._partial, money, row_group_entries)
        stream = self._partial.open("w", encoding="utf-8", newline="")
        return _CsvSink(stream) if self.format == "csv" else _JsonLinesSink(stream)

    def write(self, result: CustomerResult) -> None:
        """Write one customer's ledger entries, in ledger order."""
        rows = _ledger_rows(result)
        try:
            self._sink.add(result)
        except OSError as error:
            raise _cannot_write(self.path, error) from None
        self.entries += rows[2] - rows[1] if rows is not None else len(result.ledger)

    def write_table(self, table: pa.Table) -> None:
        """Write some entries given as a table of :func:`ledger_schema`'s columns, in order
        (``rewardrules.tools.ledger_sums.ledger_pieces`` makes them), after those written."""
        try:
            self._sink.add_table(table)
        except OSError as error:
            raise _cannot_write(self.path, error) from None
        self.entries += table.num_rows

    def close(self) -> None:
        """Finish the file and move it into place."""
        try:
            self._sink.close()
            self._partial.replace(self.path)
        except OSError as error:
            self.discard()
            raise _cannot_write(self.path, error) from None

    def discard(self) -> None:
        """Stop writing and remove what was written; the target is left as it was."""
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            self._sink.close()
        with contextlib.suppress(OSError):
            self._partial.unlink()

    def __enter__(self) -> LedgerFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.discard()


def _ledger_rows(result: CustomerResult) -> tuple[Any, int, int, Any] | None:
    """Where a result's entries are in a columnar ledger, when they are still columns.

    The batch engine's results say so with ``ledger_rows()`` (``rewardrules.evaluation.batch``):
    the ledger's columns (with ``table(start, end, customer_ids, schema)``), the first
    and one past the last position, and the customer ids. Any other result gives None.
    """
    rows = getattr(result, "ledger_rows", None)
    found: tuple[Any, int, int, Any] | None = rows() if callable(rows) else None
    return found


def _cannot_write(path: Path, error: OSError) -> LedgerFileError:
    reason = error.strerror or str(error)
    return LedgerFileError(
        [
            Problem(
                f"cannot write the ledger file {path}: {reason} "
                "(check that its folder exists and can be written to)",
                code="unwritable",
            )
        ]
    )


def write_ledger(
    results: Iterable[CustomerResult],
    path: str | os.PathLike[str],
    money: Currency,
    *,
    row_group_entries: int = ROW_GROUP_ENTRIES,
) -> int:
    """Write every customer's ledger entries to a file, customer by customer.

    Each result is written as it comes, so a lazy iterable of results (an engine that
    yields customers one by one) is never held whole.

    Args:
        results: per-customer results, such as ``evaluation.customers``.
        path: the file; ``.parquet``, ``.csv`` or ``.jsonl``.
        money: the program's currency (``evaluation.money``).
        row_group_entries: Parquet only: entries per row group.

    Returns:
        How many entries were written.

    Raises:
        LedgerFileError: the extension is unknown or the file cannot be written.
    """
    with LedgerFile(path, money, row_group_entries=row_group_entries) as ledger:
        for result in results:
            ledger.write(result)
    return ledger.entries
