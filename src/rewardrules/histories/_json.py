"""Reading JSON Lines and JSON histories and customer profiles, one object at a time.

JSON numbers are read as ``Decimal``, a key given twice in one object and ``NaN`` are refused.
JSON Lines streams line by line; a ``.json`` text is held in memory, but its elements are
decoded and built one at a time, each located by the line and column of its ``{``.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from rewardrules._model_errors import AMOUNT_HELP, WHOLE_HELP, show
from rewardrules._wording import required
from rewardrules.events import AnyEvent, Customer
from rewardrules.histories._records import (
    MAX_AMOUNT,
    MODELS,
    TYPES_HELP,
    Kind,
    Record,
    RecordError,
    amount,
    history_error,
    records,
    timestamp,
)

_SPACE = re.compile(r"[ \t\n\r]*")
_OBJECT_START = re.compile(r'[ \t\n\r]*\{[ \t\n\r]*"([^"\\]*)"[ \t\n\r]*:[ \t\n\r]*')


def event_from_object(value: Any) -> AnyEvent:
    """A purchase, refund, redemption or referral from a decoded JSON object."""
    if not isinstance(value, dict):
        message = f"an event must be an object {{...}} (got {show(value)})"
        raise RecordError((), message, "not-an-object")
    kind = value.get("type")
    model = MODELS.get(kind) if isinstance(kind, str) else None
    if model is None and "type" not in value:
        raise RecordError(("type",), f"{required('type')}: {TYPES_HELP}", "missing-field")
    if model is None:
        message = f"must be {TYPES_HELP} (got {show(kind)})"
        raise RecordError(("type",), message, "unknown-type")
    if "at" in value:
        value["at"] = timestamp(value["at"], ("at",))
    lines = value.get("lines")
    for index, line in enumerate(lines if isinstance(lines, list) else ()):
        if not isinstance(line, dict):
            continue
        if "quantity" in line and type(line["quantity"]) is not int:  # not text, 2.0 or true
            message = f"must be {WHOLE_HELP} (got {show(line['quantity'])})"
            raise RecordError(("lines", index, "quantity"), message, "bad-quantity")
        if isinstance(price := line.get("unit_price"), str):
            line["unit_price"] = amount(price, ("lines", index, "unit_price"))
    return model.model_validate(value)


def customer_from_object(value: Any) -> Customer:
    """A customer profile from a decoded JSON object, or a CSV row's cells by column."""
    if not isinstance(value, dict):
        message = f"a customer must be an object {{...}} (got {show(value)})"
        raise RecordError((), message, "not-an-object")
    for key in ("joined_at", "tier_until"):
        if value.get(key) is not None:
            value[key] = timestamp(value[key], (key,))
    lots = value.get("opening_points")
    if isinstance(lots, str):  # a CSV cell: points@earned_at[@expires_at], space-separated
        value["opening_points"] = lots = opening_lots(lots)
    if isinstance(lots, list):
        for index, lot in enumerate(lots):
            if isinstance(lot, dict):
                for key in ("earned_at", "expires_at"):
                    if lot.get(key) is not None:
                        lot[key] = timestamp(lot[key], ("opening_points", index, key))
    return Customer.model_validate(value)


_LOT_HELP = (
    "points@earned_at or points@earned_at@expires_at, lots separated by spaces, like "
    "120@2026-01-15T10:00:00+00:00@2027-01-15T00:00:00+00:00"
)


def opening_lots(text: str) -> list[dict[str, Any]]:
    """The lots of a CSV ``opening_points`` cell (see docs/histories.md, "Customers")."""
    lots: list[dict[str, Any]] = []
    for index, item in enumerate(text.split()):
        parts = item.split("@")
        path = ("opening_points", index)
        if len(parts) not in (2, 3) or not all(parts):
            raise RecordError(path, f"must be {_LOT_HELP} (got {show(item)})", "bad-lot")
        points = parts[0]
        if not (points.lstrip("-").isascii() and points.lstrip("-").isdigit()):
            message = f"points must be a whole number, like 120 (got {show(points)})"
            raise RecordError((*path, "points"), message, "bad-lot")
        lot: dict[str, Any] = {"points": int(points), "earned_at": parts[1]}
        if len(parts) == 3:
            lot["expires_at"] = parts[2]
        lots.append(lot)
    return lots


