"""Spreadsheet exports as they come: the dialect of each file, column names, local times.

A CSV file exported from a shop or a spreadsheet is rarely written the way the readers of
:mod:`rewardrules.histories.read` expect it. This module turns such an export into the
expected text before either reader (the row reader or the table reader) sees it, so that
both read the same cells and report the same errors at the same lines:

- **the dialect**, detected per file unless given (:func:`detect_dialect`): the encoding
  (UTF-8, or cp1252 when the bytes are not UTF-8), the delimiter (the one of ``,;\\t|`` that
  the header holds most of) and, with another delimiter than ``,``, a decimal comma (when an
  amount cell is written like ``4,50``);
- **column names** (``columns``): a mapping from the names the readers know to the names of
  the export's header, such as ``{"event_id": "Order ID", "at": "Date"}``;
- **local times** (``zone``): a time written without a UTC offset (``2026-03-02 10:15``) is
  read in that time zone. A time that does not exist there (in the hour skipped when clocks
  go forward) is an error at its line; a time that happens twice (when clocks go back) is
  the first of the two unless ``fold`` is ``"later"``.

The rewritten text keeps every row on its line, so errors point at the export's own lines.
``docs/histories.md`` ("Spreadsheet exports") describes the options and the settings file.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from rewardrules.errors import HistoryError, Location, Problem, closest
from rewardrules.histories._records import FIRST_YEAR, LAST_YEAR

Fold = Literal["earlier", "later"]
"""Which of two occurrences of a local time that happens twice is meant."""

_DELIMITERS = ",;\t|"
_SAMPLE_ROWS = 1000  # rows looked at to tell a decimal comma
_COMMA_AMOUNT = re.compile(r"-?[0-9]+,[0-9]+")
_ALIASES = {"id": "event_id"}  # the JSON name of a CSV column


@dataclass(frozen=True)
class Dialect:
    """How one CSV file is written.

    Attributes:
        delimiter: the character between cells.
        decimal_comma: amounts are written ``4,50``.
        encoding: ``"utf-8"`` or ``"cp1252"``.
        detected: what was detected rather than given, in words, in the order told.
    """

    delimiter: str = ","
    decimal_comma: bool = False
    encoding: str = "utf-8"
    detected: tuple[str, ...] = ()

    def describe(self, source: str) -> str | None:
        """One line saying what was detected that differs from a plain CSV file; else None."""
        if not self.detected:
            return None
        return f"{source}: read as {', '.join(self.detected)} (detected)"


@dataclass(frozen=True)
class ExportSettings:
    """How to read an export; ``None`` means detect it from the file.

    Attributes:
        delimiter: the character between cells, or None to detect it.
        decimal_comma: amounts use a decimal comma, or None to detect it.
        encoding: the text encoding, or None to detect UTF-8 or cp1252.
        columns: the readers' column name to the export's header name, such as
            ``{"event_id": "Order ID"}`` (``id`` may be written for ``event_id``).
        zone: read times without a UTC offset in this time zone; None refuses them.
        fold: a local time that happens twice is the ``"earlier"`` or the ``"later"`` one.
        columns_from: where ``columns`` were given, for messages (``--columns``, a file).
    """

    delimiter: str | None = None
    decimal_comma: bool | None = None
    encoding: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    zone: ZoneInfo | None = None
    fold: Fold = "earlier"
    columns_from: str = "--columns"


def parse_columns(text: str) -> dict[str, str]:
    """Read ``id=Order ID,at=Date`` into ``{"event_id": "Order ID", "at": "Date"}``.

    Raises:
        ValueError: a part without ``=``, or a name given twice, in words.
    """
    columns: dict[str, str] = {}
    for part in text.split(","):
        ours, equals, theirs = part.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not equals or not ours or not theirs:
            message = f"{part.strip()!r} is not NAME=HEADER, such as at=Date"
            raise ValueError(message)
        ours = _ALIASES.get(ours, ours)
        if ours in columns:
            raise ValueError(f"{ours!r} is mapped twice")
        columns[ours] = theirs
    return columns


def detect_dialect(
    data: bytes, settings: ExportSettings, amount_columns: tuple[str, ...] = ("unit_price",)
) -> Dialect:
    """The dialect of a CSV file: what ``settings`` give, the rest detected from ``data``.

    ``data`` may be the start of the file only: the encoding and the decimal comma are told
    from what it holds.
    """
    detected: list[str] = []
    encoding = settings.encoding
    if encoding is None:
        encoding = "utf-8"
        try:
            codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
        except UnicodeDecodeError:
            try:
                data.decode("cp1252")
            except UnicodeDecodeError:
                pass  # neither: the reader says which byte
            else:
                encoding = "cp1252"
    text = data.decode(encoding, errors="replace").removeprefix("\ufeff")
    header = text.split("\n", 1)[0].rstrip("\r")
    delimiter = settings.delimiter
    if delimiter is None:
        delimiter = max(_DELIMITERS, key=header.count)  # max keeps the first of a tie: ','
        delimiter = delimiter if header.count(delimiter) else ","
        if delimiter != ",":
            detected.append("tab-separated" if delimiter == "\t" else f"{delimiter!r}-separated")
    decimal_comma = settings.decimal_comma
    if decimal_comma is None:
        decimal_comma = delimiter != "," and _has_comma_amounts(
            text, delimiter, settings, amount_columns
        )
        if decimal_comma:
            detected.append("decimal commas")
    if settings.encoding is None and encoding != "utf-8":
        detected.append(encoding)
    return Dialect(delimiter, decimal_comma, encoding, tuple(detected))


def _has_comma_amounts(
    text: str, delimiter: str, settings: ExportSettings, amount_columns: tuple[str, ...]
) -> bool:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, [])
        names = [settings.columns.get(name, name) for name in amount_columns]
        where = [header.index(name) for name in names if name in header]
        for count, row in enumerate(reader):
            if count == _SAMPLE_ROWS:
                break
            if any(i < len(row) and _COMMA_AMOUNT.fullmatch(row[i]) for i in where):
                return True
    except csv.Error:
        pass  # the reader says where
    return False


def prepare(
    text: str,
    source: str,
    dialect: Dialect,
    settings: ExportSettings,
    time_columns: tuple[str, ...] = ("at",),
) -> str:
    """The export's text as the readers expect it: renamed columns, times with offsets.

    Every row stays on its line. A row the CSV module cannot read stops the rewriting there;
    the reader then reports it.

    Raises:
        HistoryError: a mapped column missing from the header, naming the closest header;
            a local time that does not exist in the zone, at its line.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=dialect.delimiter, strict=True)
    ending = "\r\n" if "\r\n" in text[: text.find("\n") + 1] else "\n"
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=dialect.delimiter, lineterminator=ending)
    try:
        header = next(reader, None)
    except csv.Error:
        return text
    if header is None:
        return text
    header = _renamed(header, source, settings)
    writer.writerow(header)
    zone = settings.zone
    times = [header.index(name) for name in time_columns if name in header]
    if zone is None or not times:
        return out.getvalue() + _after_first_line(text)
    previous = reader.line_num
    try:
        for row in reader:
            line, previous = previous + 1, reader.line_num
            for index in times:
                if index < len(row):
                    row[index] = _with_offset(
                        row[index], zone, settings.fold, source, line, header[index]
                    )
            writer.writerow(row)
    except csv.Error:
        return out.getvalue() + _from_line(text, previous + 1)
    return out.getvalue()


