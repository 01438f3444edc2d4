"""Write a :class:`~rewardrules.program.model.Program` back as a rule file (YAML text).

The text is block YAML that :func:`rewardrules.rulefiles.loader.load_program_text` reads back into
an
equal program: money is written exactly as its ``Decimal`` (``1.10`` stays ``1.10``), dates as
``YYYY-MM-DD``, text plain when the loader would read it back as the same text and in double
quotes (with escapes for anything invisible) otherwise. Fields left at their default are
omitted; a rule starts with its ``id`` and ``kind``; a rule's one ``limit`` is written as a
mapping, as a marketer would write it, and several as a list.

It is the package's one YAML writer: :func:`yaml_text` and :func:`flow_text` write plain data
(the rule reference's examples) the same way, short mappings on their key's line if asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Final

from pydantic import BaseModel

from rewardrules.program.model import Program
from rewardrules.rulefiles.sourcemap import PLAIN_TAG, ScalarError, read_scalar

_PLAIN_TEXT: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./+-]*(?: [A-Za-z0-9_./+-]+)*")
"""Text that may be written unquoted: no indicator, no ': ' or ' #', no leading or trailing
space (``365 days``); it still is only if the loader reads it back as the same text."""

_PLAIN_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}

_INDENT: Final = "  "

_FIRST: Final = ("id", "kind")
"""Keys a mapping shows first when it has them (a rule's id and kind)."""

_ONE_OR_A_LIST: Final = frozenset({"limit"})
"""Keys the loader reads as one mapping or a list: a list of one is written as its mapping."""


def dump_program(program: Program) -> str:
    """Write ``program`` as the YAML text of a rule file.

    Returns:
        Text that :func:`rewardrules.rulefiles.loader.load_program_text` reads back into a program
        equal
        to ``program``.
    """
    return "".join(f"{line}\n" for line in _mapping(_fields(program), "", 0))


def yaml_text(value: object, *, inline_up_to: int = 0) -> str:
    """Block YAML for plain data or models, as :func:`dump_program` writes a program.

    Args:
        value: a mapping, a list or a scalar (models are written as their fields).
        inline_up_to: a mapping of scalars whose one-line form is at most this long is written
            on its key's line (``points: {name: stars, value: 0.01}``); 0 never.
    """
    if isinstance(value, BaseModel):
        value = _fields(value)
    if isinstance(value, dict):
        lines = _mapping({str(key): item for key, item in value.items()}, "", inline_up_to)
    elif isinstance(value, list | tuple):
        lines = _sequence(value, "", inline_up_to)
    else:
        lines = iter([_inline(value)])
    return "".join(f"{line}\n" for line in lines)


def flow_text(value: object) -> str:
    """One-line (flow) YAML for plain data or a model: ``{per: day, rewards: 1}``."""
    return _inline(value)


def _fields(model: BaseModel) -> dict[str, object]:
    """The fields of ``model`` not left at their default, ``id`` and ``kind`` first."""
    written: dict[str, object] = {}
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if value is None or _same(value, info.get_default(call_default_factory=True)):
            continue
        if name in _ONE_OR_A_LIST and isinstance(value, tuple) and len(value) == 1:
            value = value[0]
        written[name] = value
    first = {name: written.pop(name) for name in _FIRST if name in written}
    return first | written


def _same(value: object, default: object) -> bool:
    """Equal and written the same: ``Decimal("1.00")`` is not the default ``Decimal(1)``."""
    if isinstance(value, Decimal) or isinstance(default, Decimal):
        return type(value) is type(default) and str(value) == str(default)
    return type(value) is type(default) and value == default


def _mapping(entries: dict[str, object], indent: str, width: int) -> Iterator[str]:
    for key, entry in entries.items():
        head = f"{indent}{_key(key)}:"
        value = _fields(entry) if isinstance(entry, BaseModel) else entry
        if isinstance(value, dict) and value and not _short(value, width):
            yield head
            yield from _mapping({str(k): v for k, v in value.items()}, indent + _INDENT, width)
        elif isinstance(value, list | tuple) and value and not _all_scalars(value):
            yield head
            yield from _sequence(value, indent + _INDENT, width)
        else:
            yield f"{head} {_inline(value)}"


def _sequence(items: list[object] | tuple[object, ...], indent: str, width: int) -> Iterator[str]:
    for item in items:
        value = _fields(item) if isinstance(item, BaseModel) else item
        if isinstance(value, dict) and value:
            entries = {str(k): v for k, v in value.items()}
            lines = list(_mapping(entries, indent + _INDENT, width))
            yield f"{indent}- {lines[0].removeprefix(indent + _INDENT)}"
            yield from lines[1:]
        elif isinstance(value, list | tuple) and value and not _all_scalars(value):
            yield f"{indent}-"
            yield from _sequence(value, indent + _INDENT, width)
        else:
            yield f"{indent}- {_inline(value)}"


def _short(value: dict[object, object], width: int) -> bool:
    """A mapping of scalars and lists whose one-line form fits in ``width``."""
    nested = any(isinstance(item, dict | BaseModel) for item in value.values())
    return not nested and len(_inline(value)) <= width


def _all_scalars(items: list[object] | tuple[object, ...]) -> bool:
    return not any(isinstance(item, dict | list | tuple | BaseModel) for item in items)


def _inline(value: object) -> str:
    """A scalar, or an empty or all-scalar list or mapping, on one line."""
    if isinstance(value, BaseModel):
        value = _fields(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{_key(str(key))}: {_inline(item)}" for key, item in value.items())
        return "{" + inner + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_inline(item) for item in value) + "]"
    return _scalar(value)


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)  # read back exactly by the YAML 1.2 core schema, never as a float
    if isinstance(value, date):
        return value.isoformat()
    return _text(str(value))


def _reads_back_as_itself(text: str) -> bool:
    try:
        return read_scalar(PLAIN_TAG, text) == text
    except ScalarError:
        return False


def _text(text: str) -> str:
    if _PLAIN_TEXT.fullmatch(text) and _reads_back_as_itself(text):
        return text
    return _quoted(text)


def _key(key: str) -> str:
    # The loader reads every key as text, as written (``null:`` is the key "null").
    return key if _PLAIN_KEY.fullmatch(key) else _quoted(key)


def _quoted(text: str) -> str:
    return '"' + "".join(_escape(char) for char in text) + '"'


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    if char.isprintable() and code != 0xFEFF:
        return char
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
