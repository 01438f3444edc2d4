"""Errors that point at the input: which file, which line and column, which field, what to do.

Every error the library raises on purpose derives from :class:`RewardRulesError`. Errors
keep their facts as data (a document path, a :class:`Location`) and become text only when
shown, so that tools can read them and people can follow them to the offending line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Final

PathItem = str | int


def format_path(path: Sequence[PathItem]) -> str:
    """Write a document path the way a marketer reads it: ``tiers.levels[1].at_least``."""
    text = ""
    for item in path:
        if isinstance(item, int):
            text += f"[{item}]"
        else:
            text += f".{item}" if text else item
    return text


@dataclass(frozen=True, slots=True)
class Location:
    """A place in an input file; ``line`` and ``column`` count from 1."""

    source: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input.

    Attributes:
        message: what is wrong and what was expected, in plain words.
        path: where in the document (``("rules", 0, "every")``); empty for the whole file.
        location: file, line and column, when known.
        code: a stable identifier for tools (``duplicate-key``, ``unknown-key``...).
        suggestion: a likely fix, e.g. "did you mean 'categories'?".
        source_line: the text of the offending line, to show with a caret.
    """

    message: str
    path: tuple[PathItem, ...] = ()
    location: Location | None = None
    code: str = "invalid"
    suggestion: str | None = None
    source_line: str | None = None

    def __str__(self) -> str:
        prefix = f"{self.location}: " if self.location else ""
        where = f"{format_path(self.path)}: " if self.path else ""
        hint = f" ({self.suggestion})" if self.suggestion else ""
        return f"{prefix}{where}{self.message}{hint}"

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text, indented by 2, as the command line prints it."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_dict(self) -> dict[str, str | int | None]:
        """The problem as data for tools: code, file, line, column, path, message, suggestion.

        ``path`` is written as in messages (``rules[0].every``, ``""`` for the whole file);
        ``file``, ``line`` and ``column`` are ``None`` when the place is not known.
        """
        location = self.location
        return {
            "code": self.code,
            "file": location.source if location else None,
            "line": location.line if location else None,
            "column": location.column if location else None,
            "path": format_path(self.path),
            "message": self.message,
            "suggestion": self.suggestion,
        }

    def with_caret(self) -> str:
        """The one-line form, then the offending source line and a caret under the column.

        A line longer than :data:`MAX_SHOWN_LINE` characters is cut to that many around the
        column, with ``...`` where it was cut.
        """
        text = str(self)
        if self.source_line is not None and self.location is not None:
            shown, caret = _around(
                self.source_line.expandtabs(1).rstrip("\n"), self.location.column - 1
            )
            text += f"\n    {shown}\n    {' ' * caret}^"
        return text


MAX_SHOWN_LINE = 200
"""A source line shown under a problem is cut to at most this many characters."""


def _around(line: str, index: int) -> tuple[str, int]:
    """``line`` cut to ``MAX_SHOWN_LINE`` characters around ``index``, and where it now is."""
    if len(line) <= MAX_SHOWN_LINE:
        return line, index
    cut = "..."
    width = MAX_SHOWN_LINE - 2 * len(cut)
    start = min(max(0, index - width // 2), len(line) - width)
    if start <= len(cut):  # the start is shown: only the end is cut
        return line[: MAX_SHOWN_LINE - len(cut)] + cut, index
    if start + width + len(cut) >= len(line):  # the end is shown: only the start is cut
        start = len(line) - (MAX_SHOWN_LINE - len(cut))
        return cut + line[start:], index - start + len(cut)
    return cut + line[start : start + width] + cut, index - start + len(cut)


class RewardRulesError(Exception):
    """The root of every error rewardrules raises about its input."""

    exit_code = 1

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def __reduce__(self) -> tuple[type[RewardRulesError], tuple[tuple[Problem, ...]]]:
        # Rebuilt from its problems, not from its text: a Dask worker's error reaches the
        # client pickled, and must still be the error it was (rewardrules.dask).
        return type(self), (self.problems,)

    def render(self) -> str:
        """All problems, one after another, each with its source line when known."""
        return "\n".join(problem.with_caret() for problem in self.problems)


class RuleFileError(RewardRulesError, ValueError):
    """A program (rule file) that cannot be used as written."""


class HistoryError(RewardRulesError, ValueError):
    """A history file, or an event in it, that cannot be read or evaluated."""


def history_problem(
    message: str,
    *,
    source: str | None = None,
    line: int | None = None,
    column: int = 1,
    field: str | None = None,
    event_id: str | None = None,
    code: str = "invalid-event",
) -> Problem:
    """Build a :class:`Problem` about one record of a history (file row, or event id)."""
    path: tuple[PathItem, ...] = ()
    if event_id is not None:
        path += (f"event {event_id}",)
    if field is not None:
        path += (field,)
    location = Location(source, line, column) if source is not None and line is not None else None
    return Problem(message=message, path=path, location=location, code=code)


REPEATED_EVENT_ID: Final = "another event has the same id; event ids must be unique"
"""What every reader and both engines say (through :func:`event_error`) of an event whose id
another event of the evaluation has."""

REPEATED_BY_REFERRAL_FACT: Final = (
    "another event has the same id: the referral fact repeats a purchase of this "
    "evaluation, which gives the referrer their reward itself; supply referral facts "
    "only for friends whose history is not evaluated"
)
""":data:`REPEATED_EVENT_ID` when the repeat is a supplied referral fact."""


def event_error(event_id: str, message: str, *path: str | int) -> HistoryError:
    """An error about one event, its path starting with ``event <id>`` then the field."""
    where = (f"event {event_id}", *path)
    return HistoryError([Problem(message=message, path=where, code="invalid-event")])


SUGGESTION_CUTOFF: Final = 0.6
"""How alike a word must be to a known one for "did you mean ...?": difflib's similarity
ratio (twice the matching characters over both lengths, from 0 to 1), difflib's own default.

At 0.6 a slip of a letter or two (``percent_of``, ``Europ/Paris``, ``unit_prise``) finds the
word meant, and two unrelated words rarely pass. Every "did you mean" of the package (rule
files, histories and their export settings, time zones, lint, explain) asks :func:`closest`,
so they all agree on what is close; a check that finds look-alikes difflib cannot (an id
with a Cyrillic letter, a header that differs in spaces or case) does so on its own and says
so before it asks.
"""


def closest(word: str, known: Iterable[str], count: int = 1) -> list[str]:
    """The known words most like ``word``, best first (at most ``count``), for "did you mean".

    A word with capitals that matches nothing is tried again in lowercase, so that
    ``Percent_Off`` still finds ``percent_off``.
    """
    candidates = list(known)
    found = get_close_matches(word, candidates, n=count, cutoff=SUGGESTION_CUTOFF)
    if not found and word != word.lower():
        found = get_close_matches(word.lower(), candidates, n=count, cutoff=SUGGESTION_CUTOFF)
    return found
