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
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import json
import operator
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from rewardrules.errors import HistoryError, Location, PathItem, Problem
from rewardrules.events import Customer, Line, Purchase, Refund, RefundLine

if TYPE_CHECKING:
    from _csv import Reader

Format = Literal["csv", "jsonl", "json"]
"""The history file formats."""

_Path = tuple[PathItem, ...]
_Record = TypeVar("_Record", bound=BaseModel)

_FORMATS: dict[str, Format] = {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "json": "json"}
_EVENT_COLUMNS = (
    "event_id", "type", "customer_id", "at", "sku", "category", "quantity", "unit_price",
    "purchase_id",
)  # fmt: skip
_HEAD_COLUMNS = ("type", "customer_id", "at", "purchase_id", "store")  # one value per event
_CUSTOMER_COLUMNS = ("customer_id", "joined_at", "birthday", "referred_by")
_MODELS: dict[str, type[Purchase] | type[Refund]] = {"purchase": Purchase, "refund": Refund}
_FIELDS = sorted(
    {f for m in (Purchase, Line, Refund, RefundLine, Customer) for f in m.model_fields}
)
_AMOUNT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_SPACE = re.compile(r"[ \t\n\r]*")
_OBJECT_START = re.compile(r'[ \t\n\r]*\{[ \t\n\r]*"([^"\\]*)"[ \t\n\r]*:[ \t\n\r]*')
_AMOUNT_HELP = (
    "an amount like 4.50 (digits, a point, decimals; no currency sign, comma or exponent)"
)
_WHOLE_HELP = "a whole number written with digits, like 2"
_TIME_EXAMPLE = "2026-03-01T09:30:00+01:00"
_MAX_DIGITS = 18  # of a quantity; Python refuses to read an int of over 4300 digits anyway

# Pydantic's error types, in plain words; ``{input}`` is the value given, the rest its ctx.
_MESSAGES: dict[str, str] = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "string_too_short": "must not be empty",
    "too_short": "must have at least one entry",
    "greater_than_equal": "must be at least {ge} (got {input})",
    "string_type": "must be text in quotes (got {input})",
    "int_type": f"must be {_WHOLE_HELP} (got {{input}})",
    "int_from_float": f"must be {_WHOLE_HELP} (got {{input}})",
    "decimal_type": f"must be {_AMOUNT_HELP} (got {{input}})",
    "decimal_parsing": f"must be {_AMOUNT_HELP} (got {{input}})",
    "finite_number": f"must be {_AMOUNT_HELP} (got {{input}})",
    "model_type": "must be an object {{...}} (got {input})",
    "tuple_type": "must be a list [...] (got {input})",
    "value_error": "{error}",
}
_CODES = {"missing": "missing-field", "extra_forbidden": "unknown-key"}


def read_history(
    path: str | os.PathLike[str], *, format: Format | None = None
) -> Iterator[Purchase | Refund]:
    """Read a history file into its events, lazily and in file order.

    Args:
        path: the file; its extension tells the format unless ``format`` is given.
        format: ``"csv"``, ``"jsonl"`` or ``"json"``.

    Returns:
        An iterator of purchases and refunds, read as it is consumed.

    Raises:
        HistoryError: at once if the format is unknown or the file cannot be opened; while
            iterating, at the first record that cannot be read.
    """
    source = os.fspath(path)
    return _read(source, _format_of(source, format), _EVENTS)


def read_customers(
    path: str | os.PathLike[str], *, format: Format | None = None
) -> Iterator[Customer]:
    """Read customer profiles (``customer_id``, ``joined_at``, ``birthday``, ``referred_by``).

    Args:
        path: a CSV, JSON Lines or JSON file; its extension tells the format unless given.
        format: ``"csv"``, ``"jsonl"`` or ``"json"``.

    Returns:
        An iterator of customers, read as it is consumed.

    Raises:
        HistoryError: as for :func:`read_history`.
    """
    source = os.fspath(path)
    return _read(source, _format_of(source, format), _CUSTOMERS)