def read_jsonl(stream: Iterable[str], source: str, kind: Kind[Record]) -> Iterator[Record]:
    """The records of a JSON Lines file, one a line; blank lines are skipped."""
    return records(_jsonl_values(stream, source), source, kind, lambda line: (line, 1))


def read_json(text: str, source: str, kind: Kind[Record]) -> Iterator[Record]:
    """The records of a JSON text: a list, or an object with the list under ``kind.top_key``."""
    locate = functools.partial(_line_column, text)
    try:
        yield from records(_json_elements(text, kind.top_key), source, kind, locate)
    except json.JSONDecodeError as exc:
        begin, end = text.rfind("\n", 0, exc.pos) + 1, text.find("\n", exc.pos)
        shown = text[begin : end if end >= 0 else len(text)].rstrip("\r")
        message, code, hint = f"not valid JSON: {exc.msg}", "not-json", None
        if text and exc.pos >= len(text.rstrip()) and exc.msg != "Extra data":
            message = "not valid JSON: the text ends in the middle of a value"
            code, hint = "truncated", "was the file cut short?"
        raise history_error(source, exc.lineno, (), message, code, exc.colno, hint, shown) from None


def find_jsonl_event(stream: Iterable[str], event_id: str) -> tuple[int, int] | None:
    """The line (column 1) of the event with this id; None if absent or its line is damaged.

    Only a line that may hold the id is decoded: its text holds the id unless an escape
    or another spelling (NFD) writes it, so the other ASCII lines are skipped unread,
    damaged or not.
    """
    decoder = _decoder()
    for number, text in enumerate(stream, start=1):
        if text.isspace() or (event_id not in text and "\\" not in text and text.isascii()):
            continue
        try:
            value = decoder.decode(text)
        except (RecordError, RecursionError, ValueError, ArithmeticError):
            return None
        if isinstance(value, dict) and _nfc(value.get("id")) == event_id:
            return number, 1
    return None


def find_json_event(text: str, top_key: str, event_id: str) -> tuple[int, int] | None:
    """The line and column of the ``{`` of the event with this id; None if absent or damaged."""
    try:
        for offset, value in _json_elements(text, top_key):
            if isinstance(value, dict) and _nfc(value.get("id")) == event_id:
                return _line_column(text, offset)
    except (RecordError, ValueError):  # a JSONDecodeError is a ValueError
        return None
    return None


def _nfc(value: object) -> object:
    """An id as the event model keeps it (NFC), to compare with an event's id."""
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        names = [name for name, _ in pairs]
        twice = next(name for index, name in enumerate(names) if name in names[:index])
        raise RecordError((), f"key {twice!r} appears twice in one object", "duplicate-key")
    return value


def _json_constant(name: str) -> Any:
    raise RecordError((), f"{name} is not a number; write {AMOUNT_HELP}", "not-a-number")


def _json_decimal(text: str) -> Decimal:
    """A JSON number with a point, exactly; an exponent or a very long number is refused."""
    if "e" in text or "E" in text:
        message = f"{show(text)} is a number with an exponent; write {AMOUNT_HELP}"
        raise RecordError((), message, "bad-amount")
    if len(text) > MAX_AMOUNT:
        message = f"{show(text)} has more than {MAX_AMOUNT} characters; write {AMOUNT_HELP}"
        raise RecordError((), message, "bad-amount")
    return Decimal(text)


def _decoder() -> json.JSONDecoder:
    return json.JSONDecoder(
        object_pairs_hook=_json_object, parse_float=_json_decimal, parse_constant=_json_constant
    )


