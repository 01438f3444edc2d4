"""Read a rule file (YAML) into a validated :class:`~rewardrules.program.model.Program`.

Reading happens in four steps, and every problem of every step is reported together in one
:class:`~rewardrules.errors.RuleFileError`, each at its line and column:

1. the text: UTF-8, no control characters;
2. the YAML: PyYAML's safe parser (the C one when available) turns the text into events, which
   :class:`_Composer` assembles into a node tree, refusing several documents, unknown or
   recursive aliases, too-deep nesting and files that aliases blow up beyond a budget;
3. the values: :func:`rewardrules.rulefiles.sourcemap.build` reads them by the YAML 1.2 core schema
   (money stays exact ``Decimal``; ``no`` stays text) and notes where each one sits;
4. the program: pydantic validates the values, then
:func:`~rewardrules.program.model.semantic_problems`
   checks what involves several fields.

This is the only module that imports ``yaml``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any, Final, Literal

import yaml
from pydantic import TypeAdapter, ValidationError

from rewardrules._wording import shorten
from rewardrules.errors import Location, PathItem, Problem, RuleFileError
from rewardrules.money import is_known_currency
from rewardrules.program.model import (
    SEMANTICS_DEFERRED,
    AnyRule,
    Program,
    Rule,
    Tiers,
    semantic_problems,
    semantic_problems_of_parts,
)
from rewardrules.rulefiles import _messages
from rewardrules.rulefiles._errorpaths import written_path
from rewardrules.rulefiles._syntax import character_problems, syntax_problem
from rewardrules.rulefiles.sourcemap import (
    PLAIN_TAG,
    STR_TAG,
    AliasNode,
    Built,
    MappingNode,
    Node,
    Position,
    ScalarNode,
    SequenceNode,
    SourceMap,
    SourceText,
    build,
    has_prefix,
)
from rewardrules.text import escaped

NODE_BUDGET: Final = 100_000
"""At most this many values, counting each use of an alias in full ("billion laughs").

A file without aliases that passes it is refused as ``too-many-values``, not blamed on
aliases it does not have."""

MAX_FILE_BYTES: Final = 1024 * 1024
"""A rule file larger than this (1 MiB) is refused, without reading more of it; the largest
example program is about 3 KiB."""

MAX_DEPTH: Final = 64
"""At most this many lists and mappings inside one another; a program needs fewer than 10."""

_DISCOUNT_KEYS = "discounts"
"""A mapping whose keys name something (a tier): its problems point at the key."""

Parser = Literal["c", "pure"]


def _leave_plain_scalars_alone(reader: type[Any]) -> type[Any]:
    """Replace YAML 1.1's implicit resolvers by one that tags every plain scalar PLAIN_TAG.

    A wildcard resolver (``first=None``) is tried for every plain scalar, and an empty
    pattern matches every text; :func:`rewardrules.rulefiles.sourcemap.read_scalar` then reads it by
    the YAML 1.2 core schema.
    """
    reader.yaml_implicit_resolvers = {}
    reader.add_implicit_resolver(PLAIN_TAG, re.compile(""), None)
    return reader


class _PureReader(yaml.SafeLoader):
    """PyYAML's pure-Python safe parser."""


_READERS: dict[str, type[Any]] = {"pure": _leave_plain_scalars_alone(_PureReader)}

if yaml.__with_libyaml__:

    class _CReader(yaml.CSafeLoader):
        """libyaml's safe parser."""

    _READERS["c"] = _leave_plain_scalars_alone(_CReader)