def _after_first_line(text: str) -> str:
    end = text.find("\n")
    return "" if end < 0 else text[end + 1 :]


def _from_line(text: str, line: int) -> str:
    """The text from the start of a 1-based line on."""
    lines = text.splitlines(keepends=True)
    return "".join(lines[line - 1 :])


def _renamed(header: list[str], source: str, settings: ExportSettings) -> list[str]:
    if not settings.columns:
        return header
    renamed = list(header)
    problems = []
    at = Location(source, 1, 1)
    for ours, theirs in settings.columns.items():
        if theirs in header:
            renamed[header.index(theirs)] = ours
            continue
        close = closest(theirs, header)
        stripped = [name for name in header if name.strip().casefold() == theirs.casefold()]
        close = stripped[:1] or close
        message = (
            f"the header has no column {theirs!r}, which {settings.columns_from} maps to {ours!r}"
        )
        hint = (
            f"the closest header is {close[0]!r}: write {ours}={close[0]}"
            if close
            else f"the header's columns are {', '.join(map(repr, header))}"
        )
        problems.append(Problem(message, (), at, "missing-column", hint))
    if problems:
        raise HistoryError(problems)
    return renamed


def _with_offset(text: str, zone: ZoneInfo, fold: Fold, source: str, line: int, column: str) -> str:
    """A time without an offset, with the zone's offset then; anything else as it is."""
    if len(text) < 11 or text[10] not in "T ":
        return text  # a date alone, or not a time at all: the reader judges it
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is not None or not FIRST_YEAR <= moment.year <= LAST_YEAR:
        return text  # the reader judges a time outside the years of events
    earlier = moment.replace(tzinfo=zone, fold=0)
    later = moment.replace(tzinfo=zone, fold=1)
    if earlier.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        before, after = _shown(earlier), _shown(later)
        message = (
            f"{text} does not exist in {zone.key}: the clocks went forward that night "
            f"(from UTC{before} to UTC{after}), skipping it"
        )
        hint = f"check the time, or write it with its UTC offset, like {moment.isoformat()}{before}"
        problem = Problem(message, (column,), Location(source, line, 1), "nonexistent-time", hint)
        raise HistoryError([problem])
    chosen = later if fold == "later" else earlier
    return chosen.isoformat()


