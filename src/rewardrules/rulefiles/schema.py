"""The JSON Schema (draft-07) of the program format, for editors and generic validators.

The schema is generated from the pydantic models of :mod:`rewardrules.program.model`, then
reshaped so that an editor with a YAML language server, or ``check-jsonschema``, points at
the exact wrong field instead of "not valid under any of the given schemas":

- a rule is published as ``kind: {enum: [...]}`` plus one ``if kind is X then X's schema``
  branch per kind, not as pydantic's discriminated ``oneOf``;
- every other union is published by JSON type: ``type: [...]`` with the keywords that only
  constrain one type side by side, and an ``if: {type: T} then: ...`` where a branch needs
  more (a ``$ref``); objects told apart by their single key are merged into one object;
- exact numbers (money, percentages, factors) accept a number or a numeric text;
- every field has a description and at least one example, from the model (a constant is its
  own example); an example is published in the JSON types its field takes (amounts, written
  as text in the models, as numbers).

The committed copy is shipped in the package, ``rulefiles/program.schema.json`` (read with
:func:`shipped_schema`; ``schema/program.schema.json`` in the repository is a link to it),
and is regenerated with ``rewardrules schema > schema/program.schema.json``; a test keeps
the two identical.
The schema checks each value on its own; what involves several fields (unique rule ids,
tier names, decimals per currency, dates in order) only ``rewardrules validate`` checks.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, Final

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from rewardrules.program._facts import Schema as Schema  # noqa: PLC0414 -- re-export
from rewardrules.program.model import Program

DIALECT: Final = "http://json-schema.org/draft-07/schema#"
SCHEMA_ID: Final = "urn:rewardrules:program:v1"
TITLE: Final = "rewardrules program"

_NUMBER_TEXT: Final = r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"
_UNSIGNED_NUMBER_TEXT: Final = r"^\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"
_DATE_TEXT: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

_TYPE_KEYWORDS: Final[dict[str, frozenset[str]]] = {
    "string": frozenset(["minLength", "maxLength", "pattern", "format"]),
    "number": frozenset(
        ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"]
    ),
    "array": frozenset(["items", "minItems", "maxItems", "uniqueItems"]),
    "object": frozenset(
        [
            "properties",
            "required",
            "additionalProperties",
            "minProperties",
            "maxProperties",
            "propertyNames",
        ]
    ),
    "boolean": frozenset(),
    "null": frozenset(),
}
"""Keywords that constrain values of one JSON type only and let the others through."""

_ANNOTATIONS: Final = frozenset({"description", "examples", "default", "title"})


class _Generator(GenerateJsonSchema):
    """Pydantic's draft 2020-12 generator, with exact numbers as a number or numeric text,
    and a union told apart by a function as the ``anyOf`` of its members."""

    def tagged_union_schema(self, schema: core_schema.TaggedUnionSchema) -> JsonSchemaValue:
        """A union with a callable discriminator (``reward``, ``tiers.window``): its members.

        The function that picks the member cannot be published; :func:`_union` then
        publishes the members by JSON type. The rules' union on ``kind`` stays pydantic's.
        """
        if not callable(schema["discriminator"]):
            return super().tagged_union_schema(schema)
        return {"anyOf": [self.generate_inner(choice) for choice in schema["choices"].values()]}

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        """A Decimal field: a number, or text that is one (bounds apply to numbers only)."""
        result: JsonSchemaValue = {"type": ["number", "string"], "pattern": _NUMBER_TEXT}
        given: dict[str, object] = dict(schema)
        for name, keyword in self.ValidationsMapping.numeric.items():
            if name in given:
                result[keyword] = _plain_number(given[name])
        return result


def program_schema(model: type[Program] = Program) -> Schema:
    """The JSON Schema (draft-07) of a program file.

    Args:
        model: the program's model: :class:`Program`, or one with kinds of your own
            (:func:`rewardrules.program.model.program_model`).

    Returns:
        A new dict each time, ready for ``json.dumps``.
    """
    document = model.model_json_schema(
        ref_template="#/definitions/{model}", schema_generator=_Generator, mode="validation"
    )
    definitions: dict[str, Schema] = document.pop("$defs")
    models = {**definitions, model.__name__: document}
    _publish_examples(models, definitions)
    definitions["Rule"] = _rule_union(document, definitions)
    document = _walk({**document, "definitions": definitions}, _tidy)
    definitions = document["definitions"]
    document = _walk(document, lambda node: _union(node, definitions))
    document = _walk(document, _unsigned_number_text)
    definitions = document.pop("definitions")
    return {
        **document,
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": TITLE,
        "definitions": _reachable(document, definitions),
    }


def _publish_examples(models: dict[str, Schema], definitions: dict[str, Schema]) -> None:
    """Give a constant field itself as example, and every example the JSON types of its field."""
    for schema in models.values():
        for field in schema.get("properties", {}).values():
            if "const" in field and "examples" not in field:
                field["examples"] = [field["const"]]
            if "examples" in field:
                field["examples"] = [_typed(item, field, definitions) for item in field["examples"]]


def _typed(value: object, node: Schema, definitions: dict[str, Schema]) -> object:
    """An example as its schema takes it: numeric text where a number may stand is a number.

    The models write amounts as text (``examples=["0.01"]``: JSON has no decimals and the
    package no floats); an editor shows them as the numbers an author writes.
    """
    while "$ref" in node:
        node = definitions[_name(node["$ref"])]
    tag = node.get("discriminator", {})
    if isinstance(value, dict) and value.get(tag.get("propertyName")) in tag.get("mapping", {}):
        return _typed(value, {"$ref": tag["mapping"][value[tag["propertyName"]]]}, definitions)
    for branch in [*node.get("anyOf", []), *node.get("oneOf", [])]:
        typed = _typed(value, branch, definitions)
        if typed != value:  # the branch of the value's type
            return typed
    types = node.get("type")
    types = [types] if isinstance(types, str) else types or []
    if isinstance(value, str) and "number" in types and re.fullmatch(_NUMBER_TEXT, value):
        return _plain_number(Decimal(value))
    if isinstance(value, dict) and "object" in types:
        properties: dict[str, Schema] = node.get("properties", {})
        others = node.get("additionalProperties")
        below = others if isinstance(others, dict) else {}
        return {
            key: _typed(item, properties.get(key, below), definitions)
            for key, item in value.items()
        }
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return [_typed(item, node["items"], definitions) for item in value]
    return value


def shipped_schema() -> importlib.resources.abc.Traversable:
    """The schema file installed with the package, for editors that need a path to it."""
    return importlib.resources.files(__package__ or "rewardrules.rulefiles") / "program.schema.json"


def schema_text() -> str:
    """The schema as the committed file holds it: indent 2, sorted keys, a final newline."""
    return json.dumps(program_schema(), indent=2, sort_keys=True) + "\n"


def _plain_number(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _subschemas(node: Schema) -> Iterator[tuple[str, str | int | None]]:
    """Name the places in ``node`` that hold subschemas: (keyword, key or index or None)."""
    for keyword in ("properties", "definitions"):
        for name in node.get(keyword, {}):
            yield keyword, name
    for keyword in ("items", "additionalProperties", "propertyNames", "if", "then", "else", "not"):
        if isinstance(node.get(keyword), dict):
            yield keyword, None
    for keyword in ("allOf", "anyOf", "oneOf"):
        for index in range(len(node.get(keyword, []))):
            yield keyword, index


def _walk(node: Schema, change: Callable[[Schema], Schema]) -> Schema:
    """Apply ``change`` to every subschema of ``node``, innermost first, then to ``node``."""
    node = dict(node)
    for keyword, place in _subschemas(node):
        if place is None:
            node[keyword] = _walk(node[keyword], change)
        elif isinstance(place, int):
            node[keyword] = [*node[keyword]]
            node[keyword][place] = _walk(node[keyword][place], change)
        else:
            node[keyword] = {**node[keyword], place: _walk(node[keyword][place], change)}
    return change(node)


def _tidy(node: Schema) -> Schema:
    """Bounds under their JSON Schema names, dates with a pattern, no titles on fields."""
    # Pydantic writes a bound on an optional constrained type under its Python name.
    for python_name, keyword in GenerateJsonSchema.ValidationsMapping.numeric.items():
        if python_name in node:
            node[keyword] = _plain_number(node.pop(python_name))
    types = node.get("type")
    default = node.get("default")
    if "number" in (types or ()) and isinstance(default, str) and re.match(_NUMBER_TEXT, default):
        node["default"] = _plain_number(Decimal(default))
    if node.get("format") == "date":
        node["pattern"] = _DATE_TEXT
    if isinstance(node.get("description"), str):
        node["description"] = node["description"].replace("``", "`")
    if "properties" in node:
        node["properties"] = {
            name: {key: value for key, value in field.items() if key != "title"}
            for name, field in node["properties"].items()
        }
    return node


def _unsigned_number_text(node: Schema) -> Schema:
    """A numeric text may not be negative where numbers may not be."""
    lowest = node.get("minimum", node.get("exclusiveMinimum"))
    if node.get("pattern") == _NUMBER_TEXT and lowest is not None and lowest >= 0:
        node["pattern"] = _UNSIGNED_NUMBER_TEXT
    return node


def _rule_union(root: Schema, definitions: dict[str, Schema]) -> Schema:
    """Replace the discriminated union of rules by the ``Rule`` schema, and return it.

    ``Rule`` names the kinds in an ``enum`` and applies one kind's schema with
    ``if kind is X then X``, so a wrong field is reported at its own path.
    """
    items = root["properties"]["rules"]["items"]
    tag = items["discriminator"]["propertyName"]
    branches: dict[str, str] = items["discriminator"]["mapping"]
    kinds = [
        definitions[_name(branch["$ref"])]["properties"][tag]["const"] for branch in items["oneOf"]
    ]
    if sorted(kinds) != sorted(branches):
        raise ValueError(f"the rule union names kinds {sorted(branches)}, the models {kinds}")
    meanings = {
        kind: definitions[_name(branches[kind])]["properties"][tag]["description"].rstrip(".")
        for kind in kinds
    }
    summary = "; ".join(f"`{kind}`: {meaning}" for kind, meaning in meanings.items())
    root["properties"]["rules"]["items"] = {"$ref": "#/definitions/Rule"}
    return {
        "title": "Rule",
        "description": f"One rule. Its `{tag}` decides which other keys it takes.",
        "type": "object",
        "properties": {
            tag: {
                "description": f"What the rule does: {summary}.",
                "enum": kinds,
                "examples": kinds,
            }
        },
        "required": [tag],
        "allOf": [
            {
                "if": {"properties": {tag: {"const": kind}}, "required": [tag]},
                "then": {"$ref": branches[kind]},
            }
            for kind in kinds
        ],
    }


def _name(reference: str) -> str:
    return reference.removeprefix("#/definitions/")


def _union(node: Schema, definitions: dict[str, Schema]) -> Schema:
    """Publish an ``anyOf`` by JSON type, so that errors come from the branch of the value's type.

    Raises:
        ValueError: a union that cannot be told apart by type (or by the one key of objects).
    """
    if "anyOf" not in node:
        return node
    branches = list(_flat(node["anyOf"]))
    nullable = _NULL in branches
    groups: dict[tuple[str, ...], list[Schema]] = {}
    for branch in branches:
        if branch != _NULL:
            groups.setdefault(_types_of(branch, definitions), []).append(branch)
    parts = [(types, _merge(types, group, definitions)) for types, group in groups.items()]
    if "description" in node:
        # The field's own words stand; a branch's (a slug's pattern in words) would only
        # be guarded in an ``if`` that says nothing.
        parts = [
            (types, {key: value for key, value in part.items() if key not in _ANNOTATIONS})
            for types, part in parts
        ]
    all_types = [name for types, _ in parts for name in types] + (["null"] if nullable else [])
    if len(all_types) != len(set(all_types)):
        raise ValueError(f"cannot publish a union whose branches share a type: {branches}")
    result: Schema = {"type": all_types[0] if len(all_types) == 1 else all_types}
    conditions: list[Schema] = []
    for types, part in parts:
        beside = _keywords_of(types) | ({"enum"} if len(parts) == 1 else set())
        result.update({key: value for key, value in part.items() if key in beside})
        guarded = {key: value for key, value in part.items() if key not in beside}
        if guarded and len(all_types) == 1:
            result.update(guarded)
        elif guarded:
            condition = types[0] if len(types) == 1 else list(types)
            conditions.append({"if": {"type": condition}, "then": guarded})
    if nullable and "enum" in result:
        result["enum"] = [*result["enum"], None]
    if len(conditions) == 1:
        result.update(conditions[0])
    elif conditions:
        result["allOf"] = conditions
    for keyword, value in node.items():
        if keyword != "anyOf":
            if keyword in result and keyword not in _ANNOTATIONS:
                raise ValueError(f"a union and one of its branches both constrain {keyword!r}")
            result[keyword] = value
    return result


_NULL: Final = {"type": "null"}


def _flat(branches: list[Schema]) -> Iterator[Schema]:
    for branch in branches:
        if set(branch) == {"anyOf"}:
            yield from _flat(branch["anyOf"])
        else:
            yield branch


def _types_of(branch: Schema, definitions: dict[str, Schema]) -> tuple[str, ...]:
    if "$ref" in branch:
        return _types_of(definitions[_name(branch["$ref"])], definitions)
    found = branch.get("type")
    if isinstance(found, str):
        return (found,)
    if isinstance(found, list):
        return tuple(found)
    literals = [branch["const"]] if "const" in branch else branch.get("enum", [None])
    if all(isinstance(literal, str) for literal in literals):
        return ("string",)
    raise ValueError(f"cannot tell the JSON type of {branch}")


def _keywords_of(types: tuple[str, ...]) -> set[str]:
    found: set[str] = set()
    for name in types:
        found |= _TYPE_KEYWORDS["number" if name == "integer" else name]
    return found


def _merge(types: tuple[str, ...], group: list[Schema], definitions: dict[str, Schema]) -> Schema:
    """The branches of a union that accept the same types, as one schema without ``type``."""
    if types == ("string",):
        return _strings(group)
    if types == ("object",):
        return _objects(group, definitions)
    if len(group) > 1:
        raise ValueError(f"cannot publish a union of several {types} schemas: {group}")
    return {key: value for key, value in group[0].items() if key != "type"}


def _strings(group: list[Schema]) -> Schema:
    """Text branches: the literal ones become one ``enum``, beside any patterned one."""
    literals: list[Any] = []
    others: list[Schema] = []
    for branch in group:
        if set(branch) <= {"type", "const", "enum"} and ("const" in branch or "enum" in branch):
            literals += [branch["const"]] if "const" in branch else branch["enum"]
        else:
            others.append({key: value for key, value in branch.items() if key != "type"})
    if literals:
        others.insert(0, {"enum": literals})
    return others[0] if len(others) == 1 else {"anyOf": others}


def _objects(group: list[Schema], definitions: dict[str, Schema]) -> Schema:
    """Object branches: one is kept; several of one key each become one object of one key."""
    if len(group) == 1:
        return {key: value for key, value in group[0].items() if key != "type"}
    properties: dict[str, Schema] = {}
    for branch in group:
        schema = definitions[_name(branch["$ref"])] if "$ref" in branch else branch
        keys = list(schema.get("properties", {}))
        if len(keys) != 1 or schema.get("required") != keys or keys[0] in properties:
            raise ValueError(f"cannot tell these objects apart by their one key: {group}")
        properties[keys[0]] = _walk(
            schema["properties"][keys[0]], lambda node: _union(node, definitions)
        )
    return {
        "properties": properties,
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 1,
    }


def _reachable(root: Schema, definitions: dict[str, Schema]) -> dict[str, Schema]:
    """The definitions ``root`` refers to, directly or through other definitions."""
    found: set[str] = set()
    pending = [root]
    while pending:
        text = json.dumps(pending.pop())
        for name in re.findall(r'"#/definitions/([^"]+)"', text):
            if name not in found:
                found.add(name)
                pending.append(definitions[name])
    return {name: definitions[name] for name in sorted(found)}