def load_program(source: str | os.PathLike[str] | IO[str] | IO[bytes]) -> Program:
    """Read a program from a rule file, like :func:`json.load`.

    Args:
        source: a path (a ``str`` or any ``os.PathLike``), or an open file: text (``open(name)``,
            ``io.StringIO``) or binary (``open(name, "rb")``, ``io.BytesIO``). A path is always
            a file name, never YAML: YAML text goes to :func:`loads_program`.

    Returns:
        The validated program.

    Raises:
        RuleFileError: the file does not exist, cannot be read or is not a valid program; it
            lists every problem found, each with its line and column.
        TypeError: ``source`` is neither a path nor a file, or is a ``str`` holding YAML text
            (a line break): the message says to call ``loads_program``.
    """
    if isinstance(source, str | os.PathLike):
        if isinstance(source, str) and ("\n" in source or "\r" in source):
            raise TypeError(
                "load_program reads a file, and this is text with line breaks: read YAML "
                "text with loads_program(text)"
            )
        return load_program_file(source)
    read = getattr(source, "read", None)
    if read is None:
        raise TypeError(
            "load_program takes a path or an open file (got "
            f"{type(source).__name__}); read YAML text with loads_program(text)"
        )
    name = getattr(source, "name", None)
    data = read(MAX_FILE_BYTES + 1)
    return loads_program(data, name if isinstance(name, str) else "<file>")


def loads_program(text: str | bytes, source: str = "<text>") -> Program:
    """Read a program from YAML text (or the bytes of a rule file), like :func:`json.loads`.

    Args:
        text: the YAML, as text or as UTF-8 bytes (with or without a byte-order mark).
        source: the name problems give the text, e.g. the file it came from.

    Returns:
        The validated program.

    Raises:
        RuleFileError: the text is not a valid program; it lists every problem found, each
            with its line and column.
    """
    if isinstance(text, bytes | bytearray):
        return load_program_bytes(bytes(text), source)
    if not isinstance(text, str):
        raise TypeError(f"loads_program takes text or bytes (got {type(text).__name__})")
    return load_program_text(text, source)


def load_program_file(
    path: str | os.PathLike[str],
    *,
    _parser: Parser | None = None,
    _node_budget: int = NODE_BUDGET,
) -> Program:
    """Read a program from a UTF-8 YAML file.

    Raises:
        RuleFileError: the file is missing, unreadable, a directory, not UTF-8, or not a
            valid program.
    """
    return _load(_read_file(path), _parser, _node_budget)


def load_program_bytes(
    data: bytes,
    source: str = "<bytes>",
    *,
    _parser: Parser | None = None,
    _node_budget: int = NODE_BUDGET,
) -> Program:
    """Read a program from the bytes of a rule file (UTF-8, with or without a BOM).

    Args:
        data: the file's bytes.
        source: the name problems give the bytes, e.g. the file they came from.

    Raises:
        RuleFileError: the bytes are too many, not UTF-8, or not a valid program.
    """
    if len(data) > MAX_FILE_BYTES:
        raise RuleFileError([Problem(_too_large(f"cannot read '{source}': it"), code="too-large")])
    return _load(_decode(source, data), _parser, _node_budget)


_OPEN_FLAGS: Final = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
"""Never wait for a writer: a FIFO swapped in after the check must not block the read."""

_SPECIAL_FILES: Final = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def _refuse_special(name: str, mode: int) -> None:
    """Refuse what is not a regular file: a directory, /dev/zero (endless), a FIFO (blocks)."""
    for test, what in _SPECIAL_FILES:
        if test(mode):
            raise _unreadable(name, f"it is {what}, not a rule file", "not-a-file")
    if not stat.S_ISREG(mode):
        raise _unreadable(name, "it is not a regular file", "not-a-file")


def _too_large(what: str) -> str:
    return (
        f"{what} is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB ({MAX_FILE_BYTES} bytes); "
        "a rule file that large is refused"
    )


