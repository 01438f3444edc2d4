"""YAML syntax errors in plain words, the same for PyYAML's C parser and its pure one.

Characters YAML does not allow are found before parsing (:func:`character_problems`).

The two parsers describe the same mistake differently ("did not find expected key" and
"expected <block end>, but found '-'"), so the message is chosen from what both share: the
construct being read (``context``), a few words of ``problem``, and the character at fault.
Each rule below recognises one mistake; the first that does speaks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rewardrules.errors import Problem
from rewardrules.rulefiles.sourcemap import Position, SourceText

_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
"""What YAML does not allow in a file (the same set as PyYAML's pure reader)."""

_MAX_CHARACTER_PROBLEMS = 10


def character_problems(source: SourceText) -> list[Problem]:
    """The characters YAML does not allow (control characters, lone surrogates), if any.

    Both parsers refuse them, with different words and positions; checking first makes the
    problem the same for both, and lets every one of them be reported (up to ten).
    """
    return [
        source.problem(
            f"the character U+{ord(match.group()):04X} is not allowed in a rule file; delete it",
            at=source.position_of(match.start()),
            code="bad-character",
        )
        for match in _NON_PRINTABLE.finditer(source.text)
    ][:_MAX_CHARACTER_PROBLEMS]


@dataclass(frozen=True, slots=True)
class _Failure:
    problem: str
    context: str
    at: Position
    began: Position
    char: str
    before: str
    began_line: str = ""
    lines: tuple[str, ...] = ()


_Said = tuple[str, Position] | None

MAX_KEY_LENGTH = 1024
"""YAML reads at most this many characters of a key (quoted or not) before its ':'."""

_KEY_END = re.compile(r":(?:[ \t]|$)")
_LIST_ITEM_INDENT = re.compile(r"[ \t]*(?:-[ \t]+)*")
_LONG_KEY = (
    f"a key is longer than {MAX_KEY_LENGTH} characters, more than YAML reads before its ':'; "
    "shorten it"
)


def _tab(failure: _Failure) -> _Said:
    if failure.char != "\t" and "tab" not in failure.problem:
        return None
    if failure.before.strip(" \t"):
        return "found a tab character; use spaces (a tab may appear only inside quotes)", failure.at
    return "found a tab character where indentation is expected; indent with spaces", failure.at


def _reserved(failure: _Failure) -> _Said:
    if "cannot start any token" not in failure.problem:
        return None
    return f"'{failure.char}' cannot start a value; put the value in quotes", failure.at


def _colon(failure: _Failure) -> _Said:
    if "mapping values are not allowed" not in failure.problem:
        return None
    indent = _LIST_ITEM_INDENT.match(failure.before)
    key = failure.before[indent.end() if indent else 0 :]
    if len(key) > MAX_KEY_LENGTH and not _KEY_END.search(key):
        # A key too long to be read as one, after '- ': the parser found its ':' too late.
        column = failure.at.column - len(key)
        return _LONG_KEY, Position(failure.at.line, column)
    message = (
        "': ' cannot appear here; put text that contains ': ' in quotes, "
        "or put a nested mapping on its own indented lines"
    )
    return message, failure.at


_CONTENT = re.compile(r"[ ]*(?:-[ ]+)*")
_PLAIN_KEY = re.compile(r"[^\s#'\"{}\[\],&*!|>%@`-][^:#]*:[ ]+\S")


def _dedented_line(failure: _Failure) -> _Said:
    """A line indented less than the lines around it, found only at the line after it.

    ``kind:`` at column 1 among a rule's keys at column 5: YAML reads it as a key of the
    document, and the next line, indented again, as a value containing ': '. The line at
    fault is the one above, if the keys above it and below it line up without it.
    """
    if "mapping values are not allowed" not in failure.problem:
        return None
    number = failure.at.line  # 1-based: the failing line is lines[number - 1]
    if number < 3 or number > len(failure.lines):
        return None
    here = _indent_of(failure.lines[number - 1])
    above = failure.lines[number - 2]
    if not _PLAIN_KEY.match(above.lstrip(" ")) or _indent_of(above) >= here:
        return None
    for earlier in range(number - 3, -1, -1):
        line = failure.lines[earlier]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if _indent_of(line) < here and _content_column(line) != here:
            return None
        if _content_column(line) == here:
            message = (
                "this line is indented less than the lines around it (the keys on lines "
                f"{earlier + 1} and {number} start at column {here + 1}); "
                f"indent it to column {here + 1}"
            )
            return message, Position(number - 1, _indent_of(above) + 1)
    return None


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content_column(line: str) -> int:
    """Where a line's key starts (0-based), after its indentation and any '- '."""
    match = _CONTENT.match(line)
    return match.end() if match else 0


def _no_colon(failure: _Failure) -> _Said:
    if "simple key" not in failure.context:
        return None
    began = failure.began
    key_end = _KEY_END.search(failure.began_line, began.column - 1)
    if key_end is not None and key_end.start() - (began.column - 1) > MAX_KEY_LENGTH:
        return _LONG_KEY, began
    return "this key is not followed by ':'", began


def _indentation(failure: _Failure) -> _Said:
    if "block mapping" in failure.context and failure.char == "-":
        return "a list item ('-') cannot appear here; indent it under its key", failure.at
    for construct, members in (
        ("block mapping", "keys of the mapping"),
        ("block collection", "items of the list"),
    ):
        if construct in failure.context:
            message = (
                f"this line is not indented like the {members} that starts on "
                f"line {failure.began.line}"
            )
            return message, failure.at
    if "<document start>" in failure.problem:
        return "this line does not fit the indentation of the lines above it", failure.at
    return None


def _unclosed(failure: _Failure) -> _Said:
    began = failure.began
    for construct, noun, opened, closed in (
        ("flow sequence", "list", "[", "]"),
        ("flow mapping", "mapping", "{", "}"),
    ):
        if construct in failure.context:
            message = (
                f"the {noun} opened with '{opened}' on line {began.line}, column {began.column} "
                f"is not closed; expected ',' or '{closed}' here"
            )
            return message, failure.at
    if "quoted scalar" in failure.context and "escape" in failure.problem:
        message = (
            "this double-quoted text has an unknown escape sequence; write \\\\ for a "
            "backslash, or use single quotes"
        )
        return message, began
    if "quoted scalar" in failure.context:
        message = (
            f"the quoted text that starts on line {began.line}, column {began.column} "
            "is never closed"
        )
        return message, failure.at
    return None


def _indicator(failure: _Failure) -> _Said:
    problem, context = failure.problem, failure.context
    if "node content" in problem:
        return "a value is missing here", failure.at
    if "block scalar" in context:
        message = (
            "a value that starts with '|' or '>' begins a block of text, and nothing may "
            "follow on its line; put the value in quotes"
        )
        return message, failure.at
    for found, message in (
        (
            "directive" in context,
            "a line that starts with '%' is a YAML directive; put the value in quotes",
        ),
        (
            "entries are not allowed" in problem,
            "a list item ('-') cannot appear here; put the value in quotes",
        ),
        (
            "tag" in context or "tag handle" in problem,
            "a value that starts with '!' is read as a tag; put the value in quotes",
        ),
        (
            "mapping keys are not allowed" in problem,
            "a '? ' cannot appear here; put the value in quotes",
        ),
        ("found unexpected ':'" in problem, "':' cannot appear here; put the value in quotes"),
        (
            "anchor" in context or "alias" in context,
            "an anchor (&) or alias (*) needs a name made of letters and digits",
        ),
    ):
        if found:
            return message, failure.at
    return None


_RULES: tuple[Callable[[_Failure], _Said], ...] = (
    _tab,
    _reserved,
    _dedented_line,
    _colon,
    _no_colon,
    _indentation,
    _unclosed,
    _indicator,
)


def syntax_problem(
    problem: str, context: str, at: Position, began: Position, source: SourceText
) -> Problem:
    """Describe a YAML scanner or parser error.

    Args:
        problem: the parser's ``problem`` text.
        context: the parser's ``context`` text, e.g. "while parsing a flow sequence".
        at: where the parser stopped.
        began: where the construct it was reading began.
        source: the text.
    """
    line = source.lines[at.line - 1] if at.line <= len(source.lines) else ""
    char = line[at.column - 1] if at.column <= len(line) else ""
    began_line = source.lines[began.line - 1] if 0 < began.line <= len(source.lines) else ""
    failure = _Failure(
        problem, context, at, began, char, line[: at.column - 1], began_line, tuple(source.lines)
    )
    for rule in _RULES:
        said = rule(failure)
        if said is not None:
            message, where = said
            code = "tab" if rule is _tab else "yaml-syntax"
            return source.problem(message, at=where, code=code)
    detail = f" ({context}, line {began.line})" if context else ""
    return source.problem(f"the YAML cannot be read: {problem}{detail}", at=at, code="yaml-syntax")