def parse_history_text(
    text: str, format: Format, *, source: str = "<text>"
) -> Iterator[Purchase | Refund]:
    """Read events from text already in memory, such as standard input.

    Args:
        text: the whole history.
        format: ``"csv"``, ``"jsonl"`` or ``"json"``.
        source: the name shown in error locations.

    Raises:
        HistoryError: while iterating, at the first record that cannot be read.
    """
    return _parse(io.StringIO(text, newline=""), source, _format_of(source, format), _EVENTS)


@dataclass(frozen=True)
class _Kind(Generic[_Record]):
    """What differs between reading events and reading customers."""

    noun: str
    key: str  # the field that must be unique in a file
    top_key: str  # the list's key in a JSON object ``{"events": [...]}``
    from_object: Callable[[Any], _Record]
    read_csv: Callable[[Iterable[str], str], Iterator[_Record]]


class _RecordError(Exception):
    """One problem with a record; ``where`` (line, or offset in a JSON text) if known."""

    def __init__(self, path: _Path, message: str, code: str, where: int | None = None):
        super().__init__(message)
        self.path, self.message, self.code, self.where = path, message, code, where


def _format_of(source: str, given: str | None) -> Format:
    if given is not None:
        fmt = _FORMATS.get(given)
        message = f"unknown format {given!r}; use 'csv', 'jsonl' or 'json'"
    else:
        fmt = _FORMATS.get(os.path.splitext(source)[1].lower().lstrip("."))
        message = (
            f"cannot tell the format of {source} from its extension; "
            "name it .csv, .jsonl or .json, or give the format"
        )
    if fmt is None:
        raise HistoryError([Problem(message, code="unknown-format")])
    return fmt


def _read(source: str, fmt: Format, kind: _Kind[_Record]) -> Iterator[_Record]:
    try:  # fail now rather than at the first next() if the file cannot be read at all
        with open(source, "rb"):
            pass
    except OSError as exc:
        raise _unreadable(source, exc) from None
    return _read_file(source, fmt, kind)


def _read_file(source: str, fmt: Format, kind: _Kind[_Record]) -> Iterator[_Record]:
    try:
        with open(source, encoding="utf-8-sig", newline="") as stream:
            yield from _parse(stream, source, fmt, kind)
    except UnicodeDecodeError:
        raise _not_utf8(source) from None
    except OSError as exc:
        raise _unreadable(source, exc) from None


def _parse(stream: IO[str], source: str, fmt: Format, kind: _Kind[_Record]) -> Iterator[_Record]:
    if fmt == "csv":
        return kind.read_csv(stream, source)
    if fmt == "jsonl":
        return _records(_jsonl_values(stream, source), source, kind, lambda line: (line, 1))
    return _read_json(stream.read(), source, kind)


def _unreadable(source: str, exc: OSError) -> HistoryError:
    reason = (exc.strerror or str(exc)).lower()
    if isinstance(exc, FileNotFoundError | IsADirectoryError):
        reason = (
            "there is no such file" if isinstance(exc, FileNotFoundError) else "it is a directory"
        )
    return HistoryError([Problem(f"cannot read {source}: {reason}", code="unreadable")])


def _not_utf8(source: str) -> HistoryError:
    """Find the first byte that is not UTF-8; a newline byte never occurs inside a character."""
    offset = 0
    try:
        with open(source, "rb") as raw:
            for number, chunk in enumerate(raw, start=1):
                try:
                    chunk.decode("utf-8")
                except UnicodeDecodeError as exc:
                    skip = 3 if number == 1 and chunk.startswith(b"\xef\xbb\xbf") else 0
                    column = len(chunk[skip : exc.start].decode("utf-8")) + 1
                    message = (
                        f"the file is not UTF-8: byte 0x{chunk[exc.start]:02X} "
                        f"at offset {offset + exc.start} cannot be read"
                    )
                    hint = "re-save the file as UTF-8"
                    return _error(source, number, (), message, "not-utf8", column, hint)
                offset += len(chunk)
    except OSError as exc:
        return _unreadable(source, exc)
    return HistoryError([Problem(f"{source} is not UTF-8", code="not-utf8")])  # pragma: no cover


def _error(
    source: str,
    line: int,
    path: _Path,
    message: str,
    code: str,
    column: int = 1,
    suggestion: str | None = None,
    source_line: str | None = None,
) -> HistoryError:
    location = Location(source, line, column)
    return HistoryError([Problem(message, path, location, code, suggestion, source_line)])


