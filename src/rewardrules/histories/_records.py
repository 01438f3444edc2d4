"""What the history readers share: record errors in plain words, values read from text, and
records built one at a time with unique keys.

The CSV reader (:mod:`rewardrules.histories._csv`) and the JSON reader
(:mod:`rewardrules.histories._json`) both import from here; :mod:`rewardrules.histories.read`
imports them both, so these helpers live below all three rather than in it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from rewardrules._model_errors import (
    AMOUNT_HELP,
    WHOLE_HELP,
    ModelInputError,
    show,
)
from rewardrules._timetext import LEAP_SECONDS, is_week_date, leap_second_fix
from rewardrules.errors import HistoryError, Location, PathItem, Problem
from rewardrules.events import CancelRedemption, Purchase, Redemption, ReferralQualified, Refund

Path = tuple[PathItem, ...]
Record = TypeVar("Record", bound=BaseModel)

CsvModel = type[Purchase] | type[Refund] | type[Redemption] | type[CancelRedemption]
CSV_MODELS: dict[str, CsvModel] = {
    "purchase": Purchase,
    "refund": Refund,
    "redemption": Redemption,
    "cancel_redemption": CancelRedemption,
}
"""The event types a CSV history holds, by its ``type`` cell."""
MODELS: dict[str, CsvModel | type[ReferralQualified]] = {
    **CSV_MODELS,
    "referral": ReferralQualified,
}
"""The event types a JSON or JSON Lines history holds, by its ``type`` key."""
TYPES_HELP = "'purchase', 'refund', 'redemption', 'cancel_redemption' or 'referral'"
CSV_TYPES_HELP = "'purchase', 'refund', 'redemption' or 'cancel_redemption'"
REFERRAL_IN_CSV = (
    "a referral is read from JSON or JSON Lines histories only, not from CSV; "
    "evaluate finds referrals itself when the friend's purchases are in the history"
)
REFERRAL_IN_CSV_HINT = (
    "if the friend's purchases are not in the history, put the referral in a .jsonl file: "
    '{"type": "referral", "id": ..., "customer_id": ..., "at": ..., "referred": ..., "rule": ...}'
)
COMMA_AMOUNT_HELP = (
    "an amount like 4,50 (digits, a decimal comma, decimals; "
    "no currency sign, point, thousands separator or exponent)"
)
DECIMAL_COMMA_HINT = (
    "if the file writes amounts with a decimal comma, re-export it with a point, "
    "or read it with decimal_comma=True"
)
MAX_DIGITS = 18  # of a quantity; Python refuses to read an int of over 4300 digits anyway
MAX_AMOUNT = 24  # characters of an amount: far beyond any price, short enough to stay cheap
FIRST_YEAR, LAST_YEAR = 1970, 2099  # a timestamp's year, as written

_AMOUNT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_COMMA_AMOUNT = re.compile(r"-?[0-9]+(?:,[0-9]+)?")
_EPOCH = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_TIME_EXAMPLE = "2026-03-01T09:30:00+01:00"


@dataclass(frozen=True)
class CsvOptions:
    """How a CSV file is written: its cell separator, and whether amounts use a decimal comma."""

    delimiter: str = ","
    decimal_comma: bool = False


@dataclass(frozen=True)
class Kind(Generic[Record]):
    """What differs between reading events and reading customers."""

    noun: str
    key: str  # the field that must be unique in a file
    top_key: str  # the list's key in a JSON object ``{"events": [...]}``
    from_object: Callable[[Any], Record]
    read_csv: Callable[[Iterable[str], str, CsvOptions], Iterator[Record]]


class RecordError(Exception):
    """One problem with a record; ``where`` (line, or offset in a JSON text) if known."""

    def __init__(
        self,
        path: Path,
        message: str,
        code: str,
        where: int | None = None,
        suggestion: str | None = None,
    ):
        super().__init__(message)
        self.path, self.message, self.code, self.where = path, message, code, where
        self.suggestion = suggestion


def history_error(
    source: str,
    line: int,
    path: Path,
    message: str,
    code: str,
    column: int = 1,
    suggestion: str | None = None,
    source_line: str | None = None,
) -> HistoryError:
    """One located problem, as the error to raise."""
    location = Location(source, line, column)
    return HistoryError([Problem(message, path, location, code, suggestion, source_line)])


def issues(exc: ModelInputError | RecordError) -> list[tuple[Path, str, str | None, str]]:
    """Each problem as (field path, message, suggestion, code), in plain words."""
    if isinstance(exc, RecordError):
        return [(exc.path, exc.message, exc.suggestion, exc.code)]
    return [(item.path, item.message, item.suggestion, item.code) for item in exc.problems]


def located(
    exc: ModelInputError | RecordError, source: str, line: int, column: int = 1
) -> HistoryError:
    """Every problem of one record, all at the record's line and column."""
    return HistoryError(
        Problem(message, path, Location(source, line, column), code, suggestion)
        for path, message, suggestion, code in issues(exc)
    )


