"""A rule file's node tree, and the values and source map built from it.

The loader turns YAML text into the small node tree below (it is the only module that
speaks to PyYAML). :func:`build` then reads the values with the YAML 1.2 core schema, never
YAML 1.1: ``no`` and ``on`` stay text, ``1.10`` becomes ``Decimal("1.10")`` and never passes
through float. While it reads, it records where every value sits, so that any problem found
later, by pydantic or by the program's own checks, can point at its line and column.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from rewardrules._wording import shorten
from rewardrules.errors import Location, PathItem, Problem
from rewardrules.text import escaped

PLAIN_TAG = "tag:rewardrules,2026:plain"
"""The tag the loader gives every plain (unquoted, untagged) scalar; :func:`build` reads it."""

_STANDARD = "tag:yaml.org,2002:"
STR_TAG = _STANDARD + "str"
MAP_TAG = _STANDARD + "map"
SEQ_TAG = _STANDARD + "seq"

_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
"""What PyYAML (both parsers) counts as a line break; columns count code points."""

_NULL = re.compile(r"null|Null|NULL|~|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+")
_OCTAL = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_DECIMAL = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_NOT_A_NUMBER = re.compile(r"[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")
_MAX_DIGITS = 30
"""No amount, count or percentage in a program needs more digits than this, either side of
the point; the bound also keeps absurd exponents (``1e999999``) away from the engine."""

Path = tuple[PathItem, ...]


@dataclass(frozen=True, slots=True)
class Position:
    """A place in the text; ``line`` and ``column`` count from 1, columns in characters."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Entry:
    """Where one value of the document sits.

    Attributes:
        key: where its key is written (``None`` for list items and the root).
        value: where the value starts (for an alias, where the alias is written).
        text: a scalar's text as written, e.g. ``0123``; ``None`` for lists and mappings.
    """

    key: Position | None
    value: Position
    text: str | None = None


@dataclass(slots=True)
class ScalarNode:
    """A single value; ``tag`` is :data:`PLAIN_TAG` when it was written plain."""

    tag: str
    value: str
    start: Position


@dataclass(slots=True)
class SequenceNode:
    """A list."""

    tag: str
    start: Position
    items: list[Node] = field(default_factory=list)


@dataclass(slots=True)
class MappingNode:
    """A mapping, its pairs in file order (duplicates kept, for :func:`build` to report)."""

    tag: str
    start: Position
    pairs: list[tuple[Node, Node]] = field(default_factory=list)


@dataclass(slots=True)
class AliasNode:
    """A use (``*name``) of an anchored node."""

    name: str
    target: Node
    start: Position


Node = ScalarNode | SequenceNode | MappingNode | AliasNode


class SourceText:
    """A rule file's name and text, split into lines the way the YAML parsers count them."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self.lines: list[str] = _LINE_BREAK.split(text)

    def position_of(self, index: int) -> Position:
        """The line and column of the character at ``index`` in the text."""
        lines = _LINE_BREAK.split(self.text[:index])
        return Position(len(lines), len(lines[-1]) + 1)

    def problem(
        self,
        message: str,
        *,
        at: Position | None,
        path: Path = (),
        code: str = "invalid",
        suggestion: str | None = None,
    ) -> Problem:
        """A :class:`Problem` located in this text, with the offending line attached."""
        if at is None:
            return Problem(message, path, None, code, suggestion)
        line = self.lines[at.line - 1] if 0 < at.line <= len(self.lines) else None
        return Problem(
            message, path, Location(self.name, at.line, at.column), code, suggestion, line
        )


class SourceMap:
    """Where each value of a document sits: ``{document path: Entry}``."""

    def __init__(self) -> None:
        self.entries: dict[Path, Entry] = {}

    def locate(self, path: Path, at: Literal["key", "value", "parent"] = "value") -> Position:
        """Where to point for a problem at ``path``.

        Args:
            path: the document path, e.g. ``("rules", 0, "every")``.
            at: ``"key"`` for the key of the entry (unknown keys), ``"value"`` for its value,
                ``"parent"`` for the mapping that holds it (a missing key).

        Returns:
            The position of the nearest entry that exists at or above ``path``.
        """
        if at == "parent":
            path = path[:-1]
        while path not in self.entries:
            path = path[:-1]
        entry = self.entries[path]
        # An empty value has no text to point at; the parsers do not even agree where it is.
        if entry.key is not None and (at == "key" or entry.text == ""):
            return entry.key
        return entry.value

    def text(self, path: Path) -> str | None:
        """A scalar's text as written, if ``path`` names a scalar of the document."""
        entry = self.entries.get(path)
        return entry.text if entry is not None else None