def _show(value: object) -> str:
    """A value as a message quotes it: text in quotes, JSON's null and true, at most 40 chars."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "a list"
    shown = repr(value) if isinstance(value, str) else str(value)
    return shown if len(shown) <= 40 else f"{shown[:36]}...{shown[-1]}"


def _undecodable(exc: Exception) -> str:
    deep = isinstance(exc, RecursionError)
    return f"not valid JSON: {'it is nested too deeply' if deep else 'a number is too large'}"


def _issues(exc: ValidationError | _RecordError) -> list[tuple[_Path, str, str | None, str]]:
    """Each problem as (field path, message, suggestion, code), in plain words."""
    if isinstance(exc, _RecordError):
        return [(exc.path, exc.message, None, exc.code)]
    issues: list[tuple[_Path, str, str | None, str]] = []
    for error in exc.errors(include_url=False):
        kind, path, given = error["type"], tuple(error["loc"]), error.get("input")
        if kind == "too_short" and given:
            continue  # the list has entries: the problems inside them are reported instead
        template = _MESSAGES.get(kind)
        message = (
            error["msg"]
            if template is None
            else template.format(input=_show(given), **error.get("ctx", {}))
        )
        close = (
            difflib.get_close_matches(str(path[-1]), _FIELDS, 1)
            if kind == "extra_forbidden"
            else []
        )
        suggestion = f"did you mean {close[0]!r}?" if close and close[0] != path[-1] else None
        issues.append((path, message, suggestion, _CODES.get(kind, "invalid-value")))
    return issues


def _located(
    exc: ValidationError | _RecordError, source: str, line: int, column: int = 1
) -> HistoryError:
    return HistoryError(
        Problem(message, path, Location(source, line, column), code, suggestion)
        for path, message, suggestion, code in _issues(exc)
    )


def _timestamp(value: object, path: _Path) -> datetime:
    if not isinstance(value, str):
        message = f"must be a timestamp written as text, like {_TIME_EXAMPLE} (got {_show(value)})"
        raise _RecordError(path, message, "bad-timestamp")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        message = f"must be an ISO 8601 timestamp like {_TIME_EXAMPLE} (got {value!r})"
        raise _RecordError(path, message, "bad-timestamp") from None
    if moment.tzinfo is None:
        message = (
            f"timestamp has no UTC offset; write it like {_TIME_EXAMPLE} "
            f"or 2026-03-01T09:30:00Z (got {value!r})"
        )
        raise _RecordError(path, message, "naive-timestamp")
    return moment


def _amount(text: str, path: _Path) -> Decimal:
    if _AMOUNT.fullmatch(text) is None:
        raise _RecordError(path, f"must be {_AMOUNT_HELP} (got {_show(text)})", "bad-amount")
    return Decimal(text)


@functools.lru_cache(maxsize=4096)  # prices repeat; a Decimal is immutable
def _csv_amount(text: str) -> Decimal:
    return _amount(text, ("unit_price",))


def _whole(text: str, path: _Path) -> int:
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()):
        raise _RecordError(path, f"must be {_WHOLE_HELP} (got {_show(text)})", "bad-quantity")
    if len(digits) > _MAX_DIGITS:
        message = f"must have at most {_MAX_DIGITS} digits (got {_show(text)})"
        raise _RecordError(path, message, "bad-quantity")
    return int(text)


def _records(
    items: Iterable[tuple[int, Any]],
    source: str,
    kind: _Kind[_Record],
    locate: Callable[[int], tuple[int, int]],
) -> Iterator[_Record]:
    """Build a record from each (where, value); ``locate`` turns where into line and column."""
    seen: dict[str, int] = {}
    where = 1
    try:
        for where, value in items:
            record = kind.from_object(value)
            key = getattr(record, kind.key)
            if (first := seen.setdefault(key, where)) != where:
                message = f"{kind.noun} {key!r} appears twice (first on line {locate(first)[0]})"
                raise _RecordError((kind.key,), message, "duplicate-id")
            yield record
    except (_RecordError, ValidationError) as exc:
        if isinstance(exc, _RecordError) and exc.where is not None:
            where = exc.where
        raise _located(exc, source, *locate(where)) from None


# --- CSV ----------------------------------------------------------------------------------


def _csv_table(
    stream: Iterable[str], source: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> tuple[dict[str, int], Iterator[tuple[int, list[str]]]]:
    """Check the header; return the column of each name, and the rows with their line."""
    reader = csv.reader(stream)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise _error(source, reader.line_num, (), f"not valid CSV: {exc}", "not-csv") from None
    if header is None:
        message = f"the file is empty; its first line must be the header {','.join(required)}"
        raise _error(source, 1, (), message, "missing-header")
    known, at = required + optional, Location(source, 1, 1)
    columns: dict[str, int] = {}
    problems: list[Problem] = []
    for index, name in enumerate(header):
        if name in columns:
            problems.append(Problem(f"column {name!r} appears twice", (), at, "duplicate-column"))
        elif name not in known:
            close = difflib.get_close_matches(name, known, 1)
            hint = f"did you mean {close[0]!r}?" if close else f"the columns are {', '.join(known)}"
            problems.append(Problem(f"unknown column {name!r}", (), at, "unknown-column", hint))
        columns.setdefault(name, index)
    problems += [
        Problem(f"the header has no {name!r} column", (), at, "missing-column")
        for name in required
        if name not in columns
    ]
    if problems:
        raise HistoryError(problems)
    return columns, _csv_rows(reader, source, len(header))


def _csv_rows(reader: Reader, source: str, width: int) -> Iterator[tuple[int, list[str]]]:
    previous = reader.line_num
    try:
        for row in reader:
            line, previous = previous + 1, reader.line_num  # a quoted cell may span lines
            if not row:
                continue
            if len(row) != width:
                message = f"this row has {len(row)} cells but the header has {width} columns"
                raise _error(source, line, (), message, "bad-row")
            yield line, row
    except csv.Error as exc:
        raise _error(source, reader.line_num, (), f"not valid CSV: {exc}", "not-csv") from None


class _CsvEvent:
    """The adjacent rows of one event of a CSV history, gathered until its id changes."""

    __slots__ = ("data", "head", "id", "line", "line_numbers", "lines", "model", "source", "whole")

    def __init__(self, source: str, line: int, event_id: str, head: tuple[str, ...]) -> None:
        kind, customer_id, at, purchase_id, store = head
        model = _MODELS.get(kind)
        if model is None:
            message = f"must be 'purchase' or 'refund' (got {kind!r})"
            raise _RecordError(("type",), message, "unknown-type")
        if model is Purchase and purchase_id:
            message = "must be empty for a purchase; only a refund names a purchase"
            raise _RecordError(("purchase_id",), message, "not-empty")
        if model is Refund and store:
            raise _RecordError(("store",), "must be empty for a refund", "not-empty")
        self.source, self.line, self.id, self.head, self.model = source, line, event_id, head, model
        self.data: dict[str, object] = {"type": kind}  # an empty cell is an absent field
        if event_id:
            self.data["id"] = event_id
        if customer_id:
            self.data["customer_id"] = customer_id
        if at:
            self.data["at"] = _timestamp(at, ("at",))
        if purchase_id:
            self.data["purchase_id"] = purchase_id
        if store:
            self.data["store"] = store
        self.lines: list[dict[str, object]] = []
        self.line_numbers: list[int] = []
        self.whole = False

    def add(
        self, line: int, head: tuple[str, ...], sku: str, category: str, quantity: str, price: str
    ) -> None:
        """Add one row: its event cells must agree with the first row's; it adds a line."""
        if head != self.head:
            name, here, there = next(
                d for d in zip(_HEAD_COLUMNS, head, self.head, strict=True) if d[1] != d[2]
            )
            message = (
                f"is {here!r} here but {there!r} on line {self.line}, the first row of event "
                f"{self.id!r}; the rows of one event must agree"
            )
            raise _RecordError((name,), message, "inconsistent-event")
        if self.model is Refund:
            if category or price:
                column = "category" if category else "unit_price"
                raise _RecordError((column,), "must be empty for a refund", "not-empty")
            everything = not (sku or quantity)
            if self.whole or (everything and self.lines):
                message = (
                    "a refund row with empty sku and quantity returns the whole purchase, "
                    "so it must be the only row of its event"
                )
                raise _RecordError(("sku",), message, "whole-refund")
            if everything:
                self.whole = True
                return
        item: dict[str, object] = {"sku": sku} if sku else {}
        if category:
            item["category"] = category
        if quantity:  # the fast path first: a million rows are mostly plain digits
            is_plain = len(quantity) <= _MAX_DIGITS and quantity.isdigit() and quantity.isascii()
            item["quantity"] = int(quantity) if is_plain else _whole(quantity, ("quantity",))
        if price:
            item["unit_price"] = _csv_amount(price)
        self.lines.append(item)
        self.line_numbers.append(line)

    def build(self) -> Purchase | Refund:
        """Validate the gathered event; problems point at the row and name the column."""
        if not self.whole:
            self.data["lines"] = self.lines
        try:
            return self.model.model_validate(self.data)
        except ValidationError as exc:
            problems = []
            for path, message, suggestion, code in _issues(exc):
                in_line = len(path) > 1 and path[0] == "lines" and isinstance(path[1], int)
                line = self.line_numbers[int(path[1])] if in_line else self.line
                column = ("event_id" if path[-1] == "id" else path[-1],) if path else ()
                location = Location(self.source, line, 1)
                problems.append(Problem(message, column, location, code, suggestion))
            raise HistoryError(problems) from None


