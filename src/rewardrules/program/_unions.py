"""Unions of a program's models that pydantic tells apart itself, with a callable discriminator.

A union such as ``reward: free | {percent_off} | {voucher}`` is written
``Annotated[Union[Annotated[Literal["free"], Tag(WORDS)], Annotated[PercentOff,
Tag("PercentOff")], ...], one_of(...)]``: :func:`one_of`'s function reads which member the
author wrote (one of the words, or a mapping by its key), and pydantic validates that member
only. So ``{percent_off: 150}`` gives one error, "must be at most 100", not one per member;
a value that is none of the members gives one error of type :data:`NOT_ONE_OF`, whose
context says in words what the value may be.

A member's tag is :data:`WORDS` or its model's class name, never a key a document holds, so
that an error's location can drop it (:mod:`rewardrules.rulefiles._errorpaths`).
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, Discriminator

from rewardrules.errors import closest

NOT_ONE_OF: Final = "not_one_of"
"""The error type of a value that is none of a union's members."""

WORDS: Final = "words"
"""The tag of the member that takes words as written (``free``, ``lifetime``)."""


def one_of(
    words: tuple[str, ...], models: tuple[type[BaseModel], ...], forms: tuple[str, ...]
) -> Discriminator:
    """The discriminator of a union of ``words`` and ``models`` (tagged with their names).

    A value is tagged :data:`WORDS` when it is one of the words; a model by its class; a
    mapping by the member whose required key it holds, or holds misspelt ("did you mean"
    then names the key). Anything else is none of them: the error says what may stand here.

    Args:
        words: the words the union accepts as written.
        models: the members written as a mapping.
        forms: those members in words, for the error (``a mapping with percent_off``).
    """
    keys = {
        key: model.__name__
        for model in models
        for key, field in model.model_fields.items()
        if field.is_required()
    }

    def tag(value: object) -> str | None:
        if isinstance(value, BaseModel):
            return type(value).__name__
        if isinstance(value, str):
            return WORDS if value in words else None
        if isinstance(value, dict):
            written = [str(key) for key in value]
            meant = [key for key in written if key in keys]
            meant = meant or [close[0] for key in written if (close := closest(key, keys))]
            return keys[meant[0]] if meant else None
        return None

    choices = ", ".join((*words, *forms))
    return Discriminator(
        tag,
        custom_error_type=NOT_ONE_OF,
        custom_error_message=f"must be one of: {choices}",
        custom_error_context={"choices": choices, "words": ", ".join(words)},
    )
