"""What the commands share: showing input errors, reading --as-of, locating event errors.

The commands import these at module level; keeping them out of ``cli`` lets every command
module import them without importing ``cli`` (which imports the command modules).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click
import pyarrow as pa

if TYPE_CHECKING:
    from rewardrules.program.model import Program

from rewardrules._timetext import LEAP_SECONDS, is_week_date, leap_second_fix
from rewardrules._types import FIRST_DATE, LAST_DATE
from rewardrules._zones import ZoneNameError, check_zone_name
from rewardrules.cli import _exports
from rewardrules.cli._exports import Export, Told
from rewardrules.errors import HistoryError, Location, Problem, RewardRulesError
from rewardrules.events import AnyEvent, Customer
from rewardrules.histories._table_read import decode_history
from rewardrules.histories.columns import events_to_table, read_history_table, table_to_events
from rewardrules.histories.exports import Fold, parse_columns
from rewardrules.histories.read import (
    Format,
    _format_of,
    locate_event,
    parse_history_text,
    read_customers,
    read_history,
)
from rewardrules.rulefiles.loader import load_program_with_map

_Result = TypeVar("_Result")
_Record = TypeVar("_Record")
_Moment = TypeVar("_Moment", date, datetime)
Refusal = TypeVar("Refusal", bound=RewardRulesError)
"""An error whose problems may name events: a ``HistoryError``, or the batch engine's
``UnsupportedError`` of an amount too large for it."""


def guarded(action: Callable[[], _Result]) -> _Result:
    """Run an action; show input errors the way editors link them, and exit 1."""
    try:
        return action()
    except RewardRulesError as error:
        click.echo(error.render(), err=True)
        raise SystemExit(error.exit_code) from None


def parse_as_of(
    _context: click.Context, _parameter: click.Parameter, value: str | None
) -> date | datetime | None:
    """Read ``--as-of``: a date, or a timestamp with a UTC offset."""
    if value is None:
        return None
    refuse_misread_time(value)
    try:
        if "T" in value or " " in value.strip():
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                raise click.BadParameter(
                    f"{value!r} has no UTC offset; write 2026-03-01T18:00:00+01:00, or a date"
                )
            return _in_event_years(value, moment)
        return _in_event_years(value, date.fromisoformat(value))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date (2026-03-31) or a timestamp with an offset "
            "(2026-03-31T18:00:00-05:00)"
        ) from None


def _in_event_years(value: str, moment: _Moment) -> _Moment:
    # Years as written, like the events': past 2099 the date arithmetic would overflow.
    if not FIRST_DATE.year <= moment.year <= LAST_DATE.year:
        raise click.BadParameter(
            f"{value!r} is outside the years {FIRST_DATE.year} to {LAST_DATE.year}, "
            "which events and programs are in"
        )
    return moment


_AS_OF_FORMS = "a date (2026-03-31) or a timestamp with an offset (2026-03-31T18:00:00-05:00)"


def refuse_misread_time(value: str, forms: str = _AS_OF_FORMS) -> None:
    """Refuse what Python would misread: a week date (taken as a Monday), a leap second.

    Raises:
        click.BadParameter: with the forms that are accepted, or the time to write.
    """
    if is_week_date(value):
        raise click.BadParameter(
            f"{value!r} is an ISO week date, which is not accepted; write {forms}"
        )
    fix = leap_second_fix(value)
    if fix is not None:
        raise click.BadParameter(f"{value!r}: {LEAP_SECONDS.format(fix=fix)}")


def located_events(
    error: Refusal,
    history_file: Path,
    reading: HistoryReading | None = None,
    program_file: Path | None = None,
) -> Refusal:
    """Point each problem about an evaluated event at the event's first line in the history,
    and each about a figure of the program (path ``("rules", ...)``, or another of the
    program's keys) at where the program file writes it.

    The engine names the event or the figure (a path) but not its place; only this error
    path reads the history or the program again to find it. Problems already located are
    kept.
    """
    if program_file is not None:
        error = _located_figures(error, program_file)
    found: dict[str, Location | None] = {}
    problems = []
    for problem in error.problems:
        head = problem.path[0] if problem.path else None
        if problem.location is None and isinstance(head, str) and head.startswith("event "):
            event_id = head.removeprefix("event ")
            if event_id not in found:
                found[event_id] = (reading or HistoryReading()).locate(history_file, event_id)
            problems.append(dataclasses.replace(problem, location=found[event_id]))
        else:
            problems.append(problem)
    return type(error)(problems)


_PROGRAM_KEYS = frozenset({"points", "tiers", "rules", "rewards"})
"""The program's keys whose figures a refusal may name."""


def _located_figures(error: Refusal, program_file: Path) -> Refusal:
    """Each problem about one of the program's figures, at its line and column (the
    problem's own source line and caret with it)."""

    def of_figure(problem: Problem) -> bool:  # a path into the program, not an event's
        head = problem.path[0] if problem.path else None
        return not problem.location and head in _PROGRAM_KEYS

    if not any(of_figure(problem) for problem in error.problems):
        return error
    _, where = load_program_with_map(program_file)
    return type(error)(
        [
            where.problem(problem.message, problem.path, code=problem.code)
            if of_figure(problem)
            else problem
            for problem in error.problems
        ]
    )


STDIN = "-"
"""The history name that reads standard input."""


@dataclass(frozen=True, slots=True)
class HistoryReading:
    """How the command line was told to read history files (spreadsheet exports differ).

    A history named ``-`` is standard input, read once and kept, since a command may read
    its history more than once. Its format is ``format`` if given, else Parquet when it
    starts with Parquet's magic bytes, else CSV; JSON on standard input needs the format.

    A CSV file's delimiter, decimal comma and encoding are detected from the file unless
    told (``told`` names the options given); so are a customers file's. Column names and
    local times are in ``exports``; see :mod:`rewardrules.cli._exports`.
    """

    delimiter: str = ","
    decimal_comma: bool = False
    encoding: str = "utf-8"
    format: Format | None = None
    _stdin: list[bytes] = field(default_factory=list, compare=False)
    told: frozenset[str] = frozenset({"delimiter", "decimal_comma", "encoding"})
    exports: Told = field(default_factory=Told)
    max_errors: int = 20
    _opened: dict[tuple[str, bool], Export] = field(default_factory=dict, compare=False)
    _said: set[str] = field(default_factory=set, compare=False)

    def for_program(self, program: Program) -> HistoryReading:
        """These options, with the program's time zone for ``--local-times``."""
        return self.in_zone(program.timezone)

    def in_zone(self, zone: str) -> HistoryReading:
        """These options, with ``zone`` for ``--local-times`` when it names none."""
        exports = dataclasses.replace(self.exports, program_zone=zone)
        return dataclasses.replace(self, exports=exports, _opened={})

    def read(self, path: Path) -> Iterator[AnyEvent]:
        """Read a history with these options."""
        if str(path) == STDIN:
            return self._read_stdin()
        export = self._export(path)
        if export is not None:
            return _exports.read_events(export, self.format, self.max_errors)
        events = read_history(
            path,
            format=self.format,
            delimiter=self.delimiter,
            decimal_comma=self.decimal_comma,
            encoding=self.encoding,
        )
        return self._every_jsonl_record(events, path, customers=False)

    def read_customers(self, path: Path) -> Iterator[Customer]:
        """Read a customers file: its dialect detected as a history's, its errors all said."""
        export = self._export(path, customers=True)
        if export is not None:
            return _exports.read_customer_rows(export, self.max_errors)
        return self._every_jsonl_record(read_customers(path), path, customers=True)

    def read_table(self, path: Path) -> pa.Table:
        """Read a history with these options into a table of the history's columns."""
        if str(path) == STDIN:
            return events_to_table(self._read_stdin())
        export = self._export(path)
        if export is not None:
            return _exports.read_table(export, self.format, self.max_errors)
        return read_history_table(
            path,
            format=self.format,
            delimiter=self.delimiter,
            decimal_comma=self.decimal_comma,
            encoding=self.encoding,
        )

    def locate(self, path: Path, event_id: str) -> Location | None:
        """Find an event's place in a history read with these options (not on standard input)."""
        if str(path) == STDIN:
            return None
        export = self._export(path)
        if export is not None and export.text is not None:
            return _exports.locate(export, event_id)
        delimiter, encoding = self.delimiter, self.encoding
        if export is not None:
            delimiter, encoding = export.dialect.delimiter, export.dialect.encoding
        return locate_event(
            path, event_id, format=self.format, delimiter=delimiter, encoding=encoding
        )

    def stdin_bytes(self) -> bytes:
        """Standard input, read once and kept."""
        if not self._stdin:
            self._stdin.append(sys.stdin.buffer.read())
        return self._stdin[0]

    def _export(self, path: Path, customers: bool = False) -> Export | None:
        """The CSV file at ``path`` as it is to be read; None for another format."""
        name = str(path)
        try:
            fmt = _format_of(name, None if customers else self.format)
        except HistoryError:
            return None  # the reader says so
        if fmt != "csv":
            return None
        key = (name, customers)
        if key not in self._opened:
            self._opened[key] = _exports.open_export(name, None, self._told(customers), customers)
        export = self._opened[key]
        _exports.say_dialect(export, self._said)
        return export

    def _told(self, customers: bool) -> Told:
        if customers:
            return dataclasses.replace(self.exports, columns=())
        return dataclasses.replace(
            self.exports,
            delimiter=self.delimiter if "delimiter" in self.told else None,
            decimal_comma=self.decimal_comma if "decimal_comma" in self.told else None,
            encoding=self.encoding if "encoding" in self.told else None,
        )

    def _every_jsonl_record(
        self, records: Iterator[_Record], path: Path, *, customers: bool
    ) -> Iterator[_Record]:
        try:
            yield from records
        except HistoryError as error:
            name = str(path)
            try:
                fmt = _format_of(name, None if customers else self.format)
            except HistoryError:
                raise error from None
            if fmt != "jsonl":
                raise
            encoding = "utf-8" if customers else self.encoding
            raise _exports.more_jsonl_problems(
                error, name, encoding, self.max_errors, customers
            ) from None

    def _read_stdin(self) -> Iterator[AnyEvent]:
        data = self.stdin_bytes()
        fmt = self.format or ("parquet" if data.startswith(b"PAR1") else None)
        if fmt is None and data.lstrip()[:1] in (b"{", b"["):
            message = (
                "standard input looks like JSON; say which: --history-format jsonl or "
                "--history-format json"
            )
            raise HistoryError([Problem(message, code="unknown-format")])
        if fmt == "parquet":
            stream = io.BytesIO(data)
            table = read_history_table(stream, format="parquet", source=_STDIN_NAME)
            return table_to_events(table, _STDIN_NAME)
        if (fmt or "csv") == "csv":
            export = _exports.open_export(_STDIN_NAME, data, self._told(False), False)
            _exports.say_dialect(export, self._said)
            text = export.text or decode_history(data, _STDIN_NAME, export.dialect.encoding)
            return parse_history_text(
                text,
                "csv",
                source=_STDIN_NAME,
                delimiter=export.dialect.delimiter,
                decimal_comma=export.dialect.decimal_comma,
            )
        text = decode_history(data, _STDIN_NAME, self.encoding)
        return parse_history_text(
            text,
            fmt or "csv",
            source=_STDIN_NAME,
            delimiter=self.delimiter,
            decimal_comma=self.decimal_comma,
        )


_STDIN_NAME = "<stdin>"


def _columns(_context: click.Context, _parameter: click.Parameter, value: str | None) -> object:
    if value is None:
        return ()
    try:
        return tuple(parse_columns(value).items())
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _local_times(_context: click.Context, _parameter: click.Parameter, value: str | None) -> object:
    if value is None or value == "program":
        return value
    try:
        check_zone_name(value)
    except ZoneNameError as exc:
        hint = f" ({exc.suggestion})" if exc.suggestion else ""
        raise click.BadParameter(f"{exc}{hint}") from None
    return value


_HISTORY_OPTIONS = (
    click.option(
        "--delimiter",
        help=(
            "CSV: the character between cells (';' for many spreadsheet exports); "
            "detected from each file's header when not given."
        ),
    ),
    click.option(
        "--decimal-comma/--decimal-point",
        default=None,
        help=(
            "CSV histories: amounts are written 4,50 (or 4.50); detected when not given, "
            "for a file separated by another character than ','."
        ),
    ),
    click.option(
        "--encoding",
        type=click.Choice(["utf-8", "cp1252", "latin-1"]),
        help="The history's text encoding; UTF-8, or cp1252 when a CSV file is not UTF-8.",
    ),
    click.option(
        "--history-format",
        type=click.Choice(["csv", "jsonl", "json", "parquet"]),
        help=(
            "The history's format, when its extension does not tell it. HISTORY '-' reads "
            "standard input: Parquet if it starts like Parquet, else CSV unless told."
        ),
    ),
    click.option(
        "--columns",
        callback=_columns,
        metavar="NAME=HEADER,...",
        help=(
            "CSV histories: the export's names of the columns, such as "
            "'id=Order ID,at=Date' (or a NAME.map.yaml file beside the history)."
        ),
    ),
    click.option(
        "--local-times",
        is_flag=False,
        flag_value="program",
        callback=_local_times,
        metavar="[ZONE]",
        help=("CSV: read times without a UTC offset in the program's time zone (or in ZONE)."),
    ),
    click.option(
        "--fold",
        type=click.Choice(["earlier", "later"]),
        help=(
            "With --local-times: a time that happens twice when clocks go back is the "
            "earlier one (the default) or the later one."
        ),
    ),
    click.option(
        "--max-errors",
        type=click.IntRange(min=1),
        default=20,
        show_default=True,
        help="CSV and JSON Lines: the bad records to report before 'and N more'.",
    ),
)


def history_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add the options of reading a history; pass them as ``reading``."""

    @functools.wraps(command)
    def with_reading(
        *args: object,
        delimiter: str | None,
        decimal_comma: bool | None,
        encoding: str | None,
        history_format: Format | None,
        columns: tuple[tuple[str, str], ...],
        local_times: str | None,
        fold: Fold | None,
        max_errors: int,
        **kwargs: object,
    ) -> None:
        told = frozenset(
            name
            for name, value in (
                ("delimiter", delimiter),
                ("decimal_comma", decimal_comma),
                ("encoding", encoding),
            )
            if value is not None
        )
        reading = HistoryReading(
            delimiter if delimiter is not None else ",",
            bool(decimal_comma),
            encoding or "utf-8",
            history_format,
            told=told,
            exports=Told(columns=columns, local_times=local_times, fold=fold),
            max_errors=max_errors,
        )
        command(*args, reading=reading, **kwargs)

    decorated: Callable[..., None] = with_reading
    for option in reversed(_HISTORY_OPTIONS):
        decorated = option(decorated)
    return decorated


customers_option = click.option(
    "--customers",
    "customers_file",
    type=click.Path(path_type=Path),
    help="Customer profiles (CSV, JSON Lines or JSON).",
)
"""``--customers FILE``, shared by dry-run and explain (passed as ``customers_file``)."""

as_of_option = click.option(
    "--as-of",
    callback=parse_as_of,
    help="Ignore events after this date (whole local day) or timestamp.",
)
"""``--as-of DATE|TIMESTAMP``, shared by dry-run and explain (read by :func:`parse_as_of`)."""
