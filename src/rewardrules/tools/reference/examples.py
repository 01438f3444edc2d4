"""Examples for the rule reference: which example each field gets, and how it is written.

A field's example is, in this order: its kind's spec's (``KindSpec.reference``) for a key a
rule kind adds; the first of the field's own ``examples=`` (amounts, written as text there,
read as ``Decimal``); or one derived from its type (another value of a ``Literal``, a mapping
of a nested model's required fields). Examples are plain data written as YAML by
:func:`to_yaml` and :func:`flow`, through the one writer of rule files
(:mod:`rewardrules.rulefiles.dump`), which quotes text only where the loader would read it
as something else. A rule kind's example rule takes its id from its spec, and a kind
missing from the table fails rather than getting derived examples.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any, Final, Literal, Union

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from rewardrules.engine.kind import KindTable, ReferenceExamples
from rewardrules.evaluation.plan import UnknownKindError
from rewardrules.kinds.table import KINDS
from rewardrules.program.model import RULE_KINDS
from rewardrules.rulefiles.dump import flow_text, yaml_text

_Key = tuple[str, str]
"""A field named by (model class name, field name)."""


_APART: tuple[tuple[_Key, ...], ...] = (
    (("Gift", "points"), ("Gift", "voucher")),
    (("Limit", "points"), ("Limit", "rewards"), ("Limit", "value")),
    (("Tiers", "keep_for"), ("Tiers", "keep_until")),
)
"""Keys of one model that cannot all be set at once: at most one of each group is.

A gift gives points or a voucher; a limit counts one measure; tiers keep a level for a
duration or until a New Year. A kind's own groups are in
its spec (``KindSpec.reference.apart``).
"""


def rule_base() -> type[BaseModel]:
    """The model every rule kind extends: its fields are those every rule has."""
    for base in RULE_KINDS[0].__mro__[1:]:
        if (
            issubclass(base, BaseModel)
            and base.model_fields
            and all(issubclass(kind, base) for kind in RULE_KINDS)
        ):
            return base
    raise TypeError("the rule kinds share no base model with fields")  # pragma: no cover


def kind_name(model: type[BaseModel]) -> str | None:
    """The ``kind:`` value of a rule kind's model; None for any other model."""
    field = model.model_fields.get("kind")
    if field is None or typing.get_origin(field.annotation) is not Literal:
        return None
    return str(typing.get_args(field.annotation)[0])


def declaring_model(model: type[BaseModel], name: str) -> type[BaseModel]:
    """The class that declares a field (the rule base for the keys every rule has)."""
    for cls in reversed(model.__mro__):
        if issubclass(cls, BaseModel) and name in cls.model_fields:
            return cls
    return model  # pragma: no cover


def leaf_types(annotation: Any) -> Iterator[type]:
    """The classes inside a type: ``tuple[Text, ...] | None`` holds ``str``."""
    if inspect.isclass(annotation) and typing.get_origin(annotation) is None:
        yield annotation
    elif typing.get_origin(annotation) is Annotated:
        yield from leaf_types(typing.get_args(annotation)[0])
    elif typing.get_origin(annotation) is not Literal:
        for argument in typing.get_args(annotation):
            if argument is not Ellipsis and argument is not type(None):
                yield from leaf_types(argument)


def field_example(
    model: type[BaseModel], name: str, field: FieldInfo, kinds: KindTable = KINDS
) -> object:
    """The example of one field, as plain data (``kinds``: the table of rule kinds).

    Raises:
        LookupError: the field has none, and its type suggests none.
        UnknownKindError: it is a key of a rule kind that ``kinds`` does not list.
    """
    owner = declaring_model(model, name)
    reference = kind_reference(owner, kinds)
    if reference is not None and name in reference.keys:
        return reference.keys[name]
    if field.examples:
        return _from_json(field.examples[0], field.annotation)
    derived = _derived_example(
        field.annotation, field.get_default(call_default_factory=True), kinds
    )
    if derived is None:
        where = "its kind's spec (reference.keys)" if reference is not None else "examples="
        raise LookupError(f"{model.__name__}.{name} has no example; add one to {where}")
    return derived


def kind_reference(model: type[BaseModel], kinds: KindTable = KINDS) -> ReferenceExamples | None:
    """How the reference shows a rule kind, from its spec; None for a model of no kind.

    Raises:
        UnknownKindError: the model is a rule kind that ``kinds`` does not list.
    """
    if kind_name(model) is None:
        return None
    spec = next((spec for spec in kinds.values() if spec.model is model), None)
    if spec is None:
        known = ", ".join(sorted(kind.__name__ for kind in kinds))
        raise UnknownKindError(
            f"the rule kind {model.__name__} is not in the kind table (it lists {known}); "
            "add its spec, whose reference gives its examples, to the table"
        )
    return spec.reference