@dataclass(slots=True)
class Built:
    """What :func:`build` made of a node tree.

    Attributes:
        data: plain Python values (dict, list, str, int, Decimal, bool, None).
        source_map: where each of them sits.
        problems: what could not be read, each at its place.
        unreadable: paths whose value could not be read (replaced by ``None``); later
            problems at or below them would only repeat these.
    """

    data: object
    source_map: SourceMap
    problems: list[Problem]
    unreadable: set[Path]


class ScalarError(ValueError):
    """A scalar that cannot be read: its message in plain words and a stable code."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def show_tag(tag: str) -> str:
    """Write a tag the way it is written in YAML: ``!!int``, ``!include``."""
    shown = "!!" + tag.removeprefix(_STANDARD) if tag.startswith(_STANDARD) else tag
    return shorten(escaped(shown))


def _unsupported(tag: str) -> ScalarError:
    return ScalarError(
        f"the tag {show_tag(tag)} is not allowed; a rule file holds only plain values: "
        "text, numbers, true/false, lists and mappings",
        "unsupported-tag",
    )


def _number(text: str) -> int | Decimal | None:
    """Read a core-schema number, or ``None`` when ``text`` is not one."""
    digits = text.lstrip("+-")
    if _INT.fullmatch(text) or _OCTAL.fullmatch(text) or _HEX.fullmatch(text):
        if len(digits) > _MAX_DIGITS:
            raise _too_large(text)
        if _INT.fullmatch(text):
            return int(text)
        return int(text[2:], 8 if text[1] == "o" else 16)
    if _DECIMAL.fullmatch(text):
        amount = Decimal(text)
        exponent = amount.as_tuple().exponent
        if amount.adjusted() >= _MAX_DIGITS or (
            isinstance(exponent, int) and exponent < -_MAX_DIGITS
        ):
            raise _too_large(text)
        return amount
    if _NOT_A_NUMBER.fullmatch(text):
        raise ScalarError(f"{text} is not a number a program can use", "not-a-number")
    return None


def unusual_characters(text: str) -> str:
    """Name the characters of ``text`` that are not printable ASCII, for a message.

    Returns:
        ``""`` when there are none, else e.g. ``", which contains U+200B ZERO WIDTH SPACE
        (invisible)"``.
    """
    found = list(
        dict.fromkeys(char for char in text if not (char.isascii() and char.isprintable()))
    )
    if not found:
        return ""
    named = []
    for char in found[:3]:
        name = unicodedata.name(char, "an unnamed character")
        hidden = " (invisible)" if not char.isprintable() or char.isspace() else ""
        named.append(f"U+{ord(char):04X} {name}{hidden}")
    more = f" and {len(found) - 3} more" if len(found) > 3 else ""
    return f", which contains {', '.join(named)}{more}"


def _too_large(text: str) -> ScalarError:
    return ScalarError(
        f"{shorten(text)} is outside the numbers a program can use "
        f"(at most {_MAX_DIGITS} digits before and after the point)",
        "number-out-of-range",
    )


def read_scalar(tag: str, text: str) -> object:
    """Read one scalar by the YAML 1.2 core schema (plain) or its explicit standard tag.

    Raises:
        ScalarError: an unsupported tag, a value that does not fit its tag, or a number
            a program cannot use (infinity, not-a-number, absurdly large).
    """
    if tag == STR_TAG:
        return text
    if tag == PLAIN_TAG:
        if _NULL.fullmatch(text):
            return None
        if text in _BOOL:
            return _BOOL[text]
        number = _number(text)
        return text if number is None else number
    expected = {
        _STANDARD + "int": "a whole number",
        _STANDARD + "float": "a number",
        _STANDARD + "bool": "true or false",
        _STANDARD + "null": "empty (null)",
    }
    if tag not in expected:
        raise _unsupported(tag)
    value: object = text
    if tag == _STANDARD + "null" and _NULL.fullmatch(text):
        value = None
    elif tag == _STANDARD + "bool" and text in _BOOL:
        value = _BOOL[text]
    elif tag == _STANDARD + "int" and any(
        pattern.fullmatch(text) for pattern in (_INT, _OCTAL, _HEX)
    ):
        value = _number(text)
    elif tag == _STANDARD + "float":
        number = _number(text)
        value = text if number is None else Decimal(number)
    if isinstance(value, str):
        raise ScalarError(
            f"'{text}' is not {expected[tag]} (it is tagged {show_tag(tag)})", "bad-tagged-value"
        )
    return value


def build(root: Node, source: SourceText) -> Built:
    """Build plain values from a node tree, recording where each one sits.

    Keys are always text, as written. Duplicate keys, keys that are lists or mappings,
    merge keys (``<<``), unsupported tags and unusable numbers become problems; the
    rest of the document is still read so that every problem is reported at once.
    """
    builder = _Builder(source)
    data = builder.value(root, (), None, None)
    return Built(data, builder.source_map, builder.problems, builder.unreadable)


class _Builder:
    def __init__(self, source: SourceText) -> None:
        self.source = source
        self.source_map = SourceMap()
        self.problems: list[Problem] = []
        self.unreadable: set[Path] = set()

    def fail(self, path: Path, at: Position, error: ScalarError) -> None:
        self.problems.append(self.source.problem(error.message, at=at, path=path, code=error.code))
        self.unreadable.add(path)

    def value(self, node: Node, path: Path, key: Position | None, at: Position | None) -> object:
        if isinstance(node, AliasNode):
            return self.value(node.target, path, key, at or node.start)
        start = at or node.start
        if isinstance(node, ScalarNode):
            self.source_map.entries[path] = Entry(key, start, node.value)
            try:
                return read_scalar(node.tag, node.value)
            except ScalarError as error:
                self.fail(path, start, error)
                return None
        self.source_map.entries[path] = Entry(key, start)
        if isinstance(node, SequenceNode):
            if node.tag != SEQ_TAG:
                self.fail(path, start, _unsupported(node.tag))
                return None
            return [
                self.value(item, (*path, index), None, None)
                for index, item in enumerate(node.items)
            ]
        if node.tag != MAP_TAG:
            self.fail(path, start, _unsupported(node.tag))
            return None
        return self.mapping(node, path)

    def mapping(self, node: MappingNode, path: Path) -> dict[str, object]:
        result: dict[str, object] = {}
        first_seen: dict[str, Position] = {}
        for written_key, value_node in node.pairs:
            key_at, key_node = written_key.start, written_key
            while isinstance(key_node, AliasNode):
                key_node = key_node.target
            name = self.key(key_node, key_at, path)
            if name is None:
                continue
            if name in first_seen:
                self.problems.append(
                    self.source.problem(
                        f"duplicate key '{escaped(name)}'; "
                        f"it is already on line {first_seen[name].line}",
                        at=key_at,
                        path=(*path, name),
                        code="duplicate-key",
                        suggestion="remove one of them, or merge them into one",
                    )
                )
                continue
            first_seen[name] = key_at
            result[name] = self.value(value_node, (*path, name), key_at, None)
        return result

    def key(self, node: Node, at: Position, path: Path) -> str | None:
        if not isinstance(node, ScalarNode):
            self.problems.append(
                self.source.problem(
                    "a key must be a single word or text, not a list or a mapping",
                    at=at,
                    path=path,
                    code="complex-key",
                )
            )
            return None
        if node.tag == PLAIN_TAG and node.value == "<<":
            self.problems.append(
                self.source.problem(
                    "merge keys (<<) are not supported; write the keys out in this mapping",
                    at=at,
                    path=path,
                    code="merge-key",
                )
            )
            return None
        try:
            read_scalar(node.tag, node.value)
        except ScalarError as error:
            if error.code == "unsupported-tag":
                self.problems.append(
                    self.source.problem(error.message, at=at, path=path, code=error.code)
                )
                return None
        return node.value


def has_prefix(path: Sequence[PathItem], prefixes: set[Path]) -> bool:
    """Tell whether ``path`` is one of ``prefixes`` or lies below one of them."""
    return any(tuple(path[:size]) in prefixes for size in range(len(path) + 1))
