"""Every bad record of a CSV or JSON Lines file, not only the first.

The readers stop at the first bad record, which is what a program reading a file wants. A
person fixing an export wants the list. After a bad record, the rest of the file (after the
CSV header) is read again from the line after it, and the problems found are moved back to
the file's own lines: their locations, and the line numbers their messages give ("repeats
line 4"). Each reading starts where the last one stopped, so the whole costs about one
reading of the file, plus ``MAX_COUNTED`` restarts at most past the bad records shown.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterator
from typing import Any

from rewardrules.errors import HistoryError, Location, Problem
from rewardrules.histories import read as _read
from rewardrules.histories._records import CsvOptions, Kind

MAX_COUNTED = 1000
"""Bad records counted beyond those shown, to say "and N more"."""

# "line 4" in a message, but not inside a quoted value, which is the file's own text.
_LINE_NUMBER = re.compile(r"'(?:[^'\\]|\\.)*'|\bline (\d+)\b")


class _Rest:
    """The lines of a file from one line on, after its header: what a reader iterates."""

    def __init__(self, header: list[str], lines: list[str], start: int) -> None:
        self.lines: Iterator[str] = itertools.chain(header, itertools.islice(lines, start, None))

    def __iter__(self) -> Iterator[str]:
        return self.lines

    def readline(self, limit: int = -1) -> str:
        return next(self.lines, "")

    def read(self, limit: int = -1) -> str:
        return "".join(self.lines)


def every_problem(
    first: HistoryError,
    text: str,
    source: str,
    fmt: _read.Format,
    options: CsvOptions,
    max_errors: int,
    customers: bool = False,
) -> HistoryError:
    """The problems of the first ``max_errors`` bad records, then how many more there are.

    Args:
        first: the error the reader raised reading ``text``.
        text: the whole file, as read.
        source: the name the problems are located in.
        fmt: ``"csv"`` or ``"jsonl"``; any other format gives ``first`` back.
        options: how the CSV file is written.
        max_errors: the bad records to show.
        customers: the file holds customer profiles rather than events.
    """
    line = _line(first, source, fmt)
    if fmt not in ("csv", "jsonl") or line is None or max_errors < 1:
        return first
    kind: Kind[Any] = _read._CUSTOMERS if customers else _read._EVENTS
    lines = text.splitlines(keepends=True)
    header = lines[:1] if fmt == "csv" else []
    problems = list(first.problems)
    bad, capped = 1, False
    while line < len(lines):
        if bad >= max_errors + MAX_COUNTED:
            capped = True
            break
        shift = line - len(header)  # the rest's line n is the file's line n + shift
        try:
            for _ in _read._parse(_Rest(header, lines, line), source, fmt, kind, options):  # type: ignore[arg-type]
                pass
        except HistoryError as error:
            found = _line(error, source, fmt)
            if found is None:
                break
            bad += 1
            if bad <= max_errors:
                problems += [_shifted(problem, shift) for problem in error.problems]
            line = found + shift
            continue
        break
    if bad > max_errors:
        more = bad - max_errors
        records = "bad record" if more == 1 else "bad records"
        message = f"and {'at least ' if capped else ''}{more} more {records}"
        hint = f"--max-errors {bad} shows them all" if not capped else None
        problems.append(Problem(message, code="more-errors", suggestion=hint))
    return HistoryError(problems)


def _shifted(problem: Problem, shift: int) -> Problem:
    """A problem found in the rest of a file, moved to the file's own lines."""
    location = problem.location
    if location is not None:
        location = Location(location.source, location.line + shift, location.column)

    def moved(match: re.Match[str]) -> str:
        number = match.group(1)
        return match.group(0) if number is None else f"line {int(number) + shift}"

    message = _LINE_NUMBER.sub(moved, problem.message)
    return dataclasses.replace(problem, message=message, location=location)


def _line(error: HistoryError, source: str, fmt: str) -> int | None:
    """The last line an error points at, when each of its problems is in a record of the file."""
    lines = [
        problem.location.line
        for problem in error.problems
        if problem.location is not None and problem.location.source == source
    ]
    if not lines or len(lines) != len(error.problems) or min(lines) < (2 if fmt == "csv" else 1):
        return None  # a header's problem, or one without a place: nothing to read past
    return max(lines)