def _shown(moment: datetime) -> str:
    return moment.isoformat()[-6:]


SETTINGS_SUFFIX = ".map.yaml"
"""A history's settings file is named after it: ``orders.csv`` has ``orders.map.yaml``."""
_SETTINGS_KEYS = ("columns", "timestamps", "fold", "delimiter", "decimal_comma", "encoding")


def settings_file(history: str) -> str | None:
    """The settings file beside a history (``orders.map.yaml`` for ``orders.csv``), if any."""
    base, extension = os.path.splitext(history)
    if not extension:
        return None
    path = base + SETTINGS_SUFFIX
    return path if os.path.isfile(path) else None


def read_settings_file(path: str) -> dict[str, object]:
    """The settings a history's ``.map.yaml`` file gives, by key, checked.

    Keys: ``columns`` (the readers' names to the export's), ``timestamps`` (``local`` or
    ``offset``), ``fold`` (``earlier`` or ``later``), ``delimiter``, ``decimal_comma``
    (true or false) and ``encoding``.

    Raises:
        HistoryError: a file that is not such a mapping, located in it.
    """
    import yaml  # noqa: PLC0415 -- only a settings file needs YAML here

    def refuse(message: str, hint: str | None = None, line: int = 1) -> HistoryError:
        where = Location(path, line, 1)
        return HistoryError([Problem(message, (), where, "bad-settings", hint)])

    try:
        with open(path, encoding="utf-8-sig") as stream:
            data = yaml.safe_load(stream)
    except (OSError, UnicodeDecodeError) as exc:
        raise refuse(f"cannot read the settings file: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = 1 if mark is None else mark.line + 1
        raise refuse(f"not valid YAML: {getattr(exc, 'problem', exc)}", None, line) from None
    if not isinstance(data, dict):
        raise refuse("must be a mapping, such as 'columns: {at: Date}'")
    settings: dict[str, object] = {}
    for key, value in data.items():
        if key not in _SETTINGS_KEYS:
            close = closest(str(key), _SETTINGS_KEYS)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else f"the keys are {', '.join(_SETTINGS_KEYS)}"
            )
            raise refuse(f"unknown key {key!r}", hint)
        settings[key] = _setting(key, value, refuse)
    return settings


def _setting(key: str, value: object, refuse: Callable[[str], HistoryError]) -> object:
    choices = {"timestamps": ("local", "offset"), "fold": ("earlier", "later")}
    if key == "columns":
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise refuse("columns: must map column names to header names, such as {at: Date}")
        return {_ALIASES.get(k, k): v for k, v in value.items()}
    if key == "decimal_comma":
        if not isinstance(value, bool):
            raise refuse(f"decimal_comma: must be true or false (got {value!r})")
        return value
    if not isinstance(value, str) or (key in choices and value not in choices[key]):
        allowed = " or ".join(map(repr, choices.get(key, ())))
        raise refuse(f"{key}: must be {allowed or 'text'} (got {value!r})")
    return value


__all__ = [
    "SETTINGS_SUFFIX",
    "Dialect",
    "ExportSettings",
    "Fold",
    "detect_dialect",
    "parse_columns",
    "prepare",
    "read_settings_file",
    "settings_file",
]