def _undecodable(exc: Exception) -> str:
    deep = isinstance(exc, RecursionError)
    return f"not valid JSON: {'it is nested too deeply' if deep else 'a number is too large'}"


def _jsonl_values(stream: Iterable[str], source: str) -> Iterator[tuple[int, Any]]:
    decoder = _decoder()
    last, last_number = "", 0
    for number, text in enumerate(stream, start=1):
        if text.isspace():
            continue
        if text.rstrip("\r\n") == last:
            said, how = _repeated(last_number, "line")
            raise history_error(source, number, (), said, "duplicate-row", 1, how)
        last, last_number = text.rstrip("\r\n"), number
        try:
            value = decoder.decode(text)
        except json.JSONDecodeError as exc:
            line, message = text.rstrip("\r\n"), f"not valid JSON: {exc.msg}"
            code, hint = "not-json", None
            if exc.pos >= len(text.rstrip()) and not text.endswith("\n"):
                message = "not valid JSON: the last line ends in the middle of a value"
                code, hint = "truncated", "was the file cut short?"
            elif exc.pos >= len(text.rstrip()):
                message = "not valid JSON: the line ends in the middle of a value"
                hint = "in JSON Lines each event is on one line; name a pretty-printed file .json"
            raise history_error(source, number, (), message, code, exc.colno, hint, line) from None
        except RecordError as exc:
            exc.where = number
            raise
        except (RecursionError, ValueError, ArithmeticError) as exc:
            raise history_error(source, number, (), _undecodable(exc), "not-json") from None
        yield number, value


def _repeated(first: int, what: str) -> tuple[str, str]:
    """The message and hint for a record whose text is that of the record before it."""
    message = (
        f"this line repeats line {first} exactly"
        if what == "line"
        else f"this {what} repeats the {what} on line {first} exactly"
    )
    hint = f"if an export was resumed with an overlap, delete the repeated {what}"
    return message, hint


def _line_column(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


def _skip(text: str, offset: int) -> int:
    """The offset of the next character that is not JSON whitespace."""
    match = _SPACE.match(text, offset)
    return offset if match is None else match.end()


def _json_elements(text: str, top_key: str) -> Iterator[tuple[int, Any]]:
    """Yield (offset, value) for each element of a list ``[...]`` or ``{top_key: [...]}``."""
    decoder, expected = _decoder(), f'a list [...] or an object {{"{top_key}": [...]}}'
    opened = _OBJECT_START.match(text)
    if opened is not None and opened.group(1) != top_key:
        message = f"the file must hold {expected} (found key {opened.group(1)!r})"
        raise RecordError((), message, "not-a-list", opened.start(1))
    offset = opened.end() if opened else _skip(text, 0)
    if not text.startswith("[", offset):
        raise RecordError((), f"the file must hold {expected}", "not-a-list", offset)
    offset = _skip(text, offset + 1)
    last, last_offset = "", 0
    if not text.startswith("]", offset):
        while True:
            try:
                value, end = decoder.raw_decode(text, offset)
            except RecordError as exc:
                exc.where = offset
                raise
            except json.JSONDecodeError:
                raise
            except (RecursionError, ValueError, ArithmeticError) as exc:
                raise RecordError((), _undecodable(exc), "not-json", offset) from None
            if text[offset:end] == last:
                message, hint = _repeated(_line_column(text, last_offset)[0], "element")
                raise RecordError((), message, "duplicate-row", offset, hint)
            last, last_offset = text[offset:end], offset
            yield offset, value
            offset = _skip(text, end)
            if not text.startswith(",", offset):
                break
            offset = _skip(text, offset + 1)
        if not text.startswith("]", offset):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, offset)
    offset = _skip(text, offset + 1)
    if opened is not None:
        if not text.startswith("}", offset):
            message = f"the object must hold only {top_key!r}"
            raise RecordError((), message, "unknown-key", offset)
        offset = _skip(text, offset + 1)
    if offset != len(text):
        raise json.JSONDecodeError("Extra data", text, offset)
