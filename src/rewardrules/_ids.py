"""Ids and names as a person reads them: one spelling, nothing hidden, look-alikes told apart.

Ids (and skus, categories, stores) are compared character by character. Two spellings that
look the same on screen would otherwise be two customers: ``é`` written as one character
(NFC) or as ``e`` and a combining accent (NFD), or ``c1`` with a no-break space after it.
So text is normalised to NFC, and a character that cannot be seen is refused, named and
shown escaped. ``docs/histories.md`` states the rule.
"""

from __future__ import annotations

import unicodedata

from pydantic_core import PydanticCustomError

# Unicode categories that are never seen: format characters (zero-width space and joiners,
# bidi controls, the byte order mark, soft hyphen), surrogates, and the line and paragraph
# separators. A space (Zs) other than U+0020 is refused as well; U+0020 is allowed inside.
_HIDDEN_CATEGORIES = frozenset({"Cf", "Cs", "Zl", "Zp", "Zs"})
# Characters drawn as nothing, or as a blank, whose category would let them through:
# Unicode's default-ignorable code points outside Cf (combining grapheme joiner, Hangul
# fillers, Khmer inherent vowels, variation selectors) and the blank Braille pattern.
_DRAWN_AS_NOTHING = frozenset(
    chr(code)
    for code in (
        0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x2800,
        0x3164, 0xFFA0, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0),
    )
)  # fmt: skip
# Default-ignorable code points not yet assigned: a later Unicode may make them format
# characters, and a result must not change with the Python that reads the file.
_IGNORABLE_RANGES = ((0x2065, 0x2065), (0xFFF0, 0xFFF8), (0xE0000, 0xE0FFF))

INVISIBLE_HINT = (
    "delete it: ids and names are compared character by character, "
    "so with it the text is another id that looks the same"
)
SPACE_HINT = "delete the space: ids and names are compared character by character"


def is_hidden(char: str) -> bool:
    """Whether a character is invisible or a space other than U+0020 (or a control)."""
    if char == " ":
        return False
    code = ord(char)
    category = unicodedata.category(char)
    return (
        category in _HIDDEN_CATEGORIES
        or category == "Cc"
        or char in _DRAWN_AS_NOTHING
        or any(low <= code <= high for low, high in _IGNORABLE_RANGES)
    )


def escaped(text: str) -> str:
    """Text between quotes, each invisible or non-printable character as an escape."""
    return "'" + "".join(_escape(char) if _must_escape(char) else char for char in text) + "'"


def ascii_escaped(text: str) -> str:
    """Text between quotes, every character outside printable ASCII as an escape."""
    return "'" + "".join(char if " " <= char <= "~" else _escape(char) for char in text) + "'"


def named(char: str) -> str:
    """A character as a message names it: ``a NO-BREAK SPACE (U+00A0)``."""
    name = unicodedata.name(char, "")
    if not name:
        name = "SURROGATE" if unicodedata.category(char) == "Cs" else "UNASSIGNED CHARACTER"
    article = "an" if name[0] in "AEIOU" else "a"
    return f"{article} {name} (U+{ord(char):04X})"


def check_text(value: str) -> str:
    """An id or name as written, refused if it holds a hidden character; then its NFC form.

    Raises:
        PydanticCustomError: ``invisible_character`` naming the first hidden character and
            its 1-based position, or ``surrounding_space`` for a space at either end.
    """
    if not value.isascii():
        for position, char in enumerate(value, start=1):
            if is_hidden(char):
                raise PydanticCustomError(
                    "invisible_character",
                    "{shown} has {character} at position {position}",
                    {"shown": _short(value), "character": named(char), "position": position},
                )
        value = unicodedata.normalize("NFC", value)
    if value.startswith(" ") or value.endswith(" "):
        end = "starts" if value.startswith(" ") else "ends"
        raise PydanticCustomError(
            "surrounding_space", "{shown} {end} with a space", {"shown": _short(value), "end": end}
        )
    return value


def look_alike(first: str, second: str) -> bool:
    """Whether two different texts may look the same when printed plainly.

    True when they are equal once normalised (NFKC, case folded), when either holds a
    character that is not printable, or when they have the same length and differ only
    where one of them has a character outside ASCII (``c1`` and a Cyrillic ``\\u04411``).
    """
    if first == second:
        return False
    if not (first + second).isprintable():
        return True
    if _folded(first) == _folded(second):
        return True
    return len(first) == len(second) and all(
        a == b or not (a.isascii() and b.isascii()) for a, b in zip(first, second, strict=True)
    )


def shown_apart(first: str, second: str) -> tuple[str, str]:
    """Two ids quoted for one message; escaped (``'c\\u04401'``) when they look alike."""
    if look_alike(first, second):
        return ascii_escaped(first), ascii_escaped(second)
    return escaped(first), escaped(second)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _must_escape(char: str) -> bool:
    return char != " " and (not char.isprintable() or is_hidden(char))


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _short(text: str) -> str:
    """Escaped and cut to about 40 characters, as messages quote values."""
    shown = escaped(text)
    return shown if len(shown) <= 44 else f"{shown[:40]}...'"