def full_example(model: type[BaseModel], kinds: KindTable = KINDS) -> dict[str, object]:
    """A mapping that sets every key of a model that can stand beside the others.

    Of keys that cannot be set at once (:data:`_APART`, a kind's ``reference.apart``) only
    the first is set; the others' examples are in :func:`full_examples`. A key the model
    refuses is left out.
    """
    return full_examples(model, kinds)[0]


def full_examples(
    model: type[BaseModel], kinds: KindTable = KINDS
) -> tuple[dict[str, object], ...]:
    """Mappings that together set every key of a model to its example.

    The first sets every key that :func:`full_example` sets; each further one swaps in
    another key of a group that cannot be set at once (a birthday's voucher for its points).
    """
    reference = kind_reference(model, kinds)
    groups = [
        [name for owner, name in group if owner == model.__name__]
        for group in _APART
        if any(owner == model.__name__ for owner, _ in group)
    ]
    groups += [] if reference is None else [list(group) for group in reference.apart]
    refused = frozenset[str]() if reference is None else reference.refused
    later = {name for names in groups for name in names[1:]}
    names = [name for name in model.model_fields if name not in later and name not in refused]
    fields = model.model_fields
    first = {name: field_example(model, name, fields[name], kinds) for name in names}
    swapped = [
        {
            **{key: value for key, value in first.items() if key != group[0]},
            other: field_example(model, other, fields[other], kinds),
        }
        for group in groups
        for other in group[1:]
    ]
    return (first, *swapped)


def kind_example(model: type[BaseModel], kinds: KindTable = KINDS) -> dict[str, object]:
    """A rule of one kind: an id, the kind and every key the kind adds to every rule.

    Of keys that cannot be set at once, only the first is set (a birthday gives points).

    Raises:
        LookupError: the model is not a rule kind.
        UnknownKindError: it is one that ``kinds`` does not list.
    """
    reference = kind_reference(model, kinds)
    if reference is None:
        raise LookupError(f"{model.__name__} is not a rule kind")
    base = rule_base().model_fields
    example: dict[str, object] = {"id": reference.rule_id}
    example.update(
        {name: value for name, value in full_example(model, kinds).items() if name not in base}
    )
    return example


def _from_json(value: object, annotation: Any) -> object:
    """Examples give amounts as text (JSON has no decimals); show them as numbers.

    Inside a mapping of a nested model (a voucher's value), each key's own type decides.
    """
    if isinstance(value, list):
        return [_from_json(item, annotation) for item in value]
    if isinstance(value, dict):
        models = [leaf for leaf in leaf_types(annotation) if issubclass(leaf, BaseModel)]
        if len(models) > 1:  # a rule: the model of its kind
            models = [model for model in models if kind_name(model) == value.get("kind")]
        if len(models) != 1:
            return value
        fields = models[0].model_fields
        return {
            key: _from_json(item, fields[key].annotation) if key in fields else item
            for key, item in value.items()
        }
    if isinstance(value, str) and Decimal in set(leaf_types(annotation)):
        return Decimal(value)
    return value


def _derived_example(annotation: Any, default: object, kinds: KindTable) -> object:
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is Annotated:
        return _derived_example(arguments[0], default, kinds)
    if origin is Literal:
        others = [value for value in arguments if value != default]
        return others[0] if others else None
    if origin in (Union, types.UnionType):
        literals = [member for member in arguments if typing.get_origin(member) is Literal]
        values = [value for member in literals for value in typing.get_args(member)]
        if values:
            return _derived_example(Literal[tuple(values)], default, kinds)
        derived = (_derived_example(member, None, kinds) for member in arguments)
        return next((example for example in derived if example is not None), None)
    if origin is tuple:
        item = _derived_example(arguments[0], None, kinds)
        return None if item is None else [item]
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        required = [n for n, f in annotation.model_fields.items() if f.is_required()]
        names = required or list(annotation.model_fields)[:1]
        fields = annotation.model_fields
        return {n: field_example(annotation, n, fields[n], kinds) for n in names}
    return None


INLINE_UP_TO: Final = 40
"""The reference writes a mapping of scalars this short on its key's line."""


def to_yaml(value: object) -> str:
    """Block-style YAML for an example, by the package's one writer; short mappings inline."""
    return yaml_text(value, inline_up_to=INLINE_UP_TO)


def flow(value: object) -> str:
    """One-line (flow-style) YAML for an example value."""
    return flow_text(value)
