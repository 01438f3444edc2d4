"""Pydantic's validation errors, rewritten in plain words a marketer can act on.

Each error type our models can produce has one small function in :data:`_DESCRIBE`; an error
type without one keeps pydantic's own message. A union (``reward: free | {percent_off} |
{voucher}``) is told apart by pydantic itself (:mod:`rewardrules.program._unions`): an error
inside the member written is that member's, and a value that is no member is one error that
says what it may be.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, get_args

from pydantic import ValidationError

from rewardrules._timetext import is_week_date
from rewardrules._types import Slug
from rewardrules._wording import got, phrase, shorten, unknown_key
from rewardrules.errors import PathItem, closest
from rewardrules.program._unions import NOT_ONE_OF
from rewardrules.program.model import RULE_KINDS
from rewardrules.rulefiles._errorpaths import (
    ABSENT,
    MappedError,
    lookup,
    map_loc,
    model_at,
    nested_fields,
)
from rewardrules.rulefiles.sourcemap import unusual_characters
from rewardrules.text import escaped

Path = tuple[PathItem, ...]
Anchor = Literal["key", "value", "parent"]
TextAt = Callable[[Path], "str | None"]

_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")
_SLUG_PATTERN = next(
    str(constraint.pattern)
    for info in get_args(Slug)[1:]
    for constraint in getattr(info, "metadata", ())
    if getattr(constraint, "pattern", None)
)
_KINDS = [get_args(rule.model_fields["kind"].annotation)[0] for rule in RULE_KINDS]
_ONE_OR_A_LIST = {
    "limit": "a limit such as {per: month, rewards: 2}, or a list of them",
}
"""Fields of a rule that take one mapping or a list of them, in words."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One validation problem in document terms, not yet located in the text.

    Attributes:
        at: point at the entry's key, its value, or the mapping that holds it.
        meant: for an unknown key, the field it most likely misspells.
    """

    path: Path
    message: str
    code: str
    suggestion: str | None = None
    at: Anchor = "value"
    meant: str | None = None


def findings(error: ValidationError, data: object, text_at: TextAt) -> list[Finding]:
    """Turn a pydantic ``ValidationError`` about ``data`` into findings in document terms.

    Args:
        error: what ``Program.model_validate(data)`` raised.
        data: the document as built from the YAML.
        text_at: a scalar's text as written, by document path (for "got 0123" and quoting hints).
    """
    found: list[Finding] = []
    for details in error.errors(include_url=False):
        finding = _describe(map_loc(details, data), data, text_at)
        if finding is not None:
            found.append(finding)
    # "unknown key 'percent_of' (did you mean 'percent_off'?)" already says what is missing.
    misspelt = {(*finding.path[:-1], finding.meant) for finding in found if finding.meant}
    return [
        finding for finding in found if not (finding.code == "missing" and finding.path in misspelt)
    ]


def _choice(value: object, text: str | None) -> str:
    """A value given where one of a few words was expected: ``'down'``, or "the number 3"."""
    if isinstance(value, str):  # the choices are ASCII words: show anything else escaped
        return f"'{shorten(escaped(value, ascii_only=True))}'"
    return got(value, text)


def _choices(expected: str) -> list[str]:
    return [match.group(1) for match in _QUOTED.finditer(expected)]


def _closest(word: object, candidates: list[str]) -> str | None:
    close = closest(word, candidates) if isinstance(word, str) else []
    return close[0] if close else None


def _did_you_mean(word: object, candidates: list[str]) -> str | None:
    close = _closest(word, candidates)
    return f"did you mean '{close}'?" if close is not None else None


@dataclass(frozen=True, slots=True)
class _Error:
    """One pydantic error with what its message needs: the value and its text as written."""

    mapped: MappedError
    data: object
    value: object
    text: str | None
    ctx: dict[str, Any]

    @property
    def path(self) -> Path:
        return self.mapped.path

    @property
    def at(self) -> Anchor:
        return "key" if self.mapped.at_key else "value"

    @property
    def seen(self) -> str:
        return got(self.value, self.text)

    def finding(self, message: str, code: str, suggestion: str | None = None) -> Finding:
        return Finding(self.path, message, code, suggestion, self.at)


def _describe(mapped: MappedError, data: object, text_at: TextAt) -> Finding | None:
    error = mapped.error
    value = lookup(data, mapped.path, ABSENT)
    if value is ABSENT:
        value = error["input"]
    details = _Error(mapped, data, value, text_at(mapped.path), dict(error.get("ctx") or {}))
    describe = _DESCRIBE.get(error["type"])
    return describe(details) if describe else details.finding(error["msg"], "invalid")


def _shared(code: str, at: Anchor | None = None) -> Callable[[_Error], Finding | None]:
    """An error in the words histories use too (:mod:`rewardrules._wording`), with its code."""

    def describe(error: _Error) -> Finding | None:
        kind, name = error.mapped.error["type"], error.path[-1] if error.path else None
        said = phrase(kind, error.value, error.ctx, name=name, text=error.text)
        if said is None:
            return None
        return Finding(error.path, said.message, code, said.suggestion, at or error.at)

    return describe


def _unknown_key(error: _Error) -> Finding:
    key = str(error.path[-1])
    model = model_at(tuple(error.mapped.error["loc"][:-1]))
    fields = list(model.model_fields) if model else []
    meant = _closest(key, fields)
    hint = f"did you mean '{meant}'?" if meant else None
    for home, keys in nested_fields(model) if model and not meant else ():
        close = _closest(key, keys)
        if close == key:
            hint = f"'{key}' belongs inside '{home}'"
            break
        if close is not None:
            hint = f"did you mean '{close}', inside '{home}'?"
            break
    if hint is None and fields:
        hint = f"the keys allowed here are: {', '.join(fields)}"
    message = f"{unknown_key(key)}{unusual_characters(key)}"
    return Finding(error.path, message, "unknown-key", hint, "key", meant)


def _unknown_kind(error: _Error) -> Finding:
    tag = lookup(error.data, (*error.path, "kind"))
    shown = f"'{escaped(tag, ascii_only=True)}'" if isinstance(tag, str) else repr(tag)
    unusual = unusual_characters(tag) if isinstance(tag, str) else ""
    message = f"unknown kind {shown}{unusual}; the kinds are: {', '.join(_KINDS)}"
    return Finding((*error.path, "kind"), message, "unknown-kind", _did_you_mean(tag, _KINDS))


def _missing_kind(error: _Error) -> Finding:
    message = f"'kind' is required here; the kinds are: {', '.join(_KINDS)}"
    return Finding((*error.path, "kind"), message, "missing-kind", at="parent")


def _not_one_of(error: _Error) -> Finding:
    """A value that is none of a union's members; the union says what they are."""
    message = f"must be one of: {error.ctx['choices']} (got {_choice(error.value, error.text)})"
    words = [word for word in str(error.ctx["words"]).split(", ") if word]
    return error.finding(message, "not-allowed", _did_you_mean(error.value, words))


