"""Reading CSV exports on the command line: each file's dialect, its settings, every error.

A history or customers file in CSV is read with the dialect detected from its own bytes
(:func:`rewardrules.histories.exports.detect_dialect`) unless the command line or the file's
settings file (``orders.map.yaml`` beside ``orders.csv``) tells it; what was detected is said
on standard error. Column names and local times rewrite the text first
(:func:`rewardrules.histories.exports.prepare`), for the row reader and the table reader
alike. A file with bad records reports each, up to ``--max-errors``.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

import click
import pyarrow as pa

from rewardrules._zones import zone as zone_named
from rewardrules.errors import HistoryError, Location, Problem
from rewardrules.events import AnyEvent, Customer
from rewardrules.histories import _csv as _csv_history
from rewardrules.histories import read as _read
from rewardrules.histories._all_errors import every_problem
from rewardrules.histories._records import CsvOptions
from rewardrules.histories.columns import read_history_table
from rewardrules.histories.exports import (
    Dialect,
    ExportSettings,
    Fold,
    detect_dialect,
    prepare,
    read_settings_file,
    settings_file,
)

_Item = TypeVar("_Item")
_SAMPLE = 1 << 20  # bytes looked at to detect a dialect


@dataclass(frozen=True)
class Told:
    """What the command line told about reading a file; None where it said nothing."""

    delimiter: str | None = None
    decimal_comma: bool | None = None
    encoding: str | None = None
    columns: tuple[tuple[str, str], ...] = ()
    local_times: str | None = None  # a zone name, or "program"
    program_zone: str | None = None
    fold: Fold | None = None


@dataclass(frozen=True)
class Export:
    """One CSV file, as it is to be read."""

    name: str
    dialect: Dialect
    settings: ExportSettings
    customers: bool
    text: str | None  # the rewritten text, when the file needs rewriting

    @property
    def options(self) -> CsvOptions:
        """The reader's CSV options for this file."""
        return CsvOptions(self.dialect.delimiter, self.dialect.decimal_comma)

    @property
    def codec_name(self) -> str:
        """The encoding the file is read in."""
        return self.dialect.encoding


def open_export(name: str, data: bytes | None, told: Told, customers: bool) -> Export:
    """Detect a CSV file's dialect, read its settings file, and rewrite it if it needs it.

    ``data`` is the file's bytes when already read (standard input); else the file is read.

    Raises:
        HistoryError: a bad settings file, a mapped column missing, a local time that does
            not exist, or ``--local-times`` without a zone.
    """
    found = settings_file(name) if data is None else None
    given = read_settings_file(found) if found is not None else {}
    columns = dict(given.get("columns", {}))  # type: ignore[call-overload]
    if not customers:
        columns.update(dict(told.columns))
    local = told.local_times or ("program" if given.get("timestamps") == "local" else None)
    zone = None
    if local is not None:
        name_of_zone = told.program_zone if local == "program" else local
        if name_of_zone is None:
            message = (
                "--local-times needs a time zone here, as there is no program: --local-times ZONE"
            )
            raise HistoryError([Problem(message, code="bad-option")])
        zone = zone_named(name_of_zone)
    fold: Fold = told.fold or given.get("fold", "earlier")  # type: ignore[assignment]
    settings = ExportSettings(
        delimiter=told.delimiter if told.delimiter is not None else given.get("delimiter"),  # type: ignore[arg-type]
        decimal_comma=(
            told.decimal_comma if told.decimal_comma is not None else given.get("decimal_comma")  # type: ignore[arg-type]
        ),
        encoding=told.encoding if told.encoding is not None else given.get("encoding"),  # type: ignore[arg-type]
        columns=columns,
        zone=zone,
        fold=fold,
        columns_from="--columns" if told.columns else (found or "--columns"),
    )
    if customers:
        settings = ExportSettings(
            given.get("delimiter"),  # type: ignore[arg-type]
            given.get("decimal_comma"),  # type: ignore[arg-type]
            given.get("encoding"),  # type: ignore[arg-type]
            columns,
            zone,
            fold,
            found or "--columns",
        )
    sample = data if data is not None else _start_of(name)
    amounts = () if customers else ("unit_price",)
    dialect = detect_dialect(sample, settings, amounts)
    if settings.encoding is not None:
        _read._codec(settings.encoding)  # an unknown encoding is said now
    text = None
    if columns or zone is not None:
        try:
            whole = data if data is not None else _whole(name)
        except OSError:
            whole = None  # the reader says why
        decoded = None if whole is None else _decoded(whole, dialect.encoding)
        if decoded is not None:
            times = ("joined_at",) if customers else ("at",)
            text = prepare(decoded, name, dialect, settings, times)
    return Export(name, dialect, settings, customers, text)