def _read_events_csv(stream: Iterable[str], source: str) -> Iterator[Purchase | Refund]:
    columns, rows = _csv_table(stream, source, _EVENT_COLUMNS, ("store",))
    cells = operator.itemgetter(*(columns[name] for name in _EVENT_COLUMNS))
    store = columns.get("store")
    seen: dict[str, int] = {}
    event: _CsvEvent | None = None
    line = 1
    try:
        for line, row in rows:
            event_id, kind, customer, at, sku, category, quantity, price, purchase = cells(row)
            head = (kind, customer, at, purchase, "" if store is None else row[store])
            if event is None or event_id != event.id:
                if event is not None:
                    yield event.build()
                if (first := seen.setdefault(event_id, line)) != line:
                    message = (
                        f"event {event_id!r} is split: its rows must be adjacent "
                        f"(its first rows start on line {first})"
                    )
                    raise _RecordError(("event_id",), message, "split-event")
                event = _CsvEvent(source, line, event_id, head)
            event.add(line, head, sku, category, quantity, price)
        if event is not None:
            yield event.build()
    except _RecordError as exc:
        raise _located(exc, source, line) from None


def _read_customers_csv(stream: Iterable[str], source: str) -> Iterator[Customer]:
    columns, rows = _csv_table(stream, source, _CUSTOMER_COLUMNS[:1], _CUSTOMER_COLUMNS[1:])
    items = ((line, {k: row[i] for k, i in columns.items() if row[i]}) for line, row in rows)
    return _records(items, source, _CUSTOMERS, lambda line: (line, 1))