def _literal(error: _Error) -> Finding:
    options = _choices(str(error.ctx.get("expected", "")))
    expected = f"'{options[0]}'" if len(options) == 1 else f"one of: {', '.join(options)}"
    hint = _did_you_mean(error.value, options)
    return error.finding(
        f"must be {expected} (got {_choice(error.value, error.text)})", "not-allowed", hint
    )


def _list(error: _Error) -> Finding | None:
    """A list was expected: of a rule's ``limit``, one mapping is enough."""
    name = error.path[-1] if error.path else None
    loc = tuple(error.mapped.error["loc"])
    if isinstance(name, str) and name in _ONE_OR_A_LIST and model_at(loc[:-1]) in RULE_KINDS:
        if error.value is None:
            message = f"expected {_ONE_OR_A_LIST[name]}, but nothing is written here"
        else:
            message = f"expected {_ONE_OR_A_LIST[name]} (got {error.seen})"
        return error.finding(message, "wrong-type")
    return _shared("wrong-type")(error)


def _pattern(error: _Error) -> Finding:
    pattern, value = str(error.ctx.get("pattern")), error.value
    if pattern != _SLUG_PATTERN or not isinstance(value, str):
        return error.finding(f"must match the pattern {pattern} (got {error.seen})", "bad-format")
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    message = (
        "must be written with lowercase letters, digits, '-' and '_', e.g. 'coffee-stars' "
        f"(got '{shorten(escaped(value, ascii_only=True))}')"
    )
    return error.finding(message, "bad-format", f"did you mean '{slug}'?" if slug else None)


