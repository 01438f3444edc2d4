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
from rewardrules.program.model import (
    Birthday,
    Filter,
    Gift,
    GiftItem,
    Limit,
    Multiplier,
    PercentOff,
    PointsSettings,
    Program,
    Referral,
    RefundSettings,
    RollingWindow,
    SignupBonus,
    TierLevel,
    Tiers,
    VoucherReward,
    VoucherSpec,
)
from rewardrules.tools.reference.examples import (
    declaring_model,
    field_example,
    flow,
    full_example,
    kind_example,
    kind_name,
    leaf_types,
    rule_base,
    to_yaml,
)

_LIMITS: dict[tuple[str, str], str] = {
    ("TieredDiscount", "discounts"): "each percentage more than 0 and at most 100",
    ("Program", "currency"): "an active ISO 4217 code, in capitals",
    ("Program", "timezone"): (
        "a canonical IANA zone, a zone.tab place or UTC; not localtime, posix/, right/ "
        "nor an old name such as US/Eastern (see rule-files.md)"
    ),
}
"""Limits that a validator of the model checks, so that no metadata shows them."""


_TYPES: dict[tuple[str, str], str] = {
    ("_Rule", "limit"): "a {ref}`limit <reference-limit>`, or a list of them",
}
"""Types that a validator of the model reads more widely than the annotation says."""


_TITLES: dict[type[BaseModel], str] = {
    Program: "Top level",
    PointsSettings: "`points`",
    Tiers: "`tiers`",
    RefundSettings: "`refunds`",
    RollingWindow: "`tiers.window`: a rolling window",
    TierLevel: "`tiers.levels`: one level",
    Filter: "`when`: the filter",
    Multiplier: "`multipliers`: one multiplier",
    PercentOff: "`reward: {percent_off: …}`",
    VoucherReward: "`reward: {voucher: …}`",
    VoucherSpec: "`voucher`: the voucher issued",
    Limit: "`limit`: one limit",
    Gift: "`referrer`, `referred`: a gift",
    GiftItem: "`gift_item`: the product given",
}


_NOTES: dict[type[BaseModel], str] = {
    RollingWindow: "Written as text, `365 days` or `52 weeks`, or as a mapping `{days: 365}`.",
    Limit: (
        "Give `per` and exactly one of `points`, `rewards` or `value`. A limit of points is "
        "for a rule that gives points; a limit of value, for a rule that gives money "
        "(discounts, free units, vouchers, gift cards)."
    ),
    Birthday: (
        "Give exactly one of `points` or `voucher`. Without `requires_purchase` the gift is "
        "given when the window starts, not at a purchase, so the rule takes no `when`."
    ),
    SignupBonus: (
        "Without `min_first_purchase` the points are given when the customer joins, not at "
        "a purchase, so the rule takes no `when`."
    ),
    Referral: (
        "A friend is a customer whose profile names the referrer in `referred_by`. The "
        "referrer's gift is given at the friend's first purchase that `when` admits and that "
        "pays at least `min_paid` on the rule's lines. The rule rewards no purchase of the "
        "referrer's, so it cannot be in an `exclusive_group`."
    ),
}


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
    order: list[tuple[type[BaseModel], int]] = []

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

    order.append((program, 2))
    for model in _child_models(program):
        visit(model, 2)
    return tuple(_model_doc(model, level, base, kinds) for model, level in order)


def reference_markdown(program: type[Program] = Program, kinds: KindTable = KINDS) -> str:
    """The whole reference as MyST Markdown, headings starting at level 2 (``program``: the
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
    if model is base:
        title, anchor = "Every rule", "reference-rule"
        summary = "Every rule, whatever its kind, has these keys."
    else:
        title = f"`{kind}`" if kind else _TITLES.get(model, model.__name__)
        anchor = "reference-" + (kind or model.__name__).lower().replace("_", "-")
        summary = _summary(model)
    if model in _NOTES:
        summary += "\n\n" + _NOTES[model]
    if kind:
        summary += "\n\nIt has the keys of {ref}`every rule <reference-rule>`, and these:"
    fields = tuple(_field_doc(model, name, model.model_fields[name], kinds) for name in names)
    return ModelDoc(model, title, anchor, level, summary, fields)


def _summary(model: type[BaseModel]) -> str:
    text = inspect.getdoc(model) or ""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _field_doc(model: type[BaseModel], name: str, field: FieldInfo, kinds: KindTable) -> FieldDoc:
    required = field.is_required()
    default = None if required else _default_text(field)
    return FieldDoc(
        name=name,
        type=_TYPES.get((declaring_model(model, name).__name__, name))
        or _type_words(field.annotation),
        required=required,
        default=default,
        limits=tuple(_limits(model, name, field)),
        description=field.description or "",
        example=field_example(model, name, field, kinds),
    )


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
    extra = _LIMITS.get((declaring_model(model, name).__name__, name))
    if extra:
        yield extra


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
        anchor = (kind_name(annotation) or annotation.__name__).lower().replace("_", "-")
        return f"{{ref}}`{words.lower()} <reference-{anchor}>`"
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
    lines = [f"({doc.anchor})=", f"{'#' * doc.level} {doc.title}", "", doc.summary, ""]
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
