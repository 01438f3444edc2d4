"""Pydantic error locations, walked back onto the document and onto the models.

Pydantic reports where an error is (``loc``) in terms of its own schema: a tagged union adds
the tag (``('rules', 0, 'every_nth_free', 'every')``, ``('tiers', 'window', 'RollingWindow',
'days')``), a dictionary key adds ``'[key]'``. :func:`map_loc` keeps only the items written
in the document, and :func:`model_at` follows the same ``loc`` through the type annotations
to the model whose fields a mapping may hold (for "did you mean ...?").
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Tag
from pydantic_core import ErrorDetails

from rewardrules.errors import PathItem
from rewardrules.program.model import Program

Path = tuple[PathItem, ...]

_WRAPPERS = ("function-", "tagged-union[", "union[", "nullable[", "lax-", "json-or-python[")
"""Schema steps that pydantic may put in a ``loc`` and the document never holds."""

ABSENT = object()
"""What :func:`lookup` returns for a path the document does not have."""


def _models(root: type[BaseModel]) -> tuple[dict[str, type[BaseModel]], frozenset[str]]:
    found: dict[str, type[BaseModel]] = {}
    tags: set[str] = set()
    pending: list[Any] = [root]
    while pending:
        annotation = pending.pop()
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation.__name__ not in found:
                found[annotation.__name__] = annotation
                pending.extend(info.annotation for info in annotation.model_fields.values())
        elif isinstance(annotation, Tag):
            tags.add(annotation.tag)
        else:
            pending.extend(get_args(annotation))
    return found, frozenset(tags)


MODELS, TAGS = _models(Program)
"""Every model a program is made of, by class name; the tags of its unions' members."""


def _strip(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _members(annotation: Any) -> list[Any] | None:
    if get_origin(annotation) in (Union, types.UnionType):
        return [_strip(member) for member in get_args(annotation) if member is not type(None)]
    return None


def _step(annotation: Any, item: PathItem) -> Any:
    """The type one ``loc`` item below ``annotation``, or ``None``."""
    annotation = _strip(annotation)
    members = _members(annotation)
    if members is not None:
        for member in members:
            if isinstance(member, type) and issubclass(member, BaseModel):
                kind = member.model_fields.get("kind")
                if member.__name__ == item or (kind and item in get_args(kind.annotation)):
                    return member  # a member's tag: its class name, or its kind
        return _step(members[0], item) if len(members) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        info = annotation.model_fields.get(str(item))
        return info.annotation if info is not None else None
    if get_origin(annotation) is tuple and isinstance(item, int):
        return get_args(annotation)[0]
    if get_origin(annotation) is dict:
        return get_args(annotation)[1]
    return None


def as_model(annotation: Any) -> type[BaseModel] | None:
    """The model an annotation stands for (``Tiers | None`` -> ``Tiers``), if any."""
    annotation = _strip(annotation)
    members = _members(annotation)
    if members is not None:
        annotation = members[0] if len(members) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def model_at(loc: tuple[PathItem, ...]) -> type[BaseModel] | None:
    """The model validated at a pydantic ``loc`` (tags and members included), if any."""
    annotation: Any = Program
    for item in loc:
        annotation = _step(annotation, item)
    return as_model(annotation)


def nested_fields(model: type[BaseModel]) -> Iterator[tuple[str, list[str]]]:
    """The fields of ``model`` that hold a mapping, with that mapping's keys (``when``...)."""
    for name, info in model.model_fields.items():
        nested = as_model(info.annotation)
        if nested is not None:
            yield name, list(nested.model_fields)


@dataclass(slots=True)
class MappedError:
    """A pydantic error and where it is in the document.

    Attributes:
        error: pydantic's error details.
        path: the document path (union tags and schema steps removed).
        at_key: the error is about a dictionary's key, not its value.
    """

    error: ErrorDetails
    path: Path
    at_key: bool = False


def child(node: object, item: PathItem) -> object:
    """The value one step below ``node``, or :data:`ABSENT`."""
    if isinstance(node, dict) and item in node:
        return node[item]
    if isinstance(node, list) and isinstance(item, int) and 0 <= item < len(node):
        return node[item]
    return ABSENT


def written_path(data: object, path: Path) -> Path:
    """``path`` as the document writes it: without the index of a mapping read as a list.

    The models read one ``limit`` mapping as a list of one, so a check of the model names
    ``limit[0]`` where the document has only ``limit``.
    """
    kept: list[PathItem] = []
    node = data
    for item in path:
        below = child(node, item)
        if below is ABSENT and isinstance(node, dict) and isinstance(item, int):
            continue
        kept.append(item)
        node = None if below is ABSENT else below
    return tuple(kept)


def lookup(data: object, path: Path, default: object = None) -> object:
    """The value at ``path`` in the document, or ``default``."""
    for item in path:
        data = child(data, item)
        if data is ABSENT:
            return default
    return data


def map_loc(error: ErrorDetails, data: object) -> MappedError:
    """Walk pydantic's ``loc`` over the document, keeping only the items written in it.

    An index below a mapping is dropped: the model read that one mapping as a list of one
    (``limit: {per: month, points: 500}``), so the document has no ``[0]`` to point at.
    """
    mapped = MappedError(error, ())
    path: list[PathItem] = []
    node: object = data
    previous: object = None
    for item in error["loc"]:
        if item == "[key]":
            mapped.at_key = True
        elif isinstance(node, dict) and isinstance(previous, int) and node.get("kind") == item:
            pass  # the tag of the rules' tagged union, right after the rule's index
        elif (below := child(node, item)) is not ABSENT:
            path.append(item)
            node = below
        elif item in TAGS:
            pass  # the tag of the member of a union that pydantic validated
        elif isinstance(node, dict) and isinstance(item, int):
            pass  # one mapping written where a list may stand, read as a list of one (limit)
        elif not (isinstance(item, str) and item.startswith(_WRAPPERS)):
            path.append(item)  # a field the document lacks ("missing")
            node = None
        previous = item
    mapped.path = tuple(path)
    return mapped
