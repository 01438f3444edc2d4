"""The rule reference, generated from the program's models so that it cannot drift from them.

Every section documents one model reachable from :class:`~rewardrules.program.model.Program`; every
entry one field, with its type, default, limits and description read from the model, and an
example chosen by :mod:`rewardrules.tools.reference.examples`.

``docs/_ext/rule_reference.py`` puts :func:`reference_markdown` into the documentation when
it is built; ``tests/test_docs.py`` checks that every field of every model is covered and
that every example is a valid program once placed in one.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from rewardrules._types import Slug
from rewardrules.engine.kind import KindTable
from rewardrules.kinds.table import KINDS
from rewardrules.program._facts import Checked
from rewardrules.program.model import (
    Program,
)
from rewardrules.tools.reference.examples import (
    field_example,
    flow,
    full_example,
    kind_example,
    kind_name,
    leaf_types,
    rule_base,
    to_yaml,
)


def anchor(title: str) -> str:
    """The anchor of a heading as GitHub and MyST (``myst_heading_anchors``) both make it.

    The heading's text in lowercase, spaces as ``-``, everything but letters, digits, ``_``
    and ``-`` dropped: ``### `tiers.window`: a rolling window`` is ``#tierswindow-a-rolling-
    window``. So a plain Markdown link ``[x](#anchor)`` works on GitHub and on the site.
    """
    text = title.replace("`", "").strip().lower().replace(" ", "-")
    return re.sub(r"[^\w\-]", "", text)


@dataclass(frozen=True, slots=True)
class FieldDoc:
    """One key of a model, as the reference shows it."""

    name: str
    type: str
    required: bool
    default: str | None
    limits: tuple[str, ...]
    description: str
    example: object


@dataclass(frozen=True, slots=True)
class ModelDoc:
    """One section of the reference: a model and the keys it adds."""

    model: type[BaseModel]
    title: str
    anchor: str
    level: int
    summary: str
    fields: tuple[FieldDoc, ...]


def model_docs(program: type[Program] = Program, kinds: KindTable = KINDS) -> tuple[ModelDoc, ...]:
    """Every model reachable from the program, in reading order, each with its own keys
    (``kinds``: the table of rule kinds, whose specs give their examples)."""
    base = rule_base()
    order: list[tuple[type[BaseModel], int]] = [(program, 2)]

    def visit(model: type[BaseModel], level: int) -> None:
        if model in (entry for entry, _ in order):
            return
        if issubclass(model, base) and base not in (entry for entry, _ in order):
            order.append((base, 2))
            for child in _child_models(base):
                visit(child, 2)
        order.append((model, level))
        for child in _child_models(model):
            visit(child, 3)

    for model in _child_models(program):
        visit(model, 2)
    docs = tuple(_model_doc(model, level, base, kinds) for model, level in order)
    anchors = [doc.anchor for doc in docs]
    if len(set(anchors)) != len(anchors):  # GitHub would number the second one: say so now
        raise ValueError(f"two sections of the reference share an anchor: {anchors}")
    return docs


def reference_markdown(program: type[Program] = Program, kinds: KindTable = KINDS) -> str:
    """The whole reference as Markdown that GitHub and MyST both render (links are to the
    headings' own anchors), headings starting at level 2 (``program``: the
    model of a program with kinds of your own, from ``program_model``; ``kinds``: a table
    that has their specs, as for ``compile_program``).

    Raises:
        UnknownKindError: ``kinds`` does not list a rule kind of ``program``.
    """
    parts = [
        "## A whole program\n",
        "Every top-level key set:\n",
        f"```yaml\n{to_yaml(full_example(program, kinds))}```\n",
    ]
    for doc in model_docs(program, kinds):
        parts.append(_section(doc, kinds))
    return "\n".join(parts)


def _model_doc(
    model: type[BaseModel], level: int, base: type[BaseModel], kinds: KindTable
) -> ModelDoc:
    kind = kind_name(model)
    names = [name for name in model.model_fields if kind is None or name not in base.model_fields]
    title = _title(model, base)
    summary = "Every rule, whatever its kind, has these keys." if model is base else _summary(model)
    if kind:
        summary += f"\n\nIt has the keys of [every rule](#{anchor(_EVERY_RULE)}), and these:"
    fields = tuple(_field_doc(model, name, model.model_fields[name], kinds) for name in names)
    return ModelDoc(model, title, anchor(title), level, summary, fields)


_EVERY_RULE = "Every rule"


def _title(model: type[BaseModel], base: type[BaseModel] | None = None) -> str:
    """The heading of a model's section."""
    if model is (base or rule_base()):
        return _EVERY_RULE
    kind = kind_name(model)
    title = getattr(model, "reference_title", None)
    return f"`{kind}`" if kind else str(title or model.__name__)


def _summary(model: type[BaseModel]) -> str:
    text = inspect.getdoc(model) or ""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _field_doc(model: type[BaseModel], name: str, field: FieldInfo, kinds: KindTable) -> FieldDoc:
    required = field.is_required()
    default = None if required else _default_text(field)
    return FieldDoc(
        name=name,
        type=_read_words(field) or _type_words(field.annotation),
        required=required,
        default=default,
        limits=tuple(_limits(model, name, field)),
        description=field.description or "",
        example=field_example(model, name, field, kinds),
    )


def _read_words(field: FieldInfo) -> str | None:
    """The type a field's validator reads, where that is wider than its annotation."""
    checked = field.json_schema_extra
    if not isinstance(checked, Checked) or checked.reads is None:
        return None
    items = typing.get_args(field.annotation)
    return checked.reads.format(item=_type_words(items[0]) if items else "")


def _default_text(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None or isinstance(value, BaseModel):
        return "optional"
    return f"default `{flow(value)}`"


def _limits(model: type[BaseModel], name: str, field: FieldInfo) -> Iterator[str]:
    words = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}
    is_text = field.annotation is str
    for item in field.metadata:
        for attribute, phrase in words.items():
            bound = getattr(item, attribute, None)
            if bound is not None:
                yield f"{phrase} {bound}"
        shortest = getattr(item, "min_length", None)
        if shortest is not None:
            yield "not empty" if is_text and shortest == 1 else f"at least {shortest} entry"
        longest = getattr(item, "max_length", None)
        if longest is not None:
            yield f"at most {longest} {'characters' if is_text else 'entries'}"
        pattern = getattr(item, "pattern", None)
        if pattern is not None:
            yield _pattern_words(pattern)
    checked = field.json_schema_extra
    if isinstance(checked, Checked) and checked.limit:
        yield checked.limit


def _pattern_words(pattern: str) -> str:
    slug = typing.get_args(Slug)[1]
    if isinstance(slug, FieldInfo) and any(
        getattr(item, "pattern", None) == pattern for item in slug.metadata
    ):
        return (slug.description or "").split(", e.g.")[0].rstrip(".").lower()
    return f"matches `{pattern}`"


def _type_words(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is Annotated:
        return _type_words(arguments[0])
    if origin in (Union, types.UnionType):
        members = [member for member in arguments if member is not type(None)]
        literals = [
            value
            for member in members
            if typing.get_origin(member) is Literal
            for value in typing.get_args(member)
        ]
        others = [_type_words(m) for m in members if typing.get_origin(m) is not Literal]
        choices = [_literal_words(tuple(literals))] if literals else []
        return " or ".join(choices + others)
    if origin is Literal:
        return _literal_words(arguments)
    if origin is tuple:
        return f"list of {_type_words(arguments[0])}"
    if origin is dict:
        return f"mapping of {_type_words(arguments[0])} to {_type_words(arguments[1])}"
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        words = kind_name(annotation) or re.sub(r"(?<!^)(?=[A-Z])", " ", annotation.__name__)
        return f"[{words.lower()}](#{anchor(_title(annotation))})"
    simple = {str: "text", Decimal: "number", int: "whole number", bool: "true or false"}
    if annotation is date:
        return "date (YYYY-MM-DD)"
    return simple.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _literal_words(values: tuple[Any, ...]) -> str:
    shown = [f"`{value}`" for value in values]
    if len(shown) == 1:
        return shown[0]
    return "one of " + ", ".join(shown)


def _child_models(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    """The models a model's fields hold, in field order, each once."""
    seen: list[type[BaseModel]] = []
    for field in model.model_fields.values():
        for leaf in leaf_types(field.annotation):
            if issubclass(leaf, BaseModel) and leaf not in seen:
                seen.append(leaf)
                yield leaf


def _section(doc: ModelDoc, kinds: KindTable) -> str:
    lines = [f"{'#' * doc.level} {doc.title}", "", doc.summary, ""]
    for entry in doc.fields:
        facts = [entry.type, "**required**" if entry.required else str(entry.default)]
        facts.extend(entry.limits)
        lines.append(f"`{entry.name}` — {'; '.join(facts)}")
        lines.append(f": {entry.description}")
        lines.append("")
        lines.append(f"  Example: `{entry.name}: {flow(entry.example)}`")
        lines.append("")
    kind = kind_name(doc.model)
    if kind:
        example = to_yaml([kind_example(doc.model, kinds)]).rstrip("\n")
        lines.extend(["Example:", "", "```yaml", example, "```", ""])
    return "\n".join(lines)
