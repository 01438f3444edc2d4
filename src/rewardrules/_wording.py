"""One vocabulary for pydantic's validation errors: what a rule file and a history both say.

A rule file (:mod:`rewardrules.rulefiles._messages`) and an event, profile or saved state
(:mod:`rewardrules._model_errors`) turn the same kind of pydantic error into the same phrase
here: ``'every' is required here``, ``expected text (got the number 3)``, ``must be at least 1
(got 0)``. Each side keeps its own location prefix (``file:line:col`` for rule files; the
file, line or record and field for histories) and the error types only it can raise (a
rule's kind, an event's timestamp).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from rewardrules.errors import PathItem
from rewardrules.text import escaped


class Phrase(NamedTuple):
    """What is wrong, in words, and a likely fix when there is one."""

    message: str
    suggestion: str | None = None


def shorten(text: str, size: int = 40) -> str:
    """Cut long text for a message: ``'aaaaaaaaaaaa...'``."""
    return text if len(text) <= size else text[: size - 3] + "..."


def got(value: object, text: str | None = None) -> str:
    """Describe a value in words: "the number 0123", "the text 'x'", "nothing".

    Args:
        value: the value given.
        text: the value as written in the file, when known (``0123`` rather than ``123``).
    """
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the yes/no value {text or str(value).lower()}"
    if isinstance(value, int | float | Decimal):
        return f"the number {shorten(text or str(value))}"
    if isinstance(value, str):
        return f"the text '{shorten(escaped(value))}'"
    return "a mapping" if isinstance(value, dict) else "a list"


Describe = Callable[[object, str | None, Mapping[str, Any], PathItem | None], Phrase | None]


def required(name: PathItem | None) -> str:
    """What a missing key is told: ``'every' is required here``."""
    return "is required here" if name is None else f"'{name}' is required here"


def unknown_key(name: str) -> str:
    """What a key no model knows is told: ``unknown key 'percent_of'``, escaped to ASCII."""
    return f"unknown key '{escaped(name, ascii_only=True)}'"


def _missing(
    value: object, text: str | None, ctx: Mapping[str, Any], name: PathItem | None
) -> Phrase:
    return Phrase(required(name))


def _limit(bound: str, words: str) -> Describe:
    def describe(
        value: object, text: str | None, ctx: Mapping[str, Any], name: PathItem | None
    ) -> Phrase:
        return Phrase(f"must be {words} {ctx.get(bound)} (got {text or value})")

    return describe


def _expected(expected: str) -> Describe:
    def describe(
        value: object, text: str | None, ctx: Mapping[str, Any], name: PathItem | None
    ) -> Phrase:
        if value is None:
            return Phrase(f"expected {expected}, but nothing is written here")
        message = f"expected {expected} (got {got(value, text)})"
        if expected == "text" and isinstance(value, int | float | Decimal | bool):
            return Phrase(f"{message}; put it in quotes, e.g. '{text or value}'")
        if expected == "a list" and isinstance(value, str | int | Decimal | bool):
            return Phrase(message, f"write a list, e.g. [{text or value}]")
        if expected == "a list" and isinstance(value, dict):
            return Phrase(message, "start each item of a list on its own line with '- '")
        return Phrase(message)

    return describe


def _too_short(
    value: object, text: str | None, ctx: Mapping[str, Any], name: PathItem | None
) -> Phrase | None:
    count = ctx.get("min_length", 1)
    if isinstance(value, list | tuple | dict) and len(value) >= count:
        return None  # its items are there but invalid, and each says why
    nouns = ("entry", "entries") if ctx.get("field_type") == "Dictionary" else ("item", "items")
    actual = ctx.get("actual_length") or "none"
    return Phrase(f"needs at least {count} {nouns[count != 1]} (got {actual})")


def _empty_text(
    value: object, text: str | None, ctx: Mapping[str, Any], name: PathItem | None
) -> Phrase:
    return Phrase("must not be empty")


def _long_text(
    value: object, text: str | None, ctx: Mapping[str, Any], name: PathItem | None
) -> Phrase:
    length = len(value) if isinstance(value, str) else "more"
    return Phrase(f"must be at most {ctx.get('max_length')} characters long (got {length})")


_MAPPING = "a mapping of keys and values"
_PHRASES: dict[str, Describe] = {
    "missing": _missing,
    "greater_than_equal": _limit("ge", "at least"),
    "greater_than": _limit("gt", "more than"),
    "less_than_equal": _limit("le", "at most"),
    "less_than": _limit("lt", "less than"),
    "string_type": _expected("text"),
    "int_type": _expected("a whole number"),
    "int_parsing": _expected("a whole number"),
    "int_from_float": _expected("a whole number"),
    "decimal_type": _expected("a number"),
    "decimal_parsing": _expected("a number"),
    "tuple_type": _expected("a list"),
    "list_type": _expected("a list"),
    "dict_type": _expected(_MAPPING),
    "model_type": _expected(_MAPPING),
    "model_attributes_type": _expected(_MAPPING),
    "date_type": _expected("a date written YYYY-MM-DD"),
    "bool_type": _expected("true or false"),
    "too_short": _too_short,
    "string_too_short": _empty_text,
    "string_too_long": _long_text,
}
"""One function per pydantic error type that rule files and histories both meet."""

KINDS = frozenset(_PHRASES)
"""The pydantic error types :func:`phrase` words."""


def phrase(
    kind: str,
    value: object,
    ctx: Mapping[str, Any] | None = None,
    *,
    name: PathItem | None = None,
    text: str | None = None,
) -> Phrase | None:
    """A pydantic error in the shared words, or ``None`` when it needs no words of its own.

    Args:
        kind: pydantic's error type (``missing``, ``string_type``...); see :data:`KINDS`.
        value: the value given (pydantic's ``input``, or the value in the document).
        ctx: pydantic's ``ctx`` of the error (``{"ge": 1}``...).
        name: the field the error is about (the last item of its path), for ``missing``.
        text: the value as written in the file, when known.

    Returns:
        ``None`` for a type not in :data:`KINDS`, and for a list long enough whose items
        are wrong (each item's own error says why).

    Example:
        >>> phrase("missing", None, name="every").message
        "'every' is required here"
    """
    describe = _PHRASES.get(kind)
    return None if describe is None else describe(value, text, ctx or {}, name)
