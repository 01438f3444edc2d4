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
from typing import TypeVar

import click
import pyarrow as pa

from rewardrules._timetext import LEAP_SECONDS, is_week_date, leap_second_fix
from rewardrules._types import FIRST_DATE, LAST_DATE
from rewardrules.errors import HistoryError, Location, Problem, RewardRulesError
from rewardrules.events import AnyEvent
from rewardrules.histories._table_read import decode_history
from rewardrules.histories.columns import events_to_table, read_history_table, table_to_events
from rewardrules.histories.read import Format, locate_event, parse_history_text, read_history

_Result = TypeVar("_Result")
_Moment = TypeVar("_Moment", date, datetime)


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
    error: HistoryError, history_file: Path, reading: HistoryReading | None = None
) -> HistoryError:
    """Point each problem about an evaluated event at the event's first line in the history.

    The engine names the event (path ``("event <id>", field)``) but not its place; only this
    error path reads the history again to find it. Problems already located are kept.
    """
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
    return HistoryError(problems)


STDIN = "-"
"""The history name that reads standard input."""


@dataclass(frozen=True, slots=True)
class HistoryReading:
    """How the command line was told to read history files (spreadsheet exports differ).

    A history named ``-`` is standard input, read once and kept, since a command may read
    its history more than once. Its format is ``format`` if given, else Parquet when it
    starts with Parquet's magic bytes, else CSV; JSON on standard input needs the format.
    """

    delimiter: str = ","
    decimal_comma: bool = False
    encoding: str = "utf-8"
    format: Format | None = None
    _stdin: list[bytes] = field(default_factory=list, compare=False)

    def read(self, path: Path) -> Iterator[AnyEvent]:
        """Read a history with these options."""
        if str(path) == STDIN:
            return self._read_stdin()
        return read_history(
            path,
            format=self.format,
            delimiter=self.delimiter,
            decimal_comma=self.decimal_comma,
            encoding=self.encoding,
        )

    def read_table(self, path: Path) -> pa.Table:
        """Read a history with these options into a table of the history's columns."""
        if str(path) == STDIN:
            return events_to_table(self._read_stdin())
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
        return locate_event(
            path, event_id, format=self.format, delimiter=self.delimiter, encoding=self.encoding
        )

    def stdin_bytes(self) -> bytes:
        """Standard input, read once and kept."""
        if not self._stdin:
            self._stdin.append(sys.stdin.buffer.read())
        return self._stdin[0]

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
        text = decode_history(data, _STDIN_NAME, self.encoding)
        return parse_history_text(
            text,
            fmt or "csv",
            source=_STDIN_NAME,
            delimiter=self.delimiter,
            decimal_comma=self.decimal_comma,
        )


_STDIN_NAME = "<stdin>"


_HISTORY_OPTIONS = (
    click.option(
        "--delimiter",
        default=",",
        show_default=True,
        help="CSV histories: the character between cells (';' for many spreadsheet exports).",
    ),
    click.option(
        "--decimal-comma",
        is_flag=True,
        help="CSV histories: amounts are written with a decimal comma (4,50).",
    ),
    click.option(
        "--encoding",
        type=click.Choice(["utf-8", "cp1252", "latin-1"]),
        default="utf-8",
        show_default=True,
        help="The history file's text encoding.",
    ),
    click.option(
        "--history-format",
        type=click.Choice(["csv", "jsonl", "json", "parquet"]),
        help=(
            "The history's format, when its extension does not tell it. HISTORY '-' reads "
            "standard input: Parquet if it starts like Parquet, else CSV unless told."
        ),
    ),
)


def history_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add --delimiter, --decimal-comma, --encoding and --history-format; pass ``reading``."""

    @functools.wraps(command)
    def with_reading(
        *args: object,
        delimiter: str,
        decimal_comma: bool,
        encoding: str,
        history_format: Format | None,
        **kwargs: object,
    ) -> None:
        reading = HistoryReading(delimiter, decimal_comma, encoding, history_format)
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