def timestamp(value: object, path: Path) -> datetime:
    """An ISO 8601 timestamp with a UTC offset, given as text, in the years 1970 to 2099."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        message = (
            f"must be a timestamp written as text, like {_TIME_EXAMPLE}, "
            f"not a number of seconds since 1970 (got {show(value)})"
        )
        raise RecordError(path, message, "epoch-timestamp")
    if not isinstance(value, str):
        message = f"must be a timestamp written as text, like {_TIME_EXAMPLE} (got {show(value)})"
        raise RecordError(path, message, "bad-timestamp")
    if _EPOCH.fullmatch(value) and len(value) > 8:  # not a date like 20260301
        message = (
            f"must be an ISO 8601 timestamp like {_TIME_EXAMPLE}, "
            f"not a number of seconds since 1970 (got {show(value)})"
        )
        raise RecordError(path, message, "epoch-timestamp")
    if is_week_date(value):
        message = (
            f"an ISO week date is not accepted (it would be read as that week's Monday); "
            f"write the calendar date, like {_TIME_EXAMPLE} (got {show(value)})"
        )
        raise RecordError(path, message, "bad-timestamp")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        message = f"must be an ISO 8601 timestamp like {_TIME_EXAMPLE} (got {show(value)})"
        if (fix := leap_second_fix(value)) is not None:
            message = f"{LEAP_SECONDS.format(fix=fix)} (got {show(value)})"
        raise RecordError(path, message, "bad-timestamp") from None
    if moment.tzinfo is None:
        message = (
            f"timestamp has no UTC offset; write it like {_TIME_EXAMPLE} "
            f"or 2026-03-01T09:30:00Z (got {value!r})"
        )
        raise RecordError(path, message, "naive-timestamp")
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        message = f"must be in the years {FIRST_YEAR} to {LAST_YEAR} (got {value!r})"
        raise RecordError(path, message, "timestamp-out-of-range", None, "check the year")
    return moment


def amount(text: str, path: Path, decimal_comma: bool = False) -> Decimal:
    """An exact amount from its digits (a decimal comma if asked); never through float."""
    if len(text) > MAX_AMOUNT:
        message = f"must be an amount of at most {MAX_AMOUNT} characters (got {show(text)})"
        raise RecordError(path, message, "bad-amount")
    if decimal_comma:
        if _COMMA_AMOUNT.fullmatch(text) is None:
            message = f"must be {COMMA_AMOUNT_HELP} (got {show(text)})"
            raise RecordError(path, message, "bad-amount", None, _bare_amount(text, _COMMA_AMOUNT))
        return Decimal(text.replace(",", "."))
    if _AMOUNT.fullmatch(text) is None:
        hint = DECIMAL_COMMA_HINT if _COMMA_AMOUNT.fullmatch(text) else _bare_amount(text)
        message = f"must be {AMOUNT_HELP} (got {show(text)})"
        raise RecordError(path, message, "bad-amount", None, hint)
    return Decimal(text)


def _bare_amount(text: str, pattern: re.Pattern[str] = _AMOUNT) -> str | None:
    """'write 4.50' for an amount written with a currency or percent sign around it."""
    bare = text.strip().strip("%").strip()
    while bare and unicodedata.category(bare[0]) == "Sc":
        bare = bare[1:].lstrip()
    while bare and unicodedata.category(bare[-1]) == "Sc":
        bare = bare[:-1].rstrip()
    return f"write {bare}" if bare != text and pattern.fullmatch(bare) else None


def whole(text: str, path: Path) -> int:
    """A whole number from its ASCII digits, of at most ``MAX_DIGITS``."""
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()):
        raise RecordError(path, f"must be {WHOLE_HELP} (got {show(text)})", "bad-quantity")
    if len(digits) > MAX_DIGITS:
        message = f"must have at most {MAX_DIGITS} digits (got {show(text)})"
        raise RecordError(path, message, "bad-quantity")
    return int(text)


def records(
    items: Iterable[tuple[int, Any]],
    source: str,
    kind: Kind[Record],
    locate: Callable[[int], tuple[int, int]],
) -> Iterator[Record]:
    """Build a record from each (where, value); ``locate`` turns where into line and column."""
    seen: dict[str, int] = {}
    where = 1
    try:
        for where, value in items:
            record = kind.from_object(value)
            key = getattr(record, kind.key)
            if (first := seen.setdefault(key, where)) != where:
                message = f"{kind.noun} {key!r} appears twice (first on line {locate(first)[0]})"
                raise RecordError((kind.key,), message, "duplicate-id")
            yield record
    except (RecordError, ModelInputError) as exc:
        if isinstance(exc, RecordError) and exc.where is not None:
            where = exc.where
        raise located(exc, source, *locate(where)) from None