# --- JSON and JSON Lines -------------------------------------------------------------------


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        names = [name for name, _ in pairs]
        twice = next(name for index, name in enumerate(names) if name in names[:index])
        raise _RecordError((), f"key {twice!r} appears twice in one object", "duplicate-key")
    return value


def _json_constant(name: str) -> Any:
    raise _RecordError((), f"{name} is not a number; write {_AMOUNT_HELP}", "not-a-number")


def _decoder() -> json.JSONDecoder:
    return json.JSONDecoder(
        object_pairs_hook=_json_object, parse_float=Decimal, parse_constant=_json_constant
    )


def _event_from_object(value: Any) -> Purchase | Refund:
    if not isinstance(value, dict):
        message = f"an event must be an object {{...}} (got {_show(value)})"
        raise _RecordError((), message, "not-an-object")
    kind = value.get("type")
    model = _MODELS.get(kind) if isinstance(kind, str) else None
    if model is None and "type" not in value:
        raise _RecordError(("type",), "is required: 'purchase' or 'refund'", "missing-field")
    if model is None:
        message = f"must be 'purchase' or 'refund' (got {_show(kind)})"
        raise _RecordError(("type",), message, "unknown-type")
    if "at" in value:
        value["at"] = _timestamp(value["at"], ("at",))
    lines = value.get("lines")
    for index, line in enumerate(lines if isinstance(lines, list) else ()):
        if not isinstance(line, dict):
            continue
        if "quantity" in line and type(line["quantity"]) is not int:  # not text, 2.0 or true
            message = f"must be {_WHOLE_HELP} (got {_show(line['quantity'])})"
            raise _RecordError(("lines", index, "quantity"), message, "bad-quantity")
        if isinstance(price := line.get("unit_price"), str):
            line["unit_price"] = _amount(price, ("lines", index, "unit_price"))
    return model.model_validate(value)


