"""Reading histories and customer profiles from CSV, JSON Lines and JSON files.

The format is told by the extension unless given: ``.csv``, ``.jsonl`` (or ``.ndjson``)
and ``.json``. CSV and JSON Lines are read row by row, so a history of any size streams. A
``.json`` document is read into memory as text (its events are still built one at a time),
so a very large history is better written as JSON Lines or CSV.

Money never passes through float: JSON numbers are read as ``Decimal`` and CSV amounts are
parsed from their text. Anything wrong with a file (its bytes, its syntax, one of its
records) raises :class:`~rewardrules.errors.HistoryError` naming the file, the line and the
field; the records before the bad one have been yielded already. ``docs/histories.md``
describes the formats.

A JSON or JSON Lines history may also hold referrals (``"type": "referral"``, read as
:class:`~rewardrules.events.ReferralQualified`), to evaluate a referrer without the friend's
history; CSV has no columns for them and refuses a ``referral`` row, saying so.

This module holds the public functions, tells the formats apart and opens the files; the
CSV reader is :mod:`rewardrules.histories._csv`, the JSON and JSON Lines reader
:mod:`rewardrules.histories._json`, and what they share :mod:`rewardrules.histories._records`.
"""

from __future__ import annotations

import codecs
import io
import os
import stat
from collections.abc import Iterable, Iterator
from typing import IO, Literal

from rewardrules.errors import HistoryError, Location, Problem
from rewardrules.events import AnyEvent, Customer
from rewardrules.histories import _csv as _csv_history
from rewardrules.histories import _json as _json_history
from rewardrules.histories._records import CsvOptions, Kind, Record, history_error, records

Format = Literal["csv", "jsonl", "json", "parquet"]
"""The history file formats."""

_FORMATS: dict[str, Format] = {
    "csv": "csv",
    "jsonl": "jsonl",
    "ndjson": "jsonl",
    "json": "json",
    "parquet": "parquet",
}
# The encodings a history may be read in, by codec name: UTF-8, and the two that
# spreadsheets on Windows write. Each writes a newline as the byte 0x0A and nothing else.
_ENCODINGS = {
    "utf-8": "utf-8-sig",
    "utf-8-sig": "utf-8-sig",
    "cp1252": "cp1252",
    "iso8859-1": "latin-1",
}
_UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")


class HistoryEvents(Iterator[AnyEvent]):
    """A history file's events, read as they are consumed, and the file they come from.

    ``source`` lets an engine that reads the events as a whole (the batch engine) name the
    file in what it says about them.
    """

    __slots__ = ("_events", "source")

    def __init__(self, events: Iterator[AnyEvent], source: str) -> None:
        self._events = events
        self.source = source

    def __iter__(self) -> HistoryEvents:
        return self

    def __next__(self) -> AnyEvent:
        return next(self._events)


def read_history(
    path: str | os.PathLike[str],
    *,
    format: Format | None = None,
    delimiter: str = ",",
    decimal_comma: bool = False,
    encoding: str = "utf-8",
) -> Iterator[AnyEvent]:
    """Read a history file into its events, lazily and in file order.

    Args:
        path: the file; its extension tells the format unless ``format`` is given.
        format: ``"csv"``, ``"jsonl"``, ``"json"`` or ``"parquet"``. A Parquet file is
            read whole into a table (:func:`~rewardrules.histories.columns.read_history_table`),
            whose rows become events as they are consumed.
        delimiter: CSV only: the character between cells, such as ``";"``.
        decimal_comma: CSV only: amounts are written ``4,50``; needs another delimiter than
            ``","``.
        encoding: ``"utf-8"`` (a byte order mark is fine), or ``"cp1252"`` or ``"latin-1"``
            for a file a spreadsheet saved in a Windows encoding.

    Returns:
        An iterator of purchases, refunds and redemptions (and, from JSON or JSON Lines,
        referrals), read as it is consumed; its ``source`` is the file's name, which the
        batch engine names when it refuses an amount of these events.

    Raises:
        HistoryError: at once if the format or an option is wrong or the file cannot be
            opened; while iterating, at the first record that cannot be read.
    """
    source = os.fspath(path)
    fmt = _format_of(source, format)
    options = _csv_options(fmt, delimiter, decimal_comma)
    if fmt == "parquet":
        from rewardrules.histories.columns import read_history_table, table_to_events  # noqa: PLC0415 -- columns imports this module

        events = table_to_events(read_history_table(path, format=fmt), source)
        return HistoryEvents(events, source)
    return HistoryEvents(_read(source, fmt, _EVENTS, options, _codec(encoding)), source)


