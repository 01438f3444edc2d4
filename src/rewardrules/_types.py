"""Field types shared by the program and event models."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Annotated, Final

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field
from pydantic_core import TzInfo

_PLAIN_DECIMAL: Final = re.compile(r"[-+]?[0-9]+(?:\.[0-9]+)?", re.ASCII)
"""The only way an amount may be written as text: optional sign, ASCII digits, a point."""

_PLAIN_WHOLE: Final = re.compile(r"[-+]?[0-9]+", re.ASCII)


class NumberTextError(ValueError):
    """Text that Python would read as a number but a program must not: ``1_000``, ``١٢٣``.

    Attributes:
        code: the stable problem code, ``bad-number``.
        suggestion: the number as it should be written, when that is clear.
    """

    code = "bad-number"

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.suggestion = suggestion


def _as_plain_digits(text: str) -> str:
    """What ``text`` would be with its digits in ASCII and its separators removed."""
    digits = []
    # A currency sign or a percent sign around the number is how people write it;
    # the program says which currency, and a percent field is a percent already.
    bare = text.strip().strip("%").strip()
    while bare and unicodedata.category(bare[0]) == "Sc":
        bare = bare[1:].lstrip()
    while bare and unicodedata.category(bare[-1]) == "Sc":
        bare = bare[:-1].rstrip()
    for char in bare:
        if char in "_ '\u00a0\u202f":
            continue
        value = unicodedata.digit(char, None) if not char.isascii() else None
        digits.append(str(value) if value is not None else char)
    return "".join(digits)


def _number_text_error(text: str, kind: str, pattern: re.Pattern[str]) -> NumberTextError:
    # A currency sign like '£' is shown as written; any other character outside ASCII is
    # escaped, so that a full-width digit one (U+FF11) does not pass for a '1'.
    shown = "".join(
        char
        if char.isascii() or unicodedata.category(char) == "Sc"
        else char.encode("ascii", "backslashreplace").decode()
        for char in text
    )
    if len(shown) > 40:
        shown = shown[:37] + "..."
    how = (
        "the digits 0-9 and at most one '.', nothing else"
        if kind == "an amount"
        else "the digits 0-9 only"
    )
    message = f"'{shown}' is not {kind}; write it with {how}"
    plain = _as_plain_digits(text)
    suggestion = f"write {plain}" if plain != text and pattern.fullmatch(plain) else None
    return NumberTextError(message, suggestion)


def _exact_decimal(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"expected an amount, not a yes/no value (got {value})")
    if isinstance(value, float):
        raise ValueError(
            f"money must be exact: give Decimal('{value!r}') or the text '{value!r}', "
            f"never a float (got {value!r})"
        )
    if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value):
        # Decimal() would read '1_000.00', ' 12 ' and Arabic-Indic digits silently.
        raise _number_text_error(value, "an amount", _PLAIN_DECIMAL)
    return value


def _whole_number(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number, not a yes/no value (got {value})")
    if isinstance(value, float):
        raise ValueError(f"expected a whole number (got {value!r})")
    if isinstance(value, str) and not _PLAIN_WHOLE.fullmatch(value):
        raise _number_text_error(value, "a whole number", _PLAIN_WHOLE)
    return value


FIRST_DATE: Final = date(1970, 1, 1)
LAST_DATE: Final = date(2099, 12, 31)
"""The dates a program may name, the years of the events (docs/rule-files.md): a year 9999
is a typing mistake, and arithmetic on it would reach past what a date can hold."""


class OutOfRangeError(ValueError):
    """A value of the right type beyond its documented bound; ``code`` is ``out-of-range``."""

    code = "out-of-range"
    suggestion = None


def _date_in_range(value: date) -> date:
    if not FIRST_DATE <= value <= LAST_DATE:
        raise OutOfRangeError(
            f"must be a date from {FIRST_DATE} to {LAST_DATE}, the years of events (got {value})"
        )
    return value


def _moment_in_range(value: datetime) -> datetime:
    if not FIRST_DATE.year <= value.year <= LAST_DATE.year:
        raise OutOfRangeError(
            f"must be in the years {FIRST_DATE.year} to {LAST_DATE.year}, as written "
            f"(got {value.isoformat()})"
        )
    return fixed_offset(value)


def fixed_offset(value: datetime) -> datetime:
    """An aware instant with its UTC offset as a fixed tzinfo: the same instant, written the
    same way (wall clock and offset).

    An instant held in a named zone (``ZoneInfo``, as Python code may build an event or
    ``as_of``) compares by its wall clock with another of the same zone, whatever its
    ``fold``: 01:45 BST and 01:15 GMT on the night the clocks go back would be ordered the
    wrong way round. And one in an hour the clocks repeat or skip is never ``==`` to an
    instant in another tzinfo (PEP 495). With a fixed offset it is only an instant, as a
    history file writes it.
    """
    tzinfo = value.tzinfo
    if isinstance(tzinfo, timezone | TzInfo):
        return value
    offset = value.utcoffset()
    return value if offset is None else value.astimezone(timezone(offset))


def _require_date_text(value: object) -> object:
    if isinstance(value, date | str):
        return value
    raise ValueError(f"expected a date written YYYY-MM-DD (got {value!r})")


ExactDecimal = Annotated[Decimal, BeforeValidator(_exact_decimal)]
"""A Decimal that refuses floats, booleans and any text but plain ASCII digits (``-12.50``),
so that no amount passes through binary or is guessed from ``1_000`` or non-ASCII digits."""

WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
"""An int that refuses booleans, floats and any text but plain ASCII digits."""

EventTime = Annotated[AwareDatetime, AfterValidator(_moment_in_range)]
"""An instant with a UTC offset whose year, as written, is from 1970 to 2099: what history
files hold, so that an event built in Python evaluates as one read from a file would."""

LocalDate = Annotated[date, BeforeValidator(_require_date_text), AfterValidator(_date_in_range)]
"""A calendar date in the program's time zone, written YYYY-MM-DD, from 1970 to 2099."""

Slug = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$",
        min_length=1,
        max_length=100,
        description="Lowercase letters, digits, '-' and '_', e.g. 'coffee-stars'.",
    ),
]
"""An identifier a marketer can type and a URL can hold."""


def _nfc(value: str) -> str:
    return value if value.isascii() else unicodedata.normalize("NFC", value)


Text = Annotated[str, Field(min_length=1), AfterValidator(_nfc)]
"""Non-empty text, in one spelling (NFC): a filter's sku matches a history's however typed."""