def _customer_from_object(value: Any) -> Customer:
    if not isinstance(value, dict):
        message = f"a customer must be an object {{...}} (got {_show(value)})"
        raise _RecordError((), message, "not-an-object")
    if value.get("joined_at") is not None:
        value["joined_at"] = _timestamp(value["joined_at"], ("joined_at",))
    return Customer.model_validate(value)


def _jsonl_values(stream: Iterable[str], source: str) -> Iterator[tuple[int, Any]]:
    decoder = _decoder()
    for number, text in enumerate(stream, start=1):
        if text.isspace():
            continue
        try:
            value = decoder.decode(text)
        except json.JSONDecodeError as exc:
            line, message = text.rstrip("\r\n"), f"not valid JSON: {exc.msg}"
            raise _error(source, number, (), message, "not-json", exc.colno, None, line) from None
        except _RecordError as exc:
            exc.where = number
            raise
        except (RecursionError, ValueError, ArithmeticError) as exc:
            raise _error(source, number, (), _undecodable(exc), "not-json") from None
        yield number, value


def _line_column(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


def _read_json(text: str, source: str, kind: _Kind[_Record]) -> Iterator[_Record]:
    locate = functools.partial(_line_column, text)
    try:
        yield from _records(_json_elements(text, kind.top_key), source, kind, locate)
    except json.JSONDecodeError as exc:
        begin, end = text.rfind("\n", 0, exc.pos) + 1, text.find("\n", exc.pos)
        shown = text[begin : end if end >= 0 else len(text)].rstrip("\r")
        message = f"not valid JSON: {exc.msg}"
        raise _error(source, exc.lineno, (), message, "not-json", exc.colno, None, shown) from None


def _skip(text: str, offset: int) -> int:
    """The offset of the next character that is not JSON whitespace."""
    match = _SPACE.match(text, offset)
    return offset if match is None else match.end()


def _json_elements(text: str, top_key: str) -> Iterator[tuple[int, Any]]:
    """Yield (offset, value) for each element of a list ``[...]`` or ``{top_key: [...]}``."""
    decoder, expected = _decoder(), f'a list [...] or an object {{"{top_key}": [...]}}'
    opened = _OBJECT_START.match(text)
    if opened is not None and opened.group(1) != top_key:
        message = f"the file must hold {expected} (found key {opened.group(1)!r})"
        raise _RecordError((), message, "not-a-list", opened.start(1))
    offset = opened.end() if opened else _skip(text, 0)
    if not text.startswith("[", offset):
        raise _RecordError((), f"the file must hold {expected}", "not-a-list", offset)
    offset = _skip(text, offset + 1)
    if not text.startswith("]", offset):
        while True:
            try:
                value, end = decoder.raw_decode(text, offset)
            except _RecordError as exc:
                exc.where = offset
                raise
            except json.JSONDecodeError:
                raise
            except (RecursionError, ValueError, ArithmeticError) as exc:
                raise _RecordError((), _undecodable(exc), "not-json", offset) from None
            yield offset, value
            offset = _skip(text, end)
            if not text.startswith(",", offset):
                break
            offset = _skip(text, offset + 1)
        if not text.startswith("]", offset):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, offset)
    offset = _skip(text, offset + 1)
    if opened is not None:
        if not text.startswith("}", offset):
            message = f"the object must hold only {top_key!r}"
            raise _RecordError((), message, "unknown-key", offset)
        offset = _skip(text, offset + 1)
    if offset != len(text):
        raise json.JSONDecodeError("Extra data", text, offset)


_EVENTS: _Kind[Purchase | Refund] = _Kind(
    "event", "id", "events", _event_from_object, _read_events_csv
)
_CUSTOMERS: _Kind[Customer] = _Kind(
    "customer", "customer_id", "customers", _customer_from_object, _read_customers_csv
)
