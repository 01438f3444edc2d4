"""The words every layer writes: ordinals, counts, plain numbers, windows, and text
quoted so that it never looks like something it is not (``escaped``)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st..."""
    if 10 <= number % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def plain_number(value: Decimal) -> str:
    """A Decimal without trailing zeros or exponent: 2.50 -> '2.5', 10 -> '10'."""
    # Not value.normalize(): it rounds to the context's 28 digits.
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def window_words(key: str) -> str:
    """How a calendar window key reads in a sentence."""
    return "in all" if key == "lifetime" else f"in {key}"


class Noun(str):
    """A plural noun that knows its singular: ``Noun("kudos", "kudos")``, ``Noun("stars")``.

    It is the text of its plural everywhere (a ``str``); :func:`counted` writes its
    singular for exactly one. Without a singular given, the plural less a final ``s``.
    """

    singular: str

    def __new__(cls, plural: str, singular: str | None = None) -> Noun:
        noun = super().__new__(cls, plural)
        noun.singular = _singular_of(plural) if singular is None else singular
        return noun


def _singular_of(plural: str) -> str:
    return plural[:-1] if plural.endswith("s") and len(plural) > 1 else plural


def counted(number: int | Decimal, noun: str, *, grouped: bool = False) -> str:
    """'1 star', '2 stars', '1.5 stars': a plural noun made singular for exactly one (a
    :class:`Noun`'s own singular, or the plural less a final ``s``); ``grouped``: a whole
    number with thousands separators ('12,345 stars'), as the dry-run's tables show it."""
    singular = noun.singular if isinstance(noun, Noun) else _singular_of(noun)
    shown = plain_number(number) if isinstance(number, Decimal) else str(number)
    if grouped and not isinstance(number, Decimal):
        shown = f"{number:,}"
    return f"{shown} {singular if number == 1 else noun}"


NOTHING_LEFT = "nothing was left to pay on the matching lines after earlier rules"
"""Why a rule gave nothing when earlier price rules left nothing to pay on its lines."""


def in_window(key: str) -> str:
    """' in 2026-Q1' for a calendar window's key; nothing for a lifetime."""
    return "" if key == "lifetime" else f" in {key}"


def for_window(key: str) -> str:
    """' for 2026-Q1' for a calendar window's key; nothing for a lifetime."""
    return "" if key == "lifetime" else f" for {key}"


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def escaped(text: str, *, ascii_only: bool = False) -> str:
    """Text as a message quotes it, so that it never looks like something it is not.

    Characters that cannot be seen (zero-width space, no-break space, control characters,
    byte-order marks) are written as escapes: ``every\\u200b``. With ``ascii_only`` (for
    keys and kinds, which are always plain ASCII when valid), every non-ASCII character is,
    so that a Cyrillic letter that looks like 'e' shows as ``\\u0435``.
    """
    return "".join(
        char if (char.isascii() or not ascii_only) and char.isprintable() else _escape(char)
        for char in text
    )


def either(values: Iterable[str], word: str = "or") -> str:
    names = list(values)
    if len(names) < 2:
        return "".join(names)
    return f"{', '.join(names[:-1])} {word} {names[-1]}"