def _read_file(path: str | os.PathLike[str]) -> SourceText:
    name = os.fspath(path)
    try:
        _refuse_special(name, os.stat(name).st_mode)
        with open(os.open(name, _OPEN_FLAGS), "rb") as file:
            _refuse_special(name, os.fstat(file.fileno()).st_mode)
            data = file.read(MAX_FILE_BYTES + 1)  # never more than the cap, whatever it is
    except RuleFileError:
        raise
    except FileNotFoundError:
        raise _missing(name, _spaces_note(name)) from None
    except IsADirectoryError:
        raise _unreadable(name, "it is a directory, not a rule file", "not-a-file") from None
    except PermissionError:
        raise _unreadable(name, "permission denied", "unreadable-file") from None
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise _unreadable(name, reason.lower(), "unreadable-file") from None
    if len(data) > MAX_FILE_BYTES:
        raise RuleFileError([Problem(_too_large(f"cannot read '{name}': it"), code="too-large")])
    return _decode(name, data)


_WIDE_ENCODINGS: Final = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def _wide_encoding(data: bytes) -> str | None:
    """``"UTF-16"`` or ``"UTF-32"`` (with its byte-order mark) when ``data`` is written so."""
    for mark, encoding in _WIDE_ENCODINGS:
        if data.startswith(mark):
            return f"{encoding} text (it starts with a {encoding} byte-order mark)"
    # Without a mark, text in UTF-16 has a zero byte beside each ASCII character.
    head = data[:2]
    if len(head) == 2 and (head[0] == 0) != (head[1] == 0):
        return "UTF-16 text (every other byte is zero)"
    return None