def _date(error: _Error) -> Finding:
    if isinstance(error.value, str) and is_week_date(error.value):
        message = f"{error.seen} is not a date (an ISO week date is not accepted); "
        return error.finding(message + "write dates as YYYY-MM-DD", "bad-date")
    # Python's own reason ("invalid character in year") helps nobody writing a program.
    reason = _no_such_day(error.value)
    message = f"{error.seen} is not a date{reason}; write dates as YYYY-MM-DD"
    suggestion = date_fix(error.value)
    return error.finding(message, "bad-date", None if suggestion is None else f"write {suggestion}")


def _no_such_day(value: object) -> str:
    """' (there is no month 13)' for a date written right but not in the calendar."""
    match = _YEAR_FIRST.fullmatch(value) if isinstance(value, str) else None
    if match is None or "-" not in value:  # type: ignore[operator]
        return ""
    year, month, day = (int(part) for part in match.groups())
    if not 1 <= month <= 12:
        return f" (there is no month {month})"
    days = calendar.monthrange(year, month)[1] if year else 31
    if not 1 <= day <= days:
        return f" ({calendar.month_name[month]} {year} has {days} days)"
    return ""


_DAY_FIRST = re.compile(r"(\d{1,2})[./](\d{1,2})[./](\d{4})")
_YEAR_FIRST = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")


def date_fix(value: object) -> str | None:
    """The date a mis-written date most likely means, as YYYY-MM-DD; None if unclear.

    ``2026-6-14`` and ``2026/06/14`` are read year first; ``14.06.2026`` (day first, as
    written with points) too; ``06/14/2026`` only when one of the two numbers cannot be a
    month, since ``06/07/2026`` is June or July depending on the country.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if (match := _YEAR_FIRST.fullmatch(text)) is not None:
        year, month, day = (int(part) for part in match.groups())
    elif (match := _DAY_FIRST.fullmatch(text)) is not None:
        first, second, year = (int(part) for part in match.groups())
        if "." in text or first > 12:
            day, month = first, second
        elif second > 12:
            month, day = first, second
        else:
            return None
    else:
        return None
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _not_a_number(error: _Error) -> Finding:
    return error.finding(
        f"{error.text or error.value} is not a number a program can use", "not-a-number"
    )


def _value_error(error: _Error) -> Finding:
    details = error.mapped.error
    cause = error.ctx.get("error")
    message = str(cause) if cause is not None else details["msg"]
    if isinstance(details["input"], bool):  # the models' own words say "True"; YAML says true
        message = message.replace(f"(got {details['input']})", f"(got {error.text or error.value})")
    # A check that knows its own code and fix (rewardrules._types.NumberTextError) gives them.
    code = getattr(cause, "code", "invalid")
    suggestion = getattr(cause, "suggestion", None)
    return error.finding(
        message,
        code if isinstance(code, str) else "invalid",
        suggestion if isinstance(suggestion, str) else None,
    )


_DESCRIBE: dict[str, Callable[[_Error], Finding | None]] = {
    "missing": _shared("missing", at="parent"),
    "extra_forbidden": _unknown_key,
    "union_tag_invalid": _unknown_kind,
    "union_tag_not_found": _missing_kind,
    NOT_ONE_OF: _not_one_of,
    **dict.fromkeys(
        ("greater_than_equal", "greater_than", "less_than_equal", "less_than"),
        _shared("out-of-range"),
    ),
    "literal_error": _literal,
    **dict.fromkeys(
        (
            "string_type",
            "int_type",
            "int_parsing",
            "int_from_float",
            "decimal_type",
            "decimal_parsing",
            "list_type",
            "dict_type",
            "model_type",
            "model_attributes_type",
            "date_type",
            "bool_type",
        ),
        _shared("wrong-type"),
    ),
    "tuple_type": _list,
    "too_short": _shared("too-short"),
    "string_too_short": _shared("empty"),
    "string_too_long": _shared("too-long"),
    "string_pattern_mismatch": _pattern,
    "date_parsing": _date,
    "date_from_datetime_parsing": _date,
    "date_from_datetime_inexact": _date,
    "finite_number": _not_a_number,
    "value_error": _value_error,
    "assertion_error": _value_error,
}
"""One function per pydantic error type our models can produce."""
