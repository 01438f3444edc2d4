"""Every bad record of a CSV or JSON Lines file, not only the first.

The readers stop at the first bad record, which is what a program reading a file wants. A
person fixing an export wants the list. After a bad record, the file is read again from the
line after it, the lines before it blanked (both readers skip blank lines), so every line
keeps its number and every message its words ("repeats line 4") as in the first reading.
Each reading after the first is of the rest of the file only; the counting stops after
``MAX_COUNTED`` bad records past those shown.
"""

from __future__ import annotations

import io
from typing import Any

from rewardrules.errors import HistoryError, Problem
from rewardrules.histories import read as _read
from rewardrules.histories._records import CsvOptions, Kind

MAX_COUNTED = 1000
"""Bad records counted beyond those shown, to say "and N more"."""


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
    header = lines[0] if fmt == "csv" and lines else ""
    skipped = 1 if header else 0
    problems = list(first.problems)
    bad, capped = 1, False
    while line < len(lines):
        if bad >= max_errors + MAX_COUNTED:
            capped = True
            break
        rest = header + "\n" * (line - skipped) + "".join(lines[line:])
        try:
            for _ in _read._parse(io.StringIO(rest, newline=""), source, fmt, kind, options):
                pass
        except HistoryError as error:
            found = _line(error, source, fmt)
            if found is None or found <= line:
                break
            bad += 1
            if bad <= max_errors:
                problems += error.problems
            line = found
            continue
        break
    if bad > max_errors:
        more = bad - max_errors
        records = "bad record" if more == 1 else "bad records"
        message = f"and {'at least ' if capped else ''}{more} more {records}"
        hint = f"--max-errors {bad} shows them all" if not capped else None
        problems.append(Problem(message, code="more-errors", suggestion=hint))
    return HistoryError(problems)


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