def _decode(name: str, data: bytes) -> SourceText:
    wide = _wide_encoding(data)
    if wide is not None:
        message = f"the file is {wide}; save it as UTF-8"
        raise RuleFileError([Problem(message, (), Location(name, 1, 1), "not-utf8")])
    skipped = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        text = data[skipped:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = skipped + error.start
        source = SourceText(name, data[skipped:].decode("utf-8", errors="replace"))
        at = source.position_of(len(data[skipped:offset].decode("utf-8")))
        message = (
            f"the file is not UTF-8 text: byte 0x{data[offset]:02x} at offset {offset} "
            "cannot be read; save the file as UTF-8"
        )
        raise RuleFileError([source.problem(message, at=at, code="not-utf8")]) from None
    return SourceText(name, text)


def load_program_text(
    text: str,
    source: str = "<text>",
    *,
    _parser: Parser | None = None,
    _node_budget: int = NODE_BUDGET,
) -> Program:
    """Read a program from YAML text.

    Args:
        text: the YAML.
        source: the name problems give the text, e.g. the file it came from.

    Raises:
        RuleFileError: the text is not a valid program.
    """
    return _load(SourceText(source, text.removeprefix("\ufeff")), _parser, _node_budget)


@dataclass(frozen=True, slots=True)
class ProgramSourceMap:
    """Where the values of a loaded program sit, to point later findings (lint) at them.

    Attributes:
        text: the file's name and lines.
        entries: ``{document path: where its key and value are written}``.
    """

    text: SourceText
    entries: SourceMap

    def problem(
        self,
        message: str,
        path: tuple[PathItem, ...],
        *,
        at: Literal["key", "value"] = "value",
        code: str = "invalid",
        suggestion: str | None = None,
    ) -> Problem:
        """A :class:`Problem` at ``path`` (or the nearest value above it that is written)."""
        position = self.entries.locate(path, at)
        return self.text.problem(message, at=position, path=path, code=code, suggestion=suggestion)


def load_program_with_map(
    source: str | os.PathLike[str],
    *,
    text: str | None = None,
) -> tuple[Program, ProgramSourceMap]:
    """Read a program as :func:`load_program` does, and also where each of its values sits.

    Args:
        source: the rule file's path; or, with ``text``, the name problems give the text.
        text: the YAML itself, as :func:`loads_program` reads it.

    Returns:
        The validated program and its source map.

    Raises:
        RuleFileError: as for :func:`load_program`.
    """
    if text is not None:
        read = SourceText(os.fspath(source), text.removeprefix("\ufeff"))
    else:
        read = _read_file(source)
    program, entries = _load_with_map(read, None, NODE_BUDGET)
    return program, ProgramSourceMap(read, entries)


def _spaces_note(name: str) -> str | None:
    """ "(note the trailing space)" and the like, when spaces around a name are easy to miss."""
    stripped = name.strip()
    if stripped == name or not stripped:
        return None
    ends = [
        where
        for where, spaced in (("leading", name[0].isspace()), ("trailing", name[-1].isspace()))
        if spaced
    ]
    count = len(name) - len(name.lstrip()) + len(name) - len(name.rstrip())
    noun = "space" if count == 1 else "spaces"
    return f"(note the {' and '.join(ends)} {noun})"


def _missing(name: str, note: str | None) -> RuleFileError:
    message = (
        f"no such file '{name}' {note}" if note else f"cannot read '{name}': there is no such file"
    )
    exists = note is not None and os.path.exists(name.strip())
    suggestion = f"did you mean '{name.strip()}'?" if exists else None
    if suggestion is None and (": " in name or name.lstrip().startswith("{")):
        suggestion = "to read YAML text, call loads_program(text)"
    return RuleFileError([Problem(message, code="missing-file", suggestion=suggestion)])


def _unreadable(name: str, reason: str, code: str) -> RuleFileError:
    return RuleFileError([Problem(f"cannot read '{name}': {reason}", code=code)])


def _load(source: SourceText, parser: Parser | None, budget: int) -> Program:
    return _load_with_map(source, parser, budget)[0]


def _load_with_map(
    source: SourceText, parser: Parser | None, budget: int
) -> tuple[Program, SourceMap]:
    if (
        len(source.text) > MAX_FILE_BYTES
        or len(source.text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES
    ):
        what = f"cannot read '{source.name}': it"
        raise RuleFileError([Problem(_too_large(what), code="too-large")])
    characters = character_problems(source)
    if characters:
        raise RuleFileError(characters)
    root = _parse(source, parser, budget)
    if root is None or (isinstance(root, ScalarNode) and root.tag == PLAIN_TAG and not root.value):
        message = "the file is empty; a program needs at least program, name, currency, timezone"
        raise RuleFileError([source.problem(message, at=Position(1, 1), code="empty-file")])
    if not isinstance(root, MappingNode):
        raise RuleFileError([_not_a_mapping(root, source)])
    built = build(root, source)
    problems = list(built.problems)
    where = built.source_map
    try:
        program = Program.model_validate(built.data, context={SEMANTICS_DEFERRED: True})
    except ValidationError as error:
        semantic = _semantic_problems_of_valid_parts(built.data)
        for finding in _messages.findings(error, built.data, where.text):
            if finding.at == "key" or not has_prefix(finding.path, built.unreadable):
                at = where.locate(finding.path, finding.at)
                problems.append(
                    source.problem(
                        finding.message,
                        at=at,
                        path=finding.path,
                        code=finding.code,
                        suggestion=finding.suggestion,
                    )
                )
        problems += _located_semantic_problems(semantic, built, where, source)
    except OSError as error:  # a model check that touched the file system and failed
        message = f"the program could not be checked: {error.strerror or error}"
        problems.append(source.problem(message, at=Position(1, 1), code="invalid"))
    else:
        problems += _located_semantic_problems(semantic_problems(program), built, where, source)
    if problems:
        raise RuleFileError(sorted(problems, key=_order))
    return program, where


def _located_semantic_problems(
    found: Iterable[tuple[tuple[PathItem, ...], str]],
    built: Built,
    where: SourceMap,
    source: SourceText,
) -> list[Problem]:
    problems = []
    for model_path, message in found:
        # A single ``limit`` mapping is a list of one to the models: drop that ``[0]``.
        path = written_path(built.data, model_path)
        if not has_prefix(path, built.unreadable):
            named_by_key = len(path) >= 2 and path[-2] == _DISCOUNT_KEYS
            at = where.locate(path, "key" if named_by_key else "value")
            problems.append(source.problem(message, at=at, path=path, code="inconsistent"))
    return problems


_RULE = TypeAdapter(Rule)


def _semantic_problems_of_valid_parts(data: object) -> list[tuple[tuple[PathItem, ...], str]]:
    """Cross-field checks on the parts of an invalid file that are valid on their own.

    Without this, a file with a typo would hide its duplicate rule ids or its money finer
    than the currency until the typo is fixed; every problem should come in one run.
    """
    if not isinstance(data, dict):
        return []
    written = data.get("currency")
    currency_code = written if isinstance(written, str) and is_known_currency(written) else None
    tiers = None
    raw_tiers = data.get("tiers")
    if raw_tiers is not None:
        try:
            tiers = Tiers.model_validate(raw_tiers)
        except ValidationError:
            tiers = None
    rules: list[tuple[int, AnyRule]] = []
    raw_rules = data.get("rules")
    if isinstance(raw_rules, list):
        for index, raw in enumerate(raw_rules):
            try:
                rules.append((index, _RULE.validate_python(raw)))
            except ValidationError:
                continue
    return list(
        semantic_problems_of_parts(
            currency_code, tiers, rules, tiers_known=raw_tiers is None or tiers is not None
        )
    )


def _order(problem: Problem) -> tuple[int, int]:
    location = problem.location
    return (location.line, location.column) if location is not None else (0, 0)


def _not_a_mapping(root: Node, source: SourceText) -> Problem:
    shown = "a list" if isinstance(root, SequenceNode) else "a single value"
    hint = None
    if isinstance(root, ScalarNode):
        shown = f"the single value '{shorten(escaped(root.value))}'"
        if source.name == "<text>" and root.value.endswith((".yaml", ".yml")):
            hint = f"to read the file '{root.value}', call load_program({root.value!r})"
    message = (
        "a rule file must be a mapping of keys such as program, name, currency, timezone "
        f"(got {shown})"
    )
    return source.problem(message, at=root.start, code="not-a-mapping", suggestion=hint)


class _FatalError(Exception):
    """A problem after which the rest of the YAML cannot be read."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _parse(source: SourceText, parser: Parser | None, budget: int) -> Node | None:
    if parser is None:
        parser = "c" if "c" in _READERS else "pure"
    if "\t" in source.text:
        # The pure parser allows a tab only inside quotes, block text and comments; libyaml
        # allows more. Reading such a text with the stricter one makes a file mean the same
        # with or without libyaml.
        parser = "pure"
    if parser not in _READERS:
        raise ValueError(f"the {parser} YAML parser is not available")
    reader = _READERS[parser](source.text)
    try:
        return _Composer(reader, source, budget).document()
    except _FatalError as fatal:
        raise RuleFileError([fatal.problem]) from None
    except yaml.MarkedYAMLError as error:
        problem = syntax_problem(
            error.problem or "",
            error.context or "",
            _position(error.problem_mark or error.context_mark),
            _position(error.context_mark or error.problem_mark),
            source,
        )
        raise RuleFileError([problem]) from None
    except yaml.YAMLError as error:
        index = getattr(error, "position", None)
        at = source.position_of(index) if isinstance(index, int) else None
        message = f"the YAML cannot be read: {error}"
        raise RuleFileError([source.problem(message, at=at, code="yaml-syntax")]) from None
    finally:
        reader.dispose()


def _position(mark: Any) -> Position:
    return Position(mark.line + 1, mark.column + 1) if mark is not None else Position(1, 1)


@dataclass(slots=True)
class _Open:
    node: SequenceNode | MappingNode
    anchor: str | None
    size: int = 1
    key: Node | None = None


class _Composer:
    """Assemble parser events into a node tree, without recursion (no depth can crash it)."""

    def __init__(self, reader: Any, source: SourceText, budget: int) -> None:
        self.reader = reader
        self.source = source
        self.budget = budget
        self.anchors: dict[str, tuple[Node, int | None]] = {}
        self.stack: list[_Open] = []
        self.spent = 0
        self.expanded = 0
        """How many of the values spent are copies made by aliases."""

    def fatal(self, message: str, at: Position, code: str) -> _FatalError:
        path: list[PathItem] = []
        for frame in self.stack:
            if isinstance(frame.node, SequenceNode):
                path.append(len(frame.node.items))
            elif isinstance(frame.key, ScalarNode):
                path.append(frame.key.value)
        return _FatalError(self.source.problem(message, at=at, path=tuple(path), code=code))

    def document(self) -> Node | None:
        self.reader.get_event()  # the stream starts
        if self.reader.check_event(yaml.StreamEndEvent):
            return None
        self.reader.get_event()  # the document starts
        root = self.node()
        self.reader.get_event()  # the document ends
        if not self.reader.check_event(yaml.StreamEndEvent):
            at = _position(self.reader.get_event().start_mark)
            message = "a second YAML document starts here; a rule file holds one program"
            raise self.fatal(message, at, "several-documents")
        return root

    def node(self) -> Node:
        while True:
            event = self.reader.get_event()
            at = _position(event.start_mark)
            node: Node
            if isinstance(event, yaml.AliasEvent):
                node, size = self.alias(str(event.anchor), at)
                self.expanded += size
                self.spend(size, at)
            elif isinstance(event, yaml.ScalarEvent):
                self.spend(1, at)
                tag = event.tag
                if tag == "!":  # the non-specific tag: text, whatever it looks like
                    tag = STR_TAG
                elif tag is None:
                    tag = self.reader.resolve(yaml.ScalarNode, event.value, event.implicit)
                node, size = ScalarNode(str(tag), event.value, at), 1
                if event.anchor is not None:
                    self.anchors[event.anchor] = (node, size)
            elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                self.spend(1, at)
                self.open(event, at)
                continue
            else:
                frame = self.stack.pop()
                node, size = frame.node, frame.size
                if frame.anchor is not None:
                    self.anchors[frame.anchor] = (node, size)
            if not self.stack:
                return node
            self.attach(node, size)

    def alias(self, name: str, at: Position) -> tuple[Node, int]:
        if name not in self.anchors:
            message = f"the alias *{name} refers to no anchor &{name} defined above it"
            raise self.fatal(message, at, "unknown-alias")
        target, size = self.anchors[name]
        if size is None:
            message = (
                f"the alias *{name} is used inside the value it names; "
                "a value cannot contain itself"
            )
            raise self.fatal(message, at, "recursive-alias")
        return AliasNode(name, target, at), size

    def open(self, event: yaml.SequenceStartEvent | yaml.MappingStartEvent, at: Position) -> None:
        if len(self.stack) >= MAX_DEPTH:
            message = f"lists and mappings are nested more than {MAX_DEPTH} deep here"
            raise self.fatal(message, at, "too-deep")
        is_sequence = isinstance(event, yaml.SequenceStartEvent)
        tag = event.tag
        if tag is None or tag == "!":
            kind = yaml.SequenceNode if is_sequence else yaml.MappingNode
            tag = self.reader.resolve(kind, None, event.implicit)
        node = SequenceNode(str(tag), at) if is_sequence else MappingNode(str(tag), at)
        if event.anchor is not None:
            self.anchors[event.anchor] = (node, None)
        self.stack.append(_Open(node, event.anchor))

    def spend(self, size: int, at: Position) -> None:
        """Count ``size`` more values, each use of an alias counting its whole value."""
        self.spent += size
        if self.spent > self.budget:
            if self.expanded:
                message = (
                    f"this file holds more than {self.budget} values once its aliases (*name) "
                    "are expanded; a rule file this large is refused"
                )
                raise self.fatal(message, at, "alias-budget")
            message = (
                f"this file holds more than {self.budget} values (items, keys and values "
                "together); a rule file this large is refused"
            )
            raise self.fatal(message, at, "too-many-values")

    def attach(self, node: Node, size: int) -> None:
        frame = self.stack[-1]
        frame.size += size
        if isinstance(frame.node, SequenceNode):
            frame.node.items.append(node)
        elif frame.key is None:
            frame.key = node
        else:
            frame.node.pairs.append((frame.key, node))
            frame.key = None
