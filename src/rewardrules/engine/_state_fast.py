"""A second, faster way through pydantic-core for a saved state's JSON text.

A saved state is loaded at every ``step`` from JSON (docs/api.md, "Saved states"), and
most of its bytes are the saved purchases and the rolling tier window's pairs: named
tuples (``SavedPurchase``, ``SavedLine``, ``TierAmount``), which pydantic-core validates by
calling the class with the validated items, a Python call per purchase, line and pair.
:func:`fast_validator` rewrites the state's core schema so that each is validated as a plain
tuple of the same items and then made the named tuple by ``tuple.__new__`` (a C call: the
same object, no Python frame), and so that the numeric bounds the consistency checks test
on every purchase, line and pair (``_state_checks``) are tested by pydantic-core as it
reads them.

Only a text this accepts takes that way; anything it refuses, whatever the reason, is
loaded again the ordinary way, which gives the same errors as before (pydantic's own, the
checks' located ones, or an older format's upgrade). So the fast way must never accept
what the ordinary way refuses: it reads JSON arrays only (where a named tuple also reads
an object), and a bound it tests is one the checks refuse beyond (the checks skip only
those bounds, and only for a state loaded this way). ``tests/test_state_fast.py`` checks
both directions over drawn and damaged states.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from pydantic_core import CoreSchema, SchemaValidator, core_schema

Bounds = Mapping[str, Mapping[str, Mapping[str, int]]]
"""Per named tuple class name, per field, the int schema's bounds to add (``ge``, ``lt``...)."""


def _rewritten(node: Any, bounds: Bounds, wrap: bool, found: set[tuple[str, str]]) -> Any:
    """``node`` with every named tuple schema made a plain tuple schema, its fields
    bounded by ``bounds``, and (with ``wrap``) made the named tuple after validation;
    each (class, field) bounded is added to ``found``."""
    if isinstance(node, list):
        return [_rewritten(item, bounds, wrap, found) for item in node]
    if not isinstance(node, dict):
        return node
    rewritten = {key: _rewritten(value, bounds, wrap, found) for key, value in node.items()}
    if rewritten.get("type") != "named-tuple":
        return rewritten
    cls = rewritten["cls"]
    extra = bounds.get(cls.__name__, {})
    items: list[Any] = []
    for field in rewritten["fields"]:
        schema = field["schema"]
        added = extra.get(field["name"])
        if added:
            schema = _bounded(schema, added)
            found.add((cls.__name__, field["name"]))
        items.append(schema)
    plain = core_schema.tuple_schema(items, strict=True)
    if not wrap:
        return plain
    return core_schema.no_info_after_validator_function(
        partial(tuple.__new__, cls), plain, ref=rewritten.get("ref")
    )


def _bounded(schema: dict[str, Any], added: Mapping[str, int]) -> dict[str, Any]:
    """An int schema with more bounds; a dict or tuple of ints with them on its values."""
    kind = schema["type"]
    if kind == "int":
        return {**schema, **added}
    if kind == "dict":
        values = schema.get("values_schema", core_schema.any_schema())
        return {**schema, "values_schema": _bounded(values, added)}
    if kind == "tuple":
        items = [_bounded(item, added) for item in schema.get("items_schema", [])]
        return {**schema, "items_schema": items}
    if kind == "nullable":
        return {**schema, "schema": _bounded(schema["schema"], added)}
    raise TypeError(f"no bounds for a {kind} schema")


def fast_validator(schema: CoreSchema, bounds: Bounds) -> SchemaValidator:
    """A validator of ``schema`` (a model's core schema) with its named tuples read as
    bounded plain tuples and made the named tuples by a C call."""
    found: set[tuple[str, str]] = set()
    rewritten = _rewritten(schema, bounds, True, found)
    # The checks skip these bounds for a state read this way: each must have been added
    # (a pydantic that names its named tuple schemas otherwise would leave them out).
    missing = {(name, field) for name, fields in bounds.items() for field in fields} - found
    if missing:
        raise TypeError(f"no named tuple field to bound in the state's schema: {sorted(missing)}")
    return SchemaValidator(rewritten)