def read_customers(
    path: str | os.PathLike[str],
    *,
    format: Format | None = None,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> Iterator[Customer]:
    """Read customer profiles (``customer_id``, ``joined_at``, ``birthday``, ``referred_by``).

    Args:
        path: a CSV, JSON Lines, JSON or Parquet file; its extension tells the format
            unless given.
        format: ``"csv"``, ``"jsonl"``, ``"json"`` or ``"parquet"``.
        delimiter: CSV only: the character between cells.
        encoding: as for :func:`read_history`.

    Returns:
        An iterator of customers, read as it is consumed.

    Raises:
        HistoryError: as for :func:`read_history`.
    """
    source = os.fspath(path)
    fmt = _format_of(source, format)
    options = _csv_options(fmt, delimiter, False)
    if fmt == "parquet":
        from rewardrules.histories.columns import read_customers_table, table_to_customers  # noqa: PLC0415 -- columns imports this module

        return table_to_customers(read_customers_table(path, format=fmt), source)
    return _read(source, fmt, _CUSTOMERS, options, _codec(encoding))


def parse_history_text(
    text: str,
    format: Format,
    *,
    source: str = "<text>",
    delimiter: str = ",",
    decimal_comma: bool = False,
) -> Iterator[AnyEvent]:
    """Read events from text already in memory, such as standard input.

    Args:
        text: the whole history.
        format: ``"csv"``, ``"jsonl"`` or ``"json"``.
        source: the name shown in error locations.
        delimiter: as for :func:`read_history`.
        decimal_comma: as for :func:`read_history`.

    Raises:
        HistoryError: at once if an option is wrong; while iterating, at the first record
            that cannot be read.
    """
    fmt = _format_of(source, format)
    options = _csv_options(fmt, delimiter, decimal_comma)
    if fmt == "parquet":
        message = "a Parquet history is binary, not text: read it with read_history_table"
        raise HistoryError([Problem(message, code="bad-option")])
    return _parse(io.StringIO(text, newline=""), source, fmt, _EVENTS, options)


def locate_event(
    path: str | os.PathLike[str],
    event_id: str,
    *,
    format: Format | None = None,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> Location | None:
    """Find where an event starts in a history file, to point an error about it there.

    Events do not know where they were read from, so an error found while evaluating them
    names the event only; this reads the file again to find it. CSV and JSON Lines are read
    only as far as the event; a ``.json`` text is read whole, as :func:`read_history` does.

    Args:
        path: the history file; its extension tells the format unless ``format`` is given.
        event_id: the event's id (``event_id`` in CSV, ``id`` in JSON).
        format: ``"csv"``, ``"jsonl"`` or ``"json"``.
        delimiter: as for :func:`read_history`.
        encoding: as for :func:`read_history`.

    Returns:
        The location of the first CSV row of the event, of its JSON Lines line (column 1),
        or of the ``{`` of its object in JSON. None if no event has that id, or the file
        cannot be read as far as the event: missing, not UTF-8, not valid CSV or JSON. In
        JSON Lines only the lines that may hold the id are decoded.

    Raises:
        HistoryError: if the format or an option is wrong, as for :func:`read_history`.
    """
    source = os.fspath(path)
    fmt = _format_of(source, format)
    options = _csv_options(fmt, delimiter, False)
    if fmt == "parquet":
        return _locate_in_parquet(source, event_id)
    try:
        with open(source, encoding=_codec(encoding), newline="") as stream:
            if fmt == "csv":
                found = _csv_history.find_event(stream, event_id, options.delimiter)
            elif fmt == "jsonl":
                found = _json_history.find_jsonl_event(stream, event_id)
            else:
                found = _json_history.find_json_event(stream.read(), _EVENTS.top_key, event_id)
    except (OSError, UnicodeDecodeError):
        return None
    return None if found is None else Location(source, *found)


def _format_of(source: str, given: str | None) -> Format:
    if given is not None:
        fmt = _FORMATS.get(given)
        message = f"unknown format {given!r}; use 'csv', 'jsonl', 'json' or 'parquet'"
    else:
        fmt = _FORMATS.get(os.path.splitext(source)[1].lower().lstrip("."))
        message = (
            f"cannot tell the format of {source} from its extension; "
            "name it .csv, .jsonl, .json or .parquet, or give the format"
        )
    if fmt is None:
        hint = None
        if given is None:  # "give the format" must say how, where each reader is
            hint = "format='csv' from Python, --history-format csv on the command line"
        raise HistoryError([Problem(message, code="unknown-format", suggestion=hint)])
    return fmt


def _locate_in_parquet(source: str, event_id: str) -> Location | None:
    """The row (as the line, column 1) of an event's first row in a Parquet history."""
    import pyarrow as pa  # noqa: PLC0415 -- only a Parquet history needs pyarrow here
    import pyarrow.compute as pc  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    from rewardrules.histories import _table_rules  # noqa: PLC0415 -- imports pyarrow

    try:
        ids = pq.read_table(source, columns=["event_id"])["event_id"].cast(pa.string())
        # Spelt another way (NFD) it is still the event: the readers compose ids (NFC).
        found = pc.index(_table_rules.nfc(ids), event_id).as_py()
    except (OSError, ValueError, KeyError):  # pyarrow's errors are OSError or ValueError
        return None
    return None if found < 0 else Location(source, found + 1, 1)


def _csv_options(fmt: Format, delimiter: str, decimal_comma: bool) -> CsvOptions:
    """The CSV options, checked; a JSON format takes none."""
    message = None
    if fmt != "csv" and (delimiter != "," or decimal_comma):
        message = "delimiter and decimal_comma apply to CSV files only"
    elif len(delimiter) != 1 or delimiter in '"\r\n' or delimiter.isalnum():
        message = (
            "delimiter must be one character that is not a letter, digit, quote or line break "
            f"(got {delimiter!r})"
        )
    elif decimal_comma and delimiter == ",":
        message = "decimal_comma needs another delimiter than ',', such as ';'"
    if message is not None:
        raise HistoryError([Problem(message, code="bad-option")])
    return CsvOptions(delimiter, decimal_comma)


def _codec(encoding: str) -> str:
    """The codec to open a history with; only encodings that write a newline as 0x0A."""
    try:
        codec = _ENCODINGS.get(codecs.lookup(encoding).name)
    except LookupError:
        codec = None
    if codec is None:
        message = f"encoding must be 'utf-8', 'cp1252' or 'latin-1' (got {encoding!r})"
        raise HistoryError([Problem(message, code="bad-option")])
    return codec


def _read(
    source: str, fmt: Format, kind: Kind[Record], options: CsvOptions, codec: str
) -> Iterator[Record]:
    try:  # fail now rather than at the first next() if the file cannot be read at all
        mode = os.stat(source).st_mode if os.path.exists(source) else None
        if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            # A FIFO would block, /dev/zero never ends: only regular files are read.
            message = f"cannot read {source}: it is not a regular file (a device, a pipe...)"
            raise HistoryError([Problem(message, code="not-a-file")])
        with open(source, "rb"):
            pass
    except OSError as exc:
        raise _unreadable(source, exc) from None
    return _read_file(source, fmt, kind, options, codec)


def _read_file(
    source: str, fmt: Format, kind: Kind[Record], options: CsvOptions, codec: str
) -> Iterator[Record]:
    try:
        with open(source, encoding=codec, newline="") as stream:
            yield from _parse(stream, source, fmt, kind, options)
    except UnicodeDecodeError:
        raise _not_decodable(source, codec) from None
    except OSError as exc:
        raise _unreadable(source, exc) from None


def _parse(
    stream: IO[str], source: str, fmt: Format, kind: Kind[Record], options: CsvOptions
) -> Iterator[Record]:
    if fmt == "csv":
        return kind.read_csv(stream, source, options)
    if fmt == "jsonl":
        return _json_history.read_jsonl(_bounded_lines(stream, source), source, kind)
    text = stream.read(MAX_JSON_CHARACTERS + 1)
    if len(text) > MAX_JSON_CHARACTERS:
        message = (
            f"the JSON history is over {MAX_JSON_CHARACTERS:,} characters; a .json file is "
            "read whole"
        )
        hint = "write a large history as JSON Lines or CSV, which are read line by line"
        raise history_error(source, 1, (), message, "too-large", 1, hint)
    return _json_history.read_json(text, source, kind)


MAX_JSON_CHARACTERS = 64 * 1024 * 1024
"""A .json history is read whole, so its size is capped; JSON Lines and CSV are streamed."""

MAX_JSONL_LINE = 1024 * 1024
"""The longest line a JSON Lines history may have: one event is far shorter."""


def _bounded_lines(stream: IO[str], source: str) -> Iterator[str]:
    """The lines of a stream, refusing one over :data:`MAX_JSONL_LINE` before reading it all."""
    number = 0
    while True:
        line = stream.readline(MAX_JSONL_LINE + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_JSONL_LINE:
            message = f"line {number} is over {MAX_JSONL_LINE:,} characters"
            hint = "each line of a JSON Lines file holds one event"
            raise history_error(source, number, (), message, "too-long", 1, hint)
        yield line


def _unreadable(source: str, exc: OSError) -> HistoryError:
    reason = (exc.strerror or str(exc)).lower()
    if isinstance(exc, FileNotFoundError | IsADirectoryError):
        reason = (
            "there is no such file" if isinstance(exc, FileNotFoundError) else "it is a directory"
        )
    return HistoryError([Problem(f"cannot read {source}: {reason}", code="unreadable")])


def _not_decodable(source: str, codec: str) -> HistoryError:
    """Find the first byte the codec cannot read; a newline byte never occurs inside a character."""
    name = "UTF-8" if codec == "utf-8-sig" else codec
    # Each line is decoded on its own: utf-8-sig would drop a byte-order mark at the start
    # of every line and count the error's position without it, so plain UTF-8 it is; the
    # file's own mark is skipped by hand below.
    plain = "utf-8" if codec == "utf-8-sig" else codec
    offset = 0
    try:
        with open(source, "rb") as raw:
            for number, chunk in enumerate(raw, start=1):
                if number == 1 and codec == "utf-8-sig" and chunk.startswith(_UTF16_MARKS):
                    message = (
                        "the file is UTF-16, not UTF-8 (it starts with a UTF-16 byte order mark)"
                    )
                    hint = "re-save it as UTF-8 (in Excel: CSV UTF-8)"
                    return history_error(source, 1, (), message, "not-utf8", 1, hint)
                try:
                    chunk.decode(plain)
                except UnicodeDecodeError as exc:
                    skip = 3 if number == 1 and chunk.startswith(codecs.BOM_UTF8) else 0
                    column = len(chunk[skip : exc.start].decode(plain, errors="replace")) + 1
                    message = (
                        f"the file is not {name}: byte 0x{chunk[exc.start]:02X} "
                        f"at offset {offset + exc.start} cannot be read"
                    )
                    hint = "re-save the file as UTF-8"
                    if codec == "utf-8-sig":
                        hint = (
                            "re-save the file as UTF-8 (in Excel: CSV UTF-8), or read it with "
                            "encoding='cp1252' if it was saved on Windows"
                        )
                    return history_error(source, number, (), message, "not-utf8", column, hint)
                offset += len(chunk)
    except OSError as exc:
        return _unreadable(source, exc)
    message = f"{source} is not {name}"  # pragma: no cover
    return HistoryError([Problem(message, code="not-utf8")])  # pragma: no cover


def _read_customers_csv(
    stream: Iterable[str], source: str, options: CsvOptions
) -> Iterator[Customer]:
    rows = _csv_history.customer_rows(stream, source, options)
    return records(rows, source, _CUSTOMERS, lambda line: (line, 1))


_EVENTS: Kind[AnyEvent] = Kind(
    "event", "id", "events", _json_history.event_from_object, _csv_history.read_events
)
_CUSTOMERS: Kind[Customer] = Kind(
    "customer", "customer_id", "customers", _json_history.customer_from_object, _read_customers_csv
)