def say_dialect(export: Export, said: set[str]) -> None:
    """Say on standard error what was detected about a file, once per file."""
    line = export.dialect.describe(export.name)
    if line is not None and export.name not in said:
        said.add(export.name)
        click.echo(line, err=True)


def read_events(export: Export, fmt: _read.Format | None, max_errors: int) -> Iterator[AnyEvent]:
    """The events of a CSV export, every bad record reported up to ``max_errors``."""
    if export.text is not None:
        events = _read.parse_history_text(
            export.text,
            "csv",
            source=export.name,
            delimiter=export.dialect.delimiter,
            decimal_comma=export.dialect.decimal_comma,
        )
    else:
        events = _read.read_history(
            export.name,
            format=fmt,
            delimiter=export.dialect.delimiter,
            decimal_comma=export.dialect.decimal_comma,
            encoding=export.dialect.encoding,
        )
    return every_record(events, export, max_errors)


def read_customer_rows(export: Export, max_errors: int) -> Iterator[Customer]:
    """The customers of a CSV export, every bad record reported up to ``max_errors``."""
    if export.text is not None:
        stream = io.StringIO(export.text, newline="")
        profiles: Iterator[Customer] = _read._parse(
            stream, export.name, "csv", _read._CUSTOMERS, export.options
        )
    else:
        profiles = _read.read_customers(
            export.name, format="csv", delimiter=export.dialect.delimiter,
            encoding=export.dialect.encoding,
        )  # fmt: skip
    return every_record(profiles, export, max_errors)


def read_table(export: Export, fmt: _read.Format | None, max_errors: int) -> pa.Table:
    """The history table of a CSV export, every bad record reported up to ``max_errors``."""
    try:
        if export.text is not None:
            return read_history_table(
                io.BytesIO(export.text.encode()),
                format="csv",
                delimiter=export.dialect.delimiter,
                decimal_comma=export.dialect.decimal_comma,
                source=export.name,
            )
        return read_history_table(
            export.name,
            format=fmt,
            delimiter=export.dialect.delimiter,
            decimal_comma=export.dialect.decimal_comma,
            encoding=export.dialect.encoding,
        )
    except HistoryError as error:
        raise more_problems(error, export, max_errors) from None


def locate(export: Export, event_id: str) -> Location | None:
    """Where an event starts in a rewritten CSV export."""
    found = _csv_history.find_event(
        io.StringIO(export.text or "", newline=""), event_id, export.dialect.delimiter
    )
    return None if found is None else Location(export.name, *found)


def every_record(records: Iterator[_Item], export: Export, max_errors: int) -> Iterator[_Item]:
    """The records as read; at a bad one, the error of every bad record up to ``max_errors``."""
    try:
        yield from records
    except HistoryError as error:
        raise more_problems(error, export, max_errors) from None


def more_problems(error: HistoryError, export: Export, max_errors: int) -> HistoryError:
    """The error of every bad record of an export, read again past each."""
    text = export.text
    if text is None:
        try:
            text = _whole(export.name).decode(_read._codec(export.dialect.encoding))
        except (OSError, UnicodeDecodeError, HistoryError):
            return _local_times_hint(error, export)
    every = every_problem(
        error, text, export.name, "csv", export.options, max_errors, export.customers
    )
    return _local_times_hint(every, export)


LOCAL_TIMES_HINT = (
    "if the file's times are local times of the program's time zone, read them with --local-times"
)


def _local_times_hint(error: HistoryError, export: Export) -> HistoryError:
    """Say how to read times without an offset, on the command line, where it is possible."""
    if export.settings.zone is not None:
        return error
    return HistoryError(
        dataclasses.replace(problem, suggestion=LOCAL_TIMES_HINT)
        if problem.code == "naive-timestamp" and problem.suggestion is None
        else problem
        for problem in error.problems
    )


def more_jsonl_problems(
    error: HistoryError, name: str, encoding: str, max_errors: int, customers: bool
) -> HistoryError:
    """The error of every bad record of a JSON Lines file."""
    try:
        text = _whole(name).decode(_read._codec(encoding))
    except (OSError, UnicodeDecodeError, HistoryError):
        return error
    return every_problem(error, text, name, "jsonl", CsvOptions(), max_errors, customers)


def _start_of(name: str) -> bytes:
    try:
        with open(name, "rb") as stream:
            return stream.read(_SAMPLE)
    except OSError:
        return b""  # the reader says why


def _whole(name: str) -> bytes:
    with open(name, "rb") as stream:
        return stream.read()


def _decoded(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(_read._codec(encoding))
    except (UnicodeDecodeError, HistoryError):
        return None  # the reader, reading the file itself, says where
