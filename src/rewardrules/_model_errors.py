"""Pydantic's validation errors about events, profiles and saved states, in plain words.

A model built from Python (``Purchase(...)``, ``Customer.model_validate(...)``,
``CustomerState.model_validate_json(...)``) raises :class:`ModelInputError`, a
:class:`~rewardrules.errors.HistoryError` whose problems name the field
(``lines[0].unit_price``) and say what to write, as a history file's errors do: no pydantic
error text or link reaches a user. The history readers catch it and add the file and line.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Self

from pydantic import BaseModel, ValidationError

from rewardrules._ids import INVISIBLE_HINT, SPACE_HINT
from rewardrules._wording import KINDS, phrase, unknown_key
from rewardrules.errors import HistoryError, Problem, closest

AMOUNT_HELP = "an amount like 4.50 (digits, a point, decimals; no currency sign, comma or exponent)"
WHOLE_HELP = "a whole number written with digits, like 2"
CURRENCY_HINT = (
    "a history has no currency: every amount is in the program's currency; "
    "put the events of each currency in their own file, evaluated with that currency's program"
)
_TIME_EXAMPLE = "2026-03-01T09:30:00+01:00"

# Pydantic's error types only events and profiles meet, in plain words; ``{input}`` is the
# value given, the rest its ctx. The types rule files meet too are worded by
# rewardrules._wording, in the rule files' words.
_MESSAGES: dict[str, str] = {
    "finite_number": f"must be {AMOUNT_HELP} (got {{input}})",
    "value_error": "{error}",
    "timezone_aware": f"must have a UTC offset, like {_TIME_EXAMPLE} (got {{input}})",
    "datetime_type": f"must be a datetime with a UTC offset, like {_TIME_EXAMPLE} (got {{input}})",
    "datetime_parsing": f"must be an ISO 8601 timestamp like {_TIME_EXAMPLE} (got {{input}})",
    "datetime_from_date_parsing": (
        f"must be an ISO 8601 timestamp like {_TIME_EXAMPLE} (got {{input}})"
    ),
}
_CODES = {
    "missing": "missing-field",
    "extra_forbidden": "unknown-key",
    "control_character": "control-character",
    "text_too_long": "too-long",
    "invisible_character": "invisible-character",
    "surrounding_space": "surrounding-space",
    "json_invalid": "not-json",
}
_HINTS = {"invisible_character": INVISIBLE_HINT, "surrounding_space": SPACE_HINT}


class ModelInputError(HistoryError):
    """An event, profile or saved state that its model refuses; problems name the field."""


def show(value: object) -> str:
    """A value as a message quotes it: text in quotes, JSON's null and true, at most 40 chars."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "a list"
    shown = repr(value) if isinstance(value, str) else str(value)
    return shown if len(shown) <= 40 else f"{shown[:36]}...{shown[-1]}"


def plain_problems(error: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """Each error of ``model.model_validate`` as a problem in plain words, not yet located."""
    found: list[Problem] = []
    for details in error.errors(include_url=False):
        kind, path, given = details["type"], tuple(details["loc"]), details.get("input")
        ctx = details.get("ctx", {})
        if kind in KINDS:
            said = phrase(kind, given, ctx, name=path[-1] if path else None)
            if said is None:
                continue  # the list has entries: the problems inside them are reported instead
            message, suggestion = said.message, said.suggestion
        else:
            template = _MESSAGES.get(kind)
            message = (
                details["msg"] if template is None else template.format(input=show(given), **ctx)
            )
            suggestion = _HINTS.get(kind)
        code = _CODES.get(kind, "invalid-value")
        raised = ctx.get("error")  # a ValueError of our own validators
        suggestion = getattr(raised, "suggestion", None) or suggestion
        code = getattr(raised, "code", None) or code
        if kind == "extra_forbidden":
            name = str(path[-1])
            message = unknown_key(name)
            close = closest(name, field_names(model))
            suggestion = f"did you mean {close[0]!r}?" if close and close[0] != name else None
            suggestion = CURRENCY_HINT if name.lower() == "currency" else suggestion
            if not name.isprintable():  # show an invisible character, not a look-alike
                path = (*path[:-1], ascii(name))
        found.append(Problem(message, path, None, code, suggestion))
    return found


@functools.cache
def field_names(model: type[BaseModel]) -> tuple[str, ...]:
    """The field names of a model's family, sorted, for "did you mean" suggestions.

    The family is every model under the model's first base below :class:`PlainErrors` (all
    the events and profiles, say), so that a key of purchases misplaced in a refund is
    still recognised.
    """
    family = next(base for base in reversed(model.__mro__) if base in PlainErrors.__subclasses__())
    names: set[str] = set()
    pending = [family]
    while pending:
        member = pending.pop()
        names.update(member.model_fields)
        pending += member.__subclasses__()
    return tuple(sorted(names))


class PlainErrors(BaseModel):
    """A model whose validation errors are :class:`ModelInputError`, in plain words.

    Building it (``Model(...)``, ``model_validate``, ``model_validate_json``,
    ``model_validate_strings``) raises that error instead of pydantic's ``ValidationError``,
    whose text holds links and pydantic's own words.
    """

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise ModelInputError(plain_problems(error, type(self))) from None

    # Pydantic calls a model's own __init__ to validate it inside another model (a Line in a
    # Purchase), where this one would turn its errors into one error at the Line. Marked as
    # pydantic marks BaseModel.__init__, it is called only to build the model itself.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:
        """Validate a Python object; raise :class:`ModelInputError` if it does not fit."""
        try:
            return super().model_validate(obj, **options)
        except ValidationError as error:
            raise ModelInputError(plain_problems(error, cls)) from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **options: Any) -> Self:
        """Validate a JSON text; raise :class:`ModelInputError` if it does not fit."""
        try:
            return super().model_validate_json(json_data, **options)
        except ValidationError as error:
            raise ModelInputError(plain_problems(error, cls)) from None

    @classmethod
    def model_validate_strings(cls, obj: Any, **options: Any) -> Self:
        """Validate an object of strings; raise :class:`ModelInputError` if it does not fit."""
        try:
            return super().model_validate_strings(obj, **options)
        except ValidationError as error:
            raise ModelInputError(plain_problems(error, cls)) from None
